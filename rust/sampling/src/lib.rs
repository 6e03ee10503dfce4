//! tokenmill-sampling: softmax and sampling kernels over `f32` logits.
//!
//! Design notes. The decoding step of an LLM server reads a `[batch, vocab]` block of logits and
//! must return one token per row, exactly and reproducibly, at close to the cost of reading the
//! logits once. The crate is organised by concern:
//! * [`simd`]: runtime-dispatched kernels (AVX-512F, AVX2+FMA, NEON) with `scalar` as the
//!   reference: block max + NaN scan, vector exp (rel. error <= 1e-6, see `simd/mod.rs`), exp-sum,
//!   softmax / log-softmax writes, threshold compaction.
//! * `online`: the max and the exp of a row in one memory pass (8 KiB chunks: max from memory,
//!   exp from L1 against the running max, next chunk prefetched meanwhile), used by softmax,
//!   top-p and unfiltered sampling.
//! * `sample`: the per-row pipeline (`params` → `processors` → temperature → `filters` (top-k,
//!   min-p) and `top_p` → `draw`), which never sorts the vocabulary: selection for top-k, an exact
//!   weighted selection for top-p over the candidates within 8 T of the max, a threshold for
//!   min-p. `softmax`: softmax and log-softmax rows.
//! * `logits`: rows arrive as `f32` or as bfloat16 bits (`u16`), widened one row at a time into
//!   the thread's scratch row, never as a whole batch.
//! * `requests`: the requests of a continuous-batching loop (per-request parameters, seed, step
//!   counter and incremental token history).
//! * `speculative`: exact rejection sampling of draft tokens against target logits.
//! * [`rng`]: Philox4x32-10 keyed by `(seed, step, draw)`, so a row's token depends only on its
//!   own inputs.
//! * `batch`: rows in parallel on the caller's rayon pool (small batches on the calling thread);
//!   each row runs on one thread with thread-local scratch, so results do not depend on the
//!   thread count or the path.
//!
//! Pure Rust, no Python. The bindings crate (`rust/py`) converts [`SamplingError`] into Python
//! exceptions in one place.

mod batch;
mod draw;
mod error;
mod filters;
mod logits;
mod online;
mod params;
mod processors;
mod requests;
pub mod rng;
mod sample;
mod scalar;
mod scratch;
mod select;
pub mod simd;
mod softmax;
mod speculative;
mod top_p;
mod typical;

pub use batch::{
    kept_batch, runs_inline, sample_batch, sample_rows, softmax_batch, BatchOut, Processors,
};
pub use error::SamplingError;
pub use logits::Logit;
pub use params::{RowParams, MIN_TEMPERATURE};
pub use processors::RowProcessors;
pub use requests::{Requests, TokenCounts};
pub use sample::{kept_row, sample_row, LogprobMode, RowOut};
pub use scratch::{with_scratch, Scratch};
pub use softmax::softmax_row;
pub use speculative::{rejection_sample, Drafts, Verdicts};

/// Name of the SIMD instruction set the kernels use: the widest the running CPU supports, or the
/// one `TOKENMILL_SIMD` forces (see [`simd::choose`]).
///
/// Dispatch happens at run time (no global `target-cpu`), so one wheel runs everywhere and uses
/// AVX-512 or AVX2+FMA where present.
#[must_use]
pub fn simd_level() -> &'static str {
    simd::kernels().name
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simd_level_is_known() {
        assert!(["avx512", "avx2", "neon", "scalar"].contains(&simd_level()));
    }
}
