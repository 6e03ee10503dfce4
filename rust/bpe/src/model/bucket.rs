//! The bucket merge engine for pieces longer than `SMALL` bytes.

use rustc_hash::FxHashMap;

use super::{BpeModel, Rank, NONE};

impl BpeModel {
    /// The bucket engine for long pieces; returns the token count.
    ///
    /// Pending pairs are grouped by priority: `buckets[p]` holds the positions whose pair has
    /// priority `p`, and a heap holds the distinct priorities present (far fewer than pairs: a
    /// run of one letter has a few dozen). A bucket is sorted by position when its turn comes,
    /// then drained left to right, which is the heap order `(priority, position)`: a merge never
    /// creates a pair of its own priority (the merged token is longer than both parts), and a
    /// pair of *lower* priority created meanwhile goes to `urgent`, drained first. Stale entries
    /// are skipped (a position is live iff `prio[i]` still equals the bucket's priority).
    pub(super) fn merge_long(&self, piece: &[u8], mut emit: impl FnMut(Rank)) -> usize {
        use std::cmp::Reverse;
        use std::collections::BinaryHeap;

        let n = piece.len();
        let mut ids: Vec<Rank> = piece
            .iter()
            .map(|&b| self.byte_ids[usize::from(b)])
            .collect();
        let mut next: Vec<u32> = (1..=n as u32).collect();
        let mut prev: Vec<u32> = (0..n as u32).map(|i| i.wrapping_sub(1)).collect();
        let mut prio = vec![NONE; n];
        let mut merged = vec![0 as Rank; n];
        let mut buckets: FxHashMap<u32, Vec<u32>> = FxHashMap::default();
        let mut order: BinaryHeap<Reverse<u32>> = BinaryHeap::new();
        let mut urgent: BinaryHeap<Reverse<u64>> = BinaryHeap::new();
        let add = |buckets: &mut FxHashMap<u32, Vec<u32>>,
                   order: &mut BinaryHeap<Reverse<u32>>,
                   urgent: &mut BinaryHeap<Reverse<u64>>,
                   current: u32,
                   p: u32,
                   i: usize| {
            if p < current {
                urgent.push(Reverse((u64::from(p) << 32) | i as u64));
            } else {
                let b = buckets.entry(p).or_default();
                if b.is_empty() {
                    order.push(Reverse(p));
                }
                b.push(i as u32);
            }
        };
        for i in 0..n - 1 {
            if let Some((p, id)) = self.pair(piece, i, i + 1, i + 2) {
                prio[i] = p;
                merged[i] = id;
                add(&mut buckets, &mut order, &mut urgent, 0, p, i);
            }
        }
        let mut count = n;
        let mut bucket: Vec<u32> = Vec::new();
        while let Some(Reverse(current)) = order.pop() {
            let Some(mut b) = buckets.remove(&current) else {
                continue;
            };
            std::mem::swap(&mut bucket, &mut b);
            bucket.sort_unstable();
            let mut k = 0;
            loop {
                // Lower-priority pairs created while draining this bucket come first.
                let (p, i) = if let Some(Reverse(key)) = urgent.pop() {
                    ((key >> 32) as u32, (key & 0xFFFF_FFFF) as usize)
                } else if k < bucket.len() {
                    k += 1;
                    (current, bucket[k - 1] as usize)
                } else {
                    break;
                };
                if prio[i] != p {
                    continue; // stale
                }
                let j = next[i] as usize;
                ids[i] = merged[i];
                prio[j] = NONE;
                prio[i] = NONE;
                let after = next[j] as usize;
                next[i] = after as u32;
                if after < n {
                    prev[after] = i as u32;
                }
                count -= 1;
                if after < n {
                    let end = next[after] as usize;
                    if let Some((p2, id)) = self.pair(piece, i, after, end) {
                        prio[i] = p2;
                        merged[i] = id;
                        add(&mut buckets, &mut order, &mut urgent, current, p2, i);
                    }
                }
                let h = prev[i];
                if h != NONE {
                    let h = h as usize;
                    prio[h] = NONE;
                    if let Some((p2, id)) = self.pair(piece, h, i, after) {
                        prio[h] = p2;
                        merged[h] = id;
                        add(&mut buckets, &mut order, &mut urgent, current, p2, h);
                    }
                }
            }
            bucket.clear();
        }
        let mut i = 0;
        while i < n {
            emit(ids[i]);
            i = next[i] as usize;
        }
        count
    }
}
