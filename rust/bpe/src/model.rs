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
//! Storage: all token bytes live in one buffer (`data`, `offsets`), and bytes -> id is an
//! open-addressing table of `u32` ids (load factor <= 1/2, linear probing, a multiplicative hash
//! of the bytes read as little-endian words), so a lookup is one hash, usually one probe and one
//! short `memcmp`, with no per-token allocation. For rank vocabularies the priority of a pair is
//! looked up straight from the piece's bytes (`piece[start..end]`), so no pair table is built
//! (this keeps loading `o200k_base` to a few milliseconds). Merge lists keep a pair map
//! `(left id, right id) -> (index, merged id)`.
//!
//! Memory, not arithmetic, bounds a lookup (the table is MiBs, so a probe misses L2), so three
//! small structures that stay cache-resident answer the common cases first: a hot table of the
//! frequent short tokens, a 256 KiB Bloom filter (most lookups made while merging are for byte
//! strings that are not tokens: measured 60% on multilingual text) and, for rank vocabularies,
//! a 64K-entry table of the two-byte tokens (every piece's first merge round). Pieces arrive in
//! batches (`pipeline.rs`) whose lookups are prefetched together.
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
//! - rank vocabularies: pieces over `BACKTRACK_BUILD` bytes (and, once its tables exist, over
//!   `BACKTRACK_USE`) go through the backtracking encoder of `backtrack.rs`, linear time, exact
//!   under a precondition checked when its tables are built (else the engines above);
//! - counting never materialises ids: the number of parts left is the count.

use std::sync::{Arc, OnceLock};

use rustc_hash::FxHashMap;

use crate::backtrack::Backtrack;
use crate::cache;
use crate::VocabError;

mod pipeline;

/// Token id.
pub type Rank = u32;

const EMPTY: u32 = u32::MAX;
const NONE: u32 = u32::MAX;
/// Ids below this (of tokens of at most 8 bytes) go into the hot table too.
const HOT_IDS: usize = 8192;
/// Hot-table size: 8 Ki slots of 16 bytes = 128 KiB, load <= 1/2.
const HOT_SLOTS: usize = 1 << 14;
/// Pieces up to this many bytes use the stack-array engine.
const SMALL: usize = 64;
/// Rank-vocabulary pieces longer than this build the backtracking encoder's tables on first
/// use and go through it (`backtrack.rs`: linear time). The build is a one-off cost per model
/// (cachegrind: about 250M instructions for cl100k_base and 520M for o200k_base, 0.05-0.2 s),
/// so it waits for a piece that needs linear time: up to this length `merge_long` takes tens
/// of microseconds, and ordinary prose and code never reach it.
const BACKTRACK_BUILD: usize = 256;
/// Once the tables exist, pieces longer than this go through it too. Measured per piece length
/// on English and multilingual text (pieces that are not whole tokens, both engines in one
/// process, interleaved): against `merge_small` it is 1.1-1.3x faster at 13-16 bytes and
/// 1.5-2.2x from 17 bytes on both vocabularies, but slower at up to 12 bytes on English (and on
/// o200k_base multilingual text up to 9); re-checked after the stack engine got faster
/// (cachegrind over the English and multilingual bench corpora, per pass: 12 beats 64 on three
/// of the four corpus x vocabulary pairs, by 2-10%). Medium pieces alone do not trigger the
/// build, which a short text would not pay back.
const BACKTRACK_USE: usize = 12;

/// A byte-level BPE vocabulary with its merge rules.
#[derive(Debug, Clone)]
pub struct BpeModel {
    /// Token bytes, concatenated; token `id` is `data[offsets[id]..offsets[id + 1]]` (empty for
    /// ids absent from the vocabulary).
    data: Vec<u8>,
    offsets: Vec<u32>,
    /// Open-addressing table (linear probing, load <= 1/2); length is a power of two.
    table: Vec<Slot>,
    shift: u32,
    /// A small table (fits in L2) of the tokens of at most 8 bytes with the lowest ids: for
    /// tiktoken vocabularies the earliest merges, i.e. the most frequent tokens. Looked up
    /// first, so the common case never touches the big table.
    hot: Vec<Slot>,
    hot_shift: u32,
    /// A one-word-per-probe Bloom filter over all tokens (two bits per token in one `u64`):
    /// most lookups made while merging are for byte strings that are *not* tokens, and this
    /// answers them from a table that stays in L2 instead of probing the big one.
    filter: Vec<u64>,
    byte_ids: [Rank; 256],
    /// The priority of the pair of single bytes `[a, b]` at `a << 8 | b`, or `NONE`: for rank
    /// vocabularies the rank of the two-byte token, for merge lists the merge index (256 KiB,
    /// so the first merge round of every piece is array reads, not hash probes).
    byte_pairs: Vec<Rank>,
    /// Merge lists: the merged id of each two-byte pair in `byte_pairs` (which then holds the
    /// merge index). Empty for rank vocabularies, where the merged id is the rank itself.
    byte_pair_ids: Vec<Rank>,
    /// Merge-list priorities; empty for rank vocabularies (priority = rank of the concatenation).
    pairs: FxHashMap<(Rank, Rank), (u32, Rank)>,
    by_rank: bool,
    /// A piece that is itself a token encodes to that token without merging. Always true for
    /// tiktoken; `ignore_merges` in a `tokenizer.json` (Llama-3 sets it).
    whole_piece_lookup: bool,
    /// Some byte that never occurs in UTF-8 text (0xC0, 0xC1, 0xF5-0xFF) has no single-byte
    /// token (its `byte_ids` entry is `NONE`). DeepSeek's `tokenizer.json` files leave them out;
    /// Hugging Face drops a character its vocabulary lacks when the model has no `unk_token`,
    /// and merges across the gap. Text arrives as `&str`, so only the raw-byte entry points
    /// [`encode_piece`](Self::encode_piece) / [`count_piece`](Self::count_piece) can meet one;
    /// they drop it the same way.
    missing_bytes: bool,
    /// Process-unique id tagging this model's entries in the per-thread piece cache.
    uid: u32,
    /// The backtracking encoder's tables (rank vocabularies only), built on first use; `None`
    /// inside if the vocabulary does not meet its precondition (see `backtrack.rs`).
    backtrack: OnceLock<Option<Arc<Backtrack>>>,
}

