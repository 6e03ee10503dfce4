//! The OpenAI encodings tokenmill bundles, in one table: `gpt2`, `r50k_base`, `p50k_base`,
//! `p50k_edit`, `cl100k_base`, `o200k_base` and `o200k_harmony` (the `o200k_base` ranks and split
//! pattern with the harmony chat format's special tokens), each with its rank file, split
//! pattern and special tokens (facts from tiktoken 0.14's `tiktoken_ext/openai_public.py`).
//!
//! # Design notes
//! The rank files (`data/*.tiktoken.gz`, checked against tiktoken's sha256 by the build script)
//! are embedded once, in the packed form the build script writes (no gzip or base64 at load
//! time). The `.tiktoken` text, for callers that need the file itself (tiktoken's cache, hash
//! checks), is regenerated from that form by [`rank_file`]; the tests check that it hashes to the
//! published sha256, so the regenerated file is byte-identical to the original.
//!
//! `p50k_base` ships no file of its own: its published rank file is `r50k_base`'s followed by
//! runs of 2 to 25 spaces at ranks 50257-50280 (rank 50256, `<|endoftext|>`'s id, has no line),
//! and is regenerated from `r50k_base` with that published sha256. The BPE model wants dense
//! ranks, so the gap holds `<|endoftext|>`'s own bytes as a regular token: the split pattern
//! never yields that text as one piece, so ordinary text never encodes to it, and every caller
//! that lists regular tokens skips ids that are special.

use crate::openai::{pretokenizer_for, CL100K_PATTERN, O200K_PATTERN, R50K_PATTERN};
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
        name: "gpt2",
        ranks: "r50k_base",
        pattern: R50K_PATTERN,
        specials: r50k_specials,
    },
    OpenAiEncoding {
        name: "r50k_base",
        ranks: "r50k_base",
        pattern: R50K_PATTERN,
        specials: r50k_specials,
    },
    OpenAiEncoding {
        name: "p50k_base",
        ranks: "p50k_base",
        pattern: R50K_PATTERN,
        specials: r50k_specials,
    },
    OpenAiEncoding {
        name: "p50k_edit",
        ranks: "p50k_base",
        pattern: R50K_PATTERN,
        specials: p50k_edit_specials,
    },
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

fn r50k_specials() -> Vec<(String, Rank)> {
    owned(&[("<|endoftext|>", 50_256)])
}

fn p50k_edit_specials() -> Vec<(String, Rank)> {
    owned(&[
        ("<|endoftext|>", 50_256),
        ("<|fim_prefix|>", 50_281),
        ("<|fim_middle|>", 50_282),
        ("<|fim_suffix|>", 50_283),
    ])
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
    (
        "r50k_base",
        include_bytes!(concat!(env!("OUT_DIR"), "/r50k_base.bin")),
    ),
];

/// The backtracking encoder's split tables of the bundled rank files that meet its
/// precondition (`data/<ranks>.splits`: per rank, the byte length of the left part of the
/// token's split, 0 for single bytes; see `Backtrack::from_splits`). They are what the encoder
/// would compute on first use (a BPE run per token: about 0.1-0.2 s of CPU per process for
/// `o200k_base`); the tests check each against that computation.
static SPLITS: &[(&str, &[u8])] = &[
    ("cl100k_base", include_bytes!("../data/cl100k_base.splits")),
    ("o200k_base", include_bytes!("../data/o200k_base.splits")),
];

/// The embedded split table of the rank file `ranks`, if it has one.
pub(crate) fn embedded_splits(ranks: &str) -> Option<&'static [u8]> {
    SPLITS.iter().find(|(n, _)| *n == ranks).map(|&(_, s)| s)
}

/// The sha256 of tiktoken's `p50k_base.tiktoken` (derived from `r50k_base`, see the notes).
const P50K_SHA256: &str = "94b5ca7dff4d00767bc256fdd1b27e5b17361d7b8a5f968547f9f23eb70d2069";
/// `p50k_base`'s missing rank: the id of `<|endoftext|>`.
const P50K_GAP: usize = 50_256;
/// `p50k_base`'s tokens after `r50k_base`'s: runs of 2 to 25 spaces.
const P50K_SPACES: std::ops::RangeInclusive<usize> = 2..=25;

fn unknown(name: &str) -> VocabError {
    let known: Vec<&str> = ENCODINGS.iter().map(|e| e.name).collect();
    VocabError::InvalidVocab(format!(
        "unknown OpenAI encoding {name:?} (known: {})",
        known.join(", ")
    ))
}

