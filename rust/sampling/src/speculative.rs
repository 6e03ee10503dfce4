//! Exact rejection sampling for speculative decoding (Leviathan et al. 2023; Chen et al. 2023).
//!
//! Design notes. A batch row holds `k` draft tokens `d_0..d_{k-1}` with the draft's
//! distributions `q_i` (or none: a deterministic draft, `q_i` one-hot at `d_i`), and `k + 1`
//! target logits rows. The target distribution `p_i` of position `i` is what [`sample_row`]
//! would draw from for that logits row with the row's parameters (temperature, top-k, top-p,
//! min-p, typical-p; greedy is one-hot at the argmax). Position by position: accept `d_i` when
//! `u < p_i(d_i) / q_i(d_i)`; at the first rejection draw from the residual
//! `max(0, p_i - q_i)` (normalised) and stop; if all `k` are accepted, draw a bonus token from
//! `p_k`. Each emitted token is then distributed exactly as `p` at its position. The uniforms are
//! `philox(seed, step, 2i)` for the test at position `i`, `2i + 1` for its residual draw and `2k`
//! for the bonus, so a row's result depends only on its own inputs.
//!
//! Rows may hold different numbers of draft tokens (`k_r <= k`, the width of the arrays): a
//! row's draft ids are its first `k_r` entries, then padding; only its first `k_r + 1` target
//! rows and first `k_r` draft distributions are read, and its bonus token sits at position
//! `k_r`. A row of `k_r` drafts in a wider batch gives exactly what it gives alone at width
//! `k_r`.
//!
//! [`sample_row`]: crate::sample_row

use crate::batch::{for_rows, shape};
use crate::draw::draw;
use crate::error::SamplingError;
use crate::filters::{greedy_id, kept_set, Kept, RowState};
use crate::logits::{row_f32, Logit};
use crate::params::RowParams;
use crate::rng;
use crate::scratch::{with_scratch, Scratch, Work};
use crate::select::Cand;
use crate::simd::{kernels, ExpArgs};

/// The inputs of [`rejection_sample`] for a batch of `params.len()` rows.
pub struct Drafts<'a> {
    /// The width of the draft arrays: the most draft tokens a row can hold.
    pub k: usize,
    /// `[batch, k]` draft token ids; `-1` pads a row's ids after its last draft token.
    pub token_ids: &'a [i64],
    /// `[batch, k, vocab]` draft probabilities, or `None` for a deterministic draft.
    pub probs: Option<&'a [f32]>,
    /// `[batch]` draft tokens per row (each in `[0, k]`; the ids past them are not read), or
    /// `None`: each row's count is the length of its ids before the first `-1`.
    pub counts: Option<&'a [i64]>,
}

/// Where the results go: `tokens` `[batch, k + 1]` (`-1` after the first rejected position) and
/// `accepted` `[batch]` (the number of accepted draft tokens).
pub struct Verdicts<'a> {
    pub tokens: &'a mut [i64],
    pub accepted: &'a mut [i64],
}

fn draft_err(row: usize, position: usize, what: String) -> SamplingError {
    SamplingError::Draft {
        row,
        position,
        what,
    }
}

/// The number of draft tokens of row `r` (ids `ids`, `[k]`), checking that every one of them is
/// in the vocabulary and that padding (`-1`) only follows them.
fn row_count(
    r: usize,
    ids: &[i64],
    given: Option<i64>,
    vocab: usize,
) -> Result<usize, SamplingError> {
    let k = ids.len();
    let count = match given {
        Some(c) => usize::try_from(c).ok().filter(|&c| c <= k).ok_or_else(|| {
            draft_err(
                r,
                0,
                format!("num_draft_tokens is {c}, outside [0, {k}] (the draft_token_ids width)"),
            )
        })?,
        None => ids.iter().position(|&t| t == -1).unwrap_or(k),
    };
    for (i, &t) in ids[..count].iter().enumerate() {
        if t == -1 && given.is_some() {
            return Err(draft_err(
                r,
                i,
                format!("draft token is padding (-1) inside the row's num_draft_tokens = {count}"),
            ));
        }
        if t < 0 || t as u64 >= vocab as u64 {
            return Err(draft_err(
                r,
                i,
                format!("draft token {t} is outside the vocabulary [0, {vocab})"),
            ));
        }
    }
    if given.is_none() {
        if let Some(i) = ids[count..].iter().position(|&t| t != -1) {
            return Err(draft_err(
                r,
                count + i,
                format!(
                    "draft token {} follows padding (-1) at position {count}: padding ends a row",
                    ids[count + i]
                ),
            ));
        }
    }
    Ok(count)
}

