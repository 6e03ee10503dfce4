//! Runtime-dispatched SIMD kernels.
//!
//! Design notes: each ISA lives in its own file with `#[target_feature]` functions; [`kernels`]
//! picks the widest table the running CPU supports, once (AVX-512F > AVX2+FMA on x86-64, NEON on
//! aarch64, else the scalar reference). No global `target-cpu` is needed, so one wheel runs
//! everywhere. The environment variable `TOKENMILL_SIMD` (`scalar`, `avx2`, `avx512`, `neon`,
//! `auto`) forces a table, read once at the first dispatch; a set this CPU cannot run, or an
//! unknown name, falls back to the widest with one warning on stderr (see [`choose`]).
//!
//! Every exp kernel returns `exp((x - max) / T) / unscale`, where `ExpArgs::unscale` is a per-row
//! constant (`2^-64 · e^(-D_lo) · 2^(-δ)`, see below): the 2^64 bias keeps every result of the
//! clamped range normal, so the fast `2^n` scaling (an integer add to the exponent field) never
//! meets the subnormal range, and the other two factors are what the reduction leaves over. A
//! consumer that needs true values multiplies by `unscale` once, in f64 or folded into a later
//! scale (softmax: where a subnormal result then rounds once).
//!
//! The AVX2 exp (`avx2.rs`; 13 vector ops, 8 to 10 on the FMA pipes, no branch, no blend):
//! * clamp `x` below at `lo = max - 110 T` (this maps `-inf` to a finite value whose exp, biased
//!   by 2^64, is still normal and, unbiased, rounds to 0);
//! * `t = x · (log2 e / T) + C` in one FMA, where `C = 1.5·2^23 + 64 - round(M log2 e)` is an
//!   integer (`M = max / T`): `t` rounds to the integer `1.5·2^23 + 64 + n` with `n ≈ a log2 e +
//!   δ`, `a = (x - max) / T` and `δ = C - 1.5·2^23 - 64 + M log2 e ∈ [-1/2, 1/2]` a per-row
//!   constant; the low mantissa bits of `t` are `n + 64`;
//! * reduced argument `r = x·s_hi - (D_hi + n·ln2_hi) - n·ln2_lo (+ x·s_lo)` with `D = M - δ ln2 =
//!   D_hi + D_lo`, `D_hi` a multiple of 2^-9 and `ln2_hi` = 355/512: `D_hi + n·ln2_hi` is exact in
//!   f32 (multiples of 2^-9 below 2^15), so the fused multiply-subtract rounds once, on a number
//!   below 0.36 in magnitude (argument error ~3e-8 absolute, where the naive `(x - max) · s` loses
//!   up to ~4e-6 for `a` near -87); the `x·s_lo` FMA is skipped when `1/T` is an f32, and
//!   `x·s_hi` is a plain subtraction (off the FMA pipes) when `1/T` is 1;
//! * `exp(a) = 2^(n + 64) · p(r) · unscale` with `p` the degree-5 polynomial `POLY5` (minimax
//!   relative error on `|r| <= 1.01 ln2/2`; `r` is centred by the shift `δ`, so no separate
//!   rounding instruction is needed, and `D_lo` is never subtracted: both end up in `unscale`);
//! * `2^(n + 64)` is applied by adding `t << 23` to the bits of `p(r)` (exact: results stay normal,
//!   `n >= -160` after the clamp).
//!
//! AVX-512 (`avx512.rs`) runs the same exp on 16 lanes (always the split form). NEON
//! (`neon.rs`; tested on aarch64, or on x86-64 under qemu-aarch64 by `scripts/dev neon`) keeps the
//! longer form: `n = round(a log2 e)` by a rounding instruction, the exact reduction above with
//! `M` split instead of `D`, the degree-6 polynomial `POLY` on `|r| <= ln2/2`, `2^(n + 64)` as
//! two exact power-of-two multiplies, then one multiply by `k_f32` (the f32 nearest `1 /
//! (2^64 unscale)`) to carry the common scale.
//!
//! Relative error against the float64 reference (`exp(a) / unscale` computed in f64, rounded
//! once): <= 1e-6 for every result whose true value is a normal `f32`. Measured worst over 480
//! rows of 40,000 logits (dense sweeps and random logits down to `a = -130`, six temperatures
//! from 0.013 to 3.3): 2.1e-7 for the AVX2 exp, 6.0e-8 (the final rounding) for the scalar
//! reference. Budget: polynomial 8e-8, f32 Horner ~1e-7, argument 3e-8, final rounding 6e-8.
//! Tested in `tests` below and in `tests/test_sampling.py`. AVX2 sums accumulate eight vectors
//! in f32 (at most seven roundings per term, 4.2e-7 relative in the worst case, ~1e-8 in
//! practice), then f64, in a fixed order: results are deterministic for a given ISA and do not
//! depend on threading.

