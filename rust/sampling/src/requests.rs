//! Requests of a continuous-batching decode loop: each with its own parameters, seed, step
//! counter and token history, sampled in whatever rows and order a step brings them.
//!
//! Design notes. A server adds a request when it is admitted and removes it when it finishes;
//! every step hands over the logits rows and the request id of each row (any subset, any order).
//! Each request keeps:
//! * its `RowParams`, whose `step` is the request's own counter (advanced after each step that
//!   sampled it), so a request's tokens depend on its seed and its own step count only, never on
//!   which other requests share the batch: the same tokens `sample_batch` gives for the same
//!   `(seed, step, logits row, parameters)`;
//! * its token history as distinct ids with counts, updated in O(1) per sampled token (a hash of
//!   id -> position), so penalties never re-scan the history;
//! * its sparse logit bias.
//!
//! Errors (unknown id, an id added twice, an id twice in one step) leave every request as it
//! was: ids are resolved before anything is sampled, and counters and histories advance only
//! after the whole step succeeded.

use std::collections::{HashMap, HashSet};

use crate::batch::{sample_rows, BatchOut};
use crate::error::SamplingError;
use crate::logits::Logit;
use crate::params::RowParams;
use crate::processors::RowProcessors;

/// Distinct token ids with their counts, in first-seen order; appending is O(1).
#[derive(Clone, Debug, Default)]
pub struct TokenCounts {
    ids: Vec<i64>,
    counts: Vec<i64>,
    slot: HashMap<i64, usize>,
}

impl TokenCounts {
    /// Count one more occurrence of `token`.
    pub fn push(&mut self, token: i64) {
        match self.slot.get(&token) {
            Some(&i) => self.counts[i] += 1,
            None => {
                self.slot.insert(token, self.ids.len());
                self.ids.push(token);
                self.counts.push(1);
            }
        }
    }

    /// The distinct ids and their counts (parallel slices).
    #[must_use]
    pub fn as_slices(&self) -> (&[i64], &[i64]) {
        (&self.ids, &self.counts)
    }
}

/// One request's state.
#[derive(Clone, Debug)]
struct Request {
    params: RowParams,
    history: TokenCounts,
    bias_ids: Vec<i64>,
    bias_values: Vec<f32>,
}

/// The requests of a decode loop, by id.
#[derive(Debug, Default)]
pub struct Requests {
    map: HashMap<u64, Request>,
}

impl Requests {
    /// Add request `id` with its parameters (`params.seed`; `params.step` is its first step), the
    /// tokens its penalties start from, and a sparse logit bias. Errors: a duplicate id,
    /// parameters outside their domain, bias arrays of different lengths.
    pub fn add(
        &mut self,
        id: u64,
        params: RowParams,
        history: &[i64],
        bias_ids: Vec<i64>,
        bias_values: Vec<f32>,
    ) -> Result<(), SamplingError> {
        if self.map.contains_key(&id) {
            return Err(SamplingError::DuplicateRequest { id });
        }
        params.validate(0)?;
        if bias_ids.len() != bias_values.len() {
            return Err(SamplingError::Shape {
                name: "logit_bias values",
                got: bias_values.len(),
                expected: bias_ids.len(),
            });
        }
        let mut h = TokenCounts::default();
        for &t in history {
            h.push(t);
        }
        self.map.insert(
            id,
            Request {
                params,
                history: h,
                bias_ids,
                bias_values,
            },
        );
        Ok(())
    }

    /// Remove request `id`; an error if there is none.
    pub fn remove(&mut self, id: u64) -> Result<(), SamplingError> {
        self.map
            .remove(&id)
            .map(|_| ())
            .ok_or(SamplingError::UnknownRequest { id })
    }

    /// Whether request `id` is present.
    #[must_use]
    pub fn contains(&self, id: u64) -> bool {
        self.map.contains_key(&id)
    }

    /// The number of requests.
    #[must_use]
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether there are no requests.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// The request ids, in no particular order.
    #[must_use]
    pub fn ids(&self) -> Vec<u64> {
        self.map.keys().copied().collect()
    }

    /// The next step of request `id`.
    pub fn step_of(&self, id: u64) -> Result<u64, SamplingError> {
        self.get(id).map(|r| r.params.step)
    }

    /// Count `tokens` into request `id`'s history (tokens decided outside [`Requests::sample`],
    /// such as accepted draft tokens); the step counter does not move.
    pub fn extend(&mut self, id: u64, tokens: &[i64]) -> Result<(), SamplingError> {
        let r = self
            .map
            .get_mut(&id)
            .ok_or(SamplingError::UnknownRequest { id })?;
        for &t in tokens {
            r.history.push(t);
        }
        Ok(())
    }

    fn get(&self, id: u64) -> Result<&Request, SamplingError> {
        self.map
            .get(&id)
            .ok_or(SamplingError::UnknownRequest { id })
    }

