//! The per-row decoding pipeline: processors, filters, and the draw.
//!
//! Design notes.
//! * Order (as in Hugging Face and vLLM): repetition penalty → presence/frequency penalties →
//!   logit_bias → allowed-token mask (`processors.rs`) → temperature → top-k → top-p → min-p
//!   (`filters.rs`, `top_p.rs`) → draw (`draw.rs`).
//! * Sampling order / ties: larger logit first, ties to the lower id; top-k keeps exactly k,
//!   top-p keeps the shortest prefix whose probability reaches p. Greedy (T = 0) takes the lowest
//!   id among the maxima.
//! * Cost per row: one read pass (block max) + a compare pass over the few blocks that can hold
//!   a candidate (top-k, min-p), or one online max + exp pass (plain sampling, top-p without
//!   top-k; + one compare pass for top-p), + O(candidates).
//! * softmax: the online pass writes the exp values, a second pass over the output (still in
//!   cache) normalises them (see `softmax.rs`).

use crate::draw::{draw, log_prob};
use crate::error::SamplingError;
use crate::filters::{
    block_len, fill_cands_simd, full_distribution, greedy_id, kept_set, kth_block_max, Kept,
    RowState,
};
use crate::logits::Logit;
use crate::params::RowParams;
use crate::processors::{processed, RowProcessors};
use crate::rng;
use crate::scratch::{Scratch, Work};
use crate::select;
use crate::simd::{kernels, ExpArgs, Kernels};

/// Which distribution logprobs describe.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LogprobMode {
    /// The distribution the token was drawn from: after processors, temperature and the filters,
    /// renormalised over the kept set (greedy: the argmax has logprob 0).
    #[default]
    Processed,
    /// The model's distribution after processors and temperature, before any truncation
    /// (`log_softmax(processed_logits / T)`; greedy rows use `T = 1`): what OpenAI's and vLLM's
    /// APIs report. Top entries range over the whole vocabulary.
    Raw,
}

/// Where one row's results go. `tokens` has the number of draws `n`; `logprobs`, if present, the
/// same length; `top_ids`/`top_logprobs` the number of top-logprob entries (padded with id -1 and
/// logprob -inf past the number of tokens of non-zero probability).
pub struct RowOut<'a> {
    pub tokens: &'a mut [i64],
    pub logprobs: Option<&'a mut [f32]>,
    pub top_ids: Option<&'a mut [i64]>,
    pub top_logprobs: Option<&'a mut [f32]>,
    pub mode: LogprobMode,
}

/// Sample one row. `row` is used only in error messages.
pub fn sample_row<T: Logit>(
    row: usize,
    x: &[T],
    p: &RowParams,
    pr: &RowProcessors<'_>,
    out: RowOut<'_>,
    s: &mut Scratch,
) -> Result<(), SamplingError> {
    p.validate(row)?;
    let k = kernels();
    let (l, w) = processed(row, x, p, pr, s)?;
    let RowOut {
        tokens,
        logprobs,
        top_ids,
        top_logprobs,
        mode,
    } = out;
    let want = logprobs.is_some() || top_ids.is_some() || top_logprobs.is_some();
    if p.is_greedy() {
        let id = greedy_id(k, row, l, &mut w.blocks)?;
        tokens.fill(id as i64);
        if !want {
            return Ok(());
        }
        if mode == LogprobMode::Processed {
            // One token of probability 1.
            let st = RowState {
                max: l[id],
                exp: ExpArgs::new(l[id], 1.0),
                log_z: 0.0,
                kept: Kept::List,
            };
            w.cand.clear();
            w.cand.push(select::Cand {
                v: l[id],
                id: id as u32,
                w: 1.0,
            });
            write_logprobs(k, l, &st, w, tokens, logprobs, top_ids, top_logprobs);
            return Ok(());
        }
        let st = full_distribution(k, row, l, 1.0, w)?;
        write_logprobs(k, l, &st, w, tokens, logprobs, top_ids, top_logprobs);
        return Ok(());
    }
    let st = kept_set(k, row, l, p, w)?;
    for (j, t) in tokens.iter_mut().enumerate() {
        let u = rng::uniform(p.seed, p.step, j as u32);
        *t = draw(l, &st, w, u) as i64;
    }
    if !want {
        return Ok(());
    }
    let st = match (mode, &st.kept) {
        (LogprobMode::Raw, Kept::List) => full_distribution(k, row, l, p.temperature, w)?,
        _ => st,
    };
    write_logprobs(k, l, &st, w, tokens, logprobs, top_ids, top_logprobs);
    Ok(())
}

