//! Pre-tokenizers for the OpenAI split patterns: hand-written matchers for `cl100k_base` and
//! `o200k_base`, and a general `fancy-regex` path for any other `.tiktoken` pattern.
//!
//! # Design notes
//! tiktoken splits text with `fancy-regex` `find_iter` over the patterns below (copied as facts
//! from tiktoken 0.14's `tiktoken_ext/openai_public.py`). Both patterns match at every position
//! (every char is a letter, a number, whitespace or "other", and each has an alternative), so the
//! pieces tile the text and splitting is a loop of "where does the piece starting at `i` end?".
//! The hand-written matchers answer that by replaying the backtracking engine's leftmost-first
//! choice among the alternatives, with the possessive and greedy quantifiers resolved by hand:
//!
//! * cl100k: `'(?i:[sdmt]|ll|ve|re)` · `[^\r\n\p{L}\p{N}]?+\p{L}++` · `\p{N}{1,3}+` ·
//!   ` ?[^\s\p{L}\p{N}]++[\r\n]*+` · `\s++$` · `\s*[\r\n]` (ends after the run's last CR/LF) ·
//!   `\s+(?!\S)` (the run minus its last char) · `\s`.
//! * o200k: `P?U*W+C?` · `P?U+W*C?` · `\p{N}{1,3}` · ` ?[^\s\p{L}\p{N}]+[\r\n/]*` · `\s*[\r\n]+` ·
//!   `\s+(?!\S)` · `\s+`, with `P = [^\r\n\p{L}\p{N}]`, `U = [\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]`,
//!   `W = [\p{Ll}\p{Lm}\p{Lo}\p{M}]` and `C` the optional contraction. `U*W+` backtracks: if the
//!   char after the maximal `U` run is not in `W`, the match ends after the last char of the run
//!   that is in `W` (Lm, Lo and marks are in both). A mark is also in `P`, so `P?` is tried with
//!   and without the first char.
//! * `(?i)` folds `s` to `S` and U+017F (long s); no other letter of the contractions folds to a
//!   non-ASCII char.
//!
//! Character classes come from the build-time table in `unicode.rs`. Each piece costs O(length)
//! (plus at most one extra char of look-back), so splitting is linear. The unit tests check the
//! matchers against `fancy-regex` running the original patterns; pytest checks against tiktoken.

use crate::pretok::PreTokenizer;
use crate::unicode::{
    class_at, Class, LETTER, LL, LM, LO, LT, LU, MARK, NEWLINE, NUM, OTHER, WHITE,
};
use crate::VocabError;

/// The split pattern of `r50k_base`, `p50k_base` and `gpt2` (tiktoken 0.14's `r50k_pat_str`).
pub const R50K_PATTERN: &str =
    r"'(?:[sdmt]|ll|ve|re)| ?\p{L}++| ?\p{N}++| ?[^\s\p{L}\p{N}]++|\s++$|\s+(?!\S)|\s";

/// The `cl100k_base` split pattern (tiktoken 0.14).
pub const CL100K_PATTERN: &str = r"'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s";

/// The `o200k_base` split pattern (tiktoken 0.14).
pub const O200K_PATTERN: &str = concat!(
    r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?",
    "|",
    r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?",
    "|",
    r"\p{N}{1,3}",
    "|",
    r" ?[^\s\p{L}\p{N}]+[\r\n/]*",
    "|",
    r"\s*[\r\n]+",
    "|",
    r"\s+(?!\S)",
    "|",
    r"\s+"
);

/// `[^\s\p{L}\p{N}]`
const PUNCT: Class = OTHER | MARK;
/// `[^\r\n\p{L}\p{N}]`
const PREFIX: Class = OTHER | MARK | crate::unicode::SPACE;
const UPPERISH: Class = LU | LT | LM | LO | MARK;
const LOWERISH: Class = LL | LM | LO | MARK;

/// End of the maximal run of chars in `class` starting at byte `i`.
#[inline(always)]
fn run(s: &[u8], mut i: usize, class: Class) -> usize {
    // ASCII letter runs (the bulk of prose), 16 bytes per step with no per-byte branch: the
    // word's end is a mask's first zero, not a mispredicted loop exit.
    if class == LETTER {
        i = ascii_run(s, i, 0x20);
    } else if class == LOWERISH {
        i = ascii_run(s, i, 0);
    }
    // ASCII fast path: one table read per byte.
    while i < s.len() && s[i] < 0x80 {
        if crate::unicode::ascii_class(s[i]) & class == 0 {
            return i;
        }
        i += 1;
    }
    while i < s.len() {
        let (c, l) = class_at(s, i);
        if c & class == 0 {
            break;
        }
        i += l;
    }
    i
}

