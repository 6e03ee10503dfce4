//! Merge lists looked up by the bytes of the merged token, and the tokens that encode to
//! themselves.
//!
//! # Design notes
//! A merge `(l, r)` of a `tokenizer.json` list always makes the token whose bytes are `l`'s
//! followed by `r`'s (the loader checks it). So a pair of adjacent parts `piece[a..b]`,
//! `piece[b..c]` merges iff `piece[a..c]` is a token `m` and `(m, b - a)` is one of `m`'s listed
//! splits: the left part's bytes, and so both parts, follow from the split point. That turns the
//! pair check of the merge engines into the lookup rank vocabularies make (`piece[a..c]` in the
//! vocabulary, behind its Bloom filter and hot table, most misses never touching the big table)
//! plus, for the few candidates that are tokens, one read of `m`'s splits — instead of a probe of
//! a hash map of all pairs (MiBs, a cache miss for every candidate). Exact for any merge list:
//! every listed pair is one split of its merged token, with its own merge index.
//!
//! Storage: per token id one `[u32; 2]`: `[index, left length]` when one listed pair makes the
//! token (most tokens of most lists), `[NONE, 0]` when none does (bytes, added words), or
//! `[MULTI, start]` when several do (converted tiktoken vocabularies list every split of a token
//! into two tokens), the splits then in `more[start..]` as `[left length, index]` ended by a
//! zero length.
//!
//! Whole pieces: a merge-list model without `ignore_merges` must merge even a piece that is
//! itself a token, and the merges may end elsewhere. [`self_encoding`] runs the merge engine once
//! per token when the list is loaded and keeps a bit per token that comes out as itself: a piece
//! equal to such a token takes the whole-piece lookup of rank vocabularies (the answer is the
//! engine's own answer for exactly these bytes), the others still merge. The run is most of a
//! first load of such a file (about 0.1 s for Qwen 3's 151k tokens); the `tokenizer.json` table
//! cache stores the bits, so later loads skip it.

use super::{BpeModel, Rank, NONE};

/// Marks a token made by several listed pairs.
const MULTI: u32 = NONE - 1;

/// The listed splits of every merged token (see the design notes).
#[derive(Debug, Clone, Default)]
pub(crate) struct MergeSplits {
    one: Vec<[u32; 2]>,
    more: Vec<[u32; 2]>,
}

/// Largest merge index the table can hold.
pub(crate) const MAX_INDEX: u32 = MULTI - 1;

impl MergeSplits {
    /// From `(merged id, left length, merge index)` per listed pair, for ids below `n_ids`.
    /// Indices are at most [`MAX_INDEX`], lengths non-zero (the caller checks both).
    pub(crate) fn new(n_ids: usize, entries: &[(Rank, u32, u32)]) -> Self {
        // Two passes, no sort: count the pairs of each token, then place them.
        let mut count = vec![0u32; n_ids];
        for &(m, _, _) in entries {
            count[m as usize] += 1;
        }
        let mut one = vec![[NONE, 0]; n_ids];
        let mut more_len = 0;
        for (slot, &c) in one.iter_mut().zip(&count) {
            if c > 1 {
                *slot = [MULTI, more_len];
                more_len += c + 1;
            }
        }
        let mut more = vec![[0, 0]; more_len as usize];
        for &(m, len, index) in entries {
            let slot = &mut one[m as usize];
            if slot[0] == MULTI {
                // Fill from the end of the token's run; the run's last entry stays [0, 0].
                let c = &mut count[m as usize];
                *c -= 1;
                more[(slot[1] + *c) as usize] = [len, index];
            } else {
                *slot = [index, len];
            }
        }
        Self { one, more }
    }

    /// The merge index of the pair that makes token `m` from its first `left` bytes and the
    /// rest, if that pair is listed.
    #[inline(always)]
    pub(crate) fn index(&self, m: Rank, left: u32) -> Option<u32> {
        let [a, b] = *self.one.get(m as usize)?;
        if a < MULTI {
            return (b == left).then_some(a);
        }
        if a == NONE {
            return None;
        }
        self.more[b as usize..]
            .iter()
            .take_while(|x| x[0] != 0)
            .find(|x| x[0] == left)
            .map(|x| x[1])
    }
}

/// One bit per token id (`bits[id / 8] >> (id % 8) & 1`): set for the tokens of `model` whose
/// bytes, merged from single bytes, come out as that token alone (see the design notes).
pub(super) fn self_encoding(model: &BpeModel) -> Vec<u8> {
    let n = model.n_ids();
    let mut bits = vec![0u8; n.div_ceil(8)];
    for id in 0..n as Rank {
        let Some(t) = model.token_bytes(id) else {
            continue;
        };
        // A byte without a single-byte token is dropped before merging, so a token holding one
        // is never the whole answer for its bytes.
        let whole = t.iter().all(|&b| model.byte_ids[usize::from(b)] != NONE)
            && model.merge_parts_of(t, |_| {}) == 1;
        if whole {
            bits[id as usize / 8] |= 1 << (id % 8);
        }
    }
    bits
}
