//! Logits processors: penalties over the row's token history, a sparse logit bias and an
//! allowed-token bitmask, applied in that order (as in Hugging Face and vLLM).
//!
//! Design notes: processors are sparse except the mask; when any is active the row is copied once
//! into the per-thread scratch buffer and modified there (the caller's logits are never written).
//! Token ids are checked against the vocabulary first, so a bad id is an error, not a panic.

use crate::error::SamplingError;
use crate::logits::Logit;
use crate::params::RowParams;
use crate::scratch::{Scratch, Work};

/// Logits processors for one row. Token ids are validated against the vocabulary.
#[derive(Clone, Copy, Debug, Default)]
pub struct RowProcessors<'a> {
    /// Distinct previously generated tokens with their counts (`count > 0`).
    pub history_ids: &'a [i64],
    pub history_counts: &'a [i64],
    /// Sparse logit bias.
    pub bias_ids: &'a [i64],
    pub bias_values: &'a [f32],
    /// Packed allowed-token bitmask, `ceil(vocab / 32)` words: token `i` is allowed iff bit
    /// `i % 32` of word `i / 32` is set.
    pub mask: Option<&'a [u32]>,
}

impl RowProcessors<'_> {
    pub(crate) fn active(&self, p: &RowParams) -> bool {
        let penalties =
            p.repetition_penalty != 1.0 || p.presence_penalty != 0.0 || p.frequency_penalty != 0.0;
        (penalties && !self.history_ids.is_empty())
            || !self.bias_ids.is_empty()
            || self.mask.is_some()
    }
}

fn check_ids(
    name: &'static str,
    ids: &[i64],
    vocab: usize,
    row: usize,
) -> Result<(), SamplingError> {
    for &t in ids {
        if t < 0 || t as u64 >= vocab as u64 {
            return Err(SamplingError::TokenOutOfRange {
                name,
                token: t,
                vocab,
                row,
            });
        }
    }
    Ok(())
}

/// Apply the processors to `buf` (a copy of the row, `vocab` long) in place.
fn apply_processors(
    row: usize,
    p: &RowParams,
    pr: &RowProcessors<'_>,
    buf: &mut [f32],
) -> Result<(), SamplingError> {
    let vocab = buf.len();
    check_ids("token_history", pr.history_ids, vocab, row)?;
    check_ids("logit_bias", pr.bias_ids, vocab, row)?;
    if pr.history_ids.len() != pr.history_counts.len() {
        return Err(SamplingError::Shape {
            name: "token counts",
            got: pr.history_counts.len(),
            expected: pr.history_ids.len(),
        });
    }
    if pr.bias_ids.len() != pr.bias_values.len() {
        return Err(SamplingError::Shape {
            name: "logit_bias values",
            got: pr.bias_values.len(),
            expected: pr.bias_ids.len(),
        });
    }
    let rp = p.repetition_penalty as f32;
    let (pres, freq) = (p.presence_penalty as f32, p.frequency_penalty as f32);
    for (&t, &c) in pr.history_ids.iter().zip(pr.history_counts) {
        if c <= 0 {
            continue;
        }
        let v = &mut buf[t as usize];
        if p.repetition_penalty != 1.0 {
            *v = if *v > 0.0 { *v / rp } else { *v * rp };
        }
        if p.presence_penalty != 0.0 || p.frequency_penalty != 0.0 {
            *v -= pres + freq * c as f32;
        }
    }
    for (&t, &b) in pr.bias_ids.iter().zip(pr.bias_values) {
        buf[t as usize] += b;
    }
    if let Some(mask) = pr.mask {
        let words = vocab.div_ceil(32);
        if mask.len() != words {
            return Err(SamplingError::Shape {
                name: "allowed_mask row",
                got: mask.len(),
                expected: words,
            });
        }
        for (w, chunk) in mask.iter().zip(buf.chunks_mut(32)) {
            if *w == u32::MAX {
                continue;
            }
            for (b, v) in chunk.iter_mut().enumerate() {
                if (w >> b) & 1 == 0 {
                    *v = f32::NEG_INFINITY;
                }
            }
        }
    }
    Ok(())
}

/// The logits after processors as `f32`: the caller's row (an `f32` row no processor changes),
/// or the processed or widened copy in `s.logits`.
pub(crate) fn processed<'a, T: Logit>(
    row: usize,
    x: &'a [T],
    p: &RowParams,
    pr: &RowProcessors<'_>,
    s: &'a mut Scratch,
) -> Result<(&'a [f32], &'a mut Work), SamplingError> {
    let active = pr.active(p);
    if !active {
        if let Some(x) = T::as_f32(x) {
            return Ok((x, &mut s.work));
        }
    }
    T::to_f32(x, &mut s.logits);
    if active {
        apply_processors(row, p, pr, &mut s.logits)?;
    }
    Ok((&s.logits[..], &mut s.work))
}
