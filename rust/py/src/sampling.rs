//! Python bindings for tokenmill-sampling: extract arrays, release the GIL (on the bounded pool,
//! or on the calling thread for small batches and a one-thread pool, see
//! `pool::run_inline_if`), call the core, convert errors
//! in `errors.rs`. Argument normalisation (scalars vs per-row arrays, dtypes, defaults) lives in
//! `python/tokenmill/sampling.py`.

use numpy::{
    PyReadonlyArray1, PyReadonlyArray2, PyReadonlyArray3, PyReadwriteArray1, PyReadwriteArray2,
    PyUntypedArrayMethods,
};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use tokenmill_sampling::{
    BatchOut, Drafts, LogprobMode, Processors, RowParams, SamplingError, Verdicts,
};

use crate::errors::IntoPyResult;
use crate::pool;

pub(crate) fn contiguous<'a, T>(
    a: Result<&'a [T], numpy::AsSliceError>,
    name: &str,
) -> PyResult<&'a [T]> {
    a.map_err(|_| PyValueError::new_err(format!("{name} must be C-contiguous")))
}

fn contiguous_mut<'a, T>(
    a: Result<&'a mut [T], numpy::AsSliceError>,
    name: &str,
) -> PyResult<&'a mut [T]> {
    a.map_err(|_| PyValueError::new_err(format!("{name} must be C-contiguous")))
}

/// `[batch, vocab]` logits as `tokenmill.sampling` passes them: float32, or bfloat16 as its uint16 bit
/// patterns (widened one row at a time inside the core, see `tokenmill_sampling::Logit`).
#[derive(FromPyObject)]
pub(crate) enum Rows<'py> {
    F32(PyReadonlyArray2<'py, f32>),
    Bf16(PyReadonlyArray2<'py, u16>),
}

impl Rows<'_> {
    pub(crate) fn shape(&self) -> &[usize] {
        match self {
            Rows::F32(a) => a.shape(),
            Rows::Bf16(a) => a.shape(),
        }
    }
}

/// One `[vocab]` row of logits, float32 or bfloat16 bits (the single-row call, `sample_one`).
#[derive(FromPyObject)]
enum Row<'py> {
    F32(PyReadonlyArray1<'py, f32>),
    Bf16(PyReadonlyArray1<'py, u16>),
}

/// `[batch, k + 1, vocab]` target logits of `rejection_sample`, float32 or bfloat16 bits.
#[derive(FromPyObject)]
enum Rows3<'py> {
    F32(PyReadonlyArray3<'py, f32>),
    Bf16(PyReadonlyArray3<'py, u16>),
}

impl Rows3<'_> {
    fn shape(&self) -> &[usize] {
        match self {
            Rows3::F32(a) => a.shape(),
            Rows3::Bf16(a) => a.shape(),
        }
    }
}

/// Run `$body` with `$x` bound to the contiguous slice of `$rows` (a [`Rows`], or a [`Row`] /
/// [`Rows3`] with that type's name as first argument), whichever its element type: the one place the two types
/// meet, so every binding reads both.
macro_rules! with_rows {
    ($rows:expr, $name:expr, |$x:ident| $body:expr) => {
        with_rows!(Rows, $rows, $name, |$x| $body)
    };
    ($kind:ident, $rows:expr, $name:expr, |$x:ident| $body:expr) => {
        match $rows {
            $crate::sampling::$kind::F32(a) => {
                let $x = $crate::sampling::contiguous(a.as_slice(), $name)?;
                $body
            }
            $crate::sampling::$kind::Bf16(a) => {
                let $x = $crate::sampling::contiguous(a.as_slice(), $name)?;
                $body
            }
        }
    };
}
pub(crate) use with_rows;

/// One parameter for every row (a Python number) or one value per row (a 1-D array).
#[derive(FromPyObject)]
enum Col<'py, T: numpy::Element> {
    One(T),
    Rows(PyReadonlyArray1<'py, T>),
}

impl<T: numpy::Element + Copy> Col<'_, T> {
    /// The values for `batch` rows, or a shape error naming the parameter.
    fn values(&self, name: &'static str, batch: usize) -> Result<Vec<T>, SamplingError> {
        match self {
            Col::One(v) => Ok(vec![*v; batch]),
            Col::Rows(a) => {
                let v = a.as_array();
                if v.len() != batch {
                    return Err(SamplingError::Shape {
                        name,
                        got: v.len(),
                        expected: batch,
                    });
                }
                Ok(v.iter().copied().collect())
            }
        }
    }
}

/// The sampling parameters as `tokenmill.sampling` passes them (its `_RowArgs`): each a number
/// or a per-row array; `top_k` an integer.
#[derive(FromPyObject)]
pub(crate) struct Params<'py> {
    temperature: Col<'py, f64>,
    top_k: Col<'py, i64>,
    top_p: Col<'py, f64>,
    min_p: Col<'py, f64>,
    typical_p: Col<'py, f64>,
    repetition_penalty: Col<'py, f64>,
    presence_penalty: Col<'py, f64>,
    frequency_penalty: Col<'py, f64>,
    seed: Col<'py, u64>,
    step: Col<'py, u64>,
}