    /// Sample one step: row `r` of `logits` (`[ids.len(), vocab]`) belongs to request `ids[r]`;
    /// `mask`, if given, is the packed allowed-token mask of every row (`ceil(vocab / 32)` words
    /// per row). With `advance`, each sampled request's step counter moves on by one and, for
    /// one draw per row, the drawn token joins its history.
    pub fn sample<T: Logit>(
        &mut self,
        logits: &[T],
        vocab: usize,
        ids: &[u64],
        mask: Option<&[u32]>,
        out: BatchOut<'_>,
        advance: bool,
    ) -> Result<(), SamplingError> {
        let mut seen = HashSet::with_capacity(ids.len());
        for (row, &id) in ids.iter().enumerate() {
            self.get(id)?;
            if !seen.insert(id) {
                return Err(SamplingError::RepeatedRequest { id, row });
            }
        }
        let words = vocab.div_ceil(32);
        if let Some(m) = mask {
            if m.len() != ids.len() * words {
                return Err(SamplingError::Shape {
                    name: "allowed_mask",
                    got: m.len(),
                    expected: ids.len() * words,
                });
            }
        }
        let reqs: Vec<&Request> = ids.iter().filter_map(|id| self.map.get(id)).collect();
        let params: Vec<RowParams> = reqs.iter().map(|r| r.params).collect();
        let procs: Vec<RowProcessors<'_>> = reqs
            .iter()
            .enumerate()
            .map(|(row, r)| {
                let (history_ids, history_counts) = r.history.as_slices();
                RowProcessors {
                    history_ids,
                    history_counts,
                    bias_ids: &r.bias_ids,
                    bias_values: &r.bias_values,
                    mask: mask.map(|m| &m[row * words..(row + 1) * words]),
                }
            })
            .collect();
        let BatchOut {
            n,
            tokens,
            logprobs,
            n_top,
            top_ids,
            top_logprobs,
            mode,
        } = out;
        sample_rows(
            logits,
            vocab,
            &params,
            &procs,
            BatchOut {
                n,
                tokens: &mut *tokens,
                logprobs,
                n_top,
                top_ids,
                top_logprobs,
                mode,
            },
        )?;
        if advance {
            for (row, id) in ids.iter().enumerate() {
                if let Some(r) = self.map.get_mut(id) {
                    r.params.step = r.params.step.wrapping_add(1);
                    if n == 1 {
                        r.history.push(tokens[row]);
                    }
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::{sample_batch, Processors};
    use crate::sample::LogprobMode;

    fn out(tokens: &mut [i64]) -> BatchOut<'_> {
        BatchOut {
            n: 1,
            tokens,
            logprobs: None,
            n_top: 0,
            top_ids: None,
            top_logprobs: None,
            mode: LogprobMode::Processed,
        }
    }

    fn row(seed: u64, vocab: usize) -> Vec<f32> {
        (0..vocab)
            .map(|i| (crate::rng::uniform(seed, i as u64, 1) * 8.0 - 4.0) as f32)
            .collect()
    }

    /// Requests sampled in shuffled subsets give, step by step, what `sample_batch` gives each
    /// row alone with the request's seed, its own step count and its history as counts.
    #[test]
    fn requests_match_sample_batch_whatever_the_batch() {
        let vocab = 3000;
        let mut reqs = Requests::default();
        let params = |id: u64| RowParams {
            temperature: 0.9,
            top_k: [0, 40][id as usize % 2],
            top_p: 0.95,
            repetition_penalty: 1.3,
            frequency_penalty: 0.2,
            seed: 100 + id,
            ..RowParams::default()
        };
        for id in 0..5 {
            reqs.add(id, params(id), &[1, 2, 2], vec![7], vec![2.0])
                .unwrap();
        }
        let mut hist: Vec<Vec<i64>> = vec![vec![1, 2, 2]; 5];
        let mut steps = [0u64; 5];
        let layouts: [&[u64]; 4] = [&[0, 1, 2, 3, 4], &[3, 1], &[4, 0, 2], &[2]];
        for (s, ids) in layouts.iter().cycle().take(12).enumerate() {
            let rows: Vec<Vec<f32>> = ids
                .iter()
                .map(|&id| row(s as u64 * 10 + id, vocab))
                .collect();
            let flat: Vec<f32> = rows.concat();
            let mut got = vec![0i64; ids.len()];
            reqs.sample(&flat, vocab, ids, None, out(&mut got), true)
                .unwrap();
            for (r, &id) in ids.iter().enumerate() {
                let i = id as usize;
                let mut counts: HashMap<i64, i64> = HashMap::new();
                for &t in &hist[i] {
                    *counts.entry(t).or_default() += 1;
                }
                let (hi, hc): (Vec<i64>, Vec<i64>) = counts.into_iter().unzip();
                let p = RowParams {
                    step: steps[i],
                    ..params(id)
                };
                let procs = Processors {
                    history_offsets: &[0, hi.len() as i64],
                    history_ids: &hi,
                    history_counts: &hc,
                    bias_offsets: &[0, 1],
                    bias_ids: &[7],
                    bias_values: &[2.0],
                    mask: None,
                };
                let mut want = [0i64];
                sample_batch(&rows[r], vocab, &[p], &procs, out(&mut want)).unwrap();
                assert_eq!(got[r], want[0], "step {s} request {id}");
                hist[i].push(got[r]);
                steps[i] += 1;
            }
        }
        assert_eq!(reqs.step_of(2).unwrap(), steps[2]);
    }

    #[test]
    fn bad_ids_are_errors_and_change_nothing() {
        let mut reqs = Requests::default();
        reqs.add(1, RowParams::default(), &[], vec![], vec![])
            .unwrap();
        assert_eq!(
            reqs.add(1, RowParams::default(), &[], vec![], vec![]),
            Err(SamplingError::DuplicateRequest { id: 1 })
        );
        let x = vec![0.0f32; 20];
        let mut t = [0i64; 2];
        assert_eq!(
            reqs.sample(&x, 10, &[1, 9], None, out(&mut t), true),
            Err(SamplingError::UnknownRequest { id: 9 })
        );
        assert_eq!(
            reqs.sample(&x, 10, &[1, 1], None, out(&mut t), true),
            Err(SamplingError::RepeatedRequest { id: 1, row: 1 })
        );
        assert_eq!(reqs.step_of(1), Ok(0));
        assert_eq!(reqs.remove(3), Err(SamplingError::UnknownRequest { id: 3 }));
        reqs.remove(1).unwrap();
        assert!(reqs.is_empty());
    }
}