#[cfg(target_arch = "x86_64")]
mod avx2;
#[cfg(target_arch = "x86_64")]
mod avx512;
#[cfg(target_arch = "aarch64")]
mod neon;

use std::sync::OnceLock;

/// Range-reduction constants for `exp((x - max) / T)` over one row.
#[derive(Clone, Copy, Debug)]
pub struct ExpArgs {
    /// Row maximum (finite).
    pub max: f32,
    /// `1 / T` in f64 (the scalar reference uses this).
    pub inv_t: f64,
    pub(crate) lo: f32,
    pub(crate) s_hi: f32,
    pub(crate) s_lo: f32,
    /// `log2(e) / T` and `log2(e) · max / T`: `n = round(x · s_l2e - m_l2e)`.
    pub(crate) s_l2e: f32,
    #[cfg_attr(not(target_arch = "aarch64"), allow(dead_code))]
    pub(crate) m_l2e: f32,
    #[cfg_attr(not(target_arch = "aarch64"), allow(dead_code))]
    pub(crate) m_hi: f32,
    #[cfg_attr(not(target_arch = "aarch64"), allow(dead_code))]
    pub(crate) m_lo: f32,
    /// `1.5·2^23 + 64 - round(M log2 e)` (an integer-valued f32) and `D_hi` (see the module notes;
    /// read by the AVX2 kernels only).
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
    pub(crate) c_shift: f32,
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
    pub(crate) d_hi: f32,
    /// What every exp kernel's output carries: kernels return `exp((x - max) / T) / unscale`
    /// (`unscale = 2^-64 · e^(-D_lo) · 2^(-δ)`, see the module notes); multiply by it, in f64, for
    /// true values.
    pub unscale: f64,
    /// `1 / (2^64 · unscale)` rounded to f32: the factor the NEON kernels apply.
    #[cfg_attr(not(target_arch = "aarch64"), allow(dead_code))]
    pub(crate) k_f32: f32,
    /// Whether the SIMD range reduction is exact for this row (`|max / T| < 2^14`).
    pub(crate) simd_ok: bool,
}

/// The bias in the exponent of every exp kernel's output (see the module notes).
#[cfg_attr(not(target_arch = "aarch64"), allow(dead_code))]
pub(crate) const EXP_BIAS: i32 = 64;
/// `1.5 · 2^23 + EXP_BIAS`: adding `1.5 · 2^23` to a float below 2^22 in magnitude rounds it to
/// an integer held in the low mantissa bits; the extra `EXP_BIAS` lands in the exponent field
/// with `n` (see `avx2.rs`).
pub(crate) const SHIFTER: f32 = 12_582_976.0;
/// Degree-5 polynomial for `exp(r)` on `|r| <= 1.01 · ln2/2`, fitted here for minimax relative
/// error (Lawson iteration, float64; 8.0e-8 in exact arithmetic), coefficients rounded to f32.
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
pub(crate) const POLY5: [f32; 6] = [
    1.000_000_1,
    0.999_999_7,
    0.499_988_5,
    0.166_676_12,
    0.041_920_353,
    0.008_296_94,
];

