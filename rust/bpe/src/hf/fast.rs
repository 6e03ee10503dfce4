//! Hand-written splitters for the GPT-4-style patterns of Llama-3, GLM-4 and the Qwen family and
//! the o200k-style pattern of MiniMax, equal to Oniguruma running them.
//!
//! # Design notes
//! The patterns (Llama-3/GLM-4 with `\p{N}{1,3}`, Qwen 2.5/3 with `\p{N}`, Qwen 3.5 with
//! `[\p{L}\p{M}]` for letters) are
//! `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?W+|\p{N}{1,D}| ?[^\s W \p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
//! with `W` the letter class. Every position matches one alternative, so the matches tile the
//! text and `Isolated` splitting is a loop of "where does the match starting at `i` end?". The
//! answer replays the backtracking engine's leftmost-first choice by hand:
//! - contraction: `'` then a case-insensitive `s`, `t`, `re`, `ve`, `m`, `ll` or `d`;
//! - `P?W+`: one prefix char (not CR, LF, letter or number) before a letter run, else a letter
//!   run (a char in both `P` and `W`, a Qwen 3.5 mark, ends at the same place either way);
//! - up to `D` numbers;
//! - ` ?O+[\r\n]*`: an optional space, a run of "other" chars, trailing CR/LF;
//! - in a whitespace run `[i, j)`: after its last CR/LF if it has one (`\s*[\r\n]+`), else `j`
//!   at the end of the text or the run minus its last char when that leaves something
//!   (`\s+(?!\S)`), else `j` (`\s+`).
//!
//! Exactness rests on using Oniguruma's own reading of the classes: the class table (the five
//! letter categories, `\p{M}`, `\p{N}`, `\s`; two bytes per code point, 2.2 MB) is filled by running Oniguruma over
//! each 128-code-point block the first time text touches it, and non-ASCII letters after an
//! apostrophe are tested with Oniguruma's `(?i:x)`, so both follow the engine's Unicode version
//! whatever it is. The unit tests compare each splitter with Oniguruma
//! running its pattern on random and targeted text. Each match costs O(its length) plus one char of
//! look-ahead, so splitting is linear.

use std::sync::atomic::{AtomicBool, AtomicU16, Ordering};
use std::sync::OnceLock;

use onig::Regex;

use crate::PreTokenizer;

const LU: u16 = 1;
const LL: u16 = 2;
const LT: u16 = 4;
const LM: u16 = 8;
const LO: u16 = 16;
const M: u16 = 32;
const N: u16 = 64;
const S: u16 = 128;
/// `\p{P}` and `\p{S}` (DeepSeek-V3's pattern).
const PUNCT: u16 = 256;
const SYM: u16 = 512;
const L: u16 = LU | LL | LT | LM | LO;
/// o200k-style `[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]` and `[\p{Ll}\p{Lm}\p{Lo}\p{M}]`.
const UPPER: u16 = LU | LT | LM | LO | M;
const LOWER: u16 = LL | LM | LO | M;

const BLOCK: u32 = 128;
const BLOCKS: usize = 0x11_0000 / BLOCK as usize;

/// Oniguruma's classes of code points, filled one 128-code-point block at a time on first use
/// (text touches few blocks, so loading stays instant), and matchers for the case-insensitive
/// contraction letters.
struct Tables {
    /// The classes of the ASCII chars (block 0, filled when the tables are built): plain reads
    /// for the bulk of most text.
    ascii: [u16; 128],
    /// The ASCII chars with a letter class are exactly `A-Z` and `a-z`, so ASCII letter runs
    /// can be scanned 16 bytes at a time (`openai::ascii_run`).
    ascii_letters_az: bool,
    class: Box<[AtomicU16]>,
    ready: Box<[AtomicBool]>,
    classes: [(Regex, u16); 10],
    /// `\A(?i:x)\z` for each of `s t r e v m l d`, for non-ASCII chars after an apostrophe.
    folds: Vec<(char, Regex)>,
}

