//! The OpenAI encodings tokenmill bundles, in one table: `cl100k_base`, `o200k_base` and
//! `o200k_harmony` (the `o200k_base` ranks and split pattern with the harmony chat format's
//! special tokens), each with its rank file, split pattern and special tokens (facts from
//! tiktoken 0.14's `tiktoken_ext/openai_public.py`).
//!
//! # Design notes
//! The rank files (`data/*.tiktoken.gz`, checked against tiktoken's sha256 by the build script)
//! are embedded once, in the packed form the build script writes (no gzip or base64 at load
//! time). The `.tiktoken` text, for callers that need the file itself (tiktoken's cache, hash
//! checks), is regenerated from that form by [`rank_file`]; the tests check that it hashes to the
//! published sha256, so the regenerated file is byte-identical to the original.

use crate::openai::{pretokenizer_for, CL100K_PATTERN, O200K_PATTERN};
use crate::rank_files::RANK_FILES;
use crate::{BpeModel, Encoding, Rank, VocabError};

/// One bundled encoding.
#[derive(Debug, Clone, Copy)]
pub struct OpenAiEncoding {
    pub name: &'static str,
    /// The rank file (`data/<ranks>.tiktoken.gz`).
    pub ranks: &'static str,
    /// The split pattern, as tiktoken's `pat_str`.
    pub pattern: &'static str,
    specials: fn() -> Vec<(String, Rank)>,
}

impl OpenAiEncoding {
    /// The special tokens in tiktoken's order (two names may share an id: decoding gives the
    /// last, as tiktoken does).
    #[must_use]
    pub fn special_tokens(&self) -> Vec<(String, Rank)> {
        (self.specials)()
    }
}

/// Every bundled encoding.
pub const ENCODINGS: &[OpenAiEncoding] = &[
    OpenAiEncoding {
        name: "cl100k_base",
        ranks: "cl100k_base",
        pattern: CL100K_PATTERN,
        specials: cl100k_specials,
    },
    OpenAiEncoding {
        name: "o200k_base",
        ranks: "o200k_base",
        pattern: O200K_PATTERN,
        specials: o200k_specials,
    },
    OpenAiEncoding {
        name: "o200k_harmony",
        ranks: "o200k_base",
        pattern: O200K_PATTERN,
        specials: harmony_specials,
    },
];

fn owned(specials: &[(&str, Rank)]) -> Vec<(String, Rank)> {
    specials
        .iter()
        .map(|&(s, id)| (s.to_string(), id))
        .collect()
}

fn cl100k_specials() -> Vec<(String, Rank)> {
    owned(&[
        ("<|endoftext|>", 100_257),
        ("<|fim_prefix|>", 100_258),
        ("<|fim_middle|>", 100_259),
        ("<|fim_suffix|>", 100_260),
        ("<|endofprompt|>", 100_276),
    ])
}

fn o200k_specials() -> Vec<(String, Rank)> {
    owned(&[("<|endoftext|>", 199_999), ("<|endofprompt|>", 200_018)])
}

/// `o200k_base`'s special tokens, then the harmony ones, then `<|reserved_N|>` for every other id
/// from 200013 to 201087 (so `<|endofprompt|>` and `<|reserved_200018|>` share id 200018).
fn harmony_specials() -> Vec<(String, Rank)> {
    let mut out = o200k_specials();
    out.extend(owned(&[
        ("<|startoftext|>", 199_998),
        ("<|reserved_200000|>", 200_000),
        ("<|reserved_200001|>", 200_001),
        ("<|return|>", 200_002),
        ("<|constrain|>", 200_003),
        ("<|reserved_200004|>", 200_004),
        ("<|channel|>", 200_005),
        ("<|start|>", 200_006),
        ("<|end|>", 200_007),
        ("<|message|>", 200_008),
        ("<|reserved_200009|>", 200_009),
        ("<|reserved_200010|>", 200_010),
        ("<|reserved_200011|>", 200_011),
        ("<|call|>", 200_012),
    ]));
    out.extend((200_013..201_088).map(|id| (format!("<|reserved_{id}|>"), id)));
    out
}

/// The bundled encoding named `name`.
#[must_use]
pub fn spec(name: &str) -> Option<&'static OpenAiEncoding> {
    ENCODINGS.iter().find(|e| e.name == name)
}

/// The packed rank files the build script wrote (see `build.rs`).
static PACKED: &[(&str, &[u8])] = &[
    (
        "cl100k_base",
        include_bytes!(concat!(env!("OUT_DIR"), "/cl100k_base.bin")),
    ),
    (
        "o200k_base",
        include_bytes!(concat!(env!("OUT_DIR"), "/o200k_base.bin")),
    ),
];

fn unknown(name: &str) -> VocabError {
    let known: Vec<&str> = ENCODINGS.iter().map(|e| e.name).collect();
    VocabError::InvalidVocab(format!(
        "unknown OpenAI encoding {name:?} (known: {})",
        known.join(", ")
    ))
}

