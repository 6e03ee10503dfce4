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
    /// A split pattern that does not compile.
    #[error("invalid split pattern {0}")]
    InvalidPattern(String),
    /// A pattern's regex engine gave up on a text (Oniguruma's retry limit, fancy-regex's
    /// backtrack limit); `offset` is the byte offset in the text where the failed search began.
    #[error("pattern {pattern:?} failed at byte offset {offset}: {message}")]
    PatternFailed {
        pattern: String,
        offset: usize,
        message: String,
    },
    /// The call was stopped by its caller (Ctrl-C) before it finished.
    #[error("interrupted")]
    Interrupted,
    /// A token id that is not in the vocabulary (decode).
    #[error("token id {0} is not in the vocabulary")]
    UnknownId(i64),
    /// A special token found in text where it is not allowed (tiktoken's check).
    #[error(
        "disallowed special token {0:?} in the text: pass it in \
         `allowed_special` to encode it as a special token, or leave it out of \
         `disallowed_special` (for example `disallowed_special=()`) to encode it as plain text"
    )]
    DisallowedSpecial(String),
    /// An argument that makes no sense (the message names it).
    #[error("{0}")]
    InvalidArgument(String),
    /// A file that cannot be read.
    #[error("{path}: {message}")]
    Io { path: String, message: String },
    /// A malformed or unsupported part of a Hugging Face `tokenizer.json`; `field` is its JSON
    /// path, for example `pre_tokenizer.pretokenizers[1].type`.
    #[error("tokenizer.json: {field}: {message}")]
    TokenizerJson { field: String, message: String },
}
