//! AVX2 + FMA kernels (8 lanes). See `simd/mod.rs` for the shared `exp` algorithm.

use std::arch::x86_64::*;

use super::{push_bits, Affine, ExpArgs, Kernels, LN2_HI, LN2_LO, POLY};
use crate::scalar;

/// The AVX2 table, if this CPU has AVX2 and FMA.
pub(super) fn table() -> Option<Kernels> {
    if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
        Some(Kernels {
            name: "avx2",
            max_nan,
            block_max,
            exp_sum,
            exp_sum_collect,
            exp_write,
            scale,
            affine_write,
            collect_ge,
        })
    } else {
        None
    }
}

// SAFETY (all safe wrappers below): they are reachable only through `table()`, which returns
// them only after detecting AVX2 and FMA on the running CPU.
fn max_nan(x: &[f32]) -> (f32, bool) {
    unsafe { max_nan_k(x) }
}
fn block_max(x: &[f32], block: usize, out: &mut Vec<f32>) -> bool {
    unsafe { block_max_k(x, block, out) }
}
fn exp_sum(x: &[f32], a: &ExpArgs) -> f64 {
    unsafe { exp_sum_k(x, a) }
}
fn exp_sum_collect(x: &[f32], a: &ExpArgs, thr: f32, out: &mut Vec<u32>) -> f64 {
    unsafe { exp_sum_collect_k(x, a, thr, out) }
}
fn exp_write(x: &[f32], a: &ExpArgs, out: &mut [f32]) -> f64 {
    unsafe { exp_write_k(x, a, out) }
}
fn scale(out: &mut [f32], f: f32) {
    unsafe { scale_k(out, f) }
}
fn affine_write(x: &[f32], a: &Affine, out: &mut [f32]) {
    unsafe { affine_write_k(x, a, out) }
}
fn collect_ge(x: &[f32], thr: f32, out: &mut Vec<u32>) {
    unsafe { collect_ge_k(x, thr, out) }
}

#[inline]
#[target_feature(enable = "avx2,fma")]
fn load(x: &[f32], i: usize) -> __m256 {
    debug_assert!(i + 8 <= x.len());
    // SAFETY: callers guarantee i + 8 <= x.len().
    unsafe { _mm256_loadu_ps(x.as_ptr().add(i)) }
}

#[inline]
#[target_feature(enable = "avx2,fma")]
fn hmax(v: __m256) -> f32 {
    let h = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps::<1>(v));
    let h = _mm_max_ps(h, _mm_movehl_ps(h, h));
    let h = _mm_max_ss(h, _mm_shuffle_ps::<0b01>(h, h));
    _mm_cvtss_f32(h)
}

#[target_feature(enable = "avx2,fma")]
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
#[target_feature(enable = "avx2,fma")]
fn max_nan_k(x: &[f32]) -> (f32, bool) {
    let n = x.len();
    let ninf = _mm256_set1_ps(f32::NEG_INFINITY);
    let (mut m0, mut m1, mut m2, mut m3) = (ninf, ninf, ninf, ninf);
    let mut nan = _mm256_setzero_ps();
    let mut i = 0;
    while i + 32 <= n {
        let (a, b, c, d) = (load(x, i), load(x, i + 8), load(x, i + 16), load(x, i + 24));
        // max(v, acc) returns acc when v is NaN, so a NaN never replaces the running max.
        m0 = _mm256_max_ps(a, m0);
        m1 = _mm256_max_ps(b, m1);
        m2 = _mm256_max_ps(c, m2);
        m3 = _mm256_max_ps(d, m3);
        nan = _mm256_or_ps(nan, _mm256_cmp_ps::<_CMP_UNORD_Q>(a, b));
        nan = _mm256_or_ps(nan, _mm256_cmp_ps::<_CMP_UNORD_Q>(c, d));
        i += 32;
    }
    while i + 8 <= n {
        let a = load(x, i);
        m0 = _mm256_max_ps(a, m0);
        nan = _mm256_or_ps(nan, _mm256_cmp_ps::<_CMP_UNORD_Q>(a, a));
        i += 8;
    }
    let m = _mm256_max_ps(_mm256_max_ps(m0, m1), _mm256_max_ps(m2, m3));
    let (tm, tnan) = scalar::max_nan(&x[i..]);
    (hmax(m).max(tm), tnan || _mm256_movemask_ps(nan) != 0)
}