fn tables() -> Option<&'static Tables> {
    static T: OnceLock<Option<Tables>> = OnceLock::new();
    T.get_or_init(build_tables).as_ref()
}

fn build_tables() -> Option<Tables> {
    let re = |p: &str| Regex::new(p).ok();
    let classes = [
        (re(r"\p{Lu}+")?, LU),
        (re(r"\p{Ll}+")?, LL),
        (re(r"\p{Lt}+")?, LT),
        (re(r"\p{Lm}+")?, LM),
        (re(r"\p{Lo}+")?, LO),
        (re(r"\p{M}+")?, M),
        (re(r"\p{N}+")?, N),
        (re(r"\s+")?, S),
        (re(r"\p{P}+")?, PUNCT),
        (re(r"\p{S}+")?, SYM),
    ];
    let folds = "strevmld"
        .chars()
        .map(|x| Some((x, re(&format!(r"\A(?i:{x})\z"))?)))
        .collect::<Option<Vec<_>>>()?;
    let mut t = Tables {
        ascii: [0; 128],
        ascii_letters_az: false,
        class: (0..0x11_0000).map(|_| AtomicU16::new(0)).collect(),
        ready: (0..BLOCKS).map(|_| AtomicBool::new(false)).collect(),
        classes,
        folds,
    };
    t.fill(0);
    for (a, k) in t.ascii.iter_mut().zip(t.class.iter()) {
        *a = k.load(Ordering::Relaxed);
    }
    t.ascii_letters_az =
        (0..128u8).all(|b| (t.ascii[usize::from(b)] & L != 0) == b.is_ascii_alphabetic());
    Some(t)
}

impl Tables {
    #[inline]
    fn class(&self, c: char) -> u16 {
        let cp = c as usize;
        if cp < 128 {
            return self.ascii[cp];
        }
        let block = cp / BLOCK as usize;
        if !self.ready[block].load(Ordering::Acquire) {
            self.fill(block);
        }
        self.class[cp].load(Ordering::Relaxed)
    }

    /// Classify one block with Oniguruma. Threads racing here write the same bits.
    #[cold]
    fn fill(&self, block: usize) {
        let start = block as u32 * BLOCK;
        let text: String = (start..start + BLOCK).filter_map(char::from_u32).collect();
        for (re, bit) in &self.classes {
            for (s, e) in re.find_iter(&text) {
                for c in text[s..e].chars() {
                    self.class[c as usize].fetch_or(*bit, Ordering::Relaxed);
                }
            }
        }
        self.ready[block].store(true, Ordering::Release);
    }

    /// End of the run of chars from `i` whose class satisfies `keep`, at most `max` chars.
    #[inline(always)]
    fn run(&self, s: &str, i: usize, max: usize, keep: impl Fn(u16) -> bool) -> usize {
        let b = s.as_bytes();
        let mut end = i;
        let mut n = 0;
        while n < max {
            let Some(&x) = b.get(end) else { break };
            let (k, len) = if x < 0x80 {
                (self.ascii[usize::from(x)], 1)
            } else {
                match char_at(s, end) {
                    Some(c) => (self.class(c), c.len_utf8()),
                    None => break,
                }
            };
            if !keep(k) {
                break;
            }
            end += len;
            n += 1;
        }
        end
    }

    /// End of the run of chars from `i` whose class meets `word` (a set of letter classes,
    /// perhaps with marks): [`run`](Self::run) with ASCII letters taken 16 bytes at a time.
    #[inline(always)]
    fn word_run(&self, s: &str, i: usize, word: u16) -> usize {
        let i = if self.ascii_letters_az && word & L == L {
            crate::openai::ascii_run(s.as_bytes(), i, 0x20)
        } else {
            i
        };
        self.run(s, i, usize::MAX, |k| k & word != 0)
    }

