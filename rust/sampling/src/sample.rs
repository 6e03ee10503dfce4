//! The per-row decoding pipeline: processors, filters, and the draw.
//!
//! Design notes.
//! * Order (as in Hugging Face and vLLM): repetition penalty → presence/frequency penalties →
//!   logit_bias → allowed-token mask → temperature → top-k → top-p → min-p → draw.
//! * Processors are sparse except the mask; when any is active the row is copied once into a
//!   per-thread scratch buffer and modified there (the caller's logits are never written).
//! * Pass 1 computes block maxima (blocks of 32..4096 logits), giving the row max, NaN detection
//!   and, for free, lower bounds for selection: the k-th largest block maximum `t0` guarantees at
//!   least k logits `>= t0`, so top-k only has to look at `{l >= t0}` (typically a few hundred
//!   logits), and only inside the blocks whose max reaches `t0` (a few percent of the row: a
//!   128k row does not fit the 512 KiB L2 of the development machine, so a full second pass
//!   would read it again from L3). min-p reads only the blocks whose max reaches its threshold.
//! * min-p keeps `l >= max + T·ln(min_p)` (computed in f64, rounded up to the next f32, so the
//!   comparison is exact). It commutes with top-k (both are prefixes of the sampling order), so it
//!   also prunes the top-k candidates.
//! * top-p needs the normaliser: with top-k it is the sum over the k survivors; without, one
//!   online pass (`online.rs`: max and exp sums in a single read of the row) computes it, then
//!   a compare pass over the row collects the candidates `z >= z_max - 8`. If their exact mass is
//!   short of `p`, the ladder widens by √2 up to `z_max - 64`, then everything (one compare pass
//!   per rung). A weighted quickselect then finds the exact nucleus (see `select.rs`). Where the
//!   ISA has a fast exp, the pass sums with it and the nucleus is proven unaffected by its error
//!   bound, or the exact pass decides (`top_p_fast`).
//! * Sampling order / ties: larger logit first, ties to the lower id; top-k keeps exactly k,
//!   top-p keeps the shortest prefix whose probability reaches p. Greedy (T = 0) takes the lowest
//!   id among the maxima.
//! * The draw is inverse-CDF over the kept set in increasing id order with `u = philox(seed, step,
//!   draw)`; with no filter at all, over the 1024-logit block sums of the online pass, then inside
//!   one block.
//!   Nothing depends on the row's position, the batch, or the thread: same inputs, same token.
//! * Cost per row: one read pass (block max) + a compare pass over the few blocks that can hold
//!   a candidate (top-k, min-p), or one online max + exp pass (plain sampling, top-p without
//!   top-k; + one compare pass for top-p), + O(candidates).
//! * softmax: the online pass writes the exp values, a second pass over the output (still in
//!   cache) normalises them (see `softmax_row`).

use std::cell::RefCell;

use crate::error::SamplingError;
use crate::online::{self, Block};
use crate::rng;
use crate::select::{self, Cand};
use crate::simd::{self, kernels, Affine, ExpArgs, Kernels};

/// Settings for one row. `top_k = 0`, `top_p = 1` and `min_p = 0` mean "off"; `temperature = 0`
/// means greedy.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RowParams {
    pub temperature: f64,
    pub top_k: usize,
    pub top_p: f64,
    pub min_p: f64,
    pub repetition_penalty: f64,
    pub presence_penalty: f64,
    pub frequency_penalty: f64,
    pub seed: u64,
    pub step: u64,
}

impl Default for RowParams {
    fn default() -> Self {
        RowParams {
            temperature: 1.0,
            top_k: 0,
            top_p: 1.0,
            min_p: 0.0,
            repetition_penalty: 1.0,
            presence_penalty: 0.0,
            frequency_penalty: 0.0,
            seed: 0,
            step: 0,
        }
    }
}

fn bad(name: &'static str, expected: &'static str, value: f64, row: usize) -> SamplingError {
    SamplingError::InvalidParameter {
        name,
        expected,
        value,
        row,
    }
}

/// Number of `f64` per row in the packed parameter layout of [`RowParams::from_packed`].
pub const PACKED_PARAMS: usize = 7;

impl RowParams {
    /// Unpack `[temperature, top_k, top_p, min_p, repetition_penalty, presence_penalty,
    /// frequency_penalty]` (the layout the bindings pass) and validate it.
    pub fn from_packed(row: usize, v: &[f64], seed: u64, step: u64) -> Result<Self, SamplingError> {
        if v.len() != PACKED_PARAMS {
            return Err(SamplingError::Shape {
                name: "packed parameters",
                got: v.len(),
                expected: PACKED_PARAMS,
            });
        }
        let k = v[1];
        if !(k >= 0.0 && k.fract() == 0.0 && k <= 1e15) {
            return Err(bad("top_k", "an integer >= 0", k, row));
        }
        let p = RowParams {
            temperature: v[0],
            top_k: k as usize,
            top_p: v[2],
            min_p: v[3],
            repetition_penalty: v[4],
            presence_penalty: v[5],
            frequency_penalty: v[6],
            seed,
            step,
        };
        p.validate(row)?;
        Ok(p)
    }

    /// Check every parameter's domain; errors name the parameter and the row.
    pub fn validate(&self, row: usize) -> Result<(), SamplingError> {
        let t = self.temperature;
        if !(t >= 0.0 && t.is_finite()) {
            return Err(bad("temperature", "finite and >= 0", t, row));
        }
        if !(self.top_p > 0.0 && self.top_p <= 1.0) {
            return Err(bad("top_p", "in (0, 1]", self.top_p, row));
        }
        if !(0.0..=1.0).contains(&self.min_p) {
            return Err(bad("min_p", "in [0, 1]", self.min_p, row));
        }
        let rp = self.repetition_penalty;
        if !(rp > 0.0 && rp.is_finite()) {
            return Err(bad("repetition_penalty", "finite and > 0", rp, row));
        }
        if !self.presence_penalty.is_finite() {
            return Err(bad(
                "presence_penalty",
                "finite",
                self.presence_penalty,
                row,
            ));
        }
        if !self.frequency_penalty.is_finite() {
            return Err(bad(
                "frequency_penalty",
                "finite",
                self.frequency_penalty,
                row,
            ));
        }
        Ok(())
    }
}

/// Logits processors for one row. Token ids are validated against the vocabulary.
#[derive(Clone, Copy, Debug, Default)]
pub struct RowProcessors<'a> {
    /// Distinct previously generated tokens with their counts (`count > 0`).
    pub history_ids: &'a [i64],
    pub history_counts: &'a [i64],
    /// Sparse logit bias.
    pub bias_ids: &'a [i64],
    pub bias_values: &'a [f32],
    /// Packed allowed-token bitmask, `ceil(vocab / 32)` words: token `i` is allowed iff bit
    /// `i % 32` of word `i / 32` is set.
    pub mask: Option<&'a [u32]>,
}

