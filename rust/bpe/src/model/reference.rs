//! Test oracles for the merge engines: the textbook heap algorithm and the naive quadratic one.
//! They share no code with the engines they check.

use super::{BpeModel, Rank};

/// The textbook algorithm: a heap of candidate merges over a doubly linked list of parts. Kept
/// as the test oracle for the fast engines.
pub fn reference_merge(model: &BpeModel, piece: &[u8], out: &mut Vec<Rank>) {
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

/// The naive quadratic algorithm: repeatedly scan all adjacent pairs for the lowest priority.
/// A second, independent oracle for tests.
pub fn naive_merge(model: &BpeModel, piece: &[u8]) -> Vec<Rank> {
    let mut parts: Vec<Rank> = piece.iter().map(|&b| model.byte_ids[b as usize]).collect();
    loop {
        let best = (0..parts.len().saturating_sub(1))
            .filter_map(|k| model.merge(parts[k], parts[k + 1]).map(|(p, m)| (p, k, m)))
            .min();
        let Some((_, k, m)) = best else {
            return parts;
        };
        parts[k] = m;
        parts.remove(k + 1);
    }
}