    /// `\s*[\r\n]+|\s+(?!\S)|\s+` at a whitespace char `i`: after the run's last CR/LF if it
    /// has one; else the whole run at the end of the text, or the run minus its last char when
    /// that leaves something; else the run.
    fn whitespace_end(&self, s: &str, i: usize) -> usize {
        // A run of ASCII whitespace (indentation, line ends) in one byte loop, noting the last
        // CR/LF on the way; a run that meets a non-ASCII char takes the general path below.
        let b = s.as_bytes();
        let mut end = i;
        let mut after_newline = None;
        while let Some(&x) = b.get(end) {
            if x >= 0x80 {
                return self.whitespace_end_general(s, i);
            }
            if self.ascii[usize::from(x)] & S == 0 {
                break;
            }
            end += 1;
            if x == b'\n' || x == b'\r' {
                after_newline = Some(end);
            }
        }
        match after_newline {
            Some(e) => e,
            None if end == s.len() || end - i == 1 => end,
            None => end - 1,
        }
    }

    /// [`whitespace_end`](Self::whitespace_end) for any chars.
    fn whitespace_end_general(&self, s: &str, i: usize) -> usize {
        let end = self.run(s, i, usize::MAX, |k| k & S != 0);
        let run = &s[i..end];
        if let Some(p) = run.rfind(['\r', '\n']) {
            return i + p + 1;
        }
        if end == s.len() {
            return end;
        }
        let last = run.chars().next_back().map_or(0, char::len_utf8);
        if run.len() > last {
            end - last
        } else {
            end
        }
    }

    /// Whether `(?i:x)` matches `c`.
    fn folds(&self, c: char, x: char) -> bool {
        if c.is_ascii() {
            return c.eq_ignore_ascii_case(&x);
        }
        let mut buf = [0u8; 4];
        let c = &*c.encode_utf8(&mut buf);
        self.folds
            .iter()
            .any(|(l, re)| *l == x && re.find(c).is_some())
    }
}

/// Which of the known patterns a `Split` regex is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    /// Llama-3, GLM-4: numbers in runs of up to three.
    Llama3,
    /// Qwen 2.5 and 3: single numbers.
    Qwen2,
    /// Qwen 3.5: single numbers, marks count as letters.
    Qwen35,
    /// MiniMax: OpenAI's o200k pattern (case-aware letter runs, contractions attached).
    O200k,
}

impl Family {
    const LLAMA3: &'static str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
    const QWEN2: &'static str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
    const QWEN35: &'static str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?[\p{L}\p{M}]+|\p{N}| ?[^\s\p{L}\p{M}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

    const O200K: &'static str = concat!(
        r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?",
        r"|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?",
        r"|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+"
    );

    /// The family whose pattern is exactly `pattern`.
    #[must_use]
    pub fn of(pattern: &str) -> Option<Self> {
        match pattern {
            Self::LLAMA3 => Some(Family::Llama3),
            Self::QWEN2 => Some(Family::Qwen2),
            Self::QWEN35 => Some(Family::Qwen35),
            Self::O200K => Some(Family::O200k),
            _ => None,
        }
    }

    /// The regex text of the family.
    #[must_use]
    pub fn pattern(self) -> &'static str {
        match self {
            Family::Llama3 => Self::LLAMA3,
            Family::Qwen2 => Self::QWEN2,
            Family::Qwen35 => Self::QWEN35,
            Family::O200k => Self::O200K,
        }
    }
}

/// The hand-written splitter (`Isolated`, not inverted) for one [`Family`].
pub struct FastSplit {
    tables: &'static Tables,
    o200k: bool,
    word: u16,
    max_digits: usize,
}

#[inline]
fn char_at(s: &str, i: usize) -> Option<char> {
    match s.as_bytes().get(i) {
        Some(&b) if b < 0x80 => Some(char::from(b)),
        Some(_) => s.get(i..).and_then(|t| t.chars().next()),
        None => None,
    }
}

impl FastSplit {
    /// The splitter, or `None` if Oniguruma could not build the class tables.
    #[must_use]
    pub fn new(family: Family) -> Option<Self> {
        Some(Self {
            tables: tables()?,
            o200k: family == Family::O200k,
            word: if family == Family::Qwen35 { L | M } else { L },
            max_digits: if matches!(family, Family::Llama3 | Family::O200k) {
                3
            } else {
                1
            },
        })
    }

