//! Unigram segmentation: the Viterbi best path, as SentencePiece and Hugging Face compute it.
//!
//! At each character start, every piece that matches there extends the best path ending at the
//! start (a hash lookup per prefix, stopping at the first prefix that no piece has); where no
//! one-character piece matches, an unknown node of one character scores `min_score - 10`. The
//! best path into each position keeps the first candidate among equals (strict `>`, candidates
//! arriving in order of start), path scores summed in `f64` (ties such as `/` + `//` against
//! `//` + `/` then stay ties, and the earlier start wins, as in both references). O(n * L)
//! lookups for n characters and pieces of at most L characters.
//!
//! Unknown runs: consecutive unknown nodes become one unknown token (then byte tokens with
//! `byte_fallback`), as both references do.

use rustc_hash::FxHashMap;

use super::proto::{Piece, PieceType};
use super::{char_len, SpModel, NONE};
use crate::{Rank, VocabError};

/// A unigram vocabulary as a prefix map.
pub struct Unigram {
    /// Each piece and each of its prefixes (at character boundaries) -> the piece's id, or
    /// `NONE` for a prefix that is not itself a piece.
    trie: FxHashMap<Box<[u8]>, Rank>,
    scores: Vec<f64>,
    unk: Rank,
    unk_score: f64,
    /// Hugging Face: consecutive unknown nodes become one token, and tokens are mapped back to
    /// ids by their string.
    hf: bool,
}

fn insert_with_prefixes(trie: &mut FxHashMap<Box<[u8]>, Rank>, piece: &[u8], id: Rank) {
    let mut i = 0;
    while i < piece.len() {
        i += char_len(piece[i]).min(piece.len() - i);
        if i < piece.len() {
            trie.entry(piece[..i].into()).or_insert(NONE);
        }
    }
    let slot = trie.entry(piece.into()).or_insert(NONE);
    if *slot == NONE {
        *slot = id;
    }
}

impl Unigram {
    /// From a SentencePiece model: normal and user-defined pieces are matched; the unknown
    /// score is the lowest normal score minus 10.
    ///
    /// # Errors
    /// No normal piece.
    pub fn from_spm(pieces: &[Piece], unk: Rank) -> Result<Self, VocabError> {
        let mut trie = FxHashMap::default();
        let mut min = f32::MAX;
        for (id, p) in pieces.iter().enumerate() {
            if p.kind == PieceType::Normal {
                min = min.min(p.score);
            }
            if matches!(p.kind, PieceType::Normal | PieceType::UserDefined) && !p.piece.is_empty() {
                insert_with_prefixes(&mut trie, p.piece.as_bytes(), id as Rank);
            }
        }
        if min == f32::MAX {
            return Err(VocabError::InvalidVocab(
                "SentencePiece model: a unigram model without normal pieces".into(),
            ));
        }
        Ok(Self {
            trie,
            scores: pieces.iter().map(|p| f64::from(p.score)).collect(),
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
        let mut trie = FxHashMap::default();
        let mut min = f64::INFINITY;
        for (id, (p, s)) in vocab.iter().enumerate() {
            min = min.min(*s);
            if !p.is_empty() {
                insert_with_prefixes(&mut trie, p.as_bytes(), id as Rank);
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
            let mut end = start;
            while end < n {
                end += char_len(s[end]).min(n - end);
                match self.trie.get(&s[start..end]) {
                    None => break,
                    Some(&NONE) => {}
                    Some(&id) => {
                        let cand = self.scores[id as usize] + till;
                        let t = &mut best[end];
                        if t.1 == NONE || cand > t.0 {
                            *t = (cand, start as u32, id);
                        }
                        has_single |= end - start == mblen;
                    }
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
