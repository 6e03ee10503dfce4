//! The one place where core errors become Python exceptions.
//!
//! The core error types and `PyErr` are both foreign to this crate, so `From<CoreErr> for PyErr`
//! is not allowed (orphan rule). Instead every core error converts into [`CoreError`], and
//! [`IntoPyResult::into_py`] turns any core `Result` into a `PyResult`:
//! `enc.load(path).into_py()?`.

use pyo3::exceptions::{PyKeyError, PyValueError};
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
