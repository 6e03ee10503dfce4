//! NEON kernels (4 lanes, aarch64). Same algorithms as `avx2.rs`.
//!
//! Compiled only for aarch64, so the equivalence tests in `simd/mod.rs` cover them only when the
//! tests run on an aarch64 machine.

use std::arch::aarch64::*;

use super::{push_bits, Affine, ExpArgs, Kernels, EXP_BIAS, LN2_HI, LN2_LO, POLY};
use crate::scalar;

/// The NEON table, if this CPU has NEON (always true on aarch64 Linux and macOS).
pub(super) fn table() -> Option<Kernels> {
    if std::arch::is_aarch64_feature_detected!("neon") {
        Some(Kernels {
            name: "neon",
            max_nan,
            block_max,
            exp_sum,
            exp_sum_fast: None,
            exp_write,
            scale,
            affine_write,
            shift,
            collect_ge,
        })
    } else {
        None
    }
}

// SAFETY (all safe wrappers below): reachable only through `table()`, which checks NEON.
fn max_nan(x: &[f32]) -> (f32, bool) {
    unsafe { max_nan_k(x) }
}
fn block_max(x: &[f32], block: usize, out: &mut Vec<f32>) -> bool {
    unsafe { block_max_k(x, block, out) }
}
fn exp_sum(x: &[f32], a: &ExpArgs) -> f64 {
    unsafe { exp_sum_k(x, a) }
}
fn exp_write(x: &[f32], a: &ExpArgs, out: &mut [f32]) -> f64 {
    unsafe { exp_write_k(x, a, out) }
}
fn scale(out: &mut [f32], f: f32) -> bool {
    unsafe { scale_k(out, f) }
}
fn affine_write(x: &[f32], a: &Affine, out: &mut [f32]) {
    unsafe { affine_write_k(x, a, out) }
}
fn shift(out: &mut [f32], c: f32) {
    unsafe { shift_k(out, c) }
}
fn collect_ge(x: &[f32], thr: f32, out: &mut Vec<u32>) {
    unsafe { collect_ge_k(x, thr, out) }
}

#[inline]
#[target_feature(enable = "neon")]
fn load(x: &[f32], i: usize) -> float32x4_t {
    debug_assert!(i + 4 <= x.len());
    // SAFETY: callers guarantee i + 4 <= x.len().
    unsafe { vld1q_f32(x.as_ptr().add(i)) }
}

#[target_feature(enable = "neon")]
fn block_max_k(x: &[f32], block: usize, out: &mut Vec<f32>) -> bool {
    let mut nan = false;
    for c in x.chunks(block.max(1)) {
        let (m, n) = max_nan_k(c);
        out.push(m);
        nan |= n;
    }
    nan
}

#[inline]
#[target_feature(enable = "neon")]
fn max_nan_k(x: &[f32]) -> (f32, bool) {
    let n = x.len();
    let ninf = vdupq_n_f32(f32::NEG_INFINITY);
    let (mut m0, mut m1) = (ninf, ninf);
    // Lanes become all-ones where a value compared unequal to itself (NaN).
    let mut nan = vdupq_n_u32(0);
    let mut i = 0;
    while i + 8 <= n {
        let (a, b) = (load(x, i), load(x, i + 4));
        // vmaxnmq ignores a NaN operand, so NaN never replaces the running max.
        m0 = vmaxnmq_f32(m0, a);
        m1 = vmaxnmq_f32(m1, b);
        nan = vorrq_u32(nan, vmvnq_u32(vceqq_f32(a, a)));
        nan = vorrq_u32(nan, vmvnq_u32(vceqq_f32(b, b)));
        i += 8;
    }
    let m = vmaxvq_f32(vmaxnmq_f32(m0, m1));
    let (tm, tnan) = scalar::max_nan(&x[i..]);
    (m.max(tm), tnan || vmaxvq_u32(nan) != 0)
}

struct C {
    lo: float32x4_t,
    s_hi: float32x4_t,
    s_lo: float32x4_t,
    s_l2e: float32x4_t,
    m_l2e: float32x4_t,
    m_hi: float32x4_t,
    m_lo: float32x4_t,
    k: float32x4_t,
}

