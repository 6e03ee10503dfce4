//! tokenmill-bpe: exact byte-level BPE tokenization and counting.
//!
//! Pure Rust, no Python. The bindings crate (`rust/py`) converts [`VocabError`] into Python
//! exceptions in one place.

mod backtrack;
pub mod cache;
pub mod encoding;
mod error;
pub mod hf;
pub mod model;
pub mod openai;
pub mod pretok;
pub mod stream;
pub mod tiktoken;
mod unicode;
mod vocab;
mod word;

pub use encoding::{Encoding, SpecialPolicy, SpecialSet};
pub use error::VocabError;
pub use model::BpeModel;
pub use pretok::{Normalizer, PreTokenizer};
pub use vocab::Rank;
