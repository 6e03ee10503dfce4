//! PyO3 bindings for tokenmill. Thin wrappers only: extract arguments, release the GIL around the
//! work done by the core crates, convert results. Errors are converted in `errors.rs` alone.

use pyo3::prelude::*;
use pyo3::types::PyDict;

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

/// The sampling kernels' instruction sets compiled into this build (each used only where the
/// running CPU has it: dispatch is at run time, no `target-cpu`).
const COMPILED_SIMD: &[&str] = if cfg!(target_arch = "x86_64") {
    &["avx512", "avx2", "scalar"]
} else if cfg!(target_arch = "aarch64") {
    &["neon", "scalar"]
} else {
    &["scalar"]
};

/// How this extension was built and what it runs on: version, git commit, target triple, rustc,
/// the SIMD levels compiled in, the ones this CPU can run and the one chosen.
#[pyfunction]
fn build_info(py: Python<'_>) -> PyResult<Bound<'_, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("version", env!("CARGO_PKG_VERSION"))?;
    d.set_item("commit", env!("TOKENMILL_GIT_COMMIT"))?;
    d.set_item("target", env!("TOKENMILL_TARGET"))?;
    d.set_item("rustc", env!("TOKENMILL_RUSTC"))?;
    d.set_item("debug_assertions", cfg!(debug_assertions))?;
    d.set_item("simd_compiled", COMPILED_SIMD.to_vec())?;
    let usable: Vec<&str> = tokenmill_sampling::simd::available()
        .iter()
        .map(|k| k.name)
        .collect();
    d.set_item("simd_usable", usable)?;
    d.set_item("simd_chosen", tokenmill_sampling::simd_level())?;
    Ok(d)
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_function(wrap_pyfunction!(simd_level, m)?)?;
    m.add_function(wrap_pyfunction!(build_info, m)?)?;
    m.add_function(wrap_pyfunction!(pool::set_num_threads, m)?)?;
    m.add_function(wrap_pyfunction!(pool::get_num_threads, m)?)?;
    sampling::register(m)?;
    requests::register(m)?;
    bpe::register(m)?;
    stream::register(m)?;
    Ok(())
}
