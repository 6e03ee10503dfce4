//! Softmax and log-softmax of one row at a temperature.

use crate::error::SamplingError;
use crate::filters::{finite_max, online_max};
use crate::logits::{row_f32, Logit};
use crate::online::{self, Block};
use crate::params::{bad, MIN_TEMPERATURE};
use crate::scratch::with_scratch;
use crate::simd::{kernels, ExpArgs};

/// Softmax (or log-softmax) of one row at temperature `t > 0`, written to `out`. Below
/// [`MIN_TEMPERATURE`](crate::MIN_TEMPERATURE) the result is the `T -> 0` limit (uniform over
/// the maxima).
///
/// One online pass (see `online.rs`) writes `exp((x - ref) / T) · 2^64` per chunk and sums it;
/// a second pass over the output, while it is still in cache and last-written chunk first,
/// multiplies each chunk by `exp((ref - max) / T) / S` (one rounding, which also removes the
/// bias). Outputs that land in the subnormal range are recomputed in f64 from the logit, so they
/// are correctly rounded. log-softmax: the same pass writes `(x - ref) / T` (the exp only sums),
/// and the second pass, over the output in cache, subtracts each block's `(max - ref) / T + ln Z`.
/// Both write the output once from the logits and touch it once more in cache: one read of the
/// row from memory, one write.
///
/// Measured and dropped (in-process A/B against this version, [64, 128256] rows, AVX2 VM with a
/// 512 KiB L2): staging the first pass in a per-thread buffer and writing `out` once with
/// streaming stores, to save reading `out`'s lines for ownership, was 25% slower.
pub fn softmax_row<T: Logit>(
    row: usize,
    x: &[T],
    t: f64,
    log: bool,
    out: &mut [f32],
) -> Result<(), SamplingError> {
    if !(t > 0.0 && t.is_finite()) {
        return Err(bad("temperature", "finite and > 0 for softmax", t, row));
    }
    with_scratch(|s| {
        let x = row_f32(x, &mut s.logits);
        if t < MIN_TEMPERATURE {
            return argmax_limit(row, x, log, out);
        }
        softmax_with(row, x, t, log, out, &mut s.work.online)
    })
}

/// The limit of softmax as `T -> 0`: probability `1 / c` on each of the `c` maxima, 0 elsewhere
/// (log-softmax: `-ln c` and `-inf`). Used below `MIN_TEMPERATURE`, where `1 / T` leaves the
/// float range.
fn argmax_limit(row: usize, x: &[f32], log: bool, out: &mut [f32]) -> Result<(), SamplingError> {
    let (m, nan) = (kernels().max_nan)(x);
    let m = finite_max(row, x, m, nan)?;
    let c = x.iter().filter(|&&v| v == m).count() as f64;
    let (hit, miss) = if log {
        ((-c.ln()) as f32, f32::NEG_INFINITY)
    } else {
        ((1.0 / c) as f32, 0.0)
    };
    for (o, &v) in out.iter_mut().zip(x) {
        *o = if v == m { hit } else { miss };
    }
    Ok(())
}