impl RowProcessors<'_> {
    fn active(&self, p: &RowParams) -> bool {
        let penalties =
            p.repetition_penalty != 1.0 || p.presence_penalty != 0.0 || p.frequency_penalty != 0.0;
        (penalties && !self.history_ids.is_empty())
            || !self.bias_ids.is_empty()
            || self.mask.is_some()
    }
}

/// Where one row's results go. `tokens` has the number of draws `n`; `logprobs`, if present, the
/// same length; `top_ids`/`top_logprobs` the number of top-logprob entries.
pub struct RowOut<'a> {
    pub tokens: &'a mut [i64],
    pub logprobs: Option<&'a mut [f32]>,
    pub top_ids: Option<&'a mut [i64]>,
    pub top_logprobs: Option<&'a mut [f32]>,
}

/// Reusable buffers; one per worker thread, so a decode loop allocates nothing after warm-up.
#[derive(Default)]
pub struct Scratch {
    logits: Vec<f32>,
    work: Work,
}

#[derive(Default)]
struct Work {
    blocks: Vec<f32>,
    online: Vec<Block>,
    tmpf: Vec<f32>,
    tmpw: Vec<f32>,
    idx: Vec<u32>,
    cand: Vec<Cand>,
    sums: Vec<f64>,
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

fn check_ids(
    name: &'static str,
    ids: &[i64],
    vocab: usize,
    row: usize,
) -> Result<(), SamplingError> {
    for &t in ids {
        if t < 0 || t as u64 >= vocab as u64 {
            return Err(SamplingError::TokenOutOfRange {
                name,
                token: t,
                vocab,
                row,
            });
        }
    }
    Ok(())
}

/// Apply the processors to a copy of `x` in `buf`.
fn apply_processors(
    row: usize,
    x: &[f32],
    p: &RowParams,
    pr: &RowProcessors<'_>,
    buf: &mut Vec<f32>,
) -> Result<(), SamplingError> {
    let vocab = x.len();
    check_ids("token_history", pr.history_ids, vocab, row)?;
    check_ids("logit_bias", pr.bias_ids, vocab, row)?;
    if pr.history_ids.len() != pr.history_counts.len() {
        return Err(SamplingError::Shape {
            name: "token counts",
            got: pr.history_counts.len(),
            expected: pr.history_ids.len(),
        });
    }
    if pr.bias_ids.len() != pr.bias_values.len() {
        return Err(SamplingError::Shape {
            name: "logit_bias values",
            got: pr.bias_values.len(),
            expected: pr.bias_ids.len(),
        });
    }
    buf.clear();
    buf.extend_from_slice(x);
    let rp = p.repetition_penalty as f32;
    let (pres, freq) = (p.presence_penalty as f32, p.frequency_penalty as f32);
    for (&t, &c) in pr.history_ids.iter().zip(pr.history_counts) {
        if c <= 0 {
            continue;
        }
        let v = &mut buf[t as usize];
        if p.repetition_penalty != 1.0 {
            *v = if *v > 0.0 { *v / rp } else { *v * rp };
        }
        if p.presence_penalty != 0.0 || p.frequency_penalty != 0.0 {
            *v -= pres + freq * c as f32;
        }
    }
    for (&t, &b) in pr.bias_ids.iter().zip(pr.bias_values) {
        buf[t as usize] += b;
    }
    if let Some(mask) = pr.mask {
        let words = vocab.div_ceil(32);
        if mask.len() != words {
            return Err(SamplingError::Shape {
                name: "allowed_mask row",
                got: mask.len(),
                expected: words,
            });
        }
        for (w, chunk) in mask.iter().zip(buf.chunks_mut(32)) {
            if *w == u32::MAX {
                continue;
            }
            for (b, v) in chunk.iter_mut().enumerate() {
                if (w >> b) & 1 == 0 {
                    *v = f32::NEG_INFINITY;
                }
            }
        }
    }
    Ok(())
}

/// Row max via block maxima (stored in `blocks`), with NaN / +inf / all -inf checks.
fn scan(
    k: &Kernels,
    row: usize,
    l: &[f32],
    block: usize,
    blocks: &mut Vec<f32>,
) -> Result<f32, SamplingError> {
    blocks.clear();
    let nan = (k.block_max)(l, block, blocks);
    let m = blocks.iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b));
    finite_max(row, l, m, nan)
}

fn finite_max(row: usize, l: &[f32], m: f32, nan: bool) -> Result<f32, SamplingError> {
    if nan {
        let token = l.iter().position(|v| v.is_nan()).unwrap_or(0);
        return Err(SamplingError::NaN { row, token });
    }
    if m == f32::INFINITY {
        let token = l.iter().position(|&v| v == f32::INFINITY).unwrap_or(0);
        return Err(SamplingError::PosInf { row, token });
    }
    if m == f32::NEG_INFINITY {
        return Err(SamplingError::AllMasked { row });
    }
    Ok(m)
}

/// Greedy: the lowest id among the maxima, in one vector pass. Block maxima over short blocks
/// give the row max (and the NaN / +inf / all -inf checks); only the first block holding the max
/// is scanned again, so the second look costs at most `GREEDY_BLOCK` reads.
fn greedy_id(
    k: &Kernels,
    row: usize,
    l: &[f32],
    blocks: &mut Vec<f32>,
) -> Result<usize, SamplingError> {
    const GREEDY_BLOCK: usize = 256;
    let m = scan(k, row, l, GREEDY_BLOCK, blocks)?;
    let b = blocks.iter().position(|&v| v == m).unwrap_or(0);
    let start = b * GREEDY_BLOCK;
    let end = (start + GREEDY_BLOCK).min(l.len());
    Ok(l[start..end]
        .iter()
        .position(|&v| v == m)
        .map_or(0, |i| start + i))
}

/// Smallest f32 >= v.
fn f32_at_least(v: f64) -> f32 {
    let f = v as f32;
    if f64::from(f) < v {
        f.next_up()
    } else {
        f
    }
}

/// The k-th largest of `blocks` (a lower bound for the k-th largest logit), or -inf.
fn kth_block_max(blocks: &[f32], k: usize, tmp: &mut Vec<f32>) -> f32 {
    if k == 0 || k > blocks.len() {
        return f32::NEG_INFINITY;
    }
    tmp.clear();
    tmp.extend_from_slice(blocks);
    let (_, kth, _) = tmp.select_nth_unstable_by(k - 1, |a, b| b.total_cmp(a));
    *kth
}

fn block_len(vocab: usize, want_blocks: usize) -> usize {
    let target = (vocab / want_blocks.max(1)).max(1);
    let pow = if target.is_power_of_two() {
        target
    } else {
        target.next_power_of_two() / 2
    };
    pow.clamp(32, 4096)
}

