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
//! reused (their ids do not replay the path score), except where every piece starts at 0 (no
//! carry): then every result is reused as it is.
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
    /// The best path of the last lattice, reused across pieces.
    static PATH: RefCell<Vec<(u32, u32, Rank)>> = const { RefCell::new(Vec::new()) };
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

/// A byte trie. Built with a hash map of edges, then frozen into a double array: state `s`
/// reaches its child by byte `b` at slot `base[s] + b`, which is that child exactly when the
/// slot's `check` is `s`; each slot also holds the id of the piece ending there (or `NONE`).
/// One step is one bounds-checked load of a 12-byte slot. The root is state 0.
#[derive(Default)]
struct Trie {
    slots: Vec<Slot>,
    /// Edges while building: `(node << 8 | byte) -> (child, id)`; node 0 is the root.
    edges: FxHashMap<u64, (u32, Rank)>,
    nodes: u32,
}

/// One state of the double array.
#[derive(Clone, Copy)]
struct Slot {
    base: u32,
    /// The parent state, `NONE` for a free slot (and the root).
    check: u32,
    id: Rank,
}

const FREE: Slot = Slot {
    base: 0,
    check: NONE,
    id: NONE,
};

impl Trie {
    fn new() -> Self {
        Self {
            nodes: 1,
            ..Self::default()
        }
    }

    /// Insert `piece` with `id` (a repeated piece ends with its last id).
    fn insert(&mut self, piece: &[u8], id: Rank) {
        let mut node = 0u32;
        for (k, &b) in piece.iter().enumerate() {
            let slot = self
                .edges
                .entry(u64::from(node) << 8 | u64::from(b))
                .or_insert((NONE, NONE));
            if slot.0 == NONE {
                slot.0 = self.nodes;
                self.nodes += 1;
            }
            if k + 1 == piece.len() {
                slot.1 = id;
            }
            node = slot.0;
        }
    }

    /// Lay the edges out as a double array (after the last `insert`). Each node's children are
    /// placed at the first base (scanning up from the lowest free slot) where all of their
    /// slots are free.
    fn freeze(mut self) -> Self {
        let mut edges: Vec<(u64, (u32, Rank))> = self.edges.drain().collect();
        edges.sort_unstable_by_key(|e| e.0);
        // Children of node n: edges[start[n]..start[n + 1]], sorted by byte.
        let mut start = vec![0usize; self.nodes as usize + 1];
        for &(key, _) in &edges {
            start[(key >> 8) as usize + 1] += 1;
        }
        for n in 1..start.len() {
            start[n] += start[n - 1];
        }
        let mut slots = vec![FREE; 2 * edges.len() + 1024];
        // The root occupies slot 0 (its check stays NONE: no state reaches it).
        let mut used = vec![false; slots.len()];
        used[0] = true;
        // Searches start at 256, so `pos - first` is never negative: a node with one child
        // takes the first free slot.
        let mut first_free = 256usize;
        let mut from = [0usize; 16];
        // (node, its state)
        let mut queue: Vec<(u32, u32)> = vec![(0, 0)];
        let mut head = 0;
        while head < queue.len() {
            let (node, state) = queue[head];
            head += 1;
            let kids = &edges[start[node as usize]..start[node as usize + 1]];
            if kids.is_empty() {
                continue;
            }
            let first = (kids[0].0 & 0xFF) as usize;
            while used.get(first_free).copied().unwrap_or(false) {
                first_free += 1;
            }
            // Nodes with several children search from where the last node with as many did
            // (the free slots before it rarely fit them), so each class scans the array once
            // and building stays near-linear; one child fits the first free slot.
            let class = kids.len().min(from.len()) - 1;
            let mut pos = first_free.max(from[class]);
            let base = loop {
                while used.get(pos).copied().unwrap_or(false) {
                    pos += 1;
                }
                let base = pos - first;
                let fits = kids.iter().all(|&(key, _)| {
                    let t = base + (key & 0xFF) as usize;
                    !used.get(t).copied().unwrap_or(false)
                });
                if fits {
                    break base;
                }
                pos += 1;
            };
            if class > 0 {
                from[class] = pos;
            }
            let need = base + 257;
            if slots.len() < need {
                slots.resize(need.max(slots.len() * 3 / 2), FREE);
                used.resize(slots.len(), false);
            }
            slots[state as usize].base = base as u32;
            for &(key, (child, id)) in kids {
                let t = base + (key & 0xFF) as usize;
                used[t] = true;
                slots[t] = Slot {
                    base: 0,
                    check: state,
                    id,
                };
                queue.push((child, t as u32));
            }
        }
        // Room for `base + 255` of every state without a bounds failure on the hot path.
        let last = slots.iter().rposition(|s| s.check != NONE).unwrap_or(0);
        slots.truncate(last + 1);
        slots.resize(last + 1 + 256, FREE);
        slots.shrink_to_fit();
        self.slots = slots;
        self.edges = FxHashMap::default();
        self
    }

