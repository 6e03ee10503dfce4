//! Python bindings for tokenmill-sampling: extract arrays, release the GIL (on the bounded pool,
//! or on the calling thread for small batches and a one-thread pool, see
//! `pool::run_inline_if`), call the core, convert errors
//! in `errors.rs`. Argument normalisation (scalars vs per-row arrays, dtypes, defaults) lives in
//! `python/tokenmill/sampling.py`.

use numpy::{PyReadonlyArray1, PyReadonlyArray2, PyReadwriteArray2, PyUntypedArrayMethods};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use tokenmill_sampling::{BatchOut, Processors, RowParams, SamplingError};

use crate::errors::IntoPyResult;
use crate::pool;

fn contiguous<'a, T>(a: Result<&'a [T], numpy::AsSliceError>, name: &str) -> PyResult<&'a [T]> {
    a.map_err(|_| PyValueError::new_err(format!("{name} must be C-contiguous")))
}

fn contiguous_mut<'a, T>(
    a: Result<&'a mut [T], numpy::AsSliceError>,
    name: &str,
) -> PyResult<&'a mut [T]> {
    a.map_err(|_| PyValueError::new_err(format!("{name} must be C-contiguous")))
}

/// Per-row parameters from the packed `[batch, 7]` matrix and `[batch, 2]` (seed, step) keys.
fn row_params(params: &[f64], keys: &[u64], batch: usize) -> Result<Vec<RowParams>, SamplingError> {
    let w = tokenmill_sampling::PACKED_PARAMS;
    if params.len() != batch * w || keys.len() != batch * 2 {
        return Err(SamplingError::Shape {
            name: "per-row parameters",
            got: params.len() / w,
            expected: batch,
        });
    }
    (0..batch)
        .map(|r| {
            RowParams::from_packed(r, &params[r * w..(r + 1) * w], keys[2 * r], keys[2 * r + 1])
        })
        .collect()
}

/// Softmax or log-softmax of each row of `logits` at its temperature, written into `out`.
#[pyfunction]
fn softmax_into(
    py: Python<'_>,
    logits: PyReadonlyArray2<'_, f32>,
    temperatures: PyReadonlyArray1<'_, f64>,
    log: bool,
    mut out: PyReadwriteArray2<'_, f32>,
) -> PyResult<()> {
    let vocab = logits.shape()[1];
    let x = contiguous(logits.as_slice(), "logits")?;
    let t = contiguous(temperatures.as_slice(), "temperatures")?;
    let o = contiguous_mut(out.as_slice_mut(), "out")?;
    let inline = tokenmill_sampling::runs_inline(t.len(), vocab);
    pool::run_inline_if(py, inline, || {
        tokenmill_sampling::softmax_batch(x, vocab, t, log, o)
    })?
    .into_py()
}

/// The processors' arrays, borrowed from Python (CSR layout, see `Processors`).
#[derive(FromPyObject)]
struct Procs<'py> {
    history_offsets: PyReadonlyArray1<'py, i64>,
    history_ids: PyReadonlyArray1<'py, i64>,
    history_counts: PyReadonlyArray1<'py, i64>,
    bias_offsets: PyReadonlyArray1<'py, i64>,
    bias_ids: PyReadonlyArray1<'py, i64>,
    bias_values: PyReadonlyArray1<'py, f32>,
    mask: Option<PyReadonlyArray2<'py, u32>>,
}

impl Procs<'_> {
    fn view(&self) -> PyResult<Processors<'_>> {
        Ok(Processors {
            history_offsets: contiguous(self.history_offsets.as_slice(), "history offsets")?,
            history_ids: contiguous(self.history_ids.as_slice(), "history ids")?,
            history_counts: contiguous(self.history_counts.as_slice(), "history counts")?,
            bias_offsets: contiguous(self.bias_offsets.as_slice(), "logit_bias offsets")?,
            bias_ids: contiguous(self.bias_ids.as_slice(), "logit_bias ids")?,
            bias_values: contiguous(self.bias_values.as_slice(), "logit_bias values")?,
            mask: match &self.mask {
                Some(m) => Some(contiguous(m.as_slice(), "allowed_mask")?),
                None => None,
            },
        })
    }
}