/// End of the run of ASCII letters from `i`: bytes `b` with `b | fold` in `a..=z` (`fold` 0x20:
/// either case; 0: lowercase only). Stops at any other byte, non-ASCII ones included (they are
/// never inside: `b | fold >= 0x80`), so the caller's general loop takes over there.
#[inline(always)]
pub(crate) fn ascii_run(s: &[u8], mut i: usize, fold: u8) -> usize {
    #[cfg(target_arch = "x86_64")]
    {
        use core::arch::x86_64::{
            __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_min_epu8, _mm_movemask_epi8,
            _mm_or_si128, _mm_set1_epi8, _mm_sub_epi8,
        };
        while i + 16 <= s.len() {
            // SAFETY: SSE2 is part of the x86-64 baseline; the unaligned load reads
            // `s[i..i + 16]`, inside the slice.
            let inside = unsafe {
                let v = _mm_loadu_si128(s.as_ptr().add(i).cast::<__m128i>());
                let t = _mm_sub_epi8(
                    _mm_or_si128(v, _mm_set1_epi8(fold as i8)),
                    _mm_set1_epi8(b'a' as i8),
                );
                // t < 26 as unsigned bytes: min(t, 25) == t.
                let ok = _mm_cmpeq_epi8(_mm_min_epu8(t, _mm_set1_epi8(25)), t);
                _mm_movemask_epi8(ok) as u32
            };
            if inside != 0xFFFF {
                return i + inside.trailing_ones() as usize;
            }
            i += 16;
        }
    }
    while i < s.len() && (s[i] | fold).wrapping_sub(b'a') < 26 {
        i += 1;
    }
    i
}

/// Byte length of `s[i..]`'s first char if it is the contraction letter `lower` (case-insensitive).
#[inline]
fn fold_eq(s: &[u8], i: usize, lower: u8) -> Option<usize> {
    let b = *s.get(i)?;
    if b | 0x20 == lower && b.is_ascii_alphabetic() {
        return Some(1);
    }
    // U+017F LATIN SMALL LETTER LONG S folds to 's'.
    if lower == b's' && b == 0xC5 && s.get(i + 1) == Some(&0xBF) {
        return Some(2);
    }
    None
}

/// `'(?i:s|t|re|ve|m|ll|d)` at byte `i` (which holds the apostrophe): the end, if it matches.
#[inline]
fn contraction(s: &[u8], i: usize) -> Option<usize> {
    let j = i + 1;
    for single in [b's', b't', b'm', b'd'] {
        if let Some(l) = fold_eq(s, j, single) {
            return Some(j + l);
        }
    }
    for [a, b] in [[b'r', b'e'], [b'v', b'e'], [b'l', b'l']] {
        if let Some(la) = fold_eq(s, j, a) {
            if let Some(lb) = fold_eq(s, j + la, b) {
                return Some(j + la + lb);
            }
        }
    }
    None
}

/// End of the piece `\p{N}{1,3}` at `i` (the first char is a number).
#[inline]
fn digits(s: &[u8], i: usize) -> usize {
    let mut j = i;
    for _ in 0..3 {
        if j >= s.len() {
            break;
        }
        let (c, l) = class_at(s, j);
        if c & NUM == 0 {
            break;
        }
        j += l;
    }
    j
}

/// Start of the last char of the non-empty `s[..end]`.
#[inline]
fn last_char_start(s: &[u8], end: usize) -> usize {
    let mut k = end - 1;
    while s[k] & 0xC0 == 0x80 {
        k -= 1;
    }
    k
}

/// Position just after the last CR/LF in `s[i..e]`, if any.
#[inline]
fn after_last_newline(s: &[u8], i: usize, e: usize) -> Option<usize> {
    s[i..e]
        .iter()
        .rposition(|&b| b == b'\r' || b == b'\n')
        .map(|p| i + p + 1)
}

