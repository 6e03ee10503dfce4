//! `tokenizer.json` pre-tokenizers: Split, ByteLevel, Digits, Whitespace, WhitespaceSplit,
//! Sequence.
//!
//! # Design notes
//! Every splitter follows Hugging Face's two stages exactly:
//! 1. a pattern cuts the text into alternating segments `(start, end, is_match)` covering it
//!    (regex matches come from Oniguruma's own `find_iter`, the engine and iterator Hugging Face
//!    uses, so a pattern such as `\p{N}{1,3}+` means what Oniguruma makes of it, and empty matches
//!    advance the same way; `invert` flips `is_match`);
//! 2. the split behaviour (Isolated, Removed, MergedWithPrevious, MergedWithNext, Contiguous)
//!    regroups the segments and may drop them; empty pieces are never emitted.
//!
//! A `Sequence` applies each step to every piece produced by the step before it, so a regex only
//! ever sees one piece (look-arounds cannot see past piece ends), as in Hugging Face. Pieces are
//! sub-slices of the input. Isolated and Removed stream pieces straight from the match iterator;
//! the other behaviours materialise the segments of one piece. Cost: one regex scan per step,
//! linear in the piece length for the patterns `tokenizer.json` files use.

use onig::{MatchParam, Regex, Region, SearchOptions};

use crate::{PreTokenizer, VocabError};

/// The GPT-2 split pattern a `ByteLevel` pre-tokenizer with `use_regex` applies.
pub const GPT2_PATTERN: &str =
    r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";

/// What a splitter looks for.
pub enum Pattern {
    /// An Oniguruma regex (Ruby syntax, as Hugging Face compiles it) and its source.
    Regex(Regex, String),
    /// A literal string (Hugging Face escapes it into a regex; literal search is equivalent).
    Literal(String),
    /// Every single character for which the predicate holds is a match of its own.
    Char(fn(char) -> bool),
    /// A known regex matched by hand ([`super::fast::FastPattern`]), same matches.
    Fast(super::fast::FastPattern),
}

impl Pattern {
    /// Compile an Oniguruma pattern (or pick the hand matcher of a known one).
    ///
    /// # Errors
    /// Oniguruma's message when the pattern does not compile.
    pub fn regex(pattern: &str) -> Result<Self, String> {
        let step = super::fast::DeepSeekStep::of(pattern);
        if let Some(fast) = step.and_then(super::fast::FastPattern::new) {
            return Ok(Pattern::Fast(fast));
        }
        Regex::new(pattern)
            .map(|re| Pattern::Regex(re, pattern.to_owned()))
            .map_err(|e| e.to_string())
    }

    /// Non-overlapping matches, left to right, as byte ranges.
    ///
    /// # Errors
    /// Oniguruma gave up on `text` (its retry limit).
    pub fn matches(&self, text: &str) -> Result<Vec<(usize, usize)>, VocabError> {
        let mut out = Vec::new();
        self.for_each_match(text, &mut |s, e| {
            out.push((s, e));
            true
        })?;
        Ok(out)
    }

    /// Calls `f` on each match until it returns `false`; returns `false` if stopped.
    fn for_each_match(
        &self,
        text: &str,
        f: &mut dyn FnMut(usize, usize) -> bool,
    ) -> Result<bool, VocabError> {
        Ok(match self {
            Pattern::Regex(re, source) => onig_find_each(re, source, text, f)?,
            // A one-byte literal (a space, most often) by `memchr`; others by `memmem`.
            Pattern::Literal(lit) if lit.len() == 1 => {
                memchr::memchr_iter(lit.as_bytes()[0], text.as_bytes()).all(|s| f(s, s + 1))
            }
            Pattern::Literal(lit) if !lit.is_empty() => {
                memchr::memmem::find_iter(text.as_bytes(), lit.as_bytes())
                    .all(|s| f(s, s + lit.len()))
            }
            Pattern::Literal(lit) => text
                .match_indices(lit.as_str())
                .all(|(s, m)| f(s, s + m.len())),
            Pattern::Fast(fast) => {
                let mut from = 0;
                while let Some((s, e)) = fast.find_from(text, from) {
                    if !f(s, e) {
                        return Ok(false);
                    }
                    from = e;
                }
                true
            }
            Pattern::Char(pred) => text
                .char_indices()
                .filter(|&(_, c)| pred(c))
                .all(|(s, c)| f(s, s + c.len_utf8())),
        })
    }

