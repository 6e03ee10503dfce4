//! top-p (nucleus) without top-k: the exact nucleus from a candidate ladder and a weighted
//! quickselect, with the normaliser from one online pass (exact, or fast with an error bound).
//!
//! Design notes: top-p needs the normaliser. One online pass (`online.rs`: max and exp sums in a
//! single read of the row from memory) computes it; a compare pass then gathers the candidates
//! `z >= z_max - 8` from L2, where the pass left the row (a 128k-logit row is 513 KB). If their
//! exact mass is short of `p`, the ladder widens by √2 up to `z_max - 64`, then everything (one
//! compare pass per further rung). A weighted quickselect then finds
//! the exact nucleus (see `select.rs`). Where the ISA has a fast exp, the pass sums with it and
//! the nucleus is proven unaffected by its error bound, or the exact pass decides. top-p keeps
//! the shortest prefix of the sampling order (larger logit first, ties to the lower id) whose
//! probability reaches p.

use crate::error::SamplingError;
use crate::filters::{fill_cands_simd, finish, online_max, RowState};
use crate::online;
use crate::params::RowParams;
use crate::scratch::Work;
use crate::select::{self, Cand};
use crate::simd::{self, ExpArgs, Kernels};

/// Cut the candidates (`w.cand`, in increasing id order) to the nucleus whose last member in
/// sampling order is `last`: every candidate that precedes it, or is it. The list stays in id
/// order, so the draw needs no sort of the nucleus by id (which took 8 µs on the ~400-token
/// nucleus of a 128k row).
fn keep_nucleus(w: &mut Work, last: Option<Cand>) {
    match last {
        Some(last) => w
            .cand
            .retain(|c| (c.v > last.v) | ((c.v == last.v) & (c.id <= last.id))),
        None => w.cand.clear(),
    }
}

/// How the top-p pass computes the normaliser `Z`.
#[derive(Clone, Copy)]
pub(crate) enum Normaliser {
    /// Exact exp sums (f64 accumulation of the vector exp, relative error ~1e-6 per term).
    Exact,
    /// An `exp_sum_fast` kernel (every term within `fast_exp_eps`, about 1e-4), with a proof
    /// that its error does not change the nucleus, or a deferral (see [`top_p_with`]).
    Fast(fn(&[f32], &ExpArgs) -> f64),
}

/// top-p without top-k (min-p optional): the fast normaliser where the ISA has one and it can
/// decide, else the exact one. Both keep the same set.
///
/// Both find the nucleus on a candidate ladder: the first rung is `z >= z_max - 8` (`z = x / T`);
/// if its exact mass is short of the target, the ladder widens by √2 up to `z_max - 64`, then
/// everything. The first rung that reaches the target contains the nucleus, and a weighted
/// quickselect finds it exactly. Each rung is collected by a compare pass over the row, the
/// first right after the online pass, while the row is in L2. (Block
/// maxima recorded in the online pass, to read only the blocks that can hold a candidate,
/// measured slower: ~38% of 64-logit blocks hold one at the first rung.)
pub(crate) fn top_p_set(
    k: &Kernels,
    row: usize,
    l: &[f32],
    p: &RowParams,
    w: &mut Work,
    t_minp: impl Fn(f32) -> f32,
) -> Result<RowState, SamplingError> {
    if let Some(fast) = k.exp_sum_fast {
        if let Some(st) = top_p_with(k, row, l, p, w, &t_minp, Normaliser::Fast(fast))? {
            return Ok(st);
        }
    }
    match top_p_with(k, row, l, p, w, &t_minp, Normaliser::Exact)? {
        Some(st) => Ok(st),
        // Unreachable: the exact normaliser never defers.
        None => Err(SamplingError::AllMasked { row }),
    }
}