/// Broadcast constants for the vector exp.
struct C {
    lo: __m256,
    s_hi: __m256,
    s_lo: __m256,
    s_l2e: __m256,
    m_l2e: __m256,
    m_hi: __m256,
    m_lo: __m256,
}

#[inline]
#[target_feature(enable = "avx2,fma")]
fn consts(a: &ExpArgs) -> C {
    C {
        lo: _mm256_set1_ps(a.lo),
        s_hi: _mm256_set1_ps(a.s_hi),
        s_lo: _mm256_set1_ps(a.s_lo),
        s_l2e: _mm256_set1_ps(a.s_l2e),
        m_l2e: _mm256_set1_ps(a.m_l2e),
        m_hi: _mm256_set1_ps(a.m_hi),
        m_lo: _mm256_set1_ps(a.m_lo),
    }
}

#[inline]
#[target_feature(enable = "avx2,fma")]
fn exp8(x: __m256, c: &C) -> __m256 {
    let xc = _mm256_max_ps(x, c.lo);
    let nf = _mm256_round_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(_mm256_fmsub_ps(
        xc, c.s_l2e, c.m_l2e,
    ));
    let big = _mm256_fmadd_ps(nf, _mm256_set1_ps(LN2_HI), c.m_hi);
    let mut r = _mm256_fmsub_ps(xc, c.s_hi, big);
    r = _mm256_fnmadd_ps(nf, _mm256_set1_ps(LN2_LO), r);
    r = _mm256_sub_ps(r, c.m_lo);
    r = _mm256_fmadd_ps(xc, c.s_lo, r);
    let mut p = _mm256_set1_ps(POLY[6]);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(POLY[5]));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(POLY[4]));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(POLY[3]));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(POLY[2]));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(POLY[1]));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(POLY[0]));
    let n = _mm256_cvtps_epi32(nf);
    // Fast scaling: add n to the exponent field of p (p is in [0.7, 1.42]); exact while the
    // result stays normal, i.e. n >= -125. Lanes below take the two-step product, which rounds a
    // subnormal result once. The branch is per vector and almost never taken for real logits.
    let fast = _mm256_castsi256_ps(_mm256_add_epi32(
        _mm256_castps_si256(p),
        _mm256_slli_epi32::<23>(n),
    ));
    let small = _mm256_cmp_ps::<_CMP_LT_OQ>(nf, _mm256_set1_ps(-125.0));
    if _mm256_movemask_ps(small) == 0 {
        return fast;
    }
    let n1 = _mm256_max_epi32(n, _mm256_set1_epi32(-126));
    let n2 = _mm256_sub_epi32(n, n1);
    let bias = _mm256_set1_epi32(127);
    let p1 = _mm256_castsi256_ps(_mm256_slli_epi32::<23>(_mm256_add_epi32(n1, bias)));
    let p2 = _mm256_castsi256_ps(_mm256_slli_epi32::<23>(_mm256_add_epi32(n2, bias)));
    _mm256_blendv_ps(fast, _mm256_mul_ps(_mm256_mul_ps(p, p1), p2), small)
}

/// Add the 8 lanes of `v` into two f64x4 accumulators.
#[inline]
#[target_feature(enable = "avx2,fma")]
fn acc_f64(acc: &mut [__m256d; 2], v: __m256) {
    acc[0] = _mm256_add_pd(acc[0], _mm256_cvtps_pd(_mm256_castps256_ps128(v)));
    acc[1] = _mm256_add_pd(acc[1], _mm256_cvtps_pd(_mm256_extractf128_ps::<1>(v)));
}

#[inline]
#[target_feature(enable = "avx2,fma")]
fn hsum_f64(acc: [__m256d; 2]) -> f64 {
    let s = _mm256_add_pd(acc[0], acc[1]);
    let h = _mm_add_pd(_mm256_castpd256_pd128(s), _mm256_extractf128_pd::<1>(s));
    _mm_cvtsd_f64(_mm_add_sd(h, _mm_unpackhi_pd(h, h)))
}

