//! One memory pass for the max and the exp of a row (online softmax normaliser).
//!
//! Design notes. A row is cut into fixed chunks of `CHUNK` logits (8 KiB). For each chunk the
//! max (and NaN) pass reads it from memory into L1, then the exp pass runs over it from L1,
//! relative to the running max of the chunks so far (`ref`), in 1 KiB pieces, each preceded by
//! software prefetches of 1/8 of the next chunk: the logits are read from memory once, and the
//! memory-bound max overlaps the compute-bound exp. Every exp block (the chunk, or `sub`-long
//! parts of it) records its `ref`, its true sum and the scale of what it wrote
//! (`ExpArgs::unscale`, see `simd/mod.rs`); when the running max rises, later blocks use the new
//! one and the caller rescales earlier sums by `exp((ref - max) / T)` in f64. The running
//! max only rises a few times per row (O(log chunks) for exchangeable logits), so the extra
//! `ExpArgs` set-ups are negligible. While a piece is in L1 the pass can also write the output
//! (softmax: the exp values; log-softmax: `(x - ref) / T`), with write prefetches of the next
//! chunk's output lines: the row is read from memory once whatever the mode. (Top-p gathers its
//! candidates after the pass, from L2, with the final max's threshold: gathering a superset from
//! L1 during the pass, against the running max, measured ~10% slower per top-p row: about twice
//! the candidates, and a compare per 1 KiB piece.)
//!
//! Cost: one read of the row plus one exp per logit; O(len / CHUNK) bookkeeping. Invariants: the
//! chunking is fixed (independent of thread count and batch layout), so a row's results are
//! deterministic; every exp argument is `<= 0` (no overflow), and `-inf` logits give 0. A chunk
//! holding a NaN or `+inf` stops the pass (`None`), and the caller reports the row's error from
//! a full scan, so the error does not depend on the chunking either.

use crate::simd::{Affine, ExpArgs, Kernels};

/// Logits per chunk: 8 KiB, which stays in L1 between the max and the exp.
pub(crate) const CHUNK: usize = 2048;

/// One exp block: the reference max its values are relative to, their true sum
/// `sum(exp((x - ref) / T))`, and the `ExpArgs::unscale` of the values written for it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Block {
    pub r#ref: f32,
    pub sum: f64,
    pub unscale: f64,
}

/// What the exp part of the pass does with each block.
pub(crate) enum Mode<'a> {
    /// Only sums.
    Sum,
    /// Write `exp((x - ref) / T) / unscale` to the output (same length as the row).
    Write(&'a mut [f32]),
    /// Sum, and write `(x - ref) / T` to the output (log-softmax: the caller subtracts each
    /// block's constant afterwards, while the output is still in cache).
    LogWrite(&'a mut [f32]),
    /// Only sums, by an `exp_sum_fast` kernel (every term within `fast_exp_eps`; the top-p pass
    /// of `sample.rs`).
    Fast(fn(&[f32], &ExpArgs) -> f64),
}

/// Logits per exp kernel call (1 KiB): the unit between two groups of prefetches.
const PIECE: usize = 256;

/// Hint the cache to fetch `x` (no effect on results; a no-op off x86-64).
#[inline]
fn prefetch(x: &[f32]) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        for line in x.chunks(16) {
            // SAFETY: prefetch never faults and `line` is a valid address.
            unsafe { _mm_prefetch::<_MM_HINT_T0>(line.as_ptr().cast()) };
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = x;
}

/// Hint the cache to fetch `out` for writing (no effect on results; a no-op off x86-64): the
/// output lines' read-for-ownership then overlaps the exp work instead of stalling the stores.
#[inline]
fn prefetch_w(out: &[f32]) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_ET0};
        for line in out.chunks(16) {
            // SAFETY: prefetch never faults and `line` is a valid address.
            unsafe { _mm_prefetch::<_MM_HINT_ET0>(line.as_ptr().cast()) };
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = out;
}