/// Bytes that never occur in well-formed UTF-8 (RFC 3629): 0xC0, 0xC1, 0xF5-0xFF.
fn never_in_utf8(b: u8) -> bool {
    matches!(b, 0xC0 | 0xC1 | 0xF5..=0xFF)
}

/// One slot of the bytes -> id table. Tokens of up to 8 bytes are compared through `key` (the
/// bytes packed little-endian), so a lookup touches one cache line; longer ones fall back to
/// comparing `data`.
#[derive(Debug, Clone, Copy)]
#[repr(C)]
struct Slot {
    key: u64,
    id: u32,
    len: u32,
}

const FREE: Slot = Slot {
    key: 0,
    id: EMPTY,
    len: 0,
};

/// The first `min(len, 8)` bytes of `b` packed little-endian into a word, zero-padded. Built
/// from at most two overlapping loads (no byte loop and no copy through memory, which would
/// stall on store forwarding in the hot path).
#[inline(always)]
pub(crate) fn pack8(b: &[u8]) -> u64 {
    let n = b.len();
    if n >= 8 {
        let mut w = [0u8; 8];
        w.copy_from_slice(&b[..8]);
        return u64::from_le_bytes(w);
    }
    if n >= 4 {
        let lo = u64::from(u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
        let hi = u64::from(u32::from_le_bytes([b[n - 4], b[n - 3], b[n - 2], b[n - 1]]));
        // Overlapping bytes hold the same value in both words, so OR is exact.
        return lo | (hi << (8 * (n - 4)));
    }
    if n == 0 {
        return 0;
    }
    // n in 1..=3: bytes 0, n/2 and n-1 cover every position.
    u64::from(b[0])
        | (u64::from(b[n / 2]) << (8 * (n / 2)))
        | (u64::from(b[n - 1]) << (8 * (n - 1)))
}

/// `b` packed little-endian into a word (first 8 bytes) and the table hash of `b`.
#[inline(always)]
fn key_and_hash(b: &[u8]) -> (u64, u64) {
    const K: u64 = 0x9E37_79B9_7F4A_7C15;
    let key = pack8(b);
    let mut h = (key ^ ((b.len() as u64) << 59)).wrapping_mul(K);
    if b.len() > 8 {
        for c in b[8..].chunks(8) {
            h = (h.rotate_left(27) ^ pack8(c)).wrapping_mul(K);
        }
    }
    (key, h ^ (h >> 31))
}

/// Most filter words (a power of two): 256 KiB.
const FILTER_WORDS: usize = 1 << 15;

/// The filter word of hash `h` (`words` is a power of two): the hash's low bits, which the
/// tables (indexed by the high bits) do not use.
#[inline(always)]
fn filter_word(h: u64, words: usize) -> usize {
    (h as usize) & (words - 1)
}

/// The two bits a token with hash `h` sets in its filter word.
#[inline(always)]
fn filter_bits(h: u64) -> u64 {
    (1u64 << ((h >> 20) & 63)) | (1u64 << ((h >> 26) & 63))
}

/// The minimum of `p` and the first position holding it (`(NONE, 0)` when all are `NONE`).
/// `N` is a multiple of 4. On x86-64 this is SSE2 (part of the baseline, so no dispatch): four
/// lanes compared at a time, about a sixth of the instructions of the scalar scan, which is
/// the inner loop of every merge step.
#[inline(always)]
fn argmin<const N: usize>(p: &[u32; N]) -> (u32, usize) {
    #[cfg(target_arch = "x86_64")]
    {
        argmin_sse2(p)
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        argmin_scalar(p)
    }
}

/// Reference for [`argmin`].
#[cfg_attr(target_arch = "x86_64", allow(dead_code))]
#[inline(always)]
fn argmin_scalar(p: &[u32]) -> (u32, usize) {
    let mut best = NONE;
    let mut at = 0;
    for (k, &x) in p.iter().enumerate() {
        if x < best {
            best = x;
            at = k;
        }
    }
    (best, at)
}

#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn argmin_sse2<const N: usize>(p: &[u32; N]) -> (u32, usize) {
    use core::arch::x86_64::{
        __m128i, _mm_and_si128, _mm_andnot_si128, _mm_castsi128_ps, _mm_cmpeq_epi32,
        _mm_cmpgt_epi32, _mm_cvtsi128_si32, _mm_loadu_si128, _mm_movemask_ps, _mm_or_si128,
        _mm_set1_epi32, _mm_shuffle_epi32, _mm_xor_si128,
    };
    const { assert!(N % 4 == 0 && N > 0) };
    // SAFETY: SSE2 is part of the x86-64 baseline, so these intrinsics are available on every
    // CPU this code runs on; every load reads `p[4c..4c + 4]` with `c < N / 4`, inside the
    // array (unaligned loads).
    unsafe {
        let load = |c: usize| _mm_loadu_si128(p.as_ptr().add(4 * c).cast::<__m128i>());
        // Unsigned order through signed compares: flip the sign bit.
        let bias = _mm_set1_epi32(i32::MIN);
        let min = |a: __m128i, b: __m128i| {
            let gt = _mm_cmpgt_epi32(a, b);
            _mm_or_si128(_mm_and_si128(gt, b), _mm_andnot_si128(gt, a))
        };
        let mut m = _mm_xor_si128(load(0), bias);
        for c in 1..N / 4 {
            m = min(m, _mm_xor_si128(load(c), bias));
        }
        m = min(m, _mm_shuffle_epi32::<0b01_00_11_10>(m));
        m = min(m, _mm_shuffle_epi32::<0b10_11_00_01>(m));
        let best = (_mm_cvtsi128_si32(m) ^ i32::MIN) as u32;
        if best == NONE {
            return (NONE, 0);
        }
        let target = _mm_set1_epi32(best as i32);
        for c in 0..N / 4 {
            let mask = _mm_movemask_ps(_mm_castsi128_ps(_mm_cmpeq_epi32(load(c), target)));
            if mask != 0 {
                return (best, 4 * c + mask.trailing_zeros() as usize);
            }
        }
        (best, 0)
    }
}

