//! Per-thread cache of encoded pre-tokenized pieces.
//!
//! # Design notes
//! Most pieces of real text (words with their leading space, punctuation runs) repeat, and BPE
//! of a piece depends only on the piece's bytes and the model. So each thread keeps a
//! direct-mapped table from piece bytes (pieces of at most [`MAX_LEN`] bytes) to the piece's
//! token count and, when it has at most [`MAX_IDS`] tokens, its ids. One slot is one cache line;
//! a lookup is one hash of four words, one line read and a four-word compare. A miss computes
//! the piece with the normal engines and overwrites the slot (no eviction policy beyond the
//! direct mapping, so memory is fixed: [`SLOTS`] × 64 bytes per thread that tokenizes).
//!
//! Invariants: every slot is tagged with the `uid` of the model that produced it, and a lookup
//! matches the tag, so several models can share a thread's table (models get a process-unique
//! non-zero `uid` when built, so a freed-and-reallocated model never sees stale entries; after
//! 2^32 - 1 models a process hands out uid 0, which never caches). Results are exact by
//! construction: a hit returns what the engines returned for exactly these bytes. Threads never
//! share a table, so batch calls are not serialised by it. `set_enabled(false)` turns the cache
//! off process-wide; [`clear`] empties every thread's table (each thread drops its entries the
//! next time it uses the table), so a bench can time a first pass over text repeatedly.

use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use crate::vocab::Rank;

/// Longest piece cached, in bytes.
pub const MAX_LEN: usize = 32;
/// Most token ids stored per slot (3 bytes each); longer encodings, or ones with an id of 2^24
/// or more, store only their count.
pub const MAX_IDS: usize = 8;
/// Slots per thread (a power of two): 4 MiB.
const SLOTS: usize = 1 << 16;
const BITS: u32 = SLOTS.trailing_zeros();

static ENABLED: AtomicBool = AtomicBool::new(true);
static NEXT_UID: AtomicU64 = AtomicU64::new(1);
/// Bumped by [`clear`]; a thread's tables remember the value they were filled under.
static GENERATION: AtomicU64 = AtomicU64::new(0);
/// Bit set in `Slot::count` for an entry that holds only a count.
const COUNT_ONLY: u8 = 0x80;

/// Turn the piece cache on or off for every thread (on by default). Results never change; only
/// speed does.
pub fn set_enabled(on: bool) {
    ENABLED.store(on, Ordering::Relaxed);
}

/// Whether the piece cache is on.
#[must_use]
pub fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// Empty the piece caches of every thread (results never change; only speed does). Each thread
/// drops its entries when it next uses its table.
pub fn clear() {
    GENERATION.fetch_add(1, Ordering::Relaxed);
}

/// The current [`clear`] generation.
#[must_use]
pub(crate) fn generation() -> u64 {
    GENERATION.load(Ordering::Relaxed)
}

/// A fresh process-unique model id, or 0 (never cached) once 32 bits run out.
pub(crate) fn new_uid() -> u32 {
    u32::try_from(NEXT_UID.fetch_add(1, Ordering::Relaxed)).unwrap_or(0)
}

#[derive(Clone, Copy)]
#[repr(C, align(64))]
struct Slot {
    key: [u64; 4],
    /// Token ids, 3 bytes each, little-endian.
    ids: [u8; 3 * MAX_IDS],
    /// `uid` of the model this entry belongs to; 0 in an empty slot.
    uid: u32,
    /// Piece length; 0 marks an empty slot (pieces are never empty).
    len: u8,
    /// Token count (pieces of at most 32 bytes have at most 32 tokens), with `COUNT_ONLY` set
    /// when the ids are not stored.
    count: u8,
}

const _: () = assert!(std::mem::size_of::<Slot>() == 64);

const EMPTY: Slot = Slot {
    key: [0; 4],
    ids: [0; 3 * MAX_IDS],
    uid: 0,
    len: 0,
    count: 0,
};