/// The embedded rank file `ranks` as packed tokens: (bytes, offsets).
fn unpack(ranks: &str) -> Result<(Vec<u8>, Vec<u32>), VocabError> {
    let bad = || VocabError::InvalidVocab(format!("corrupt embedded vocabulary {ranks}"));
    let packed = PACKED
        .iter()
        .find(|(n, _)| *n == ranks)
        .map(|&(_, p)| p)
        .ok_or_else(bad)?;
    let word = |k: usize| -> Option<u32> {
        packed
            .get(4 * k..4 * k + 4)
            .and_then(|b| b.try_into().ok())
            .map(u32::from_le_bytes)
    };
    let n = word(0).ok_or_else(bad)? as usize;
    let offsets: Vec<u32> = (1..=n + 1)
        .map(word)
        .collect::<Option<_>>()
        .ok_or_else(bad)?;
    let data = packed.get(4 * (n + 2)..).ok_or_else(bad)?.to_vec();
    Ok((data, offsets))
}

/// A bundled encoding from the embedded vocabulary; no file access, gzip or base64 at run time.
///
/// # Errors
/// An unknown name.
pub fn bundled_encoding(name: &str) -> Result<Encoding, VocabError> {
    let spec = spec(name).ok_or_else(|| unknown(name))?;
    let (data, offsets) = unpack(spec.ranks)?;
    let model = BpeModel::from_packed_ranks(data, offsets)?;
    Encoding::new(
        name,
        model,
        pretokenizer_for(spec.pattern)?,
        None,
        spec.special_tokens(),
    )
}

/// A bundled encoding built from a rank file's bytes (plain or gzip) instead of the embedded
/// copy.
///
/// # Errors
/// An unknown name, or a malformed rank file.
pub fn openai_encoding(name: &str, data: &[u8]) -> Result<Encoding, VocabError> {
    let spec = spec(name).ok_or_else(|| unknown(name))?;
    from_tiktoken(name, data, spec.pattern, spec.special_tokens())
}

/// Load a `.tiktoken` rank file (plain or gzip bytes) with a split pattern and special tokens.
///
/// # Errors
/// A malformed file (with its line), a bad pattern, or inconsistent special tokens.
pub fn from_tiktoken(
    name: &str,
    data: &[u8],
    pattern: &str,
    specials: Vec<(String, Rank)>,
) -> Result<Encoding, VocabError> {
    let tokens = crate::tiktoken::parse_tiktoken(data)?;
    let model = BpeModel::from_ranks(tokens)?;
    Encoding::new(name, model, pretokenizer_for(pattern)?, None, specials)
}

/// The bundled rank files: `(name, sha256 of the .tiktoken file as tiktoken publishes it)`.
#[must_use]
pub fn rank_files() -> &'static [(&'static str, &'static str)] {
    RANK_FILES
}

/// The `.tiktoken` text of the bundled rank file `ranks` (`cl100k_base`, `o200k_base`),
/// regenerated from the embedded copy: byte-identical to the published file.
///
/// # Errors
/// An unknown rank file.
pub fn rank_file(ranks: &str) -> Result<Vec<u8>, VocabError> {
    let (data, offsets) = unpack(ranks).map_err(|_| {
        VocabError::InvalidVocab(format!(
            "unknown rank file {ranks:?} (known: cl100k_base, o200k_base)"
        ))
    })?;
    Ok(crate::tiktoken::write_tiktoken(
        offsets
            .windows(2)
            .map(|w| &data[w[0] as usize..w[1] as usize]),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest, Sha256};

    fn gz(name: &str) -> Vec<u8> {
        let path = format!("{}/data/{name}.tiktoken.gz", env!("CARGO_MANIFEST_DIR"));
        std::fs::read(path).unwrap()
    }

    #[test]
    fn regenerated_rank_files_have_the_published_hashes() {
        for &(name, sha256) in RANK_FILES {
            let text = rank_file(name).unwrap();
            let digest: String = Sha256::digest(&text)
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            assert_eq!(digest, sha256, "{name}");
            let gz = gz(name);
            let original = crate::tiktoken::maybe_gunzip(&gz).unwrap();
            assert!(text == *original, "{name}: regenerated text differs");
        }
        assert!(rank_file("o200k_harmony").is_err());
    }

    #[test]
    fn embedded_vocabularies_equal_the_rank_files() {
        for name in ["cl100k_base", "o200k_base"] {
            let from_file = openai_encoding(name, &gz(name)).unwrap();
            let embedded = bundled_encoding(name).unwrap();
            assert_eq!(embedded.n_vocab(), from_file.n_vocab());
            for id in 0..from_file.model().unwrap().n_ids() as u32 {
                assert_eq!(
                    embedded.token_bytes(id),
                    from_file.token_bytes(id),
                    "id {id}"
                );
            }
        }
    }

    #[test]
    fn every_encoding_loads_and_unknown_names_are_errors() {
        for e in ENCODINGS {
            let enc = bundled_encoding(e.name).unwrap();
            assert_eq!(enc.name(), e.name);
        }
        let harmony = bundled_encoding("o200k_harmony").unwrap();
        assert_eq!(harmony.n_vocab(), 201_088);
        let err = bundled_encoding("p50k_base").unwrap_err().to_string();
        assert!(err.contains("o200k_harmony"), "{err}");
    }
}
