//! A byte-level vocabulary: token bytes by id, and bytes -> id lookup.
//!
//! # Design notes
//! All token bytes live in one buffer (`data`, `offsets`), and bytes -> id is an open-addressing
//! table of `u32` ids ([`table`]), so a lookup is one hash, usually one probe and one short
//! `memcmp`, with no per-token allocation.
//!
//! Memory, not arithmetic, bounds a lookup (the table is MiBs, so a probe misses L2), so two
//! small structures that stay cache-resident answer the common cases first: a hot table of the
//! frequent short tokens (same layout, 128 KiB) and a 256 KiB Bloom filter ([`filter`]). Callers
//! that batch lookups (`model/pipeline.rs`) use the `*_home` slots to prefetch.

mod filter;
mod table;

use filter::Filter;
pub(crate) use table::key_and_hash;
pub(crate) use table::Slot;
use table::Table;

use crate::word::prefetch;
use crate::VocabError;

/// Token id.
pub type Rank = u32;

/// `Rank` value for "no token".
const NONE: Rank = u32::MAX;
/// Ids below this (of tokens of at most 8 bytes) go into the hot table too.
const HOT_IDS: usize = 8192;
/// Hot-table size: 8 Ki slots of 16 bytes = 128 KiB, load <= 1/2.
const HOT_SLOTS: usize = 1 << 14;

/// Token bytes and the lookup tables over them.
#[derive(Debug, Clone)]
pub(crate) struct Vocab {
    /// Token bytes, concatenated; token `id` is `data[offsets[id]..offsets[id + 1]]` (empty for
    /// ids absent from the vocabulary).
    data: Vec<u8>,
    offsets: Vec<u32>,
    /// All tokens (load <= 1/2).
    table: Table,
    /// A small table (fits in L2) of the tokens of at most 8 bytes with the lowest ids: for
    /// tiktoken vocabularies the earliest merges, i.e. the most frequent tokens. Looked up
    /// first, so the common case never touches the big table.
    hot: Table,
    /// Rejects most byte strings that are not tokens without a table probe.
    filter: Filter,
}

impl Vocab {
    /// Build the lookup tables over packed tokens (`data[offsets[i]..offsets[i + 1]]` is id `i`,
    /// empty for absent ids). `offsets` is non-empty, starts at 0, never decreases and ends at
    /// `data.len()`.
    ///
    /// # Errors
    /// A token that appears twice.
    pub(crate) fn from_packed(data: Vec<u8>, offsets: Vec<u32>) -> Result<Self, VocabError> {
        let n = offsets.len() - 1;
        let mut table = Table::with_slots((n * 2).next_power_of_two().max(16));
        let mut hot = Table::with_slots(HOT_SLOTS);
        let mut filter = Filter::for_tokens(n);
        let token =
            |id: u32| &data[offsets[id as usize] as usize..offsets[id as usize + 1] as usize];
        for id in 0..n as Rank {
            let bytes = token(id);
            if bytes.is_empty() {
                continue;
            }
            let (key, h) = key_and_hash(bytes);
            let slot = Slot {
                key,
                id,
                len: table::slot_len(bytes.len()),
                aux: 0,
            };
            table
                .insert(h, slot, |s| s.key == key && token(s.id) == bytes)
                .map_err(|first| {
                    VocabError::InvalidVocab(format!(
                        "token {:?} appears twice (ids {first} and {id})",
                        String::from_utf8_lossy(bytes),
                    ))
                })?;
            filter.insert(h);
            if (id as usize) < HOT_IDS && bytes.len() <= 8 {
                // Every hot token is in the main table, which has just rejected duplicates.
                let _ = hot.insert(h, slot, |_| false);
            }
        }
        Ok(Self {
            data,
            offsets,
            table,
            hot,
            filter,
        })
    }

    #[inline]
    fn bytes_of(&self, id: Rank) -> &[u8] {
        let i = id as usize;
        &self.data[self.offsets[i] as usize..self.offsets[i + 1] as usize]
    }

    /// The packed token bytes and their offsets (see [`from_packed`](Self::from_packed)).
    pub(crate) fn packed(&self) -> (&[u8], &[u32]) {
        (&self.data, &self.offsets)
    }

    /// Number of id slots (one past the largest id).
    #[must_use]
    pub(crate) fn n_ids(&self) -> usize {
        self.offsets.len() - 1
    }