    /// Hugging Face's segments: gaps and matches alternating, covering `text`, in order.
    /// Gaps are never empty; matches may be. Stops (returning `false`) when `f` does.
    fn segments(
        &self,
        text: &str,
        invert: bool,
        f: &mut dyn FnMut(usize, usize, bool) -> bool,
    ) -> Result<bool, VocabError> {
        let mut prev = 0;
        let going = self.for_each_match(text, &mut |s, e| {
            if prev != s && !f(prev, s, invert) {
                return false;
            }
            prev = e;
            f(s, e, !invert)
        })?;
        Ok(going && (prev == text.len() || f(prev, text.len(), invert)))
    }
}

/// Oniguruma's `find_iter` (the iterator Hugging Face uses), with the engine's errors returned
/// instead of panicking: non-overlapping matches left to right, and an empty match right where
/// the previous match ended is skipped by advancing one character.
fn onig_find_each(
    re: &Regex,
    source: &str,
    text: &str,
    f: &mut dyn FnMut(usize, usize) -> bool,
) -> Result<bool, VocabError> {
    let mut region = Region::new();
    let mut from = 0;
    let mut last_match_end: Option<usize> = None;
    while from <= text.len() {
        region.clear();
        let found = re
            .search_with_param(
                text,
                from,
                text.len(),
                SearchOptions::SEARCH_OPTION_NONE,
                Some(&mut region),
                MatchParam::default(),
            )
            .map_err(|e| VocabError::PatternFailed {
                pattern: source.to_owned(),
                offset: from,
                message: e.description().to_owned(),
            })?;
        let Some((s, e)) = found.and_then(|_| region.pos(0)) else {
            break;
        };
        if s == e && last_match_end == Some(e) {
            from += text[from..].chars().next().map_or(1, char::len_utf8);
            continue;
        }
        from = e;
        last_match_end = Some(e);
        if !f(s, e) {
            return Ok(false);
        }
    }
    Ok(true)
}

/// How a splitter treats the text its pattern matches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Behavior {
    Removed,
    Isolated,
    MergedWithPrevious,
    MergedWithNext,
    Contiguous,
}

impl Behavior {
    /// Parse a `tokenizer.json` behaviour name.
    #[must_use]
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "Removed" => Behavior::Removed,
            "Isolated" => Behavior::Isolated,
            "MergedWithPrevious" => Behavior::MergedWithPrevious,
            "MergedWithNext" => Behavior::MergedWithNext,
            "Contiguous" => Behavior::Contiguous,
            _ => return None,
        })
    }
}

/// One pre-tokenization step.
pub enum PreTok {
    /// Split by a pattern with a behaviour (also how Digits, Whitespace, WhitespaceSplit and
    /// ByteLevel's GPT-2 regex are expressed).
    Split {
        pattern: Pattern,
        behavior: Behavior,
        invert: bool,
    },
    /// No split (a `ByteLevel` step without `use_regex` only changes the alphabet).
    Identity,
    /// A known pattern split by hand ([`super::fast`]), same pieces as the regex.
    Fast(super::fast::FastSplit),
    /// Each step applied to every piece of the step before.
    Sequence(Vec<PreTok>),
}

impl PreTok {
    /// Emit pieces while `sink` returns `true`; returns `false` once it has returned `false`.
    /// Error offsets are relative to `text`.
    fn run<'t>(
        &self,
        text: &'t str,
        sink: &mut dyn FnMut(&'t str) -> bool,
    ) -> Result<bool, VocabError> {
        if text.is_empty() {
            return Ok(true);
        }
        match self {
            PreTok::Identity => Ok(sink(text)),
            PreTok::Fast(f) => Ok(f.run_while(text, sink)),
            PreTok::Sequence(steps) => run_seq(steps, text, sink),
            PreTok::Split {
                pattern,
                behavior,
                invert,
            } => split(pattern, *behavior, *invert, text, sink),
        }
    }
}

fn run_seq<'t>(
    steps: &[PreTok],
    text: &'t str,
    sink: &mut dyn FnMut(&'t str) -> bool,
) -> Result<bool, VocabError> {
    match steps.split_first() {
        None => Ok(sink(text)),
        Some((first, rest)) => {
            let mut failed = None;
            let going = first.run(text, &mut |piece| match run_seq(rest, piece, sink) {
                Ok(going) => going,
                Err(mut e) => {
                    // Pieces are sub-slices of `text`: make the offset relative to it.
                    if let VocabError::PatternFailed { offset, .. } = &mut e {
                        *offset += piece.as_ptr() as usize - text.as_ptr() as usize;
                    }
                    failed = Some(e);
                    false
                }
            })?;
            failed.map_or(Ok(going), Err)
        }
    }
}

