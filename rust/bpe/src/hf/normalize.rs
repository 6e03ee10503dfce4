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
//! Where the quick check does not pass (many scripts have common "maybe" characters, such as
//! Bengali and Tamil vowel signs), only the stretches that hold such characters go through the
//! full algorithm: the text is cut before every character that nothing before it can interact
//! with — combining class 0 and quick check "yes" for the form (ICU's "boundary before"): it
//! composes with no earlier character (a character that can be the second of a composition is a
//! "maybe"), it is a starter, so canonical reordering and composition stop at it, and its own
//! decomposition (NFC/NFKC) starts with such a character again. A form of the whole text is then
//! the concatenation of the forms of the pieces between cuts, and the pieces the quick check
//! passes stay as they are (`unicode_forms_piecewise_equal_whole` checks this against the
//! crate's whole-text forms).
//!
//! `Precompiled` (SentencePiece's character map, see `spm::charsmap`) is applied as Hugging Face
//! applies it: per extended grapheme cluster (segmented by `unicode-segmentation`, as there), a
//! cluster shorter than 6 bytes that starts with a rule is replaced whole by the *shortest* rule
//! matching its start; otherwise each character by the shortest rule matching it, or kept. Text
//! with no byte that starts a rule is returned borrowed.

use std::borrow::Cow;

use unicode_normalization_alignments::char::canonical_combining_class;
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

/// A Unicode normalization form.
#[derive(Clone, Copy, Debug)]
enum Form {
    Nfc,
    Nfd,
    Nfkc,
    Nfkd,
}

impl Form {
    /// The quick check's answer for `c` alone: its property value for the form.
    fn quick_yes(self, c: char) -> bool {
        let one = std::iter::once(c);
        IsNormalized::Yes
            == match self {
                Form::Nfc => is_nfc_quick(one),
                Form::Nfd => is_nfd_quick(one),
                Form::Nfkc => is_nfkc_quick(one),
                Form::Nfkd => is_nfkd_quick(one),
            }
    }

    /// The crate's form of `text`, the whole text at once.
    fn whole(self, text: &str) -> String {
        match self {
            Form::Nfc => text.nfc().map(|(c, _)| c).collect(),
            Form::Nfd => text.nfd().map(|(c, _)| c).collect(),
            Form::Nfkc => text.nfkc().map(|(c, _)| c).collect(),
            Form::Nfkd => text.nfkd().map(|(c, _)| c).collect(),
        }
    }

    /// The form of `text`, `None` when that is `text` itself: the full algorithm runs only on
    /// the pieces between boundaries that the quick check does not pass (see the module notes).
    fn apply(self, text: &str) -> Option<String> {
        let mut out: Option<String> = None;
        // `text[..copied]` is accounted for in `out` (when there is one).
        let mut copied = 0;
        let mut piece = 0;
        let mut dirty = false;
        let mut last_cc = 0u8;
        let mut finish = |start: usize, end: usize, out: &mut Option<String>| {
            let normal = self.whole(&text[start..end]);
            if normal != text[start..end] {
                let o = out.get_or_insert_with(|| String::with_capacity(text.len() + 16));
                o.push_str(&text[copied..start]);
                o.push_str(&normal);
                copied = end;
            }
        };
        for (i, c) in text.char_indices() {
            let (cc, yes) = if c.is_ascii() {
                (0, true)
            } else {
                (canonical_combining_class(c), self.quick_yes(c))
            };
            if cc == 0 && yes {
                if dirty {
                    finish(piece, i, &mut out);
                }
                piece = i;
                dirty = false;
            } else if !yes || (cc != 0 && last_cc > cc) {
                dirty = true;
            }
            last_cc = cc;
        }
        if dirty {
            finish(piece, text.len(), &mut out);
        }
        out.map(|mut o| {
            o.push_str(&text[copied..]);
            o
        })
    }
}

impl Step {
    fn apply(&self, text: &str) -> Result<Option<String>, VocabError> {
        let ascii = text.is_ascii();
        Ok(match self {
            Step::Nfc | Step::Nfd | Step::Nfkc | Step::Nfkd if ascii => None,
            Step::Nfc => Form::Nfc.apply(text),
            Step::Nfd => Form::Nfd.apply(text),
            Step::Nfkc => Form::Nfkc.apply(text),
            Step::Nfkd => Form::Nfkd.apply(text),
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

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(3000))]
        #[test]
        fn unicode_forms_piecewise_equal_whole(
            chars in proptest::collection::vec(proptest::prelude::prop_oneof![
                proptest::sample::select(vec![
                    'a', 'e', ' ', '\n', 'A', '\u{301}', '\u{316}', '\u{308}', '\u{327}',
                    '\u{e9}', '\u{1e69}', '\u{fb01}', '\u{a0}', '\u{212b}', '\u{2126}',
                    '\u{9be}', '\u{9c7}', '\u{9d7}', '\u{995}', '\u{9bc}', '\u{bbe}',
                    '\u{bc6}', '\u{bd7}', '\u{b47}', '\u{b3e}', '\u{b56}', '\u{cbf}',
                    '\u{cd5}', '\u{cc6}', '\u{cc2}', '\u{d46}', '\u{d3e}', '\u{dd9}',
                    '\u{dcf}', '\u{dca}', '\u{1100}', '\u{1161}', '\u{11a8}', '\u{ac00}',
                    '\u{3099}', '\u{304b}', '\u{30ab}', '\u{f900}', '\u{2f800}', '\u{1d15e}',
                    '\u{1d165}', '\u{1d16d}', '\u{5b0}', '\u{5bc}', '\u{5d1}', '\u{e48}',
                    '\u{e33}', '\u{f71}', '\u{f72}', '\u{f40}', '\u{1b05}', '\u{1b35}',
                    '\u{110b1}', '\u{110ba}', '\u{3000}', '\u{ff76}', '\u{ff9e}', '\u{1f1}',
                ]),
                proptest::char::any(),
            ], 0..24)
        ) {
            let text: String = chars.into_iter().collect();
            for form in [Form::Nfc, Form::Nfd, Form::Nfkc, Form::Nfkd] {
                let whole = form.whole(&text);
                let got = form.apply(&text).unwrap_or_else(|| text.clone());
                proptest::prop_assert_eq!(&got, &whole, "{:?} of {:?}", form, text);
            }
        }
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
