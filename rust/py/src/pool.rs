//! The one bounded thread pool every parallel call runs on, and the helpers that release the GIL
//! around heavy work.
//!
//! The pool size defaults to `TOKENMILL_NUM_THREADS` or the number of CPUs, and can be changed at
//! run time with `tokenmill.set_num_threads(n)`. Core crates use rayon's parallel iterators; they
//! run on this pool because every binding enters it through the helpers below.
//!
//! # Design notes
//! - **fork.** A forked child has only the thread that called `fork`: the pool's workers do not
//!   exist there, and work handed to them would wait forever. A `pthread_atfork` child handler
//!   (registered when the first pool is built) bumps [`FORK_GENERATION`]; a pool built in an
//!   earlier generation is abandoned (leaked, never dropped: dropping would signal the missing
//!   workers through locks they may have held) and a new one is built on first use, with the
//!   same size. Checking costs one relaxed atomic load per call.
//! - **Panics.** Every helper runs its work under `catch_unwind`, so a panic in the core (a bug)
//!   becomes a Python `RuntimeError` (`errors::panic_error`) instead of `PanicException`.
//! - **Ctrl-C.** [`run_interruptible`] hands the work to the pool and keeps the calling thread
//!   free: it polls Python's signal handlers every [`SIGNAL_POLL`] (taking the GIL for
//!   microseconds) and, when a handler raises (`KeyboardInterrupt`), sets the stop flag the core
//!   checks between texts and between batches of pieces, waits for the work to stop and
//!   returns the handler's exception. Signals are delivered only on Python's main thread, so
//!   calls made from other threads never see them (as in pure Python).

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, RecvTimeoutError};
use std::sync::{Arc, Once, RwLock};
use std::time::Duration;

use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use rayon::{ThreadPool, ThreadPoolBuilder};

use crate::errors;

/// The pool: its size, the fork generation it was built in, and the pool itself.
struct Slot {
    size: usize,
    generation: u64,
    pool: Arc<ThreadPool>,
}

static POOL: RwLock<Option<Slot>> = RwLock::new(None);

/// Bumped in every forked child (see the design notes).
static FORK_GENERATION: AtomicU64 = AtomicU64::new(0);

static AT_FORK: Once = Once::new();

/// How often a call running on the pool polls Python's signal handlers.
pub const SIGNAL_POLL: Duration = Duration::from_millis(50);

#[cfg(unix)]
extern "C" fn after_fork_in_child() {
    // Async-signal-safe: one atomic add.
    FORK_GENERATION.fetch_add(1, Ordering::Relaxed);
}

fn register_at_fork() {
    AT_FORK.call_once(|| {
        #[cfg(unix)]
        {
            // SAFETY: registers a handler that only performs an atomic add; it lives as long as
            // the process (a static function).
            let rc = unsafe { libc::pthread_atfork(None, None, Some(after_fork_in_child)) };
            // Without the handler a forked child may hang in a batch call; this only fails
            // on out-of-memory, where there is nothing better to do than carry on.
            let _ = rc;
        }
    });
}

fn default_threads() -> usize {
    std::env::var("TOKENMILL_NUM_THREADS")
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|&n| n > 0)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, std::num::NonZero::get))
}

fn build(n: usize) -> PyResult<Slot> {
    register_at_fork();
    let generation = FORK_GENERATION.load(Ordering::Relaxed);
    ThreadPoolBuilder::new()
        .num_threads(n)
        .thread_name(|i| format!("tokenmill-{i}"))
        .build()
        .map(|p| Slot {
            size: n,
            generation,
            pool: Arc::new(p),
        })
        .map_err(|e| PyRuntimeError::new_err(format!("cannot start {n} worker threads: {e}")))
}

/// Take out a pool built before a fork (its workers do not exist in this process) without
/// dropping it; returns the size it had.
fn abandon_stale(slot: &mut Option<Slot>) -> Option<usize> {
    let stale = slot
        .as_ref()
        .is_some_and(|s| s.generation != FORK_GENERATION.load(Ordering::Relaxed));
    if !stale {
        return None;
    }
    let old = slot.take()?;
    let size = old.size;
    std::mem::forget(old);
    Some(size)
}

/// The current pool, created on first use (and again in a forked child).
pub fn pool() -> PyResult<Arc<ThreadPool>> {
    let generation = FORK_GENERATION.load(Ordering::Relaxed);
    if let Some(s) = POOL.read().map_err(poisoned)?.as_ref() {
        if s.generation == generation {
            return Ok(Arc::clone(&s.pool));
        }
    }
    let mut slot = POOL.write().map_err(poisoned)?;
    let size = abandon_stale(&mut slot);
    if let Some(s) = slot.as_ref() {
        return Ok(Arc::clone(&s.pool));
    }
    let new = build(size.unwrap_or_else(default_threads))?;
    let p = Arc::clone(&new.pool);
    *slot = Some(new);
    Ok(p)
}

