//! Batched piece resolution: the table lookups of several pieces overlap in memory.
//!
//! # Design notes
//! On real text most pieces are a single token, and the cost of a piece is dominated by random
//! reads: the vocabulary table (several MiB for cl100k/o200k, so an L2 miss) and the per-thread
//! piece cache (4 MiB). Taken one piece at a time, every such read is a full miss latency on the
//! critical path. Here the pre-tokenizer's pieces arrive in batches of up to [`BATCH`]:
//!
//! 1. hash every piece and prefetch its home slot: in the small hot table (the most frequent
//!    tokens of at most 8 bytes) for short pieces, in the main table for longer ones; then look
//!    the short pieces up in the hot table and prefetch the main-table slot of those it misses;
//! 2. finish the main-table lookups (the lines are arriving or there), and for the pieces that
//!    are not one token, compute their cache probe and prefetch its slot;
//! 3. in order: emit single tokens, serve the rest from the cache or the merge engines.
//!
//! Work per piece is unchanged (one hash, the same probes); only the waiting overlaps. Results
//! are those of [`BpeModel::count_piece`] / [`BpeModel::encode_piece`] piece by piece: stage 3
//! falls back to exactly those calls, and the tests compare the two paths on real vocabularies.
//! Merge-list models without `ignore_merges` take a piece's token only when it is one that
//! merging turns back into itself (`listed.rs`); a model with no such tokens skips stages 1-2
//! and only prefetches cache slots.

use super::{BpeModel, Rank};
use crate::cache::{PieceCache, Probe};
use crate::pretok::BATCH;
use crate::vocab::key_and_hash;
use crate::word::prefetch;

/// Marks a piece that is not a single token (or not looked up as one).
const UNRESOLVED: Rank = Rank::MAX;

impl BpeModel {
    /// Stages 1-2: the single-token id of each piece, or `UNRESOLVED`.
    #[inline]
    fn resolve_whole(&self, pieces: &[&[u8]], ids: &mut [Rank; BATCH]) {
        if !self.any_whole() {
            return;
        }
        let mut hashes = [(0u64, 0u64); BATCH];
        for (i, p) in pieces.iter().enumerate() {
            let (key, h) = key_and_hash(p);
            hashes[i] = (key, h);
            if p.len() <= 8 {
                prefetch(self.vocab.hot_home(h));
            } else {
                prefetch(self.vocab.table_home(h));
            }
        }
        let mut pending = 0u64;
        for (i, p) in pieces.iter().enumerate() {
            let (key, h) = hashes[i];
            if p.len() <= 8 {
                if let Some(id) = self.vocab.hot_find(key, h, p.len()) {
                    if self.whole(id) {
                        ids[i] = id;
                    }
                    continue;
                }
                prefetch(self.vocab.table_home(h));
            }
            pending |= 1 << i;
        }
        while pending != 0 {
            let i = pending.trailing_zeros() as usize;
            pending &= pending - 1;
            let (key, h) = hashes[i];
            if !self.vocab.maybe_token(h) {
                continue;
            }
            if let Some(id) = self.vocab.table_find(pieces[i], key, h) {
                if self.whole(id) {
                    ids[i] = id;
                }
            }
        }
    }

    /// Cache probes (prefetched) for the unresolved pieces.
    #[inline]
    fn probe_rest(
        &self,
        pieces: &[&[u8]],
        ids: &[Rank; BATCH],
        cache: Option<&PieceCache>,
    ) -> [Option<Probe>; BATCH] {
        let mut probes = [None; BATCH];
        if let Some(c) = cache {
            for (i, p) in pieces.iter().enumerate() {
                if ids[i] == UNRESOLVED {
                    probes[i] = PieceCache::probe(self.uid, p);
                    if let Some(pr) = &probes[i] {
                        c.prefetch(pr);
                    }
                }
            }
        }
        probes
    }

    /// Total token count of up to [`BATCH`] pieces (as `count_piece` summed, through the cache).
    pub(crate) fn count_pieces(
        &self,
        pieces: &[&[u8]],
        mut cache: Option<&mut PieceCache>,
    ) -> usize {
        debug_assert!(pieces.len() <= BATCH);
        let mut ids = [UNRESOLVED; BATCH];
        self.resolve_whole(pieces, &mut ids);
        let probes = self.probe_rest(pieces, &ids, cache.as_deref());
        let mut total = 0;
        for (i, p) in pieces.iter().enumerate() {
            if ids[i] != UNRESOLVED {
                total += 1;
                continue;
            }
            // `resolve_whole` has made the piece's whole-piece lookup.
            total += match (&probes[i], cache.as_deref_mut()) {
                (Some(pr), Some(c)) => c.count(pr).unwrap_or_else(|| {
                    let n = self.count_unresolved(p);
                    c.store_count(pr, n);
                    n
                }),
                _ => self.count_unresolved(p),
            };
        }
        total
    }