/// End of the cl100k piece starting at byte `i < s.len()`.
fn cl100k_next(s: &[u8], i: usize) -> usize {
    let n = s.len();
    if s[i] == b'\'' {
        if let Some(e) = contraction(s, i) {
            return e;
        }
    }
    let (c0, l0) = class_at(s, i);
    if c0 & LETTER != 0 {
        return run(s, i + l0, LETTER);
    }
    if c0 & PREFIX != 0 && i + l0 < n {
        let (c1, l1) = class_at(s, i + l0);
        if c1 & LETTER != 0 {
            return run(s, i + l0 + l1, LETTER);
        }
    }
    if c0 & NUM != 0 {
        return digits(s, i);
    }
    let start = if s[i] == b' ' && i + 1 < n && class_at(s, i + 1).0 & PUNCT != 0 {
        i + 1
    } else {
        i
    };
    if class_at(s, start).0 & PUNCT != 0 {
        let e = run(s, start, PUNCT);
        return run(s, e, NEWLINE);
    }
    // Whitespace.
    let e = run(s, i, WHITE);
    if e == n {
        return e;
    }
    if let Some(e) = after_last_newline(s, i, e) {
        return e;
    }
    let last = last_char_start(s, e);
    if last > i {
        last
    } else {
        e
    }
}

/// `U*W+` from `start`: the end, if it matches.
#[inline]
fn o200k_upper_lower(s: &[u8], start: usize) -> Option<usize> {
    let mut e = start;
    let mut last_lower_end = None;
    while e < s.len() {
        let (c, l) = class_at(s, e);
        if c & UPPERISH == 0 {
            break;
        }
        if c & LOWERISH != 0 {
            last_lower_end = Some(e + l);
        }
        e += l;
    }
    if e < s.len() && class_at(s, e).0 & LOWERISH != 0 {
        return Some(run(s, e, LOWERISH));
    }
    last_lower_end
}

/// `U+W*` from `start`: the end, if it matches.
#[inline]
fn o200k_upper_then_lower(s: &[u8], start: usize) -> Option<usize> {
    let e = run(s, start, UPPERISH);
    (e > start).then(|| run(s, e, LOWERISH))
}

/// End of the o200k piece starting at byte `i < s.len()`.
fn o200k_next(s: &[u8], i: usize) -> usize {
    let n = s.len();
    let (c0, l0) = class_at(s, i);
    let with_prefix = c0 & PREFIX != 0 && i + l0 < n;
    let word = (with_prefix.then(|| o200k_upper_lower(s, i + l0)).flatten())
        .or_else(|| o200k_upper_lower(s, i))
        .or_else(|| {
            with_prefix
                .then(|| o200k_upper_then_lower(s, i + l0))
                .flatten()
        })
        .or_else(|| o200k_upper_then_lower(s, i));
    if let Some(e) = word {
        if s.get(e) == Some(&b'\'') {
            if let Some(e2) = contraction(s, e) {
                return e2;
            }
        }
        return e;
    }
    if c0 & NUM != 0 {
        return digits(s, i);
    }
    let start = if s[i] == b' ' && i + 1 < n && class_at(s, i + 1).0 & PUNCT != 0 {
        i + 1
    } else {
        i
    };
    if class_at(s, start).0 & PUNCT != 0 {
        let mut e = run(s, start, PUNCT);
        while e < n && matches!(s[e], b'\r' | b'\n' | b'/') {
            e += 1;
        }
        return e;
    }
    // Whitespace.
    let e = run(s, i, WHITE);
    if let Some(e) = after_last_newline(s, i, e) {
        return e;
    }
    if e == n {
        return e;
    }
    let last = last_char_start(s, e);
    if last > i {
        last
    } else {
        e
    }
}

#[inline(always)]
fn split_with<'t>(
    text: &'t str,
    next: impl Fn(&[u8], usize) -> usize,
    sink: &mut dyn FnMut(&'t str) -> bool,
) {
    let s = text.as_bytes();
    let mut i = 0;
    while i < s.len() {
        let e = next(s, i);
        // `next` only stops at char boundaries, and always advances.
        if !sink(&text[i..e]) {
            return;
        }
        i = e;
    }
}

