use thiserror::Error;

/// Errors raised while loading a vocabulary or encoding / decoding text.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum VocabError {
    /// A malformed line in a `.tiktoken` rank file (1-based line number).
    #[error("line {line}: {message}")]
    BadRankLine { line: usize, message: String },
    /// A vocabulary that is structurally unusable (for example a missing single-byte token).
    #[error("invalid vocabulary: {0}")]
    InvalidVocab(String),
    /// A merge rule refers to a token that is not in the vocabulary (0-based merge index).
    #[error("merges[{index}]: {message}")]
    BadMerge { index: usize, message: String },
    /// A malformed or unsupported part of a Hugging Face `tokenizer.json`; `field` is its JSON
    /// path, for example `pre_tokenizer.pretokenizers[1].type`.
    #[error("tokenizer.json: {field}: {message}")]
    TokenizerJson { field: String, message: String },
}