/// Degree-3 polynomial for `exp(r)` on `|r| <= 0.3605` (`ln2/2` with 4% room for the rounding of
/// `n`), fitted here for minimax relative error (Lawson iteration, float64): 8.76e-5, the same
/// with float32 coefficients and FMA Horner steps (checked on 2M points). Used by the fast sums
/// only (`Kernels::exp_sum_fast`).
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
pub(crate) const POLY3: [f32; 4] = [0.999_916_1, 1.000_192_2, 0.505_365_8, 0.165_586_07];

/// The relative error bound of every term of an `exp_sum_fast` kernel for the row constants `a`:
/// the polynomial (8.76e-5), the single rounding of the reduced argument `x·s_hi - D_hi` (below
/// 128 in magnitude: 3.9e-6), the dropped `x·s_lo` (at most `2^-24 |x / T|`, with `|x / T| <=
/// |max / T| + 110` after the clamp), `n·(ln2 - ln2_f32)` (`|n| <= 230`: 5e-7) and the other
/// roundings, rounded up. Exact terms (the scalar fallback) are within it too.
#[must_use]
pub fn fast_exp_eps(a: &ExpArgs) -> f64 {
    1.0e-4 + 6.0e-8 * (f64::from(a.max).abs() * a.inv_t + 120.0)
}

pub(crate) const LN2_HI: f32 = 355.0 / 512.0; // 355/512: n * LN2_HI is exact for |n| < 2^15
pub(crate) const LN2_LO: f32 = -2.121_944_4e-4; // ln 2 - LN2_HI
/// Degree-6 polynomial for `exp(r)` on `|r| <= 0.347`, fitted for minimax relative error
/// (Lawson iteration, float64): 1.9e-9 in exact arithmetic, 7.4e-8 with float32 Horner/FMA
/// (the Taylor polynomial of degree 7 reaches the same in one more FMA).
#[cfg_attr(not(target_arch = "aarch64"), allow(dead_code))]
pub(crate) const POLY: [f32; 7] = [
    1.0,
    1.0,
    0.499_999_9,
    0.166_664_18,
    0.041_668_233,
    0.008_374_917,
    0.001_383_671_8,
];

impl ExpArgs {
    /// Constants for `exp((x - max) * inv_t)`; `max` finite, `inv_t` finite and positive.
    #[must_use]
    pub fn new(max: f32, inv_t: f64) -> Self {
        let s_hi = inv_t as f32;
        let s_lo = (inv_t - f64::from(s_hi)) as f32;
        let ms = f64::from(max) * inv_t;
        let m_hi = ((ms * 512.0).round() / 512.0) as f32;
        let m_lo = (ms - f64::from(m_hi)) as f32;
        let lo = (f64::from(max) - 110.0 / inv_t).max(-f64::from(f32::MAX)) as f32;
        let ml = ms * std::f64::consts::LOG2_E;
        let c_shift = (f64::from(SHIFTER) - ml) as f32;
        let delta = f64::from(c_shift) - f64::from(SHIFTER) + ml;
        let d = ms - delta * std::f64::consts::LN_2;
        let simd_ok = ms.abs() < 16384.0
            && d.abs() < 16384.0
            && s_hi.is_normal()
            && (f64::from(lo) * inv_t).abs() < 32768.0
            && f64::from(max) * inv_t - f64::from(lo) * inv_t <= 120.0;
        // exp(a) = 2^(n + 64) p(r) · 2^-64 e^(-D_lo) 2^(-δ). Rows outside the SIMD range use the
        // scalar reference, which then carries the plain 2^64 bias.
        let (d_hi, shift) = if simd_ok {
            let d_hi = ((d * 512.0).round() / 512.0) as f32;
            (d_hi, d - f64::from(d_hi) + delta * std::f64::consts::LN_2)
        } else {
            (0.0, 0.0)
        };
        let unscale = (-shift).exp() / 18_446_744_073_709_551_616.0;
        let k_f32 = shift.exp() as f32;
        ExpArgs {
            max,
            inv_t,
            lo,
            s_hi,
            s_lo,
            s_l2e: (inv_t * std::f64::consts::LOG2_E) as f32,
            m_l2e: (ms * std::f64::consts::LOG2_E) as f32,
            m_hi,
            m_lo,
            c_shift,
            d_hi,
            unscale,
            k_f32,
            simd_ok,
        }
    }
}

