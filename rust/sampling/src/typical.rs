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