/// One thread's table.
pub(crate) struct PieceCache {
    slots: Vec<Slot>,
    /// The [`generation`] the entries were stored under.
    generation: u64,
}

/// A looked-up piece: its packed key and slot index.
#[derive(Clone, Copy)]
pub(crate) struct Probe {
    key: [u64; 4],
    uid: u32,
    len: u8,
    index: usize,
}

impl PieceCache {
    /// The probe for `piece`, or `None` when it is too long to cache.
    #[inline]
    pub(crate) fn probe(uid: u32, piece: &[u8]) -> Option<Probe> {
        let n = piece.len();
        if n == 0 || n > MAX_LEN || uid == 0 {
            return None;
        }
        let word = |i: usize| piece.get(8 * i..).map_or(0, crate::word::pack8);
        let key = [word(0), word(1), word(2), word(3)];
        let h = (key[0]
            ^ key[1].rotate_left(21)
            ^ key[2].rotate_left(42)
            ^ key[3].rotate_left(53)
            ^ (n as u64)
            ^ (u64::from(uid) << 40))
            .wrapping_mul(0x9E37_79B9_7F4A_7C15);
        Some(Probe {
            key,
            uid,
            len: n as u8,
            index: (h >> (64 - BITS)) as usize,
        })
    }

    /// Start pulling the probed slot into cache (no effect on results).
    #[inline]
    pub(crate) fn prefetch(&self, p: &Probe) {
        if let Some(s) = self.slots.get(p.index) {
            crate::word::prefetch(s);
        }
    }

    /// An empty table, for tests that drive the cache directly.
    #[cfg(test)]
    pub(crate) fn new_for_tests() -> Self {
        Self {
            slots: vec![EMPTY; SLOTS],
            generation: 0,
        }
    }

    /// The cached count of the probed piece.
    #[inline]
    pub(crate) fn count(&self, p: &Probe) -> Option<usize> {
        let s = &self.slots[p.index];
        Self::holds(s, p).then_some(usize::from(s.count & !COUNT_ONLY))
    }

    #[inline]
    fn holds(s: &Slot, p: &Probe) -> bool {
        s.len == p.len && s.uid == p.uid && s.key == p.key
    }

    /// Append the cached ids of the probed piece to `out`; `false` on a miss (or when the slot
    /// holds only a count).
    #[inline]
    pub(crate) fn encode(&self, p: &Probe, out: &mut Vec<Rank>) -> bool {
        let s = &self.slots[p.index];
        let c = usize::from(s.count);
        if Self::holds(s, p) && c <= MAX_IDS {
            out.extend(
                s.ids[..3 * c]
                    .chunks_exact(3)
                    .map(|b| Rank::from(b[0]) | (Rank::from(b[1]) << 8) | (Rank::from(b[2]) << 16)),
            );
            true
        } else {
            false
        }
    }

    /// Store the encoding of the probed piece (`ids`, all of them).
    #[inline]
    pub(crate) fn store_ids(&mut self, p: &Probe, ids: &[Rank]) {
        let s = &mut self.slots[p.index];
        s.key = p.key;
        s.uid = p.uid;
        s.len = p.len;
        if ids.len() <= MAX_IDS && ids.iter().all(|&id| id < 1 << 24) {
            for (dst, &id) in s.ids.chunks_exact_mut(3).zip(ids) {
                dst.copy_from_slice(&id.to_le_bytes()[..3]);
            }
            s.count = ids.len() as u8;
        } else {
            s.count = (ids.len() as u8) | COUNT_ONLY;
        }
    }

    /// Store only the token count of the probed piece (marked `COUNT_ONLY`, so it never serves
    /// `encode`).
    #[inline]
    pub(crate) fn store_count(&mut self, p: &Probe, count: usize) {
        let s = &mut self.slots[p.index];
        s.key = p.key;
        s.uid = p.uid;
        s.len = p.len;
        s.count = (count as u8) | COUNT_ONLY;
    }
}

