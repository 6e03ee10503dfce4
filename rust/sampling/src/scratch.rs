//! Per-thread reusable buffers, so a decode loop allocates nothing after warm-up.

use std::cell::RefCell;

use crate::online::Block;
use crate::select::{Buckets, Cand};

/// Reusable buffers; one per worker thread, so a decode loop allocates nothing after warm-up.
#[derive(Default)]
pub struct Scratch {
    pub(crate) logits: Vec<f32>,
    pub(crate) work: Work,
}

#[derive(Default)]
pub(crate) struct Work {
    pub(crate) blocks: Vec<f32>,
    pub(crate) online: Vec<Block>,
    pub(crate) tmpf: Vec<f32>,
    pub(crate) tmpw: Vec<f32>,
    pub(crate) idx: Vec<u32>,
    pub(crate) cand: Vec<Cand>,
    pub(crate) sums: Vec<f64>,
    pub(crate) buckets: Buckets,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

/// Run `f` with this thread's scratch buffers.
pub fn with_scratch<T>(f: impl FnOnce(&mut Scratch) -> T) -> T {
    SCRATCH.with(|s| match s.try_borrow_mut() {
        Ok(mut s) => f(&mut s),
        // Re-entrant use on one thread (not expected): fall back to fresh buffers.
        Err(_) => f(&mut Scratch::default()),
    })
}
