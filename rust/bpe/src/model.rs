//! Byte-level BPE merge model, shared by `.tiktoken` rank files and `tokenizer.json` merge lists.
//!
//! # Design notes
//! Both vocabulary formats reduce to one rule: starting from single bytes, repeatedly merge the
//! adjacent pair of parts with the lowest *merge priority*, the leftmost one on ties, until no
//! adjacent pair can merge. They differ only in what the priority of a pair is:
//! - tiktoken: the rank of the concatenated token (`from_ranks`); every way of splitting a token
//!   into two tokens is a mergeable pair;
//! - Hugging Face: the index of the pair in the `merges` list (`from_merges`); pairs not listed
//!   never merge, even when their concatenation is in the vocabulary.
//!
//! Both are stored as one map `(left id, right id) -> (priority, merged id)`, so one merge engine
//! serves both. The reference engine below is the textbook heap algorithm, O(n log n) for a piece
//! of n bytes.

use rustc_hash::FxHashMap;

use crate::VocabError;

/// Token id.
pub type Rank = u32;

/// A byte-level BPE vocabulary with its merge rules.
#[derive(Debug, Clone)]
pub struct BpeModel {
    /// id -> bytes; `None` for ids absent from the vocabulary.
    tokens: Vec<Option<Box<[u8]>>>,
    bytes_to_id: FxHashMap<Box<[u8]>, Rank>,
    byte_ids: [Rank; 256],
    pairs: FxHashMap<(Rank, Rank), (u32, Rank)>,
    /// A piece that is itself a token encodes to that token without merging. Always true for
    /// tiktoken; `ignore_merges` in a `tokenizer.json` (Llama-3 sets it).
    whole_piece_lookup: bool,
}

impl BpeModel {
    /// tiktoken semantics: `tokens[rank]` are the bytes of the token with that rank (= id).
    ///
    /// # Errors
    /// A duplicate token, or a byte with no single-byte token.
    pub fn from_ranks(tokens: Vec<Vec<u8>>) -> Result<Self, VocabError> {
        let entries = tokens
            .into_iter()
            .enumerate()
            .map(|(i, t)| (t, i as Rank))
            .collect::<Vec<_>>();
        let mut model = Self::from_vocab(entries)?;
        model.whole_piece_lookup = true;
        let mut pairs = FxHashMap::default();
        for (id, bytes) in model.tokens.iter().enumerate() {
            let Some(bytes) = bytes else { continue };
            for k in 1..bytes.len() {
                if let (Some(&l), Some(&r)) = (
                    model.bytes_to_id.get(&bytes[..k]),
                    model.bytes_to_id.get(&bytes[k..]),
                ) {
                    pairs.insert((l, r), (id as u32, id as Rank));
                }
            }
        }
        model.pairs = pairs;
        Ok(model)
    }

    /// Hugging Face semantics: a vocabulary (bytes, id) and an ordered merge list of
    /// (left bytes, right bytes); a pair's priority is its index in `merges`. With
    /// `ignore_merges`, a piece that is itself in the vocabulary maps straight to its id.
    ///
    /// # Errors
    /// A duplicate token, a byte with no single-byte token, or a merge whose parts or result are
    /// not in the vocabulary.
    pub fn from_merges(
        vocab: Vec<(Vec<u8>, Rank)>,
        merges: Vec<(Vec<u8>, Vec<u8>)>,
        ignore_merges: bool,
    ) -> Result<Self, VocabError> {
        let mut model = Self::from_vocab(vocab)?;
        model.whole_piece_lookup = ignore_merges;
        let mut pairs = FxHashMap::default();
        for (index, (left, right)) in merges.into_iter().enumerate() {
            let lookup = |b: &[u8]| model.bytes_to_id.get(b).copied();
            let missing = |what: &str, b: &[u8]| VocabError::BadMerge {
                index,
                message: format!(
                    "{what} {:?} is not in the vocabulary",
                    String::from_utf8_lossy(b)
                ),
            };
            let l = lookup(&left).ok_or_else(|| missing("left part", &left))?;
            let r = lookup(&right).ok_or_else(|| missing("right part", &right))?;
            let mut joined = left;
            joined.extend_from_slice(&right);
            let m = lookup(&joined).ok_or_else(|| missing("merged token", &joined))?;
            // The first occurrence of a pair wins, as in `tokenizers`.
            pairs.entry((l, r)).or_insert((index as u32, m));
        }
        model.pairs = pairs;
        Ok(model)
    }

    fn from_vocab(entries: Vec<(Vec<u8>, Rank)>) -> Result<Self, VocabError> {
        let max_id = entries.iter().map(|(_, id)| *id).max().unwrap_or(0) as usize;
        let mut tokens: Vec<Option<Box<[u8]>>> = vec![None; max_id + 1];
        let mut bytes_to_id = FxHashMap::default();
        for (bytes, id) in entries {
            let bytes: Box<[u8]> = bytes.into_boxed_slice();
            if bytes_to_id.insert(bytes.clone(), id).is_some() {
                return Err(VocabError::InvalidVocab(format!(
                    "token {:?} appears twice",
                    String::from_utf8_lossy(&bytes)
                )));
            }
            if tokens[id as usize].is_some() {
                return Err(VocabError::InvalidVocab(format!("id {id} appears twice")));
            }
            tokens[id as usize] = Some(bytes);
        }
        let mut byte_ids = [0; 256];
        for (b, slot) in byte_ids.iter_mut().enumerate() {
            *slot = *bytes_to_id.get(&[b as u8][..]).ok_or_else(|| {
                VocabError::InvalidVocab(format!("no single-byte token for byte 0x{b:02x}"))
            })?;
        }
        Ok(Self {
            tokens,
            bytes_to_id,
            byte_ids,
            pairs: FxHashMap::default(),
            whole_piece_lookup: false,
        })
    }

