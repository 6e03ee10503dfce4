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
    /// A token id that is not in the vocabulary (decode).
    #[error("token id {0} is not in the vocabulary")]
    UnknownId(i64),
    /// A special token found in text where it is not allowed (tiktoken's check).
    #[error("Encountered text corresponding to disallowed special token {0:?}.\nIf you want this text to be encoded as a special token, pass it to `allowed_special`, e.g. `allowed_special={{{0:?}, ...}}`.\nIf you want this text to be encoded as normal text, disable the check for this token by passing `disallowed_special=(enc.special_tokens_set - {{{0:?}}})`.\nTo disable this check for all special tokens, pass `disallowed_special=()`.\n")]
    DisallowedSpecial(String),
    /// A file that cannot be read.
    #[error("{path}: {message}")]
    Io { path: String, message: String },
    /// A malformed or unsupported part of a Hugging Face `tokenizer.json`; `field` is its JSON
    /// path, for example `pre_tokenizer.pretokenizers[1].type`.
    #[error("tokenizer.json: {field}: {message}")]
    TokenizerJson { field: String, message: String },
}