    #[inline]
    fn class(&self, c: char) -> u16 {
        self.tables.class(c)
    }

    #[inline]
    fn is_other(&self, k: u16) -> bool {
        k & (S | N | self.word) == 0
    }

    #[inline]
    fn run(&self, s: &str, i: usize, max: usize, keep: impl Fn(u16) -> bool) -> usize {
        self.tables.run(s, i, max, keep)
    }

    /// End of a contraction after the apostrophe at `j - 1`.
    fn contraction(&self, s: &str, j: usize) -> Option<usize> {
        for suffix in ["s", "t", "re", "ve", "m", "ll", "d"] {
            let mut end = j;
            let mut ok = true;
            for x in suffix.chars() {
                match char_at(s, end) {
                    Some(c) if self.tables.folds(c, x) => end += c.len_utf8(),
                    _ => {
                        ok = false;
                        break;
                    }
                }
            }
            if ok {
                return Some(end);
            }
        }
        None
    }

    /// End of the match starting at `i` (`i < s.len()`, on a char boundary).
    #[inline(always)]
    fn next_end(&self, s: &str, i: usize) -> usize {
        let c = match s.as_bytes().get(i) {
            Some(&b) if b < 0x80 => char::from(b),
            _ => match char_at(s, i) {
                Some(c) => c,
                None => return s.len(),
            },
        };
        let j = i + c.len_utf8();
        if self.o200k {
            return self.o200k_end(s, i, c, j);
        }
        if c == '\'' {
            if let Some(e) = self.contraction(s, j) {
                return e;
            }
        }
        let k = self.class(c);
        let word = self.word;
        let is_word = |k: u16| k & word != 0;
        let crlf = c == '\r' || c == '\n';
        if !crlf && k & (L | N) == 0 && char_at(s, j).is_some_and(|d| is_word(self.class(d))) {
            return self.tables.word_run(s, j, word);
        }
        if is_word(k) {
            return self.tables.word_run(s, i, word);
        }
        if k & N != 0 {
            return self.run(s, i, self.max_digits, |k| k & N != 0);
        }
        let crlf_run = |e: usize| {
            e + s[e..]
                .bytes()
                .take_while(|&b| b == b'\r' || b == b'\n')
                .count()
        };
        if c == ' ' && char_at(s, j).is_some_and(|d| self.is_other(self.class(d))) {
            return crlf_run(self.run(s, j, usize::MAX, |k| self.is_other(k)));
        }
        if self.is_other(k) {
            return crlf_run(self.run(s, i, usize::MAX, |k| self.is_other(k)));
        }
        self.whitespace_end(s, i)
    }

    /// End of `U*W+` from `j`, if it matches (`U` = UPPER, `W` = LOWER; the marks and `Lm`,
    /// `Lo` letters are in both, which is where `U*` gives back chars to `W+`).
    fn upper_lower(&self, s: &str, j: usize) -> Option<usize> {
        let b = self.run(s, j, usize::MAX, |k| k & UPPER != 0);
        if char_at(s, b).is_some_and(|d| self.class(d) & LOWER != 0) {
            return Some(self.run(s, b, usize::MAX, |k| k & LOWER != 0));
        }
        // Backtrack: the last char of the run that is also in W ends the match.
        s[j..b]
            .char_indices()
            .rev()
            .find(|&(_, d)| self.class(d) & LOWER != 0)
            .map(|(p, d)| j + p + d.len_utf8())
    }

    /// End of `U+W*` from `j`, if it matches.
    fn upper_then_lower(&self, s: &str, j: usize) -> Option<usize> {
        let b = self.run(s, j, usize::MAX, |k| k & UPPER != 0);
        (b > j).then(|| self.run(s, b, usize::MAX, |k| k & LOWER != 0))
    }

