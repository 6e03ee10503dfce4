//! `tokenizer.json` normalizers: NFC, NFD, NFKC, NFKD, Lowercase, Replace, Prepend, Strip,
//! Precompiled, Sequence.
//!
//! # Design notes
//! A normalizer is a list of steps applied in order to each text segment between added tokens
//! (Hugging Face normalizes those segments separately, so a segment boundary blocks, for example,
//! canonical composition across an added token). Unicode forms use the
//! `unicode-normalization-alignments` crate, the same tables Hugging Face `tokenizers` uses, so
//! that newer or unassigned code points compose and reorder as they do there. Each step is
//! O(segment length); ASCII text skips the Unicode forms (they are the identity on ASCII) and
//! text the Unicode quick check passes is returned borrowed.
//!
//! `Precompiled` (SentencePiece's character map, see `spm::charsmap`) is applied as Hugging Face
//! applies it: per extended grapheme cluster (segmented by `unicode-segmentation`, as there), a
//! cluster shorter than 6 bytes that starts with a rule is replaced whole by the *shortest* rule
//! matching its start; otherwise each character by the shortest rule matching it, or kept. Text
//! with no byte that starts a rule is returned borrowed.

use std::borrow::Cow;

use unicode_normalization_alignments::{
    is_nfc_quick, is_nfd_quick, is_nfkc_quick, is_nfkd_quick, IsNormalized, UnicodeNormalization,
};

use unicode_segmentation::UnicodeSegmentation;

use super::split::Pattern;
use crate::spm::charsmap::CharsMap;
use crate::{Normalizer, VocabError};

/// One normalization step.
pub enum Step {
    Nfc,
    Nfd,
    Nfkc,
    Nfkd,
    /// Per-character `char::to_lowercase`, as Hugging Face applies it.
    Lowercase,
    /// Replace every non-overlapping match of `pattern` with `content`.
    Replace {
        pattern: Pattern,
        content: String,
    },
    /// Prepend a string to every non-empty segment.
    Prepend(String),
    /// Prepend a space unless the segment is empty or already starts with one (the
    /// `add_prefix_space` option of a leading `ByteLevel` pre-tokenizer).
    PrefixSpace,
    /// Strip whitespace (`char::is_whitespace`) from the left and/or right end.
    Strip {
        left: bool,
        right: bool,
    },
    /// A SentencePiece character map (boxed: the largest variant by far).
    Precompiled(Box<CharsMap>),
}

/// Hugging Face's `Precompiled` normalization of `text` (see the module notes).
fn precompiled(map: &CharsMap, text: &str) -> Option<String> {
    if !text.bytes().any(|b| map.may_start(b)) {
        return None;
    }
    let mut out = String::with_capacity(text.len() + text.len() / 4);
    let mut changed = false;
    for g in text.graphemes(true) {
        if g.len() < 6 {
            if let Some(rep) = map.shortest(g.as_bytes()) {
                out.push_str(rep);
                changed = true;
                continue;
            }
        }
        for (i, c) in g.char_indices() {
            match map.shortest(&g.as_bytes()[i..i + c.len_utf8()]) {
                Some(rep) => {
                    out.push_str(rep);
                    changed = true;
                }
                None => out.push(c),
            }
        }
    }
    changed.then_some(out)
}