fn split<'t>(
    pattern: &Pattern,
    behavior: Behavior,
    invert: bool,
    text: &'t str,
    sink: &mut dyn FnMut(&'t str) -> bool,
) -> Result<bool, VocabError> {
    let mut emit = |s: usize, e: usize| s >= e || sink(&text[s..e]);
    match behavior {
        Behavior::Isolated => pattern.segments(text, invert, &mut |s, e, _| emit(s, e)),
        Behavior::Removed => {
            pattern.segments(text, invert, &mut |s, e, is_match| is_match || emit(s, e))
        }
        Behavior::Contiguous | Behavior::MergedWithPrevious | Behavior::MergedWithNext => {
            let mut segs = Vec::new();
            pattern.segments(text, invert, &mut |s, e, m| {
                segs.push((s, e, m));
                true
            })?;
            Ok(regroup(behavior, &segs)
                .into_iter()
                .all(|(s, e)| emit(s, e)))
        }
    }
}

/// The merging behaviours, exactly as Hugging Face folds the segment list.
fn regroup(behavior: Behavior, segs: &[(usize, usize, bool)]) -> Vec<(usize, usize)> {
    let mut out: Vec<(usize, usize)> = Vec::with_capacity(segs.len());
    let mut previous_match = false;
    match behavior {
        Behavior::Contiguous => {
            for &(s, e, m) in segs {
                match out.last_mut() {
                    Some(last) if m == previous_match => last.1 = e,
                    _ => out.push((s, e)),
                }
                previous_match = m;
            }
        }
        Behavior::MergedWithPrevious => {
            for &(s, e, m) in segs {
                match out.last_mut() {
                    Some(last) if m && !previous_match => last.1 = e,
                    _ => out.push((s, e)),
                }
                previous_match = m;
            }
        }
        Behavior::MergedWithNext => {
            for &(s, e, m) in segs.iter().rev() {
                match out.last_mut() {
                    Some(last) if m && !previous_match => last.0 = s,
                    _ => out.push((s, e)),
                }
                previous_match = m;
            }
            out.reverse();
        }
        Behavior::Isolated | Behavior::Removed => {
            out.extend(segs.iter().map(|&(s, e, _)| (s, e)));
        }
    }
    out
}

impl PreTokenizer for PreTok {
    fn split_while<'t>(
        &self,
        text: &'t str,
        sink: &mut dyn FnMut(&'t str) -> bool,
    ) -> Result<(), VocabError> {
        self.run(text, sink).map(drop)
    }