/// Check the draft tokens and distributions; the number of draft tokens of each row.
fn check_drafts(d: &Drafts<'_>, batch: usize, vocab: usize) -> Result<Vec<usize>, SamplingError> {
    if let Some(c) = d.counts {
        shape("num_draft_tokens", c.len(), batch)?;
    }
    let counts = (0..batch)
        .map(|r| {
            let ids = &d.token_ids[r * d.k..(r + 1) * d.k];
            row_count(r, ids, d.counts.map(|c| c[r]), vocab)
        })
        .collect::<Result<Vec<usize>, SamplingError>>()?;
    if let Some(q) = d.probs {
        shape("draft_probs", q.len(), batch * d.k * vocab)?;
        for (r, &count) in counts.iter().enumerate() {
            for i in 0..count {
                let j = r * d.k + i;
                check_probs(r, i, &q[j * vocab..(j + 1) * vocab])?;
            }
        }
    }
    Ok(counts)
}

/// A draft distribution must be finite, non-negative and sum to 1.
fn check_probs(row: usize, position: usize, q: &[f32]) -> Result<(), SamplingError> {
    let mut sum = 0.0f64;
    for &v in q {
        if !(v >= 0.0 && v.is_finite()) {
            return Err(draft_err(
                row,
                position,
                format!("draft_probs holds {v} (must be finite and >= 0)"),
            ));
        }
        sum += f64::from(v);
    }
    if (sum - 1.0).abs() > 1e-3 {
        return Err(draft_err(
            row,
            position,
            format!("draft_probs sums to {sum}, not 1"),
        ));
    }
    Ok(())
}

/// Verify every row's draft tokens against the target logits (`[batch, k + 1, vocab]`, f32 or
/// bfloat16 bits: see [`Logit`]).
pub fn rejection_sample<T: Logit>(
    target: &[T],
    vocab: usize,
    params: &[RowParams],
    drafts: &Drafts<'_>,
    out: Verdicts<'_>,
) -> Result<(), SamplingError> {
    let (batch, k) = (params.len(), drafts.k);
    if vocab == 0 {
        return shape("vocab", 0, 1);
    }
    shape("target_logits", target.len(), batch * (k + 1) * vocab)?;
    shape("draft_token_ids", drafts.token_ids.len(), batch * k)?;
    shape("token_ids out", out.tokens.len(), batch * (k + 1))?;
    shape("num_accepted out", out.accepted.len(), batch)?;
    for (r, p) in params.iter().enumerate() {
        p.validate(r)?;
    }
    let counts = check_drafts(drafts, batch, vocab)?;
    let rows: Vec<_> = out
        .tokens
        .chunks_mut(k + 1)
        .zip(out.accepted.iter_mut())
        .zip(target.chunks(vocab * (k + 1)))
        .collect();
    let inline = crate::runs_inline(batch, vocab * (k + 1));
    for_rows(rows, inline, |r, ((tokens, accepted), x)| {
        let c = counts[r];
        let ids = &drafts.token_ids[r * k..r * k + c];
        let q = drafts.probs.map(|q| &q[r * k * vocab..(r * k + c) * vocab]);
        with_scratch(|s| verify_row(r, x, vocab, &params[r], ids, q, tokens, accepted, s))
    })
}