/// Hint the CPU to pull the cache line holding `*x` into L1 (no effect on results).
#[inline(always)]
pub(crate) fn prefetch<T>(x: &T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch never faults and reads nothing architecturally; `x` is a valid reference.
    unsafe {
        core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T0 }>(
            (x as *const T).cast::<i8>(),
        );
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = x;
}

impl BpeModel {
    /// tiktoken semantics: `tokens[rank]` are the bytes of the token with that rank (= id).
    ///
    /// # Errors
    /// A duplicate token, or a byte with no single-byte token.
    pub fn from_ranks(tokens: Vec<Vec<u8>>) -> Result<Self, VocabError> {
        let entries = tokens
            .into_iter()
            .enumerate()
            .map(|(i, t)| (t, i as Rank))
            .collect::<Vec<_>>();
        let mut model = Self::from_vocab(entries)?;
        model.require_all_bytes()?;
        model.set_rank_semantics();
        Ok(model)
    }

    /// tiktoken semantics over packed tokens: rank `i` is `data[offsets[i]..offsets[i + 1]]`
    /// (the form the build script precomputes for the bundled vocabularies).
    ///
    /// # Errors
    /// Malformed offsets, an empty or duplicate token, or a byte with no single-byte token.
    pub fn from_packed_ranks(data: Vec<u8>, offsets: Vec<u32>) -> Result<Self, VocabError> {
        let ok = !offsets.is_empty()
            && offsets[0] == 0
            && offsets.windows(2).all(|w| w[0] < w[1])
            && offsets.last().is_some_and(|&e| e as usize == data.len());
        if !ok {
            return Err(VocabError::InvalidVocab(
                "packed ranks: offsets must start at 0, strictly increase and end at the data length"
                    .to_string(),
            ));
        }
        let mut model = Self::from_packed(data, offsets)?;
        model.require_all_bytes()?;
        model.set_rank_semantics();
        Ok(model)
    }

    /// Hugging Face semantics: a vocabulary (bytes, id) and an ordered merge list of
    /// (left bytes, right bytes); a pair's priority is its index in `merges`. With
    /// `ignore_merges`, a piece that is itself in the vocabulary maps straight to its id.
    ///
    /// # Errors
    /// A duplicate token, a byte with no single-byte token, or a merge whose parts or result are
    /// not in the vocabulary.
    pub fn from_merges(
        vocab: Vec<(Vec<u8>, Rank)>,
        merges: Vec<(Vec<u8>, Vec<u8>)>,
        ignore_merges: bool,
    ) -> Result<Self, VocabError> {
        let mut model = Self::from_vocab(vocab)?;
        model.whole_piece_lookup = ignore_merges;
        let mut pairs = FxHashMap::default();
        pairs.reserve(merges.len());
        for (index, (left, right)) in merges.into_iter().enumerate() {
            let missing = |what: &str, b: &[u8]| VocabError::BadMerge {
                index,
                message: format!(
                    "{what} {:?} is not in the vocabulary",
                    String::from_utf8_lossy(b)
                ),
            };
            let l = model
                .token_id(&left)
                .ok_or_else(|| missing("left part", &left))?;
            let r = model
                .token_id(&right)
                .ok_or_else(|| missing("right part", &right))?;
            let mut joined = left;
            joined.extend_from_slice(&right);
            let m = model
                .token_id(&joined)
                .ok_or_else(|| missing("merged token", &joined))?;
            // The first occurrence of a pair wins, as in `tokenizers`.
            pairs.entry((l, r)).or_insert((index as u32, m));
        }
        model.pairs = pairs;
        // The first merge round of every piece, as array reads (merge index and merged id).
        let mut prio = vec![NONE; 1 << 16];
        let mut merged = vec![0 as Rank; 1 << 16];
        for a in 0..=255u8 {
            for b in 0..=255u8 {
                let (l, r) = (
                    model.byte_ids[usize::from(a)],
                    model.byte_ids[usize::from(b)],
                );
                if let Some(&(p, m)) = model.pairs.get(&(l, r)) {
                    let k = usize::from(a) << 8 | usize::from(b);
                    prio[k] = p;
                    merged[k] = m;
                }
            }
        }
        model.byte_pairs = prio;
        model.byte_pair_ids = merged;
        Ok(model)
    }

    fn from_vocab(entries: Vec<(Vec<u8>, Rank)>) -> Result<Self, VocabError> {
        let max_id = entries.iter().map(|(_, id)| *id).max().unwrap_or(0) as usize;
        if max_id >= (u32::MAX - 1) as usize {
            return Err(VocabError::InvalidVocab(format!(
                "id {max_id} is too large"
            )));
        }
        let mut slots: Vec<Option<Vec<u8>>> = vec![None; max_id + 1];
        for (bytes, id) in entries {
            if bytes.is_empty() {
                return Err(VocabError::InvalidVocab(format!(
                    "id {id} is an empty token"
                )));
            }
            let slot = &mut slots[id as usize];
            if slot.is_some() {
                return Err(VocabError::InvalidVocab(format!("id {id} appears twice")));
            }
            *slot = Some(bytes);
        }
        let total: usize = slots.iter().flatten().map(Vec::len).sum();
        let total = u32::try_from(total)
            .map_err(|_| VocabError::InvalidVocab("vocabulary larger than 4 GiB".to_string()))?;
        let mut data = Vec::with_capacity(total as usize);
        let mut offsets = Vec::with_capacity(slots.len() + 1);
        offsets.push(0);
        for slot in &slots {
            if let Some(b) = slot {
                data.extend_from_slice(b);
            }
            offsets.push(data.len() as u32);
        }
        drop(slots);
        Self::from_packed(data, offsets)
    }

    /// Rank vocabularies (tiktoken) need a token for every byte.
    fn require_all_bytes(&self) -> Result<(), VocabError> {
        match (0..=255u8).find(|&b| self.byte_ids[usize::from(b)] == NONE) {
            Some(b) if self.missing_bytes => Err(VocabError::InvalidVocab(format!(
                "no single-byte token for byte 0x{b:02x}"
            ))),
            _ => Ok(()),
        }
    }

    /// `piece` without the bytes that have no token (see `missing_bytes`), if it holds any.
    fn without_missing_bytes(&self, piece: &[u8]) -> Option<Vec<u8>> {
        let missing = |b: &u8| self.byte_ids[usize::from(*b)] == NONE;
        (self.missing_bytes && piece.iter().any(missing))
            .then(|| piece.iter().copied().filter(|b| !missing(b)).collect())
    }