/// Run the pass over `x` at `1/T = inv_t`, pushing one [`Block`] per `sub` logits (`sub` divides
/// `CHUNK`) into `blocks`. Returns the row max (`-inf` if every logit is `-inf`), or `None` if a
/// NaN or `+inf` was met (the caller scans the row for the error).
pub(crate) fn pass(
    k: &Kernels,
    x: &[f32],
    inv_t: f64,
    sub: usize,
    mut mode: Mode<'_>,
    blocks: &mut Vec<Block>,
) -> Option<f32> {
    debug_assert!(sub > 0 && CHUNK.is_multiple_of(sub));
    blocks.clear();
    let mut m = f32::NEG_INFINITY;
    let mut args: Option<ExpArgs> = None;
    let mut start = 0;
    while start < x.len() {
        let end = (start + CHUNK).min(x.len());
        let c = &x[start..end];
        let (cm, nan) = (k.max_nan)(c);
        if nan || cm == f32::INFINITY {
            return None;
        }
        let next = &x[end..(end + CHUNK).min(x.len())];
        if cm > m {
            m = cm;
            args = None;
        }
        for (j, b) in c.chunks(sub).enumerate() {
            let at = start + j * sub;
            let mut unscale = 1.0;
            let mut sum = 0.0;
            if m == f32::NEG_INFINITY {
                // Nothing finite yet: every logit here is -inf.
                match &mut mode {
                    Mode::Write(out) => out[at..at + b.len()].fill(0.0),
                    Mode::LogWrite(out) => out[at..at + b.len()].fill(f32::NEG_INFINITY),
                    _ => {}
                }
            } else {
                let a = *args.get_or_insert_with(|| ExpArgs::new(m, inv_t));
                unscale = a.unscale;
                // log-softmax's `(x - ref) / T` (set up only in that mode).
                let affine = matches!(mode, Mode::LogWrite(_))
                    .then(|| Affine::new(inv_t, f64::from(m) * inv_t));
                for (q, piece) in b.chunks(PIECE).enumerate() {
                    // Spread the next chunk's prefetches over this chunk's exp pieces, a few lines
                    // at a time: a burst of 128 queues behind the miss buffers and stalls (measured
                    // 15-20% slower than these spread ones; no prefetch at all, 15-25% slower).
                    let step = next.len().div_ceil(CHUNK / PIECE);
                    let i = (j * (sub / PIECE) + q) * step;
                    if i < next.len() {
                        let to = (i + step).min(next.len());
                        prefetch(&next[i..to]);
                        if let Mode::Write(out) | Mode::LogWrite(out) = &mode {
                            prefetch_w(&out[end + i..end + to]);
                        }
                    }
                    let at = at + q * PIECE;
                    sum += match &mut mode {
                        Mode::Write(out) => {
                            k.exp_write_row(piece, &a, &mut out[at..at + piece.len()])
                        }
                        Mode::LogWrite(out) => {
                            if let Some(af) = &affine {
                                (k.affine_write)(piece, af, &mut out[at..at + piece.len()]);
                            }
                            k.exp_sum_row(piece, &a)
                        }
                        Mode::Sum => k.exp_sum_row(piece, &a),
                        Mode::Fast(fast) => Kernels::exp_sum_fast_row(*fast, piece, &a),
                    };
                }
                sum *= a.unscale;
            }
            blocks.push(Block {
                r#ref: m,
                sum,
                unscale,
            });
        }
        start = end;
    }
    Some(m)
}

/// The row's normaliser `sum(exp((x - max) · inv_t))`: the pass's block sums, each moved to the
/// row max.
pub(crate) fn normaliser(blocks: &[Block], max: f32, inv_t: f64) -> f64 {
    blocks
        .iter()
        .map(|b| b.sum * rescale(b.r#ref, max, inv_t))
        .sum()
}

/// `exp((r - max) · inv_t)` in f64: the factor that moves a block's values from its reference to
/// the row max (1 for most blocks).
#[inline]
pub(crate) fn rescale(r: f32, max: f32, inv_t: f64) -> f64 {
    if r == max {
        1.0
    } else if r == f32::NEG_INFINITY {
        0.0
    } else {
        ((f64::from(r) - f64::from(max)) * inv_t).exp()
    }
}