    fn split_batched<'t>(
        &self,
        text: &'t str,
        sink: &mut dyn FnMut(&[&'t [u8]]) -> bool,
    ) -> Result<(), VocabError> {
        match self {
            PreTok::Fast(f) => f.split_batched(text, sink),
            _ => crate::pretok::batch_split_while(self, text, sink),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pieces(p: &PreTok, text: &str) -> Vec<String> {
        let mut out = Vec::new();
        p.split(text, &mut |s| out.push(s.to_owned())).unwrap();
        out
    }

    fn re(p: &str, behavior: Behavior, invert: bool) -> PreTok {
        PreTok::Split {
            pattern: Pattern::regex(p).unwrap(),
            behavior,
            invert,
        }
    }

    #[test]
    fn behaviours() {
        let t = "a-b--c";
        let cases = [
            (Behavior::Isolated, vec!["a", "-", "b", "--", "c"]),
            (Behavior::Removed, vec!["a", "b", "c"]),
            (Behavior::MergedWithPrevious, vec!["a-", "b--", "c"]),
            (Behavior::MergedWithNext, vec!["a", "-b", "--c"]),
            (Behavior::Contiguous, vec!["a", "-", "b", "--", "c"]),
        ];
        for (b, want) in cases {
            assert_eq!(pieces(&re("-+", b, false), t), want, "{b:?}");
        }
        // Char patterns match one character at a time; Contiguous joins adjacent matches.
        let digits = |b| PreTok::Split {
            pattern: Pattern::Char(char::is_numeric),
            behavior: b,
            invert: false,
        };
        assert_eq!(
            pieces(&digits(Behavior::Isolated), "ab123c"),
            ["ab", "1", "2", "3", "c"]
        );
        assert_eq!(
            pieces(&digits(Behavior::Contiguous), "ab123c"),
            ["ab", "123", "c"]
        );
        // Removed + invert keeps only the matches.
        assert_eq!(
            pieces(&re("[a-z]+", Behavior::Removed, true), "ab, cd!"),
            ["ab", "cd"]
        );
    }

    #[test]
    fn oniguruma_reads_possessive_digit_runs() {
        // Oniguruma (Ruby syntax) reads `{1,3}+` as "one or more of {1,3}", not as a possessive
        // `{1,3}`: a run of seven digits is one piece. Hugging Face inherits this reading.
        let p = re(r"\p{N}{1,3}+", Behavior::Isolated, false);
        assert_eq!(pieces(&p, "x1234567y"), ["x", "1234567", "y"]);
        let p = re(r"\p{N}{1,3}", Behavior::Isolated, false);
        assert_eq!(pieces(&p, "x1234567y"), ["x", "123", "456", "7", "y"]);
    }

    #[test]
    fn sequence_applies_each_step_to_each_piece() {
        let p = PreTok::Sequence(vec![
            re(r"\p{N}{1,3}", Behavior::Isolated, false),
            re(r"\s+(?!\S)|\s+", Behavior::Isolated, false),
        ]);
        // The look-ahead of the second step cannot see past the end of "a  " (cut before 1).
        assert_eq!(pieces(&p, "a  12345 b"), ["a", "  ", "123", "45", " ", "b"]);
    }

    #[test]
    fn stops_when_the_sink_does() {
        let p = PreTok::Sequence(vec![
            re(r"\s+", Behavior::Isolated, false),
            re(r"b", Behavior::MergedWithNext, false),
        ]);
        let mut seen = Vec::new();
        let done = p.run("a bc d e", &mut |s| {
            seen.push(s.to_owned());
            seen.len() < 3
        });
        assert!(!done.unwrap());
        assert_eq!(seen, ["a", " ", "bc"]);
        assert!(p.run("a bc", &mut |_| true).unwrap());
    }

    #[test]
    fn retry_limit_is_an_error_naming_pattern_and_offset() {
        // Oniguruma's `find_iter` panics here; the splitter returns the engine's error, with
        // the offset in the text handed to the pre-tokenizer (the piece starts at byte 4).
        let p = PreTok::Sequence(vec![
            re(r"\s+", Behavior::Isolated, false),
            re("(a|a)+$", Behavior::Isolated, false),
        ]);
        let text = format!("xyz {}!", "a".repeat(30));
        let e = p.split(&text, &mut |_| {}).unwrap_err();
        match e {
            VocabError::PatternFailed {
                pattern, offset, ..
            } => {
                assert_eq!(pattern, "(a|a)+$");
                assert_eq!(offset, 4);
            }
            other => panic!("unexpected {other:?}"),
        }
        // Short inputs are fine, and match Oniguruma's own iterator.
        assert_eq!(pieces(&p, "xyz aa!"), ["xyz", " ", "aa!"]);
    }

    #[test]
    fn find_each_skips_empty_matches_like_onig() {
        for (pat, text) in [
            ("a*", "baaac"),
            ("", "héllo"),
            (r"\b", "ab cd"),
            ("x?", "xxyx"),
        ] {
            let re = Regex::new(pat).unwrap();
            let want: Vec<_> = re.find_iter(text).collect();
            let mut got = Vec::new();
            onig_find_each(&re, pat, text, &mut |s, e| {
                got.push((s, e));
                true
            })
            .unwrap();
            assert_eq!(got, want, "{pat:?} on {text:?}");
        }
    }

    #[test]
    fn gpt2_pattern() {
        let p = re(GPT2_PATTERN, Behavior::Isolated, false);
        assert_eq!(
            pieces(&p, "I'm here  now\u{a0}ok"),
            ["I", "'m", " here", " ", " now", "\u{a0}", "ok"]
        );
    }

    proptest::proptest! {
        /// Literal patterns find what `str::match_indices` finds (non-overlapping, leftmost).
        #[test]
        fn literal_matches_are_match_indices(
            text in "[ ab▁é]{0,40}",
            lit in "[ ab▁é]{1,3}",
        ) {
            let p = Pattern::Literal(lit.clone());
            let mut got = Vec::new();
            p.for_each_match(&text, &mut |s, e| {
                got.push((s, e));
                true
            })
            .unwrap();
            let want: Vec<(usize, usize)> =
                text.match_indices(lit.as_str()).map(|(s, m)| (s, s + m.len())).collect();
            proptest::prop_assert_eq!(got, want);
        }
    }
}
