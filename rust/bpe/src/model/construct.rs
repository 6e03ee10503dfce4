//! Building a [`BpeModel`] from a rank list (tiktoken) or a vocabulary and merge list (Hugging
//! Face), and the per-model tables derived from the vocabulary.

use std::borrow::Cow;
use std::hash::BuildHasher;
use std::sync::OnceLock;

use rustc_hash::FxHashMap;

use super::{listed, BpeModel, Rank, NONE};
use crate::cache;
use crate::vocab::Vocab;
use crate::VocabError;

/// A merge-list model's own tables, borrowed for writing or owned after reading (see
/// [`BpeModel::merge_tables`]).
pub(crate) struct MergeTables<'a> {
    pub data: Cow<'a, [u8]>,
    pub offsets: Cow<'a, [u32]>,
    pub pairs: Vec<[u32; 4]>,
    pub whole_piece_lookup: bool,
    /// Without whole-piece lookup: the self-encoding bits (one per id, see `listed.rs`).
    pub self_encoding: Cow<'a, [u8]>,
}

/// Slack over twice the token count that vocabulary ids may reach.
const MAX_ID_GAP: usize = 1 << 16;

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
            // A repeated pair takes its last position, as in `tokenizers` (which collects the
            // merge list into a map, so later entries overwrite earlier ones).
            pairs.insert((l, r), (index as u32, m));
        }
        model.set_merge_pairs(pairs)?;
        if !ignore_merges {
            model.self_encoding = listed::self_encoding(&model);
        }
        Ok(model)
    }

    /// Install a merge list's pair map and derive from it the two-byte pair tables and the
    /// splits by merged token.
    fn set_merge_pairs(
        &mut self,
        pairs: FxHashMap<(Rank, Rank), (u32, Rank)>,
    ) -> Result<(), VocabError> {
        let mut entries = Vec::with_capacity(pairs.len());
        for (&(l, _), &(index, m)) in &pairs {
            let left = self.token_bytes(l).map_or(0, <[u8]>::len) as u32;
            if index > listed::MAX_INDEX || left == 0 {
                return Err(VocabError::InvalidVocab(format!(
                    "merge {index}: too many merges or an empty part"
                )));
            }
            entries.push((m, left, index));
        }
        self.listed = listed::MergeSplits::new(self.n_ids(), &entries);
        let aux = listed::ordered_aux(self.n_ids(), &entries, |id| {
            self.token_bytes(id).map_or(0, <[u8]>::len)
        });
        self.rank_order = aux.is_some();
        self.vocab.set_aux(aux.as_deref().unwrap_or(&[]));
        self.pairs = pairs;
        // The first merge round of every piece, as array reads (merge index and merged id).
        let mut prio = vec![NONE; 1 << 16];
        let mut merged = vec![NONE; 1 << 16];
        for a in 0..=255u8 {
            for b in 0..=255u8 {
                let (l, r) = (self.byte_ids[usize::from(a)], self.byte_ids[usize::from(b)]);
                if let Some(&(p, m)) = self.pairs.get(&(l, r)) {
                    let k = usize::from(a) << 8 | usize::from(b);
                    prio[k] = p;
                    merged[k] = m;
                }
            }
        }
        self.byte_pairs = prio;
        self.byte_pair_ids = merged;
        Ok(())
    }

    /// A merge-list model's tables as [`from_merge_tables`](Self::from_merge_tables) takes
    /// them: packed token bytes, their offsets, `[left, right, merge index, merged]` per pair
    /// (in merge order), the whole-piece-lookup flag and the self-encoding bits. `None` for rank
    /// vocabularies.
    pub(crate) fn merge_tables(&self) -> Option<MergeTables<'_>> {
        if self.by_rank {
            return None;
        }
        let (data, offsets) = self.vocab.packed();
        let mut pairs: Vec<[u32; 4]> = self
            .pairs
            .iter()
            .map(|(&(l, r), &(index, m))| [l, r, index, m])
            .collect();
        // In the order of the map's buckets, so that rebuilding the map writes its memory
        // front to back instead of at random (a hash table over MiBs: each random write a cache
        // miss). Any order gives the same map; this one is only faster to insert.
        let buckets = (pairs.len().max(8) * 8 / 7).next_power_of_two();
        let hasher = rustc_hash::FxBuildHasher;
        pairs.sort_unstable_by_key(|p| {
            let h = hasher.hash_one((p[0], p[1])) as usize;
            (h & (buckets - 1), p[2])
        });
        Some(MergeTables {
            data: data.into(),
            offsets: offsets.into(),
            pairs,
            whole_piece_lookup: self.whole_piece_lookup,
            self_encoding: Cow::Borrowed(&self.self_encoding),
        })
    }

    /// Rebuild a merge-list model from [`merge_tables`](Self::merge_tables), checking them as
    /// untrusted input: offsets within the data, every pair's ids tokens whose bytes join.
    ///
    /// # Errors
    /// Tables that break any of those rules, or a duplicate token.
    pub(crate) fn from_merge_tables(t: MergeTables<'_>) -> Result<Self, VocabError> {
        let bad = |what: &str| VocabError::InvalidVocab(format!("table cache: {what}"));
        let ok = t.offsets.first() == Some(&0)
            && t.offsets.windows(2).all(|w| w[0] <= w[1])
            && t.offsets
                .last()
                .is_some_and(|&e| e as usize == t.data.len());
        if !ok {
            return Err(bad("offsets out of order or beyond the data"));
        }
        let mut model = Self::from_packed(t.data.into_owned(), t.offsets.into_owned())?;
        model.whole_piece_lookup = t.whole_piece_lookup;
        let mut pairs = FxHashMap::default();
        pairs.reserve(t.pairs.len());
        for &[l, r, index, m] in &t.pairs {
            let joins = match (
                model.token_bytes(l),
                model.token_bytes(r),
                model.token_bytes(m),
            ) {
                (Some(a), Some(b), Some(c)) => {
                    c.len() == a.len() + b.len() && c.starts_with(a) && c.ends_with(b)
                }
                _ => false,
            };
            if !joins || index == NONE {
                return Err(bad("a merge whose parts do not join into its result"));
            }
            pairs.insert((l, r), (index, m));
        }
        model.set_merge_pairs(pairs)?;
        if !t.whole_piece_lookup {
            // Stored bits, one per id (their meaning cannot be checked short of rebuilding them,
            // which is what the cache saves: like the merge indices, they are the writer's).
            if t.self_encoding.len() != model.n_ids().div_ceil(8) {
                return Err(bad("self-encoding bits of the wrong length"));
            }
            model.self_encoding = t.self_encoding.into_owned();
        }
        Ok(model)
    }

    fn from_vocab(entries: Vec<(Vec<u8>, Rank)>) -> Result<Self, VocabError> {
        let max_id = entries.iter().map(|(_, id)| *id).max().unwrap_or(0) as usize;
        // Tables are indexed by id, so their size comes from the largest id: bound it by the
        // number of tokens (a file's content must not choose an allocation size). Real
        // vocabularies are dense, with a few gaps where added tokens sit.
        let limit = entries.len().saturating_mul(2).saturating_add(MAX_ID_GAP);
        if max_id >= limit || max_id >= (u32::MAX - 1) as usize {
            return Err(VocabError::InvalidVocab(format!(
                "id {max_id} is far beyond the {} tokens of the vocabulary (ids must be below \
                 2 x tokens + {MAX_ID_GAP})",
                entries.len()
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

    /// tiktoken semantics: priority = rank of the concatenation, whole pieces map to their token.
    fn set_rank_semantics(&mut self) {
        self.whole_piece_lookup = true;
        self.by_rank = true;
        let mut pairs = vec![NONE; 1 << 16];
        for id in 0..self.n_ids() as Rank {
            if let Some(&[a, b]) = self.token_bytes(id) {
                pairs[usize::from(a) << 8 | usize::from(b)] = id;
            }
        }
        self.byte_pairs = pairs;
    }

    /// Build the vocabulary's tables over packed tokens (`data[offsets[i]..offsets[i + 1]]` is
    /// id `i`, empty for absent ids) and the byte ids.
    fn from_packed(data: Vec<u8>, offsets: Vec<u32>) -> Result<Self, VocabError> {
        let mut model = Self {
            vocab: Vocab::from_packed(data, offsets)?,
            byte_ids: [0; 256],
            byte_pairs: Vec::new(),
            byte_pair_ids: Vec::new(),
            pairs: FxHashMap::default(),
            listed: listed::MergeSplits::default(),
            by_rank: false,
            rank_order: false,
            whole_piece_lookup: false,
            self_encoding: Vec::new(),
            missing_bytes: false,
            uid: cache::new_uid(),
            backtrack: OnceLock::new(),
            splits: None,
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

    /// Rank vocabularies (tiktoken) need a token for every byte.
    fn require_all_bytes(&self) -> Result<(), VocabError> {
        match (0..=255u8).find(|&b| self.byte_ids[usize::from(b)] == NONE) {
            Some(b) if self.missing_bytes => Err(VocabError::InvalidVocab(format!(
                "no single-byte token for byte 0x{b:02x}"
            ))),
            _ => Ok(()),
        }
    }
}

/// Bytes that never occur in well-formed UTF-8 (RFC 3629): 0xC0, 0xC1, 0xF5-0xFF.
pub(super) fn never_in_utf8(b: u8) -> bool {
    matches!(b, 0xC0 | 0xC1 | 0xF5..=0xFF)
}
