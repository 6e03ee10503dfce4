//! PyO3 bindings for tokenmill. Thin wrappers only: extract arguments, release the GIL around the
//! work done by the core crates, convert results. Errors are converted in `errors.rs` alone.

use pyo3::prelude::*;

mod arrow;
mod bpe;
mod errors;
mod pool;
mod requests;
mod sampling;
mod stream;

/// The SIMD instruction set the sampling kernels dispatch to on this CPU.
#[pyfunction]
fn simd_level() -> &'static str {
    tokenmill_sampling::simd_level()
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_function(wrap_pyfunction!(simd_level, m)?)?;
    m.add_function(wrap_pyfunction!(pool::set_num_threads, m)?)?;
    m.add_function(wrap_pyfunction!(pool::get_num_threads, m)?)?;
    sampling::register(m)?;
    requests::register(m)?;
    bpe::register(m)?;
    stream::register(m)?;
    Ok(())
}
