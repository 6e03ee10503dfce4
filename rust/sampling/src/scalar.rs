//! Scalar reference kernels.
//!
//! Design notes: these define what every SIMD kernel must compute. `exp` is evaluated in `f64`
//! (`((x - m) / T).exp() / unscale` rounded once to `f32`; every exp kernel carries the same
//! per-row scale, `ExpArgs::unscale`, see `simd/mod.rs`), so the reference is accurate to half an ulp;
//! the SIMD kernels are tested against it (relative error <= 1e-6 for normal outputs). The scalar
//! table is also the fallback on CPUs without a supported vector ISA and for rows whose
//! `max / T` is too large for the SIMD range reduction (see `ExpArgs::simd_ok`).

use crate::simd::{Affine, ExpArgs, Kernels};

/// The scalar kernel table.
pub(crate) const TABLE: Kernels = Kernels {
    name: "scalar",
    max_nan,
    block_max,
    exp_sum,
    exp_sum_fast: None,
    exp_write,
    scale,
    affine_write,
    shift,
    collect_ge,
};

/// `exp((x - max) / T) / a.unscale` for one logit, in `f64`, rounded once.
#[inline]
pub(crate) fn exp_one(x: f32, a: &ExpArgs) -> f32 {
    if x == f32::NEG_INFINITY {
        return 0.0;
    }
    (((f64::from(x) - f64::from(a.max)) * a.inv_t).exp() / a.unscale) as f32
}

/// Largest non-NaN value (`-inf` for an empty or all-NaN slice) and whether a NaN was seen.
pub(crate) fn max_nan(x: &[f32]) -> (f32, bool) {
    let mut m = f32::NEG_INFINITY;
    let mut nan = false;
    for &v in x {
        if v.is_nan() {
            nan = true;
        } else if v > m {
            m = v;
        }
    }
    (m, nan)
}

/// Push the max of each `block`-long chunk; return whether a NaN was seen.
pub(crate) fn block_max(x: &[f32], block: usize, out: &mut Vec<f32>) -> bool {
    let mut nan = false;
    for c in x.chunks(block.max(1)) {
        let (m, n) = max_nan(c);
        out.push(m);
        nan |= n;
    }
    nan
}

/// `sum(exp((x - max) / T)) / a.unscale`, accumulated in `f64`.
pub(crate) fn exp_sum(x: &[f32], a: &ExpArgs) -> f64 {
    x.iter().map(|&v| f64::from(exp_one(v, a))).sum()
}

/// `out[i] = exp((x[i] - max) / T) / a.unscale`; returns the `f64` sum of what was written.
pub(crate) fn exp_write(x: &[f32], a: &ExpArgs, out: &mut [f32]) -> f64 {
    let mut s = 0.0f64;
    for (o, &v) in out.iter_mut().zip(x) {
        *o = exp_one(v, a);
        s += f64::from(*o);
    }
    s
}

/// `out[i] *= f`; returns whether any result is subnormal (nonzero and below `f32::MIN_POSITIVE`).
pub(crate) fn scale(out: &mut [f32], f: f32) -> bool {
    let mut sub = false;
    for o in out {
        *o *= f;
        sub |= *o > 0.0 && *o < f32::MIN_POSITIVE;
    }
    sub
}

/// `out[i] = x[i] / T - c` (log-softmax), in `f64`; `-inf` stays `-inf`.
pub(crate) fn affine_write(x: &[f32], a: &Affine, out: &mut [f32]) {
    for (o, &v) in out.iter_mut().zip(x) {
        *o = if v == f32::NEG_INFINITY {
            f32::NEG_INFINITY
        } else {
            (f64::from(v) * a.s - a.c) as f32
        };
    }
}

/// `out[i] -= c`.
pub(crate) fn shift(out: &mut [f32], c: f32) {
    for o in out {
        *o -= c;
    }
}

/// Append to `out` the index of every `x[i] >= thr`, in increasing order.
pub(crate) fn collect_ge(x: &[f32], thr: f32, out: &mut Vec<u32>) {
    for (i, &v) in x.iter().enumerate() {
        if v >= thr {
            out.push(i as u32);
        }
    }
}
