//! Unigram segmentation: the Viterbi best path, with the arithmetic of each reference.
//!
//! # Design notes
//! At each character start, every piece that matches there extends the best path ending at the
//! start (a trie walk, stopping at the first prefix that no piece has); where no one-character
//! piece matches, an unknown node of one character scores `min_score - 10`. The best path into
//! each position keeps the first candidate among equals (strict `>`, candidates arriving in order
//! of start). O(n * L) trie steps for n characters and pieces of at most L characters.
//!
//! Arithmetic, exactly as each reference does it:
//! - sentencepiece ([`Arith::Float`], as in its 0.2.3 release) keeps every path score as a
//!   `float`: a candidate is `score + best` added in `float` and compared with the stored
//!   `float`. Before extending the paths from a position whose best score is beyond ±1e5, it
//!   subtracts that score from every reached position from there on (so the position's own
//!   score becomes 0). Near-ties deep into a long input fall by this rounding;
//! - Hugging Face ([`Arith::Double`]) does the same in `f64`, without the reset.
//!
//! Pieces and the carried score: the text is cut where no piece can span (see `spm`), so the best
//! path into a cut is fixed before anything after it is read. Each piece's lattice starts from
//! the score at its cut (the [`Carry`]), which is the reference's own value there, so per-piece
//! results are the whole-text results bit for bit. (Hugging Face's `Metaspace` with `split`
//! starts every word at 0; then the carry is reset at each piece.)
//!
//! Reusing a piece's result at another carried score: the segmentation depends on the carry only
//! through rounding. While computing a piece, [`Unigram::encode`] records the smallest gap `g`
//! between two candidates it compared and `d`, the most nodes on a best path into any position.
//! Every stored value is within `(d + 1) u / 2` of its exact value (one rounding per node and
//! one for the candidate, `u` the unit of the stored type at the magnitudes involved, at most
//! `(|carry| + n * smax + 1) * eps` for `n` characters), so a comparison's outcome is the exact
//! one whenever the exact gap exceeds `(d + 2) u` (the paths, and so `d`, are then the same at
//! every carry). The gap measured at carry `F` is within `(d + 1) u_F` of exact; the result is
//! therefore reused at a carry `F'` only while `g - (d + 1) u_F > 2 (d + 2) u_F'` (twice the
//! bound, for the `f64` sums themselves), solved
//! once for the largest `|F'|` ([`Margin`]). A reused result then advances the carry by replaying
//! its pieces' scores with the reference's rounding, which is only done where no reset can fall
//! inside the piece (`|F'| + n * smax` below the threshold). Results with unknown nodes are not
//! reused.
//!
//! Unknown runs: consecutive unknown nodes become one unknown token (then byte tokens with
//! `byte_fallback`), as both references do.

use std::cell::RefCell;

use rustc_hash::FxHashMap;

use super::proto::{Piece, PieceType};
use super::{char_len, SpModel, NONE};
use crate::{Rank, VocabError};

/// The type path scores are added and stored in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arith {
    /// sentencepiece: `float`, with the reset past [`RESET`].
    Float,
    /// Hugging Face: `f64` throughout.
    Double,
}

/// sentencepiece's threshold for resetting path scores (`kScoreResetThreshold`).
const RESET: f32 = 100_000.0;

/// A path score type: `f32` (sentencepiece) or `f64` (Hugging Face).
trait Score: Copy + PartialOrd + std::ops::Add<Output = Self> + std::ops::Sub<Output = Self> {
    const ZERO: Self;
    /// Run `f` with this thread's lattice buffer for this score type (reused across pieces).
    fn with_cells<R>(f: impl FnOnce(&mut Vec<Cell<Self>>) -> R) -> R;
    /// Whether sentencepiece's reset applies to this score.
    fn past_reset(self) -> bool;
    fn widen(self) -> f64;
    fn narrow(x: f64) -> Self;
}

thread_local! {
    static CELLS32: RefCell<Vec<Cell<f32>>> = const { RefCell::new(Vec::new()) };
    static CELLS64: RefCell<Vec<Cell<f64>>> = const { RefCell::new(Vec::new()) };
}

