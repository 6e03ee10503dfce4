//! AVX2 + FMA kernels (8 lanes). See `simd/mod.rs` for the `exp` algorithm.

use std::arch::x86_64::*;

use super::{push_bits, Affine, ExpArgs, Kernels, LN2_HI, LN2_LO, POLY3, POLY5, SHIFTER};
use crate::scalar;

/// The AVX2 table, if this CPU has AVX2 and FMA.
pub(super) fn table() -> Option<Kernels> {
    if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
        Some(Kernels {
            name: "avx2",
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
    if block < 32 || !block.is_multiple_of(32) {
        return super::block_max_chunks(x, block, out, |c| max_nan_k(c));
    }
    // One streaming loop over the whole row (the NaN flag is kept across blocks and read once):
    // a call of `max_nan_k` per block measured 10-25% slower from memory at 256-logit blocks.
    let n = x.len();
    let full = n / block * block;
    out.reserve(n.div_ceil(block));
    let ninf = _mm256_set1_ps(f32::NEG_INFINITY);
    let mut nan = _mm256_setzero_ps();
    let mut i = 0;
    while i < full {
        let end = i + block;
        let mut m = [ninf; 4];
        while i < end {
            max32(x, i, &mut m, &mut nan);
            i += 32;
        }
        out.push(hmax(_mm256_max_ps(
            _mm256_max_ps(m[0], m[1]),
            _mm256_max_ps(m[2], m[3]),
        )));
    }
    let mut tail_nan = false;
    if full < n {
        let (m, t) = max_nan_k(&x[full..]);
        out.push(m);
        tail_nan = t;
    }
    tail_nan || _mm256_movemask_ps(nan) != 0
}

/// Fold `x[i..i + 32]` into four running maxima and the NaN flag.
#[inline]
#[target_feature(enable = "avx2,fma")]
fn max32(x: &[f32], i: usize, m: &mut [__m256; 4], nan: &mut __m256) {
    let (a, b, c, d) = (load(x, i), load(x, i + 8), load(x, i + 16), load(x, i + 24));
    // max(v, acc) returns acc when v is NaN, so a NaN never replaces the running max.
    m[0] = _mm256_max_ps(a, m[0]);
    m[1] = _mm256_max_ps(b, m[1]);
    m[2] = _mm256_max_ps(c, m[2]);
    m[3] = _mm256_max_ps(d, m[3]);
    *nan = _mm256_or_ps(*nan, _mm256_cmp_ps::<_CMP_UNORD_Q>(a, b));
    *nan = _mm256_or_ps(*nan, _mm256_cmp_ps::<_CMP_UNORD_Q>(c, d));
}

#[inline]
#[target_feature(enable = "avx2,fma")]
fn max_nan_k(x: &[f32]) -> (f32, bool) {
    let n = x.len();
    let mut m = [_mm256_set1_ps(f32::NEG_INFINITY); 4];
    let mut nan = _mm256_setzero_ps();
    let mut i = 0;
    while i + 32 <= n {
        max32(x, i, &mut m, &mut nan);
        i += 32;
    }
    while i + 8 <= n {
        let a = load(x, i);
        m[0] = _mm256_max_ps(a, m[0]);
        nan = _mm256_or_ps(nan, _mm256_cmp_ps::<_CMP_UNORD_Q>(a, a));
        i += 8;
    }
    let m = _mm256_max_ps(_mm256_max_ps(m[0], m[1]), _mm256_max_ps(m[2], m[3]));
    let (tm, tnan) = scalar::max_nan(&x[i..]);
    (hmax(m).max(tm), tnan || _mm256_movemask_ps(nan) != 0)
}

/// Broadcast constants for the vector exp (see `simd/mod.rs`).
struct C {
    lo: __m256,
    s_l2e: __m256,
    c_shift: __m256,
    shifter: __m256,
    d_hi: __m256,
    s_hi: __m256,
    s_lo: __m256,
    /// `VCONSTS`, behind `black_box`: LLVM cannot fold the loads back into broadcasts.
    v: *const f32,
}

#[inline]
#[target_feature(enable = "avx2,fma")]
fn consts(a: &ExpArgs) -> C {
    C {
        lo: _mm256_set1_ps(a.lo),
        s_l2e: _mm256_set1_ps(a.s_l2e),
        c_shift: _mm256_set1_ps(a.c_shift),
        shifter: _mm256_set1_ps(SHIFTER),
        d_hi: _mm256_set1_ps(a.d_hi),
        s_hi: _mm256_set1_ps(a.s_hi),
        s_lo: _mm256_set1_ps(a.s_lo),
        v: std::hint::black_box(VCONSTS.0.as_ptr()).cast(),
    }
}

/// Broadcast global constants as whole 32-byte vectors: `LN2_HI`, `LN2_LO`, then `POLY5`.
#[repr(C, align(32))]
struct Vconsts([[f32; 8]; 8]);
static VCONSTS: Vconsts = Vconsts([
    [LN2_HI; 8],
    [LN2_LO; 8],
    [POLY5[0]; 8],
    [POLY5[1]; 8],
    [POLY5[2]; 8],
    [POLY5[3]; 8],
    [POLY5[4]; 8],
    [POLY5[5]; 8],
]);
const V_LN2_HI: usize = 0;
const V_LN2_LO: usize = 1;
const V_POLY: usize = 2;

/// How `x / T` enters the reduction: `UNIT` when `1/T` is exactly 1 (a subtraction, off the FMA
/// pipes), `EXACT` when `1/T` is another f32, `SPLIT` otherwise (`x · s_hi + x · s_lo`).
const UNIT: u8 = 0;
const EXACT: u8 = 1;
const SPLIT: u8 = 2;

fn scale_kind(a: &ExpArgs) -> u8 {
    if a.s_lo != 0.0 {
        SPLIT
    } else if a.s_hi == 1.0 {
        UNIT
    } else {
        EXACT
    }
}

/// `exp((x - max) / T) / unscale` for 8 lanes (the algorithm of `simd/mod.rs`); `S` is the
/// `scale_kind` of the row.
#[inline]
#[target_feature(enable = "avx2,fma")]
fn exp8<const S: u8>(x: __m256, c: &C) -> __m256 {
    let xc = _mm256_max_ps(x, c.lo);
    // t = 1.5·2^23 + 64 + n, rounded to an integer by the FMA itself.
    let t = _mm256_fmadd_ps(xc, c.s_l2e, c.c_shift);
    let nf = _mm256_sub_ps(t, c.shifter);
    let vconst = |k: usize| {
        // SAFETY: `c.v` points to `VCONSTS`, rows of 8 f32, 32-byte aligned.
        unsafe { _mm256_load_ps(c.v.add(8 * k)) }
    };
    let big = _mm256_fmadd_ps(nf, vconst(V_LN2_HI), c.d_hi);
    let q = if S == UNIT {
        _mm256_sub_ps(xc, big)
    } else {
        _mm256_fmsub_ps(xc, c.s_hi, big)
    };
    let mut r = _mm256_fnmadd_ps(nf, vconst(V_LN2_LO), q);
    if S == SPLIT {
        r = _mm256_fmadd_ps(xc, c.s_lo, r);
    }
    // Global constants (not per row), read as whole vectors: LLVM folds them into the FMAs as
    // memory operands instead of re-broadcasting a scalar per use or spilling loop state.
    let cf = |k: usize| vconst(V_POLY + k);
    let mut p = _mm256_fmadd_ps(cf(5), r, cf(4));
    p = _mm256_fmadd_ps(p, r, cf(3));
    p = _mm256_fmadd_ps(p, r, cf(2));
    p = _mm256_fmadd_ps(p, r, cf(1));
    p = _mm256_fmadd_ps(p, r, cf(0));
    // The low bits of t hold n + 64: t << 23 is n + 64 in the exponent field (mod 2^32).
    let e = _mm256_slli_epi32::<23>(_mm256_castps_si256(t));
    _mm256_castsi256_ps(_mm256_add_epi32(_mm256_castps_si256(p), e))
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

/// Elements per f64 flush: eight vectors are summed in f32 first (at most seven f32 roundings per
/// element, 4.2e-7 relative in the worst case).
const FLUSH: usize = 64;

/// Keep LLVM from interleaving consecutive loop iterations. The exp holds ~14 constants and
/// several temporaries; with the default (generic) scheduling model, unrolled and interleaved
/// iterations spill to the stack and shuffle registers, which measured 15-25% slower than one
/// vector per iteration, which the out-of-order core overlaps on its own.
#[inline(always)]
fn one_at_a_time() {
    // SAFETY: an empty asm block: no instructions, no memory, no stack.
    unsafe { std::arch::asm!("", options(nostack, preserves_flags)) };
}

/// The exp loops: `f(i, e)` receives the exp of `x[i..i + 8]`, for every full vector; returns the
/// f64 sum of all of them (eight-vector f32 partial sums, then f64) and the first index not done.
#[inline(always)]
fn exp_loop<const S: u8>(
    x: &[f32],
    c: &C,
    mut f: impl FnMut(usize, __m256, __m256),
) -> (f64, usize) {
    // SAFETY (the target_feature calls below): callers are `#[target_feature(enable =
    // "avx2,fma")]` functions, reached only after the features were detected.
    unsafe {
        let n = x.len();
        let mut acc = [_mm256_setzero_pd(); 2];
        let mut s = _mm256_setzero_ps();
        let mut i = 0;
        while i + 8 <= n {
            let v = load(x, i);
            let e = exp8::<S>(v, c);
            f(i, v, e);
            s = _mm256_add_ps(s, e);
            one_at_a_time();
            i += 8;
            if i % FLUSH == 0 {
                acc_f64(&mut acc, s);
                s = _mm256_setzero_ps();
            }
        }
        acc_f64(&mut acc, s);
        (hsum_f64(acc), i)
    }
}

#[target_feature(enable = "avx2,fma")]
fn exp_sum_k(x: &[f32], a: &ExpArgs) -> f64 {
    let c = consts(a);
    let (s, i) = match scale_kind(a) {
        UNIT => exp_loop::<UNIT>(x, &c, |_, _, _| {}),
        EXACT => exp_loop::<EXACT>(x, &c, |_, _, _| {}),
        _ => exp_loop::<SPLIT>(x, &c, |_, _, _| {}),
    };
    s + scalar::exp_sum(&x[i..], a)
}

/// The fast exp's global constants as whole vectors: `ln 2` (f32), then `POLY3`.
#[repr(C, align(32))]
struct FastConsts([[f32; 8]; 5]);
static FAST: FastConsts = FastConsts([
    [std::f32::consts::LN_2; 8],
    [POLY3[0]; 8],
    [POLY3[1]; 8],
    [POLY3[2]; 8],
    [POLY3[3]; 8],
]);

/// `exp((x - max) / T) / unscale` within `fast_exp_eps` (see `simd/mod.rs`): the same `n`, scale
/// and clamp as `exp8`, but the argument in one rounding (`x·s_hi - D_hi`, no `x·s_lo`, one-word
/// `ln 2`) and the degree-3 `POLY3`: 6 FMAs instead of 9-10, and a dependency chain of 25 cycles
/// instead of 45, which is what bounds this loop.
#[inline]
#[target_feature(enable = "avx2,fma")]
fn exp8_fast(x: __m256, c: &C, f: *const f32) -> __m256 {
    let fc = |k: usize| {
        // SAFETY: `f` points to `FAST`, rows of 8 f32, 32-byte aligned.
        unsafe { _mm256_load_ps(f.add(8 * k)) }
    };
    let xc = _mm256_max_ps(x, c.lo);
    let t = _mm256_fmadd_ps(xc, c.s_l2e, c.c_shift);
    let a = _mm256_fmsub_ps(xc, c.s_hi, c.d_hi);
    let nf = _mm256_sub_ps(t, c.shifter);
    let r = _mm256_fnmadd_ps(nf, fc(0), a);
    let mut p = _mm256_fmadd_ps(fc(4), r, fc(3));
    p = _mm256_fmadd_ps(p, r, fc(2));
    p = _mm256_fmadd_ps(p, r, fc(1));
    let e = _mm256_slli_epi32::<23>(_mm256_castps_si256(t));
    _mm256_castsi256_ps(_mm256_add_epi32(_mm256_castps_si256(p), e))
}

#[target_feature(enable = "avx2,fma")]
fn exp_sum_fast_k(x: &[f32], a: &ExpArgs) -> f64 {
    let c = consts(a);
    let f: *const f32 = std::hint::black_box(FAST.0.as_ptr()).cast();
    let n = x.len();
    let mut acc = [_mm256_setzero_pd(); 2];
    let (mut s0, mut s1) = (_mm256_setzero_ps(), _mm256_setzero_ps());
    let mut i = 0;
    // Four vectors per step (the short chain leaves registers for them: 1.6 against 2.2 ns per
    // vector for two per step); eight vectors per f32 partial sum, as in `exp_loop`.
    while i + 32 <= n {
        let e0 = exp8_fast(load(x, i), &c, f);
        let e1 = exp8_fast(load(x, i + 8), &c, f);
        let e2 = exp8_fast(load(x, i + 16), &c, f);
        let e3 = exp8_fast(load(x, i + 24), &c, f);
        s0 = _mm256_add_ps(s0, _mm256_add_ps(e0, e1));
        s1 = _mm256_add_ps(s1, _mm256_add_ps(e2, e3));
        i += 32;
        if i % FLUSH == 0 {
            acc_f64(&mut acc, _mm256_add_ps(s0, s1));
            (s0, s1) = (_mm256_setzero_ps(), _mm256_setzero_ps());
        }
    }
    while i < n {
        // The last 1-31 logits, 8 at a time; a short vector is padded with -inf, which the clamp
        // turns into a term below 1e-47 of the row max's.
        let mut pad = [f32::NEG_INFINITY; 8];
        let m = (n - i).min(8);
        pad[..m].copy_from_slice(&x[i..i + m]);
        s0 = _mm256_add_ps(s0, exp8_fast(load(&pad, 0), &c, f));
        i += m;
    }
    acc_f64(&mut acc, _mm256_add_ps(s0, s1));
    hsum_f64(acc)
}

#[target_feature(enable = "avx2,fma")]
fn exp_write_k(x: &[f32], a: &ExpArgs, out: &mut [f32]) -> f64 {
    let c = consts(a);
    let n = x.len().min(out.len());
    let x = &x[..n];
    // No running sum here (with the store it would not fit in registers and spill): the sum is
    // taken afterwards from the output, which is still in L1.
    let i = match scale_kind(a) {
        UNIT => exp_store::<UNIT>(x, &c, out),
        EXACT => exp_store::<EXACT>(x, &c, out),
        _ => exp_store::<SPLIT>(x, &c, out),
    };
    let tail = scalar::exp_write(&x[i..n], a, &mut out[i..n]);
    sum_k(&out[..i]) + tail
}

/// Write the exp of every full vector of `x` to `out`; return the first index not done.
#[inline]
#[target_feature(enable = "avx2,fma")]
fn exp_store<const S: u8>(x: &[f32], c: &C, out: &mut [f32]) -> usize {
    let n = x.len().min(out.len());
    let po = out.as_mut_ptr();
    let mut i = 0;
    while i + 8 <= n {
        let e = exp8::<S>(load(x, i), c);
        // SAFETY: i + 8 <= n <= out.len().
        unsafe { _mm256_storeu_ps(po.add(i), e) };
        one_at_a_time();
        i += 8;
    }
    i
}

/// Sum in f64 of f32 values (eight-vector f32 partial sums, like `exp_loop`).
#[inline]
#[target_feature(enable = "avx2,fma")]
fn sum_k(x: &[f32]) -> f64 {
    let n = x.len();
    let mut acc = [_mm256_setzero_pd(); 2];
    let mut i = 0;
    while i + FLUSH <= n {
        let v: [__m256; 8] = std::array::from_fn(|j| load(x, i + 8 * j));
        let s = _mm256_add_ps(
            _mm256_add_ps(_mm256_add_ps(v[0], v[1]), _mm256_add_ps(v[2], v[3])),
            _mm256_add_ps(_mm256_add_ps(v[4], v[5]), _mm256_add_ps(v[6], v[7])),
        );
        acc_f64(&mut acc, s);
        i += FLUSH;
    }
    while i + 8 <= n {
        acc_f64(&mut acc, load(x, i));
        i += 8;
    }
    hsum_f64(acc) + x[i..].iter().map(|&v| f64::from(v)).sum::<f64>()
}

#[target_feature(enable = "avx2,fma")]
fn scale_k(out: &mut [f32], f: f32) -> bool {
    let fv = _mm256_set1_ps(f);
    let (zero, tiny) = (_mm256_setzero_ps(), _mm256_set1_ps(f32::MIN_POSITIVE));
    let mut sub = _mm256_setzero_ps();
    let n = out.len();
    let p = out.as_mut_ptr();
    let mut i = 0;
    while i + 8 <= n {
        // SAFETY: i + 8 <= out.len().
        let v = unsafe { _mm256_mul_ps(_mm256_loadu_ps(p.add(i)), fv) };
        // SAFETY: as above.
        unsafe { _mm256_storeu_ps(p.add(i), v) };
        let s = _mm256_and_ps(
            _mm256_cmp_ps::<_CMP_LT_OQ>(v, tiny),
            _mm256_cmp_ps::<_CMP_GT_OQ>(v, zero),
        );
        sub = _mm256_or_ps(sub, s);
        i += 8;
    }
    scalar::scale(&mut out[i..], f) | (_mm256_movemask_ps(sub) != 0)
}

#[target_feature(enable = "avx2,fma")]
fn shift_k(out: &mut [f32], c: f32) {
    let cv = _mm256_set1_ps(c);
    let n = out.len();
    let p = out.as_mut_ptr();
    let mut i = 0;
    while i + 8 <= n {
        // SAFETY: i + 8 <= out.len().
        unsafe { _mm256_storeu_ps(p.add(i), _mm256_sub_ps(_mm256_loadu_ps(p.add(i)), cv)) };
        i += 8;
    }
    scalar::shift(&mut out[i..], c);
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
            out.reserve(32);
            for (j, k) in [k0, k1, k2, k3].into_iter().enumerate() {
                left_pack(_mm256_movemask_ps(k) as u32, i + 8 * j, out);
            }
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

/// For each 8-bit mask, the positions of its set bits, packed (unused bytes 0).
const PACK: [u64; 256] = {
    let mut t = [0u64; 256];
    let mut m = 0;
    while m < 256 {
        let (mut b, mut k, mut v) = (0, 0, 0u64);
        while b < 8 {
            if m & (1 << b) != 0 {
                v |= (b as u64) << (8 * k);
                k += 1;
            }
            b += 1;
        }
        t[m] = v;
        m += 1;
    }
    t
};

/// Append `base + b` for every set bit `b` of the 8-bit `mask`, lowest first, without a branch
/// per bit: all eight lanes are stored (at most 8 free slots are needed) and the length advances
/// by the popcount.
#[inline]
#[target_feature(enable = "avx2,fma")]
fn left_pack(mask: u32, base: usize, out: &mut Vec<u32>) {
    debug_assert!(mask < 256 && out.capacity() - out.len() >= 8);
    let lanes = _mm256_cvtepu8_epi32(_mm_cvtsi64_si128(PACK[(mask & 255) as usize] as i64));
    let v = _mm256_add_epi32(lanes, _mm256_set1_epi32(base as i32));
    let len = out.len();
    if out.capacity() - len < 8 {
        out.reserve(8);
    }
    // SAFETY: at least 8 free slots (checked above); the first popcount(mask) stored lanes are
    // the indices, initialised before `set_len` exposes them.
    unsafe {
        _mm256_storeu_si256(out.as_mut_ptr().add(len).cast(), v);
        out.set_len(len + mask.count_ones() as usize);
    }
}
