//! Batched entry points: rows in parallel when called on a rayon pool's thread (inside
//! `ThreadPool::install`), else in order on the calling thread; small batches always in order
//! (see [`runs_inline`]).
//!
//! Design notes: a row is the unit of work and always runs on one thread with that thread's
//! scratch buffers, so a row's result cannot depend on the thread count or on its neighbours.
//! Parameters and shapes are validated up front (in row order); per-row data errors (NaN, +inf,
//! all masked) are collected and the one with the lowest row index is reported, so the error is
//! deterministic too. Small batches (one row, or fewer than `INLINE_ELEMS` logits in all) run on
//! the calling thread: handing them to a pool costs more than the work. Either way each row
//! computes the same thing, so the path never changes a result.

use rayon::prelude::*;

use crate::error::SamplingError;
use crate::logits::Logit;
use crate::params::RowParams;
use crate::processors::RowProcessors;
use crate::sample::{kept_row, sample_row, LogprobMode, RowOut};
use crate::scratch::with_scratch;
use crate::softmax::softmax_row;

/// Logits processors for a batch, in CSR layout: row `r` owns `ids[offsets[r]..offsets[r + 1]]`.
/// Empty offsets mean "none for any row".
#[derive(Clone, Copy, Debug, Default)]
pub struct Processors<'a> {
    /// Distinct tokens seen so far per row and their counts.
    pub history_offsets: &'a [i64],
    pub history_ids: &'a [i64],
    pub history_counts: &'a [i64],
    /// Sparse logit bias per row.
    pub bias_offsets: &'a [i64],
    pub bias_ids: &'a [i64],
    pub bias_values: &'a [f32],
    /// Packed allowed-token bitmask, `batch * ceil(vocab / 32)` words, row-major.
    pub mask: Option<&'a [u32]>,
}

fn check_offsets(
    name: &'static str,
    off: &[i64],
    len: usize,
    batch: usize,
) -> Result<(), SamplingError> {
    if off.is_empty() {
        return Ok(());
    }
    if off.len() != batch + 1 {
        return Err(SamplingError::Shape {
            name,
            got: off.len(),
            expected: batch + 1,
        });
    }
    let ok = off[0] == 0 && off.windows(2).all(|w| w[0] <= w[1]) && off[batch] == len as i64;
    if ok {
        Ok(())
    } else {
        Err(SamplingError::Shape {
            name,
            got: off[batch].max(0) as usize,
            expected: len,
        })
    }
}

impl<'a> Processors<'a> {
    fn validate(&self, batch: usize, vocab: usize) -> Result<(), SamplingError> {
        check_offsets(
            "token_history offsets",
            self.history_offsets,
            self.history_ids.len(),
            batch,
        )?;
        check_offsets(
            "logit_bias offsets",
            self.bias_offsets,
            self.bias_ids.len(),
            batch,
        )?;
        if self.history_counts.len() != self.history_ids.len() {
            return Err(SamplingError::Shape {
                name: "token counts",
                got: self.history_counts.len(),
                expected: self.history_ids.len(),
            });
        }
        if self.bias_values.len() != self.bias_ids.len() {
            return Err(SamplingError::Shape {
                name: "logit_bias values",
                got: self.bias_values.len(),
                expected: self.bias_ids.len(),
            });
        }
        if let Some(m) = self.mask {
            let words = batch * vocab.div_ceil(32);
            if m.len() != words {
                return Err(SamplingError::Shape {
                    name: "allowed_mask",
                    got: m.len(),
                    expected: words,
                });
            }
        }
        Ok(())
    }

    fn row(&self, r: usize, vocab: usize) -> RowProcessors<'a> {
        let span = |off: &[i64]| {
            if off.is_empty() {
                0..0
            } else {
                off[r] as usize..off[r + 1] as usize
            }
        };
        let h = span(self.history_offsets);
        let b = span(self.bias_offsets);
        let words = vocab.div_ceil(32);
        RowProcessors {
            history_ids: &self.history_ids[h.clone()],
            history_counts: &self.history_counts[h],
            bias_ids: &self.bias_ids[b.clone()],
            bias_values: &self.bias_values[b],
            mask: self.mask.map(|m| &m[r * words..(r + 1) * words]),
        }
    }
}