/// Constants for the log-softmax write `out = x / T - c`.
#[derive(Clone, Copy, Debug)]
pub struct Affine {
    pub(crate) s: f64,
    pub(crate) c: f64,
    pub(crate) s_hi: f32,
    pub(crate) s_lo: f32,
    pub(crate) c_hi: f32,
    pub(crate) c_lo: f32,
}

impl Affine {
    /// `out = x * s - c`.
    #[must_use]
    pub fn new(s: f64, c: f64) -> Self {
        let s_hi = s as f32;
        let c_hi = c as f32;
        Affine {
            s,
            c,
            s_hi,
            s_lo: (s - f64::from(s_hi)) as f32,
            c_hi,
            c_lo: (c - f64::from(c_hi)) as f32,
        }
    }
}

/// One ISA's kernels. Every entry computes what the same-named function in `scalar` computes.
#[derive(Clone, Copy)]
pub struct Kernels {
    /// ISA name: "avx512", "avx2", "neon" or "scalar".
    pub name: &'static str,
    /// Largest non-NaN value and whether a NaN was seen.
    pub max_nan: fn(&[f32]) -> (f32, bool),
    /// Push the max of each `block`-long chunk (the last may be shorter); return whether a NaN
    /// was seen.
    pub block_max: fn(&[f32], usize, &mut Vec<f32>) -> bool,
    /// `sum(exp((x - max) / T))` in f64.
    pub exp_sum: fn(&[f32], &ExpArgs) -> f64,
    /// An approximate `exp_sum` for sums that only need a known error bound (the top-p
    /// normaliser, see `sample.rs`): every term, full vector or tail alike, is within
    /// [`fast_exp_eps`] relative of the exact one and depends only on its logit and the
    /// `ExpArgs` (the same logit gives the same term wherever it sits in `x`). `None` where the
    /// ISA has no faster exp than `exp_sum`.
    pub exp_sum_fast: Option<fn(&[f32], &ExpArgs) -> f64>,
    /// Write `exp((x - max) / T)`, return the sum.
    pub exp_write: fn(&[f32], &ExpArgs, &mut [f32]) -> f64,
    /// Multiply in place; return whether any result is subnormal (nonzero, below
    /// `f32::MIN_POSITIVE`).
    pub scale: fn(&mut [f32], f32) -> bool,
    /// Write `x * s - c` (`-inf` stays `-inf`).
    pub affine_write: fn(&[f32], &Affine, &mut [f32]),
    /// Subtract `c` in place (one f32 rounding per value, so every ISA agrees bit for bit).
    pub shift: fn(&mut [f32], f32),
    /// Append the indices of `x >= thr`, increasing.
    pub collect_ge: fn(&[f32], f32, &mut Vec<u32>),
}

impl Kernels {
    /// `exp_sum`, falling back to the scalar reference when the SIMD reduction does not apply.
    #[inline]
    pub fn exp_sum_row(&self, x: &[f32], a: &ExpArgs) -> f64 {
        if a.simd_ok {
            (self.exp_sum)(x, a)
        } else {
            crate::scalar::exp_sum(x, a)
        }
    }

    /// `fast(x, a)` (an `exp_sum_fast` kernel), falling back to the scalar reference (exact,
    /// so within any bound) when the SIMD reduction does not apply. Per-term determinism holds
    /// for a fixed `a`.
    #[inline]
    pub fn exp_sum_fast_row(fast: fn(&[f32], &ExpArgs) -> f64, x: &[f32], a: &ExpArgs) -> f64 {
        if a.simd_ok {
            fast(x, a)
        } else {
            crate::scalar::exp_sum(x, a)
        }
    }