impl Step {
    fn apply(&self, text: &str) -> Result<Option<String>, VocabError> {
        let ascii = text.is_ascii();
        Ok(match self {
            Step::Nfc | Step::Nfd | Step::Nfkc | Step::Nfkd if ascii => None,
            // The quick checks answer "already normalized" for almost all real text, without
            // allocating; "maybe" falls through to the full algorithm.
            Step::Nfc if is_nfc_quick(text.chars()) == IsNormalized::Yes => None,
            Step::Nfd if is_nfd_quick(text.chars()) == IsNormalized::Yes => None,
            Step::Nfkc if is_nfkc_quick(text.chars()) == IsNormalized::Yes => None,
            Step::Nfkd if is_nfkd_quick(text.chars()) == IsNormalized::Yes => None,
            Step::Nfc => Some(text.nfc().map(|(c, _)| c).collect()),
            Step::Nfd => Some(text.nfd().map(|(c, _)| c).collect()),
            Step::Nfkc => Some(text.nfkc().map(|(c, _)| c).collect()),
            Step::Nfkd => Some(text.nfkd().map(|(c, _)| c).collect()),
            Step::Lowercase => {
                if !text
                    .chars()
                    .any(|c| c.to_lowercase().ne(std::iter::once(c)))
                {
                    return Ok(None);
                }
                Some(text.chars().flat_map(char::to_lowercase).collect())
            }
            Step::Replace { pattern, content } => {
                let matches = pattern.matches(text)?;
                if matches.is_empty() {
                    return Ok(None);
                }
                let mut out = String::with_capacity(text.len());
                let mut last = 0;
                for (s, e) in matches {
                    out.push_str(&text[last..s]);
                    out.push_str(content);
                    last = e;
                }
                out.push_str(&text[last..]);
                Some(out)
            }
            Step::Prepend(p) => (!text.is_empty()).then(|| format!("{p}{text}")),
            Step::PrefixSpace => {
                (!text.is_empty() && !text.starts_with(' ')).then(|| format!(" {text}"))
            }
            Step::Strip { left, right } => {
                let mut t = text;
                if *left {
                    t = t.trim_start_matches(char::is_whitespace);
                }
                if *right {
                    t = t.trim_end_matches(char::is_whitespace);
                }
                (t.len() != text.len()).then(|| t.to_owned())
            }
            Step::Precompiled(map) => precompiled(map, text),
        })
    }
}

/// A sequence of normalization steps.
#[derive(Default)]
pub struct HfNormalizer {
    pub(crate) steps: Vec<Step>,
}

impl HfNormalizer {
    /// Whether this normalizer never changes any text.
    #[must_use]
    pub fn is_identity(&self) -> bool {
        self.steps.is_empty()
    }
}

impl Normalizer for HfNormalizer {
    fn normalize<'t>(&self, text: &'t str) -> Result<Cow<'t, str>, VocabError> {
        let mut cur: Cow<'t, str> = Cow::Borrowed(text);
        for step in &self.steps {
            if let Some(next) = step.apply(&cur)? {
                cur = Cow::Owned(next);
            }
        }
        Ok(cur)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(steps: Vec<Step>, s: &str) -> String {
        HfNormalizer { steps }.normalize(s).unwrap().into_owned()
    }

    #[test]
    fn unicode_forms() {
        assert_eq!(norm(vec![Step::Nfc], "e\u{301}"), "\u{e9}");
        assert_eq!(norm(vec![Step::Nfd], "\u{e9}"), "e\u{301}");
        assert_eq!(norm(vec![Step::Nfkc], "\u{fb01}\u{a0}"), "fi ");
        // Below U+0300 NFC is the identity, including Latin-1 with compatibility forms.
        assert_eq!(norm(vec![Step::Nfc], "\u{a0}\u{b2}"), "\u{a0}\u{b2}");
        // Canonical reordering (ccc 220 before ccc 230), then composition across the 220 mark.
        assert_eq!(norm(vec![Step::Nfc], "a\u{301}\u{316}"), "\u{e1}\u{316}");
        assert_eq!(norm(vec![Step::Nfd], "a\u{301}\u{316}"), "a\u{316}\u{301}");
    }

    #[test]
    fn other_steps() {
        assert_eq!(norm(vec![Step::Lowercase], "ÀB\u{130}"), "àbi\u{307}");
        assert_eq!(norm(vec![Step::Prepend("▁".into())], "x"), "▁x");
        assert_eq!(norm(vec![Step::Prepend("▁".into())], ""), "");
        assert_eq!(norm(vec![Step::PrefixSpace], "x"), " x");
        assert_eq!(norm(vec![Step::PrefixSpace], " x"), " x");
        let rep = Step::Replace {
            pattern: Pattern::Literal(" ".into()),
            content: "▁".into(),
        };
        assert_eq!(norm(vec![rep], "a b  c"), "a▁b▁▁c");
    }
}
