//! tokenmill-bpe: exact byte-level BPE tokenization and counting.
//!
//! Pure Rust, no Python. The bindings crate (`rust/py`) converts [`VocabError`] into Python
//! exceptions in one place.

mod error;
pub mod hf;
pub mod model;
pub mod pretok;

pub use error::VocabError;
pub use model::{BpeModel, Rank};
pub use pretok::{Normalizer, PreTokenizer};
