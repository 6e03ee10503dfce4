//! Byte-level BPE merge model, shared by `.tiktoken` rank files and `tokenizer.json` merge lists.
//!
//! # Design notes
//! Both vocabulary formats reduce to one rule: starting from single bytes, repeatedly merge the
//! adjacent pair of parts with the lowest *merge priority*, the leftmost one on ties, until no
//! adjacent pair can merge. They differ only in what the priority of a pair is:
//! - tiktoken: the rank of the concatenated token (`from_ranks`); every way of splitting a token
//!   into two tokens is a mergeable pair;
//! - Hugging Face: the index of the pair in the `merges` list (`from_merges`); pairs not listed
//!   never merge, even when their concatenation is in the vocabulary.
//!
//! Storage and bytes -> id lookup are the vocabulary's (`vocab/`: one hash table, a hot table of
//! the frequent short tokens and a Bloom filter, all cache-conscious). For rank vocabularies the
//! priority of a pair is looked up straight from the piece's bytes (`piece[start..end]`), so no
//! pair table is built (this keeps loading `o200k_base` to a few milliseconds). Merge lists keep
//! a pair map `(left id, right id) -> (index, merged id)`. Both keep a 64K-entry table of the
//! two-byte pairs (every piece's first merge round). Pieces arrive in batches (`pipeline.rs`)
//! whose lookups are prefetched together.
//!
//! Files: `construct.rs` (the constructors), `stack.rs` (pieces up to `SMALL` bytes) with
//! `argmin.rs` (its SIMD scan), `bucket.rs` (longer pieces), `pipeline.rs` (batches through the
//! piece cache), `reference.rs` (test oracles).
//!
//! Engines (all produce the same tokens; the tests check the fast ones against `reference_merge`
//! and against a naive quadratic BPE):
//! - whole-piece lookup first (always for tiktoken; `ignore_merges` for `tokenizer.json`);
//! - pieces up to `SMALL` bytes: parts linked in stack arrays sized to the piece (16/32/64),
//!   each merge step takes the leftmost minimum priority with an SSE2 scan (O(n^2) on at most
//!   64 bytes, branch-light and cache-hot) and re-prices the two neighbouring pairs with
//!   overlapped lookups;
//! - longer pieces: pending pairs bucketed by priority over a linked list of parts, buckets
//!   drained in priority order and, within one, by position (`merge_long` explains why this is
//!   the heap order); lazy deletion of stale entries. Work is O(n) merges plus sorting each
//!   bucket once: near-linear in practice (a heap of distinct priorities, not of pairs).
//! - pieces over `BACKTRACK_BUILD` bytes (and, for rank vocabularies once its tables exist,
//!   over `BACKTRACK_USE`) go through the backtracking encoder of `backtrack.rs`, linear time;
//!   rank vocabularies need a precondition checked when its tables are built (else the engines
//!   above), merge lists (which compare merge indices, not ids) take it always: pairs that
//!   involve tokens breaking the precondition are checked by a short BPE run instead;
//! - counting never materialises ids: the number of parts left is the count.

use std::sync::{Arc, OnceLock};

use rustc_hash::FxHashMap;

use crate::backtrack::Backtrack;
use crate::vocab::Vocab;

mod argmin;
mod bucket;
mod construct;
pub(crate) use construct::MergeTables;
mod listed;
mod pipeline;
#[cfg(test)]
pub(crate) mod reference;
mod stack;
#[cfg(test)]
mod tests;

pub use crate::vocab::Rank;