impl Params<'_> {
    /// Validated parameters for each of `batch` rows.
    pub(crate) fn rows(&self, batch: usize) -> Result<Vec<RowParams>, SamplingError> {
        let t = self.temperature.values("temperature", batch)?;
        let k = self.top_k.values("top_k", batch)?;
        let tp = self.top_p.values("top_p", batch)?;
        let mp = self.min_p.values("min_p", batch)?;
        let ty = self.typical_p.values("typical_p", batch)?;
        let rp = self
            .repetition_penalty
            .values("repetition_penalty", batch)?;
        let pp = self.presence_penalty.values("presence_penalty", batch)?;
        let fp = self.frequency_penalty.values("frequency_penalty", batch)?;
        let seed = self.seed.values("seed", batch)?;
        let step = self.step.values("step", batch)?;
        (0..batch)
            .map(|r| {
                let p = RowParams {
                    temperature: t[r],
                    top_k: to_top_k(k[r], r)?,
                    top_p: tp[r],
                    min_p: mp[r],
                    typical_p: ty[r],
                    repetition_penalty: rp[r],
                    presence_penalty: pp[r],
                    frequency_penalty: fp[r],
                    seed: seed[r],
                    step: step[r],
                };
                p.validate(r)?;
                Ok(p)
            })
            .collect()
    }
}

/// `top_k` as a count (`0` = off), or an error for a negative one.
fn to_top_k(k: i64, row: usize) -> Result<usize, SamplingError> {
    usize::try_from(k).map_err(|_| SamplingError::InvalidParameter {
        name: "top_k",
        expected: "an integer >= 0",
        value: k as f64,
        row,
    })
}

/// Softmax or log-softmax of each row of `logits` at its temperature, written into `out`.
#[pyfunction]
fn softmax_into(
    py: Python<'_>,
    logits: Rows<'_>,
    temperatures: PyReadonlyArray1<'_, f64>,
    log: bool,
    mut out: PyReadwriteArray2<'_, f32>,
) -> PyResult<()> {
    let vocab = logits.shape()[1];
    let t = contiguous(temperatures.as_slice(), "temperatures")?;
    let o = contiguous_mut(out.as_slice_mut(), "out")?;
    let inline = tokenmill_sampling::runs_inline(t.len(), vocab);
    with_rows!(&logits, "logits", |x| pool::run_inline_if(
        py,
        inline,
        || { tokenmill_sampling::softmax_batch(x, vocab, t, log, o) }
    )?
    .into_py())
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

/// The output arrays of a sampling call as `tokenmill.sampling` passes them (its `_Outs`):
/// `tokens` `[batch, n]`, optional `logprobs` `[batch, n]`, `top_ids` / `top_logprobs`
/// `[batch, n_top]`, and whether logprobs are `raw` (else processed).
#[derive(FromPyObject)]
pub(crate) struct Outs<'py> {
    tokens: PyReadwriteArray2<'py, i64>,
    logprobs: Option<PyReadwriteArray2<'py, f32>>,
    top_ids: Option<PyReadwriteArray2<'py, i64>>,
    top_logprobs: Option<PyReadwriteArray2<'py, f32>>,
    raw: bool,
}

impl Outs<'_> {
    pub(crate) fn view(&mut self) -> PyResult<BatchOut<'_>> {
        let n = self.tokens.shape()[1];
        let n_top = self.top_ids.as_ref().map_or(0, |t| t.shape()[1]);
        Ok(BatchOut {
            n,
            tokens: contiguous_mut(self.tokens.as_slice_mut(), "out")?,
            logprobs: match self.logprobs.as_mut() {
                Some(a) => Some(contiguous_mut(a.as_slice_mut(), "logprobs")?),
                None => None,
            },
            n_top,
            top_ids: match self.top_ids.as_mut() {
                Some(a) => Some(contiguous_mut(a.as_slice_mut(), "top_ids")?),
                None => None,
            },
            top_logprobs: match self.top_logprobs.as_mut() {
                Some(a) => Some(contiguous_mut(a.as_slice_mut(), "top_logprobs")?),
                None => None,
            },
            mode: if self.raw {
                LogprobMode::Raw
            } else {
                LogprobMode::Processed
            },
        })
    }
}

/// Sample every row into the output arrays.
#[pyfunction]
fn sample_into(
    py: Python<'_>,
    logits: Rows<'_>,
    params: Params<'_>,
    procs: Procs<'_>,
    mut outs: Outs<'_>,
) -> PyResult<()> {
    let (batch, vocab) = (logits.shape()[0], logits.shape()[1]);
    let rows = params.rows(batch).into_py()?;
    let pr = procs.view()?;
    let out = outs.view()?;
    let inline = tokenmill_sampling::runs_inline(batch, vocab);
    with_rows!(&logits, "logits", |x| pool::run_inline_if(
        py,
        inline,
        || { tokenmill_sampling::sample_batch(x, vocab, &rows, &pr, out) }
    )?
    .into_py())
}

