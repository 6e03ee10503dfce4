//! Locally typical sampling (Meister et al. 2023) with Hugging Face's `TypicalLogitsWarper`
//! semantics, applied to what top-k / top-p / min-p kept.
//!
//! Design notes. Over the kept distribution `p` (renormalised), with entropy
//! `H = -Σ p log p`, each token scores `|-log p_i - H|`. Tokens sorted by that score (ascending)
//! are kept up to the first position whose cumulative probability reaches `typical_p` (the
//! position `#{j : cum_j < typical_p}`), plus every token whose score ties the score there; at
//! least one token stays. O(n log n) in the number of kept tokens; with no earlier filter that is
//! the whole vocabulary (finite logits), so typical-p is the one filter that sorts.

use crate::filters::{Kept, RowState};
use crate::scratch::Work;
use crate::select::Cand;

/// Restrict the kept set `st` to its locally typical part; returns the new state (a list).
pub(crate) fn filter(l: &[f32], st: RowState, mass: f64, w: &mut Work) -> RowState {
    if let Kept::All = st.kept {
        w.cand.clear();
        for (i, &v) in l.iter().enumerate() {
            if v > f32::NEG_INFINITY {
                let wt = ((f64::from(v) - f64::from(st.max)) * st.exp.inv_t).exp();
                w.cand.push(Cand {
                    v,
                    id: i as u32,
                    w: wt,
                });
            }
        }
    }
    let z: f64 = w.cand.iter().map(|c| c.w).sum();
    let logp = |c: &Cand| (c.w / z).ln();
    let entropy: f64 = w
        .cand
        .iter()
        .filter(|c| c.w > 0.0)
        .map(|c| -(c.w / z) * logp(c))
        .sum();
    let score = |c: &Cand| (-logp(c) - entropy).abs();
    let mut order: Vec<(f64, usize)> = w
        .cand
        .iter()
        .enumerate()
        .map(|(i, c)| (score(c), i))
        .collect();
    order.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    let mut cum = 0.0;
    let mut last = 0usize;
    for (j, &(_, i)) in order.iter().enumerate() {
        cum += w.cand[i].w / z;
        if cum < mass {
            last = j + 1;
        } else {
            break;
        }
    }
    let last = last.min(order.len().saturating_sub(1));
    let threshold = order.get(last).map_or(f64::INFINITY, |o| o.0);
    w.cand.retain(|c| score(c) <= threshold);
    let z: f64 = w.cand.iter().map(|c| c.w).sum();
    RowState {
        max: st.max,
        exp: st.exp,
        log_z: z.ln(),
        kept: Kept::List,
    }
}

#[cfg(test)]
mod tests {
    use crate::params::RowParams;
    use crate::sample::testing::{exp_weights, kept};

    /// The kept set against a sort-based reference of the same rule, on random rows.
    #[test]
    fn typical_matches_a_sorted_reference() {
        for seed in 0..20u64 {
            let x: Vec<f32> = (0..400)
                .map(|i| (crate::rng::uniform(seed, i, 0) * 8.0 - 4.0) as f32)
                .collect();
            for mass in [0.2, 0.6, 0.95] {
                let (e, z) = exp_weights(&x, 1.0);
                let p: Vec<f64> = e.iter().map(|v| v / z).collect();
                let h: f64 = p.iter().filter(|&&v| v > 0.0).map(|v| -v * v.ln()).sum();
                let score: Vec<f64> = p.iter().map(|v| (-v.ln() - h).abs()).collect();
                let mut order: Vec<usize> = (0..x.len()).collect();
                order.sort_by(|&a, &b| score[a].total_cmp(&score[b]).then(a.cmp(&b)));
                let mut cum = 0.0;
                let mut last = 0;
                for (j, &i) in order.iter().enumerate() {
                    cum += p[i];
                    if cum < mass {
                        last = j + 1;
                    } else {
                        break;
                    }
                }
                let thr = score[order[last.min(order.len() - 1)]];
                let want: Vec<usize> = (0..x.len()).filter(|&i| score[i] <= thr).collect();
                let params = RowParams {
                    typical_p: mass,
                    ..RowParams::default()
                };
                assert_eq!(kept(&x, &params), want, "seed {seed} mass {mass}");
            }
        }
    }
}