/// `Rank` value for "no pair" / "no token".
const NONE: u32 = u32::MAX;
/// Pieces up to this many bytes use the stack-array engine.
const SMALL: usize = 64;
/// Pieces longer than this build the backtracking encoder's tables on first
/// use and go through it (`backtrack.rs`: linear time). The build is a one-off cost per model
/// (computed: cachegrind about 250M instructions for cl100k_base and 520M for o200k_base,
/// 0.05-0.2 s; the bundled vocabularies embed their splits, which leaves 15-50 ms), so it waits for a piece that needs linear time: up to this length `merge_long` takes tens
/// of microseconds, and ordinary prose and code never reach it.
const BACKTRACK_BUILD: usize = 256;
/// Once the tables exist, pieces longer than this go through it too. Measured per piece length
/// on English and multilingual text (pieces that are not whole tokens, both engines in one
/// process, interleaved): against `merge_small` it is 1.1-1.3x faster at 13-16 bytes and
/// 1.5-2.2x from 17 bytes on both vocabularies, but slower at up to 12 bytes on English (and on
/// o200k_base multilingual text up to 9); re-checked after the stack engine got faster
/// (cachegrind over the English and multilingual bench corpora, per pass: 12 beats 64 on three
/// of the four corpus x vocabulary pairs, by 2-10%). Medium pieces alone do not trigger the
/// build, which a short text would not pay back. Rank vocabularies only: for merge lists (whose
/// pair checks read merge indices) the stack and bucket engines stay faster on medium pieces
/// (tables built first, one pass, CPU time: Qwen 3 on the many-language corpus 22 MB/s against
/// 24-26 without them, Llama-3 29 against 32.5, Llama-3 on code 49-50 against 53-54), so there
/// the encoder takes only pieces over `BACKTRACK_BUILD`.
const BACKTRACK_USE: usize = 12;

/// A byte-level BPE vocabulary with its merge rules.
#[derive(Debug, Clone)]
pub struct BpeModel {
    /// Token bytes and the bytes -> id tables.
    vocab: Vocab,
    byte_ids: [Rank; 256],
    /// The priority of the pair of single bytes `[a, b]` at `a << 8 | b`, or `NONE`: for rank
    /// vocabularies the rank of the two-byte token, for merge lists the merge index (256 KiB,
    /// so the first merge round of every piece is array reads, not hash probes).
    byte_pairs: Vec<Rank>,
    /// Merge lists: the merged id of each two-byte pair in `byte_pairs` (which then holds the
    /// merge index), `NONE` for none. Empty for rank vocabularies, where the merged id is the
    /// rank itself.
    byte_pair_ids: Vec<Rank>,
    /// Merge-list priorities; empty for rank vocabularies (priority = rank of the concatenation).
    pairs: FxHashMap<(Rank, Rank), (u32, Rank)>,
    /// The same merges by merged token and split point, as the merge engines look them up
    /// (`listed.rs`); empty for rank vocabularies.
    listed: listed::MergeSplits,
    by_rank: bool,
    /// A merge list whose merge order follows merged ids, with each token's listed splits in its
    /// vocabulary slot: the stack engine orders pairs by merged id (`listed.rs`).
    rank_order: bool,
    /// A piece that is itself a token encodes to that token without merging. Always true for
    /// tiktoken; `ignore_merges` in a `tokenizer.json` (Llama-3 sets it).
    whole_piece_lookup: bool,
    /// Merge lists without `whole_piece_lookup`: one bit per id, set for the tokens that merging
    /// turns back into themselves, whose pieces may then take the whole-piece lookup too
    /// (`listed.rs`). Empty otherwise.
    self_encoding: Vec<u8>,
    /// Some byte that never occurs in UTF-8 text (0xC0, 0xC1, 0xF5-0xFF) has no single-byte
    /// token (its `byte_ids` entry is `NONE`). DeepSeek's `tokenizer.json` files leave them out;
    /// Hugging Face drops a character its vocabulary lacks when the model has no `unk_token`,
    /// and merges across the gap. Text arrives as `&str`, so only the raw-byte entry points
    /// [`encode_piece`](Self::encode_piece) / [`count_piece`](Self::count_piece) can meet one;
    /// they drop it the same way.
    missing_bytes: bool,
    /// Process-unique id tagging this model's entries in the per-thread piece cache.
    uid: u32,
    /// The backtracking encoder's tables, built on first use; `None`
    /// inside if the vocabulary does not meet its precondition (see `backtrack.rs`).
    backtrack: OnceLock<Option<Arc<Backtrack>>>,
    /// Precomputed splits for the backtracking encoder (`Backtrack::from_splits`), embedded for
    /// the bundled vocabularies; `None`: its tables are computed from the vocabulary.
    splits: Option<Splits>,
}

