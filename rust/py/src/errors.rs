//! The one place where core errors become Python exceptions.
//!
//! The core error types and `PyErr` are both foreign to this crate, so `From<CoreErr> for PyErr`
//! is not allowed (orphan rule). Instead every core error converts into [`CoreError`], and
//! [`IntoPyResult::into_py`] turns any core `Result` into a `PyResult`:
//! `enc.load(path).into_py()?`.

use pyo3::exceptions::{PyKeyError, PyRuntimeError, PyValueError};
use pyo3::{PyErr, PyResult};

/// A core error already mapped to the Python exception it raises.
pub struct CoreError(pub PyErr);

impl From<CoreError> for PyErr {
    fn from(e: CoreError) -> Self {
        e.0
    }
}

impl From<tokenmill_sampling::SamplingError> for CoreError {
    fn from(e: tokenmill_sampling::SamplingError) -> Self {
        CoreError(PyValueError::new_err(e.to_string()))
    }
}

impl From<tokenmill_bpe::VocabError> for CoreError {
    fn from(e: tokenmill_bpe::VocabError) -> Self {
        CoreError(PyValueError::new_err(e.to_string()))
    }
}

/// A vocabulary error with where it happened (a file path, `texts[3]`) in front of the message.
pub fn vocab_error_at(place: &str, e: &tokenmill_bpe::VocabError) -> PyErr {
    PyValueError::new_err(format!("{place}: {e}"))
}

/// tiktoken's exception for a token id outside the vocabulary (`KeyError`, the id as text).
pub fn unknown_token(token: i64) -> PyErr {
    PyKeyError::new_err(token.to_string())
}

/// Convert a core `Result` into a `PyResult` through [`CoreError`].
pub trait IntoPyResult<T> {
    /// Map the error into the Python exception chosen above.
    fn into_py(self) -> PyResult<T>;
}

impl<T, E: Into<CoreError>> IntoPyResult<T> for Result<T, E> {
    fn into_py(self) -> PyResult<T> {
        self.map_err(|e| e.into().0)
    }
}

/// A panic caught at the boundary (`pool.rs` runs every native call under `catch_unwind`): a
/// bug in tokenmill, raised as `RuntimeError` with the panic's message rather than as
/// `pyo3_runtime.PanicException` (which is not an `Exception` and escapes `except Exception`).
pub fn panic_error(payload: Box<dyn std::any::Any + Send>) -> PyErr {
    let message = payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_owned());
    PyRuntimeError::new_err(format!(
        "internal error in tokenmill (please report it): {message}"
    ))
}
