//! tokenmill-bpe: exact byte-level BPE tokenization and counting.
//!
//! Pure Rust, no Python. The bindings crate (`rust/py`) converts [`VocabError`] into Python
//! exceptions in one place.

mod error;

pub use error::VocabError;