/// Fill the logprob outputs of the drawn `tokens` and the top entries under `st`.
#[allow(clippy::too_many_arguments)] // one argument per output
fn write_logprobs(
    k: &Kernels,
    l: &[f32],
    st: &RowState,
    w: &mut Work,
    tokens: &[i64],
    logprobs: Option<&mut [f32]>,
    top_ids: Option<&mut [i64]>,
    top_logprobs: Option<&mut [f32]>,
) {
    if let Some(lp) = logprobs {
        for (o, &t) in lp.iter_mut().zip(tokens) {
            *o = log_prob(l, st, t as usize);
        }
    }
    let n_top = top_ids.as_ref().map_or(0, |t| t.len());
    if n_top > 0 {
        top_entries(k, l, st, w, n_top);
        if let Some(ti) = top_ids {
            ti.fill(-1);
            for (o, c) in ti.iter_mut().zip(&w.cand) {
                *o = i64::from(c.id);
            }
        }
        if let Some(tl) = top_logprobs {
            tl.fill(f32::NEG_INFINITY);
            for (o, c) in tl.iter_mut().zip(&w.cand) {
                *o = log_prob(l, st, c.id as usize);
            }
        }
    }
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
pub fn kept_row<T: Logit>(
    row: usize,
    x: &[T],
    p: &RowParams,
    pr: &RowProcessors<'_>,
    out: &mut [bool],
    s: &mut Scratch,
) -> Result<(), SamplingError> {
    p.validate(row)?;
    let k = kernels();
    let (l, w) = processed(row, x, p, pr, s)?;
    out.fill(false);
    if p.is_greedy() {
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

#[cfg(test)]
pub(crate) mod testing {
    use super::*;
    use crate::processors::RowProcessors;

    /// `exp((x - max) / t)` for every logit in f64, and their sum: the float64 reference.
    pub(crate) fn exp_weights(x: &[f32], t: f64) -> (Vec<f64>, f64) {
        let m = x.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let e: Vec<f64> = x
            .iter()
            .map(|&v| ((f64::from(v) - f64::from(m)) / t).exp())
            .collect();
        let z = e.iter().sum();
        (e, z)
    }

    pub(crate) fn params(t: f64, top_k: usize, top_p: f64, min_p: f64) -> RowParams {
        RowParams {
            temperature: t,
            top_k,
            top_p,
            min_p,
            ..RowParams::default()
        }
    }

    pub(crate) fn kept(x: &[f32], p: &RowParams) -> Vec<usize> {
        let mut out = vec![false; x.len()];
        let mut s = Scratch::default();
        kept_row(0, x, p, &RowProcessors::default(), &mut out, &mut s).unwrap();
        out.iter()
            .enumerate()
            .filter(|(_, &b)| b)
            .map(|(i, _)| i)
            .collect()
    }

    pub(crate) fn sample(x: &[f32], p: &RowParams) -> i64 {
        let mut t = [0i64];
        let out = RowOut {
            tokens: &mut t,
            logprobs: None,
            top_ids: None,
            top_logprobs: None,
            mode: LogprobMode::Processed,
        };
        let mut s = Scratch::default();
        sample_row(0, x, p, &RowProcessors::default(), out, &mut s).unwrap();
        t[0]
    }
}

#[cfg(test)]
mod tests {
    use super::testing::{exp_weights, kept, params, sample};
    use super::LogprobMode;
    use super::*;
    use crate::online;
    use crate::softmax::softmax_row;

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

    /// The unfiltered draw is the inverse CDF over the whole row in id order, with
    /// `u = philox(seed, step, draw)`: on long rows and many seeds the token equals a float64
    /// reference walk, except where the target lies within the kernels' rounding (1e-6 of the
    /// normaliser) of a CDF boundary.
    #[test]
    fn plain_draw_is_the_f64_inverse_cdf() {
        for (vocab, t) in [(128_256usize, 0.7), (20_001, 1.0), (3_000, 0.3)] {
            let x: Vec<f32> = (0..vocab)
                .map(|i| {
                    let u1 = crate::rng::uniform(11, i as u64, 0).max(1e-300);
                    let u2 = crate::rng::uniform(11, i as u64, 1);
                    (3.0 * (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()) as f32
                })
                .collect();
            let (e, z) = exp_weights(&x, t);
            let mut cum = Vec::with_capacity(vocab);
            let mut acc = 0.0;
            for &w in &e {
                acc += w;
                cum.push(acc);
            }
            let (mut same, n) = (0, 100u64);
            for seed in 0..n {
                let p = RowParams {
                    temperature: t,
                    seed,
                    step: 9,
                    ..RowParams::default()
                };
                let target = crate::rng::uniform(seed, 9, 0) * z;
                let want = cum.partition_point(|&c| c <= target).min(vocab - 1);
                let got = sample(&x, &p) as usize;
                if got == want {
                    same += 1;
                } else {
                    let edge = cum[got.min(want)];
                    assert!(
                        (edge - target).abs() <= 1e-6 * z,
                        "vocab {vocab} seed {seed}: {got} vs {want}"
                    );
                }
            }
            assert!(same + 2 >= n, "vocab {vocab}: {same} of {n} identical");
        }
    }

    /// Plain sampling never draws a -inf logit: blocks of the draw that hold one finite logit
    /// among -inf ones, at either end, and targets from many seeds.
    #[test]
    fn plain_draw_never_picks_minus_inf() {
        let b = crate::draw::SUM_BLOCK;
        let vocab = 4 * b + 17;
        let mut x = vec![f32::NEG_INFINITY; vocab];
        for (j, at) in [0, 2 * b - 1, 2 * b + 5, 4 * b - 1, vocab - 1]
            .into_iter()
            .enumerate()
        {
            x[at] = -0.4 * j as f32;
        }
        for seed in 0..3000 {
            let p = RowParams {
                temperature: 0.9,
                seed,
                ..RowParams::default()
            };
            let t = sample(&x, &p) as usize;
            assert!(x[t].is_finite(), "seed {seed}: token {t}");
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
                    let (e, z) = exp_weights(&x, t);
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

    /// One draw with its logprob and `n_top` top entries in `mode`.
    fn with_logprobs(
        x: &[f32],
        p: &RowParams,
        mode: LogprobMode,
        n_top: usize,
    ) -> (i64, f32, Vec<i64>, Vec<f32>) {
        let (mut t, mut lp) = ([0i64], [0f32]);
        let (mut ti, mut tl) = (vec![0i64; n_top], vec![0f32; n_top]);
        let out = RowOut {
            tokens: &mut t,
            logprobs: Some(&mut lp),
            top_ids: Some(&mut ti),
            top_logprobs: Some(&mut tl),
            mode,
        };
        sample_row(
            0,
            x,
            p,
            &RowProcessors::default(),
            out,
            &mut Scratch::default(),
        )
        .unwrap();
        (t[0], lp[0], ti, tl)
    }

    /// Raw logprobs are `log_softmax(x / T)` in f64 whatever the filters keep, top entries are
    /// the most likely tokens of the whole row; processed ones renormalise over the kept set.
    #[test]
    fn raw_and_processed_logprobs() {
        let x: Vec<f32> = (0..5000)
            .map(|i| (crate::rng::uniform(9, i, 0) * 10.0 - 5.0) as f32)
            .collect();
        let mut order: Vec<usize> = (0..x.len()).collect();
        order.sort_by(|&a, &b| x[b].total_cmp(&x[a]).then(a.cmp(&b)));
        for (t, top_k, top_p) in [(0.7, 20, 1.0), (1.0, 0, 0.5), (1.3, 0, 1.0), (0.0, 0, 1.0)] {
            let p = RowParams {
                temperature: t,
                top_k,
                top_p,
                seed: 5,
                ..RowParams::default()
            };
            let t_raw = if t == 0.0 { 1.0 } else { t };
            let (e, z) = exp_weights(&x, t_raw);
            let raw = |i: usize| (e[i] / z).ln();
            let (tok, lp, ti, tl) = with_logprobs(&x, &p, LogprobMode::Raw, 4);
            let tok = tok as usize;
            assert!(
                (f64::from(lp) - raw(tok)).abs() < 1e-5,
                "T {t}: {lp} vs {}",
                raw(tok)
            );
            for j in 0..4 {
                assert_eq!(ti[j] as usize, order[j]);
                assert!((f64::from(tl[j]) - raw(order[j])).abs() < 1e-5);
            }
            let (tok2, lp2, ti2, _) = with_logprobs(&x, &p, LogprobMode::Processed, 4);
            assert_eq!(tok2 as usize, tok, "the mode does not change the draw");
            let kept = kept(&x, &p);
            let zk: f64 = kept.iter().map(|&i| e[i]).sum();
            let want = if t == 0.0 { 0.0 } else { (e[tok] / zk).ln() };
            if t != 0.0 {
                let (ek, _) = exp_weights(&x, t);
                let zk: f64 = kept.iter().map(|&i| ek[i]).sum();
                assert!((f64::from(lp2) - (ek[tok] / zk).ln()).abs() < 1e-5);
            } else {
                assert_eq!(f64::from(lp2), want);
                assert_eq!(ti2, vec![tok as i64, -1, -1, -1]);
            }
        }
    }

    /// A temperature below `MIN_TEMPERATURE` (here subnormal) samples greedily and keeps only the
    /// argmax; softmax gives the T -> 0 limit. Never NaN.
    #[test]
    fn tiny_temperatures_are_greedy() {
        let x = [0.5f32, 2.0, -1.0, 2.0, 1.999_999];
        for t in [1e-31, 1e-200, 1e-310, 5e-324] {
            let p = params(t, 0, 1.0, 0.0);
            assert_eq!(sample(&x, &p), 1);
            assert_eq!(kept(&x, &p), vec![1]);
            let (_, lp, _, _) = with_logprobs(&x, &p, LogprobMode::Processed, 2);
            assert_eq!(lp, 0.0);
            let mut o = [0f32; 5];
            softmax_row(0, &x, t, false, &mut o).unwrap();
            assert_eq!(o, [0.0, 0.5, 0.0, 0.5, 0.0]);
            softmax_row(0, &x, t, true, &mut o).unwrap();
            assert_eq!(o[1], -std::f32::consts::LN_2);
            assert_eq!(o[0], f32::NEG_INFINITY);
        }
        // Just above the threshold the ordinary path runs, and gives no NaN either.
        let p = params(2e-30, 0, 1.0, 0.0);
        assert_eq!(sample(&x, &p) % 2, 1);
        let mut o = [0f32; 5];
        softmax_row(0, &x, 2e-30, false, &mut o).unwrap();
        assert!(o.iter().all(|v| !v.is_nan()));
    }
}