impl Score for f32 {
    const ZERO: Self = 0.0;
    fn with_cells<R>(f: impl FnOnce(&mut Vec<Cell<Self>>) -> R) -> R {
        CELLS32.with(|c| f(&mut c.borrow_mut()))
    }
    #[inline]
    fn past_reset(self) -> bool {
        self.abs() > RESET
    }
    #[inline]
    fn widen(self) -> f64 {
        f64::from(self)
    }
    #[inline]
    fn narrow(x: f64) -> Self {
        x as f32
    }
}

impl Score for f64 {
    const ZERO: Self = 0.0;
    fn with_cells<R>(f: impl FnOnce(&mut Vec<Cell<Self>>) -> R) -> R {
        CELLS64.with(|c| f(&mut c.borrow_mut()))
    }
    #[inline]
    fn past_reset(self) -> bool {
        false
    }
    #[inline]
    fn widen(self) -> f64 {
        self
    }
    #[inline]
    fn narrow(x: f64) -> Self {
        x
    }
}

/// The best path score at the cut before the next piece (the reference's stored value, widened
/// to `f64`). A text starts at 0.
pub type Carry = f64;

/// The largest `|carry|` at which a piece's result may be reused (see the module notes);
/// `f64::INFINITY` when the piece had no choice to make, negative when never.
pub type Margin = f64;

/// A unigram vocabulary as a prefix map.
pub struct Unigram {
    trie: Trie,
    /// The lattice score of each id, in the reference's type (user-defined pieces:
    /// sentencepiece's score for them).
    scores: Scores,
    /// The largest `|score|` of any node, unknown nodes included.
    smax: f64,
    unk: Rank,
    /// Each piece continues the path score of the previous one (sentencepiece, and Hugging
    /// Face without a split); `false`: each piece starts at 0.
    carry: bool,
    /// Hugging Face: tokens are mapped back to ids by their string.
    hf: bool,
}

/// Scores per id and the unknown node's score, in the reference's type.
enum Scores {
    Float(Vec<f32>, f32),
    Double(Vec<f64>, f64),
}

/// A byte trie. Built with a hash map of edges, then frozen: node 0 (the root) has an array of
/// 256 children; every other node's children are a run of `labels` / `kids` sorted by byte
/// (`start[n]..start[n + 1]`), searched linearly (most nodes have a few children) or by
/// bisection. Each child is (its node, the id of the piece ending there or `NONE`).
#[derive(Default)]
struct Trie {
    root: Vec<(u32, Rank)>,
    start: Vec<u32>,
    labels: Vec<u8>,
    kids: Vec<(u32, Rank)>,
    /// Edges while building: `(node << 8 | byte) -> child`.
    edges: FxHashMap<u64, (u32, Rank)>,
    nodes: u32,
}

impl Trie {
    fn new() -> Self {
        Self {
            root: vec![(NONE, NONE); 256],
            nodes: 1,
            ..Self::default()
        }
    }

    /// Insert `piece` with `id` (a repeated piece ends with its last id).
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
            if last {
                slot.1 = id;
            }
            node = slot.0;
        }
    }

    /// Lay the edges out as sorted child runs (after the last `insert`).
    fn freeze(mut self) -> Self {
        let mut edges: Vec<(u64, (u32, Rank))> = self.edges.drain().collect();
        edges.sort_unstable_by_key(|e| e.0);
        self.start = vec![0; self.nodes as usize + 1];
        for &(key, _) in &edges {
            self.start[(key >> 8) as usize + 1] += 1;
        }
        for n in 1..self.start.len() {
            self.start[n] += self.start[n - 1];
        }
        self.labels = edges.iter().map(|e| e.0 as u8).collect();
        self.kids = edges.iter().map(|e| e.1).collect();
        self.edges = FxHashMap::default();
        self
    }

    /// The (child, id) of `node` by byte `b`.
    #[inline]
    fn step(&self, node: u32, b: u8) -> Option<(u32, Rank)> {
        if node == 0 {
            let e = self.root[usize::from(b)];
            return (e.0 != NONE).then_some(e);
        }
        let lo = *self.start.get(node as usize)? as usize;
        let hi = *self.start.get(node as usize + 1)? as usize;
        let labels = &self.labels[lo..hi];
        let k = if labels.len() <= 8 {
            labels.iter().position(|&l| l == b)?
        } else {
            labels.binary_search(&b).ok()?
        };
        Some(self.kids[lo + k])
    }
}

