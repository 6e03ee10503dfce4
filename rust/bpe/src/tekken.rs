//! Mistral's `tekken.json` (the tokenizer of Mistral NeMo, Pixtral, Ministral and later):
//! tiktoken-style ranks with special tokens in front of them.
//!
//! # Design notes
//! The file holds `config.pattern` (the split regex), `vocab` (entries `{rank, token_bytes}`,
//! base64) and, from version v7 on, `special_tokens` (`{rank, token_str}`). As Mistral's
//! reference (`mistral_common`'s `Tekkenizer`) reads it: the first
//! `config.default_vocab_size - config.default_num_special_tokens` ranks form the byte-level BPE
//! vocabulary; ordinary token ids are rank + `default_num_special_tokens`; ids below that are
//! special tokens (the listed ones, or for files without a list the twenty Mistral defaults;
//! the rest `<SPECIAL_{id}>` fillers). The BPE itself is tiktoken's, so the model is a rank
//! [`BpeModel`] and [`Tekken`] shifts its ids.
//!
//! `mistral_common` never reads special tokens from text; tokenmill lists them as special tokens
//! (text containing one is refused unless allowed or `disallowed_special=()`, as tiktoken's rule
//! is), and decodes them to their text (the reference's `KEEP` policy; its default skips them).

use serde_json::Value;

use crate::cache::PieceCache;
use crate::spm::unigram::Carry;
use crate::spm::PieceModel;
use crate::{BpeModel, Encoding, Rank, VocabError};

/// More ranks than any real file holds: refused before allocating.
const MAX_RANKS: usize = 4 << 20;
/// More special tokens than any real file holds.
const MAX_SPECIALS: usize = 1 << 20;

/// The special tokens of files that do not list theirs (`Tekkenizer.DEPRECATED_SPECIAL_TOKENS`
/// in `mistral_common` 1.x), ids 0-19.
const DEFAULT_SPECIALS: [&str; 20] = [
    "<unk>",
    "<s>",
    "</s>",
    "[INST]",
    "[/INST]",
    "[AVAILABLE_TOOLS]",
    "[/AVAILABLE_TOOLS]",
    "[TOOL_RESULTS]",
    "[/TOOL_RESULTS]",
    "[TOOL_CALLS]",
    "[IMG]",
    "<pad>",
    "[IMG_BREAK]",
    "[IMG_END]",
    "[PREFIX]",
    "[MIDDLE]",
    "[SUFFIX]",
    "[SYSTEM_PROMPT]",
    "[/SYSTEM_PROMPT]",
    "[TOOL_CONTENT]",
];

/// A rank model whose ids start at `offset`.
pub struct Tekken {
    bpe: BpeModel,
    offset: Rank,
}

impl PieceModel for Tekken {
    fn encode_pieces(
        &self,
        pieces: &[&[u8]],
        out: &mut Vec<Rank>,
        cache: Option<&mut PieceCache>,
        _carry: &mut Carry,
    ) {
        let start = out.len();
        self.bpe.encode_pieces(pieces, out, cache);
        shift(&mut out[start..], self.offset);
    }

    fn count_pieces(
        &self,
        pieces: &[&[u8]],
        cache: Option<&mut PieceCache>,
        _carry: &mut Carry,
    ) -> usize {
        self.bpe.count_pieces(pieces, cache)
    }

    fn token_bytes(&self, id: Rank) -> Option<&[u8]> {
        self.bpe.token_bytes(id.checked_sub(self.offset)?)
    }

    fn n_ids(&self) -> usize {
        self.bpe.n_ids() + self.offset as usize
    }

    fn token_id(&self, bytes: &[u8]) -> Option<Rank> {
        self.bpe.token_id(bytes).map(|id| id + self.offset)
    }

    fn strips_leading_space(&self, _: Rank, _: usize, _: bool, _: bool) -> bool {
        false
    }
}

fn shift(ids: &mut [Rank], offset: Rank) {
    for id in ids {
        *id += offset;
    }
}

fn err(field: impl Into<String>, message: impl Into<String>) -> VocabError {
    VocabError::InvalidVocab(format!("tekken.json: {}: {}", field.into(), message.into()))
}

fn usize_field(config: &Value, key: &str) -> Result<usize, VocabError> {
    config
        .get(key)
        .and_then(Value::as_u64)
        .and_then(|v| usize::try_from(v).ok())
        .ok_or_else(|| err(format!("config.{key}"), "expected a non-negative integer"))
}