    /// `exp_write`, falling back to the scalar reference when the SIMD reduction does not apply.
    #[inline]
    pub fn exp_write_row(&self, x: &[f32], a: &ExpArgs, out: &mut [f32]) -> f64 {
        if a.simd_ok {
            (self.exp_write)(x, a, out)
        } else {
            crate::scalar::exp_write(x, a, out)
        }
    }
}

/// Append `base + b` for every set bit `b` of a compare mask, lowest first.
#[inline]
#[allow(dead_code)] // unused on targets with no vector ISA
pub(crate) fn push_bits(mut bits: u64, base: usize, out: &mut Vec<u32>) {
    while bits != 0 {
        out.push((base + bits.trailing_zeros() as usize) as u32);
        bits &= bits - 1;
    }
}

/// `block_max` by one `max_nan` call per chunk (blocks the streaming loops do not cover).
#[inline]
#[allow(dead_code)] // unused on targets with no vector ISA
pub(crate) fn block_max_chunks(
    x: &[f32],
    block: usize,
    out: &mut Vec<f32>,
    max_nan: impl Fn(&[f32]) -> (f32, bool),
) -> bool {
    let mut nan = false;
    for c in x.chunks(block.max(1)) {
        let (m, n) = max_nan(c);
        out.push(m);
        nan |= n;
    }
    nan
}

/// Every kernel table this CPU can run, widest first, scalar last (used by the equivalence tests
/// and benches).
#[must_use]
pub fn available() -> Vec<Kernels> {
    let mut v = Vec::new();
    #[cfg(target_arch = "x86_64")]
    {
        v.extend(avx512::table());
        v.extend(avx2::table());
    }
    #[cfg(target_arch = "aarch64")]
    {
        v.extend(neon::table());
    }
    v.push(crate::scalar::TABLE);
    v
}

/// The environment variable that forces a kernel table: `scalar`, `avx2`, `avx512` or `neon`
/// (unset, empty or `auto`: the widest this CPU runs). Read once, at the first dispatch.
pub const SIMD_ENV: &str = "TOKENMILL_SIMD";

/// The table a `TOKENMILL_SIMD` value selects among `usable` (widest first, scalar last), and a
/// warning when the request cannot be honoured: a name this CPU cannot run, or no known name,
/// falls back to the widest usable table (a forced ISA never makes the library fail).
#[must_use]
pub fn choose(request: Option<&str>, usable: &[Kernels]) -> (Kernels, Option<String>) {
    let widest = usable.first().copied().unwrap_or(crate::scalar::TABLE);
    let want = request.map(str::trim).unwrap_or("").to_ascii_lowercase();
    if want.is_empty() || want == "auto" {
        return (widest, None);
    }
    if let Some(k) = usable.iter().find(|k| k.name == want) {
        return (*k, None);
    }
    let names: Vec<&str> = usable.iter().map(|k| k.name).collect();
    let why = if ["avx512", "avx2", "neon", "scalar"].contains(&want.as_str()) {
        "is not usable on this CPU"
    } else {
        "is not a known kernel set (auto, scalar, avx2, avx512, neon)"
    };
    let msg = format!(
        "{SIMD_ENV}={want} {why}; usable here: {}; using {}",
        names.join(", "),
        widest.name
    );
    (widest, Some(msg))
}

fn dispatch() -> &'static (Kernels, Option<String>) {
    static K: OnceLock<(Kernels, Option<String>)> = OnceLock::new();
    K.get_or_init(|| {
        let request = std::env::var(SIMD_ENV).ok();
        let chosen = choose(request.as_deref(), &available());
        if let Some(msg) = &chosen.1 {
            eprintln!("tokenmill: warning: {msg}");
        }
        chosen
    })
}