#[inline]
#[target_feature(enable = "neon")]
fn consts(a: &ExpArgs) -> C {
    C {
        lo: vdupq_n_f32(a.lo),
        s_hi: vdupq_n_f32(a.s_hi),
        s_lo: vdupq_n_f32(a.s_lo),
        s_l2e: vdupq_n_f32(a.s_l2e),
        m_l2e: vdupq_n_f32(a.m_l2e),
        m_hi: vdupq_n_f32(a.m_hi),
        m_lo: vdupq_n_f32(a.m_lo),
        k: vdupq_n_f32(a.k_f32),
    }
}

#[inline]
#[target_feature(enable = "neon")]
fn exp4(x: float32x4_t, c: &C) -> float32x4_t {
    let xc = vmaxq_f32(x, c.lo);
    // vfmaq_f32(a, b, c) = a + b*c; vfmsq_f32(a, b, c) = a - b*c.
    let nf = vrndnq_f32(vsubq_f32(vmulq_f32(xc, c.s_l2e), c.m_l2e));
    let big = vfmaq_f32(c.m_hi, nf, vdupq_n_f32(LN2_HI));
    // r = xc*s_hi - big, rounded once.
    let mut r = vnegq_f32(vfmsq_f32(big, xc, c.s_hi));
    r = vfmsq_f32(r, nf, vdupq_n_f32(LN2_LO));
    r = vsubq_f32(r, c.m_lo);
    r = vfmaq_f32(r, xc, c.s_lo);
    let mut p = vdupq_n_f32(POLY[6]);
    p = vfmaq_f32(vdupq_n_f32(POLY[5]), p, r);
    p = vfmaq_f32(vdupq_n_f32(POLY[4]), p, r);
    p = vfmaq_f32(vdupq_n_f32(POLY[3]), p, r);
    p = vfmaq_f32(vdupq_n_f32(POLY[2]), p, r);
    p = vfmaq_f32(vdupq_n_f32(POLY[1]), p, r);
    p = vfmaq_f32(vdupq_n_f32(POLY[0]), p, r);
    // 2^(n + EXP_BIAS), then the factor `k_f32`: the kernels' common output scale (see
    // `ExpArgs::unscale`).
    let n = vaddq_s32(vcvtq_s32_f32(nf), vdupq_n_s32(EXP_BIAS));
    let n1 = vmaxq_s32(n, vdupq_n_s32(-126));
    let n2 = vsubq_s32(n, n1);
    let bias = vdupq_n_s32(127);
    let p1 = vreinterpretq_f32_s32(vshlq_n_s32::<23>(vaddq_s32(n1, bias)));
    let p2 = vreinterpretq_f32_s32(vshlq_n_s32::<23>(vaddq_s32(n2, bias)));
    vmulq_f32(vmulq_f32(vmulq_f32(p, p1), p2), c.k)
}

#[inline]
#[target_feature(enable = "neon")]
fn acc_f64(acc: &mut [float64x2_t; 2], v: float32x4_t) {
    acc[0] = vaddq_f64(acc[0], vcvt_f64_f32(vget_low_f32(v)));
    acc[1] = vaddq_f64(acc[1], vcvt_high_f64_f32(v));
}

#[target_feature(enable = "neon")]
fn exp_sum_k(x: &[f32], a: &ExpArgs) -> f64 {
    let c = consts(a);
    let n = x.len();
    let mut acc = [vdupq_n_f64(0.0); 2];
    let mut i = 0;
    while i + 16 <= n {
        let e0 = exp4(load(x, i), &c);
        let e1 = exp4(load(x, i + 4), &c);
        let e2 = exp4(load(x, i + 8), &c);
        let e3 = exp4(load(x, i + 12), &c);
        acc_f64(&mut acc, vaddq_f32(vaddq_f32(e0, e1), vaddq_f32(e2, e3)));
        i += 16;
    }
    while i + 4 <= n {
        acc_f64(&mut acc, exp4(load(x, i), &c));
        i += 4;
    }
    vaddvq_f64(vaddq_f64(acc[0], acc[1])) + scalar::exp_sum(&x[i..], a)
}

