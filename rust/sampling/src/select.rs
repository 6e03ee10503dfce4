//! Selection over candidate lists: exact top-k and exact top-p (nucleus) without sorting.
//!
//! Design notes: candidates are `(logit, id)` pairs ordered by the *sampling order*: larger logit
//! first, ties broken by the lower token id. That order is total, so "the first k" and "the
//! shortest prefix whose probability reaches p" are unique sets, independent of batch layout.
//! * top-k: `select_nth_unstable_by` (introselect), O(n).
//! * top-p: weighted quickselect: partition around a median-of-three pivot, keep the side that
//!   contains the point where the running mass reaches the target. Expected O(n); tiny ranges are
//!   sorted. The caller only passes candidates known to contain the nucleus, so n is usually a few
//!   hundred even for a 128k vocabulary.

use std::cmp::Ordering;

/// One candidate token: logit, id and unnormalised weight `exp((logit - max) / T)`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Cand {
    pub v: f32,
    pub id: u32,
    pub w: f64,
}

/// The sampling order: larger logit first, then lower id.
#[inline]
pub(crate) fn order(a: &Cand, b: &Cand) -> Ordering {
    b.v.partial_cmp(&a.v)
        .unwrap_or(Ordering::Equal)
        .then(a.id.cmp(&b.id))
}

/// Reorder `c` so that `c[..k]` holds the first `k` candidates in sampling order (unsorted).
pub(crate) fn top_k(c: &mut [Cand], k: usize) {
    if k == 0 || k >= c.len() {
        return;
    }
    c.select_nth_unstable_by(k - 1, order);
}

/// Reorder `c` and return `n` such that `c[..n]` is the shortest prefix of the sampling order whose
/// weight sum reaches `target` (all of `c` if the total falls short).
pub(crate) fn nucleus(c: &mut [Cand], target: f64) -> usize {
    let (mut lo, mut hi) = (0usize, c.len());
    let mut acc = 0.0f64; // mass of everything known to precede c[lo]
    loop {
        if hi - lo <= 32 {
            c[lo..hi].sort_unstable_by(order);
            for (i, x) in c[lo..hi].iter().enumerate() {
                acc += x.w;
                if acc >= target {
                    return lo + i + 1;
                }
            }
            return hi;
        }
        let mid = lo + (hi - lo) / 2;
        // Median of three as pivot, moved to the end.
        let (a, b, d) = (lo, mid, hi - 1);
        let med = if order(&c[a], &c[b]).is_lt() {
            if order(&c[b], &c[d]).is_lt() {
                b
            } else if order(&c[a], &c[d]).is_lt() {
                d
            } else {
                a
            }
        } else if order(&c[a], &c[d]).is_lt() {
            a
        } else if order(&c[b], &c[d]).is_lt() {
            d
        } else {
            b
        };
        c.swap(med, hi - 1);
        let pivot = c[hi - 1];
        let mut j = lo;
        let mut before = 0.0f64;
        for i in lo..hi - 1 {
            if order(&c[i], &pivot).is_lt() {
                before += c[i].w;
                c.swap(i, j);
                j += 1;
            }
        }
        c.swap(j, hi - 1);
        if acc + before >= target {
            hi = j;
            continue;
        }
        acc += before + c[j].w;
        if acc >= target {
            return j + 1;
        }
        lo = j + 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn cands(v: &[f32]) -> Vec<Cand> {
        v.iter()
            .enumerate()
            .map(|(i, &x)| Cand {
                v: x,
                id: i as u32,
                w: f64::from(x).exp(),
            })
            .collect()
    }

    proptest! {
        #[test]
        fn top_k_matches_sort(v in proptest::collection::vec(prop_oneof![-3.0f32..3.0, Just(1.0f32)], 1..400), k in 1usize..60) {
            let mut c = cands(&v);
            let mut s = c.clone();
            s.sort_by(order);
            top_k(&mut c, k);
            let k = k.min(c.len());
            let mut got: Vec<u32> = c[..k].iter().map(|x| x.id).collect();
            let mut want: Vec<u32> = s[..k].iter().map(|x| x.id).collect();
            got.sort_unstable();
            want.sort_unstable();
            prop_assert_eq!(got, want);
        }

        #[test]
        fn nucleus_matches_sort(v in proptest::collection::vec(prop_oneof![-3.0f32..3.0, Just(0.5f32)], 1..400), p in 0.01f64..1.0) {
            let mut c = cands(&v);
            let mut s = c.clone();
            s.sort_by(order);
            let total: f64 = s.iter().map(|x| x.w).sum();
            let target = p * total;
            let mut acc = 0.0;
            let mut want_n = s.len();
            for (i, x) in s.iter().enumerate() {
                acc += x.w;
                if acc >= target { want_n = i + 1; break; }
            }
            let n = nucleus(&mut c, target);
            // Summation order differs; allow a boundary disagreement only when the cumulative
            // mass there is within rounding of the target.
            if n != want_n {
                let m = n.min(want_n);
                let cum: f64 = s[..m].iter().map(|x| x.w).sum();
                prop_assert!((cum - target).abs() <= 1e-9 * total, "{n} vs {want_n}");
            } else {
                let mut got: Vec<u32> = c[..n].iter().map(|x| x.id).collect();
                let mut want: Vec<u32> = s[..n].iter().map(|x| x.id).collect();
                got.sort_unstable();
                want.sort_unstable();
                prop_assert_eq!(got, want);
            }
        }
    }
}
