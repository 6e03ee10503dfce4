//! The stack-array merge engine for pieces of at most `SMALL` bytes.

use super::argmin::argmin;
use super::{BpeModel, Rank, NONE, SMALL};

impl BpeModel {
    /// The stack-array engine for pieces of at most `SMALL` bytes; returns the token count.
    /// Sized to the piece (16, 32 or 64 parts), so short pieces initialise little stack.
    #[inline]
    pub(super) fn merge_small(&self, piece: &[u8], mut emit: impl FnMut(Rank)) -> usize {
        if self.rank_order {
            if let Some(n) = self.merge_sized(piece, true, &mut emit) {
                return n;
            }
        }
        self.merge_sized(piece, false, &mut emit).unwrap_or(0)
    }

    /// [`merge_stack`](Self::merge_stack) with arrays sized to the piece.
    #[inline(always)]
    fn merge_sized(
        &self,
        piece: &[u8],
        ordered: bool,
        emit: &mut impl FnMut(Rank),
    ) -> Option<usize> {
        match piece.len() {
            0..=16 => self.merge_stack::<16>(piece, ordered, emit),
            17..=32 => self.merge_stack::<32>(piece, ordered, emit),
            _ => self.merge_stack::<SMALL>(piece, ordered, emit),
        }
    }

    /// [`merge_small`](Self::merge_small) with arrays of `N >= piece.len()` entries.
    ///
    /// A part is named by the position of its first byte, and parts are linked (`next`,
    /// `prev`), so a merge is O(1) pointer updates instead of shifting arrays. `prio[k]` is the
    /// priority of the pair (part `k`, the part after it), `NONE` when there is none or `k` is
    /// no longer a part start. Each step scans `prio` for the leftmost minimum (positions keep
    /// text order, so leftmost-on-ties is the first minimum), merges and re-prices the two
    /// pairs next to the merged part.
    ///
    /// `ordered` (merge lists with `rank_order` only): priorities are merged ids, as for rank
    /// vocabularies, with each candidate checked against its token's listed splits; `None` (and
    /// nothing emitted) when the lowest one belongs to a token with several listed splits and
    /// another candidate makes the same token, which only merge indices order. Otherwise
    /// `Some(token count)`.
    #[inline]
    fn merge_stack<const N: usize>(
        &self,
        piece: &[u8],
        ordered: bool,
        emit: &mut impl FnMut(Rank),
    ) -> Option<usize> {
        let n = piece.len();
        debug_assert!(n <= N && N <= SMALL);
        let mut ids = [0 as Rank; N];
        let mut prio = [NONE; N];
        // Merged ids for merge lists; for rank vocabularies the merged id is the priority.
        let mut merged = [0 as Rank; N];
        let mut next = [0u8; N];
        let mut prev = [0u8; N];
        for (k, &b) in piece.iter().enumerate() {
            ids[k] = self.byte_ids[usize::from(b)];
            next[k] = (k + 1) as u8;
            prev[k] = k.wrapping_sub(1) as u8;
        }
        if self.byte_pairs.is_empty() {
            for k in 0..n - 1 {
                if let Some((p, id)) = self.pair(piece, k, k + 1, k + 2) {
                    prio[k] = p;
                    merged[k] = id;
                }
            }
        } else {
            for (k, w) in piece.windows(2).enumerate() {
                let key = usize::from(w[0]) << 8 | usize::from(w[1]);
                if ordered {
                    // A two-byte token has one split: never several competing.
                    prio[k] = self.byte_pair_ids[key];
                } else {
                    prio[k] = self.byte_pairs[key];
                    if !self.by_rank {
                        merged[k] = self.byte_pair_ids[key];
                    }
                }
            }
        }
        // `ordered`: bit k set when part k's pair makes a token with several listed splits.
        let mut several = 0u64;
        let mut m = n;
        loop {
            // Entries past the last pair are NONE, so the whole array can be scanned.
            let (best, at) = argmin(&prio);
            if best == NONE {
                break;
            }
            if several >> at & 1 != 0 && prio.iter().filter(|&&p| p == best).count() > 1 {
                return None;
            }
            // Part `at` absorbs part `r`; `after` is the part that followed `r` (or n).
            let r = usize::from(next[at]);
            let after = usize::from(next[r]);
            prio[r] = NONE;
            next[at] = after as u8;
            if after < n {
                prev[after] = at as u8;
            }
            m -= 1;
            let right = (after < n).then(|| (at, usize::from(next[after])));
            let left = (at > 0).then(|| (usize::from(prev[at]), after));
            // The two lookups of the joined bytes are independent: overlap their memory reads.
            let (sr, sl) = self.vocab.slots2(
                right.map(|(a, c)| &piece[a..c]),
                left.map(|(a, c)| &piece[a..c]),
            );
            let (pr, pl) = (sr.id, sl.id);
            if ordered {
                ids[at] = best;
                several &= !(1 << r);
                let (p, s) = self.ordered_prio(sr.id, sr.aux, after - at);
                prio[at] = p;
                several = several & !(1 << at) | u64::from(s) << at;
                if let Some((l, _)) = left {
                    let (p, s) = self.ordered_prio(sl.id, sl.aux, at - l);
                    prio[l] = p;
                    several = several & !(1 << l) | u64::from(s) << l;
                }
            } else if self.by_rank {
                ids[at] = best;
                prio[at] = pr;
                if let Some((l, _)) = left {
                    prio[l] = pl;
                }
            } else {
                // Merge lists: a joined token merges if its split here is a listed pair.
                ids[at] = merged[at];
                prio[at] = self.split_index(pr, after - at).unwrap_or(NONE);
                merged[at] = pr;
                if let Some((l, _)) = left {
                    prio[l] = self.split_index(pl, at - l).unwrap_or(NONE);
                    merged[l] = pl;
                }
            }
        }
        let mut k = 0;
        while k < n {
            emit(ids[k]);
            k = usize::from(next[k]);
        }
        Some(m)
    }

    /// `ordered` priority of a candidate pair whose joined bytes are token `id` (`NONE`: not a
    /// token) with slot word `aux`, split after `left` bytes: `id` if that split is listed, else
    /// `NONE`; and whether the token has several listed splits.
    #[inline(always)]
    fn ordered_prio(&self, id: Rank, aux: u16, left: usize) -> (Rank, bool) {
        if id == NONE {
            return (NONE, false);
        }
        let (ok, several) = super::listed::listed(&self.listed, id, aux, left);
        (if ok { id } else { NONE }, ok && several)
    }
}