/// One batch row of [`rejection_sample`].
#[allow(clippy::too_many_arguments)] // the row's inputs and outputs, as the batch splits them
fn verify_row<T: Logit>(
    row: usize,
    x: &[T],
    vocab: usize,
    p: &RowParams,
    ids: &[i64],
    q: Option<&[f32]>,
    tokens: &mut [i64],
    accepted: &mut i64,
    s: &mut Scratch,
) -> Result<(), SamplingError> {
    let k = ids.len(); // this row's draft tokens (`tokens` may be wider)
    let Scratch { logits, work: w } = s;
    tokens.fill(-1);
    for (i, &d) in ids.iter().enumerate() {
        let l = row_f32(&x[i * vocab..(i + 1) * vocab], logits);
        let st = target_state(row, l, p, w)?;
        let d = d as usize;
        let qi = q.map(|q| &q[i * vocab..(i + 1) * vocab]);
        let qd = qi.map_or(1.0, |q| f64::from(q[d]));
        let pd = prob(l, &st, w, d);
        let u = rng::uniform(p.seed, p.step, 2 * i as u32);
        if (qd > 0.0 && u * qd < pd) || (qd == 0.0 && pd > 0.0) {
            tokens[i] = d as i64;
            continue;
        }
        let v = rng::uniform(p.seed, p.step, 2 * i as u32 + 1);
        tokens[i] = residual(l, &st, w, qi, d, v) as i64;
        *accepted = i as i64;
        return Ok(());
    }
    let l = row_f32(&x[k * vocab..(k + 1) * vocab], logits);
    let st = target_state(row, l, p, w)?;
    let u = rng::uniform(p.seed, p.step, 2 * k as u32);
    tokens[k] = draw(l, &st, w, u) as i64;
    *accepted = k as i64;
    Ok(())
}

/// The target distribution of one logits row: the kept set of `sample_row` (greedy: the argmax
/// alone, with probability 1).
fn target_state(
    row: usize,
    l: &[f32],
    p: &RowParams,
    w: &mut Work,
) -> Result<RowState, SamplingError> {
    let k = kernels();
    if !p.is_greedy() {
        return kept_set(k, row, l, p, w);
    }
    let id = greedy_id(k, row, l, &mut w.blocks)?;
    w.cand.clear();
    w.cand.push(Cand {
        v: l[id],
        id: id as u32,
        w: 1.0,
    });
    Ok(RowState {
        max: l[id],
        exp: ExpArgs::new(l[id], 1.0),
        log_z: 0.0,
        kept: Kept::List,
    })
}

/// `p(x)` under `st` (0 outside the kept set).
fn prob(l: &[f32], st: &RowState, w: &Work, x: usize) -> f64 {
    match st.kept {
        Kept::All if l[x] == f32::NEG_INFINITY => 0.0,
        Kept::All => ((f64::from(l[x]) - f64::from(st.max)) * st.exp.inv_t - st.log_z).exp(),
        Kept::List => match w.cand.binary_search_by_key(&(x as u32), |c| c.id) {
            Ok(j) => w.cand[j].w / st.log_z.exp(),
            Err(_) => 0.0,
        },
    }
}

/// One draw from `max(0, p - q)` (normalised) with the uniform `u`; `q` is one-hot at `d` when
/// absent. The kept set is walked in increasing id order.
fn residual(l: &[f32], st: &RowState, w: &Work, q: Option<&[f32]>, d: usize, u: f64) -> usize {
    let qx = |x: usize| match q {
        Some(q) => f64::from(q[x]),
        None => f64::from(u8::from(x == d)),
    };
    let r = |x: usize| (prob(l, st, w, x) - qx(x)).max(0.0);
    let kept = || match st.kept {
        Kept::All => KeptIds::All(0..l.len()),
        Kept::List => KeptIds::List(w.cand.iter()),
    };
    let total: f64 = kept().map(r).sum();
    if total <= 0.0 {
        // p == q (a rejection then has probability 0): draw from p.
        return draw(l, st, w, u);
    }
    let target = u * total;
    let mut acc = 0.0;
    let mut last = d;
    for x in kept() {
        let rx = r(x);
        if rx > 0.0 {
            acc += rx;
            last = x;
            if acc > target {
                return x;
            }
        }
    }
    last
}

/// The ids of a kept set in increasing order.
enum KeptIds<'a> {
    All(std::ops::Range<usize>),
    List(std::slice::Iter<'a, Cand>),
}