fn poisoned<T>(_: T) -> PyErr {
    PyRuntimeError::new_err("tokenmill thread pool lock poisoned")
}

/// Run `f`, turning a panic into a Python exception (`errors::panic_error`). Every native call
/// that runs core code reaches it through here, directly or through the helpers below.
pub fn guarded<T>(f: impl FnOnce() -> T) -> PyResult<T> {
    catch_unwind(AssertUnwindSafe(f)).map_err(errors::panic_error)
}

/// Release the GIL and run `f` inside the bounded pool, so rayon work inside `f` uses it.
pub fn run<T: Send>(py: Python<'_>, f: impl FnOnce() -> T + Send) -> PyResult<T> {
    let p = pool()?;
    py.detach(|| guarded(|| p.install(f)))
}

/// [`run`], while the calling thread watches for
/// signals (see the design notes): `f` receives the stop flag and should return soon after
/// it is set. Returns the signal handler's exception (`KeyboardInterrupt`) if one raised,
/// whatever `f` returned.
pub fn run_interruptible<T: Send>(
    py: Python<'_>,
    f: impl FnOnce(&AtomicBool) -> T + Send,
) -> PyResult<T> {
    let p = pool()?;
    let stop = AtomicBool::new(false);
    let (tx, rx) = sync_channel(1);
    let (done, raised) = py.detach(move || {
        let stop = &stop;
        p.in_place_scope(move |scope| {
            scope.spawn(move |_| {
                // The receiver waits until this arrives, so the send cannot fail.
                let _ = tx.send(guarded(|| f(stop)));
            });
            let mut raised: Option<PyErr> = None;
            loop {
                match rx.recv_timeout(SIGNAL_POLL) {
                    Ok(result) => return (result, raised),
                    Err(RecvTimeoutError::Timeout) => {
                        if raised.is_none() {
                            if let Err(e) = Python::attach(|py| py.check_signals()) {
                                raised = Some(e);
                                stop.store(true, Ordering::Relaxed);
                            }
                        }
                    }
                    Err(RecvTimeoutError::Disconnected) => {
                        let e = PyRuntimeError::new_err("tokenmill worker ended without a result");
                        return (Err(e), raised);
                    }
                }
            }
        })
    });
    match raised {
        Some(e) => Err(e),
        None => done,
    }
}

/// A stop flag that is never set, for work that runs without a signal watcher.
pub static NEVER: AtomicBool = AtomicBool::new(false);

/// Bytes of text from which a single-text call runs through [`run_interruptible`] (a hand-off
/// costs tens of microseconds; this much text takes milliseconds).
pub const INTERRUPTIBLE_BYTES: usize = 1 << 20;

/// Single-text work on `n_bytes` of text: short texts run on the calling thread ([`here_for`]),
/// long ones on the pool with a signal watcher ([`run_interruptible`]). Panics become Python
/// exceptions either way.
pub fn text_work<T: Send>(
    py: Python<'_>,
    n_bytes: usize,
    f: impl FnOnce(&AtomicBool) -> T + Send,
) -> PyResult<T> {
    if n_bytes < INTERRUPTIBLE_BYTES {
        here_for(py, n_bytes, || guarded(|| f(&NEVER)))
    } else {
        run_interruptible(py, f)
    }
}

/// Release the GIL and run `f` on the calling thread. For single-text work: no worker wake-up
/// or hand-off (tens of microseconds, plus the spinning of idle workers), and the per-thread
/// state the core keeps (the BPE piece cache) stays with the caller's thread from call to call.
/// `f` must not need the pool (no rayon parallel iterators). Panics become Python exceptions.
pub fn here<T: Send>(py: Python<'_>, f: impl FnOnce() -> T + Send) -> PyResult<T> {
    py.detach(|| guarded(f))
}

/// Bytes of text below which a single-text call keeps the GIL: releasing and re-taking it
/// costs more than tokenizing that much (~0.2 us, about 10 KB/ms of work), and other Python
/// threads wait at most a few microseconds.
pub const DETACH_BYTES: usize = 4096;

/// [`here`] for work on `n_bytes` of text: short texts run without releasing the GIL.
fn here_for<T: Send>(py: Python<'_>, n_bytes: usize, f: impl FnOnce() -> T + Send) -> T {
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
        py.detach(|| guarded(f))
    } else {
        py.detach(|| guarded(|| p.install(f)))
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
    let mut slot = POOL.write().map_err(poisoned)?;
    abandon_stale(&mut slot);
    if slot.as_ref().is_some_and(|s| s.size == n) {
        // Keep the pool: its threads' per-thread state (the BPE piece caches) stays warm.
        return Ok(());
    }
    *slot = Some(build(n)?);
    Ok(())
}

/// The number of worker threads parallel calls use.
#[pyfunction]
pub fn get_num_threads() -> PyResult<usize> {
    Ok(pool()?.current_num_threads())
}