/// The top-p kept set with the normaliser `norm`; `Ok(None)` when a fast normaliser cannot
/// decide (the caller runs the exact one).
///
/// Exact: one online pass gives `Z`; the ladder widens until its mass reaches `p Z`, and the
/// nucleus for that target is kept.
///
/// Fast: the online pass sums every term with the fast kernel (within `ε = fast_exp_eps`, about
/// 1e-4); the first rung's candidates are weighed exactly, and the same fast kernel's terms of
/// those candidates are taken back out of the sum (equal term by term: same logit, same block
/// constants). So `Z = Z_bulk + Z_cand` is known to within `Δ = 1.1 ε Z_bulk + 4e-6 Z`, where the
/// second term covers the f32 partial sums and the error of the exact path's own `Z`. The ladder
/// widens until its mass reaches `p (Z + Δ)`. The nucleus for the target `p (Z - Δ)` is then the
/// nucleus for every target up to `p (Z + Δ)` exactly when its own mass reaches `p (Z + Δ)`; it
/// is then also the one the exact normaliser gives, and it is returned. Otherwise the cut-off lies
/// within `Δ` of a token boundary, and the exact path decides. On the bench's N(0, 3²) rows at
/// T = 0.7 that is 1 row in 32; on a very flat 100k-token row, most rows. A NaN, +inf or all -inf
/// row also defers: the exact path reports it.
pub(crate) fn top_p_with(
    k: &Kernels,
    row: usize,
    l: &[f32],
    p: &RowParams,
    w: &mut Work,
    t_minp: &impl Fn(f32) -> f32,
    norm: Normaliser,
) -> Result<Option<RowState>, SamplingError> {
    let (t, inv_t) = (p.temperature, 1.0 / p.temperature);
    let m = match norm {
        Normaliser::Exact => online_max(
            k,
            row,
            l,
            inv_t,
            online::CHUNK,
            online::Mode::Sum,
            &mut w.online,
        )?,
        Normaliser::Fast(f) => {
            match online::pass(
                k,
                l,
                inv_t,
                online::CHUNK,
                online::Mode::Fast(f),
                &mut w.online,
            ) {
                Some(m) if m > f32::NEG_INFINITY => m,
                _ => return Ok(None),
            }
        }
    };
    let z_all = online::normaliser(&w.online, m, inv_t);
    let lad = Ladder {
        m,
        t,
        a: ExpArgs::new(m, inv_t),
    };
    // The first rung's candidates, by a compare pass over the row (in L2 after the online pass:
    // 513 KB at 128k logits).
    lad.collect(k, l, FIRST_RUNG, w);
    let (z, delta) = match norm {
        Normaliser::Exact => (z_all, 0.0),
        Normaliser::Fast(f) => {
            let z_bulk = (z_all - fast_terms_of_candidates(f, w, m, inv_t)).max(0.0);
            let z = z_bulk + w.cand.iter().map(|c| c.w).sum::<f64>();
            // The bound grows with |ref / T|: the largest over the blocks' references covers all.
            let ref_abs = w
                .online
                .iter()
                .filter(|b| b.r#ref > f32::NEG_INFINITY)
                .fold(0.0f32, |a, b| a.max(b.r#ref.abs()));
            let eps = simd::fast_exp_eps(&ExpArgs::new(ref_abs, inv_t));
            (z, 1.1 * eps * z_bulk + 4e-6 * z)
        }
    };
    let exact = matches!(norm, Normaliser::Exact);
    let (lo, hi) = (p.top_p * (z - delta), p.top_p * (z + delta));
    let d = lad.widen(k, l, FIRST_RUNG, w, hi);
    if !exact && lad.rung(d) == f32::NEG_INFINITY {
        // Everything is a candidate (a flat row): the exact path's normaliser is as cheap here.
        return Ok(None);
    }
    let nucleus = select::nucleus_last(&w.cand, lo, &mut w.buckets);
    if !exact && nucleus.is_none_or(|(_, mass)| mass < hi) {
        return Ok(None);
    }
    keep_nucleus(w, nucleus.map(|(last, _)| last));
    Ok(Some(finish(m, lad.a, t_minp(m), w)))
}

/// The fast kernel's terms of the first rung's candidates (`w.idx`, logits in `w.tmpf`), each
/// with the constants of its block's reference, moved to the row max `m`. Ids increase, so the
/// candidates of consecutive blocks with one reference (most of the row: the running max rises
/// a few times) are one run and one kernel call; a block holding a candidate had a finite max.
fn fast_terms_of_candidates(
    fast: fn(&[f32], &ExpArgs) -> f64,
    w: &Work,
    m: f32,
    inv_t: f64,
) -> f64 {
    let ref_of = |j: usize| w.online[w.idx[j] as usize / online::CHUNK].r#ref;
    let mut sum = 0.0f64;
    let mut from = 0;
    while from < w.idx.len() {
        let r = ref_of(from);
        let to = from + (from..w.idx.len()).take_while(|&j| ref_of(j) == r).count();
        let ab = ExpArgs::new(r, inv_t);
        sum += Kernels::exp_sum_fast_row(fast, &w.tmpf[from..to], &ab)
            * ab.unscale
            * online::rescale(r, m, inv_t);
        from = to;
    }
    sum
}

/// The first rung of the top-p candidate ladder: logits within `8 T` of the max.
const FIRST_RUNG: f64 = 8.0;

/// The rung `d` of the ladder below the max `m` at temperature `t` (`-inf`: everything).
fn rung(m: f32, d: f64, t: f64) -> f32 {
    if d > 64.0 {
        f32::NEG_INFINITY
    } else {
        (f64::from(m) - d * t) as f32
    }
}

/// A row's candidate ladder: its max, temperature and exp constants.
struct Ladder {
    m: f32,
    t: f64,
    a: ExpArgs,
}

impl Ladder {
    fn rung(&self, d: f64) -> f32 {
        rung(self.m, d, self.t)
    }

    /// Collect the candidates of rung `d` (indices into `w.idx`, logits into `w.tmpf`) by a
    /// compare pass over the row, and weigh them.
    fn collect(&self, k: &Kernels, l: &[f32], d: f64, w: &mut Work) {
        w.idx.clear();
        (k.collect_ge)(l, self.rung(d), &mut w.idx);
        fill_cands_simd(k, l, w, &self.a);
    }

    /// Widen from rung `d` until the candidates' mass reaches `target`; returns the final `d`
    /// (past 64 when everything is a candidate).
    fn widen(&self, k: &Kernels, l: &[f32], mut d: f64, w: &mut Work, target: f64) -> f64 {
        loop {
            let mass: f64 = w.cand.iter().map(|c| c.w).sum();
            if mass >= target || self.rung(d) == f32::NEG_INFINITY {
                return d;
            }
            // Widen gently: a compare pass is cheaper than selecting over a much larger list.
            d *= std::f64::consts::SQRT_2;
            self.collect(k, l, d, w);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng;
    use crate::sample::testing::{kept, params};
    use crate::simd::{available, Kernels};

    #[test]
    fn top_p_shortest_prefix() {
        // probabilities 0.5, 0.25, 0.125, 0.125 (ln-spaced logits)
        let l2 = std::f32::consts::LN_2;
        let x = [0.0f32, -l2, -2.0 * l2, -2.0 * l2];
        assert_eq!(kept(&x, &params(1.0, 0, 0.5, 0.0)), vec![0]);
        assert_eq!(kept(&x, &params(1.0, 0, 0.6, 0.0)), vec![0, 1]);
        assert_eq!(kept(&x, &params(1.0, 0, 0.8, 0.0)), vec![0, 1, 2]);
    }

    /// The ids the fast top-p path of the kernel table `k` keeps (`None`: it deferred to the
    /// exact path) and the ids the exact path keeps, for one row.
    fn top_p_both(k: &Kernels, x: &[f32], p: &RowParams) -> (Option<Vec<u32>>, Vec<u32>) {
        let no_min_p = |_: f32| f32::NEG_INFINITY;
        let mut w = Work::default();
        let fast = k
            .exp_sum_fast
            .and_then(|f| top_p_with(k, 0, x, p, &mut w, &no_min_p, Normaliser::Fast(f)).unwrap())
            .map(|_| w.cand.iter().map(|c| c.id).collect());
        let mut w2 = Work::default();
        top_p_with(k, 0, x, p, &mut w2, &no_min_p, Normaliser::Exact)
            .unwrap()
            .unwrap();
        (fast, w2.cand.iter().map(|c| c.id).collect())
    }

    /// Where the fast normaliser decides, it keeps what the exact one keeps, on every kernel
    /// table this CPU runs: random rows from flat to peaked, several temperatures and p,
    /// vocabularies across chunk sizes.
    #[test]
    fn top_p_fast_path_keeps_the_exact_set() {
        let shapes = [
            (1000usize, 3.0f32),
            (5000, 1.0),
            (20_000, 3.0),
            (70_001, 10.0),
            (70_001, 0.5),
            (131_072, 3.0),
        ];
        let settings = [(0.7, 0.9), (1.0, 0.5), (0.3, 0.99), (1.5, 0.95)];
        for k in available() {
            let mut decided = 0;
            let mut total = 0;
            for (case, &(vocab, sigma)) in shapes.iter().enumerate() {
                for (j, &(t, top_p)) in settings.iter().enumerate() {
                    let seed = (case * 16 + j) as u64;
                    let x: Vec<f32> = (0..vocab)
                        .map(|i| {
                            let u1 = rng::uniform(seed, i as u64, 0).max(1e-300);
                            let u2 = rng::uniform(seed, i as u64, 1);
                            let g = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
                            sigma * g as f32
                        })
                        .collect();
                    let (fast, exact) = top_p_both(&k, &x, &params(t, 0, top_p, 0.0));
                    total += 1;
                    if let Some(fast) = fast {
                        decided += 1;
                        assert_eq!(
                            fast, exact,
                            "{} vocab {vocab} sigma {sigma} T {t} p {top_p}",
                            k.name
                        );
                    }
                }
            }
            if k.exp_sum_fast.is_some() {
                // The fast path must decide most of these rows, or it is dead weight.
                assert!(
                    decided * 2 > total,
                    "{}: decided {decided} of {total}",
                    k.name
                );
            }
        }
    }

    /// A cut-off exactly on a token boundary (four equal maxima, p = 1/2 of their mass) is
    /// within any error bound of the normaliser: the fast path defers, and the row keeps exactly
    /// the two lowest ids of the tie.
    #[test]
    fn top_p_fast_path_defers_at_a_boundary() {
        let mut x = vec![f32::NEG_INFINITY; 4096];
        for i in [100, 900, 2000, 4000] {
            x[i] = 5.0;
        }
        let p = params(1.0, 0, 0.5, 0.0);
        for k in available() {
            let (fast, exact) = top_p_both(&k, &x, &p);
            assert_eq!(fast, None, "{}", k.name);
            let mut e = exact;
            e.sort_unstable();
            assert_eq!(e, vec![100, 900], "{}", k.name);
        }
        assert_eq!(kept(&x, &p), vec![100, 900]);
    }
}
