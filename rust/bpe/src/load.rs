//! Recognising a tokenizer file by its content: a Hugging Face `tokenizer.json` (byte-level or
//! SentencePiece-style), a Mistral `tekken.json`, or a SentencePiece `.model`.
//!
//! A document whose first non-blank byte is `{` is JSON: `tekken.json` has a `config` with a
//! `pattern` and a `vocab` list of `token_bytes`; anything else is read as a `tokenizer.json`.
//! Other bytes are read as a SentencePiece `ModelProto`. (`.tiktoken` rank files need their
//! split pattern from the caller and are loaded with `encoding::from_tiktoken`.)

use serde_json::Value;

use crate::{Encoding, VocabError};

/// The format [`encoding_from_bytes`] will read `data` as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    TokenizerJson,
    Tekken,
    SentencePiece,
}

fn is_json(data: &[u8]) -> bool {
    let data = data.strip_prefix(b"\xef\xbb\xbf").unwrap_or(data);
    data.iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|&b| b == b'{')
}

/// Load any supported tokenizer file from its bytes.
///
/// # Errors
/// Malformed or unsupported content, named by field (JSON path) or byte offset (`.model`).
pub fn encoding_from_bytes(name: &str, data: &[u8]) -> Result<(Format, Encoding), VocabError> {
    if !is_json(data) {
        let enc = crate::spm::encoding_from_model(name, data)?;
        return Ok((Format::SentencePiece, enc));
    }
    let text = data.strip_prefix(b"\xef\xbb\xbf").unwrap_or(data);
    let root: Value = serde_json::from_slice(text).map_err(|e| VocabError::TokenizerJson {
        field: "(document)".into(),
        message: format!("invalid JSON: {e}"),
    })?;
    if crate::tekken::is_tekken(&root) {
        return Ok((
            Format::Tekken,
            crate::tekken::encoding_from_value(name, &root)?,
        ));
    }
    Ok((
        Format::TokenizerJson,
        crate::hf::encoding_from_value(name, &root)?,
    ))
}
