//! Building a [`BpeModel`] from a rank list (tiktoken) or a vocabulary and merge list (Hugging
//! Face), and the per-model tables derived from the vocabulary.

use std::sync::OnceLock;

use rustc_hash::FxHashMap;

use super::{BpeModel, Rank, NONE};
use crate::cache;
use crate::vocab::Vocab;
use crate::VocabError;

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
