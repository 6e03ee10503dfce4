//! AVX-512F kernels (16 lanes). Same algorithms as `avx2.rs`, with mask registers for compares
//! and masked loads for row tails: the exact exp is AVX2's `exp8` and the bounded fast exp of
//! the top-p normaliser (`exp_sum_fast`) AVX2's `exp8_fast`, on 16 lanes (same constants, so
//! the same 1e-6 and `fast_exp_eps` bounds).
//!
//! Dispatched only when the CPU reports AVX-512F, so the equivalence tests exercise them only on
//! AVX-512 hardware.

use std::arch::x86_64::*;

use super::{push_bits, Affine, ExpArgs, Kernels, LN2_HI, LN2_LO, POLY3, POLY5, SHIFTER};
use crate::scalar;

/// The AVX-512 table, if this CPU has AVX-512F.
pub(super) fn table() -> Option<Kernels> {
    if is_x86_feature_detected!("avx512f") {
        Some(Kernels {
            name: "avx512",
            max_nan,
            block_max,
            exp_sum,
            exp_sum_fast: Some(exp_sum_fast),
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

// SAFETY (all safe wrappers below): reachable only through `table()`, which returns them only
// after detecting AVX-512F on the running CPU.
fn max_nan(x: &[f32]) -> (f32, bool) {
    unsafe { max_nan_k(x) }
}
fn block_max(x: &[f32], block: usize, out: &mut Vec<f32>) -> bool {
    unsafe { block_max_k(x, block, out) }
}
fn exp_sum(x: &[f32], a: &ExpArgs) -> f64 {
    unsafe { exp_sum_k(x, a) }
}
fn exp_sum_fast(x: &[f32], a: &ExpArgs) -> f64 {
    unsafe { exp_sum_fast_k(x, a) }
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
#[target_feature(enable = "avx512f")]
fn load(x: &[f32], i: usize) -> __m512 {
    debug_assert!(i + 16 <= x.len());
    // SAFETY: callers guarantee i + 16 <= x.len().
    unsafe { _mm512_loadu_ps(x.as_ptr().add(i)) }
}

#[target_feature(enable = "avx512f")]
fn block_max_k(x: &[f32], block: usize, out: &mut Vec<f32>) -> bool {
    if block < 64 || !block.is_multiple_of(64) {
        return super::block_max_chunks(x, block, out, |c| max_nan_k(c));
    }
    // One streaming loop over the whole row, the NaN mask kept across blocks and read once (as
    // in `avx2.rs`: a call of `max_nan_k` per block pays its reductions and tail every block).
    let n = x.len();
    let full = n / block * block;
    out.reserve(n.div_ceil(block));
    let ninf = _mm512_set1_ps(f32::NEG_INFINITY);
    let mut nan: __mmask16 = 0;
    let mut i = 0;
    while i < full {
        let end = i + block;
        let mut m = [ninf; 4];
        while i < end {
            max64(x, i, &mut m, &mut nan);
            i += 64;
        }
        let m = _mm512_max_ps(_mm512_max_ps(m[0], m[1]), _mm512_max_ps(m[2], m[3]));
        out.push(_mm512_reduce_max_ps(m));
    }
    let mut tail_nan = false;
    if full < n {
        let (m, t) = max_nan_k(&x[full..]);
        out.push(m);
        tail_nan = t;
    }
    tail_nan || nan != 0
}

/// Fold `x[i..i + 64]` into four running maxima and the NaN mask.
#[inline]
#[target_feature(enable = "avx512f")]
fn max64(x: &[f32], i: usize, m: &mut [__m512; 4], nan: &mut __mmask16) {
    let (a, b, c, d) = (
        load(x, i),
        load(x, i + 16),
        load(x, i + 32),
        load(x, i + 48),
    );
    // max(v, acc) returns acc when v is NaN, so a NaN never replaces the running max.
    m[0] = _mm512_max_ps(a, m[0]);
    m[1] = _mm512_max_ps(b, m[1]);
    m[2] = _mm512_max_ps(c, m[2]);
    m[3] = _mm512_max_ps(d, m[3]);
    *nan |= _mm512_cmp_ps_mask::<_CMP_UNORD_Q>(a, b) | _mm512_cmp_ps_mask::<_CMP_UNORD_Q>(c, d);
}

#[inline]
#[target_feature(enable = "avx512f")]
fn max_nan_k(x: &[f32]) -> (f32, bool) {
    let n = x.len();
    let ninf = _mm512_set1_ps(f32::NEG_INFINITY);
    let mut m = [ninf; 4];
    let mut nan: __mmask16 = 0;
    let mut i = 0;
    while i + 64 <= n {
        max64(x, i, &mut m, &mut nan);
        i += 64;
    }
    while i + 16 <= n {
        let a = load(x, i);
        m[0] = _mm512_max_ps(a, m[0]);
        nan |= _mm512_cmp_ps_mask::<_CMP_UNORD_Q>(a, a);
        i += 16;
    }
    let m = _mm512_max_ps(_mm512_max_ps(m[0], m[1]), _mm512_max_ps(m[2], m[3]));
    let (tm, tnan) = scalar::max_nan(&x[i..]);
    (_mm512_reduce_max_ps(m).max(tm), tnan || nan != 0)
}

struct C {
    lo: __m512,
    s_l2e: __m512,
    c_shift: __m512,
    shifter: __m512,
    d_hi: __m512,
    s_hi: __m512,
    s_lo: __m512,
}

#[inline]
#[target_feature(enable = "avx512f")]
fn consts(a: &ExpArgs) -> C {
    C {
        lo: _mm512_set1_ps(a.lo),
        s_l2e: _mm512_set1_ps(a.s_l2e),
        c_shift: _mm512_set1_ps(a.c_shift),
        shifter: _mm512_set1_ps(SHIFTER),
        d_hi: _mm512_set1_ps(a.d_hi),
        s_hi: _mm512_set1_ps(a.s_hi),
        s_lo: _mm512_set1_ps(a.s_lo),
    }
}

/// `exp((x - max) / T) / unscale` for 16 lanes: AVX2's `exp8` (the algorithm of `simd/mod.rs`:
/// `n` from the shifter FMA, exact reduction against `D_hi`, `POLY5`, `2^(n + 64)` added to the
/// exponent field), always in its split form (`x·s_lo` is exact zero when `1/T` is an f32).
#[inline]
#[target_feature(enable = "avx512f")]
fn exp16(x: __m512, c: &C) -> __m512 {
    let xc = _mm512_max_ps(x, c.lo);
    let t = _mm512_fmadd_ps(xc, c.s_l2e, c.c_shift);
    let nf = _mm512_sub_ps(t, c.shifter);
    let big = _mm512_fmadd_ps(nf, _mm512_set1_ps(LN2_HI), c.d_hi);
    let q = _mm512_fmsub_ps(xc, c.s_hi, big);
    let mut r = _mm512_fnmadd_ps(nf, _mm512_set1_ps(LN2_LO), q);
    r = _mm512_fmadd_ps(xc, c.s_lo, r);
    let mut p = _mm512_fmadd_ps(_mm512_set1_ps(POLY5[5]), r, _mm512_set1_ps(POLY5[4]));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(POLY5[3]));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(POLY5[2]));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(POLY5[1]));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(POLY5[0]));
    let e = _mm512_slli_epi32::<23>(_mm512_castps_si512(t));
    _mm512_castsi512_ps(_mm512_add_epi32(_mm512_castps_si512(p), e))
}

#[inline]
#[target_feature(enable = "avx512f")]
fn acc_f64(acc: &mut [__m512d; 2], v: __m512) {
    let d = _mm512_castps_pd(v);
    let lo = _mm256_castpd_ps(_mm512_castpd512_pd256(d));
    let hi = _mm256_castpd_ps(_mm512_extractf64x4_pd::<1>(d));
    acc[0] = _mm512_add_pd(acc[0], _mm512_cvtps_pd(lo));
    acc[1] = _mm512_add_pd(acc[1], _mm512_cvtps_pd(hi));
}

#[target_feature(enable = "avx512f")]
fn exp_sum_k(x: &[f32], a: &ExpArgs) -> f64 {
    let c = consts(a);
    let n = x.len();
    let mut acc = [_mm512_setzero_pd(); 2];
    let mut s = _mm512_setzero_ps();
    let mut i = 0;
    // Eight vectors per f32 partial sum (at most seven roundings per term), then f64, as AVX2.
    while i + 32 <= n {
        let e0 = exp16(load(x, i), &c);
        let e1 = exp16(load(x, i + 16), &c);
        s = _mm512_add_ps(s, _mm512_add_ps(e0, e1));
        i += 32;
        if i.is_multiple_of(128) {
            acc_f64(&mut acc, s);
            s = _mm512_setzero_ps();
        }
    }
    acc_f64(&mut acc, s);
    while i + 16 <= n {
        acc_f64(&mut acc, exp16(load(x, i), &c));
        i += 16;
    }
    _mm512_reduce_add_pd(_mm512_add_pd(acc[0], acc[1])) + scalar::exp_sum(&x[i..], a)
}

/// Per-row constants of the fast exp (see `avx2.rs`, `exp8_fast`).
struct F {
    lo: __m512,
    s_l2e: __m512,
    c_shift: __m512,
    shifter: __m512,
    d_hi: __m512,
    s_hi: __m512,
    ln2: __m512,
    p: [__m512; 4],
}

/// `exp((x - max) / T) / unscale` within `fast_exp_eps`, 16 lanes: AVX2's `exp8_fast` step for
/// step (`n` from the shifter FMA, one-rounding argument `x·s_hi - D_hi - n·ln2`, degree-3
/// `POLY3`, `2^(n + 64)` added to the exponent field).
#[inline]
#[target_feature(enable = "avx512f")]
fn exp16_fast(x: __m512, c: &F) -> __m512 {
    let xc = _mm512_max_ps(x, c.lo);
    let t = _mm512_fmadd_ps(xc, c.s_l2e, c.c_shift);
    let a = _mm512_fmsub_ps(xc, c.s_hi, c.d_hi);
    let nf = _mm512_sub_ps(t, c.shifter);
    let r = _mm512_fnmadd_ps(nf, c.ln2, a);
    let mut p = _mm512_fmadd_ps(c.p[3], r, c.p[2]);
    p = _mm512_fmadd_ps(p, r, c.p[1]);
    p = _mm512_fmadd_ps(p, r, c.p[0]);
    let e = _mm512_slli_epi32::<23>(_mm512_castps_si512(t));
    _mm512_castsi512_ps(_mm512_add_epi32(_mm512_castps_si512(p), e))
}

#[target_feature(enable = "avx512f")]
fn exp_sum_fast_k(x: &[f32], a: &ExpArgs) -> f64 {
    let c = F {
        lo: _mm512_set1_ps(a.lo),
        s_l2e: _mm512_set1_ps(a.s_l2e),
        c_shift: _mm512_set1_ps(a.c_shift),
        shifter: _mm512_set1_ps(SHIFTER),
        d_hi: _mm512_set1_ps(a.d_hi),
        s_hi: _mm512_set1_ps(a.s_hi),
        ln2: _mm512_set1_ps(std::f32::consts::LN_2),
        p: POLY3.map(|v| _mm512_set1_ps(v)),
    };
    let n = x.len();
    let mut acc = [_mm512_setzero_pd(); 2];
    let (mut s0, mut s1) = (_mm512_setzero_ps(), _mm512_setzero_ps());
    let mut i = 0;
    // Four vectors per step; eight vectors per f32 partial sum (two steps), then f64, as in
    // `avx2.rs`.
    let mut odd = false;
    while i + 64 <= n {
        let e0 = exp16_fast(load(x, i), &c);
        let e1 = exp16_fast(load(x, i + 16), &c);
        let e2 = exp16_fast(load(x, i + 32), &c);
        let e3 = exp16_fast(load(x, i + 48), &c);
        s0 = _mm512_add_ps(s0, _mm512_add_ps(e0, e1));
        s1 = _mm512_add_ps(s1, _mm512_add_ps(e2, e3));
        i += 64;
        if odd {
            acc_f64(&mut acc, _mm512_add_ps(s0, s1));
            (s0, s1) = (_mm512_setzero_ps(), _mm512_setzero_ps());
        }
        odd = !odd;
    }
    acc_f64(&mut acc, _mm512_add_ps(s0, s1));
    let ninf = _mm512_set1_ps(f32::NEG_INFINITY);
    while i < n {
        // The last 1-63 logits, 16 at a time; lanes past the end load -inf, which the clamp
        // turns into a term below 1e-47 of the row max's.
        let m = (n - i).min(16);
        let mask: __mmask16 = if m == 16 { 0xffff } else { (1u16 << m) - 1 };
        // SAFETY: lanes outside `mask` are not read (masked loads do not fault); lanes inside
        // are below n.
        let v = unsafe { _mm512_mask_loadu_ps(ninf, mask, x.as_ptr().add(i)) };
        acc_f64(&mut acc, exp16_fast(v, &c));
        i += m;
    }
    _mm512_reduce_add_pd(_mm512_add_pd(acc[0], acc[1]))
}

#[target_feature(enable = "avx512f")]
fn exp_write_k(x: &[f32], a: &ExpArgs, out: &mut [f32]) -> f64 {
    let c = consts(a);
    let n = x.len().min(out.len());
    let mut acc = [_mm512_setzero_pd(); 2];
    let po = out.as_mut_ptr();
    let mut i = 0;
    while i + 32 <= n {
        let e0 = exp16(load(x, i), &c);
        let e1 = exp16(load(x, i + 16), &c);
        // SAFETY: i + 32 <= n <= out.len().
        unsafe {
            _mm512_storeu_ps(po.add(i), e0);
            _mm512_storeu_ps(po.add(i + 16), e1);
        }
        acc_f64(&mut acc, _mm512_add_ps(e0, e1));
        i += 32;
    }
    while i + 16 <= n {
        let e = exp16(load(x, i), &c);
        // SAFETY: i + 16 <= n <= out.len().
        unsafe { _mm512_storeu_ps(po.add(i), e) };
        acc_f64(&mut acc, e);
        i += 16;
    }
    _mm512_reduce_add_pd(_mm512_add_pd(acc[0], acc[1]))
        + scalar::exp_write(&x[i..n], a, &mut out[i..n])
}

#[target_feature(enable = "avx512f")]
fn scale_k(out: &mut [f32], f: f32) -> bool {
    let fv = _mm512_set1_ps(f);
    let (zero, tiny) = (_mm512_setzero_ps(), _mm512_set1_ps(f32::MIN_POSITIVE));
    let mut sub: __mmask16 = 0;
    let n = out.len();
    let p = out.as_mut_ptr();
    let mut i = 0;
    while i + 16 <= n {
        // SAFETY: i + 16 <= out.len().
        let v = unsafe { _mm512_mul_ps(_mm512_loadu_ps(p.add(i)), fv) };
        // SAFETY: as above.
        unsafe { _mm512_storeu_ps(p.add(i), v) };
        sub |=
            _mm512_cmp_ps_mask::<_CMP_LT_OQ>(v, tiny) & _mm512_cmp_ps_mask::<_CMP_GT_OQ>(v, zero);
        i += 16;
    }
    scalar::scale(&mut out[i..], f) | (sub != 0)
}

#[target_feature(enable = "avx512f")]
fn shift_k(out: &mut [f32], c: f32) {
    let cv = _mm512_set1_ps(c);
    let n = out.len();
    let p = out.as_mut_ptr();
    let mut i = 0;
    while i + 16 <= n {
        // SAFETY: i + 16 <= out.len().
        unsafe { _mm512_storeu_ps(p.add(i), _mm512_sub_ps(_mm512_loadu_ps(p.add(i)), cv)) };
        i += 16;
    }
    scalar::shift(&mut out[i..], c);
}

#[target_feature(enable = "avx512f")]
fn affine_write_k(x: &[f32], a: &Affine, out: &mut [f32]) {
    let (s_hi, s_lo) = (_mm512_set1_ps(a.s_hi), _mm512_set1_ps(a.s_lo));
    let (c_hi, c_lo) = (_mm512_set1_ps(a.c_hi), _mm512_set1_ps(a.c_lo));
    let ninf = _mm512_set1_ps(f32::NEG_INFINITY);
    let n = x.len().min(out.len());
    let po = out.as_mut_ptr();
    let mut i = 0;
    while i + 16 <= n {
        let v = load(x, i);
        let hi = _mm512_fmsub_ps(v, s_hi, c_hi);
        let y = _mm512_sub_ps(_mm512_fmadd_ps(v, s_lo, hi), c_lo);
        let y = _mm512_mask_blend_ps(_mm512_cmp_ps_mask::<_CMP_EQ_OQ>(v, ninf), y, ninf);
        // SAFETY: i + 16 <= n <= out.len().
        unsafe { _mm512_storeu_ps(po.add(i), y) };
        i += 16;
    }
    scalar::affine_write(&x[i..n], a, &mut out[i..n]);
}

#[target_feature(enable = "avx512f")]
fn collect_ge_k(x: &[f32], thr: f32, out: &mut Vec<u32>) {
    let t = _mm512_set1_ps(thr);
    let iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    let n = x.len();
    let mut i = 0;
    while i + 64 <= n {
        let k = [
            _mm512_cmp_ps_mask::<_CMP_GE_OQ>(load(x, i), t),
            _mm512_cmp_ps_mask::<_CMP_GE_OQ>(load(x, i + 16), t),
            _mm512_cmp_ps_mask::<_CMP_GE_OQ>(load(x, i + 32), t),
            _mm512_cmp_ps_mask::<_CMP_GE_OQ>(load(x, i + 48), t),
        ];
        if (k[0] | k[1] | k[2] | k[3]) != 0 {
            // Each mask's indices packed to the front of a vector (vpcompressd) and stored whole;
            // the length then counts only the packed ones: no loop over the bits, whose exits
            // mispredict at a few candidates per 64 logits.
            out.reserve(64);
            let mut len = out.len();
            let p = out.as_mut_ptr();
            for (j, &kj) in k.iter().enumerate() {
                let idx = _mm512_add_epi32(iota, _mm512_set1_epi32((i + 16 * j) as i32));
                // SAFETY: `reserve(64)` leaves at least 64 - (lanes stored so far) free slots
                // past `len` for each 16-lane store; `set_len` below exposes only the packed
                // (initialised) lanes.
                unsafe {
                    _mm512_storeu_si512(p.add(len).cast(), _mm512_maskz_compress_epi32(kj, idx));
                }
                len += kj.count_ones() as usize;
            }
            // SAFETY: the first `len` slots are initialised (above) and within the capacity.
            unsafe { out.set_len(len) };
        }
        i += 64;
    }
    while i + 16 <= n {
        push_bits(
            u64::from(_mm512_cmp_ps_mask::<_CMP_GE_OQ>(load(x, i), t)),
            i,
            out,
        );
        i += 16;
    }
    for (j, &v) in x[i..].iter().enumerate() {
        if v >= thr {
            out.push((i + j) as u32);
        }
    }
}