/// Sample every row into `tokens` (`[batch, n]`) and the optional logprob outputs.
#[pyfunction]
#[pyo3(signature = (logits, params, keys, procs, tokens, logprobs=None, top_ids=None, top_logprobs=None))]
#[allow(clippy::too_many_arguments)] // one array per output, as the Python layer holds them
fn sample_into(
    py: Python<'_>,
    logits: PyReadonlyArray2<'_, f32>,
    params: PyReadonlyArray2<'_, f64>,
    keys: PyReadonlyArray2<'_, u64>,
    procs: Procs<'_>,
    mut tokens: PyReadwriteArray2<'_, i64>,
    logprobs: Option<PyReadwriteArray2<'_, f32>>,
    top_ids: Option<PyReadwriteArray2<'_, i64>>,
    top_logprobs: Option<PyReadwriteArray2<'_, f32>>,
) -> PyResult<()> {
    let (batch, vocab) = (logits.shape()[0], logits.shape()[1]);
    let n = tokens.shape()[1];
    let n_top = top_ids.as_ref().map_or(0, |t| t.shape()[1]);
    let x = contiguous(logits.as_slice(), "logits")?;
    let rows = row_params(
        contiguous(params.as_slice(), "params")?,
        contiguous(keys.as_slice(), "keys")?,
        batch,
    )
    .into_py()?;
    let pr = procs.view()?;
    let (mut logprobs, mut top_ids, mut top_logprobs) = (logprobs, top_ids, top_logprobs);
    let out = BatchOut {
        n,
        tokens: contiguous_mut(tokens.as_slice_mut(), "out")?,
        logprobs: match logprobs.as_mut() {
            Some(a) => Some(contiguous_mut(a.as_slice_mut(), "logprobs")?),
            None => None,
        },
        n_top,
        top_ids: match top_ids.as_mut() {
            Some(a) => Some(contiguous_mut(a.as_slice_mut(), "top_ids")?),
            None => None,
        },
        top_logprobs: match top_logprobs.as_mut() {
            Some(a) => Some(contiguous_mut(a.as_slice_mut(), "top_logprobs")?),
            None => None,
        },
    };
    let inline = tokenmill_sampling::runs_inline(batch, vocab);
    pool::run_inline_if(py, inline, || {
        tokenmill_sampling::sample_batch(x, vocab, &rows, &pr, out)
    })?
    .into_py()
}

/// The kept set after processors and filters, written into the boolean `out` (`[batch, vocab]`).
#[pyfunction]
fn kept_mask_into(
    py: Python<'_>,
    logits: PyReadonlyArray2<'_, f32>,
    params: PyReadonlyArray2<'_, f64>,
    keys: PyReadonlyArray2<'_, u64>,
    procs: Procs<'_>,
    mut out: PyReadwriteArray2<'_, bool>,
) -> PyResult<()> {
    let (batch, vocab) = (logits.shape()[0], logits.shape()[1]);
    let x = contiguous(logits.as_slice(), "logits")?;
    let rows = row_params(
        contiguous(params.as_slice(), "params")?,
        contiguous(keys.as_slice(), "keys")?,
        batch,
    )
    .into_py()?;
    let pr = procs.view()?;
    let o = contiguous_mut(out.as_slice_mut(), "out")?;
    let inline = tokenmill_sampling::runs_inline(batch, vocab);
    pool::run_inline_if(py, inline, || {
        tokenmill_sampling::kept_batch(x, vocab, &rows, &pr, o)
    })?
    .into_py()
}

/// One row, scalar parameters, no processors, one draw: the token id. The single-sequence decode
/// call without the per-row parameter arrays `sample_into` takes (those cost more than sampling a
/// 32k row). `top_k` and the packed parameters go through the same checks as `sample_into`'s.
#[pyfunction]
#[allow(clippy::too_many_arguments)] // one argument per sampling parameter, as Python passes them
fn sample_one(
    py: Python<'_>,
    logits: PyReadonlyArray1<'_, f32>,
    temperature: f64,
    top_k: f64,
    top_p: f64,
    min_p: f64,
    seed: u64,
    step: u64,
) -> PyResult<i64> {
    let x = contiguous(logits.as_slice(), "logits")?;
    let packed = [temperature, top_k, top_p, min_p, 1.0, 0.0, 0.0];
    let row = [RowParams::from_packed(0, &packed, seed, step).into_py()?];
    let mut token = [0i64];
    let out = BatchOut {
        n: 1,
        tokens: &mut token,
        logprobs: None,
        n_top: 0,
        top_ids: None,
        top_logprobs: None,
    };
    let procs = Processors::default();
    pool::here(py, || {
        tokenmill_sampling::sample_batch(x, x.len(), &row, &procs, out)
    })
    .into_py()?;
    Ok(token[0])
}

/// Add this module's classes and functions to `tokenmill._native`.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(sample_one, m)?)?;
    m.add_function(wrap_pyfunction!(softmax_into, m)?)?;
    m.add_function(wrap_pyfunction!(sample_into, m)?)?;
    m.add_function(wrap_pyfunction!(kept_mask_into, m)?)?;
    Ok(())
}
