//! Selection over candidate lists: exact top-k and exact top-p (nucleus) without sorting.
//!
//! Design notes: candidates are `(logit, id)` pairs ordered by the *sampling order*: larger logit
//! first, ties broken by the lower token id. That order is total, so "the first k" and "the
//! shortest prefix whose probability reaches p" are unique sets, independent of batch layout.
//! * top-k: `select_nth_unstable_by` (introselect), O(n).
//! * top-p: weighted quickselect: partition around a median-of-three pivot, keep the side that
//!   contains the point where the running mass reaches the target. Expected O(n); tiny ranges are
//!   sorted. The caller only passes candidates known to contain the nucleus, so n is usually a few
//!   hundred even for a 128k vocabulary. The top-p path without top-k (`nucleus_last`) first
//!   buckets the candidates by logit and runs the quickselect only inside the bucket where the
//!   running mass reaches the target.

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

/// Buckets of `nucleus_last`.
const BUCKETS: usize = 1024;

/// Reusable buffers of [`nucleus_last`].
#[derive(Default)]
pub(crate) struct Buckets {
    keys: Vec<u16>,
    mass: Vec<f64>,
    tmp: Vec<Cand>,
}

/// The nucleus of `c` for `target` (what `nucleus` finds) without reordering `c`: its last member
/// in sampling order and its weight; `None` if `c` is empty.
///
/// Candidates go to `BUCKETS` buckets by logit, `key = floor((v_max - v) · scale)` (-inf in the
/// last): non-decreasing as the logit falls, so every bucket precedes the next in sampling order.
/// One pass adds up each bucket's weight; the running sum over buckets finds the bucket where
/// the target is reached; only that bucket's members go through `nucleus`. Two passes and a
/// small select instead of a quickselect's branchy partitions over every candidate (~1,200 at
/// top-p's first rung on a 128k row).
pub(crate) fn nucleus_last(c: &[Cand], target: f64, b: &mut Buckets) -> Option<(Cand, f64)> {
    let last_of = |s: &[Cand]| {
        s.iter()
            .copied()
            .reduce(|p, q| if order(&p, &q).is_lt() { q } else { p })
    };
    let vmax = c.iter().fold(f32::NEG_INFINITY, |a, x| a.max(x.v));
    let vmin = c
        .iter()
        .filter(|x| x.v > f32::NEG_INFINITY)
        .fold(f32::INFINITY, |a, x| a.min(x.v));
    let span = f64::from(vmax) - f64::from(vmin);
    if c.len() <= 64 || !(span > 0.0 && span.is_finite()) {
        // Few candidates, or no spread of finite logits to bucket by.
        b.tmp.clear();
        b.tmp.extend_from_slice(c);
        let n = nucleus(&mut b.tmp, target);
        let mass = b.tmp[..n].iter().map(|x| x.w).sum();
        return last_of(&b.tmp[..n]).map(|l| (l, mass));
    }
    let scale = (BUCKETS - 1) as f64 / span;
    b.mass.clear();
    b.mass.resize(BUCKETS, 0.0);
    b.keys.clear();
    for x in c {
        let key = if x.v == f32::NEG_INFINITY {
            BUCKETS - 1
        } else {
            // (vmax - v) >= 0, so the cast floors; a value past the last bucket is clamped.
            (((f64::from(vmax) - f64::from(x.v)) * scale) as usize).min(BUCKETS - 1)
        };
        b.mass[key] += x.w;
        b.keys.push(key as u16);
    }
    let mut acc = 0.0;
    let mut cut = BUCKETS;
    for (i, &m) in b.mass.iter().enumerate() {
        if acc + m >= target {
            cut = i;
            break;
        }
        acc += m;
    }
    if cut == BUCKETS {
        // The total falls short: everything.
        return last_of(c).map(|l| (l, acc));
    }
    b.tmp.clear();
    b.tmp.extend(
        c.iter()
            .zip(&b.keys)
            .filter(|&(_, &k)| usize::from(k) == cut)
            .map(|(x, _)| *x),
    );
    let n = nucleus(&mut b.tmp, target - acc);
    let mass = acc + b.tmp[..n].iter().map(|x| x.w).sum::<f64>();
    last_of(&b.tmp[..n]).map(|l| (l, mass))
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

    /// The shortest prefix of the sorted list reaching `target`: its last member and mass.
    fn sorted_nucleus(c: &[Cand], target: f64) -> (Cand, f64, usize) {
        let mut s = c.to_vec();
        s.sort_by(order);
        let mut acc = 0.0;
        for (i, x) in s.iter().enumerate() {
            acc += x.w;
            if acc >= target {
                return (*x, acc, i + 1);
            }
        }
        (s[s.len() - 1], acc, s.len())
    }

    proptest! {
        /// `nucleus_last` against a sort: the same last member (so the same set), except where
        /// the mass at the boundary is within rounding of the target. Lists of 1 to 3000 with
        /// ties, -inf and narrow or wide spreads.
        #[test]
        fn nucleus_last_matches_sort(
            v in proptest::collection::vec(prop_oneof![
                6 => -8.0f32..0.0,
                2 => Just(-1.0f32),
                1 => Just(f32::NEG_INFINITY),
                1 => -1e-3f32..0.0,
            ], 1..3000),
            p in 0.0f64..1.0,
        ) {
            let c: Vec<Cand> = v
                .iter()
                .enumerate()
                .map(|(i, &x)| Cand { v: x, id: (i * 7 % 3001) as u32, w: f64::from(x).exp() })
                .collect();
            let total: f64 = c.iter().map(|x| x.w).sum();
            let target = p * total;
            let (want, want_mass, want_n) = sorted_nucleus(&c, target);
            let mut b = Buckets::default();
            let (got, mass) = nucleus_last(&c, target, &mut b).unwrap();
            if got != want {
                let mut s = c.clone();
                s.sort_by(order);
                let n = s.iter().position(|x| *x == got).unwrap() + 1;
                let m = n.min(want_n);
                let cum: f64 = s[..m].iter().map(|x| x.w).sum();
                prop_assert!((cum - target).abs() <= 1e-9 * total, "{got:?} vs {want:?}");
            } else {
                prop_assert!((mass - want_mass).abs() <= 1e-9 * total);
            }
        }

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