/// Whether a parsed JSON document looks like a `tekken.json` (a `config` with a `pattern` and a
/// `vocab` list of ranks).
#[must_use]
pub fn is_tekken(root: &Value) -> bool {
    root.get("config")
        .and_then(|c| c.get("pattern"))
        .is_some_and(Value::is_string)
        && root
            .get("vocab")
            .and_then(Value::as_array)
            .and_then(|v| v.first())
            .is_some_and(|e| e.get("token_bytes").is_some())
}

/// Load a parsed `tekken.json` as an [`Encoding`].
///
/// # Errors
/// A missing or malformed field (named), ranks out of order, a vocabulary smaller than the
/// configured size, or special tokens that repeat or do not fit the configured count.
pub fn encoding_from_value(name: &str, root: &Value) -> Result<Encoding, VocabError> {
    let config = root.get("config").ok_or_else(|| err("config", "missing"))?;
    let pattern = config
        .get("pattern")
        .and_then(Value::as_str)
        .ok_or_else(|| err("config.pattern", "expected a string"))?;
    let vocab_size = usize_field(config, "default_vocab_size")?;
    let n_special = usize_field(config, "default_num_special_tokens")?;
    if n_special > MAX_SPECIALS || vocab_size > MAX_RANKS + n_special {
        return Err(err("config", "sizes larger than any real vocabulary"));
    }
    let n_ranks = vocab_size.checked_sub(n_special).ok_or_else(|| {
        err(
            "config.default_vocab_size",
            "smaller than the special tokens",
        )
    })?;
    let vocab = root
        .get("vocab")
        .and_then(Value::as_array)
        .ok_or_else(|| err("vocab", "expected an array"))?;
    if vocab.len() < n_ranks {
        return Err(err(
            "vocab",
            format!(
                "{} entries, fewer than the configured {n_ranks}",
                vocab.len()
            ),
        ));
    }
    let mut tokens = Vec::with_capacity(n_ranks);
    for (i, e) in vocab.iter().take(n_ranks).enumerate() {
        let field = || format!("vocab[{i}]");
        if e.get("rank").and_then(Value::as_u64) != Some(i as u64) {
            return Err(err(format!("{}.rank", field()), format!("expected {i}")));
        }
        let bytes = e
            .get("token_bytes")
            .and_then(Value::as_str)
            .ok_or_else(|| err(format!("{}.token_bytes", field()), "expected a string"))?;
        let mut token = Vec::with_capacity(bytes.len() / 4 * 3);
        crate::tiktoken::base64_decode(bytes.as_bytes(), &mut token)
            .map_err(|e| err(format!("{}.token_bytes", field()), e))?;
        tokens.push(token);
    }
    let bpe = BpeModel::from_ranks(tokens).map_err(|e| err("vocab", e.to_string()))?;
    let offset = Rank::try_from(n_special).map_err(|_| err("config", "too many specials"))?;

    let mut specials: Vec<(String, Rank)> = match root.get("special_tokens") {
        None | Some(Value::Null) => DEFAULT_SPECIALS
            .iter()
            .enumerate()
            .map(|(i, s)| ((*s).to_owned(), i as Rank))
            .collect(),
        Some(Value::Array(list)) => {
            let mut out = Vec::with_capacity(list.len().min(n_special));
            for (i, t) in list.iter().enumerate() {
                let field = || format!("special_tokens[{i}]");
                let s = t
                    .get("token_str")
                    .and_then(Value::as_str)
                    .ok_or_else(|| err(format!("{}.token_str", field()), "expected a string"))?;
                let rank = t
                    .get("rank")
                    .and_then(Value::as_u64)
                    .filter(|&r| (r as usize) < n_special)
                    .ok_or_else(|| {
                        err(
                            format!("{}.rank", field()),
                            format!("expected an id below {n_special}"),
                        )
                    })?;
                out.push((s.to_owned(), rank as Rank));
            }
            out
        }
        Some(_) => return Err(err("special_tokens", "expected an array")),
    };
    if specials.len() > n_special {
        return Err(err(
            "special_tokens",
            format!(
                "{} listed, more than the {n_special} configured",
                specials.len()
            ),
        ));
    }
    let listed = specials.len();
    specials.extend((listed..n_special).map(|i| (format!("<SPECIAL_{i}>"), i as Rank)));
    let pretok = crate::openai::pretokenizer_for(pattern)
        .map_err(|e| err("config.pattern", e.to_string()))?;
    Encoding::with_piece_model(
        name,
        Box::new(Tekken { bpe, offset }),
        pretok,
        None,
        specials,
    )
}