impl Iterator for KeptIds<'_> {
    type Item = usize;

    fn next(&mut self) -> Option<usize> {
        match self {
            KeptIds::All(r) => r.next(),
            KeptIds::List(it) => it.next().map(|c| c.id as usize),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(target: &[f32], vocab: usize, p: &[RowParams], d: &Drafts<'_>) -> (Vec<i64>, Vec<i64>) {
        let mut t = vec![0i64; p.len() * (d.k + 1)];
        let mut a = vec![0i64; p.len()];
        let out = Verdicts {
            tokens: &mut t,
            accepted: &mut a,
        };
        rejection_sample(target, vocab, p, d, out).unwrap();
        (t, a)
    }

    /// A greedy target accepts a deterministic draft exactly while it matches the argmax, then
    /// emits the argmax and stops.
    #[test]
    fn greedy_target_accepts_the_argmax_prefix() {
        let vocab = 5;
        // Position argmaxes: 2, 4, 0, then the bonus position's 1.
        let rows = [
            [0.0f32, 1.0, 3.0, 0.5, 0.0],
            [0.0, 1.0, 0.0, 0.5, 2.0],
            [4.0, 1.0, 0.0, 0.5, 0.0],
            [0.0, 9.0, 0.0, 0.5, 0.0],
        ];
        let target: Vec<f32> = rows.concat();
        let greedy = RowParams {
            temperature: 0.0,
            ..RowParams::default()
        };
        for (ids, want, acc) in [
            (vec![2i64, 4, 0], vec![2i64, 4, 0, 1], 3i64),
            (vec![2, 3, 0], vec![2, 4, -1, -1], 1),
            (vec![1, 4, 0], vec![2, -1, -1, -1], 0),
        ] {
            let d = Drafts {
                k: 3,
                token_ids: &ids,
                probs: None,
                counts: None,
            };
            let (t, a) = run(&target, vocab, &[greedy], &d);
            assert_eq!((t, a[0]), (want, acc), "draft {ids:?}");
        }
    }

    #[test]
    fn bad_drafts_name_row_and_position() {
        let target = vec![0.0f32; 2 * 2 * 3];
        let p = [RowParams::default(); 2];
        let d = Drafts {
            k: 1,
            token_ids: &[0, 3],
            probs: None,
            counts: None,
        };
        let mut t = vec![0i64; 4];
        let mut a = vec![0i64; 2];
        let e = rejection_sample(
            &target,
            3,
            &p,
            &d,
            Verdicts {
                tokens: &mut t,
                accepted: &mut a,
            },
        );
        assert!(matches!(
            e,
            Err(SamplingError::Draft {
                row: 1,
                position: 0,
                ..
            })
        ));
    }

    fn logits(seed: u64, n: usize) -> Vec<f32> {
        (0..n)
            .map(|i| (rng::uniform(seed, i as u64, 3) * 6.0 - 3.0) as f32)
            .collect()
    }

    /// Rows with 0, 1 and 3 draft tokens in one batch of width 3 (padded with -1, and with
    /// explicit counts over arbitrary padding) give, row by row, what each row gives alone at
    /// its own width.
    #[test]
    fn per_row_k_matches_each_row_alone() {
        let (vocab, width) = (7, 3);
        let ks = [0usize, 1, 3];
        let p: Vec<RowParams> = (0..3)
            .map(|r| RowParams {
                temperature: 0.9,
                seed: 40 + r as u64,
                step: 2,
                ..RowParams::default()
            })
            .collect();
        let target: Vec<Vec<f32>> = (0..3).map(|r| logits(r, (width + 1) * vocab)).collect();
        let draft_ids: Vec<Vec<i64>> = vec![vec![], vec![4], vec![1, 6, 2]];
        // Uniform draft distributions.
        let probs: Vec<Vec<f32>> = vec![vec![1.0 / vocab as f32; width * vocab]; 3];
        let mut padded = vec![-1i64; 3 * width];
        let mut garbage = vec![0i64; 3 * width]; // padding not read when counts are given
        for r in 0..3 {
            padded[r * width..r * width + ks[r]].copy_from_slice(&draft_ids[r]);
            garbage[r * width..r * width + ks[r]].copy_from_slice(&draft_ids[r]);
        }
        let flat_target: Vec<f32> = target.concat();
        let flat_probs: Vec<f32> = probs.concat();
        let counts: Vec<i64> = ks.iter().map(|&k| k as i64).collect();
        for q in [None, Some(&flat_probs[..])] {
            for (ids, c) in [(&padded, None), (&garbage, Some(&counts[..]))] {
                let d = Drafts {
                    k: width,
                    token_ids: ids,
                    probs: q,
                    counts: c,
                };
                let (t, a) = run(&flat_target, vocab, &p, &d);
                for r in 0..3 {
                    let k = ks[r];
                    let alone = Drafts {
                        k,
                        token_ids: &draft_ids[r],
                        probs: q.map(|_| &probs[r][..k * vocab]),
                        counts: None,
                    };
                    let x = &target[r][..(k + 1) * vocab];
                    let (t1, a1) = run(x, vocab, &p[r..=r], &alone);
                    let mut want = t1.clone();
                    want.resize(width + 1, -1);
                    assert_eq!(
                        t[r * (width + 1)..(r + 1) * (width + 1)],
                        want[..],
                        "row {r}"
                    );
                    assert_eq!(a[r], a1[0], "row {r}");
                    assert!(a[r] <= k as i64);
                }
            }
        }
    }

    #[test]
    fn bad_counts_and_padding_name_row_and_position() {
        let (vocab, width) = (5, 2);
        let target = vec![0.0f32; 2 * (width + 1) * vocab];
        let p = [RowParams::default(); 2];
        let err = |ids: &[i64], counts: Option<&[i64]>| {
            let d = Drafts {
                k: width,
                token_ids: ids,
                probs: None,
                counts,
            };
            let mut t = vec![0i64; 2 * (width + 1)];
            let mut a = vec![0i64; 2];
            let out = Verdicts {
                tokens: &mut t,
                accepted: &mut a,
            };
            match rejection_sample(&target, vocab, &p, &d, out) {
                Err(SamplingError::Draft {
                    row,
                    position,
                    what,
                }) => (row, position, what),
                other => panic!("expected a draft error, got {other:?}"),
            }
        };
        let (r, i, what) = err(&[1, 2, 3, 4], Some(&[2, 3]));
        assert_eq!((r, i), (1, 0));
        assert!(what.contains("num_draft_tokens is 3"), "{what}");
        let (r, i, what) = err(&[1, 2, 3, -1], Some(&[2, 2]));
        assert_eq!((r, i), (1, 1));
        assert!(what.contains("padding"), "{what}");
        let (r, i, what) = err(&[1, -1, -1, 4], None);
        assert_eq!((r, i), (1, 1));
        assert!(what.contains("follows padding"), "{what}");
        let (r, i, _) = err(&[1, -2, 3, 4], None);
        assert_eq!((r, i), (0, 1));
        assert!(err(&[1, 2, 3, 4], Some(&[-1, 0]))
            .2
            .contains("outside [0, 2]"));
    }

    /// bfloat16 target rows (as bits) verify exactly as their widened f32 rows do.
    #[test]
    fn bf16_target_matches_its_widened_f32_target() {
        let (vocab, width, batch) = (50, 3, 4);
        let bits: Vec<u16> = logits(9, batch * (width + 1) * vocab)
            .iter()
            .map(|v| (v.to_bits() >> 16) as u16)
            .collect();
        let wide: Vec<f32> = bits
            .iter()
            .map(|&b| f32::from_bits(u32::from(b) << 16))
            .collect();
        let ids: Vec<i64> = (0..batch * width).map(|j| (j * 7 % vocab) as i64).collect();
        let q = vec![1.0 / vocab as f32; batch * width * vocab];
        let p: Vec<RowParams> = (0..batch)
            .map(|r| RowParams {
                temperature: [0.0, 0.8, 1.0, 1.2][r],
                top_k: [0, 10, 0, 0][r],
                top_p: [1.0, 1.0, 0.9, 1.0][r],
                seed: r as u64,
                ..RowParams::default()
            })
            .collect();
        for probs in [None, Some(&q[..])] {
            let d = Drafts {
                k: width,
                token_ids: &ids,
                probs,
                counts: Some(&[3, 0, 2, 1]),
            };
            let mut t = [
                vec![0i64; batch * (width + 1)],
                vec![0i64; batch * (width + 1)],
            ];
            let mut a = [vec![0i64; batch], vec![0i64; batch]];
            let [t0, t1] = &mut t;
            let [a0, a1] = &mut a;
            let out = |tokens, accepted| Verdicts { tokens, accepted };
            rejection_sample(&bits, vocab, &p, &d, out(t0, a0)).unwrap();
            rejection_sample(&wide, vocab, &p, &d, out(t1, a1)).unwrap();
            assert_eq!((t0, a0), (t1, a1));
        }
    }
}