/// Per position: (best path score, start, id, nodes on that path); start `NONE` = not reached.
type Cell<T> = (T, u32, Rank, u32);

impl Unigram {
    /// From a SentencePiece model: normal and user-defined pieces are matched; the unknown
    /// score is the lowest normal score minus 10; a user-defined piece of `len` bytes scores
    /// `0.1 * (len - 1)` (sentencepiece 0.2.3's score for them, which always wins).
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
        let scores: Vec<f32> = pieces
            .iter()
            .map(|p| {
                if p.kind == PieceType::UserDefined {
                    (0.1 * (p.piece.len() as f64 - 1.0)) as f32
                } else {
                    p.score
                }
            })
            .collect();
        let smax = scores
            .iter()
            .map(|s| f64::from(s.abs()))
            .fold(0.0, f64::max);
        let unk_score = min - 10.0;
        Ok(Self {
            trie: trie.freeze(),
            smax: smax.max(f64::from(unk_score.abs())),
            scores: Scores::Float(scores, unk_score),
            unk,
            carry: true,
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
        let scores: Vec<f64> = vocab.iter().map(|(_, s)| *s).collect();
        let unk_score = min - 10.0;
        let smax = scores
            .iter()
            .map(|s| s.abs())
            .fold(unk_score.abs(), f64::max);
        Ok(Self {
            trie: trie.freeze(),
            smax,
            scores: Scores::Double(scores, unk_score),
            unk,
            carry: true,
            hf: true,
        })
    }

    /// Whether each piece continues the previous piece's path score (the default) or starts at
    /// 0 (Hugging Face with `Metaspace` `split`, which runs one lattice per word).
    pub fn set_carry(&mut self, on: bool) {
        self.carry = on;
    }

    /// The carry a piece starts from.
    #[inline]
    fn start(&self, carry: Carry) -> f64 {
        if self.carry {
            carry
        } else {
            0.0
        }
    }

    /// Whether a result with `margin` may be reused at `carry` with a replay: within the
    /// margin, and no reset can fall inside a piece of `chars` characters.
    #[inline]
    pub(super) fn reusable(&self, margin: Margin, carry: Carry, chars: usize) -> bool {
        let f = self.start(carry).abs();
        f < margin
            && match self.scores {
                Scores::Float(..) => f + chars as f64 * self.smax + 1.0 < f64::from(RESET),
                Scores::Double(..) => true,
            }
    }

    /// Advance `carry` over a reused result's ids (no unknown nodes among them, no reset).
    #[inline]
    pub(super) fn replay(&self, ids: &[Rank], carry: &mut Carry) {
        let from = self.start(*carry);
        *carry = match &self.scores {
            Scores::Float(v, _) => replay(v, ids, from),
            Scores::Double(v, _) => replay(v, ids, from),
        };
    }

    /// Advance `carry` over a piece cut out of the lattice as one node (a user-defined symbol).
    pub(super) fn pass_node(&self, id: Rank, carry: &mut Carry) {
        // The reset sentencepiece applies before extending from a far position.
        if let Scores::Float(..) = self.scores {
            if (*carry as f32).past_reset() {
                *carry = 0.0;
            }
        }
        self.replay(&[id], carry);
    }

    /// Segment `s` from the path score `carry`, append the ids (unknown characters through
    /// `model`'s rules), advance `carry`, and return the margin for reusing the result.
    pub(super) fn encode(
        &self,
        model: &SpModel,
        s: &[u8],
        carry: &mut Carry,
        out: &mut Vec<Rank>,
    ) -> Margin {
        if s.is_empty() {
            return f64::INFINITY;
        }
        let from = self.start(*carry);
        let (gap, chars, depth, unknown) = match &self.scores {
            Scores::Float(v, unk) => self.lattice(model, s, v, *unk, from, carry, out),
            Scores::Double(v, unk) => self.lattice(model, s, v, *unk, from, carry, out),
        };
        if unknown {
            return -1.0;
        }
        if gap == f64::INFINITY {
            return f64::INFINITY;
        }
        // See the module notes: u(F) = (|F| + n smax + 1) eps.
        let eps = match self.scores {
            Scores::Float(..) => f64::from(f32::EPSILON),
            Scores::Double(..) => f64::EPSILON,
        };
        let d = f64::from(depth);
        let base = chars as f64 * self.smax + 1.0;
        let slack = gap - (d + 1.0) * (from.abs() + base) * eps;
        slack / (2.0 * (d + 2.0) * eps) - base
    }

    /// The lattice of `s` in the score type `T`, from `from`: appends the ids, sets `carry` to
    /// the end's score; returns (smallest gap between compared candidates, characters, the most
    /// nodes on a best path into any position, whether the best path has unknown nodes).
    #[allow(clippy::too_many_arguments)]
    fn lattice<T: Score>(
        &self,
        model: &SpModel,
        s: &[u8],
        scores: &[T],
        unk_score: T,
        from: f64,
        carry: &mut Carry,
        out: &mut Vec<Rank>,
    ) -> (f64, usize, u32, bool) {
        T::with_cells(|best| self.lattice_in(model, s, scores, unk_score, from, carry, out, best))
    }

    /// [`lattice`](Self::lattice) in the buffer `best`.
    #[allow(clippy::too_many_arguments)]
    fn lattice_in<T: Score>(
        &self,
        model: &SpModel,
        s: &[u8],
        scores: &[T],
        unk_score: T,
        from: f64,
        carry: &mut Carry,
        out: &mut Vec<Rank>,
        best: &mut Vec<Cell<T>>,
    ) -> (f64, usize, u32, bool) {
        let n = s.len();
        best.clear();
        best.resize(n + 1, (T::ZERO, NONE, NONE, 0));
        best[0] = (T::narrow(from), 0, NONE, 0);
        let mut gap = f64::INFINITY;
        let mut deepest = 0;
        let mut offer = |t: &mut Cell<T>, cand: T, start: usize, id: Rank, depth: u32| {
            if t.1 == NONE {
                *t = (cand, start as u32, id, depth);
            } else {
                gap = gap.min((cand.widen() - t.0.widen()).abs());
                if cand > t.0 {
                    *t = (cand, start as u32, id, depth);
                }
            }
            deepest = deepest.max(t.3);
        };
        // The furthest position any node has reached (sentencepiece's `max_frontier`).
        let mut frontier = 0;
        let mut chars = 0;
        let mut start = 0;
        while start < n {
            let mut till = best[start].0;
            let depth = best[start].3 + 1;
            if till.past_reset() {
                for t in &mut best[start..=frontier.max(start)] {
                    if t.1 != NONE {
                        t.0 = t.0 - till;
                    }
                }
                best[start].0 = T::ZERO;
                till = T::ZERO;
            }
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
                    frontier = frontier.max(end);
                    offer(&mut best[end], scores[id as usize] + till, start, id, depth);
                    has_single |= end - start == mblen;
                }
            }
            if !has_single {
                frontier = frontier.max(start + mblen);
                offer(
                    &mut best[start + mblen],
                    unk_score + till,
                    start,
                    self.unk,
                    depth,
                );
            }
            start += mblen;
            chars += 1;
        }
        *carry = best[n].0.widen();
        // The best path as (start, end, id), walked back from the end.
        let mut path: Vec<(u32, u32, Rank)> = Vec::with_capacity(n / 2 + 1);
        let mut end = n;
        while end > 0 {
            let (_, st, id, _) = best[end];
            path.push((st, end as u32, id));
            end = st as usize;
        }
        path.reverse();
        let unknown = self.emit(model, s, &path, out);
        (gap, chars, deepest, unknown)
    }

    /// Append the ids of the best path `(start, end, id)` of `s`; whether it has unknown nodes.
    fn emit(
        &self,
        model: &SpModel,
        s: &[u8],
        path: &[(u32, u32, Rank)],
        out: &mut Vec<Rank>,
    ) -> bool {
        let mut prev_unk = false;
        let mut unknown = false;
        let mut i = 0;
        while i < path.len() {
            let (st, mut en, id) = path[i];
            i += 1;
            if id == self.unk {
                unknown = true;
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
        unknown
    }
}

/// The path score after adding the scores of `ids` to `from`, as the lattice adds them.
fn replay<T: Score>(scores: &[T], ids: &[Rank], from: f64) -> f64 {
    let mut f = T::narrow(from);
    for &id in ids {
        f = scores.get(id as usize).copied().unwrap_or(T::ZERO) + f;
    }
    f.widen()
}