/// An embedded split table (a newtype, so that `Debug` prints its size, not its bytes).
#[derive(Clone, Copy)]
struct Splits(&'static [u8]);

impl std::fmt::Debug for Splits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Splits({} ids)", self.0.len())
    }
}

impl BpeModel {
    /// Number of id slots (one past the largest id).
    #[must_use]
    pub fn n_ids(&self) -> usize {
        self.vocab.n_ids()
    }

    /// The bytes of token `id`, or `None` if the id is not in the vocabulary.
    #[must_use]
    pub fn token_bytes(&self, id: Rank) -> Option<&[u8]> {
        self.vocab.token_bytes(id)
    }

    /// The id of the token with exactly these bytes.
    #[inline]
    #[must_use]
    pub fn token_id(&self, bytes: &[u8]) -> Option<Rank> {
        self.vocab.token_id(bytes)
    }

    /// Use `splits` (the table `Backtrack::split_lengths` writes, computed from this very
    /// vocabulary) for the backtracking encoder instead of computing it on first use. A table
    /// that does not fit the vocabulary is ignored (the tables are then computed).
    pub(crate) fn with_splits(mut self, splits: &'static [u8]) -> Self {
        self.splits = Some(Splits(splits));
        self
    }

    /// The vocabulary's tables (the backtracking encoder's tests build from them).
    #[cfg(test)]
    pub(crate) fn vocab(&self) -> &Vocab {
        &self.vocab
    }

    /// The merge priority and result of an adjacent pair, if it merges.
    #[must_use]
    pub fn merge(&self, left: Rank, right: Rank) -> Option<(u32, Rank)> {
        if self.by_rank {
            let mut joined = self.token_bytes(left)?.to_vec();
            joined.extend_from_slice(self.token_bytes(right)?);
            self.token_id(&joined).map(|id| (id, id))
        } else {
            self.pairs.get(&(left, right)).copied()
        }
    }

    /// Priority and merged id of the pair of parts `piece[a..b]`, `piece[b..c]`.
    #[inline]
    fn pair(&self, piece: &[u8], a: usize, b: usize, c: usize) -> Option<(u32, Rank)> {
        let m = self.token_id(&piece[a..c])?;
        if self.by_rank {
            Some((m, m))
        } else {
            Some((self.split_index(m, b - a)?, m))
        }
    }

    /// Merge lists: the merge index of the pair that makes token `m` (`NONE`: none) from its
    /// first `left` bytes and the rest, if listed.
    #[inline(always)]
    fn split_index(&self, m: Rank, left: usize) -> Option<u32> {
        if m == NONE {
            return None;
        }
        self.listed.index(m, left as u32)
    }

    /// Whether a piece equal to token `id` (the pieces's vocabulary lookup) encodes to it alone
    /// without merging; only asked when [`any_whole`](Self::any_whole) holds.
    #[inline(always)]
    fn whole(&self, id: Rank) -> bool {
        self.whole_piece_lookup
            || self
                .self_encoding
                .get(id as usize / 8)
                .is_some_and(|w| w >> (id % 8) & 1 != 0)
    }

    /// Whether some piece may take the whole-piece lookup.
    #[inline(always)]
    fn any_whole(&self) -> bool {
        self.whole_piece_lookup || !self.self_encoding.is_empty()
    }

    /// Encode one pre-tokenized piece, appending its token ids to `out`.
    pub fn encode_piece(&self, piece: &[u8], out: &mut Vec<Rank>) {
        if piece.is_empty() {
            return;
        }
        if self.any_whole() {
            if let Some(id) = self.token_id(piece).filter(|&id| self.whole(id)) {
                out.push(id);
                return;
            }
        }
        self.encode_unresolved(piece, out);
    }