/// Output buffers for [`sample_batch`]: `tokens` is `[batch, n]`; the optional arrays are
/// `[batch, n]` (logprobs) and `[batch, n_top]` (top ids and logprobs).
pub struct BatchOut<'a> {
    pub n: usize,
    pub tokens: &'a mut [i64],
    pub logprobs: Option<&'a mut [f32]>,
    pub n_top: usize,
    pub top_ids: Option<&'a mut [i64]>,
    pub top_logprobs: Option<&'a mut [f32]>,
    /// Which distribution the logprob outputs describe.
    pub mode: LogprobMode,
}

pub(crate) fn shape(name: &'static str, got: usize, expected: usize) -> Result<(), SamplingError> {
    if got == expected {
        Ok(())
    } else {
        Err(SamplingError::Shape {
            name,
            got,
            expected,
        })
    }
}

fn check_common<T: Logit>(
    logits: &[T],
    vocab: usize,
    batch: usize,
    params: Option<&[RowParams]>,
) -> Result<(), SamplingError> {
    if vocab == 0 {
        return Err(SamplingError::Shape {
            name: "vocab",
            got: 0,
            expected: 1,
        });
    }
    shape("logits", logits.len(), batch * vocab)?;
    if let Some(params) = params {
        for (r, p) in params.iter().enumerate() {
            p.validate(r)?;
        }
    }
    Ok(())
}

fn first_error(results: Vec<Result<(), SamplingError>>) -> Result<(), SamplingError> {
    results.into_iter().collect()
}

/// Below this many logits in a batch the rows run on the calling thread.
const INLINE_ELEMS: usize = 1 << 18;

/// Whether the batch functions run a `[batch, vocab]` batch on the calling thread (no rayon at
/// all) rather than in parallel on the current pool. Callers that hand work to a pool can use
/// this to skip the hand-off for small batches.
#[must_use]
pub fn runs_inline(batch: usize, vocab: usize) -> bool {
    batch <= 1 || batch.saturating_mul(vocab) < INLINE_ELEMS
}

/// Run `f(row, item)` for every row: in parallel when this thread belongs to a rayon pool and the
/// batch is not `inline`, else in order on this thread. A caller that wants one thread (the
/// bindings with a one-thread pool) calls from its own thread: no hand-off to a worker, and no
/// rayon at all (measured 8-20% faster per row at [64, 128256] than a one-thread pool).
pub(crate) fn for_rows<I: Send>(
    items: Vec<I>,
    inline: bool,
    f: impl Fn(usize, I) -> Result<(), SamplingError> + Sync + Send,
) -> Result<(), SamplingError> {
    let results: Vec<Result<(), SamplingError>> =
        if inline || rayon::current_thread_index().is_none() {
            items
                .into_iter()
                .enumerate()
                .map(|(r, it)| f(r, it))
                .collect()
        } else {
            items
                .into_par_iter()
                .enumerate()
                .map(|(r, it)| f(r, it))
                .collect()
        };
    first_error(results)
}

fn split<T>(s: Option<&mut [T]>, w: usize, batch: usize) -> Vec<Option<&mut [T]>> {
    match s {
        Some(s) if w > 0 => s.chunks_mut(w).map(Some).collect(),
        _ => (0..batch).map(|_| None).collect(),
    }
}

/// Sample every row of `logits` (`[params.len(), vocab]`, row-major).
pub fn sample_batch<T: Logit>(
    logits: &[T],
    vocab: usize,
    params: &[RowParams],
    procs: &Processors<'_>,
    out: BatchOut<'_>,
) -> Result<(), SamplingError> {
    let batch = params.len();
    check_common(logits, vocab, batch, Some(params))?;
    procs.validate(batch, vocab)?;
    let rows: Vec<RowProcessors<'_>> = (0..batch).map(|r| procs.row(r, vocab)).collect();
    sample_rows(logits, vocab, params, &rows, out)
}

