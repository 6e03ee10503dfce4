//! Python bindings for tokenmill-bpe.

use pyo3::prelude::*;

/// Add this module's classes and functions to `tokenmill._native`.
pub fn register(_m: &Bound<'_, PyModule>) -> PyResult<()> {
    Ok(())
}
