//! Python binding of `tokenmill_sampling::Requests`, the continuous-batching request table
//! (wrapped by `python/tokenmill/batching.py`).
//!
//! Thread safety: the table sits behind a mutex, taken only with the GIL released (inside
//! `py.detach`) and dropped before the GIL is taken back, so threads sharing one sampler
//! serialise their calls and can never deadlock against the GIL. Every call runs through the
//! `pool` helpers, so a panic becomes `RuntimeError` (and leaves the mutex poisoned: later calls
//! say the sampler is unusable) rather than `PanicException`.

use std::sync::Mutex;

use numpy::{PyReadonlyArray1, PyReadonlyArray2};
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use tokenmill_sampling::Requests;

use crate::errors::IntoPyResult;
use crate::pool;
use crate::sampling::{contiguous, with_rows, Outs, Params, Rows};

/// Requests by id, each with its parameters, seed, step counter and token history.
#[pyclass(frozen, name = "Requests", module = "tokenmill._native")]
pub struct PyRequests {
    inner: Mutex<Requests>,
}

impl PyRequests {
    /// Run `f` on the table with the GIL released, on the calling thread.
    fn with<T: Send>(
        &self,
        py: Python<'_>,
        f: impl FnOnce(&mut Requests) -> T + Send,
    ) -> PyResult<T> {
        pool::here(py, || self.locked(f))?
    }

    /// Run `f` on the locked table (the caller has released the GIL).
    fn locked<T>(&self, f: impl FnOnce(&mut Requests) -> T) -> PyResult<T> {
        match self.inner.lock() {
            Ok(mut g) => Ok(f(&mut g)),
            Err(_) => Err(PyRuntimeError::new_err(
                "a BatchSampler call panicked earlier; this sampler is unusable",
            )),
        }
    }
}

#[pymethods]
impl PyRequests {
    #[new]
    fn new() -> Self {
        PyRequests {
            inner: Mutex::new(Requests::default()),
        }
    }

    /// Add request `id` (`params`: scalars, as `sampling._RowArgs`).
    fn add(
        &self,
        py: Python<'_>,
        id: u64,
        params: Params<'_>,
        history: PyReadonlyArray1<'_, i64>,
        bias_ids: PyReadonlyArray1<'_, i64>,
        bias_values: PyReadonlyArray1<'_, f32>,
    ) -> PyResult<()> {
        let p = params.rows(1).into_py()?[0];
        let h = contiguous(history.as_slice(), "token_history")?;
        let bi = contiguous(bias_ids.as_slice(), "logit_bias ids")?.to_vec();
        let bv = contiguous(bias_values.as_slice(), "logit_bias values")?.to_vec();
        self.with(py, |r| r.add(id, p, h, bi, bv))?.into_py()
    }

    fn remove(&self, py: Python<'_>, id: u64) -> PyResult<()> {
        self.with(py, |r| r.remove(id))?.into_py()
    }

    fn extend(&self, py: Python<'_>, id: u64, tokens: PyReadonlyArray1<'_, i64>) -> PyResult<()> {
        let t = contiguous(tokens.as_slice(), "tokens")?;
        self.with(py, |r| r.extend(id, t))?.into_py()
    }

    fn contains(&self, py: Python<'_>, id: u64) -> PyResult<bool> {
        self.with(py, |r| r.contains(id))
    }

    fn step_of(&self, py: Python<'_>, id: u64) -> PyResult<u64> {
        self.with(py, |r| r.step_of(id))?.into_py()
    }

    fn ids(&self, py: Python<'_>) -> PyResult<Vec<u64>> {
        self.with(py, |r| r.ids())
    }

    fn __len__(&self, py: Python<'_>) -> PyResult<usize> {
        self.with(py, |r| r.len())
    }

    /// Sample one step: row `r` of `logits` belongs to request `ids[r]`.
    fn sample(
        &self,
        py: Python<'_>,
        logits: Rows<'_>,
        ids: PyReadonlyArray1<'_, u64>,
        mask: Option<PyReadonlyArray2<'_, u32>>,
        mut outs: Outs<'_>,
        advance: bool,
    ) -> PyResult<()> {
        let vocab = logits.shape()[1];
        let ids = contiguous(ids.as_slice(), "request ids")?;
        let m = match &mask {
            Some(m) => Some(contiguous(m.as_slice(), "allowed_mask")?),
            None => None,
        };
        let out = outs.view()?;
        let inline = tokenmill_sampling::runs_inline(ids.len(), vocab);
        with_rows!(&logits, "logits", |x| pool::run_inline_if(
            py,
            inline,
            || { self.locked(|r| r.sample(x, vocab, ids, m, out, advance)) }
        )??
        .into_py())
    }
}

/// Add this module's class to `tokenmill._native`.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyRequests>()
}