/// The kept set after processors and filters, written into the boolean `out` (`[batch, vocab]`).
#[pyfunction]
fn kept_mask_into(
    py: Python<'_>,
    logits: Rows<'_>,
    params: Params<'_>,
    procs: Procs<'_>,
    mut out: PyReadwriteArray2<'_, bool>,
) -> PyResult<()> {
    let (batch, vocab) = (logits.shape()[0], logits.shape()[1]);
    let rows = params.rows(batch).into_py()?;
    let pr = procs.view()?;
    let o = contiguous_mut(out.as_slice_mut(), "out")?;
    let inline = tokenmill_sampling::runs_inline(batch, vocab);
    with_rows!(&logits, "logits", |x| pool::run_inline_if(
        py,
        inline,
        || { tokenmill_sampling::kept_batch(x, vocab, &rows, &pr, o) }
    )?
    .into_py())
}

/// One row, scalar parameters, no processors, one draw: the token id. The single-sequence decode
/// call without the per-row parameter arrays `sample_into` takes (those cost more than sampling a
/// 32k row). The parameters go through the same checks as `sample_into`'s.
#[pyfunction]
#[allow(clippy::too_many_arguments)] // one argument per sampling parameter, as Python passes them
fn sample_one(
    py: Python<'_>,
    logits: Row<'_>,
    temperature: f64,
    top_k: i64,
    top_p: f64,
    min_p: f64,
    seed: u64,
    step: u64,
) -> PyResult<i64> {
    let p = RowParams {
        temperature,
        top_k: to_top_k(top_k, 0).into_py()?,
        top_p,
        min_p,
        seed,
        step,
        ..RowParams::default()
    };
    p.validate(0).into_py()?;
    let row = [p];
    let mut token = [0i64];
    let out = BatchOut {
        n: 1,
        tokens: &mut token,
        logprobs: None,
        n_top: 0,
        top_ids: None,
        top_logprobs: None,
        mode: LogprobMode::Processed,
    };
    let procs = Processors::default();
    with_rows!(Row, &logits, "logits", |x| pool::here(py, || {
        tokenmill_sampling::sample_batch(x, x.len(), &row, &procs, out)
    })?
    .into_py())?;
    Ok(token[0])
}

/// Speculative decoding: verify `draft_ids` (`[batch, k]`, `counts[r]` of row `r` or up to its
/// first `-1`) against `target` (`[batch, k + 1, vocab]`) into `tokens` (`[batch, k + 1]`) and
/// `accepted` (`[batch]`).
#[pyfunction]
#[allow(clippy::too_many_arguments)] // inputs and outputs as Python passes them
fn rejection_sample_into(
    py: Python<'_>,
    target: Rows3<'_>,
    params: Params<'_>,
    draft_ids: PyReadonlyArray2<'_, i64>,
    draft_probs: Option<PyReadonlyArray3<'_, f32>>,
    counts: Option<PyReadonlyArray1<'_, i64>>,
    mut tokens: PyReadwriteArray2<'_, i64>,
    mut accepted: PyReadwriteArray1<'_, i64>,
) -> PyResult<()> {
    let (batch, vocab) = (target.shape()[0], target.shape()[2]);
    let rows = params.rows(batch).into_py()?;
    let drafts = Drafts {
        k: draft_ids.shape()[1],
        token_ids: contiguous(draft_ids.as_slice(), "draft_token_ids")?,
        probs: match &draft_probs {
            Some(q) => Some(contiguous(q.as_slice(), "draft_probs")?),
            None => None,
        },
        counts: match &counts {
            Some(c) => Some(contiguous(c.as_slice(), "num_draft_tokens")?),
            None => None,
        },
    };
    let out = Verdicts {
        tokens: contiguous_mut(tokens.as_slice_mut(), "token_ids")?,
        accepted: contiguous_mut(accepted.as_slice_mut(), "num_accepted")?,
    };
    let inline = tokenmill_sampling::runs_inline(batch, vocab * (drafts.k + 1));
    with_rows!(Rows3, &target, "target_logits", |x| pool::run_inline_if(
        py,
        inline,
        || tokenmill_sampling::rejection_sample(x, vocab, &rows, &drafts, out)
    )?
    .into_py())
}

/// Add this module's classes and functions to `tokenmill._native`.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(sample_one, m)?)?;
    m.add_function(wrap_pyfunction!(softmax_into, m)?)?;
    m.add_function(wrap_pyfunction!(sample_into, m)?)?;
    m.add_function(wrap_pyfunction!(kept_mask_into, m)?)?;
    m.add_function(wrap_pyfunction!(rejection_sample_into, m)?)?;
    Ok(())
}