    /// tiktoken semantics: priority = rank of the concatenation, whole pieces map to their token.
    fn set_rank_semantics(&mut self) {
        self.whole_piece_lookup = true;
        self.by_rank = true;
        let mut pairs = vec![NONE; 1 << 16];
        for (id, w) in self.offsets.windows(2).enumerate() {
            if let [a, b] = self.data[w[0] as usize..w[1] as usize] {
                pairs[usize::from(a) << 8 | usize::from(b)] = id as Rank;
            }
        }
        self.byte_pairs = pairs;
    }

    /// Build the lookup tables over packed tokens (`data[offsets[i]..offsets[i + 1]]` is id `i`,
    /// empty for absent ids).
    fn from_packed(data: Vec<u8>, offsets: Vec<u32>) -> Result<Self, VocabError> {
        let n = offsets.len() - 1;
        let cap = (n * 2).next_power_of_two().max(16);
        let shift = 64 - cap.trailing_zeros();
        let hot_shift = 64 - HOT_SLOTS.trailing_zeros();
        let mut table = vec![FREE; cap];
        let mut hot = vec![FREE; HOT_SLOTS];
        // About 20 bits per token, at most 256 KiB (cl100k: 21 bits per token, about 1% false
        // positives; o200k: 10, about 4%).
        let mut filter = vec![0u64; (n * 20 / 64).next_power_of_two().clamp(64, FILTER_WORDS)];
        let token =
            |id: u32| &data[offsets[id as usize] as usize..offsets[id as usize + 1] as usize];
        for id in 0..n as Rank {
            let bytes = token(id);
            if bytes.is_empty() {
                continue;
            }
            let mask = table.len() - 1;
            let (key, h) = key_and_hash(bytes);
            let mut i = (h >> shift) as usize;
            loop {
                let slot = table[i];
                if slot.id == EMPTY {
                    break;
                }
                if slot.key == key && token(slot.id) == bytes {
                    return Err(VocabError::InvalidVocab(format!(
                        "token {:?} appears twice (ids {} and {id})",
                        String::from_utf8_lossy(bytes),
                        slot.id
                    )));
                }
                i = (i + 1) & mask;
            }
            let slot = Slot {
                key,
                id,
                len: bytes.len() as u32,
            };
            table[i] = slot;
            let w = filter_word(h, filter.len());
            filter[w] |= filter_bits(h);
            if (id as usize) < HOT_IDS && bytes.len() <= 8 {
                let hmask = hot.len() - 1;
                let mut j = (h >> hot_shift) as usize;
                while hot[j].id != EMPTY {
                    j = (j + 1) & hmask;
                }
                hot[j] = slot;
            }
        }
        let mut model = Self {
            data,
            offsets,
            table,
            shift,
            hot,
            hot_shift,
            filter,
            byte_ids: [0; 256],
            byte_pairs: Vec::new(),
            byte_pair_ids: Vec::new(),
            pairs: FxHashMap::default(),
            by_rank: false,
            whole_piece_lookup: false,
            missing_bytes: false,
            uid: cache::new_uid(),
            backtrack: OnceLock::new(),
        };
        for b in 0..=255u8 {
            model.byte_ids[usize::from(b)] = match model.token_id(&[b]) {
                Some(id) => id,
                None if never_in_utf8(b) => {
                    model.missing_bytes = true;
                    NONE
                }
                None => {
                    return Err(VocabError::InvalidVocab(format!(
                        "no single-byte token for byte 0x{b:02x}"
                    )))
                }
            };
        }
        Ok(model)
    }

    #[inline]
    fn bytes_of(&self, id: Rank) -> &[u8] {
        let i = id as usize;
        &self.data[self.offsets[i] as usize..self.offsets[i + 1] as usize]
    }

    /// Number of id slots (one past the largest id).
    #[must_use]
    pub fn n_ids(&self) -> usize {
        self.offsets.len() - 1
    }

    /// The bytes of token `id`, or `None` if the id is not in the vocabulary.
    #[must_use]
    pub fn token_bytes(&self, id: Rank) -> Option<&[u8]> {
        if (id as usize) < self.n_ids() {
            let b = self.bytes_of(id);
            (!b.is_empty()).then_some(b)
        } else {
            None
        }
    }

    /// The id of the token with exactly these bytes.
    #[inline]
    #[must_use]
    pub fn token_id(&self, bytes: &[u8]) -> Option<Rank> {
        let (key, h) = key_and_hash(bytes);
        if !self.maybe_token(h) {
            return None;
        }
        if bytes.len() <= 8 {
            if let Some(id) = self.hot_find(key, h, bytes.len()) {
                return Some(id);
            }
        }
        self.table_find(bytes, key, h)
    }

    /// The hot table's id for a token of at most 8 bytes with packed `key` and hash `h`.
    #[inline(always)]
    fn hot_find(&self, key: u64, h: u64, len: usize) -> Option<Rank> {
        let mask = self.hot.len() - 1;
        let mut i = (h >> self.hot_shift) as usize;
        loop {
            let slot = self.hot[i];
            if slot.id == EMPTY {
                return None;
            }
            if slot.key == key && slot.len as usize == len {
                return Some(slot.id);
            }
            i = (i + 1) & mask;
        }
    }

    /// The first slot `token_id` reads in the hot table for hash `h`.
    #[inline(always)]
    fn hot_home(&self, h: u64) -> &Slot {
        &self.hot[(h >> self.hot_shift) as usize]
    }

    /// The first slot `token_id` reads in the main table for hash `h`.
    #[inline(always)]
    fn table_home(&self, h: u64) -> &Slot {
        &self.table[(h >> self.shift) as usize]
    }

    /// Whether a token may have hash `h` (`false`: certainly none has).
    #[inline(always)]
    fn maybe_token(&self, h: u64) -> bool {
        let bits = filter_bits(h);
        self.filter[filter_word(h, self.filter.len())] & bits == bits
    }

