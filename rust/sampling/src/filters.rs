//! The filters: the row scan (max, NaN / +inf / all -inf checks), greedy, top-k and min-p, and
//! the kept set they leave for the draw (top-p lives in `top_p.rs`).
//!
//! Design notes.
//! * Pass 1 computes block maxima (blocks of 32..4096 logits), giving the row max, NaN detection
//!   and, for free, lower bounds for selection: the k-th largest block maximum `t0` guarantees at
//!   least k logits `>= t0`, so top-k only has to look at `{l >= t0}` (typically a few hundred
//!   logits), and only inside the blocks whose max reaches `t0` (a few percent of the row: a
//!   128k row does not fit a 512 KiB L2, so a full second pass would read it again from L3).
//!   min-p reads only the blocks whose max reaches its threshold.
//! * min-p keeps `l >= max + T·ln(min_p)` (computed in f64, rounded up to the next f32, so the
//!   comparison is exact). It commutes with top-k (both are prefixes of the sampling order), so it
//!   also prunes the top-k candidates.
//! * Sampling order / ties: larger logit first, ties to the lower id; top-k keeps exactly k.
//!   Greedy (T = 0) takes the lowest id among the maxima.

use crate::draw::SUM_BLOCK;
use crate::error::SamplingError;
use crate::online::{self, Block};
use crate::params::RowParams;
use crate::scratch::Work;
use crate::select::{self, Cand};
use crate::simd::{ExpArgs, Kernels};
use crate::top_p;
use crate::typical;

/// Row max via block maxima (stored in `blocks`), with NaN / +inf / all -inf checks.
pub(crate) fn scan(
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

pub(crate) fn finite_max(row: usize, l: &[f32], m: f32, nan: bool) -> Result<f32, SamplingError> {
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
pub(crate) fn greedy_id(
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
pub(crate) fn kth_block_max(blocks: &[f32], k: usize, tmp: &mut Vec<f32>) -> f32 {
    if k == 0 || k > blocks.len() {
        return f32::NEG_INFINITY;
    }
    tmp.clear();
    tmp.extend_from_slice(blocks);
    let (_, kth, _) = tmp.select_nth_unstable_by(k - 1, |a, b| b.total_cmp(a));
    *kth
}

pub(crate) fn block_len(vocab: usize, want_blocks: usize) -> usize {
    let target = (vocab / want_blocks.max(1)).max(1);
    let pow = if target.is_power_of_two() {
        target
    } else {
        target.next_power_of_two() / 2
    };
    pow.clamp(32, 4096)
}

/// The kept set: `All` tokens (no filter) or the explicit candidates in `work.cand` (any order).
pub(crate) enum Kept {
    All,
    List,
}

pub(crate) struct RowState {
    pub(crate) max: f32,
    pub(crate) exp: ExpArgs,
    /// Log of the normaliser of the final distribution.
    pub(crate) log_z: f64,
    pub(crate) kept: Kept,
}

/// A row's kept set and distribution, or the error that names the row.
pub(crate) type RowResult = Result<RowState, SamplingError>;

/// Fill `w.cand` from the indices in `w.idx`, with weights from the vector exp (values gathered
/// into a contiguous buffer, one kernel call).
pub(crate) fn fill_cands_simd(k: &Kernels, l: &[f32], w: &mut Work, a: &ExpArgs) {
    w.tmpf.clear();
    w.tmpf.extend(w.idx.iter().map(|&i| l[i as usize]));
    weigh_cands(k, w, a);
}

/// Fill `w.cand` from the indices in `w.idx` and their logits in `w.tmpf`, weighed by the
/// vector exp.
fn weigh_cands(k: &Kernels, w: &mut Work, a: &ExpArgs) {
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

/// Compute the kept set of a row with temperature > 0: top-k, top-p and min-p, then typical-p
/// over what they keep (Hugging Face's warper order).
pub(crate) fn kept_set(
    k: &Kernels,
    row: usize,
    l: &[f32],
    p: &RowParams,
    w: &mut Work,
) -> RowResult {
    let st = truncate(k, row, l, p, w)?;
    if p.typical_p < 1.0 {
        return Ok(typical::filter(l, st, p.typical_p, w));
    }
    Ok(st)
}

/// top-k, top-p and min-p.
fn truncate(k: &Kernels, row: usize, l: &[f32], p: &RowParams, w: &mut Work) -> RowResult {
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
        return top_p::top_p_set(k, row, l, p, w, t_minp);
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
/// again from L3 (it does not fit a 512 KiB L2); this one reads a
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
pub(crate) fn finish(m: f32, a: ExpArgs, t_minp: f32, w: &mut Work) -> RowState {
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

/// The whole row's distribution at temperature `t` (no filter): its max and normaliser from one
/// online pass. Logprobs under it are `log_softmax(l / t)`.
pub(crate) fn full_distribution(
    k: &Kernels,
    row: usize,
    l: &[f32],
    t: f64,
    w: &mut Work,
) -> RowResult {
    let inv_t = 1.0 / t;
    let mode = online::Mode::Sum;
    let m = online_max(k, row, l, inv_t, online::CHUNK, mode, &mut w.online)?;
    let z = online::normaliser(&w.online, m, inv_t);
    Ok(RowState {
        max: m,
        exp: ExpArgs::new(m, inv_t),
        log_z: z.ln(),
        kept: Kept::All,
    })
}

/// `online::pass`, with the row's error (NaN, +inf, all -inf) when it stops or finds no finite
/// logit.
pub(crate) fn online_max(
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