thread_local! {
    static CACHE: RefCell<PieceCache> = const {
        RefCell::new(PieceCache { slots: Vec::new(), generation: 0 })
    };
}

/// Run `f` with this thread's cache, or with `None` when the cache is off or already in use on
/// this thread.
pub(crate) fn with<R>(f: impl FnOnce(Option<&mut PieceCache>) -> R) -> R {
    if !enabled() {
        return f(None);
    }
    CACHE.with(|cell| match cell.try_borrow_mut() {
        Ok(mut c) => {
            let now = generation();
            if c.slots.is_empty() {
                c.slots = vec![EMPTY; SLOTS];
            } else if c.generation != now {
                c.slots.fill(EMPTY);
            }
            c.generation = now;
            f(Some(&mut c))
        }
        Err(_) => f(None),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::bundled_encoding;

    fn fresh() -> PieceCache {
        PieceCache {
            slots: vec![EMPTY; SLOTS],
            generation: 0,
        }
    }

    #[test]
    fn cached_results_equal_the_engines_across_models_and_modes() {
        let a = bundled_encoding("cl100k_base").unwrap();
        let b = bundled_encoding("o200k_base").unwrap();
        let pieces: Vec<Vec<u8>> = [
            " the",
            " tokenization",
            "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", // 32 bytes, several tokens
            "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", // 33 bytes: not cached
            " Приветствую",
            " 東京特許許可局",
            "😀😀😀😀😀😀", // many tokens: more than MAX_IDS
            "!!!!",
        ]
        .iter()
        .map(|s| s.as_bytes().to_vec())
        .chain((0u8..=255).map(|x| vec![x, x ^ 0x5a, b'q']))
        .collect();
        let mut cache = fresh();
        for round in 0..3 {
            for model in [a.model().unwrap(), b.model().unwrap()] {
                for p in &pieces {
                    let mut want = Vec::new();
                    model.encode_piece(p, &mut want);
                    // Count first on even rounds (count-only entries must not serve encode).
                    if round % 2 == 0 {
                        assert_eq!(model.count_pieces(&[p], Some(&mut cache)), want.len());
                    }
                    let mut got = vec![7];
                    model.encode_pieces(&[p], &mut got, Some(&mut cache));
                    assert_eq!(got[1..], want[..], "piece {p:?} round {round}");
                    assert_eq!(model.count_pieces(&[p], Some(&mut cache)), want.len());
                }
            }
        }
    }

    #[test]
    fn ids_that_do_not_fit_store_only_the_count() {
        let mut cache = fresh();
        let p = PieceCache::probe(3, b"abc").unwrap();
        let q = PieceCache::probe(4, b"abc").unwrap();
        cache.store_ids(&p, &[1 << 24, 5]);
        let mut out = Vec::new();
        assert!(!cache.encode(&p, &mut out));
        assert_eq!(cache.count(&p), Some(2));
        assert_eq!(cache.count(&q), None, "another model's entry");
        cache.store_ids(&p, &[(1 << 24) - 1, 0, 70_000]);
        assert!(cache.encode(&p, &mut out));
        assert_eq!(out, [(1 << 24) - 1, 0, 70_000]);
        cache.store_ids(&p, &[9; MAX_IDS + 1]);
        assert!(!cache.encode(&p, &mut out));
        assert_eq!(cache.count(&p), Some(MAX_IDS + 1));
    }

    #[test]
    fn too_long_or_untagged_pieces_are_never_probed() {
        assert!(PieceCache::probe(1, &[b'a'; MAX_LEN]).is_some());
        assert!(PieceCache::probe(1, &[b'a'; MAX_LEN + 1]).is_none());
        assert!(PieceCache::probe(1, b"").is_none());
        assert!(PieceCache::probe(0, b"abc").is_none());
    }
}