/// The kept set: `All` tokens (no filter) or the explicit candidates in `work.cand` (any order).
enum Kept {
    All,
    List,
}

struct RowState {
    max: f32,
    exp: ExpArgs,
    /// Log of the normaliser of the final distribution.
    log_z: f64,
    kept: Kept,
}

/// Fill `w.cand` from the indices in `w.idx`, with weights from the vector exp (values gathered
/// into a contiguous buffer, one kernel call).
fn fill_cands_simd(k: &Kernels, l: &[f32], w: &mut Work, a: &ExpArgs) {
    w.tmpf.clear();
    w.tmpf.extend(w.idx.iter().map(|&i| l[i as usize]));
    w.tmpw.resize(w.tmpf.len(), 0.0);
    k.exp_write_row(&w.tmpf, a, &mut w.tmpw);
    w.cand.clear();
    for ((&i, &v), &e) in w.idx.iter().zip(&w.tmpf).zip(&w.tmpw) {
        w.cand.push(Cand {
            v,
            id: i,
            w: f64::from(e) * a.unscale,
        });
    }
}

/// Cut the candidates to the nucleus of size `n` that `select::nucleus` left in `w.cand[..n]`,
/// in increasing id order: every candidate up to the nucleus's last member in sampling order,
/// rebuilt from the id-ordered lists `fill_cands_simd` made them from (so the draw needs no sort
/// of the nucleus by id, which took 8 µs on the ~400-token nucleus of a 128k row).
fn keep_nucleus(w: &mut Work, n: usize, a: &ExpArgs) {
    let Some(last) =
        w.cand[..n]
            .iter()
            .copied()
            .reduce(|p, q| if select::order(&p, &q).is_lt() { q } else { p })
    else {
        w.cand.clear();
        return;
    };
    w.cand.clear();
    for ((&i, &v), &e) in w.idx.iter().zip(&w.tmpf).zip(&w.tmpw) {
        // Precedes `last` in sampling order, or is it.
        if (v > last.v) | ((v == last.v) & (i <= last.id)) {
            w.cand.push(Cand {
                v,
                id: i,
                w: f64::from(e) * a.unscale,
            });
        }
    }
}

#[inline]
fn weight(v: f32, a: &ExpArgs) -> f64 {
    if v == f32::NEG_INFINITY {
        0.0
    } else {
        ((f64::from(v) - f64::from(a.max)) * a.inv_t).exp()
    }
}