#[target_feature(enable = "neon")]
fn exp_write_k(x: &[f32], a: &ExpArgs, out: &mut [f32]) -> f64 {
    let c = consts(a);
    let n = x.len().min(out.len());
    let mut acc = [vdupq_n_f64(0.0); 2];
    let po = out.as_mut_ptr();
    let mut i = 0;
    while i + 4 <= n {
        let e = exp4(load(x, i), &c);
        // SAFETY: i + 4 <= n <= out.len().
        unsafe { vst1q_f32(po.add(i), e) };
        acc_f64(&mut acc, e);
        i += 4;
    }
    vaddvq_f64(vaddq_f64(acc[0], acc[1])) + scalar::exp_write(&x[i..n], a, &mut out[i..n])
}

#[target_feature(enable = "neon")]
fn scale_k(out: &mut [f32], f: f32) -> bool {
    let (zero, tiny) = (vdupq_n_f32(0.0), vdupq_n_f32(f32::MIN_POSITIVE));
    let mut sub = vdupq_n_u32(0);
    let n = out.len();
    let p = out.as_mut_ptr();
    let mut i = 0;
    while i + 4 <= n {
        // SAFETY: i + 4 <= out.len().
        let v = unsafe { vmulq_n_f32(vld1q_f32(p.add(i)), f) };
        // SAFETY: as above.
        unsafe { vst1q_f32(p.add(i), v) };
        sub = vorrq_u32(sub, vandq_u32(vcltq_f32(v, tiny), vcgtq_f32(v, zero)));
        i += 4;
    }
    scalar::scale(&mut out[i..], f) | (vmaxvq_u32(sub) != 0)
}

#[target_feature(enable = "neon")]
fn shift_k(out: &mut [f32], c: f32) {
    let cv = vdupq_n_f32(c);
    let n = out.len();
    let p = out.as_mut_ptr();
    let mut i = 0;
    while i + 4 <= n {
        // SAFETY: i + 4 <= out.len().
        unsafe { vst1q_f32(p.add(i), vsubq_f32(vld1q_f32(p.add(i)), cv)) };
        i += 4;
    }
    scalar::shift(&mut out[i..], c);
}

#[target_feature(enable = "neon")]
fn affine_write_k(x: &[f32], a: &Affine, out: &mut [f32]) {
    let (s_hi, s_lo) = (vdupq_n_f32(a.s_hi), vdupq_n_f32(a.s_lo));
    let (c_hi, c_lo) = (vdupq_n_f32(a.c_hi), vdupq_n_f32(a.c_lo));
    let ninf = vdupq_n_f32(f32::NEG_INFINITY);
    let n = x.len().min(out.len());
    let po = out.as_mut_ptr();
    let mut i = 0;
    while i + 4 <= n {
        let v = load(x, i);
        let hi = vnegq_f32(vfmsq_f32(c_hi, v, s_hi));
        let y = vsubq_f32(vfmaq_f32(hi, v, s_lo), c_lo);
        let y = vbslq_f32(vceqq_f32(v, ninf), ninf, y);
        // SAFETY: i + 4 <= n <= out.len().
        unsafe { vst1q_f32(po.add(i), y) };
        i += 4;
    }
    scalar::affine_write(&x[i..n], a, &mut out[i..n]);
}

#[target_feature(enable = "neon")]
fn collect_ge_k(x: &[f32], thr: f32, out: &mut Vec<u32>) {
    let t = vdupq_n_f32(thr);
    let n = x.len();
    let mut i = 0;
    while i + 4 <= n {
        let k = vcgeq_f32(load(x, i), t);
        if vmaxvq_u32(k) != 0 {
            let bits = (vgetq_lane_u32::<0>(k) & 1)
                | (vgetq_lane_u32::<1>(k) & 2)
                | (vgetq_lane_u32::<2>(k) & 4)
                | (vgetq_lane_u32::<3>(k) & 8);
            push_bits(u64::from(bits), i, out);
        }
        i += 4;
    }
    for (j, &v) in x[i..].iter().enumerate() {
        if v >= thr {
            out.push((i + j) as u32);
        }
    }
}