#[target_feature(enable = "avx2,fma")]
fn exp_sum_k(x: &[f32], a: &ExpArgs) -> f64 {
    let c = consts(a);
    let n = x.len();
    let mut acc = [_mm256_setzero_pd(); 2];
    let mut i = 0;
    while i + 32 <= n {
        let e0 = exp8(load(x, i), &c);
        let e1 = exp8(load(x, i + 8), &c);
        let e2 = exp8(load(x, i + 16), &c);
        let e3 = exp8(load(x, i + 24), &c);
        acc_f64(
            &mut acc,
            _mm256_add_ps(_mm256_add_ps(e0, e1), _mm256_add_ps(e2, e3)),
        );
        i += 32;
    }
    while i + 8 <= n {
        acc_f64(&mut acc, exp8(load(x, i), &c));
        i += 8;
    }
    hsum_f64(acc) + scalar::exp_sum(&x[i..], a)
}

#[target_feature(enable = "avx2,fma")]
fn exp_sum_collect_k(x: &[f32], a: &ExpArgs, thr: f32, out: &mut Vec<u32>) -> f64 {
    let c = consts(a);
    let t = _mm256_set1_ps(thr);
    let n = x.len();
    let mut acc = [_mm256_setzero_pd(); 2];
    let mut i = 0;
    while i + 32 <= n {
        let (v0, v1, v2, v3) = (load(x, i), load(x, i + 8), load(x, i + 16), load(x, i + 24));
        let k0 = _mm256_cmp_ps::<_CMP_GE_OQ>(v0, t);
        let k1 = _mm256_cmp_ps::<_CMP_GE_OQ>(v1, t);
        let k2 = _mm256_cmp_ps::<_CMP_GE_OQ>(v2, t);
        let k3 = _mm256_cmp_ps::<_CMP_GE_OQ>(v3, t);
        let any = _mm256_or_ps(_mm256_or_ps(k0, k1), _mm256_or_ps(k2, k3));
        if _mm256_movemask_ps(any) != 0 {
            push_bits(u64::from(_mm256_movemask_ps(k0) as u32), i, out);
            push_bits(u64::from(_mm256_movemask_ps(k1) as u32), i + 8, out);
            push_bits(u64::from(_mm256_movemask_ps(k2) as u32), i + 16, out);
            push_bits(u64::from(_mm256_movemask_ps(k3) as u32), i + 24, out);
        }
        let e0 = exp8(v0, &c);
        let e1 = exp8(v1, &c);
        let e2 = exp8(v2, &c);
        let e3 = exp8(v3, &c);
        acc_f64(
            &mut acc,
            _mm256_add_ps(_mm256_add_ps(e0, e1), _mm256_add_ps(e2, e3)),
        );
        i += 32;
    }
    while i + 8 <= n {
        let v = load(x, i);
        let k = _mm256_movemask_ps(_mm256_cmp_ps::<_CMP_GE_OQ>(v, t)) as u32;
        push_bits(u64::from(k), i, out);
        acc_f64(&mut acc, exp8(v, &c));
        i += 8;
    }
    for (j, &v) in x[i..].iter().enumerate() {
        if v >= thr {
            out.push((i + j) as u32);
        }
    }
    hsum_f64(acc) + scalar::exp_sum(&x[i..], a)
}

#[target_feature(enable = "avx2,fma")]
fn exp_write_k(x: &[f32], a: &ExpArgs, out: &mut [f32]) -> f64 {
    let c = consts(a);
    let n = x.len().min(out.len());
    let mut acc = [_mm256_setzero_pd(); 2];
    let po = out.as_mut_ptr();
    let mut i = 0;
    while i + 32 <= n {
        let e0 = exp8(load(x, i), &c);
        let e1 = exp8(load(x, i + 8), &c);
        let e2 = exp8(load(x, i + 16), &c);
        let e3 = exp8(load(x, i + 24), &c);
        // SAFETY: i + 32 <= n <= out.len().
        unsafe {
            _mm256_storeu_ps(po.add(i), e0);
            _mm256_storeu_ps(po.add(i + 8), e1);
            _mm256_storeu_ps(po.add(i + 16), e2);
            _mm256_storeu_ps(po.add(i + 24), e3);
        }
        acc_f64(
            &mut acc,
            _mm256_add_ps(_mm256_add_ps(e0, e1), _mm256_add_ps(e2, e3)),
        );
        i += 32;
    }
    while i + 8 <= n {
        let e = exp8(load(x, i), &c);
        // SAFETY: i + 8 <= n <= out.len().
        unsafe { _mm256_storeu_ps(po.add(i), e) };
        acc_f64(&mut acc, e);
        i += 8;
    }
    hsum_f64(acc) + scalar::exp_write(&x[i..n], a, &mut out[i..n])
}

