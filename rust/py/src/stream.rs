//! Python bindings for streaming detokenization: `DecodeStream` (one sequence) and
//! `DecodeStreams` (a batch, one call per generation step). Both hold an `Arc` of the core
//! encoding and the core stream state; a step looks the token up in Rust and creates one
//! Python `str` only when there is text to emit (else `None`). Steps are short, so they keep
//! the GIL.

use std::sync::Arc;

use numpy::PyReadonlyArray1;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyList, PyString};
use tokenmill_bpe::stream::{DecodeStream as CoreStream, Stopped, StreamConfig};
use tokenmill_bpe::{Encoding as CoreEncoding, Rank};

use crate::bpe::PyEncoding;
use crate::errors::IntoPyResult;
use crate::pool;

/// The core encoding behind a `tokenmill.Encoding` (or a `_native.Encoding`).
fn core_of(encoding: &Bound<'_, PyAny>) -> PyResult<Arc<CoreEncoding>> {
    if let Ok(e) = encoding.cast::<PyEncoding>() {
        return Ok(e.get().core());
    }
    if let Ok(core) = encoding.getattr("_core") {
        if let Ok(e) = core.cast::<PyEncoding>() {
            return Ok(e.get().core());
        }
    }
    Err(PyTypeError::new_err(format!(
        "encoding must be a tokenmill.Encoding, got {}",
        encoding.get_type().name()?
    )))
}

fn stop_ids(ids: Option<Vec<i64>>) -> PyResult<Vec<Rank>> {
    ids.unwrap_or_default()
        .into_iter()
        .enumerate()
        .map(|(i, id)| {
            Rank::try_from(id).map_err(|_| {
                PyValueError::new_err(format!("stop_token_ids[{i}] = {id} is not a token id"))
            })
        })
        .collect()
}

/// `stop` as a list: a single string is one stop string (as OpenAI's API accepts).
fn stop_strings(stop: Option<&Bound<'_, PyAny>>) -> PyResult<Vec<String>> {
    match stop {
        None => Ok(Vec::new()),
        Some(s) if s.is_none() => Ok(Vec::new()),
        Some(s) => {
            if let Ok(one) = s.cast::<PyString>() {
                return Ok(vec![one.to_str()?.to_owned()]);
            }
            s.try_iter()
                .map_err(|_| PyTypeError::new_err("stop must be a str or a sequence of str"))?
                .enumerate()
                .map(|(i, item)| {
                    item?
                        .extract::<String>()
                        .map_err(|_| PyTypeError::new_err(format!("stop[{i}] must be a str")))
                })
                .collect()
        }
    }
}

/// The core encoding and the stream configuration both stream classes are built from.
fn setup(
    encoding: &Bound<'_, PyAny>,
    skip_special_tokens: bool,
    stop: Option<&Bound<'_, PyAny>>,
    stop_token_ids: Option<Vec<i64>>,
    include_stop_str_in_output: bool,
) -> PyResult<(Arc<CoreEncoding>, StreamConfig)> {
    let enc = core_of(encoding)?;
    let cfg = StreamConfig::new(
        &enc,
        skip_special_tokens,
        stop_strings(stop)?,
        &stop_ids(stop_token_ids)?,
        include_stop_str_in_output,
    )
    .into_py()?;
    Ok((enc, cfg))
}

/// The stop reason as Python sees it: the stop string, the stop token id, or `None`.
fn reason<'py>(py: Python<'py>, cfg: &StreamConfig, s: &CoreStream) -> PyResult<Bound<'py, PyAny>> {
    Ok(match s.stopped() {
        Some(Stopped::String { stop, .. }) => PyString::new(py, &cfg.stops()[stop]).into_any(),
        Some(Stopped::Token { id, .. }) => id.into_pyobject(py)?.into_any(),
        None => py.None().into_bound(py),
    })
}

fn stop_index(s: &CoreStream) -> Option<usize> {
    match s.stopped()? {
        Stopped::String { token, .. } | Stopped::Token { token, .. } => Some(token),
    }
}

fn text_or_none<'py>(py: Python<'py>, text: &str) -> Bound<'py, PyAny> {
    if text.is_empty() {
        py.None().into_bound(py)
    } else {
        PyString::new(py, text).into_any()
    }
}