/// Compute the kept set of a row with temperature > 0.
fn kept_set(
    k: &Kernels,
    row: usize,
    l: &[f32],
    p: &RowParams,
    w: &mut Work,
) -> Result<RowState, SamplingError> {
    let vocab = l.len();
    let k_on = p.top_k > 0 && p.top_k < vocab;
    let p_on = p.top_p < 1.0;
    let mp_on = p.min_p > 0.0;
    let inv_t = 1.0 / p.temperature;
    let t_minp = |m: f32| {
        if mp_on {
            f32_at_least(f64::from(m) + p.temperature * p.min_p.ln())
        } else {
            f32::NEG_INFINITY
        }
    };
    if !(k_on || p_on || mp_on) {
        // One online pass: max and per-block exp sums (moved to the row max afterwards).
        let m = online_max(
            k,
            row,
            l,
            inv_t,
            SUM_BLOCK,
            online::Mode::Sum,
            &mut w.online,
        )?;
        w.sums.clear();
        w.sums.extend(
            w.online
                .iter()
                .map(|b| b.sum * online::rescale(b.r#ref, m, inv_t)),
        );
        let z: f64 = w.sums.iter().sum();
        return Ok(RowState {
            max: m,
            exp: ExpArgs::new(m, inv_t),
            log_z: z.ln(),
            kept: Kept::All,
        });
    }
    if p_on && !k_on {
        return top_p_set(k, row, l, p, w, t_minp);
    }
    // top-k: 8·k blocks, so the k-th largest block max is a tight floor; min-p alone: ~512.
    let block = block_len(vocab, if k_on { 8 * p.top_k } else { MINP_BLOCKS });
    let m = scan(k, row, l, block, &mut w.blocks)?;
    let a = ExpArgs::new(m, inv_t);
    let t_minp = t_minp(m);
    if k_on {
        let t0 = kth_block_max(&w.blocks, p.top_k, &mut w.tmpf);
        let floor = if p_on { t0 } else { t0.max(t_minp) };
        w.idx.clear();
        collect_in_blocks(k, l, block, &w.blocks, floor, &mut w.idx);
        fill_cands_simd(k, l, w, &a);
        select::top_k(&mut w.cand, p.top_k);
        w.cand.truncate(p.top_k);
        if p_on {
            let z: f64 = w.cand.iter().map(|c| c.w).sum();
            let n = select::nucleus(&mut w.cand, p.top_p * z);
            w.cand.truncate(n);
        }
    } else {
        w.idx.clear();
        collect_in_blocks(k, l, block, &w.blocks, t_minp, &mut w.idx);
        fill_cands_simd(k, l, w, &a);
    }
    Ok(finish(m, a, t_minp, w))
}

/// Blocks per row for min-p without top-k: 256-logit blocks at 128k, so the blocks holding a
/// logit above the threshold are a small part of the row.
const MINP_BLOCKS: usize = 512;

/// `collect_ge(l, thr)`, reading only the `block`-long blocks whose max (`maxes`, from `scan`)
/// reaches `thr`: every logit `>= thr` lies in one. A second full pass would read a 128k row
/// again from L3 (it does not fit the 512 KiB L2 of the development machine); this one reads a
/// few percent of it for top-k 50 or min-p 0.05.
fn collect_in_blocks(
    k: &Kernels,
    l: &[f32],
    block: usize,
    maxes: &[f32],
    thr: f32,
    out: &mut Vec<u32>,
) {
    for (b, &bm) in maxes.iter().enumerate() {
        if bm >= thr {
            let start = b * block;
            let from = out.len();
            (k.collect_ge)(&l[start..(start + block).min(l.len())], thr, out);
            for i in &mut out[from..] {
                *i += start as u32;
            }
        }
    }
}

/// The common end of `kept_set`: drop what min-p or a -inf excludes, order by id, normalise.
fn finish(m: f32, a: ExpArgs, t_minp: f32, w: &mut Work) -> RowState {
    w.cand.retain(|c| c.v >= t_minp && c.v > f32::NEG_INFINITY);
    // Increasing id order: the draw walks the CDF in this order (min-p's list is collected in it,
    // top-p's is rebuilt in it).
    if !w.cand.is_sorted_by_key(|c| c.id) {
        w.cand.sort_unstable_by_key(|c| c.id);
    }
    let z: f64 = w.cand.iter().map(|c| c.w).sum();
    RowState {
        max: m,
        exp: a,
        log_z: z.ln(),
        kept: Kept::List,
    }
}

/// top-p without top-k (min-p optional): [`top_p_fast`] where the ISA has a fast exp sum and it
/// can decide, else [`top_p_exact`]. Both keep the same set.
///
/// Both find the nucleus on a candidate ladder: the first rung is `z >= z_max - 8` (`z = x / T`);
/// if its exact mass is short of the target, the ladder widens by √2 up to `z_max - 64`, then
/// everything. The first rung that reaches the target contains the nucleus, and a weighted
/// quickselect finds it exactly. Each rung is collected by a compare pass over the row. (Block
/// maxima recorded in the online pass, to read only the blocks that can hold a candidate,
/// measured slower: ~38% of 64-logit blocks hold one at the first rung.)
fn top_p_set(
    k: &Kernels,
    row: usize,
    l: &[f32],
    p: &RowParams,
    w: &mut Work,
    t_minp: impl Fn(f32) -> f32,
) -> Result<RowState, SamplingError> {
    if let Some(fast) = k.exp_sum_fast {
        if let Some(st) = top_p_fast(k, fast, l, p, w, &t_minp) {
            return Ok(st);
        }
    }
    top_p_exact(k, row, l, p, w, t_minp)
}

/// The first rung of the top-p candidate ladder: logits within `8 T` of the max.
const FIRST_RUNG: f64 = 8.0;

/// The rung `d` of the ladder below the max `m` at temperature `t` (`-inf`: everything).
fn rung(m: f32, d: f64, t: f64) -> f32 {
    if d > 64.0 {
        f32::NEG_INFINITY
    } else {
        (f64::from(m) - d * t) as f32
    }
}

/// A row's candidate ladder: its max, temperature and exp constants.
struct Ladder {
    m: f32,
    t: f64,
    a: ExpArgs,
}

impl Ladder {
    fn rung(&self, d: f64) -> f32 {
        rung(self.m, d, self.t)
    }

    /// Collect the candidates of rung `d` (indices into `w.idx`, logits into `w.tmpf`) by a
    /// compare pass over the row, and weigh them.
    fn collect(&self, k: &Kernels, l: &[f32], d: f64, w: &mut Work) {
        w.idx.clear();
        (k.collect_ge)(l, self.rung(d), &mut w.idx);
        fill_cands_simd(k, l, w, &self.a);
    }

    /// Widen from rung `d` until the candidates' mass reaches `target`; returns the final `d`
    /// (past 64 when everything is a candidate).
    fn widen(&self, k: &Kernels, l: &[f32], mut d: f64, w: &mut Work, target: f64) -> f64 {
        loop {
            let mass: f64 = w.cand.iter().map(|c| c.w).sum();
            if mass >= target || self.rung(d) == f32::NEG_INFINITY {
                return d;
            }
            // Widen gently: a compare pass is cheaper than selecting over a much larger list.
            d *= std::f64::consts::SQRT_2;
            self.collect(k, l, d, w);
        }
    }
}

/// top-p with an approximate normaliser and a proof that it does not matter; `None` (the caller
/// runs [`top_p_exact`]) when it might, or when the row has an error to report.
///
/// The online pass sums every term with the fast kernel (within `ε = fast_exp_eps`, about 1e-4);
/// the first rung's candidates are weighed exactly, and the same fast kernel's terms of those
/// candidates are taken back out of the sum (equal term by term: same logit, same block
/// constants). So the normaliser `Z = Z_bulk + Z_cand` is known to within
/// `Δ = 1.1 ε Z_bulk + 4e-6 Z`, where the second term covers the f32 partial sums and the error
/// of the exact path's own `Z`. The ladder widens until its mass reaches `p (Z + Δ)`. The nucleus
/// for the target `p (Z - Δ)` is then the nucleus for every target up to `p (Z + Δ)` exactly
/// when its own mass reaches `p (Z + Δ)`; it is then also the one the exact normaliser gives, and
/// it is returned. Otherwise the cut-off lies within `Δ` of a token boundary, and the exact path
/// decides. On the bench's N(0, 3²) rows at T = 0.7 that is 1 row in 32; on a very flat
/// 100k-token row, most rows.
fn top_p_fast(
    k: &Kernels,
    fast: fn(&[f32], &ExpArgs) -> f64,
    l: &[f32],
    p: &RowParams,
    w: &mut Work,
    t_minp: &impl Fn(f32) -> f32,
) -> Option<RowState> {
    let (t, inv_t) = (p.temperature, 1.0 / p.temperature);
    let mode = online::Mode::Fast(fast);
    // A NaN, +inf or an all -inf row: the exact path reports it.
    let m = online::pass(k, l, inv_t, online::CHUNK, mode, &mut w.online)?;
    if m == f32::NEG_INFINITY {
        return None;
    }
    let z_all = online::normaliser(&w.online, m, inv_t);
    // The bound grows with |ref / T|: the largest over the blocks' references covers them all.
    let ref_abs = w
        .online
        .iter()
        .filter(|b| b.r#ref > f32::NEG_INFINITY)
        .fold(0.0f32, |a, b| a.max(b.r#ref.abs()));
    let eps = simd::fast_exp_eps(&ExpArgs::new(ref_abs, inv_t));
    let lad = Ladder {
        m,
        t,
        a: ExpArgs::new(m, inv_t),
    };
    lad.collect(k, l, FIRST_RUNG, w);
    // Take the candidates' fast terms back out, block by block with that block's constants (ids
    // increase, so each block's candidates are one run; a block holding one had a finite max).
    let mut z_cand_fast = 0.0f64;
    let mut from = 0;
    let mut last: Option<(f32, ExpArgs)> = None;
    while from < w.idx.len() {
        let blk = w.idx[from] as usize / online::CHUNK;
        let to = from
            + w.idx[from..]
                .iter()
                .take_while(|&&i| i as usize / online::CHUNK == blk)
                .count();
        let r = w.online[blk].r#ref;
        let ab = match last {
            Some((lr, ab)) if lr == r => ab,
            _ => ExpArgs::new(r, inv_t),
        };
        last = Some((r, ab));
        z_cand_fast += Kernels::exp_sum_fast_row(fast, &w.tmpf[from..to], &ab)
            * ab.unscale
            * online::rescale(r, m, inv_t);
        from = to;
    }
    let z_bulk = (z_all - z_cand_fast).max(0.0);
    let z = z_bulk + w.cand.iter().map(|c| c.w).sum::<f64>();
    let delta = 1.1 * eps * z_bulk + 4e-6 * z;
    let (lo, hi) = (p.top_p * (z - delta), p.top_p * (z + delta));
    let d = lad.widen(k, l, FIRST_RUNG, w, hi);
    if lad.rung(d) == f32::NEG_INFINITY {
        // Everything is a candidate (a flat row): the exact path's normaliser is as cheap here.
        return None;
    }
    let n = select::nucleus(&mut w.cand, lo);
    let mass: f64 = w.cand[..n].iter().map(|c| c.w).sum();
    if mass < hi {
        return None;
    }
    keep_nucleus(w, n, &lad.a);
    Some(finish(m, lad.a, t_minp(m), w))
}

/// top-p with the exact normaliser (see [`top_p_set`]).
fn top_p_exact(
    k: &Kernels,
    row: usize,
    l: &[f32],
    p: &RowParams,
    w: &mut Work,
    t_minp: impl Fn(f32) -> f32,
) -> Result<RowState, SamplingError> {
    let (t, inv_t) = (p.temperature, 1.0 / p.temperature);
    let m = online_max(
        k,
        row,
        l,
        inv_t,
        online::CHUNK,
        online::Mode::Sum,
        &mut w.online,
    )?;
    let z = online::normaliser(&w.online, m, inv_t);
    let lad = Ladder {
        m,
        t,
        a: ExpArgs::new(m, inv_t),
    };
    let target = p.top_p * z;
    lad.collect(k, l, FIRST_RUNG, w);
    lad.widen(k, l, FIRST_RUNG, w, target);
    let n = select::nucleus(&mut w.cand, target);
    keep_nucleus(w, n, &lad.a);
    Ok(finish(m, lad.a, t_minp(m), w))
}

/// `online::pass`, with the row's error (NaN, +inf, all -inf) when it stops or finds no finite
/// logit.
fn online_max(
    k: &Kernels,
    row: usize,
    l: &[f32],
    inv_t: f64,
    sub: usize,
    mode: online::Mode<'_>,
    blocks: &mut Vec<Block>,
) -> Result<f32, SamplingError> {
    match online::pass(k, l, inv_t, sub, mode, blocks) {
        Some(m) if m > f32::NEG_INFINITY => Ok(m),
        _ => {
            let (m, nan) = (k.max_nan)(l);
            finite_max(row, l, m, nan)?;
            // Unreachable: the pass stops only on NaN or +inf, which `finite_max` reports.
            Err(SamplingError::AllMasked { row })
        }
    }
}

/// Logits per block sum of the unfiltered draw (divides `online::CHUNK`).
const SUM_BLOCK: usize = 1024;

/// One inverse-CDF draw from the kept set.
fn draw(l: &[f32], st: &RowState, w: &Work, u: f64) -> usize {
    match st.kept {
        Kept::List => {
            let z: f64 = st.log_z.exp();
            let target = u * z;
            let mut acc = 0.0;
            let mut last = w.cand.first().map_or(0, |c| c.id as usize);
            for c in &w.cand {
                if c.w > 0.0 {
                    acc += c.w;
                    last = c.id as usize;
                    if acc > target {
                        return last;
                    }
                }
            }
            last
        }
        Kept::All => {
            let z: f64 = w.sums.iter().sum();
            let mut target = u * z;
            let mut blk = w.sums.len().saturating_sub(1);
            for (b, &s) in w.sums.iter().enumerate() {
                if target < s {
                    blk = b;
                    break;
                }
                target -= s;
            }
            // Skip trailing empty blocks when rounding pushed us past the end.
            while blk > 0 && w.sums[blk] == 0.0 {
                blk -= 1;
            }
            let start = blk * SUM_BLOCK;
            let end = (start + SUM_BLOCK).min(l.len());
            let mut acc = 0.0;
            let mut last = start;
            for (i, &v) in l[start..end].iter().enumerate() {
                let wt = weight(v, &st.exp);
                if wt > 0.0 {
                    acc += wt;
                    last = start + i;
                    if acc > target {
                        return last;
                    }
                }
            }
            last
        }
    }
}

fn log_prob(l: &[f32], st: &RowState, id: usize) -> f32 {
    ((f64::from(l[id]) - f64::from(st.max)) * st.exp.inv_t - st.log_z) as f32
}

/// The logits after processors: the caller's row, or the processed copy in `s.logits`.
fn processed<'a>(
    row: usize,
    x: &'a [f32],
    p: &RowParams,
    pr: &RowProcessors<'_>,
    s: &'a mut Scratch,
) -> Result<(&'a [f32], &'a mut Work), SamplingError> {
    if pr.active(p) {
        apply_processors(row, x, p, pr, &mut s.logits)?;
        Ok((&s.logits[..], &mut s.work))
    } else {
        Ok((x, &mut s.work))
    }
}

/// Sample one row. `row` is used only in error messages.
pub fn sample_row(
    row: usize,
    x: &[f32],
    p: &RowParams,
    pr: &RowProcessors<'_>,
    out: RowOut<'_>,
    s: &mut Scratch,
) -> Result<(), SamplingError> {
    p.validate(row)?;
    let k = kernels();
    let (l, w) = processed(row, x, p, pr, s)?;
    if p.temperature == 0.0 {
        let id = greedy_id(k, row, l, &mut w.blocks)?;
        out.tokens.fill(id as i64);
        if let Some(lp) = out.logprobs {
            lp.fill(0.0);
        }
        if let Some(ti) = out.top_ids {
            ti.fill(-1);
            if let Some(first) = ti.first_mut() {
                *first = id as i64;
            }
        }
        if let Some(tl) = out.top_logprobs {
            tl.fill(f32::NEG_INFINITY);
            if let Some(first) = tl.first_mut() {
                *first = 0.0;
            }
        }
        return Ok(());
    }
    let st = kept_set(k, row, l, p, w)?;
    for (j, t) in out.tokens.iter_mut().enumerate() {
        let u = rng::uniform(p.seed, p.step, j as u32);
        *t = draw(l, &st, w, u) as i64;
    }
    if let Some(lp) = out.logprobs {
        for (o, &t) in lp.iter_mut().zip(out.tokens.iter()) {
            *o = log_prob(l, &st, t as usize);
        }
    }
    let n_top = out.top_ids.as_ref().map_or(0, |t| t.len());
    if n_top > 0 {
        top_entries(k, l, &st, w, n_top);
        if let Some(ti) = out.top_ids {
            ti.fill(-1);
            for (o, c) in ti.iter_mut().zip(&w.cand) {
                *o = i64::from(c.id);
            }
        }
        if let Some(tl) = out.top_logprobs {
            tl.fill(f32::NEG_INFINITY);
            for (o, c) in tl.iter_mut().zip(&w.cand) {
                *o = log_prob(l, &st, c.id as usize);
            }
        }
    }
    Ok(())
}

/// Leave in `w.cand` (sorted in sampling order) the `n` most likely kept tokens.
fn top_entries(k: &Kernels, l: &[f32], st: &RowState, w: &mut Work, n: usize) {
    if let Kept::All = st.kept {
        let bl = block_len(l.len(), 8 * n);
        w.blocks.clear();
        (k.block_max)(l, bl, &mut w.blocks);
        let t0 = kth_block_max(&w.blocks, n, &mut w.tmpf);
        w.idx.clear();
        (k.collect_ge)(l, t0.max(f32::MIN), &mut w.idx);
        fill_cands_simd(k, l, w, &st.exp);
    }
    select::top_k(&mut w.cand, n);
    w.cand.truncate(n);
    w.cand.sort_unstable_by(select::order);
}

/// Write the kept set of one row (after processors and filters) into `out` as booleans.
pub fn kept_row(
    row: usize,
    x: &[f32],
    p: &RowParams,
    pr: &RowProcessors<'_>,
    out: &mut [bool],
    s: &mut Scratch,
) -> Result<(), SamplingError> {
    p.validate(row)?;
    let k = kernels();
    let (l, w) = processed(row, x, p, pr, s)?;
    out.fill(false);
    if p.temperature == 0.0 {
        let id = greedy_id(k, row, l, &mut w.blocks)?;
        out[id] = true;
        return Ok(());
    }
    let st = kept_set(k, row, l, p, w)?;
    match st.kept {
        Kept::All => {
            for (o, &v) in out.iter_mut().zip(l) {
                *o = v > f32::NEG_INFINITY;
            }
        }
        Kept::List => {
            for c in &w.cand {
                out[c.id as usize] = true;
            }
        }
    }
    Ok(())
}

/// Softmax (or log-softmax) of one row at temperature `t > 0`, written to `out`.
///
/// One online pass (see `online.rs`) writes `exp((x - ref) / T) · 2^64` per chunk and sums it;
/// a second pass over the output, while it is still in cache and last-written chunk first,
/// multiplies each chunk by `exp((ref - max) / T) / S` (one rounding, which also removes the
/// bias). Outputs that land in the subnormal range are recomputed in f64 from the logit, so they
/// are correctly rounded. log-softmax: the same pass without writes, then `x / T - log Z`.
///
/// Measured and dropped (in-process A/B against this version, [64, 128256] rows, AVX2 VM with a
/// 512 KiB L2): staging the first pass in a per-thread buffer and writing `out` once with
/// streaming stores, to save reading `out`'s lines for ownership, was 25% slower.
pub fn softmax_row(
    row: usize,
    x: &[f32],
    t: f64,
    log: bool,
    out: &mut [f32],
) -> Result<(), SamplingError> {
    if !(t > 0.0 && t.is_finite()) {
        return Err(bad("temperature", "finite and > 0 for softmax", t, row));
    }
    with_scratch(|s| softmax_with(row, x, t, log, out, &mut s.work.online))
}

fn softmax_with(
    row: usize,
    x: &[f32],
    t: f64,
    log: bool,
    out: &mut [f32],
    blocks: &mut Vec<Block>,
) -> Result<(), SamplingError> {
    let k = kernels();
    let inv_t = 1.0 / t;
    let mode = if log {
        online::Mode::Sum
    } else {
        online::Mode::Write(&mut *out)
    };
    let m = online_max(k, row, x, inv_t, online::CHUNK, mode, blocks)?;
    // The normaliser (each block moved to the row max).
    let z = online::normaliser(blocks, m, inv_t);
    if log {
        let c = f64::from(m) * inv_t + z.ln();
        (k.affine_write)(x, &Affine::new(inv_t, c), out);
        return Ok(());
    }
    let a = ExpArgs::new(m, inv_t);
    for (c, b) in blocks.iter().enumerate().rev() {
        let lo = c * online::CHUNK;
        let hi = (lo + online::CHUNK).min(x.len());
        let o = &mut out[lo..hi];
        // Moves the block's values to the row max, removes their scale, normalises.
        let g = online::rescale(b.r#ref, m, inv_t) * b.unscale / z;
        let sub = if g >= f64::from(f32::MIN_POSITIVE) * 16.0 {
            (k.scale)(o, g as f32)
        } else {
            // The block's reference was so far below the max that the factor is not a normal
            // f32: recompute it against the max (rare; never for exchangeable logits).
            k.exp_write_row(&x[lo..hi], &a, o);
            (k.scale)(o, (a.unscale / z) as f32)
        };
        if sub {
            for (v, &xv) in o.iter_mut().zip(&x[lo..hi]) {
                if *v > 0.0 && *v < f32::MIN_POSITIVE {
                    *v = (((f64::from(xv) - f64::from(m)) * inv_t).exp() / z) as f32;
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Softmax against a float64 reference on long rows: the maximum late in the row, long -inf
    /// prefixes, lengths that are not multiples of the vector width, and results that underflow.
    #[test]
    fn softmax_matches_f64_reference() {
        let wave = |i: usize| ((i * 7919 % 1000) as f32) * 0.01 - 5.0;
        let rows: Vec<Vec<f32>> = vec![
            (0..10_001)
                .map(|i| i as f32 * 0.003 - 20.0 + wave(i))
                .collect(),
            (0..20_000)
                .map(|i| {
                    if i < 9_000 {
                        f32::NEG_INFINITY
                    } else {
                        wave(i)
                    }
                })
                .collect(),
            (0..300_007)
                .map(|i| (i as f32) * 4e-4 - 100.0 + wave(i) * 0.1)
                .collect(),
            (0..4_100)
                .map(|i| if i == 4_099 { 40.0 } else { wave(i) * 10.0 })
                .collect(),
            vec![1.5, -2.0, 0.25],
        ];
        for x in &rows {
            for t in [1.0, 0.7, 0.05] {
                let m = x.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                let e: Vec<f64> = x
                    .iter()
                    .map(|&v| ((f64::from(v) - f64::from(m)) / t).exp())
                    .collect();
                let z: f64 = e.iter().sum();
                let mut a = vec![0.0f32; x.len()];
                softmax_row(0, x, t, false, &mut a).unwrap();
                for (i, (&got, &ei)) in a.iter().zip(&e).enumerate() {
                    let r = ei / z;
                    if r >= f64::from(f32::MIN_POSITIVE) {
                        let rel = (f64::from(got) - r).abs() / r;
                        assert!(rel <= 1e-6, "len {} t {t} i {i}: {got} vs {r}", x.len());
                    } else {
                        assert!((f64::from(got) - r).abs() <= 2e-45, "i {i}: {got} vs {r}");
                    }
                }
            }
        }
    }

    #[test]
    fn softmax_bad_rows_report_the_first_problem() {
        let mut x: Vec<f32> = (0..20_000).map(|i| i as f32 * 1e-3).collect();
        x[15_000] = f32::INFINITY;
        x[17_000] = f32::NAN;
        let mut o = vec![0.0f32; x.len()];
        // NaN anywhere wins over +inf.
        assert!(matches!(
            softmax_row(3, &x, 1.0, false, &mut o),
            Err(SamplingError::NaN {
                row: 3,
                token: 17_000
            })
        ));
        x[17_000] = 0.0;
        assert!(matches!(
            softmax_row(3, &x, 1.0, false, &mut o),
            Err(SamplingError::PosInf {
                row: 3,
                token: 15_000
            })
        ));
        let x = vec![f32::NEG_INFINITY; 9_000];
        assert!(matches!(
            softmax_row(1, &x, 1.0, false, &mut o[..9_000]),
            Err(SamplingError::AllMasked { row: 1 })
        ));
    }

    fn params(t: f64, top_k: usize, top_p: f64, min_p: f64) -> RowParams {
        RowParams {
            temperature: t,
            top_k,
            top_p,
            min_p,
            ..RowParams::default()
        }
    }

    fn kept(x: &[f32], p: &RowParams) -> Vec<usize> {
        let mut out = vec![false; x.len()];
        let mut s = Scratch::default();
        kept_row(0, x, p, &RowProcessors::default(), &mut out, &mut s).unwrap();
        out.iter()
            .enumerate()
            .filter(|(_, &b)| b)
            .map(|(i, _)| i)
            .collect()
    }

    fn sample(x: &[f32], p: &RowParams) -> i64 {
        let mut t = [0i64];
        let out = RowOut {
            tokens: &mut t,
            logprobs: None,
            top_ids: None,
            top_logprobs: None,
        };
        let mut s = Scratch::default();
        sample_row(0, x, p, &RowProcessors::default(), out, &mut s).unwrap();
        t[0]
    }

    #[test]
    fn top_k_ties_go_to_lower_ids() {
        let x = [1.0f32, 3.0, 3.0, 2.0, 3.0, 3.0];
        assert_eq!(kept(&x, &params(1.0, 2, 1.0, 0.0)), vec![1, 2]);
        assert_eq!(kept(&x, &params(1.0, 5, 1.0, 0.0)), vec![1, 2, 3, 4, 5]);
    }

    #[test]
    fn greedy_takes_lowest_id_among_maxima() {
        let x = [0.0f32, 5.0, 1.0, 5.0];
        assert_eq!(sample(&x, &params(0.0, 0, 1.0, 0.0)), 1);
    }

    /// Greedy on long rows against a plain first-maximum scan: maxima tied inside one block and
    /// across blocks, at block edges, in a short last block, with -inf and signed zeros around.
    #[test]
    fn greedy_matches_first_maximum_on_long_rows() {
        let g = params(0.0, 0, 1.0, 0.0);
        for vocab in [1usize, 255, 256, 257, 1000, 4097, 128_256] {
            let base: Vec<f32> = (0..vocab)
                .map(|i| (crate::rng::uniform(vocab as u64, i as u64, 3) * 10.0 - 5.0) as f32)
                .collect();
            let spots = [0, 255, 256, 511, vocab / 2, vocab - 1];
            for (a, &i) in spots.iter().enumerate() {
                for &j in &spots[a..] {
                    let (i, j) = (i.min(vocab - 1), j.min(vocab - 1));
                    let mut x = base.clone();
                    x[j] = 7.0;
                    x[i] = 7.0;
                    if i > 0 {
                        x[i - 1] = f32::NEG_INFINITY;
                    }
                    let want = x.iter().position(|&v| v == 7.0).unwrap();
                    assert_eq!(sample(&x, &g) as usize, want, "vocab {vocab}, {i}, {j}");
                    assert_eq!(kept(&x, &g), vec![want]);
                }
            }
            let mut z = vec![f32::NEG_INFINITY; vocab];
            z[vocab - 1] = 0.0;
            z[vocab / 2] = -0.0;
            assert_eq!(sample(&z, &g) as usize, vocab / 2, "signed zeros tie");
        }
    }

    #[test]
    fn min_p_threshold() {
        // p_i / p_max = exp(x_i - 2): keep ratios >= 0.3 -> x >= 2 + ln 0.3 = 0.796.
        let x = [2.0f32, 0.8, 0.79, -5.0];
        assert_eq!(kept(&x, &params(1.0, 0, 1.0, 0.3)), vec![0, 1]);
    }

    /// The online pass (chunks of `online::CHUNK`): lengths around chunk boundaries, a max that
    /// rises late by a little (rescaled sums) or by a lot (recomputed chunks), -inf chunks before
    /// the first finite logit, very negative and subnormal logits; softmax against f64 and the
    /// top-p kept set against a sort-based reference.
    #[test]
    fn online_pass_at_chunk_boundaries() {
        const C: usize = online::CHUNK;
        let wave = |i: usize| ((i * 7919 % 1000) as f32) * 0.006 - 3.0;
        for len in [C - 1, C, C + 1, 2 * C + 7, 5 * C + 3] {
            for case in 0..5 {
                let x: Vec<f32> = (0..len)
                    .map(|i| match case {
                        // the max rises a little in every chunk
                        0 => wave(i) + (i / C) as f32 * 0.5,
                        // a much larger max in the last chunk
                        1 => wave(i) + if i >= len - 3 { 150.0 } else { 0.0 },
                        // -inf chunks first, then finite logits
                        2 if i < C + 5 && i + 10 < len => f32::NEG_INFINITY,
                        2 => wave(i),
                        // very negative and subnormal logits among normal ones
                        3 => [wave(i), -1e30, 1e-40, -95.0 + wave(i)][i % 4],
                        // the row max in the first chunk, everything else far below
                        _ => {
                            if i == 3 {
                                40.0
                            } else {
                                wave(i) - 60.0
                            }
                        }
                    })
                    .collect();
                for t in [1.0, 0.7] {
                    let m = x.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                    let e: Vec<f64> = x
                        .iter()
                        .map(|&v| ((f64::from(v) - f64::from(m)) / t).exp())
                        .collect();
                    let z: f64 = e.iter().sum();
                    let mut got = vec![0.0f32; len];
                    softmax_row(0, &x, t, false, &mut got).unwrap();
                    for (i, (&g, &ei)) in got.iter().zip(&e).enumerate() {
                        let r = ei / z;
                        let err = (f64::from(g) - r).abs();
                        assert!(
                            err <= 1e-6 * r || err <= 2e-45,
                            "len {len} case {case} t {t} i {i}: {g} vs {r}"
                        );
                    }
                    // top-p: the shortest prefix of the sampling order reaching p.
                    let mut order: Vec<usize> = (0..len).filter(|&i| e[i] > 0.0).collect();
                    order.sort_by(|&a, &b| x[b].total_cmp(&x[a]).then(a.cmp(&b)));
                    for top_p in [0.3, 0.9] {
                        let (mut acc, mut want) = (0.0, Vec::new());
                        for &i in &order {
                            if acc >= top_p * z {
                                break;
                            }
                            acc += e[i];
                            want.push(i);
                        }
                        want.sort_unstable();
                        let got = kept(&x, &params(t, 0, top_p, 0.0));
                        assert_eq!(got, want, "len {len} case {case} t {t} p {top_p}");
                    }
                }
            }
        }
    }

    #[test]
    fn top_p_shortest_prefix() {
        // probabilities 0.5, 0.25, 0.125, 0.125 (ln-spaced logits)
        let l2 = std::f32::consts::LN_2;
        let x = [0.0f32, -l2, -2.0 * l2, -2.0 * l2];
        assert_eq!(kept(&x, &params(1.0, 0, 0.5, 0.0)), vec![0]);
        assert_eq!(kept(&x, &params(1.0, 0, 0.6, 0.0)), vec![0, 1]);
        assert_eq!(kept(&x, &params(1.0, 0, 0.8, 0.0)), vec![0, 1, 2]);
    }

    /// The ids the fast top-p path keeps (`None`: it deferred to the exact path) and the ids the
    /// exact path keeps, for one row.
    fn top_p_both(x: &[f32], p: &RowParams) -> (Option<Vec<u32>>, Vec<u32>) {
        let k = kernels();
        let no_min_p = |_: f32| f32::NEG_INFINITY;
        let mut w = Work::default();
        let fast = k
            .exp_sum_fast
            .and_then(|f| top_p_fast(k, f, x, p, &mut w, &no_min_p))
            .map(|_| w.cand.iter().map(|c| c.id).collect());
        let mut w2 = Work::default();
        top_p_exact(k, 0, x, p, &mut w2, no_min_p).unwrap();
        (fast, w2.cand.iter().map(|c| c.id).collect())
    }

    /// Where the fast normaliser decides, it keeps what the exact one keeps: random rows from
    /// flat to peaked, several temperatures and p, vocabularies across chunk sizes.
    #[test]
    fn top_p_fast_path_keeps_the_exact_set() {
        let mut decided = 0;
        let mut total = 0;
        let shapes = [
            (1000usize, 3.0f32),
            (5000, 1.0),
            (20_000, 3.0),
            (70_001, 10.0),
            (70_001, 0.5),
            (131_072, 3.0),
        ];
        let settings = [(0.7, 0.9), (1.0, 0.5), (0.3, 0.99), (1.5, 0.95)];
        for (case, &(vocab, sigma)) in shapes.iter().enumerate() {
            for (j, &(t, top_p)) in settings.iter().enumerate() {
                let seed = (case * 16 + j) as u64;
                let x: Vec<f32> = (0..vocab)
                    .map(|i| {
                        let u1 = rng::uniform(seed, i as u64, 0).max(1e-300);
                        let u2 = rng::uniform(seed, i as u64, 1);
                        let g = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
                        sigma * g as f32
                    })
                    .collect();
                let (fast, exact) = top_p_both(&x, &params(t, 0, top_p, 0.0));
                total += 1;
                if let Some(fast) = fast {
                    decided += 1;
                    assert_eq!(fast, exact, "vocab {vocab} sigma {sigma} T {t} p {top_p}");
                }
            }
        }
        if kernels().exp_sum_fast.is_some() {
            // The fast path must decide most of these rows, or it is dead weight.
            assert!(decided * 2 > total, "decided {decided} of {total}");
        }
    }

    /// A cut-off exactly on a token boundary (four equal maxima, p = 1/2 of their mass) is
    /// within any error bound of the normaliser: the fast path defers, and the row keeps exactly
    /// the two lowest ids of the tie.
    #[test]
    fn top_p_fast_path_defers_at_a_boundary() {
        let mut x = vec![f32::NEG_INFINITY; 4096];
        for i in [100, 900, 2000, 4000] {
            x[i] = 5.0;
        }
        let p = params(1.0, 0, 0.5, 0.0);
        let (fast, exact) = top_p_both(&x, &p);
        assert_eq!(fast, None);
        let mut e = exact;
        e.sort_unstable();
        assert_eq!(e, vec![100, 900]);
        assert_eq!(kept(&x, &p), vec![100, 900]);
    }

    /// top-k and min-p read only the blocks whose max reaches the threshold: the kept set must
    /// still be every logit at or above it, wherever it sits (block edges, the short last block).
    #[test]
    fn block_restricted_collect_finds_every_candidate() {
        let vocab = 70_001;
        let mut x: Vec<f32> = (0..vocab)
            .map(|i| ((i * 7919) % 1000) as f32 / -100.0)
            .collect();
        for &i in &[0usize, 127, 128, 255, 4095, 4096, 69_999, 70_000] {
            x[i] = 3.0;
        }
        let want: Vec<usize> = (0..vocab).filter(|&i| x[i] == 3.0).collect();
        // min-p: only the 3.0s reach max + ln(0.5) (the rest is <= 0).
        assert_eq!(kept(&x, &params(1.0, 0, 1.0, 0.5)), want);
        // top-k 8: exactly the eight 3.0s.
        assert_eq!(kept(&x, &params(1.0, 8, 1.0, 0.0)), want);
    }

    #[test]
    fn errors_name_rows() {
        let mut s = Scratch::default();
        let mut o = vec![false; 3];
        let e = kept_row(
            4,
            &[0.0, f32::NAN, 1.0],
            &RowParams::default(),
            &RowProcessors::default(),
            &mut o,
            &mut s,
        );
        assert_eq!(e, Err(SamplingError::NaN { row: 4, token: 1 }));
        let e = kept_row(
            2,
            &[f32::NEG_INFINITY; 3],
            &RowParams::default(),
            &RowProcessors::default(),
            &mut o,
            &mut s,
        );
        assert_eq!(e, Err(SamplingError::AllMasked { row: 2 }));
    }

    #[test]
    fn mask_and_bias() {
        let x = vec![0.0f32; 40];
        let mask = [0b1010u32, 1];
        let pr = RowProcessors {
            mask: Some(&mask),
            bias_ids: &[3],
            bias_values: &[1.0],
            ..RowProcessors::default()
        };
        let mut s = Scratch::default();
        let mut o = vec![false; 40];
        kept_row(0, &x, &params(1.0, 1, 1.0, 0.0), &pr, &mut o, &mut s).unwrap();
        let kept: Vec<usize> = (0..40).filter(|&i| o[i]).collect();
        assert_eq!(kept, vec![3]);
        kept_row(0, &x, &params(1.0, 0, 1.0, 0.0), &pr, &mut o, &mut s).unwrap();
        let kept: Vec<usize> = (0..40).filter(|&i| o[i]).collect();
        assert_eq!(kept, vec![1, 3, 32]);
    }
}