    /// [`encode_piece`](Self::encode_piece) of a piece whose whole-piece lookup has been made
    /// (`pipeline.rs`) and found nothing to take.
    pub(crate) fn encode_unresolved(&self, piece: &[u8], out: &mut Vec<Rank>) {
        if piece.is_empty() {
            return;
        }
        if let Some(kept) = self.without_missing_bytes(piece) {
            self.merge_parts_of(&kept, |id| out.push(id));
            return;
        }
        if let Some(bt) = self.backtrack_for(piece.len()) {
            if bt.encode(piece, out) {
                return;
            }
        }
        if piece.len() <= SMALL {
            self.merge_small(piece, |id| out.push(id));
        } else {
            self.merge_long(piece, |id| out.push(id));
        }
    }

    /// Encode `piece` by merging from single bytes only: no whole-piece lookup, so a piece that
    /// is itself a token may still come out as several (tiktoken's `byte_pair_encode`).
    pub fn merge_piece(&self, piece: &[u8], out: &mut Vec<Rank>) {
        let kept = self.without_missing_bytes(piece);
        let piece = kept.as_deref().unwrap_or(piece);
        if !piece.is_empty() {
            self.merge_parts_of(piece, |id| out.push(id));
        }
    }

    /// The backtracking encoder for a piece of `len` bytes (see `BACKTRACK_BUILD` and
    /// `BACKTRACK_USE`); `None` for vocabularies that do not meet its precondition.
    #[inline]
    fn backtrack_for(&self, len: usize) -> Option<&Backtrack> {
        if len <= BACKTRACK_USE {
            return None;
        }
        if len <= BACKTRACK_BUILD {
            // Merge lists: only long pieces (see `BACKTRACK_USE`).
            if !self.by_rank {
                return None;
            }
            return self.backtrack.get()?.as_deref();
        }
        self.backtrack
            .get_or_init(|| {
                if self.by_rank {
                    self.splits
                        .and_then(|s| Backtrack::from_splits(&self.vocab, s.0))
                        .or_else(|| Backtrack::build(&self.vocab))
                } else {
                    Backtrack::build_merges(&self.vocab, |l, r| self.pairs.get(&(l, r)).copied())
                }
                .map(Arc::new)
            })
            .as_deref()
    }

    /// Number of tokens in one pre-tokenized piece.
    #[must_use]
    pub fn count_piece(&self, piece: &[u8]) -> usize {
        if piece.is_empty() {
            return 0;
        }
        if self.any_whole() && self.token_id(piece).is_some_and(|id| self.whole(id)) {
            return 1;
        }
        self.count_unresolved(piece)
    }

    /// [`count_piece`](Self::count_piece) of a piece whose whole-piece lookup has been made and
    /// found nothing to take.
    pub(crate) fn count_unresolved(&self, piece: &[u8]) -> usize {
        if piece.is_empty() {
            return 0;
        }
        if let Some(kept) = self.without_missing_bytes(piece) {
            return self.merge_parts_of(&kept, |_| {});
        }
        if let Some(n) = self
            .backtrack_for(piece.len())
            .and_then(|bt| bt.count(piece))
        {
            return n;
        }
        self.merge_parts_of(piece, |_| {})
    }

    /// `piece` without the bytes that have no token (see `missing_bytes`), if it holds any.
    fn without_missing_bytes(&self, piece: &[u8]) -> Option<Vec<u8>> {
        let missing = |b: &u8| self.byte_ids[usize::from(*b)] == NONE;
        (self.missing_bytes && piece.iter().any(missing))
            .then(|| piece.iter().copied().filter(|b| !missing(b)).collect())
    }

    /// Merge `piece` from single bytes with the engine its length calls for (no whole-piece
    /// lookup, no backtracking); every byte must have a token. Returns the token count.
    fn merge_parts_of(&self, piece: &[u8], emit: impl FnMut(Rank)) -> usize {
        if piece.len() <= SMALL {
            self.merge_small(piece, emit)
        } else {
            self.merge_long(piece, emit)
        }
    }
}
