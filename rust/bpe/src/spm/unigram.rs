//! Unigram segmentation: the Viterbi best path, as SentencePiece and Hugging Face compute it.
//!
//! At each character start, every piece that matches there extends the best path ending at the
//! start (a hash lookup per prefix, stopping at the first prefix that no piece has); where no
//! one-character piece matches, an unknown node of one character scores `min_score - 10`. The
//! best path into each position keeps the first candidate among equals (strict `>`, candidates
//! arriving in order of start). Path scores are summed in `f64` (Hugging Face's precision;
//! sentencepiece keeps them as `float` over its whole input, which only matters for near-ties
//! deep into a very long text, see `encoding_from_model`).
//! O(n * L) lookups for n characters and pieces of at most L characters.
//!
//! Unknown runs: consecutive unknown nodes become one unknown token (then byte tokens with
//! `byte_fallback`), as both references do.

use rustc_hash::FxHashMap;

use super::proto::{Piece, PieceType};
use super::{char_len, SpModel, NONE};
use crate::{Rank, VocabError};

/// A unigram vocabulary as a prefix map.
pub struct Unigram {
    trie: Trie,
    scores: Vec<f64>,
    unk: Rank,
    unk_score: f64,
    /// Hugging Face: consecutive unknown nodes become one token, and tokens are mapped back to
    /// ids by their string.
    hf: bool,
}

/// A byte trie: the child of node `n` by byte `b` is `edges[n << 8 | b]`, with the id of the
/// piece ending there (`NONE` if none). Node 0 is the root; its 256 children are an array.
#[derive(Default)]
struct Trie {
    root: Vec<(u32, Rank)>,
    edges: FxHashMap<u64, (u32, Rank)>,
    nodes: u32,
}

impl Trie {
    fn new() -> Self {
        Self {
            root: vec![(NONE, NONE); 256],
            edges: FxHashMap::default(),
            nodes: 1,
        }
    }

    /// Insert `piece` with `id` (the first id of a repeated piece stays).
    fn insert(&mut self, piece: &[u8], id: Rank) {
        let mut node = 0u32;
        for (k, &b) in piece.iter().enumerate() {
            let last = k + 1 == piece.len();
            let slot = if node == 0 {
                &mut self.root[usize::from(b)]
            } else {
                self.edges
                    .entry(u64::from(node) << 8 | u64::from(b))
                    .or_insert((NONE, NONE))
            };
            if slot.0 == NONE {
                slot.0 = self.nodes;
                self.nodes += 1;
            }
            if last && slot.1 == NONE {
                slot.1 = id;
            }
            node = slot.0;
        }
    }

    /// The (child, id) of `node` by byte `b`.
    #[inline]
    fn step(&self, node: u32, b: u8) -> Option<(u32, Rank)> {
        if node == 0 {
            let e = self.root[usize::from(b)];
            (e.0 != NONE).then_some(e)
        } else {
            self.edges
                .get(&(u64::from(node) << 8 | u64::from(b)))
                .copied()
        }
    }
}

impl Unigram {
    /// From a SentencePiece model: normal and user-defined pieces are matched; the unknown
    /// score is the lowest normal score minus 10.
    ///
    /// # Errors
    /// No normal piece.
    pub fn from_spm(pieces: &[Piece], unk: Rank) -> Result<Self, VocabError> {
        let mut trie = Trie::new();
        let mut min = f32::MAX;
        for (id, p) in pieces.iter().enumerate() {
            if p.kind == PieceType::Normal {
                min = min.min(p.score);
            }
            if matches!(p.kind, PieceType::Normal | PieceType::UserDefined) && !p.piece.is_empty() {
                trie.insert(p.piece.as_bytes(), id as Rank);
            }
        }
        if min == f32::MAX {
            return Err(VocabError::InvalidVocab(
                "SentencePiece model: a unigram model without normal pieces".into(),
            ));
        }
        let scores = pieces.iter().map(|p| f64::from(p.score)).collect();
        Ok(Self {
            trie,
            scores,
            unk,
            unk_score: f64::from(min - 10.0),
            hf: false,
        })
    }

    /// From a `tokenizer.json` Unigram model: every piece is matched; the unknown score is the
    /// lowest score minus 10.
    ///
    /// # Errors
    /// An empty vocabulary.
    pub fn from_hf(vocab: &[(String, f64)], unk: Rank) -> Result<Self, VocabError> {
        let mut trie = Trie::new();
        let mut min = f64::INFINITY;
        for (id, (p, s)) in vocab.iter().enumerate() {
            min = min.min(*s);
            if !p.is_empty() {
                trie.insert(p.as_bytes(), id as Rank);
            }
        }
        if vocab.is_empty() {
            return Err(VocabError::InvalidVocab("empty unigram vocabulary".into()));
        }
        Ok(Self {
            trie,
            scores: vocab.iter().map(|(_, s)| *s).collect(),
            unk,
            unk_score: min - 10.0,
            hf: true,
        })
    }

    /// Segment `s` and append the ids (unknown characters through `model`'s rules).
    pub(super) fn encode(&self, model: &SpModel, s: &[u8], out: &mut Vec<Rank>) {
        let n = s.len();
        if n == 0 {
            return;
        }
        // (best path score, start, id) per end position; start NONE = not reached.
        let mut best: Vec<(f64, u32, Rank)> = vec![(0.0, NONE, NONE); n + 1];
        let mut start = 0;
        while start < n {
            let till = best[start].0;
            let mblen = char_len(s[start]).min(n - start);
            let mut has_single = false;
            let mut node = 0u32;
            for (k, &b) in s[start..].iter().enumerate() {
                let Some((child, id)) = self.trie.step(node, b) else {
                    break;
                };
                node = child;
                if id != NONE {
                    let end = start + k + 1;
                    let cand = self.scores[id as usize] + till;
                    let t = &mut best[end];
                    if t.1 == NONE || cand > t.0 {
                        *t = (cand, start as u32, id);
                    }
                    has_single |= end - start == mblen;
                }
            }
            if !has_single {
                let cand = self.unk_score + till;
                let t = &mut best[start + mblen];
                if t.1 == NONE || cand > t.0 {
                    *t = (cand, start as u32, self.unk);
                }
            }
            start += mblen;
        }
        let mut path: Vec<(u32, u32, Rank)> = Vec::new();
        let mut end = n;
        while end > 0 {
            let (_, st, id) = best[end];
            path.push((st, end as u32, id));
            end = st as usize;
        }
        path.reverse();
        let mut prev_unk = false;
        let mut i = 0;
        while i < path.len() {
            let (st, mut en, id) = path[i];
            i += 1;
            if id == self.unk {
                // Fuse the run of unknown nodes.
                while i < path.len() && path[i].2 == self.unk {
                    en = path[i].1;
                    i += 1;
                }
            }
            if self.hf {
                let piece = &s[st as usize..en as usize];
                match model.piece_id(piece) {
                    Some(id) => {
                        out.push(id);
                        prev_unk = false;
                    }
                    None => model.emit_unknown(piece, &mut prev_unk, out),
                }
            } else if id == self.unk {
                model.emit_unknown(&s[st as usize..en as usize], &mut prev_unk, out);
            } else {
                out.push(id);
                prev_unk = false;
            }
        }
    }
}