/// The kernel table in use, chosen once: the one `TOKENMILL_SIMD` names if this CPU runs it,
/// else the widest this CPU supports (see [`choose`]).
#[must_use]
pub fn kernels() -> &'static Kernels {
    &dispatch().0
}

/// The warning printed (once, to stderr) when `TOKENMILL_SIMD` asked for a kernel set that was
/// not used; `None` when it was honoured or not set.
#[must_use]
pub fn dispatch_warning() -> Option<&'static str> {
    dispatch().1.as_deref()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn reference_exp(x: f32, m: f32, inv_t: f64) -> f64 {
        if x == f32::NEG_INFINITY {
            0.0
        } else {
            ((f64::from(x) - f64::from(m)) * inv_t).exp()
        }
    }

    fn check_exp(k: &Kernels, x: &[f32], t: f64) {
        let (m, nan) = (k.max_nan)(x);
        assert!(!nan);
        if !m.is_finite() {
            return;
        }
        let a = ExpArgs::new(m, 1.0 / t);
        let mut out = vec![0.0f32; x.len()];
        let s = k.exp_write_row(x, &a, &mut out) * a.unscale;
        let mut ref_sum = 0.0f64;
        for (i, (&o, &v)) in out.iter().zip(x).enumerate() {
            let o = f64::from(o) * a.unscale;
            let r = reference_exp(v, m, 1.0 / t);
            ref_sum += r;
            if r >= f64::from(f32::MIN_POSITIVE) {
                let rel = (o - r).abs() / r;
                assert!(
                    rel <= 1e-6,
                    "{} i={i} x={v} m={m} t={t}: {o} vs {r}",
                    k.name
                );
            } else {
                // Unbiased, this is a subnormal f32 (spacing 1.4e-45); the biased kernels keep
                // full relative precision here instead.
                assert!(
                    (o - r).abs() <= 1.5e-45 || (o - r).abs() <= 1e-6 * r,
                    "{} x={v}: {o} vs {r}",
                    k.name
                );
            }
        }
        assert!(
            (s - ref_sum).abs() <= 1e-6 * ref_sum,
            "{}: {s} vs {ref_sum}",
            k.name
        );
        let s2 = k.exp_sum_row(x, &a) * a.unscale;
        assert!((s2 - ref_sum).abs() <= 1e-6 * ref_sum, "{}", k.name);
        if let Some(fast) = k.exp_sum_fast {
            check_fast(k.name, fast, x, &a);
        }
    }

    /// Bound of the terms the fast kernels add for padding (-inf, clamped to `max - 110 T`): at
    /// most 15 lanes (AVX-512; AVX2 pads 7), each `e^-110 < 1.7e-48` of the row max's term.
    const PAD: f64 = 16.0 * 1.7e-48;

    /// The fast sum within `fast_exp_eps` of the exact one, as a whole and term by term (each
    /// logit alone, which goes through the padded tail).
    fn check_fast(name: &str, fast: fn(&[f32], &ExpArgs) -> f64, x: &[f32], a: &ExpArgs) {
        let eps = fast_exp_eps(a);
        let exact: Vec<f64> = x
            .iter()
            .map(|&v| f64::from(crate::scalar::exp_one(v, a)) * a.unscale)
            .collect();
        let want: f64 = exact.iter().sum();
        let got = Kernels::exp_sum_fast_row(fast, x, a) * a.unscale;
        assert!(
            (got - want).abs() <= (eps + 1e-6) * want + PAD,
            "{name} fast sum: {got} vs {want} (eps {eps:e})"
        );
        for (&v, &e) in x.iter().zip(&exact) {
            let one = Kernels::exp_sum_fast_row(fast, &[v], a) * a.unscale;
            assert!(
                (one - e).abs() <= eps * e + PAD,
                "{name} fast term x={v} max={} 1/T={}: {one} vs {e} (eps {eps:e})",
                a.max,
                a.inv_t
            );
        }
    }

    fn special() -> impl Strategy<Value = f32> {
        prop_oneof![
            4 => -30.0f32..30.0,
            1 => Just(f32::NEG_INFINITY),
            1 => -1e30f32..-1e3,
            1 => prop_oneof![Just(1e-40f32), Just(-1e-42f32), Just(0.0f32), Just(-0.0f32)],
            1 => -200.0f32..200.0,
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        #[test]
        fn every_isa_matches_scalar(
            x in proptest::collection::vec(special(), 0..300),
            // 1 (1/T = 1), 0.5 and 4 (1/T another f32), others (1/T split in two f32).
            t in prop_oneof![Just(1.0f64), 0.05f64..5.0, Just(0.7f64), Just(0.5f64), Just(4.0f64)],
            thr in -50.0f32..50.0,
        ) {
            let scalar = crate::scalar::TABLE;
            for k in available() {
                // max and NaN flag: exact.
                prop_assert_eq!((k.max_nan)(&x), (scalar.max_nan)(&x), "{}", k.name);
                for block in [1usize, 8, 33, 64, 128, 256, 4096] {
                    let (mut a, mut b) = (Vec::new(), Vec::new());
                    let na = (k.block_max)(&x, block, &mut a);
                    let nb = (scalar.block_max)(&x, block, &mut b);
                    prop_assert_eq!((na, a), (nb, b), "{}", k.name);
                }
                // collect: exact.
                let (mut a, mut b) = (Vec::new(), Vec::new());
                (k.collect_ge)(&x, thr, &mut a);
                (scalar.collect_ge)(&x, thr, &mut b);
                prop_assert_eq!(&a, &b, "{}", k.name);
                (k.collect_ge)(&x, f32::NEG_INFINITY, &mut a);
                prop_assert_eq!(a.len(), b.len() + x.len());
                check_exp(&k, &x, t);
                // log-softmax affine write.
                let af = Affine::new(1.0 / t, 3.25 / t + 1.5);
                let (mut o1, mut o2) = (vec![0.0f32; x.len()], vec![0.0f32; x.len()]);
                (k.affine_write)(&x, &af, &mut o1);
                (scalar.affine_write)(&x, &af, &mut o2);
                for (p, q) in o1.iter().zip(&o2) {
                    if q.is_finite() {
                        prop_assert!((p - q).abs() <= 2e-7 * q.abs().max(1.0), "{} {p} {q}", k.name);
                    } else {
                        prop_assert_eq!(p, q);
                    }
                }
                let mut s1 = o2.clone();
                let mut s2 = o2.clone();
                (k.shift)(&mut s1, 1.0 + thr);
                (scalar.shift)(&mut s2, 1.0 + thr);
                prop_assert_eq!(&s1, &s2, "{}", k.name);
                let mut s1 = o2.clone();
                let mut s2 = o2.clone();
                (k.scale)(&mut s1, 0.37);
                (scalar.scale)(&mut s2, 0.37);
                prop_assert_eq!(&s1, &s2);
                // The subnormal flag, on values that scale into, near and below the subnormal range.
                let mut s1: Vec<f32> = x.iter().map(|v| v.abs().min(1e30)).collect();
                let mut s2 = s1.clone();
                let f = if thr > 0.0 { 1e-39 } else { 3e-40 };
                let (a, b) = ((k.scale)(&mut s1, f), (scalar.scale)(&mut s2, f));
                prop_assert_eq!(&s1, &s2);
                prop_assert_eq!(a, b, "{}", k.name);
            }
        }

        #[test]
        fn max_and_collect_agree_with_pos_inf(
            x in proptest::collection::vec(prop_oneof![
                4 => -30.0f32..30.0,
                1 => Just(f32::INFINITY),
                1 => Just(f32::NEG_INFINITY),
                1 => Just(f32::from_bits(1)),
            ], 0..200),
            thr in prop_oneof![-50.0f32..50.0, Just(f32::INFINITY), Just(f32::NEG_INFINITY)],
        ) {
            let scalar = crate::scalar::TABLE;
            for k in available() {
                prop_assert_eq!((k.max_nan)(&x), (scalar.max_nan)(&x), "{}", k.name);
                let (mut a, mut b) = (Vec::new(), Vec::new());
                (k.collect_ge)(&x, thr, &mut a);
                (scalar.collect_ge)(&x, thr, &mut b);
                prop_assert_eq!(a, b, "{}", k.name);
            }
        }

        #[test]
        fn nan_is_detected_anywhere(len in 1usize..200, pos in 0usize..200) {
            let mut x: Vec<f32> = (0..len).map(|i| i as f32 * 0.25 - 7.0).collect();
            x[pos % len] = f32::NAN;
            for k in available() {
                let (m, nan) = (k.max_nan)(&x);
                prop_assert!(nan, "{}", k.name);
                prop_assert!(!m.is_nan());
            }
        }
    }

    #[test]
    fn exp_accuracy_sweep() {
        // Dense sweep of the exponent range, including values that make the argument huge.
        let x: Vec<f32> = (0..40_000).map(|i| 20.0 - i as f32 * 0.0027).collect();
        for k in available() {
            for t in [1.0, 0.7, 0.013, 3.3, 0.5, 0.125, 2.0] {
                check_exp(&k, &x, t);
            }
            // Large |max / T| (up to ~10^4), where the fast kernels' bound grows.
            let y: Vec<f32> = x.iter().map(|v| v + 480.0).collect();
            for t in [0.05, 1.0, 0.7] {
                check_exp(&k, &y, t);
            }
        }
    }

    /// Rows whose `max / T` is outside the SIMD reduction's range take the scalar path; their
    /// scale must still be the one the consumers multiply by.
    #[test]
    fn rows_outside_the_simd_range() {
        for (x, t) in [
            (vec![-4.328_588_4e29f32, -4.4e29, f32::NEG_INFINITY], 1.0),
            (vec![3e5f32, 3e5 - 1.0, -3e5], 1.0),
            (vec![5.0f32, 4.0, 1.0], 1e-4),
        ] {
            for k in available() {
                check_exp(&k, &x, t);
            }
        }
    }

    /// On aarch64 (also under user-mode qemu, `scripts/dev neon`) the NEON table is found, so
    /// every equivalence test above compares it with the scalar one.
    #[cfg(target_arch = "aarch64")]
    #[test]
    fn neon_is_usable_on_aarch64() {
        assert_eq!(available()[0].name, "neon");
    }

    #[test]
    fn dispatch_follows_the_request() {
        let usable = available();
        let expect = match std::env::var(SIMD_ENV) {
            Ok(v) if usable.iter().any(|k| k.name == v) => v,
            _ => usable[0].name.to_string(),
        };
        assert_eq!(kernels().name, expect);
        assert_eq!(kernels().name, crate::simd_level());
    }

    #[test]
    fn choose_honours_usable_names_and_falls_back_otherwise() {
        let usable = available();
        let widest = usable[0].name;
        for req in [None, Some(""), Some("auto"), Some(" AUTO ")] {
            let (k, w) = choose(req, &usable);
            assert_eq!((k.name, w), (widest, None));
        }
        for k in &usable {
            let (c, w) = choose(Some(k.name), &usable);
            assert_eq!((c.name, w), (k.name, None));
        }
        // Only scalar usable: every vector request falls back, naming what was asked.
        let only = [crate::scalar::TABLE];
        for req in ["avx512", "avx2", "neon"] {
            let (c, w) = choose(Some(req), &only);
            assert_eq!(c.name, "scalar");
            let w = w.unwrap_or_default();
            assert!(w.contains(req) && w.contains("not usable"), "{w}");
        }
        let (c, w) = choose(Some("sse9"), &usable);
        assert_eq!(c.name, widest);
        assert!(w.unwrap_or_default().contains("not a known kernel set"));
    }
}
