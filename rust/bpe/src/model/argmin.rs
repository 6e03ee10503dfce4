//! The leftmost minimum of a small array of merge priorities: the inner loop of every step of the
//! stack engine (`stack.rs`). SSE2 on x86-64 (part of the baseline, so no runtime dispatch),
//! with the scalar reference it is tested against.

use super::NONE;

/// The minimum of `p` and the first position holding it (`(NONE, 0)` when all are `NONE`).
/// `N` is a multiple of 4. On x86-64 this is SSE2 (part of the baseline, so no dispatch): four
/// lanes compared at a time, about a sixth of the instructions of the scalar scan, which is
/// the inner loop of every merge step.
#[inline(always)]
pub(super) fn argmin<const N: usize>(p: &[u32; N]) -> (u32, usize) {
    #[cfg(target_arch = "x86_64")]
    {
        argmin_sse2(p)
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        argmin_scalar(p)
    }
}

/// Reference for [`argmin`].
#[cfg_attr(target_arch = "x86_64", allow(dead_code))]
#[inline(always)]
fn argmin_scalar(p: &[u32]) -> (u32, usize) {
    let mut best = NONE;
    let mut at = 0;
    for (k, &x) in p.iter().enumerate() {
        if x < best {
            best = x;
            at = k;
        }
    }
    (best, at)
}

#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn argmin_sse2<const N: usize>(p: &[u32; N]) -> (u32, usize) {
    use core::arch::x86_64::{
        __m128i, _mm_and_si128, _mm_andnot_si128, _mm_castsi128_ps, _mm_cmpeq_epi32,
        _mm_cmpgt_epi32, _mm_cvtsi128_si32, _mm_loadu_si128, _mm_movemask_ps, _mm_or_si128,
        _mm_set1_epi32, _mm_shuffle_epi32, _mm_xor_si128,
    };
    const { assert!(N.is_multiple_of(4) && N > 0) };
    // SAFETY: SSE2 is part of the x86-64 baseline, so these intrinsics are available on every
    // CPU this code runs on; every load reads `p[4c..4c + 4]` with `c < N / 4`, inside the
    // array (unaligned loads).
    unsafe {
        let load = |c: usize| _mm_loadu_si128(p.as_ptr().add(4 * c).cast::<__m128i>());
        // Unsigned order through signed compares: flip the sign bit.
        let bias = _mm_set1_epi32(i32::MIN);
        let min = |a: __m128i, b: __m128i| {
            let gt = _mm_cmpgt_epi32(a, b);
            _mm_or_si128(_mm_and_si128(gt, b), _mm_andnot_si128(gt, a))
        };
        let mut m = _mm_xor_si128(load(0), bias);
        for c in 1..N / 4 {
            m = min(m, _mm_xor_si128(load(c), bias));
        }
        m = min(m, _mm_shuffle_epi32::<0b01_00_11_10>(m));
        m = min(m, _mm_shuffle_epi32::<0b10_11_00_01>(m));
        let best = (_mm_cvtsi128_si32(m) ^ i32::MIN) as u32;
        if best == NONE {
            return (NONE, 0);
        }
        let target = _mm_set1_epi32(best as i32);
        for c in 0..N / 4 {
            let mask = _mm_movemask_ps(_mm_castsi128_ps(_mm_cmpeq_epi32(load(c), target)));
            if mask != 0 {
                return (best, 4 * c + mask.trailing_zeros() as usize);
            }
        }
        (best, 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argmin_agrees_with_the_scalar_reference() {
        fn check<const N: usize>(state: &mut u64) {
            for _ in 0..2000 {
                let mut p = [NONE; N];
                for x in &mut p {
                    *state ^= *state << 13;
                    *state ^= *state >> 7;
                    *state ^= *state << 17;
                    // Small ranges make ties common; NONE and values near it test the sign flip.
                    *x = match *state % 5 {
                        0 => NONE,
                        1 => NONE - 1 - (*state >> 40) as u32 % 3,
                        2 => (1 << 31) + (*state >> 40) as u32 % 3,
                        _ => (*state >> 40) as u32 % 8,
                    };
                }
                assert_eq!(argmin(&p), argmin_scalar(&p), "{p:?}");
            }
            assert_eq!(argmin(&[NONE; N]), (NONE, 0));
        }
        let mut state = 0x9E37_79B9_7F4A_7C15_u64;
        check::<4>(&mut state);
        check::<16>(&mut state);
        check::<32>(&mut state);
        check::<64>(&mut state);
    }
}