    /// The o200k-style pattern: `P?U*W+C?|P?U+W*C?|\p{N}{1,3}| ?O+[\r\n/]*|` whitespace.
    fn o200k_end(&self, s: &str, i: usize, c: char, j: usize) -> usize {
        let k = self.class(c);
        let prefix = c != '\r' && c != '\n' && k & (L | N) == 0;
        let word =
            |f: &dyn Fn(usize) -> Option<usize>| prefix.then(|| f(j)).flatten().or_else(|| f(i));
        let found =
            word(&|x| self.upper_lower(s, x)).or_else(|| word(&|x| self.upper_then_lower(s, x)));
        if let Some(e) = found {
            return match char_at(s, e) {
                Some('\'') => self.contraction(s, e + 1).unwrap_or(e),
                _ => e,
            };
        }
        if k & N != 0 {
            return self.run(s, i, 3, |k| k & N != 0);
        }
        let other = |k: u16| k & (S | L | N) == 0;
        let tail = |e: usize| {
            e + s[e..]
                .bytes()
                .take_while(|&b| b == b'\r' || b == b'\n' || b == b'/')
                .count()
        };
        if c == ' ' && char_at(s, j).is_some_and(|d| other(self.class(d))) {
            return tail(self.run(s, j, usize::MAX, other));
        }
        if other(k) {
            return tail(self.run(s, i, usize::MAX, other));
        }
        self.whitespace_end(s, i)
    }

    fn whitespace_end(&self, s: &str, i: usize) -> usize {
        self.tables.whitespace_end(s, i)
    }

    /// Emit pieces while `sink` returns `true`; `false` once it has returned `false`.
    pub(crate) fn run_while<'t>(
        &self,
        text: &'t str,
        sink: &mut dyn FnMut(&'t str) -> bool,
    ) -> bool {
        let mut i = 0;
        while i < text.len() {
            let e = self.next_end(text, i);
            if !sink(&text[i..e]) {
                return false;
            }
            i = e;
        }
        true
    }
}

impl PreTokenizer for FastSplit {
    fn split_while<'t>(
        &self,
        text: &'t str,
        sink: &mut dyn FnMut(&'t str) -> bool,
    ) -> Result<(), crate::VocabError> {
        self.run_while(text, sink);
        Ok(())
    }

    fn split_batched<'t>(
        &self,
        text: &'t str,
        sink: &mut dyn FnMut(&[&'t [u8]]) -> bool,
    ) -> Result<(), crate::VocabError> {
        crate::pretok::batch_tiling(text, |i| self.next_end(text, i), sink);
        Ok(())
    }
}

/// DeepSeek-V3's three split patterns. Their matches do not tile the text (a digit piece
/// matches nothing in the third), so they plug in as a [`super::split::Pattern`] that finds the
/// leftmost match from a position, under the general split behaviours.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeepSeekStep {
    /// `\p{N}{1,3}`
    Digits,
    /// `[\u4e00-\u9fa5\u3040-\u309f\u30a0-\u30ff]+`
    Kana,
    /// ASCII punctuation + ASCII letters, `[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+`,
    /// ` ?[\p{P}\p{S}]+[\r\n]*`, then the whitespace alternatives.
    Main,
}

impl DeepSeekStep {
    const DIGITS: &'static str = r"\p{N}{1,3}";
    const KANA: &'static str = "[\u{4e00}-\u{9fa5}\u{3040}-\u{309f}\u{30a0}-\u{30ff}]+";
    const MAIN: &'static str = concat!(
        r##"[!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+"##,
        "|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+| ?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+",
        r"|\s+(?!\S)|\s+"
    );

    /// The step whose pattern is exactly `pattern`.
    #[must_use]
    pub fn of(pattern: &str) -> Option<Self> {
        match pattern {
            Self::DIGITS => Some(DeepSeekStep::Digits),
            Self::KANA => Some(DeepSeekStep::Kana),
            Self::MAIN => Some(DeepSeekStep::Main),
            _ => None,
        }
    }

    /// The regex text of the step.
    #[must_use]
    pub fn pattern(self) -> &'static str {
        match self {
            DeepSeekStep::Digits => Self::DIGITS,
            DeepSeekStep::Kana => Self::KANA,
            DeepSeekStep::Main => Self::MAIN,
        }
    }
}

