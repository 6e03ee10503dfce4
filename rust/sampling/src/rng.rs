//! Counter-based random numbers: Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as
//! 1, 2, 3", SC 2011; the multipliers and Weyl constants below are the published ones).
//!
//! Design notes: a draw is a pure function of `(seed, step, draw)`. There is no stream state, so a
//! row's randomness cannot depend on its position in the batch, on the other rows, on the batch
//! size or on which thread runs it. Key = the 64-bit seed; counter = (step, draw index, domain).
//! Cost: 10 rounds of two 32x32->64 multiplies per four 32-bit outputs.

const M0: u32 = 0xD251_1F53;
const M1: u32 = 0xCD9E_8D57;
const W0: u32 = 0x9E37_79B9;
const W1: u32 = 0xBB67_AE85;

#[inline]
fn mulhilo(a: u32, b: u32) -> (u32, u32) {
    let p = u64::from(a) * u64::from(b);
    ((p >> 32) as u32, p as u32)
}

/// Philox4x32 with 10 rounds: four 32-bit words from a 128-bit counter and a 64-bit key.
#[must_use]
pub fn philox4x32(counter: [u32; 4], key: u64) -> [u32; 4] {
    let mut c = counter;
    let mut k0 = key as u32;
    let mut k1 = (key >> 32) as u32;
    for _ in 0..10 {
        let (hi0, lo0) = mulhilo(M0, c[0]);
        let (hi1, lo1) = mulhilo(M1, c[2]);
        c = [hi1 ^ c[1] ^ k0, lo1, hi0 ^ c[3] ^ k1, lo0];
        k0 = k0.wrapping_add(W0);
        k1 = k1.wrapping_add(W1);
    }
    c
}

/// A uniform double in `[0, 1)` with 53 random bits, keyed by `(seed, step, draw)`.
#[must_use]
pub fn uniform(seed: u64, step: u64, draw: u32) -> f64 {
    let r = philox4x32([step as u32, (step >> 32) as u32, draw, 0], seed);
    let bits = (u64::from(r[0]) << 21) ^ u64::from(r[1] >> 11);
    let bits = bits & ((1u64 << 53) - 1);
    bits as f64 * (1.0 / (1u64 << 53) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pure_function_of_key_and_counter() {
        assert_eq!(uniform(7, 3, 1), uniform(7, 3, 1));
        assert_ne!(uniform(7, 3, 1), uniform(7, 3, 2));
        assert_ne!(uniform(7, 3, 1), uniform(7, 4, 1));
        assert_ne!(uniform(7, 3, 1), uniform(8, 3, 1));
    }

    #[test]
    fn uniform_moments() {
        let n = 200_000u32;
        let (mut s, mut s2) = (0.0f64, 0.0f64);
        for i in 0..n {
            let u = uniform(12345, u64::from(i), 0);
            assert!((0.0..1.0).contains(&u));
            s += u;
            s2 += u * u;
        }
        let mean = s / f64::from(n);
        let var = s2 / f64::from(n) - mean * mean;
        assert!((mean - 0.5).abs() < 0.005, "{mean}");
        assert!((var - 1.0 / 12.0).abs() < 0.002, "{var}");
    }

    #[test]
    fn bits_are_balanced() {
        let mut ones = [0u32; 32];
        let n = 20_000u32;
        for i in 0..n {
            let w = philox4x32([i, 0, 0, 0], 99)[0];
            for (b, o) in ones.iter_mut().enumerate() {
                *o += (w >> b) & 1;
            }
        }
        for o in ones {
            let frac = f64::from(o) / f64::from(n);
            assert!((frac - 0.5).abs() < 0.02, "{frac}");
        }
    }
}
