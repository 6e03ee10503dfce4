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
//! Merge order by merged id: in most lists (trained BPE, and tiktoken vocabularies converted to
//! merge lists) the merge index grows with the merged token's id — all merges that make one
//! token come before all merges that make a token with a larger id. [`ordered_aux`] checks this
//! when the list is loaded; then the stack engine may order candidate pairs by merged id, as it
//! does for rank vocabularies, and needs no merge index except when several listed splits of one
//! token compete (then it redoes the piece by merge index). What it still needs — is this split
//! of the token listed? — is a 16-bit word kept in the token's vocabulary slot (read with the
//! same cache line as its id; layout in [`ordered_aux`]), so a merge step costs the lookups
//! a rank vocabulary makes and no read of the split table.
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

/// `aux` words: no listed split.
const AUX_NONE: u16 = 0;
/// `aux` word tags (top two bits): one listed split, its left length in the low 14 bits.
const AUX_ONE: u16 = 2;
/// Several listed splits of a token of at most 15 bytes: bit `k - 1` set for left length `k`.
const AUX_MASK: u16 = 1;
/// Anything else: ask [`MergeSplits::index`].
const AUX_TABLE: u16 = 3;

/// Whether the split of token `m` with `aux` word `aux` after `left` bytes is a listed merge
/// (`splits` answers the words that defer to it); and whether `m` has several listed splits.
#[inline(always)]
pub(crate) fn listed(splits: &MergeSplits, m: Rank, aux: u16, left: usize) -> (bool, bool) {
    match aux >> 14 {
        AUX_ONE => (usize::from(aux & 0x3FFF) == left, false),
        AUX_MASK => ((1..=14).contains(&left) && aux >> (left - 1) & 1 != 0, true),
        AUX_TABLE => (splits.index(m, left as u32).is_some(), true),
        _ => (false, false),
    }
}

/// The `aux` word of every token id if the list's merge order follows merged ids (see the
/// design notes), else `None`. `entries`: `(merged id, left length, merge index)` per listed
/// pair; `token_len`: a token's length in bytes.
pub(crate) fn ordered_aux(
    n_ids: usize,
    entries: &[(Rank, u32, u32)],
    token_len: impl Fn(Rank) -> usize,
) -> Option<Vec<u16>> {
    let mut lo = vec![u32::MAX; n_ids];
    let mut hi = vec![0u32; n_ids];
    let mut count = vec![0u32; n_ids];
    let mut mask = vec![0u16; n_ids];
    let mut one = vec![0u32; n_ids];
    for &(m, len, index) in entries {
        let m = m as usize;
        lo[m] = lo[m].min(index);
        hi[m] = hi[m].max(index);
        count[m] += 1;
        one[m] = len;
        if (1..=14).contains(&len) {
            mask[m] |= 1 << (len - 1);
        }
    }
    let mut last: Option<u32> = None;
    for m in 0..n_ids {
        if count[m] > 0 {
            if last.is_some_and(|h| lo[m] <= h) {
                return None;
            }
            last = Some(hi[m]);
        }
    }
    Some(
        (0..n_ids)
            .map(|m| match count[m] {
                0 => AUX_NONE,
                1 if (1..=0x3FFF).contains(&one[m]) => AUX_ONE << 14 | one[m] as u16,
                c if c > 1 && token_len(m as Rank) <= 15 => AUX_MASK << 14 | mask[m],
                _ => AUX_TABLE << 14,
            })
            .collect(),
    )
}
