//! `encode_with_unstable`: the tokens of a text that more text cannot change, and every token
//! sequence the rest could become once more text is appended (tiktoken's `encode_with_unstable`,
//! same results as sets).
//!
//! # Design notes
//! BPE never merges across a pre-tokenizer split, so only the last piece of the text is unstable,
//! with two exceptions the split patterns allow, both handled as tiktoken 0.14 does:
//! - whitespace splits move when text is appended (`\s*[\r\n]+`, `\s+(?!\S)`): when the last
//!   piece starts with a token made only of spaces, tabs and newlines, the run of such tokens
//!   before it is unstable too;
//! - appending text can create a split inside whitespace (`"\n\n" + "0"` splits as
//!   `"\n" "\n" "0"`), so when the unstable bytes end in a whitespace character, the merge of
//!   the bytes before it followed by the merge of that character is a completion.
//!
//! The completions are then found by brute force over the vocabulary sorted by bytes: every
//! token that starts with the unstable bytes, and, for every split of the unstable bytes into a
//! prefix and a non-empty suffix, every token `t` that starts with the suffix: `prefix + t` is
//! encoded (with the split pattern when it is UTF-8, else by merging its bytes alone) and cut
//! after the first tokens that cover the unstable bytes. The cost is that of tiktoken's: one
//! short encode per (split point, matching token), so a suffix such as `" "` visits every token
//! that starts with a space. The completions are collected in one buffer and sorted and
//! deduplicated once, rather than kept in a set of vectors; the vocabulary is sorted once per
//! encoding, on first use.
//!
//! Only byte-level BPE encodings without a normalizer have these semantics (the split pattern is
//! what makes the tail unstable); other encodings get [`VocabError::InvalidArgument`].

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, Ordering};

use super::{Encoding, Model, NEVER};
use crate::model::{BpeModel, Rank};
use crate::{SpecialPolicy, VocabError};

impl Encoding {
    /// The stable tokens of `text` and the completions of its unstable tail (sorted), under a
    /// special-token policy. Decoding the stable tokens gives a prefix of `text`; decoding the
    /// stable tokens followed by any completion gives bytes that start with `text`.
    ///
    /// # Errors
    /// A disallowed special token in the text, a pattern failure, or an encoding that is not
    /// byte-level BPE without a normalizer.
    pub fn encode_with_unstable(
        &self,
        text: &str,
        policy: &SpecialPolicy,
    ) -> Result<(Vec<Rank>, Vec<Vec<Rank>>), VocabError> {
        self.encode_with_unstable_interruptible(text, policy, &NEVER)
    }

    /// [`encode_with_unstable`](Self::encode_with_unstable), stopped early once `stop` is set
    /// (checked at each split point of the unstable bytes).
    ///
    /// # Errors
    /// As [`encode_with_unstable`](Self::encode_with_unstable), or [`VocabError::Interrupted`].
    pub fn encode_with_unstable_interruptible(
        &self,
        text: &str,
        policy: &SpecialPolicy,
        stop: &AtomicBool,
    ) -> Result<(Vec<Rank>, Vec<Vec<Rank>>), VocabError> {
        let model = match (&self.model, &self.normalizer) {
            (Model::Bpe(m), None) => m,
            _ => {
                return Err(VocabError::InvalidArgument(format!(
                    "encode_with_unstable needs a byte-level BPE encoding without a normalizer; \
                     {:?} is not one",
                    self.name
                )))
            }
        };
        let mut tokens = self.encode_interruptible(text, policy, stop)?;
        let tail = self.last_piece_len(text, policy, model)?;
        if tail == 0 {
            return Ok((tokens, Vec::new()));
        }
        let tail = self.widen_over_whitespace(&tokens, tail);
        let cut = tokens.len() - tail;
        let mut unstable = Vec::new();
        for &id in &tokens[cut..] {
            unstable.extend_from_slice(self.regular_bytes(id).unwrap_or_default());
        }
        tokens.truncate(cut);
        if unstable.is_empty() {
            return Ok((tokens, Vec::new()));
        }
        // Completions are gathered in one buffer (a span per completion) and sorted and
        // deduplicated at the end: a tail such as " " has a completion per token that starts
        // with a space (over 100k), so a set of vectors would cost an allocation and a hash each.
        let mut all = Completions::default();
        let sorted = self.sorted_regular_ids();
        for &id in self.starting_with(sorted, &unstable) {
            all.push(&[id]);
        }
        let mut joined = Vec::new();
        for i in 1..unstable.len() {
            if stop.load(Ordering::Relaxed) {
                return Err(VocabError::Interrupted);
            }
            let (prefix, suffix) = unstable.split_at(i);
            for &id in self.starting_with(sorted, suffix) {
                joined.clear();
                joined.extend_from_slice(prefix);
                joined.extend_from_slice(self.regular_bytes(id).unwrap_or_default());
                let encoded = match std::str::from_utf8(&joined) {
                    Ok(s) => self.encode_ordinary_interruptible(s, stop)?,
                    Err(_) => merged(model, &joined),
                };
                let mut covered = 0;
                let mut take = 0;
                for &t in &encoded {
                    take += 1;
                    covered += self.token_bytes(t).map_or(0, <[u8]>::len);
                    if covered >= unstable.len() {
                        break;
                    }
                }
                all.push(&encoded[..take]);
            }
        }
        if unstable.len() > 1 {
            if let Some(size) = trailing_whitespace_char(&unstable) {
                let at = unstable.len() - size;
                if at > 0 {
                    let mut seq = merged(model, &unstable[..at]);
                    seq.extend(merged(model, &unstable[at..]));
                    all.push(&seq);
                }
            }
        }
        Ok((tokens, all.sorted_unique()))
    }

