use thiserror::Error;

/// Errors raised while loading a vocabulary or encoding / decoding text.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum VocabError {
    /// A malformed line in a `.tiktoken` rank file (1-based line number).
    #[error("line {line}: {message}")]
    BadRankLine { line: usize, message: String },
}