    /// Append the ids of up to [`BATCH`] pieces to `out` (as `encode_piece` in order, through
    /// the cache).
    pub(crate) fn encode_pieces(
        &self,
        pieces: &[&[u8]],
        out: &mut Vec<Rank>,
        mut cache: Option<&mut PieceCache>,
    ) {
        debug_assert!(pieces.len() <= BATCH);
        let mut ids = [UNRESOLVED; BATCH];
        self.resolve_whole(pieces, &mut ids);
        let probes = self.probe_rest(pieces, &ids, cache.as_deref());
        for (i, p) in pieces.iter().enumerate() {
            if ids[i] != UNRESOLVED {
                out.push(ids[i]);
                continue;
            }
            match (&probes[i], cache.as_deref_mut()) {
                (Some(pr), Some(c)) => {
                    if !c.encode(pr, out) {
                        let start = out.len();
                        self.encode_unresolved(p, out);
                        c.store_ids(pr, &out[start..]);
                    }
                }
                _ => self.encode_unresolved(p, out),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::bundled_encoding;

    /// Pieces of every kind: single tokens (hot and not), multi-token, long, empty, non-UTF-8.
    fn pieces() -> Vec<Vec<u8>> {
        let mut v: Vec<Vec<u8>> = [
            " the",
            " tokenization",
            "a",
            " antidisestablishmentarianism",
            " Приветствую",
            " 東京特許許可局",
            "😀😀😀",
            "!!!!",
            "\n\n",
            "12345678",
            "123456789",
            "",
        ]
        .iter()
        .map(|s| s.as_bytes().to_vec())
        .collect();
        v.push(vec![b'a'; 100]);
        v.push(vec![b'x'; 9]);
        let mut state = 0x2545_f491_u64;
        for len in 0..200 {
            let piece = (0..len % 40)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    // Mostly lowercase letters and a space, some arbitrary bytes.
                    match state % 10 {
                        0 => (state >> 8) as u8,
                        1 => b' ',
                        _ => b'a' + ((state >> 16) % 26) as u8,
                    }
                })
                .collect();
            v.push(piece);
        }
        v
    }

    /// cl100k_base's first `n` tokens written as a merge list (every split into two tokens, in
    /// merged rank order), with and without `ignore_merges`; and one split per token in reverse
    /// order, without (merge indices that do not follow merged ids).
    fn merge_lists(n: usize) -> Vec<BpeModel> {
        let enc = bundled_encoding("cl100k_base").unwrap();
        let m = enc.model().unwrap();
        let toks: Vec<Vec<u8>> = (0..n as Rank)
            .map(|id| m.token_bytes(id).unwrap().to_vec())
            .collect();
        let known = |b: &[u8]| m.token_id(b).is_some_and(|id| (id as usize) < n);
        let mut merges = Vec::new();
        for t in &toks[256..] {
            for k in 1..t.len() {
                if known(&t[..k]) && known(&t[k..]) {
                    merges.push((t[..k].to_vec(), t[k..].to_vec()));
                }
            }
        }
        let vocab: Vec<(Vec<u8>, Rank)> = toks
            .into_iter()
            .enumerate()
            .map(|(i, t)| (t, i as Rank))
            .collect();
        let mut lists: Vec<BpeModel> = [false, true]
            .map(|ignore| BpeModel::from_merges(vocab.clone(), merges.clone(), ignore).unwrap())
            .into();
        merges.dedup_by(|a, b| {
            a.0.len() + a.1.len() == b.0.len() + b.1.len()
                && [&a.0[..], &a.1].concat() == [&b.0[..], &b.1].concat()
        });
        merges.reverse();
        lists.push(BpeModel::from_merges(vocab, merges, false).unwrap());
        lists
    }

    #[test]
    fn batches_equal_piece_by_piece_with_and_without_cache() {
        let all = pieces();
        let lists = merge_lists(3000);
        let bundled: Vec<_> = ["cl100k_base", "o200k_base"]
            .iter()
            .map(|name| bundled_encoding(name).unwrap())
            .collect();
        let models = bundled
            .iter()
            .map(|e| e.model().unwrap())
            .chain(lists.iter());
        for (k, m) in models.enumerate() {
            let name = format!("model {k}");
            let mut cache = PieceCache::new_for_tests();
            for round in 0..2 {
                for chunk in all.chunks(BATCH) {
                    let refs: Vec<&[u8]> = chunk.iter().map(Vec::as_slice).collect();
                    let mut want = Vec::new();
                    let mut want_n = 0;
                    for p in &refs {
                        m.encode_piece(p, &mut want);
                        want_n += m.count_piece(p);
                    }
                    assert_eq!(want.len(), want_n);
                    for use_cache in [false, true] {
                        let n = m.count_pieces(&refs, use_cache.then_some(&mut cache));
                        assert_eq!(n, want_n, "{name} round {round} cache {use_cache}");
                        let mut got = vec![1];
                        m.encode_pieces(&refs, &mut got, use_cache.then_some(&mut cache));
                        assert_eq!(got[1..], want[..], "{name} round {round} cache {use_cache}");
                    }
                }
            }
        }
    }
}