/// Incremental detokenizer for one generated sequence.
///
/// `DecodeStream(encoding, *, skip_special_tokens=False, prompt_ids=None, stop=None,
/// stop_token_ids=None, include_stop_str_in_output=False)`
///
/// `step(token_id)` returns the text that token completes, or `None`; `flush()` returns what is
/// still held back at the end. For every id sequence the pieces concatenate to
/// `encoding.decode(ids)`: a character split across tokens is held back until complete (never
/// emitted as U+FFFD mid-stream); bytes that can never form a character become U+FFFD as soon
/// as that is certain, and at `flush()`, as `decode(errors="replace")` does.
///
/// `stop` (a str or a list of str, as OpenAI's and vLLM's `stop`): text that could be the
/// start of a stop string is held back (a match may span tokens and split characters); when
/// one occurs the stream finishes, the text before it is emitted (with the stop string when
/// `include_stop_str_in_output`) and nothing after. `stop_token_ids` finish the stream the same
/// way (the stop token's text is left out unless `include_stop_str_in_output`). Then
/// `stop_reason` is the stop string or token id and `stop_index` the 0-based index of the token
/// that completed it; tokens stepped after the stream has finished are ignored.
///
/// `prompt_ids` are context: never emitted nor searched for stop strings, but a character
/// they leave incomplete is completed (and emitted) by the first generated tokens.
/// `skip_special_tokens` drops special tokens (Hugging Face's `special: true` added tokens;
/// every special token of a tiktoken encoding).
#[pyclass(module = "tokenmill", name = "DecodeStream")]
pub struct PyDecodeStream {
    enc: Arc<CoreEncoding>,
    cfg: StreamConfig,
    state: CoreStream,
    out: String,
}

#[pymethods]
impl PyDecodeStream {
    #[new]
    #[pyo3(signature = (encoding, *, skip_special_tokens=false, prompt_ids=None, stop=None,
                        stop_token_ids=None, include_stop_str_in_output=false))]
    fn new(
        encoding: &Bound<'_, PyAny>,
        skip_special_tokens: bool,
        prompt_ids: Option<Vec<i64>>,
        stop: Option<&Bound<'_, PyAny>>,
        stop_token_ids: Option<Vec<i64>>,
        include_stop_str_in_output: bool,
    ) -> PyResult<Self> {
        let (enc, cfg) = setup(
            encoding,
            skip_special_tokens,
            stop,
            stop_token_ids,
            include_stop_str_in_output,
        )?;
        let mut state = CoreStream::new();
        if let Some(p) = prompt_ids {
            state
                .prime(&enc, &cfg, &p)
                .map_err(|e| crate::errors::vocab_error_at("prompt_ids", &e))?;
        }
        Ok(Self {
            enc,
            cfg,
            state,
            out: String::new(),
        })
    }

    /// Feed one generated token id; the text it completes, or `None`.
    fn step<'py>(&mut self, py: Python<'py>, token_id: i64) -> PyResult<Bound<'py, PyAny>> {
        self.out.clear();
        pool::guarded(|| {
            self.state
                .step(&self.enc, &self.cfg, token_id, &mut self.out)
        })?
        .into_py()?;
        Ok(text_or_none(py, &self.out))
    }

    /// End the stream: the text still held back (incomplete bytes as U+FFFD).
    fn flush(&mut self) -> String {
        let mut out = String::new();
        self.state.flush(&self.cfg, &mut out);
        out
    }

    #[getter]
    fn finished(&self) -> bool {
        self.state.finished()
    }

    #[getter]
    fn stop_reason<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        reason(py, &self.cfg, &self.state)
    }

    #[getter]
    fn stop_index(&self) -> Option<usize> {
        stop_index(&self.state)
    }

    #[getter]
    fn num_tokens(&self) -> usize {
        self.state.tokens()
    }

    fn __repr__(&self) -> String {
        format!(
            "<DecodeStream {:?} tokens={} finished={}>",
            self.enc.name(),
            self.state.tokens(),
            self.state.finished()
        )
    }
}

/// Incremental detokenizers for a batch of sequences, stepped together: one call per
/// generation step for the whole batch.
///
/// `DecodeStreams(encoding, batch_size, *, ...)` takes `DecodeStream`'s keyword arguments
/// (`prompt_ids` is one list per sequence). `step(token_ids)` takes one id per sequence (an
/// int64 or int32 numpy array, such as `tokenmill.sample`'s output, or a list) and returns, per
/// sequence, the text completed or `None`; finished sequences ignore their id. `flush()`,
/// `finished`, `stop_reasons` and `stop_indices` are per sequence.
#[pyclass(module = "tokenmill", name = "DecodeStreams")]
pub struct PyDecodeStreams {
    enc: Arc<CoreEncoding>,
    cfg: StreamConfig,
    states: Vec<CoreStream>,
    out: String,
}

