//! tokenmill-bpe: exact tokenization and counting: byte-level BPE (`.tiktoken`, `tokenizer.json`),
//! SentencePiece BPE and Unigram (`.model`, Metaspace `tokenizer.json`), Mistral `tekken.json`.
//!
//! Pure Rust, no Python. The bindings crate (`rust/py`) converts [`VocabError`] into Python
//! exceptions in one place.

mod backtrack;
pub mod cache;
pub mod encoding;
mod error;
pub mod hf;
pub mod load;
pub mod model;
pub mod openai;
pub mod pretok;
pub mod spm;
pub mod stream;
pub mod tekken;
pub mod tiktoken;
mod unicode;
mod vocab;
mod word;

pub use encoding::{Encoding, SpecialPolicy, SpecialSet};
pub use error::VocabError;
pub use model::BpeModel;
pub use pretok::{Normalizer, PreTokenizer};
pub use vocab::Rank;