#[target_feature(enable = "avx2,fma")]
fn scale_k(out: &mut [f32], f: f32) {
    let fv = _mm256_set1_ps(f);
    let n = out.len();
    let p = out.as_mut_ptr();
    let mut i = 0;
    while i + 8 <= n {
        // SAFETY: i + 8 <= out.len().
        unsafe { _mm256_storeu_ps(p.add(i), _mm256_mul_ps(_mm256_loadu_ps(p.add(i)), fv)) };
        i += 8;
    }
    scalar::scale(&mut out[i..], f);
}

#[target_feature(enable = "avx2,fma")]
fn affine_write_k(x: &[f32], a: &Affine, out: &mut [f32]) {
    let (s_hi, s_lo) = (_mm256_set1_ps(a.s_hi), _mm256_set1_ps(a.s_lo));
    let (c_hi, c_lo) = (_mm256_set1_ps(a.c_hi), _mm256_set1_ps(a.c_lo));
    let ninf = _mm256_set1_ps(f32::NEG_INFINITY);
    let n = x.len().min(out.len());
    let po = out.as_mut_ptr();
    let mut i = 0;
    while i + 8 <= n {
        let v = load(x, i);
        let hi = _mm256_fmsub_ps(v, s_hi, c_hi);
        let y = _mm256_sub_ps(_mm256_fmadd_ps(v, s_lo, hi), c_lo);
        let y = _mm256_blendv_ps(y, ninf, _mm256_cmp_ps::<_CMP_EQ_OQ>(v, ninf));
        // SAFETY: i + 8 <= n <= out.len().
        unsafe { _mm256_storeu_ps(po.add(i), y) };
        i += 8;
    }
    scalar::affine_write(&x[i..n], a, &mut out[i..n]);
}

#[target_feature(enable = "avx2,fma")]
fn collect_ge_k(x: &[f32], thr: f32, out: &mut Vec<u32>) {
    let t = _mm256_set1_ps(thr);
    let n = x.len();
    let mut i = 0;
    while i + 32 <= n {
        let k0 = _mm256_cmp_ps::<_CMP_GE_OQ>(load(x, i), t);
        let k1 = _mm256_cmp_ps::<_CMP_GE_OQ>(load(x, i + 8), t);
        let k2 = _mm256_cmp_ps::<_CMP_GE_OQ>(load(x, i + 16), t);
        let k3 = _mm256_cmp_ps::<_CMP_GE_OQ>(load(x, i + 24), t);
        let any = _mm256_or_ps(_mm256_or_ps(k0, k1), _mm256_or_ps(k2, k3));
        if _mm256_movemask_ps(any) != 0 {
            push_bits(u64::from(_mm256_movemask_ps(k0) as u32), i, out);
            push_bits(u64::from(_mm256_movemask_ps(k1) as u32), i + 8, out);
            push_bits(u64::from(_mm256_movemask_ps(k2) as u32), i + 16, out);
            push_bits(u64::from(_mm256_movemask_ps(k3) as u32), i + 24, out);
        }
        i += 32;
    }
    while i + 8 <= n {
        let k = _mm256_movemask_ps(_mm256_cmp_ps::<_CMP_GE_OQ>(load(x, i), t)) as u32;
        push_bits(u64::from(k), i, out);
        i += 8;
    }
    for (j, &v) in x[i..].iter().enumerate() {
        if v >= thr {
            out.push((i + j) as u32);
        }
    }
}