    /// Number of id slots (one past the largest id).
    #[must_use]
    pub fn n_ids(&self) -> usize {
        self.tokens.len()
    }

    /// The bytes of token `id`, or `None` if the id is not in the vocabulary.
    #[must_use]
    pub fn token_bytes(&self, id: Rank) -> Option<&[u8]> {
        self.tokens.get(id as usize).and_then(|t| t.as_deref())
    }

    /// The id of the token with exactly these bytes.
    #[must_use]
    pub fn token_id(&self, bytes: &[u8]) -> Option<Rank> {
        self.bytes_to_id.get(bytes).copied()
    }

    /// The merge priority and result of an adjacent pair, if it merges.
    #[must_use]
    pub fn merge(&self, left: Rank, right: Rank) -> Option<(u32, Rank)> {
        self.pairs.get(&(left, right)).copied()
    }

    /// Encode one pre-tokenized piece, appending its token ids to `out`.
    pub fn encode_piece(&self, piece: &[u8], out: &mut Vec<Rank>) {
        if self.whole_piece_lookup {
            if let Some(&id) = self.bytes_to_id.get(piece) {
                out.push(id);
                return;
            }
        }
        reference_merge(self, piece, out);
    }

    /// Number of tokens in one pre-tokenized piece.
    #[must_use]
    pub fn count_piece(&self, piece: &[u8]) -> usize {
        if self.whole_piece_lookup && self.bytes_to_id.contains_key(piece) {
            return 1;
        }
        let mut out = Vec::new();
        reference_merge(self, piece, &mut out);
        out.len()
    }
}

/// The textbook algorithm: a heap of candidate merges over a doubly linked list of parts.
fn reference_merge(model: &BpeModel, piece: &[u8], out: &mut Vec<Rank>) {
    use std::cmp::Reverse;
    use std::collections::BinaryHeap;

    let n = piece.len();
    let mut ids: Vec<Rank> = piece.iter().map(|&b| model.byte_ids[b as usize]).collect();
    let mut prev: Vec<usize> = (0..n).map(|i| i.wrapping_sub(1)).collect();
    let mut next: Vec<usize> = (1..=n).collect();
    let mut alive = vec![true; n];
    let mut heap = BinaryHeap::new();
    for i in 0..n.saturating_sub(1) {
        if let Some((p, m)) = model.merge(ids[i], ids[i + 1]) {
            heap.push(Reverse((p, i, ids[i], ids[i + 1], m)));
        }
    }
    while let Some(Reverse((_, i, l, r, m))) = heap.pop() {
        let j = next[i];
        // Stale entry: one side changed since it was pushed.
        if !alive[i] || j >= n || ids[i] != l || ids[j] != r {
            continue;
        }
        ids[i] = m;
        alive[j] = false;
        next[i] = next[j];
        if next[i] < n {
            prev[next[i]] = i;
        }
        if prev[i] < n {
            let h = prev[i];
            if let Some((p, mm)) = model.merge(ids[h], ids[i]) {
                heap.push(Reverse((p, h, ids[h], ids[i], mm)));
            }
        }
        if next[i] < n {
            let k = next[i];
            if let Some((p, mm)) = model.merge(ids[i], ids[k]) {
                heap.push(Reverse((p, i, ids[i], ids[k], mm)));
            }
        }
    }
    let mut i = 0;
    while i < n {
        out.push(ids[i]);
        i = next[i];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn byte_vocab() -> Vec<Vec<u8>> {
        (0..=255u8).map(|b| vec![b]).collect()
    }

    #[test]
    fn ranks_merge_lowest_rank_first() {
        let mut toks = byte_vocab();
        toks.push(b"ab".to_vec()); // 256
        toks.push(b"bc".to_vec()); // 257
        toks.push(b"abc".to_vec()); // 258
        let m = BpeModel::from_ranks(toks).unwrap();
        let mut out = Vec::new();
        m.encode_piece(b"abcx", &mut out);
        // "ab" (256) beats "bc" (257); then "ab"+"c" = "abc" (258).
        assert_eq!(out, vec![258, u32::from(b'x')]);
        assert_eq!(m.count_piece(b"abcx"), 2);
    }

    #[test]
    fn merges_ignore_unlisted_pairs() {
        let mut vocab: Vec<(Vec<u8>, Rank)> = byte_vocab()
            .into_iter()
            .enumerate()
            .map(|(i, t)| (t, i as Rank))
            .collect();
        vocab.push((b"ab".to_vec(), 256));
        vocab.push((b"abc".to_vec(), 257));
        vocab.push((b"bc".to_vec(), 258));
        // Only "b"+"c" is a merge; "ab" is in the vocab but never formed.
        let m = BpeModel::from_merges(vocab, vec![(b"b".to_vec(), b"c".to_vec())], false).unwrap();
        let mut out = Vec::new();
        m.encode_piece(b"abc", &mut out);
        assert_eq!(out, vec![u32::from(b'a'), 258]);
    }

    #[test]
    fn missing_byte_is_an_error() {
        let toks: Vec<Vec<u8>> = (0..=254u8).map(|b| vec![b]).collect();
        assert!(matches!(
            BpeModel::from_ranks(toks),
            Err(VocabError::InvalidVocab(_))
        ));
    }
}