    /// The (child, id) of state `node` by byte `b`.
    #[inline]
    fn step(&self, node: u32, b: u8) -> Option<(u32, Rank)> {
        let base = self.slots.get(node as usize)?.base as usize;
        let t = base + usize::from(b);
        let s = self.slots.get(t)?;
        (s.check == node).then_some((t as u32, s.id))
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
        if !self.carry {
            // Every piece starts at 0: the result is the same wherever the piece appears.
            return f64::INFINITY;
        }
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
        let unknown = PATH.with(|p| {
            let mut path = p.borrow_mut();
            path.clear();
            let mut end = n;
            while end > 0 {
                let (_, st, id, _) = best[end];
                path.push((st, end as u32, id));
                end = st as usize;
            }
            path.reverse();
            self.emit(model, s, &path, out)
        });
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
            if self.hf && id == self.unk {
                // A run of unknown nodes is its string's id if the vocabulary has one. (Other
                // nodes' ids are already their string's: the trie and `model` both keep the
                // last id of a repeated piece.)
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashMap;

    /// Bytes from a small alphabet with UTF-8 lead and continuation bytes, so pieces share
    /// prefixes and some nodes have many children.
    fn bytes() -> impl Strategy<Value = Vec<u8>> {
        prop::collection::vec(
            prop::sample::select(vec![
                b'a', b'b', b'c', 0x20, 0xE2, 0x96, 0x81, 0xE4, 0xBF, 0xFF,
            ]),
            1..7,
        )
    }

    proptest! {
        /// Walking the double array finds exactly the inserted pieces (the last id of a
        /// repeated one) along any text, and stops where no piece continues.
        #[test]
        fn double_array_walks_like_a_map(
            pieces in prop::collection::vec(bytes(), 1..300),
            wide in 0usize..3,
            texts in prop::collection::vec(prop::collection::vec(any::<u8>(), 1..9), 1..40),
        ) {
            let mut pieces = pieces;
            // Nodes with up to 256 children (the root, and one below it).
            for k in 0..wide * 128 {
                pieces.push(vec![k as u8]);
                pieces.push(vec![b'a', k as u8]);
            }
            let mut trie = Trie::new();
            let mut want: HashMap<Vec<u8>, Rank> = HashMap::new();
            for (id, p) in pieces.iter().enumerate() {
                trie.insert(p, id as Rank);
                want.insert(p.clone(), id as Rank);
            }
            let trie = trie.freeze();
            let prefixes: std::collections::HashSet<&[u8]> =
                pieces.iter().flat_map(|p| (1..=p.len()).map(move |k| &p[..k])).collect();
            for text in texts.iter().chain(&pieces) {
                let mut node = 0;
                for k in 0..text.len() {
                    match trie.step(node, text[k]) {
                        Some((child, id)) => {
                            prop_assert!(prefixes.contains(&text[..=k]));
                            prop_assert_eq!(id, want.get(&text[..=k]).copied().unwrap_or(NONE));
                            node = child;
                        }
                        None => {
                            prop_assert!(!prefixes.contains(&text[..=k]));
                            break;
                        }
                    }
                }
            }
        }
    }
}