    /// How many tokens the last piece of the pre-tokenizer produced; 0 when the text is empty
    /// or ends with an allowed special token.
    fn last_piece_len(
        &self,
        text: &str,
        policy: &SpecialPolicy,
        model: &BpeModel,
    ) -> Result<usize, VocabError> {
        let last_segment: Cell<Option<&str>> = Cell::new(None);
        self.walk(
            text,
            policy,
            |seg| {
                last_segment.set(Some(seg));
                true
            },
            |_| {
                last_segment.set(None);
                true
            },
        )?;
        let Some(seg) = last_segment.get() else {
            return Ok(0);
        };
        let mut last: Vec<u8> = Vec::new();
        let at_start = seg.as_ptr() == text.as_ptr();
        self.for_each_batch(seg, at_start, &NEVER, &mut |pieces| {
            if let Some(p) = pieces.last() {
                last.clear();
                last.extend_from_slice(p);
            }
            true
        })?;
        let mut ids = Vec::new();
        model.encode_piece(&last, &mut ids);
        Ok(ids.len())
    }

    /// Widen the unstable tail (the last `tail` tokens) over the whitespace tokens before it,
    /// when the tail starts with one.
    fn widen_over_whitespace(&self, tokens: &[Rank], mut tail: usize) -> usize {
        let blank = |id: Rank| {
            self.regular_bytes(id)
                .is_some_and(|b| b.iter().all(|c| matches!(c, b' ' | b'\n' | b'\t')))
        };
        if blank(tokens[tokens.len() - tail]) {
            while tail < tokens.len() && blank(tokens[tokens.len() - tail - 1]) {
                tail += 1;
            }
        }
        tail
    }

    /// The bytes of a regular (non-special) token.
    fn regular_bytes(&self, id: Rank) -> Option<&[u8]> {
        if self.special_by_id.contains_key(&id) {
            return None;
        }
        self.model.token_bytes(id)
    }

    /// The regular token ids sorted by their bytes (built on first use).
    fn sorted_regular_ids(&self) -> &[Rank] {
        self.sorted_ids.get_or_init(|| {
            let n = u32::try_from(self.model.n_ids()).unwrap_or(u32::MAX);
            let mut ids: Vec<Rank> = (0..n)
                .filter(|&id| self.regular_bytes(id).is_some())
                .collect();
            ids.sort_unstable_by(|&a, &b| self.regular_bytes(a).cmp(&self.regular_bytes(b)));
            ids
        })
    }

    /// The ids in `sorted` whose bytes start with `prefix` (a contiguous run).
    fn starting_with<'s>(&self, sorted: &'s [Rank], prefix: &[u8]) -> &'s [Rank] {
        let bytes = |id: Rank| self.regular_bytes(id).unwrap_or_default();
        let from = sorted.partition_point(|&id| bytes(id) < prefix);
        let len = sorted[from..]
            .iter()
            .take_while(|&&id| bytes(id).starts_with(prefix))
            .count();
        &sorted[from..from + len]
    }
}

/// Token sequences in one buffer, each a span of it.
#[derive(Default)]
struct Completions {
    ids: Vec<Rank>,
    spans: Vec<(u32, u32)>,
}

impl Completions {
    fn push(&mut self, seq: &[Rank]) {
        let start = self.ids.len() as u32;
        self.ids.extend_from_slice(seq);
        self.spans.push((start, seq.len() as u32));
    }

    /// The distinct sequences, in ascending order.
    fn sorted_unique(mut self) -> Vec<Vec<Rank>> {
        let ids = &self.ids;
        let get = |&(at, len): &(u32, u32)| &ids[at as usize..(at + len) as usize];
        // The first ids decide almost every comparison (and all of them for single tokens).
        let first = |s: &(u32, u32)| get(s).first().copied();
        self.spans
            .sort_unstable_by(|a, b| first(a).cmp(&first(b)).then_with(|| get(a).cmp(get(b))));
        self.spans.dedup_by(|a, b| get(a) == get(b));
        self.spans.iter().map(|s| get(s).to_vec()).collect()
    }
}

/// `bytes` merged from single bytes, without the split pattern or the whole-piece lookup.
fn merged(model: &BpeModel, bytes: &[u8]) -> Vec<Rank> {
    let mut out = Vec::new();
    model.merge_piece(bytes, &mut out);
    out
}

/// The length of the last character of `bytes` when it is a complete UTF-8 character that is
/// whitespace (Unicode `White_Space`); `None` otherwise (also for a truncated or invalid tail).
fn trailing_whitespace_char(bytes: &[u8]) -> Option<usize> {
    let floor = bytes.len().saturating_sub(4);
    let mut start = bytes.len().checked_sub(1)?;
    while start > floor && (0x80..0xC0).contains(&bytes[start]) {
        start -= 1;
    }
    let last = std::str::from_utf8(&bytes[start..]).ok()?;
    let mut chars = last.chars();
    let c = chars.next()?;
    (chars.next().is_none() && c.is_whitespace()).then_some(last.len())
}

#[cfg(test)]
mod tests {
    use super::trailing_whitespace_char;

    #[test]
    fn trailing_whitespace_is_one_complete_character() {
        assert_eq!(trailing_whitespace_char(b"ab "), Some(1));
        assert_eq!(trailing_whitespace_char(b"a\n"), Some(1));
        assert_eq!(trailing_whitespace_char("a\u{3000}".as_bytes()), Some(3));
        assert_eq!(
            trailing_whitespace_char("a\u{3000}".as_bytes()[..3].as_ref()),
            None
        );
        assert_eq!(trailing_whitespace_char(b"ab"), None);
        assert_eq!(trailing_whitespace_char(b"a\x80"), None);
        assert_eq!(trailing_whitespace_char(b""), None);
    }
}