/// The embedded rank file `ranks` as packed tokens: (bytes, offsets), dense (`p50k_base`'s gap
/// filled, see the notes).
fn unpack(ranks: &str) -> Result<(Vec<u8>, Vec<u32>), VocabError> {
    if ranks != "p50k_base" {
        return unpack_embedded(ranks);
    }
    let (mut data, mut offsets) = unpack_embedded("r50k_base")?;
    let corrupt = || VocabError::InvalidVocab("corrupt embedded vocabulary r50k_base".into());
    if offsets.len() != P50K_GAP + 1 {
        return Err(corrupt());
    }
    let mut push = |token: &[u8]| -> Result<(), VocabError> {
        data.extend_from_slice(token);
        offsets.push(u32::try_from(data.len()).map_err(|_| corrupt())?);
        Ok(())
    };
    push(b"<|endoftext|>")?;
    for n in P50K_SPACES {
        push(" ".repeat(n).as_bytes())?;
    }
    Ok((data, offsets))
}

/// An embedded (not derived) rank file as packed tokens.
fn unpack_embedded(ranks: &str) -> Result<(Vec<u8>, Vec<u32>), VocabError> {
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
    let mut model = BpeModel::from_packed_ranks(data, offsets)?;
    if let Some(splits) = embedded_splits(spec.ranks) {
        model = model.with_splits(splits);
    }
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
/// A rank the file skips is accepted when a special token has that id (as `p50k_base` skips
/// `<|endoftext|>`'s 50256): the special token's bytes fill it (see the notes).
///
/// # Errors
/// A malformed file (with its line), a bad pattern, or inconsistent special tokens.
pub fn from_tiktoken(
    name: &str,
    data: &[u8],
    pattern: &str,
    specials: Vec<(String, Rank)>,
) -> Result<Encoding, VocabError> {
    let fill = |rank: usize| {
        specials
            .iter()
            .find(|&&(_, id)| id as usize == rank)
            .map(|(s, _)| s.as_bytes().to_vec())
    };
    let tokens = crate::tiktoken::parse_tiktoken_filling(data, &fill)?;
    let model = BpeModel::from_ranks(tokens)?;
    Encoding::new(name, model, pretokenizer_for(pattern)?, None, specials)
}

/// The bundled rank files: `(name, sha256 of the .tiktoken file as tiktoken publishes it)`,
/// `p50k_base` (derived from `r50k_base`) included.
#[must_use]
pub fn rank_files() -> Vec<(&'static str, &'static str)> {
    let mut out = RANK_FILES.to_vec();
    out.push(("p50k_base", P50K_SHA256));
    out
}

/// The `.tiktoken` text of the bundled rank file `ranks` (`r50k_base`, `p50k_base`,
/// `cl100k_base`, `o200k_base`), regenerated from the embedded copy: byte-identical to the
/// published file.
///
/// # Errors
/// An unknown rank file.
pub fn rank_file(ranks: &str) -> Result<Vec<u8>, VocabError> {
    let known = rank_files();
    if !known.iter().any(|&(n, _)| n == ranks) {
        let names: Vec<&str> = known.iter().map(|&(n, _)| n).collect();
        return Err(VocabError::InvalidVocab(format!(
            "unknown rank file {ranks:?} (known: {})",
            names.join(", ")
        )));
    }
    let (data, offsets) = unpack(ranks)?;
    let tokens = offsets
        .windows(2)
        .map(|w| &data[w[0] as usize..w[1] as usize])
        .enumerate()
        .filter(|&(rank, _)| ranks != "p50k_base" || rank != P50K_GAP);
    Ok(crate::tiktoken::write_tiktoken_ranked(tokens))
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
        for (name, sha256) in rank_files() {
            let text = rank_file(name).unwrap();
            let digest: String = Sha256::digest(&text)
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            assert_eq!(digest, sha256, "{name}");
            if RANK_FILES.iter().any(|&(n, _)| n == name) {
                let gz = gz(name);
                let original = crate::tiktoken::maybe_gunzip(&gz).unwrap();
                assert!(text == *original, "{name}: regenerated text differs");
            }
        }
        assert!(rank_file("o200k_harmony").is_err());
        assert!(rank_file("gpt2").is_err());
    }

    #[test]
    fn embedded_vocabularies_equal_the_rank_files() {
        for name in ["cl100k_base", "o200k_base", "r50k_base"] {
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
        let err = bundled_encoding("p99k_base").unwrap_err().to_string();
        assert!(err.contains("o200k_harmony"), "{err}");
        let p50k = bundled_encoding("p50k_edit").unwrap();
        assert_eq!(p50k.n_vocab(), 50_284);
        assert_eq!(p50k.token_bytes(50_280), Some(" ".repeat(25).as_bytes()));
        assert!(p50k.is_special_id(50_256));
        // the published p50k_base file (no line for 50256) loads with its special token
        let file = openai_encoding("p50k_edit", &rank_file("p50k_base").unwrap()).unwrap();
        for id in 0..50_284 {
            assert_eq!(file.token_bytes(id), p50k.token_bytes(id), "id {id}");
        }
        let gap = from_tiktoken("x", &rank_file("p50k_base").unwrap(), R50K_PATTERN, vec![]);
        assert!(gap.unwrap_err().to_string().contains("gap in ranks"));
    }
}