fn softmax_with(
    row: usize,
    x: &[f32],
    t: f64,
    log: bool,
    out: &mut [f32],
    blocks: &mut Vec<Block>,
) -> Result<(), SamplingError> {
    let k = kernels();
    let inv_t = 1.0 / t;
    let mode = if log {
        online::Mode::LogWrite(&mut *out)
    } else {
        online::Mode::Write(&mut *out)
    };
    let m = online_max(k, row, x, inv_t, online::CHUNK, mode, blocks)?;
    // The normaliser (each block moved to the row max).
    let z = online::normaliser(blocks, m, inv_t);
    if log {
        // The pass wrote `(x - ref) / T <= 0`; subtract `(max - ref) / T + ln Z >= 0`, last-written
        // block first. Both sides have the result's sign, so no cancellation: the two roundings
        // (and that of the constant) stay within 2e-7 of the result.
        let ln_z = z.ln();
        for (c, b) in blocks.iter().enumerate().rev() {
            if b.r#ref == f32::NEG_INFINITY {
                continue; // all -inf, written as such
            }
            let lo = c * online::CHUNK;
            let hi = (lo + online::CHUNK).min(x.len());
            let shift = (f64::from(m) - f64::from(b.r#ref)) * inv_t + ln_z;
            (k.shift)(&mut out[lo..hi], shift as f32);
        }
        return Ok(());
    }
    let a = ExpArgs::new(m, inv_t);
    for (c, b) in blocks.iter().enumerate().rev() {
        let lo = c * online::CHUNK;
        let hi = (lo + online::CHUNK).min(x.len());
        let o = &mut out[lo..hi];
        // Moves the block's values to the row max, removes their scale, normalises.
        let g = online::rescale(b.r#ref, m, inv_t) * b.unscale / z;
        let sub = if g >= f64::from(f32::MIN_POSITIVE) * 16.0 {
            (k.scale)(o, g as f32)
        } else {
            // The block's reference was so far below the max that the factor is not a normal
            // f32: recompute it against the max (rare; never for exchangeable logits).
            k.exp_write_row(&x[lo..hi], &a, o);
            (k.scale)(o, (a.unscale / z) as f32)
        };
        if sub {
            for (v, &xv) in o.iter_mut().zip(&x[lo..hi]) {
                if *v > 0.0 && *v < f32::MIN_POSITIVE {
                    *v = (((f64::from(xv) - f64::from(m)) * inv_t).exp() / z) as f32;
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sample::testing::exp_weights;

    /// Softmax against a float64 reference on long rows: the maximum late in the row, long -inf
    /// prefixes, lengths that are not multiples of the vector width, and results that underflow.
    #[test]
    fn softmax_matches_f64_reference() {
        let wave = |i: usize| ((i * 7919 % 1000) as f32) * 0.01 - 5.0;
        let rows: Vec<Vec<f32>> = vec![
            (0..10_001)
                .map(|i| i as f32 * 0.003 - 20.0 + wave(i))
                .collect(),
            (0..20_000)
                .map(|i| {
                    if i < 9_000 {
                        f32::NEG_INFINITY
                    } else {
                        wave(i)
                    }
                })
                .collect(),
            (0..300_007)
                .map(|i| (i as f32) * 4e-4 - 100.0 + wave(i) * 0.1)
                .collect(),
            (0..4_100)
                .map(|i| if i == 4_099 { 40.0 } else { wave(i) * 10.0 })
                .collect(),
            vec![1.5, -2.0, 0.25],
        ];
        for x in &rows {
            for t in [1.0, 0.7, 0.05] {
                let (e, z) = exp_weights(x, t);
                let mut a = vec![0.0f32; x.len()];
                softmax_row(0, x, t, true, &mut a).unwrap();
                let m = x.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                for (i, (&got, &xi)) in a.iter().zip(x).enumerate() {
                    let r = (f64::from(xi) - f64::from(m)) / t - z.ln();
                    if xi == f32::NEG_INFINITY {
                        assert_eq!(got, f32::NEG_INFINITY, "len {} t {t} i {i}", x.len());
                    } else {
                        let err = (f64::from(got) - r).abs();
                        assert!(
                            // ln Z carries the sum's ~1e-7 relative error as an absolute one.
                            err <= 3e-7 * r.abs() + 2e-7,
                            "log: len {} t {t} i {i}: {got} vs {r}",
                            x.len()
                        );
                    }
                }
                softmax_row(0, x, t, false, &mut a).unwrap();
                for (i, (&got, &ei)) in a.iter().zip(&e).enumerate() {
                    let r = ei / z;
                    if r >= f64::from(f32::MIN_POSITIVE) {
                        let rel = (f64::from(got) - r).abs() / r;
                        assert!(rel <= 1e-6, "len {} t {t} i {i}: {got} vs {r}", x.len());
                    } else {
                        assert!((f64::from(got) - r).abs() <= 2e-45, "i {i}: {got} vs {r}");
                    }
                }
            }
        }
    }

    #[test]
    fn softmax_bad_rows_report_the_first_problem() {
        let mut x: Vec<f32> = (0..20_000).map(|i| i as f32 * 1e-3).collect();
        x[15_000] = f32::INFINITY;
        x[17_000] = f32::NAN;
        let mut o = vec![0.0f32; x.len()];
        // NaN anywhere wins over +inf.
        assert!(matches!(
            softmax_row(3, &x, 1.0, false, &mut o),
            Err(SamplingError::NaN {
                row: 3,
                token: 17_000
            })
        ));
        x[17_000] = 0.0;
        assert!(matches!(
            softmax_row(3, &x, 1.0, false, &mut o),
            Err(SamplingError::PosInf {
                row: 3,
                token: 15_000
            })
        ));
        let x = vec![f32::NEG_INFINITY; 9_000];
        assert!(matches!(
            softmax_row(1, &x, 1.0, false, &mut o[..9_000]),
            Err(SamplingError::AllMasked { row: 1 })
        ));
    }
}