/// Token ids for one step: an int64 / int32 numpy array or any sequence of ints.
fn step_ids(ids: &Bound<'_, PyAny>) -> PyResult<Vec<i64>> {
    if let Ok(a) = ids.extract::<PyReadonlyArray1<'_, i64>>() {
        return Ok(a.as_array().to_vec());
    }
    if let Ok(a) = ids.extract::<PyReadonlyArray1<'_, i32>>() {
        return Ok(a.as_array().iter().map(|&v| i64::from(v)).collect());
    }
    ids.extract::<Vec<i64>>().map_err(|_| {
        PyTypeError::new_err("token_ids must be a 1-D integer array or a sequence of int")
    })
}

#[pymethods]
impl PyDecodeStreams {
    #[new]
    #[pyo3(signature = (encoding, batch_size, *, skip_special_tokens=false, prompt_ids=None,
                        stop=None, stop_token_ids=None, include_stop_str_in_output=false))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        encoding: &Bound<'_, PyAny>,
        batch_size: usize,
        skip_special_tokens: bool,
        prompt_ids: Option<Vec<Vec<i64>>>,
        stop: Option<&Bound<'_, PyAny>>,
        stop_token_ids: Option<Vec<i64>>,
        include_stop_str_in_output: bool,
    ) -> PyResult<Self> {
        let (enc, cfg) = setup(
            encoding,
            skip_special_tokens,
            stop,
            stop_token_ids,
            include_stop_str_in_output,
        )?;
        let mut states = vec![CoreStream::new(); batch_size];
        if let Some(prompts) = prompt_ids {
            if prompts.len() != batch_size {
                return Err(PyValueError::new_err(format!(
                    "prompt_ids has {} rows, batch_size is {batch_size}",
                    prompts.len()
                )));
            }
            for (i, (s, p)) in states.iter_mut().zip(&prompts).enumerate() {
                s.prime(&enc, &cfg, p)
                    .map_err(|e| crate::errors::vocab_error_at(&format!("prompt_ids[{i}]"), &e))?;
            }
        }
        Ok(Self {
            enc,
            cfg,
            states,
            out: String::new(),
        })
    }

    /// Feed one token per sequence; per sequence the text it completes, or `None`. Finished
    /// sequences ignore their id (any value).
    fn step<'py>(
        &mut self,
        py: Python<'py>,
        token_ids: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyList>> {
        let ids = step_ids(token_ids)?;
        if ids.len() != self.states.len() {
            return Err(PyValueError::new_err(format!(
                "token_ids has {} ids, the batch has {} streams",
                ids.len(),
                self.states.len()
            )));
        }
        // Check every id first, so a bad one leaves all streams unchanged.
        for (i, (&id, s)) in ids.iter().zip(&self.states).enumerate() {
            let known = Rank::try_from(id)
                .ok()
                .and_then(|r| self.enc.token_bytes(r))
                .is_some();
            if !known && !s.finished() {
                return Err(PyValueError::new_err(format!(
                    "token_ids[{i}]: token id {id} is not in the vocabulary"
                )));
            }
        }
        let list = PyList::empty(py);
        for (&id, s) in ids.iter().zip(&mut self.states) {
            self.out.clear();
            pool::guarded(|| s.step(&self.enc, &self.cfg, id, &mut self.out))?.into_py()?;
            list.append(text_or_none(py, &self.out))?;
        }
        Ok(list)
    }

    /// End every stream: per sequence, the text still held back.
    fn flush(&mut self) -> Vec<String> {
        self.states
            .iter_mut()
            .map(|s| {
                let mut out = String::new();
                s.flush(&self.cfg, &mut out);
                out
            })
            .collect()
    }

    #[getter]
    fn finished(&self) -> Vec<bool> {
        self.states.iter().map(CoreStream::finished).collect()
    }

    #[getter]
    fn stop_reasons<'py>(&self, py: Python<'py>) -> PyResult<Vec<Bound<'py, PyAny>>> {
        self.states
            .iter()
            .map(|s| reason(py, &self.cfg, s))
            .collect()
    }

    #[getter]
    fn stop_indices(&self) -> Vec<Option<usize>> {
        self.states.iter().map(stop_index).collect()
    }

    fn __len__(&self) -> usize {
        self.states.len()
    }

    fn __repr__(&self) -> String {
        format!(
            "<DecodeStreams {:?} batch={}>",
            self.enc.name(),
            self.states.len()
        )
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyDecodeStream>()?;
    m.add_class::<PyDecodeStreams>()?;
    Ok(())
}