/// [`split_with`] filling batches directly (`next` inlined, no call per piece).
#[inline(always)]
fn batch_with<'t>(
    text: &'t str,
    next: impl Fn(&[u8], usize) -> usize,
    sink: &mut dyn FnMut(&[&'t [u8]]) -> bool,
) {
    let s = text.as_bytes();
    crate::pretok::batch_tiling(text, |i| next(s, i), sink);
}

/// A hand-written pre-tokenizer around its "next piece" function (cannot fail).
macro_rules! hand_written {
    ($(#[$doc:meta])* $name:ident, $next:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, Default)]
        pub struct $name;

        impl PreTokenizer for $name {
            fn split_while<'t>(
                &self,
                text: &'t str,
                sink: &mut dyn FnMut(&'t str) -> bool,
            ) -> Result<(), VocabError> {
                split_with(text, $next, sink);
                Ok(())
            }
            fn split_batched<'t>(
                &self,
                text: &'t str,
                sink: &mut dyn FnMut(&[&'t [u8]]) -> bool,
            ) -> Result<(), VocabError> {
                batch_with(text, $next, sink);
                Ok(())
            }
        }
    };
}

hand_written!(
    /// The `cl100k_base` split pattern, hand-written.
    Cl100kPreTokenizer,
    cl100k_next
);
hand_written!(
    /// The `o200k_base` split pattern, hand-written.
    O200kPreTokenizer,
    o200k_next
);

/// Any other pattern, run with `fancy-regex` exactly as tiktoken runs it (`find_iter`; text
/// between matches is dropped, as in tiktoken).
#[derive(Debug, Clone)]
pub struct RegexPreTokenizer {
    regex: fancy_regex::Regex,
}

impl RegexPreTokenizer {
    /// Compile `pattern`.
    ///
    /// # Errors
    /// The pattern does not compile; the message names the pattern.
    pub fn new(pattern: &str) -> Result<Self, crate::VocabError> {
        fancy_regex::Regex::new(pattern)
            .map(|regex| Self { regex })
            .map_err(|e| crate::VocabError::InvalidPattern(format!("{pattern:?}: {e}")))
    }
}

impl PreTokenizer for RegexPreTokenizer {
    fn split_while<'t>(
        &self,
        text: &'t str,
        sink: &mut dyn FnMut(&'t str) -> bool,
    ) -> Result<(), VocabError> {
        let mut done = 0;
        for m in self.regex.find_iter(text) {
            // fancy-regex gives up (backtrack limit) on some inputs. Encoding the rest some
            // other way would be a guess: the text has no defined tokenization under this
            // pattern, so say so.
            let m = m.map_err(|e| VocabError::PatternFailed {
                pattern: self.regex.as_str().to_owned(),
                offset: done,
                message: e.to_string(),
            })?;
            done = m.end();
            if !sink(m.as_str()) {
                break;
            }
        }
        Ok(())
    }
}

/// The pre-tokenizer for a pattern: hand-written for the two OpenAI patterns, `fancy-regex`
/// otherwise.
///
/// # Errors
/// The pattern does not compile.
pub fn pretokenizer_for(pattern: &str) -> Result<Box<dyn PreTokenizer>, crate::VocabError> {
    Ok(match pattern {
        CL100K_PATTERN => Box::new(Cl100kPreTokenizer),
        O200K_PATTERN => Box::new(O200kPreTokenizer),
        _ => Box::new(RegexPreTokenizer::new(pattern)?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ascii_run_matches_a_byte_loop() {
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        for len in 0..80 {
            for _ in 0..50 {
                let s: Vec<u8> = (0..len)
                    .map(|_| {
                        state ^= state << 13;
                        state ^= state >> 7;
                        state ^= state << 17;
                        // Mostly letters; some edge bytes ('@', '[', '`', '{', 0xC3, 0xE0).
                        let edge = [b'@', b'[', b'`', b'{', 0xC3, 0xE0, b' ', b'Z', b'a', b'z'];
                        if state.is_multiple_of(7) {
                            edge[(state >> 8) as usize % edge.len()]
                        } else {
                            b'A' + ((state >> 16) % 58) as u8
                        }
                    })
                    .collect();
                for start in 0..=len.min(20) {
                    for fold in [0x20u8, 0] {
                        let mut want = start;
                        while want < s.len() && (s[want] | fold).is_ascii_lowercase() {
                            want += 1;
                        }
                        assert_eq!(ascii_run(&s, start, fold), want, "{s:?} from {start}");
                    }
                }
            }
        }
    }
    use proptest::prelude::*;

    #[test]
    fn backtrack_limit_is_an_error_not_a_guess() {
        let p = RegexPreTokenizer::new(r"(?:a|a)+(?!x)b").unwrap();
        let text = format!("{}!", "a".repeat(30));
        let e = p.split(&text, &mut |_| {}).unwrap_err();
        assert!(
            matches!(&e, VocabError::PatternFailed { offset: 0, .. }),
            "{e:?}"
        );
        assert!(e.to_string().contains("(?:a|a)+(?!x)b"), "{e}");
    }

    #[test]
    fn stop_flag_interrupts_counting() {
        use std::sync::atomic::AtomicBool;
        let enc = crate::registry::bundled_encoding("cl100k_base").unwrap();
        let text = "hello world ".repeat(1000);
        let policy = enc.ordinary_policy();
        let stop = AtomicBool::new(true);
        assert_eq!(
            enc.count_interruptible(&text, &policy, &stop),
            Err(VocabError::Interrupted)
        );
        assert_eq!(
            enc.count_batch_interruptible(&[text.as_str()], &policy, &stop),
            Err((0, VocabError::Interrupted))
        );
        assert_eq!(
            enc.encode_ordinary_interruptible(&text, &stop),
            Err(VocabError::Interrupted)
        );
        let go = AtomicBool::new(false);
        assert_eq!(
            enc.count_interruptible(&text, &policy, &go).unwrap(),
            enc.encode_ordinary(&text).unwrap().len()
        );
    }

    fn pieces(p: &dyn PreTokenizer, text: &str) -> Vec<String> {
        let mut out = Vec::new();
        p.split(text, &mut |s| out.push(s.to_string())).unwrap();
        out
    }

    fn references() -> &'static [RegexPreTokenizer; 2] {
        static R: std::sync::OnceLock<[RegexPreTokenizer; 2]> = std::sync::OnceLock::new();
        R.get_or_init(|| {
            [
                RegexPreTokenizer::new(CL100K_PATTERN).unwrap(),
                RegexPreTokenizer::new(O200K_PATTERN).unwrap(),
            ]
        })
    }

    fn check(text: &str) {
        for (reference, fast) in references()
            .iter()
            .zip([&Cl100kPreTokenizer as &dyn PreTokenizer, &O200kPreTokenizer])
        {
            let pattern = reference.regex.as_str();
            assert_eq!(
                pieces(fast, text),
                pieces(reference, text),
                "pattern {pattern:?} on {text:?}"
            );
        }
    }

    #[test]
    fn handpicked_cases() {
        for t in [
            "",
            "Hello, world! It's 12345 o'clock.\r\n\r\n  x  \n  ",
            "I'M HERE'S 'LL 'Ll 'ſ 'ſt",
            "a\n  ",
            "a \n  b",
            "x\u{a0}\u{a0}y \u{3000}z\u{2028}",
            "नमस्ते दुनिया",
            "สวัสดีครับ",
            "မင်္ဂလာပါ",
            "👨‍👩‍👧 😀 \u{301}\u{301}a",
            "ǅungla ǅUNGLA ʰʰA Aʰ ABCʰDEF",
            "  /  //\n\n/ \t\t\tfoo",
            "١٢٣٤ 一二三 ½¾",
            "  ",
            " ",
            "\u{301}",
            "a\u{301}\u{302}B\u{303}",
        ] {
            check(t);
        }
    }

    fn interesting_char() -> impl Strategy<Value = char> {
        prop_oneof![
            prop::sample::select(vec![
                ' ', ' ', '\n', '\r', '\t', '\'', 's', 'S', 'ſ', 't', 'l', 'L', 'r', 'e', 'v', 'd',
                'm', 'A', 'z', '0', '9', '/', '.', '!', '\u{a0}', '\u{3000}', '\u{2028}', '\u{85}',
                '\u{301}', '\u{94d}', 'ʰ', 'ǅ', '中', 'ا', '٣', '½', '😀', '\u{200d}', 'ก',
                '\u{e31}', 'က', '\u{103a}', 'Ⅻ', 'ⅰ',
            ]),
            any::<char>(),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]
        #[test]
        fn matches_fancy_regex(chars in prop::collection::vec(interesting_char(), 0..24)) {
            let text: String = chars.into_iter().collect();
            check(&text);
        }
    }

    #[test]
    fn every_char_alone_and_in_context() {
        for cp in (0..0x11_0000u32).step_by(499).chain(0..0x400) {
            let Some(c) = char::from_u32(cp) else {
                continue;
            };
            check(&format!("{c}"));
            check(&format!("a{c}'s {c}{c}b  {c}\n"));
        }
    }
}