    /// The main table's id for `bytes` with packed `key` and hash `h` (callers check
    /// [`maybe_token`](Self::maybe_token) first where misses are common).
    #[inline(always)]
    fn table_find(&self, bytes: &[u8], key: u64, h: u64) -> Option<Rank> {
        let len = bytes.len() as u32;
        let mask = self.table.len() - 1;
        let mut i = (h >> self.shift) as usize;
        loop {
            let slot = self.table[i];
            if slot.id == EMPTY {
                return None;
            }
            if slot.key == key && slot.len == len && (len <= 8 || self.bytes_of(slot.id) == bytes) {
                return Some(slot.id);
            }
            i = (i + 1) & mask;
        }
    }

    /// The ids of two byte strings (`NONE` for absent ones or `None` inputs), with their table
    /// reads overlapped: hash both, prefetch both home slots, then probe.
    #[inline(always)]
    fn ranks2(&self, a: Option<&[u8]>, b: Option<&[u8]>) -> (Rank, Rank) {
        let ka = a.map(key_and_hash);
        let kb = b.map(key_and_hash);
        for (x, k) in [(a, ka), (b, kb)] {
            if let (Some(x), Some((_, h))) = (x, k) {
                prefetch(&self.filter[filter_word(h, self.filter.len())]);
                if x.len() <= 8 {
                    prefetch(self.hot_home(h));
                }
            }
        }
        let find = |x: Option<&[u8]>, k: Option<(u64, u64)>| match (x, k) {
            (Some(x), Some((key, h))) if self.maybe_token(h) => {
                let hot = if x.len() <= 8 {
                    self.hot_find(key, h, x.len())
                } else {
                    None
                };
                hot.or_else(|| self.table_find(x, key, h)).unwrap_or(NONE)
            }
            _ => NONE,
        };
        (find(a, ka), find(b, kb))
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

    /// Priority and merged id of the pair of parts `piece[a..b]`, `piece[b..c]` with ids `l`, `r`.
    #[inline]
    fn pair(&self, piece: &[u8], a: usize, c: usize, l: Rank, r: Rank) -> Option<(u32, Rank)> {
        if self.by_rank {
            self.token_id(&piece[a..c]).map(|id| (id, id))
        } else {
            self.pairs.get(&(l, r)).copied()
        }
    }

    /// Encode one pre-tokenized piece, appending its token ids to `out`.
    pub fn encode_piece(&self, piece: &[u8], out: &mut Vec<Rank>) {
        if piece.is_empty() {
            return;
        }
        if self.whole_piece_lookup {
            if let Some(id) = self.token_id(piece) {
                out.push(id);
                return;
            }
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

    /// The backtracking encoder for a piece of `len` bytes (see `BACKTRACK_BUILD` and
    /// `BACKTRACK_USE`); `None` for merge-list models and for rank vocabularies that do not meet
    /// its precondition.
    #[inline]
    fn backtrack_for(&self, len: usize) -> Option<&Backtrack> {
        if !self.by_rank || len <= BACKTRACK_USE {
            return None;
        }
        if len <= BACKTRACK_BUILD {
            return self.backtrack.get()?.as_deref();
        }
        self.backtrack
            .get_or_init(|| Backtrack::build(self).map(Arc::new))
            .as_deref()
    }

    /// Number of tokens in one pre-tokenized piece.
    #[must_use]
    pub fn count_piece(&self, piece: &[u8]) -> usize {
        if piece.is_empty() {
            return 0;
        }
        if self.whole_piece_lookup && self.token_id(piece).is_some() {
            return 1;
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
        if piece.len() <= SMALL {
            self.merge_small(piece, |_| {})
        } else {
            self.merge_long(piece, |_| {})
        }
    }

    /// Merge `piece` from single bytes with the engine its length calls for (no whole-piece
    /// lookup, no backtracking); every byte must have a token.
    fn merge_parts_of(&self, piece: &[u8], emit: impl FnMut(Rank)) -> usize {
        if piece.len() <= SMALL {
            self.merge_small(piece, emit)
        } else {
            self.merge_long(piece, emit)
        }
    }

    /// The stack-array engine for pieces of at most `SMALL` bytes; returns the token count.
    /// Sized to the piece (16, 32 or 64 parts), so short pieces initialise little stack.
    #[inline]
    fn merge_small(&self, piece: &[u8], emit: impl FnMut(Rank)) -> usize {
        match piece.len() {
            0..=16 => self.merge_stack::<16>(piece, emit),
            17..=32 => self.merge_stack::<32>(piece, emit),
            _ => self.merge_stack::<SMALL>(piece, emit),
        }
    }

    /// [`merge_small`](Self::merge_small) with arrays of `N >= piece.len()` entries.
    ///
    /// A part is named by the position of its first byte, and parts are linked (`next`,
    /// `prev`), so a merge is O(1) pointer updates instead of shifting arrays. `prio[k]` is the
    /// priority of the pair (part `k`, the part after it), `NONE` when there is none or `k` is
    /// no longer a part start. Each step scans `prio` for the leftmost minimum (positions keep
    /// text order, so leftmost-on-ties is the first minimum), merges and re-prices the two
    /// pairs next to the merged part.
    #[inline]
    fn merge_stack<const N: usize>(&self, piece: &[u8], mut emit: impl FnMut(Rank)) -> usize {
        let n = piece.len();
        debug_assert!(n <= N && N <= SMALL);
        let mut ids = [0 as Rank; N];
        let mut prio = [NONE; N];
        // Merged ids for merge lists; for rank vocabularies the merged id is the priority.
        let mut merged = [0 as Rank; N];
        let mut next = [0u8; N];
        let mut prev = [0u8; N];
        for (k, &b) in piece.iter().enumerate() {
            ids[k] = self.byte_ids[usize::from(b)];
            next[k] = (k + 1) as u8;
            prev[k] = k.wrapping_sub(1) as u8;
        }
        if self.byte_pairs.is_empty() {
            for k in 0..n - 1 {
                if let Some((p, id)) = self.pair(piece, k, k + 2, ids[k], ids[k + 1]) {
                    prio[k] = p;
                    merged[k] = id;
                }
            }
        } else {
            for (k, w) in piece.windows(2).enumerate() {
                let key = usize::from(w[0]) << 8 | usize::from(w[1]);
                prio[k] = self.byte_pairs[key];
                if !self.by_rank {
                    merged[k] = self.byte_pair_ids[key];
                }
            }
        }
        let mut m = n;
        loop {
            // Entries past the last pair are NONE, so the whole array can be scanned.
            let (best, at) = argmin(&prio);
            if best == NONE {
                break;
            }
            // Part `at` absorbs part `r`; `after` is the part that followed `r` (or n).
            let r = usize::from(next[at]);
            let after = usize::from(next[r]);
            prio[r] = NONE;
            next[at] = after as u8;
            if after < n {
                prev[after] = at as u8;
            }
            m -= 1;
            let right = (after < n).then(|| (at, usize::from(next[after])));
            let left = (at > 0).then(|| (usize::from(prev[at]), after));
            if self.by_rank {
                ids[at] = best;
                // The two lookups are independent: overlap their memory reads.
                let (pr, pl) = self.ranks2(
                    right.map(|(a, c)| &piece[a..c]),
                    left.map(|(a, c)| &piece[a..c]),
                );
                prio[at] = pr;
                if let Some((l, _)) = left {
                    prio[l] = pl;
                }
            } else {
                ids[at] = merged[at];
                let (p, id) = right
                    .and_then(|(a, c)| self.pair(piece, a, c, ids[at], ids[after]))
                    .unwrap_or((NONE, 0));
                prio[at] = p;
                merged[at] = id;
                if let Some((l, c)) = left {
                    let (p, id) = self.pair(piece, l, c, ids[l], ids[at]).unwrap_or((NONE, 0));
                    prio[l] = p;
                    merged[l] = id;
                }
            }
        }
        let mut k = 0;
        while k < n {
            emit(ids[k]);
            k = usize::from(next[k]);
        }
        m
    }

    /// The bucket engine for long pieces; returns the token count.
    ///
    /// Pending pairs are grouped by priority: `buckets[p]` holds the positions whose pair has
    /// priority `p`, and a heap holds the distinct priorities present (far fewer than pairs: a
    /// run of one letter has a few dozen). A bucket is sorted by position when its turn comes,
    /// then drained left to right, which is the heap order `(priority, position)`: a merge never
    /// creates a pair of its own priority (the merged token is longer than both parts), and a
    /// pair of *lower* priority created meanwhile goes to `urgent`, drained first. Stale entries
    /// are skipped (a position is live iff `prio[i]` still equals the bucket's priority).
    fn merge_long(&self, piece: &[u8], mut emit: impl FnMut(Rank)) -> usize {
        use std::cmp::Reverse;
        use std::collections::BinaryHeap;

        let n = piece.len();
        let mut ids: Vec<Rank> = piece
            .iter()
            .map(|&b| self.byte_ids[usize::from(b)])
            .collect();
        let mut next: Vec<u32> = (1..=n as u32).collect();
        let mut prev: Vec<u32> = (0..n as u32).map(|i| i.wrapping_sub(1)).collect();
        let mut prio = vec![NONE; n];
        let mut merged = vec![0 as Rank; n];
        let mut buckets: FxHashMap<u32, Vec<u32>> = FxHashMap::default();
        let mut order: BinaryHeap<Reverse<u32>> = BinaryHeap::new();
        let mut urgent: BinaryHeap<Reverse<u64>> = BinaryHeap::new();
        let add = |buckets: &mut FxHashMap<u32, Vec<u32>>,
                   order: &mut BinaryHeap<Reverse<u32>>,
                   urgent: &mut BinaryHeap<Reverse<u64>>,
                   current: u32,
                   p: u32,
                   i: usize| {
            if p < current {
                urgent.push(Reverse((u64::from(p) << 32) | i as u64));
            } else {
                let b = buckets.entry(p).or_default();
                if b.is_empty() {
                    order.push(Reverse(p));
                }
                b.push(i as u32);
            }
        };
        for i in 0..n - 1 {
            if let Some((p, id)) = self.pair(piece, i, i + 2, ids[i], ids[i + 1]) {
                prio[i] = p;
                merged[i] = id;
                add(&mut buckets, &mut order, &mut urgent, 0, p, i);
            }
        }
        let mut count = n;
        let mut bucket: Vec<u32> = Vec::new();
        while let Some(Reverse(current)) = order.pop() {
            let Some(mut b) = buckets.remove(&current) else {
                continue;
            };
            std::mem::swap(&mut bucket, &mut b);
            bucket.sort_unstable();
            let mut k = 0;
            loop {
                // Lower-priority pairs created while draining this bucket come first.
                let (p, i) = if let Some(Reverse(key)) = urgent.pop() {
                    ((key >> 32) as u32, (key & 0xFFFF_FFFF) as usize)
                } else if k < bucket.len() {
                    k += 1;
                    (current, bucket[k - 1] as usize)
                } else {
                    break;
                };
                if prio[i] != p {
                    continue; // stale
                }
                let j = next[i] as usize;
                ids[i] = merged[i];
                prio[j] = NONE;
                prio[i] = NONE;
                let after = next[j] as usize;
                next[i] = after as u32;
                if after < n {
                    prev[after] = i as u32;
                }
                count -= 1;
                if after < n {
                    let end = next[after] as usize;
                    if let Some((p2, id)) = self.pair(piece, i, end, ids[i], ids[after]) {
                        prio[i] = p2;
                        merged[i] = id;
                        add(&mut buckets, &mut order, &mut urgent, current, p2, i);
                    }
                }
                let h = prev[i];
                if h != NONE {
                    let h = h as usize;
                    prio[h] = NONE;
                    if let Some((p2, id)) = self.pair(piece, h, after, ids[h], ids[i]) {
                        prio[h] = p2;
                        merged[h] = id;
                        add(&mut buckets, &mut order, &mut urgent, current, p2, h);
                    }
                }
            }
            bucket.clear();
        }
        let mut i = 0;
        while i < n {
            emit(ids[i]);
            i = next[i] as usize;
        }
        count
    }
}

/// The textbook algorithm: a heap of candidate merges over a doubly linked list of parts. Kept
/// as the test oracle for the fast engines.
pub fn reference_merge(model: &BpeModel, piece: &[u8], out: &mut Vec<Rank>) {
    use std::cmp::Reverse;
    use std::collections::BinaryHeap;

    let n = piece.len();
    let mut ids: Vec<Rank> = piece.iter().map(|&b| model.byte_ids[b as usize]).collect();
    let mut prev: Vec<usize> = (0..n).map(|i| i.wrapping_sub(1)).collect();
    let mut next: Vec<usize> = (1..=n).collect();
    let mut alive = vec![true; n];
    let mut heap = BinaryHeap::new();
    for i in 0..n.saturating_sub(1) {
        if let Some((p, m)) = model.merge(ids[i], ids[i + 1]) {
            heap.push(Reverse((p, i, ids[i], ids[i + 1], m)));
        }
    }
    while let Some(Reverse((_, i, l, r, m))) = heap.pop() {
        let j = next[i];
        // Stale entry: one side changed since it was pushed.
        if !alive[i] || j >= n || ids[i] != l || ids[j] != r {
            continue;
        }
        ids[i] = m;
        alive[j] = false;
        next[i] = next[j];
        if next[i] < n {
            prev[next[i]] = i;
        }
        if prev[i] < n {
            let h = prev[i];
            if let Some((p, mm)) = model.merge(ids[h], ids[i]) {
                heap.push(Reverse((p, h, ids[h], ids[i], mm)));
            }
        }
        if next[i] < n {
            let k = next[i];
            if let Some((p, mm)) = model.merge(ids[i], ids[k]) {
                heap.push(Reverse((p, i, ids[i], ids[k], mm)));
            }
        }
    }
    let mut i = 0;
    while i < n {
        out.push(ids[i]);
        i = next[i];
    }
}

/// The naive quadratic algorithm: repeatedly scan all adjacent pairs for the lowest priority.
/// A second, independent oracle for tests.
pub fn naive_merge(model: &BpeModel, piece: &[u8]) -> Vec<Rank> {
    let mut parts: Vec<Rank> = piece.iter().map(|&b| model.byte_ids[b as usize]).collect();
    loop {
        let best = (0..parts.len().saturating_sub(1))
            .filter_map(|k| model.merge(parts[k], parts[k + 1]).map(|(p, m)| (p, k, m)))
            .min();
        let Some((_, k, m)) = best else {
            return parts;
        };
        parts[k] = m;
        parts.remove(k + 1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argmin_agrees_with_the_scalar_reference() {
        fn check<const N: usize>(state: &mut u64) {
            for _ in 0..2000 {
                let mut p = [NONE; N];
                for x in &mut p {
                    *state ^= *state << 13;
                    *state ^= *state >> 7;
                    *state ^= *state << 17;
                    // Small ranges make ties common; NONE and values near it test the sign flip.
                    *x = match *state % 5 {
                        0 => NONE,
                        1 => NONE - 1 - (*state >> 40) as u32 % 3,
                        2 => (1 << 31) + (*state >> 40) as u32 % 3,
                        _ => (*state >> 40) as u32 % 8,
                    };
                }
                assert_eq!(argmin(&p), argmin_scalar(&p), "{p:?}");
            }
            assert_eq!(argmin(&[NONE; N]), (NONE, 0));
        }
        let mut state = 0x9E37_79B9_7F4A_7C15_u64;
        check::<4>(&mut state);
        check::<16>(&mut state);
        check::<32>(&mut state);
        check::<64>(&mut state);
    }
    use proptest::prelude::*;

    fn byte_vocab() -> Vec<Vec<u8>> {
        (0..=255u8).map(|b| vec![b]).collect()
    }

    pub(crate) fn cl100k() -> &'static BpeModel {
        static M: std::sync::OnceLock<BpeModel> = std::sync::OnceLock::new();
        M.get_or_init(|| {
            let path = concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../python/tokenmill/data/cl100k_base.tiktoken.gz"
            );
            let data = std::fs::read(path).unwrap();
            BpeModel::from_ranks(crate::tiktoken::parse_tiktoken(&data).unwrap()).unwrap()
        })
    }

    fn fast(m: &BpeModel, piece: &[u8]) -> Vec<Rank> {
        let mut out = Vec::new();
        if piece.len() <= SMALL {
            m.merge_small(piece, |id| out.push(id));
        } else {
            m.merge_long(piece, |id| out.push(id));
        }
        out
    }

    fn all_engines_agree(m: &BpeModel, piece: &[u8]) {
        let mut reference = Vec::new();
        reference_merge(m, piece, &mut reference);
        let mut long = Vec::new();
        m.merge_long(piece, |id| long.push(id));
        assert_eq!(long, reference, "heap engine on {piece:?}");
        if piece.len() <= SMALL {
            let mut small = Vec::new();
            m.merge_small(piece, |id| small.push(id));
            assert_eq!(small, reference, "small engine on {piece:?}");
        }
        if piece.len() <= 300 {
            assert_eq!(naive_merge(m, piece), reference, "naive on {piece:?}");
        }
        assert_eq!(fast(m, piece), reference);
        let mut enc = Vec::new();
        m.encode_piece(piece, &mut enc);
        assert_eq!(m.count_piece(piece), enc.len());
        let decoded: Vec<u8> = enc
            .iter()
            .flat_map(|&id| m.token_bytes(id).unwrap().to_vec())
            .collect();
        assert_eq!(decoded, piece);
    }

    #[test]
    fn ranks_merge_lowest_rank_first() {
        let mut toks = byte_vocab();
        toks.push(b"ab".to_vec()); // 256
        toks.push(b"bc".to_vec()); // 257
        toks.push(b"abc".to_vec()); // 258
        let m = BpeModel::from_ranks(toks).unwrap();
        let mut out = Vec::new();
        m.encode_piece(b"abcx", &mut out);
        // "ab" (256) beats "bc" (257); then "ab"+"c" = "abc" (258).
        assert_eq!(out, vec![258, u32::from(b'x')]);
        assert_eq!(m.count_piece(b"abcx"), 2);
    }

    #[test]
    fn merges_ignore_unlisted_pairs() {
        let mut vocab: Vec<(Vec<u8>, Rank)> = byte_vocab()
            .into_iter()
            .enumerate()
            .map(|(i, t)| (t, i as Rank))
            .collect();
        vocab.push((b"ab".to_vec(), 256));
        vocab.push((b"abc".to_vec(), 257));
        vocab.push((b"bc".to_vec(), 258));
        // Only "b"+"c" is a merge; "ab" is in the vocab but never formed.
        let m = BpeModel::from_merges(vocab, vec![(b"b".to_vec(), b"c".to_vec())], false).unwrap();
        let mut out = Vec::new();
        m.encode_piece(b"abc", &mut out);
        assert_eq!(out, vec![u32::from(b'a'), 258]);
        all_engines_agree(&m, &b"abcabcabbcbcbcbabcbabcbabcabcbabcbacbacbabcbabcbacbabcabcbabcbabcbacbacbabcbabcbacbabcab"[..]);
    }

    #[test]
    fn missing_byte_is_an_error() {
        let toks: Vec<Vec<u8>> = (0..=254u8).map(|b| vec![b]).collect();
        assert!(matches!(
            BpeModel::from_ranks(toks),
            Err(VocabError::InvalidVocab(_))
        ));
    }

    #[test]
    fn merge_lists_may_lack_bytes_that_utf8_never_uses() {
        // DeepSeek's files have no token for 0xC0, 0xC1, 0xF5-0xFF. Such a byte can only come
        // through the raw-byte entry points; it is dropped and its neighbours merge across the
        // gap, as Hugging Face does with a character its vocabulary lacks (no `unk_token`).
        let mut vocab: Vec<(Vec<u8>, Rank)> = (0..=255u8)
            .filter(|&b| !never_in_utf8(b))
            .map(|b| (vec![b], Rank::from(b)))
            .collect();
        vocab.push((b"ab".to_vec(), 256));
        let m = BpeModel::from_merges(vocab.clone(), vec![(b"a".to_vec(), b"b".to_vec())], false)
            .unwrap();
        for piece in [
            &b"a\xc0b"[..],
            b"\xffa\xf5\xc1b\xfe",
            b"a\xc0b\xff".repeat(30).as_slice(),
        ] {
            let mut out = Vec::new();
            m.encode_piece(piece, &mut out);
            assert!(out.iter().all(|&id| id == 256), "{piece:?} -> {out:?}");
            assert_eq!(m.count_piece(piece), out.len());
        }
        let mut out = Vec::new();
        m.encode_piece(b"\xc0", &mut out);
        assert!(out.is_empty());
        // A byte that UTF-8 text does use stays required, and rank vocabularies need all 256.
        vocab.retain(|(b, _)| b != b"a");
        assert!(BpeModel::from_merges(vocab, vec![], false).is_err());
        let toks: Vec<Vec<u8>> = (0..=255u8)
            .filter(|&b| b != 0xC0)
            .map(|b| vec![b])
            .collect();
        assert!(BpeModel::from_ranks(toks).is_err());
    }

    #[test]
    fn every_token_is_found_through_the_filter_and_the_pair_table() {
        for name in ["cl100k_base", "o200k_base"] {
            let enc = crate::openai::bundled_encoding(name).unwrap();
            let m = enc.model();
            let mut rejected = 0usize;
            for id in 0..m.n_ids() as Rank {
                let Some(bytes) = m.token_bytes(id) else {
                    continue;
                };
                let (_, h) = key_and_hash(bytes);
                assert!(m.maybe_token(h), "{name}: the filter rejects token {id}");
                assert_eq!(m.token_id(bytes), Some(id), "{name}: token {id}");
                if let [a, b] = *bytes {
                    assert_eq!(m.byte_pairs[usize::from(a) << 8 | usize::from(b)], id);
                }
            }
            // The filter is useful: most non-tokens are rejected without a table probe.
            for i in 0..100_000u32 {
                let probe = [b'#', (i % 251) as u8, (i / 251) as u8, b'~', 0xff];
                if m.token_id(&probe).is_none() && !m.maybe_token(key_and_hash(&probe).1) {
                    rejected += 1;
                }
            }
            assert!(
                rejected > 90_000,
                "{name}: filter rejected only {rejected} of 100000"
            );
        }
    }

    #[test]
    fn duplicate_token_is_an_error() {
        let mut toks = byte_vocab();
        toks.push(b"a".to_vec());
        let e = BpeModel::from_ranks(toks).unwrap_err();
        assert!(e.to_string().contains("appears twice"), "{e}");
    }

    #[test]
    fn long_runs_match_reference() {
        let m = cl100k();
        for n in [1, 2, 3, 63, 64, 65, 500, 1000, 4097] {
            all_engines_agree(m, &vec![b'a'; n]);
            all_engines_agree(m, &vec![b' '; n]);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(400))]
        #[test]
        fn random_letters_match_reference(s in "[a-z]{1,700}") {
            all_engines_agree(cl100k(), s.as_bytes());
        }

        #[test]
        fn random_base64_match_reference(s in "[A-Za-z0-9+/]{1,200}") {
            all_engines_agree(cl100k(), s.as_bytes());
        }

        #[test]
        fn random_bytes_match_reference(b in prop::collection::vec(any::<u8>(), 1..120)) {
            all_engines_agree(cl100k(), &b);
        }

        #[test]
        fn random_merge_lists_match_reference(
            merges in prop::collection::vec((0u8..6, 0u8..6, 0usize..40, 0usize..40), 0..30),
            piece in prop::collection::vec(0u8..6, 1..150),
        ) {
            // Build a merge-list vocabulary over the letters a..f: each merge joins two earlier
            // tokens (chosen by index), so the list is always consistent.
            let mut vocab: Vec<(Vec<u8>, Rank)> = byte_vocab()
                .into_iter()
                .enumerate()
                .map(|(i, t)| (t, i as Rank))
                .collect();
            let mut tokens: Vec<Vec<u8>> = (0..6u8).map(|c| vec![b'a' + c]).collect();
            let mut list = Vec::new();
            for (a, b, i, j) in merges {
                let l = if i < tokens.len() { tokens[i].clone() } else { vec![b'a' + a] };
                let r = if j < tokens.len() { tokens[j].clone() } else { vec![b'a' + b] };
                let mut joined = l.clone();
                joined.extend_from_slice(&r);
                if !vocab.iter().any(|(t, _)| *t == joined) {
                    vocab.push((joined.clone(), vocab.len() as Rank));
                    tokens.push(joined);
                }
                list.push((l, r));
            }
            let piece: Vec<u8> = piece.into_iter().map(|c| b'a' + c).collect();
            for ignore in [false, true] {
                let m = BpeModel::from_merges(vocab.clone(), list.clone(), ignore).unwrap();
                all_engines_agree(&m, &piece);
            }
        }
    }
}
