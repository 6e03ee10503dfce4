//! The one bounded thread pool every parallel call runs on, and the helper that releases the GIL
//! around heavy work.
//!
//! The pool size defaults to `TOKENMILL_NUM_THREADS` or the number of CPUs, and can be changed at
//! run time with `tokenmill.set_num_threads(n)`. Core crates use rayon's parallel iterators; they
//! run on this pool because every binding enters it through [`run`].

use std::sync::{Arc, RwLock};

use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use rayon::{ThreadPool, ThreadPoolBuilder};

static POOL: RwLock<Option<(usize, Arc<ThreadPool>)>> = RwLock::new(None);

fn default_threads() -> usize {
    std::env::var("TOKENMILL_NUM_THREADS")
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|&n| n > 0)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, std::num::NonZero::get))
}

fn build(n: usize) -> PyResult<Arc<ThreadPool>> {
    ThreadPoolBuilder::new()
        .num_threads(n)
        .thread_name(|i| format!("tokenmill-{i}"))
        .build()
        .map(Arc::new)
        .map_err(|e| PyRuntimeError::new_err(format!("cannot start {n} worker threads: {e}")))
}

/// The current pool, created on first use.
pub fn pool() -> PyResult<Arc<ThreadPool>> {
    if let Some((_, p)) = POOL.read().map_err(poisoned)?.as_ref() {
        return Ok(Arc::clone(p));
    }
    let mut slot = POOL.write().map_err(poisoned)?;
    if let Some((_, p)) = slot.as_ref() {
        return Ok(Arc::clone(p));
    }
    let n = default_threads();
    let p = build(n)?;
    *slot = Some((n, Arc::clone(&p)));
    Ok(p)
}

fn poisoned<T>(_: T) -> PyErr {
    PyRuntimeError::new_err("tokenmill thread pool lock poisoned")
}

/// Release the GIL and run `f` inside the bounded pool, so rayon work inside `f` uses it.
pub fn run<T: Send>(py: Python<'_>, f: impl FnOnce() -> T + Send) -> PyResult<T> {
    let p = pool()?;
    Ok(py.detach(|| p.install(f)))
}

/// Release the GIL and run `f` on the calling thread. For single-text work: no worker wake-up
/// or hand-off (tens of microseconds, plus the spinning of idle workers), and the per-thread
/// state the core keeps (the BPE piece cache) stays with the caller's thread from call to call.
/// `f` must not need the pool (no rayon parallel iterators).
pub fn here<T: Send>(py: Python<'_>, f: impl FnOnce() -> T + Send) -> T {
    py.detach(f)
}

/// Bytes of text below which a single-text call keeps the GIL: releasing and re-taking it
/// costs more than tokenizing that much (~0.2 us, about 10 KB/ms of work), and other Python
/// threads wait at most a few microseconds.
pub const DETACH_BYTES: usize = 4096;

/// [`here`] for work on `n_bytes` of text: short texts run without releasing the GIL.
pub fn here_for<T: Send>(py: Python<'_>, n_bytes: usize, f: impl FnOnce() -> T + Send) -> T {
    if n_bytes < DETACH_BYTES {
        f()
    } else {
        py.detach(f)
    }
}

/// Like [`run`], but run `f` on the calling thread (still with the GIL released) when `inline`
/// is true or the pool has one thread: waking a worker and waiting for it costs tens of
/// microseconds, more than small work takes, and one worker adds nothing to the caller's own
/// thread. `f` then runs outside the pool (the sampling core runs rows in order there).
pub fn run_inline_if<T: Send>(
    py: Python<'_>,
    inline: bool,
    f: impl FnOnce() -> T + Send,
) -> PyResult<T> {
    let p = pool()?;
    if inline || p.current_num_threads() == 1 {
        Ok(py.detach(f))
    } else {
        Ok(py.detach(|| p.install(f)))
    }
}

/// Set the number of worker threads used by every parallel call (batch tokenization, sampling
/// rows). Takes effect for the next call.
#[pyfunction]
pub fn set_num_threads(n: usize) -> PyResult<()> {
    if n == 0 {
        return Err(PyValueError::new_err(
            "set_num_threads: n must be >= 1, got 0",
        ));
    }
    if POOL
        .read()
        .map_err(poisoned)?
        .as_ref()
        .is_some_and(|(size, _)| *size == n)
    {
        // Keep the pool: its threads' per-thread state (the BPE piece caches) stays warm.
        return Ok(());
    }
    let p = build(n)?;
    *POOL.write().map_err(poisoned)? = Some((n, p));
    Ok(())
}

/// The number of worker threads parallel calls use.
#[pyfunction]
pub fn get_num_threads() -> PyResult<usize> {
    if let Some((n, _)) = POOL.read().map_err(poisoned)?.as_ref() {
        return Ok(*n);
    }
    Ok(pool()?.current_num_threads())
}
