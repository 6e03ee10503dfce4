//! Open-addressing hash table from token bytes to ids: linear probing, load factor at most 1/2,
//! a power-of-two number of 16-byte slots indexed by the high bits of a multiplicative hash of
//! the bytes read as little-endian words.
//!
//! A slot keeps the token's first 8 bytes packed into a word (`key`) and its length, so tokens of
//! up to 8 bytes are compared without touching the token bytes (one cache line per probe);
//! longer ones are confirmed by the caller against the stored bytes.

use super::Rank;
use crate::word::pack8;

/// Id of a free slot.
pub(super) const EMPTY: u32 = u32::MAX;

/// One slot of a table. Tokens of up to 8 bytes are compared through `key` (the bytes packed
/// little-endian), so a lookup touches one cache line; longer ones fall back to comparing the
/// token bytes.
#[derive(Debug, Clone, Copy)]
#[repr(C)]
pub(crate) struct Slot {
    pub(super) key: u64,
    pub(crate) id: u32,
    /// The token's length, at most `u16::MAX` (longer tokens are always compared byte by byte).
    pub(super) len: u16,
    /// A word the model keeps with the token, read with the same cache line (merge lists: which
    /// splits of the token are listed merges, see `model/listed.rs`); 0 otherwise.
    pub(crate) aux: u16,
}

/// The `len` a slot stores for a token of `len` bytes.
#[inline(always)]
pub(super) fn slot_len(len: usize) -> u16 {
    u16::try_from(len).unwrap_or(u16::MAX)
}

const FREE: Slot = Slot {
    key: 0,
    id: EMPTY,
    len: 0,
    aux: 0,
};

/// `b` packed little-endian into a word (first 8 bytes) and the table hash of `b`.
#[inline(always)]
pub(crate) fn key_and_hash(b: &[u8]) -> (u64, u64) {
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

/// A table of `slots.len()` (a power of two) slots; hash `h` starts probing at `h >> shift`.
#[derive(Debug, Clone)]
pub(super) struct Table {
    slots: Vec<Slot>,
    shift: u32,
}

impl Table {
    /// An empty table of `cap` slots (a power of two).
    pub(super) fn with_slots(cap: usize) -> Self {
        Self {
            slots: vec![FREE; cap],
            shift: 64 - cap.trailing_zeros(),
        }
    }

    /// The first slot a lookup of hash `h` reads.
    #[inline(always)]
    pub(super) fn home(&self, h: u64) -> &Slot {
        &self.slots[(h >> self.shift) as usize]
    }

    /// The id of the first slot on `h`'s probe sequence for which `hit` holds, or `None` at the
    /// first free slot.
    #[inline(always)]
    pub(super) fn find(&self, h: u64, hit: impl Fn(Slot) -> bool) -> Option<Slot> {
        let mask = self.slots.len() - 1;
        let mut i = (h >> self.shift) as usize;
        loop {
            let slot = self.slots[i];
            if slot.id == EMPTY {
                return None;
            }
            if hit(slot) {
                return Some(slot);
            }
            i = (i + 1) & mask;
        }
    }

    /// Set every occupied slot's `aux` word to `aux[id]` (0 past the end), in one pass.
    pub(super) fn set_aux(&mut self, aux: &[u16]) {
        for s in &mut self.slots {
            if s.id != EMPTY {
                s.aux = aux.get(s.id as usize).copied().unwrap_or(0);
            }
        }
    }

    /// Put `slot` in the first free slot on `h`'s probe sequence; if a slot for which `same`
    /// holds comes first, leave the table unchanged and return that slot's id.
    pub(super) fn insert(
        &mut self,
        h: u64,
        slot: Slot,
        same: impl Fn(Slot) -> bool,
    ) -> Result<(), Rank> {
        let mask = self.slots.len() - 1;
        let mut i = (h >> self.shift) as usize;
        loop {
            let s = self.slots[i];
            if s.id == EMPTY {
                break;
            }
            if same(s) {
                return Err(s.id);
            }
            i = (i + 1) & mask;
        }
        self.slots[i] = slot;
        Ok(())
    }
}
