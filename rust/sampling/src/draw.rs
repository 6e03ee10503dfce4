//! The draw: one inverse-CDF step over the kept set, and log-probabilities under it.
//!
//! Design notes: the draw walks the kept set in increasing id order with `u = philox(seed, step,
//! draw)`; with no filter at all, over the 256-logit block sums of the online pass, then inside
//! one block. Nothing depends on the row's position, the batch, or the thread: same inputs, same
//! token.

use crate::filters::{Kept, RowState};
use crate::scratch::Work;
use crate::simd::ExpArgs;

#[inline]
fn weight(v: f32, a: &ExpArgs) -> f64 {
    if v == f32::NEG_INFINITY {
        0.0
    } else {
        ((f64::from(v) - f64::from(a.max)) * a.inv_t).exp()
    }
}

/// Logits per block sum of the unfiltered draw (divides `online::CHUNK`): one exp piece of the
/// online pass, so the walk inside the drawn block costs ~128 f64 exps on average.
pub(crate) const SUM_BLOCK: usize = 256;

/// One inverse-CDF draw from the kept set.
pub(crate) fn draw(l: &[f32], st: &RowState, w: &Work, u: f64) -> usize {
    match st.kept {
        Kept::List => {
            let z: f64 = st.log_z.exp();
            let target = u * z;
            let mut acc = 0.0;
            let mut last = w.cand.first().map_or(0, |c| c.id as usize);
            for c in &w.cand {
                if c.w > 0.0 {
                    acc += c.w;
                    last = c.id as usize;
                    if acc > target {
                        return last;
                    }
                }
            }
            last
        }
        Kept::All => {
            let z: f64 = w.sums.iter().sum();
            let mut target = u * z;
            let mut blk = w.sums.len().saturating_sub(1);
            for (b, &s) in w.sums.iter().enumerate() {
                if target < s {
                    blk = b;
                    break;
                }
                target -= s;
            }
            // Skip trailing empty blocks when rounding pushed us past the end.
            while blk > 0 && w.sums[blk] == 0.0 {
                blk -= 1;
            }
            let start = blk * SUM_BLOCK;
            let end = (start + SUM_BLOCK).min(l.len());
            let mut acc = 0.0;
            let mut last = start;
            for (i, &v) in l[start..end].iter().enumerate() {
                let wt = weight(v, &st.exp);
                if wt > 0.0 {
                    acc += wt;
                    last = start + i;
                    if acc > target {
                        return last;
                    }
                }
            }
            last
        }
    }
}

pub(crate) fn log_prob(l: &[f32], st: &RowState, id: usize) -> f32 {
    ((f64::from(l[id]) - f64::from(st.max)) * st.exp.inv_t - st.log_z) as f32
}