/// A hand-matched [`DeepSeekStep`] pattern.
pub struct FastPattern {
    tables: &'static Tables,
    step: DeepSeekStep,
}

fn is_kana(c: char) -> bool {
    matches!(c, '\u{4e00}'..='\u{9fa5}' | '\u{3040}'..='\u{309f}' | '\u{30a0}'..='\u{30ff}')
}

impl FastPattern {
    /// The matcher, or `None` if Oniguruma could not build the class tables.
    #[must_use]
    pub fn new(step: DeepSeekStep) -> Option<Self> {
        Some(Self {
            tables: tables()?,
            step,
        })
    }

    /// The leftmost match at or after `from`, as Oniguruma's search finds it.
    #[must_use]
    pub fn find_from(&self, s: &str, from: usize) -> Option<(usize, usize)> {
        s[from..]
            .char_indices()
            .find_map(|(off, c)| self.match_at(s, from + off, c).map(|e| (from + off, e)))
    }

    fn match_at(&self, s: &str, p: usize, c: char) -> Option<usize> {
        let t = self.tables;
        let k = t.class(c);
        let j = p + c.len_utf8();
        match self.step {
            DeepSeekStep::Digits => (k & N != 0).then(|| t.run(s, p, 3, |k| k & N != 0)),
            DeepSeekStep::Kana => is_kana(c).then(|| {
                p + s[p..]
                    .chars()
                    .take_while(|&d| is_kana(d))
                    .map(char::len_utf8)
                    .sum::<usize>()
            }),
            DeepSeekStep::Main => {
                let next = char_at(s, j);
                if c.is_ascii_punctuation() && next.is_some_and(|d| d.is_ascii_alphabetic()) {
                    let letters = s[j..].bytes().take_while(u8::is_ascii_alphabetic).count();
                    return Some(j + letters);
                }
                let word = |k: u16| k & (L | M) != 0;
                let prefix = c != '\r' && c != '\n' && k & (L | PUNCT | SYM) == 0;
                if prefix && next.is_some_and(|d| word(t.class(d))) {
                    return Some(t.word_run(s, j, L | M));
                }
                if word(k) {
                    return Some(t.word_run(s, p, L | M));
                }
                let ps = |k: u16| k & (PUNCT | SYM) != 0;
                let crlf = |e: usize| {
                    e + s[e..]
                        .bytes()
                        .take_while(|&b| b == b'\r' || b == b'\n')
                        .count()
                };
                if c == ' ' && next.is_some_and(|d| ps(t.class(d))) {
                    return Some(crlf(t.run(s, j, usize::MAX, ps)));
                }
                if ps(k) {
                    return Some(crlf(t.run(s, p, usize::MAX, ps)));
                }
                (k & S != 0).then(|| t.whitespace_end(s, p))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn pieces(p: &dyn PreTokenizer, text: &str) -> Vec<String> {
        let mut out = Vec::new();
        p.split(text, &mut |s| out.push(s.to_owned())).unwrap();
        out
    }

    fn onig_pieces(re: &Regex, text: &str) -> Vec<String> {
        re.find_iter(text)
            .map(|(s, e)| text[s..e].to_owned())
            .collect()
    }

    const FAMILIES: [Family; 4] = [Family::Llama3, Family::Qwen2, Family::Qwen35, Family::O200k];

    fn check(text: &str) {
        thread_local! {
            static SPLITTERS: Vec<(Family, FastSplit, Regex)> = FAMILIES
                .iter()
                .map(|&f| (f, FastSplit::new(f).unwrap(), Regex::new(f.pattern()).unwrap()))
                .collect();
        }
        SPLITTERS.with(|all| {
            for (f, fast, re) in all {
                assert_eq!(pieces(fast, text), onig_pieces(re, text), "{f:?} {text:?}");
            }
        });
    }

    #[test]
    fn handpicked() {
        for t in [
            "Hello world",
            "I'm 'S 'ſ 'LL 're 'x",
            "1234567 x12y",
            "a  b   \n\n c \r\n d  ",
            "  ",
            " \u{a0}x",
            "e\u{301}\u{301} \u{301}x",
            "!!! ?!\n\n",
            "x ...\r\n",
            "'",
            "\u{3000}\u{3000}中文",
            "नमस्ते",
            "a\n \n b",
            " 1",
            " !",
            "\t'd",
        ] {
            check(t);
        }
    }

    #[test]
    fn every_code_point_in_context() {
        // Sampled so the test stays fast in debug builds; the class table itself comes from
        // Oniguruma, the contexts check the alternatives' logic around each class.
        let mut text = String::new();
        for cp in (0..0x11_0000u32).step_by(331).chain(0..0x400) {
            let Some(c) = char::from_u32(cp) else {
                continue;
            };
            for ctx in [" ", "a", "1", "\n", "'", "!"] {
                text.clear();
                text.push_str(ctx);
                text.push(c);
                text.push(c);
                text.push_str(ctx);
                text.push(c);
                check(&text);
                check_deepseek(&text);
            }
        }
    }

    fn check_deepseek(text: &str) {
        thread_local! {
            static STEPS: Vec<(FastPattern, Regex)> =
                [DeepSeekStep::Digits, DeepSeekStep::Kana, DeepSeekStep::Main]
                    .iter()
                    .map(|&d| (FastPattern::new(d).unwrap(), Regex::new(d.pattern()).unwrap()))
                    .collect();
        }
        STEPS.with(|all| {
            for (fast, re) in all {
                let mut got = Vec::new();
                let mut from = 0;
                while let Some((s, e)) = fast.find_from(text, from) {
                    got.push((s, e));
                    from = e;
                }
                let want: Vec<(usize, usize)> = re.find_iter(text).collect();
                assert_eq!(got, want, "{:?} {text:?}", fast.step);
            }
        });
    }

    #[test]
    fn deepseek_patterns_are_the_files() {
        // The pattern texts as the DeepSeek-V3 tokenizer.json spells them (JSON-decoded).
        assert_eq!(
            DeepSeekStep::of("[\u{4e00}-\u{9fa5}\u{3040}-\u{309f}\u{30a0}-\u{30ff}]+"),
            Some(DeepSeekStep::Kana)
        );
        let main = "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+| ?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+";
        assert_eq!(DeepSeekStep::of(main), Some(DeepSeekStep::Main));
        for t in [
            "Hello, world! .NET 'quoted' 123 ¥100 ≥ 5 — ok\r\n",
            "中文かなカナ漢字",
            "a\u{301}\u{301}",
            " \u{301}b !?\n\n x",
        ] {
            check_deepseek(t);
        }
    }

    fn interesting() -> impl Strategy<Value = char> {
        prop_oneof![
            proptest::sample::select(vec![
                ' ', ' ', '\n', '\r', '\t', '\u{a0}', '\u{3000}', '\u{2028}', '\'', 's', 'S',
                '\u{17f}', 'l', 'L', 'r', 'e', 'v', 'm', 'd', 't', 'a', 'Z', '1', '9', '\u{663}',
                '\u{2460}', '\u{301}', '\u{93f}', '\u{e31}', '中', 'ß', '!', '.', '/', '😀',
                '\u{200d}', '\u{fe0f}', '\u{b}', '\u{85}', '\u{1680}', 'A', 'Q', '\u{1c5}',
                '\u{2b0}', 'ǅ', 'Σ', 'σ', '/', '\u{5d0}', '$', '¥', '≥', '—', '中', 'か', 'カ',
                '\u{4e00}', '\u{9fa5}', '\u{9fa6}', '\u{30ff}', '\u{3000}', '\u{e000}', '\u{378}',
                '\u{1}', '_', '(', '"',
            ]),
            any::<char>(),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        #[test]
        fn matches_oniguruma(chars in prop::collection::vec(interesting(), 0..30)) {
            let text: String = chars.into_iter().collect();
            check(&text);
            check_deepseek(&text);
        }
    }
}