    /// The bytes of token `id`, or `None` if the id is not in the vocabulary.
    #[must_use]
    pub(crate) fn token_bytes(&self, id: Rank) -> Option<&[u8]> {
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
    pub(crate) fn token_id(&self, bytes: &[u8]) -> Option<Rank> {
        let (key, h) = key_and_hash(bytes);
        self.find(bytes, key, h)
    }

    /// Prefetch the first slot [`find`](Self::find) reads for a byte string of `len` bytes
    /// with hash `h`.
    #[inline(always)]
    pub(crate) fn prefetch_home(&self, len: usize, h: u64) {
        if len <= 8 {
            prefetch(self.hot_home(h));
        }
        prefetch(self.table_home(h));
    }

    /// [`token_id`](Self::token_id) with the key and hash already computed
    /// ([`key_and_hash`]).
    #[inline]
    pub(crate) fn find(&self, bytes: &[u8], key: u64, h: u64) -> Option<Rank> {
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
    pub(crate) fn hot_find(&self, key: u64, h: u64, len: usize) -> Option<Rank> {
        self.hot_slot(key, h, len).map(|s| s.id)
    }

    #[inline(always)]
    fn hot_slot(&self, key: u64, h: u64, len: usize) -> Option<Slot> {
        self.hot
            .find(h, |slot| slot.key == key && usize::from(slot.len) == len)
    }

    /// Keep `aux[id]` with each token `id` (see [`Slot::aux`]).
    pub(crate) fn set_aux(&mut self, aux: &[u16]) {
        self.table.set_aux(aux);
        self.hot.set_aux(aux);
    }

    /// The first slot `token_id` reads in the hot table for hash `h`.
    #[inline(always)]
    pub(crate) fn hot_home(&self, h: u64) -> &Slot {
        self.hot.home(h)
    }

    /// The first slot `token_id` reads in the main table for hash `h`.
    #[inline(always)]
    pub(crate) fn table_home(&self, h: u64) -> &Slot {
        self.table.home(h)
    }

    /// Whether a token may have hash `h` (`false`: certainly none has).
    #[inline(always)]
    pub(crate) fn maybe_token(&self, h: u64) -> bool {
        self.filter.maybe(h)
    }

    /// The main table's id for `bytes` with packed `key` and hash `h` (callers check
    /// [`maybe_token`](Self::maybe_token) first where misses are common).
    #[inline(always)]
    pub(crate) fn table_find(&self, bytes: &[u8], key: u64, h: u64) -> Option<Rank> {
        self.table_slot(bytes, key, h).map(|s| s.id)
    }

    #[inline(always)]
    fn table_slot(&self, bytes: &[u8], key: u64, h: u64) -> Option<Slot> {
        let len = table::slot_len(bytes.len());
        self.table.find(h, |slot| {
            slot.key == key && slot.len == len && (len <= 8 || self.bytes_of(slot.id) == bytes)
        })
    }

    /// The slots (id and `aux` word) of two byte strings, with id `NONE` and `aux` 0 for absent
    /// ones or `None` inputs, their table reads overlapped: hash both, prefetch both home
    /// slots, then probe.
    #[inline(always)]
    pub(crate) fn slots2(&self, a: Option<&[u8]>, b: Option<&[u8]>) -> (Slot, Slot) {
        let ka = a.map(key_and_hash);
        let kb = b.map(key_and_hash);
        for (x, k) in [(a, ka), (b, kb)] {
            if let (Some(x), Some((_, h))) = (x, k) {
                prefetch(self.filter.word(h));
                if x.len() <= 8 {
                    prefetch(self.hot_home(h));
                }
            }
        }
        const ABSENT: Slot = Slot {
            key: 0,
            id: NONE,
            len: 0,
            aux: 0,
        };
        let find = |x: Option<&[u8]>, k: Option<(u64, u64)>| match (x, k) {
            (Some(x), Some((key, h))) if self.maybe_token(h) => {
                let hot = if x.len() <= 8 {
                    self.hot_slot(key, h, x.len())
                } else {
                    None
                };
                hot.or_else(|| self.table_slot(x, key, h)).unwrap_or(ABSENT)
            }
            _ => ABSENT,
        };
        (find(a, ka), find(b, kb))
    }
}