/// Sample every row of `logits` (`[params.len(), vocab]`, row-major) with its own processors
/// (`procs[r]` for row `r`; a mask there is `ceil(vocab / 32)` words).
pub fn sample_rows<T: Logit>(
    logits: &[T],
    vocab: usize,
    params: &[RowParams],
    procs: &[RowProcessors<'_>],
    out: BatchOut<'_>,
) -> Result<(), SamplingError> {
    let batch = params.len();
    check_common(logits, vocab, batch, Some(params))?;
    shape("row processors", procs.len(), batch)?;
    if out.n == 0 {
        return Err(SamplingError::InvalidParameter {
            name: "n",
            expected: ">= 1",
            value: 0.0,
            row: 0,
        });
    }
    shape("tokens out", out.tokens.len(), batch * out.n)?;
    if let Some(lp) = &out.logprobs {
        shape("logprobs out", lp.len(), batch * out.n)?;
    }
    if let Some(t) = &out.top_ids {
        shape("top_ids out", t.len(), batch * out.n_top)?;
    }
    if let Some(t) = &out.top_logprobs {
        shape("top_logprobs out", t.len(), batch * out.n_top)?;
    }
    let lps = split(out.logprobs, out.n, batch);
    let tis = split(out.top_ids, out.n_top, batch);
    let tls = split(out.top_logprobs, out.n_top, batch);
    let rows: Vec<_> = out
        .tokens
        .chunks_mut(out.n)
        .zip(logits.chunks(vocab))
        .zip(lps.into_iter().zip(tis.into_iter().zip(tls)))
        .collect();
    for_rows(
        rows,
        runs_inline(batch, vocab),
        |r, ((tokens, x), (logprobs, (top_ids, top_logprobs)))| {
            let ro = RowOut {
                tokens,
                logprobs,
                top_ids,
                top_logprobs,
                mode: out.mode,
            };
            with_scratch(|s| sample_row(r, x, &params[r], &procs[r], ro, s))
        },
    )
}

/// The kept set of every row after processors and filters, as a `[batch, vocab]` boolean mask.
pub fn kept_batch<T: Logit>(
    logits: &[T],
    vocab: usize,
    params: &[RowParams],
    procs: &Processors<'_>,
    out: &mut [bool],
) -> Result<(), SamplingError> {
    let batch = params.len();
    check_common(logits, vocab, batch, Some(params))?;
    procs.validate(batch, vocab)?;
    shape("kept out", out.len(), batch * vocab)?;
    let rows: Vec<_> = out.chunks_mut(vocab).zip(logits.chunks(vocab)).collect();
    for_rows(rows, runs_inline(batch, vocab), |r, (o, x)| {
        with_scratch(|s| kept_row(r, x, &params[r], &procs.row(r, vocab), o, s))
    })
}

/// Softmax (or log-softmax) of every row at its own temperature.
pub fn softmax_batch<T: Logit>(
    logits: &[T],
    vocab: usize,
    temperatures: &[f64],
    log: bool,
    out: &mut [f32],
) -> Result<(), SamplingError> {
    let batch = temperatures.len();
    check_common(logits, vocab, batch, None)?;
    shape("softmax out", out.len(), batch * vocab)?;
    let rows: Vec<_> = out.chunks_mut(vocab).zip(logits.chunks(vocab)).collect();
    for_rows(rows, runs_inline(batch, vocab), |r, (o, x)| {
        softmax_row(r, x, temperatures[r], log, o)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row_logits(seed: u64, vocab: usize) -> Vec<f32> {
        (0..vocab)
            .map(|i| (crate::rng::uniform(seed, i as u64, 7) * 12.0 - 6.0) as f32)
            .collect()
    }

    fn run(logits: &[f32], vocab: usize, params: &[RowParams]) -> Vec<i64> {
        let mut t = vec![0i64; params.len() * 3];
        let out = BatchOut {
            n: 3,
            tokens: &mut t,
            logprobs: None,
            n_top: 0,
            top_ids: None,
            top_logprobs: None,
            mode: LogprobMode::Processed,
        };
        sample_batch(logits, vocab, params, &Processors::default(), out).unwrap();
        t
    }

    #[test]
    fn row_result_independent_of_position_batch_and_threads() {
        let vocab = 5000;
        let rows: Vec<Vec<f32>> = (0..6).map(|s| row_logits(s, vocab)).collect();
        let params: Vec<RowParams> = (0..6)
            .map(|r| RowParams {
                temperature: 0.8,
                top_k: [0, 40, 0, 5, 0, 100][r],
                top_p: [1.0, 1.0, 0.9, 0.5, 1.0, 0.95][r],
                min_p: [0.0, 0.0, 0.0, 0.0, 0.05, 0.01][r],
                seed: 1000 + r as u64,
                step: 3,
                ..RowParams::default()
            })
            .collect();
        let flat: Vec<f32> = rows.concat();
        let all = run(&flat, vocab, &params);
        // Each row alone, and the batch reversed, and on a 1-thread pool.
        for r in 0..6 {
            assert_eq!(run(&rows[r], vocab, &params[r..=r]), all[r * 3..r * 3 + 3]);
        }
        let rev_rows: Vec<f32> = rows.iter().rev().flatten().copied().collect();
        let rev_params: Vec<RowParams> = params.iter().rev().copied().collect();
        let rev = run(&rev_rows, vocab, &rev_params);
        for r in 0..6 {
            assert_eq!(rev[(5 - r) * 3..(5 - r) * 3 + 3], all[r * 3..r * 3 + 3]);
        }
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap();
        assert_eq!(pool.install(|| run(&flat, vocab, &params)), all);
    }

    /// A batch big enough for the parallel path gives, row by row, what each row gives alone on
    /// the inline path (sampling, kept sets and softmax), on pools of 1 and 3 threads and on the
    /// calling thread outside any pool (in order).
    #[test]
    fn inline_and_parallel_paths_agree() {
        let (vocab, batch) = (40_000, 8);
        assert!(!runs_inline(batch, vocab) && runs_inline(1, vocab));
        let rows: Vec<Vec<f32>> = (0..batch as u64).map(|s| row_logits(s, vocab)).collect();
        let flat: Vec<f32> = rows.concat();
        let params: Vec<RowParams> = (0..batch)
            .map(|r| RowParams {
                temperature: [0.0, 0.7, 1.0, 1.3][r % 4],
                top_k: [0, 50, 0, 0][r % 4],
                top_p: [1.0, 1.0, 0.9, 1.0][r % 4],
                min_p: [0.0, 0.0, 0.0, 0.02][r % 4],
                seed: 77 + r as u64,
                ..RowParams::default()
            })
            .collect();
        let temps: Vec<f64> = (0..batch).map(|r| 0.5 + r as f64 / 4.0).collect();
        let batch_all = || {
            let mut kept = vec![false; batch * vocab];
            kept_batch(&flat, vocab, &params, &Processors::default(), &mut kept).unwrap();
            let mut sm = vec![0f32; batch * vocab];
            softmax_batch(&flat, vocab, &temps, false, &mut sm).unwrap();
            (run(&flat, vocab, &params), kept, sm)
        };
        let all = |threads: usize| {
            if threads == 0 {
                assert!(rayon::current_thread_index().is_none());
                return batch_all();
            }
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            pool.install(batch_all)
        };
        for threads in [0, 1, 3] {
            let (tokens, kept, sm) = all(threads);
            for r in 0..batch {
                let x = &rows[r];
                assert_eq!(run(x, vocab, &params[r..=r]), tokens[r * 3..r * 3 + 3]);
                let mut k1 = vec![false; vocab];
                kept_batch(x, vocab, &params[r..=r], &Processors::default(), &mut k1).unwrap();
                assert_eq!(k1, kept[r * vocab..(r + 1) * vocab]);
                let mut s1 = vec![0f32; vocab];
                softmax_batch(x, vocab, &temps[r..=r], false, &mut s1).unwrap();
                assert_eq!(s1, sm[r * vocab..(r + 1) * vocab]);
            }
        }
    }

    #[test]
    fn first_bad_row_is_reported() {
        let vocab = 10;
        let mut x = vec![0.0f32; 3 * vocab];
        x[vocab + 2] = f32::NAN;
        x[2 * vocab + 3] = f32::NAN;
        let params = vec![RowParams::default(); 3];
        let mut t = vec![0i64; 3];
        let e = sample_batch(&x, vocab, &params, &Processors::default(), one_draw(&mut t));
        assert_eq!(e, Err(SamplingError::NaN { row: 1, token: 2 }));
    }

    /// One draw per row into `t`, no logprobs.
    fn one_draw(t: &mut [i64]) -> BatchOut<'_> {
        BatchOut {
            n: 1,
            tokens: t,
            logprobs: None,
            n_top: 0,
            top_ids: None,
            top_logprobs: None,
            mode: LogprobMode::Processed,
        }
    }

    /// bfloat16 rows (as bits) give exactly what their widened f32 rows give: tokens, logprobs
    /// (processed and raw), top entries, kept sets and softmax, with and without processors
    /// (the widening itself is checked against every bit pattern's value in `logits.rs`).
    #[test]
    fn bf16_rows_match_their_widened_f32_rows() {
        let (vocab, batch) = (3000, 5);
        let mut bits: Vec<u16> = (0..batch as u64)
            .flat_map(|s| row_logits(s, vocab))
            .map(|v| (v.to_bits() >> 16) as u16)
            .collect();
        bits[7] = 0xff80; // -inf
        bits[vocab + 3] = 0x0001; // subnormal
        let wide: Vec<f32> = bits
            .iter()
            .map(|&b| f32::from_bits(u32::from(b) << 16))
            .collect();
        let params: Vec<RowParams> = (0..batch)
            .map(|r| RowParams {
                temperature: [0.0, 0.7, 1.0, 1.3, 0.9][r],
                top_k: [0, 50, 0, 0, 0][r],
                top_p: [1.0, 1.0, 0.9, 1.0, 1.0][r],
                min_p: [0.0, 0.0, 0.0, 0.02, 0.0][r],
                typical_p: [1.0, 1.0, 1.0, 1.0, 0.8][r],
                repetition_penalty: 1.2,
                seed: 5 + r as u64,
                ..RowParams::default()
            })
            .collect();
        let hist_ids: Vec<i64> = (0..batch as i64).flat_map(|r| [r, 10 + r, 99]).collect();
        let hist_counts = vec![1i64; hist_ids.len()];
        let offsets: Vec<i64> = (0..=batch as i64).map(|r| 3 * r).collect();
        let with_procs = Processors {
            history_offsets: &offsets,
            history_ids: &hist_ids,
            history_counts: &hist_counts,
            ..Processors::default()
        };
        for procs in [Processors::default(), with_procs] {
            for mode in [LogprobMode::Processed, LogprobMode::Raw] {
                let all = |x: &dyn Fn(BatchOut<'_>) -> Result<(), SamplingError>| {
                    let (n, n_top) = (2, 4);
                    let mut t = vec![0i64; batch * n];
                    let mut lp = vec![0f32; batch * n];
                    let mut ti = vec![0i64; batch * n_top];
                    let mut tl = vec![0f32; batch * n_top];
                    x(BatchOut {
                        n,
                        tokens: &mut t,
                        logprobs: Some(&mut lp),
                        n_top,
                        top_ids: Some(&mut ti),
                        top_logprobs: Some(&mut tl),
                        mode,
                    })
                    .unwrap();
                    (t, lp, ti, tl)
                };
                let a = all(&|o| sample_batch(&bits, vocab, &params, &procs, o));
                let b = all(&|o| sample_batch(&wide, vocab, &params, &procs, o));
                assert_eq!(a, b);
            }
            let mut ka = vec![false; batch * vocab];
            let mut kb = vec![false; batch * vocab];
            kept_batch(&bits, vocab, &params, &procs, &mut ka).unwrap();
            kept_batch(&wide, vocab, &params, &procs, &mut kb).unwrap();
            assert_eq!(ka, kb);
        }
        let temps = [0.5, 1.0, 2.0, 1e-35, 1.0];
        for log in [false, true] {
            let mut sa = vec![0f32; batch * vocab];
            let mut sb = vec![0f32; batch * vocab];
            softmax_batch(&bits, vocab, &temps, log, &mut sa).unwrap();
            softmax_batch(&wide, vocab, &temps, log, &mut sb).unwrap();
            let same = sa.iter().zip(&sb).all(|(x, y)| x.to_bits() == y.to_bits());
            assert!(same, "softmax (log = {log})");
        }
        // Errors name the same row and token: a bfloat16 NaN in row 2.
        let mut bad = bits.clone();
        bad[2 * vocab + 11] = 0x7fc0;
        let mut t = vec![0i64; batch];
        let e = sample_batch(
            &bad,
            vocab,
            &params,
            &Processors::default(),
            one_draw(&mut t),
        );
        assert_eq!(e, Err(SamplingError::NaN { row: 2, token: 11 }));
    }
}
