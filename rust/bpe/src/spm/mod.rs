//! SentencePiece-style models: BPE over characters with scores or a merge list, and Unigram;
//! loaded from SentencePiece `.model` files ([`proto`]) and from Hugging Face `tokenizer.json`
//! files in their Metaspace form (`crate::hf`).
//!
//! # Design notes
//! These models do not start from bytes: the symbols are the characters of the normalized text,
//! in which spaces are written `▁` (U+2581). The pipeline in tokenmill's terms:
//! - normalizer ([`SpNormalizer`]): the model's text rules (identity, a precompiled character
//!   map read prefix by prefix as sentencepiece does ([`charsmap`]), or Hugging Face steps),
//!   then spaces to `▁` and the dummy prefix `▁` at the start of the text (SentencePiece's
//!   `add_dummy_prefix`, Hugging Face's `Metaspace` `prepend_scheme`);
//! - pre-tokenizer ([`SpSplit`]): user-defined symbols are cut out (leftmost-longest, as
//!   SentencePiece's prefix matcher scans), and the rest is cut where no token can span the cut:
//!   before a run of `▁` that follows another character when no piece holds a `▁` after another
//!   character (checked on the vocabulary at load; otherwise the text stays whole), or before
//!   every `▁` (Hugging Face `Metaspace` with `split: true`). A cut where no token spans cannot
//!   change the result: merges and lattice paths are local, and their order within one side
//!   does not depend on the other side;
//! - model ([`SpModel`]): per piece, BPE or Viterbi, then unknown characters to byte tokens
//!   (`byte_fallback`) or the unknown token.
//!
//! BPE ([`Algo::ScoreBpe`], SentencePiece): adjacent symbols merge when their concatenation is a
//! normal or user-defined piece; the highest score goes first, the leftmost on ties (the order
//! of SentencePiece's agenda). [`Algo::MergeBpe`] (Hugging Face) takes the priority of a pair of
//! ids from the merge list instead. Both run a binary heap with lazy deletion of stale pairs:
//! O(n log n) in the piece's characters.
//!
//! Unigram ([`unigram`]): the Viterbi best path over the pieces that match at each character,
//! with an unknown node of one character where no one-character piece matches; scores,
//! rounding and tie-breaking follow each reference exactly (sentencepiece stores path scores as
//! `float` over its whole input, Hugging Face as `f64`): each piece's lattice starts from the
//! score the previous piece ended with ([`unigram::Carry`]), so cutting changes nothing.
//!
//! Results of long-enough pieces are memoised in a per-thread cache ([`cache`]), so repeated
//! words cost one hash lookup.
//!
//! Decoding: each id has the bytes it adds to the text (`▁` back to a space, a byte token its
//! byte); the leading space that the dummy prefix added is dropped from the first token, as the
//! references' decoders do.

pub mod charsmap;
pub mod proto;
pub mod unigram;

use std::borrow::Cow;
use std::cell::RefCell;
use std::cmp::Reverse;
use std::collections::BinaryHeap;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use rustc_hash::FxHashMap;

use crate::cache::PieceCache;
use crate::pretok::{Normalizer, PreTokenizer};
use crate::{Encoding, Rank, VocabError};
use charsmap::CharsMap;
use proto::{ModelProto, ModelType, PieceType};
use unigram::{Carry, Margin, Unigram};

/// The space marker of SentencePiece vocabularies.
pub const SPACE: char = '\u{2581}';
const SPACE_STR: &str = "\u{2581}";
const NONE: Rank = Rank::MAX;

/// A model that maps a pre-tokenized piece to token ids; what `Encoding` needs of a vocabulary
/// that is not byte-level BPE.
pub(crate) trait PieceModel: Send + Sync {
    /// Append the ids of each piece (bytes of valid UTF-8) of a batch to `out`, in order.
    /// `carry` is what the model passes from one piece to the next within one text segment
    /// (the Unigram path score; 0 at the start of a segment).
    fn encode_pieces(
        &self,
        pieces: &[&[u8]],
        out: &mut Vec<Rank>,
        cache: Option<&mut PieceCache>,
        carry: &mut Carry,
    );
    /// The number of ids `encode_pieces` appends.
    fn count_pieces(
        &self,
        pieces: &[&[u8]],
        cache: Option<&mut PieceCache>,
        carry: &mut Carry,
    ) -> usize;
    /// Whether `encode_pieces` / `count_pieces` use the per-thread piece cache they are given
    /// (when not, the caller does not set it up).
    fn uses_piece_cache(&self) -> bool {
        true
    }
    /// The bytes `id` adds to decoded text, or `None` if the model has no such token.
    fn token_bytes(&self, id: Rank) -> Option<&[u8]>;
    /// One past the largest id.
    fn n_ids(&self) -> usize;
    /// The token's string as its vocabulary writes it (`▁hello`, `<0x0A>`), when the model has
    /// such strings (SentencePiece-style models; not byte-level ones).
    fn piece(&self, _id: Rank) -> Option<&str> {
        None
    }
    /// The id of a vocabulary string (see [`piece`](Self::piece)).
    fn piece_id(&self, _piece: &str) -> Option<Rank> {
        None
    }
    /// The id whose [`token_bytes`](Self::token_bytes) are `bytes` (the lowest such id).
    fn token_id(&self, bytes: &[u8]) -> Option<Rank> {
        (0..self.n_ids() as Rank).find(|&id| self.token_bytes(id) == Some(bytes))
    }
    /// Whether decoding drops the leading space of token `id` (the dummy prefix's), the
    /// `index`-th id of the sequence, when `nothing_yet` has been decoded before it and
    /// `stripped` says whether an earlier token lost its space.
    fn strips_leading_space(
        &self,
        id: Rank,
        index: usize,
        nothing_yet: bool,
        stripped: bool,
    ) -> bool;
}

/// How a piece is segmented.
pub enum Algo {
    /// SentencePiece BPE: concatenation bytes -> (priority, id); lower priority merges first
    /// (turned into a table of symbol pairs by [`SpModel::new`]).
    ScoreBpe(Box<ScoreMerges>),
    /// Hugging Face BPE: (left id, right id) -> (merge index, merged id).
    MergeBpe(FxHashMap<(Rank, Rank), (u32, Rank)>),
    /// Viterbi over a unigram model.
    Unigram(Unigram),
}

/// Which leading space decoding drops (the dummy prefix's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strip {
    Never,
    /// The first token's leading `▁` (the `Metaspace` decoder); a byte token's space stays.
    MarkedFirstToken,
    /// SentencePiece: the leading `▁` of tokens while the decoded text is still empty; with
    /// `once` (no `remove_extra_whitespaces`) only the first such `▁`. A byte token's space
    /// stays.
    WhileEmpty {
        once: bool,
    },
    /// A leading space of the decoded text (`Strip` decoder after `Fuse`).
    LeadingSpace,
}

/// Unknown characters: byte tokens, the unknown token, or (Hugging Face BPE without
/// `unk_token`) nothing.
#[derive(Debug, Clone)]
pub struct Unknown {
    /// Ids of the 256 byte tokens (`<0x00>`..`<0xFF>`), when `byte_fallback` is on.
    pub bytes: Option<Box<[Rank; 256]>>,
    pub unk: Option<Rank>,
    /// Consecutive unknown characters become one unknown token.
    pub fuse: bool,
}

/// A SentencePiece-style vocabulary with its segmentation algorithm.
pub struct SpModel {
    /// Piece bytes as matched in normalized text -> id (the last id of a repeated piece).
    ids: FxHashMap<Box<[u8]>, Rank>,
    /// The piece of each id (empty for control and unknown pieces of a `.model`).
    pieces: Vec<Box<str>>,
    /// Pieces that are always one token (user-defined symbols, cut out by [`SpSplit`]).
    frozen: FxHashMap<Box<[u8]>, Rank>,
    algo: Algo,
    unknown: Unknown,
    /// Decoded bytes per id, concatenated; `None` ids have `surface_off[i] == u32::MAX`.
    surface: Vec<u8>,
    surface_off: Vec<(u32, u32)>,
    /// Byte tokens (never lose a leading space to [`Strip::MarkedFirstToken`]).
    byte_token: Vec<bool>,
    strip: Strip,
    /// A piece that is itself a token is that token (Hugging Face `ignore_merges`).
    whole_piece_lookup: bool,
    /// Tags this model's entries in the per-thread memo.
    uid: u32,
    /// The id of each one-character piece.
    chars: CharIds,
}

/// SentencePiece BPE merges: built by piece string, then ([`SpModel::new`]) compiled into a
/// table of symbol pairs.
///
/// Symbols are named by the id of their string ([`SpModel::piece_id`]): a symbol is a character
/// of the text or the result of a merge, which is a piece. Characters that are not pieces but
/// occur in a merge get ids past the vocabulary, so every pair whose concatenation is a merge
/// piece is in the table, under the ids of its two halves; other characters are `NONE` and
/// never merge (no merge piece holds them).
#[derive(Default)]
pub struct ScoreMerges {
    /// Concatenation bytes -> (priority, id), until compiled.
    by_piece: FxHashMap<Box<[u8]>, (u32, Rank)>,
    /// (left symbol, right symbol) -> (priority, merged symbol).
    pairs: FxHashMap<(Rank, Rank), (u32, Rank)>,
    /// Ids past the vocabulary of characters that are not pieces but occur in merges.
    extra: CharIds,
}

impl ScoreMerges {
    /// Merges from (concatenation bytes, (priority, id)).
    #[must_use]
    pub fn new(by_piece: FxHashMap<Box<[u8]>, (u32, Rank)>) -> Self {
        Self {
            by_piece,
            ..Self::default()
        }
    }

    /// Build the pair table for a vocabulary with `ids` (piece bytes -> id) and `chars`, its
    /// one-character pieces; `n` ids.
    fn compile(&mut self, ids: &FxHashMap<Box<[u8]>, Rank>, chars: &CharIds, n: usize) {
        let by_piece = std::mem::take(&mut self.by_piece);
        let mut next = n as Rank;
        for p in by_piece.keys() {
            let mut i = 0;
            while i < p.len() {
                let k = char_len(p[i]).min(p.len() - i);
                let c = &p[i..i + k];
                if chars.get(c).is_none() && self.extra.get(c).is_none() {
                    self.extra.insert(c, next);
                    next += 1;
                }
                i += k;
            }
        }
        let sym = |x: &[u8]| -> Option<Rank> {
            ids.get(x).copied().or_else(|| {
                (char_len(x[0]) >= x.len())
                    .then(|| self.extra.get(x))
                    .flatten()
            })
        };
        let mut pairs = FxHashMap::default();
        pairs.reserve(by_piece.len() * 4);
        for (p, &(prio, _)) in &by_piece {
            let Some(merged) = ids.get(p).copied() else {
                continue;
            };
            let mut k = char_len(p[0]);
            while k < p.len() {
                if let (Some(a), Some(b)) = (sym(&p[..k]), sym(&p[k..])) {
                    pairs.insert((a, b), (prio, merged));
                }
                k += char_len(p[k]);
            }
        }
        self.pairs = pairs;
    }
}

/// Character (its UTF-8 bytes) -> id: ASCII by table, others hashed.
#[derive(Clone)]
struct CharIds {
    ascii: [Rank; 128],
    other: FxHashMap<u32, Rank>,
}

impl Default for CharIds {
    fn default() -> Self {
        Self {
            ascii: [NONE; 128],
            other: FxHashMap::default(),
        }
    }
}

impl CharIds {
    /// The key of a character of at most 4 bytes.
    #[inline]
    fn key(c: &[u8]) -> u32 {
        c.iter().fold(0u32, |k, &b| k << 8 | u32::from(b))
    }

    #[inline]
    fn get(&self, c: &[u8]) -> Option<Rank> {
        let id = if c.len() == 1 && c[0] < 0x80 {
            self.ascii[usize::from(c[0])]
        } else if c.len() <= 4 {
            *self.other.get(&Self::key(c))?
        } else {
            NONE
        };
        (id != NONE).then_some(id)
    }

    /// Set the id of `c` (one character).
    fn insert(&mut self, c: &[u8], id: Rank) {
        if c.len() == 1 && c[0] < 0x80 {
            self.ascii[usize::from(c[0])] = id;
        } else if c.len() <= 4 {
            self.other.insert(Self::key(c), id);
        }
    }
}

/// One entry of the vocabulary handed to [`SpModel::new`].
pub struct Entry {
    /// The piece as it appears in normalized text (with `▁`).
    pub piece: String,
    /// What the token adds to decoded text (`None`: decodes through the special-token table).
    pub surface: Option<Vec<u8>>,
    pub is_byte: bool,
}

impl SpModel {
    /// Assemble a model. `entries[id]` describes token `id`.
    ///
    /// # Errors
    /// More ids than fit a `u32`.
    pub fn new(
        entries: Vec<Entry>,
        frozen: Vec<(String, Rank)>,
        mut algo: Algo,
        unknown: Unknown,
        strip: Strip,
    ) -> Result<Self, VocabError> {
        if entries.len() >= (u32::MAX - 1) as usize {
            return Err(VocabError::InvalidVocab("too many pieces".into()));
        }
        let mut ids = FxHashMap::default();
        ids.reserve(entries.len());
        let mut surface = Vec::new();
        let mut surface_off = Vec::with_capacity(entries.len());
        let mut byte_token = Vec::with_capacity(entries.len());
        let mut pieces = Vec::with_capacity(entries.len());
        for (id, e) in entries.into_iter().enumerate() {
            pieces.push(e.piece.clone().into_boxed_str());
            // A repeated piece is its last id, as in Hugging Face's vocabulary map (a `.model`
            // with one is refused before this, as sentencepiece refuses it).
            ids.insert(e.piece.into_bytes().into_boxed_slice(), id as Rank);
            match e.surface {
                Some(s) => {
                    let start = surface.len() as u32;
                    surface.extend_from_slice(&s);
                    surface_off.push((start, surface.len() as u32));
                }
                None => surface_off.push((u32::MAX, 0)),
            }
            byte_token.push(e.is_byte);
        }
        let frozen = frozen
            .into_iter()
            .map(|(p, id)| (p.into_bytes().into_boxed_slice(), id))
            .collect();
        let mut chars = CharIds::default();
        for (p, &id) in &ids {
            if !p.is_empty() && char_len(p[0]) == p.len() {
                chars.insert(p, id);
            }
        }
        if let Algo::ScoreBpe(m) = &mut algo {
            m.compile(&ids, &chars, pieces.len());
        }
        Ok(Self {
            ids,
            pieces,
            frozen,
            algo,
            unknown,
            surface,
            surface_off,
            byte_token,
            strip,
            whole_piece_lookup: false,
            uid: crate::cache::new_uid(),
            chars,
        })
    }

    /// A piece that is itself a token encodes to it without merging (`ignore_merges`).
    pub fn set_whole_piece_lookup(&mut self, on: bool) {
        self.whole_piece_lookup = on;
    }

    /// The id of a piece (bytes as in normalized text).
    #[must_use]
    pub fn piece_id(&self, piece: &[u8]) -> Option<Rank> {
        self.ids.get(piece).copied()
    }

    /// Emit the ids of the symbol `s` that is not in the vocabulary.
    fn emit_unknown(&self, s: &[u8], prev_unk: &mut bool, out: &mut Vec<Rank>) {
        if let Some(bytes) = &self.unknown.bytes {
            out.extend(s.iter().map(|&b| bytes[usize::from(b)]));
            *prev_unk = false;
            return;
        }
        if let Some(unk) = self.unknown.unk {
            if !(self.unknown.fuse && *prev_unk) {
                out.push(unk);
            }
            *prev_unk = true;
        }
    }

    /// Append the ids of `piece`; the margin at which a Unigram result may be reused at
    /// another carry (`INFINITY` for the other algorithms, which carry nothing).
    fn segment(&self, piece: &[u8], out: &mut Vec<Rank>, carry: &mut Carry) -> Margin {
        if let Some(&id) = self.frozen.get(piece) {
            out.push(id);
            if let Algo::Unigram(u) = &self.algo {
                u.pass_node(id, carry);
            }
            return f64::INFINITY;
        }
        if self.whole_piece_lookup {
            if let Some(&id) = self.ids.get(piece) {
                out.push(id);
                return f64::INFINITY;
            }
        }
        match &self.algo {
            Algo::ScoreBpe(m) => {
                let mut syms = self.char_symbols(piece, &m.extra);
                merge(&mut syms, |l, r| m.pairs.get(&(l, r)).copied());
                let mut prev_unk = false;
                let n = self.pieces.len() as Rank;
                for s in alive(&syms) {
                    if s.id < n && Some(s.id) != self.unknown.unk {
                        out.push(s.id);
                        prev_unk = false;
                    } else {
                        let bytes = &piece[s.start as usize..s.end as usize];
                        self.emit_unknown(bytes, &mut prev_unk, out);
                    }
                }
            }
            Algo::MergeBpe(pairs) => {
                let mut syms = self.hf_bpe_symbols(piece);
                merge(&mut syms, |l, r| pairs.get(&(l, r)).copied());
                out.extend(alive(&syms).map(|s| s.id));
            }
            Algo::Unigram(u) => return u.encode(self, piece, carry, out),
        }
        f64::INFINITY
    }

    /// SentencePiece BPE's initial symbols: one per character, named by its id (`extra` for
    /// characters that are not pieces; `NONE` for characters no merge holds).
    fn char_symbols(&self, piece: &[u8], extra: &CharIds) -> Vec<Sym> {
        init_chars(piece, |c| {
            self.chars.get(c).or_else(|| extra.get(c)).unwrap_or(NONE)
        })
    }

    /// Hugging Face BPE's initial symbols: known characters, byte tokens of unknown ones
    /// (`byte_fallback`), else the unknown token (fused when `fuse_unk`), else nothing.
    fn hf_bpe_symbols(&self, piece: &[u8]) -> Vec<Sym> {
        let mut syms: Vec<Sym> = Vec::with_capacity(piece.len());
        let mut i = 0;
        let mut prev_unk = false;
        while i < piece.len() {
            let n = char_len(piece[i]).min(piece.len() - i);
            let c = &piece[i..i + n];
            if let Some(id) = self.chars.get(c) {
                push_sym(&mut syms, i, i + n, id);
                prev_unk = false;
            } else if let Some(bytes) = &self.unknown.bytes {
                for k in i..i + n {
                    push_sym(&mut syms, k, k + 1, bytes[usize::from(piece[k])]);
                }
                prev_unk = false;
            } else if let Some(unk) = self.unknown.unk {
                match syms.last_mut() {
                    Some(last) if self.unknown.fuse && prev_unk => last.end = (i + n) as u32,
                    _ => push_sym(&mut syms, i, i + n, unk),
                }
                prev_unk = true;
            }
            i += n;
        }
        syms
    }
}

/// Pieces longer than this many bytes are looked up in / stored to the per-thread cache.
const CACHE_MIN: usize = 4;

impl SpModel {
    /// Append the ids of one piece, through the per-thread memo.
    fn encode_one(&self, piece: &[u8], out: &mut Vec<Rank>, carry: &mut Carry) {
        if piece.len() < CACHE_MIN {
            self.segment(piece, out, carry);
            return;
        }
        MEMO.with(|m| {
            let mut m = m.borrow_mut();
            if let Some(ids) = self.reuse(&m, piece, carry) {
                out.extend_from_slice(ids);
                return;
            }
            let start = out.len();
            let margin = self.segment(piece, out, carry);
            m.put(self.uid, piece, &out[start..], margin);
        });
    }

    /// The number of ids of one piece.
    fn count_one(&self, piece: &[u8], scratch: &mut Vec<Rank>, carry: &mut Carry) -> usize {
        if piece.len() >= CACHE_MIN {
            let hit = MEMO.with(|m| self.reuse(&m.borrow(), piece, carry).map(<[Rank]>::len));
            if let Some(n) = hit {
                return n;
            }
        }
        scratch.clear();
        self.encode_one(piece, scratch, carry);
        scratch.len()
    }

    /// A memoised result for `piece` that holds at `carry`, with `carry` advanced over it.
    fn reuse<'m>(&self, memo: &'m Memo, piece: &[u8], carry: &mut Carry) -> Option<&'m [Rank]> {
        let (ids, margin) = memo.get(self.uid, piece)?;
        if let Algo::Unigram(u) = &self.algo {
            let chars = piece.iter().filter(|&&b| b & 0xC0 != 0x80).count();
            if !u.reusable(margin, *carry, chars) {
                return None;
            }
            u.replay(ids, carry);
        }
        Some(ids)
    }
}

impl PieceModel for SpModel {
    fn encode_pieces(
        &self,
        pieces: &[&[u8]],
        out: &mut Vec<Rank>,
        _cache: Option<&mut PieceCache>,
        carry: &mut Carry,
    ) {
        for p in pieces {
            self.encode_one(p, out, carry);
        }
    }

    fn count_pieces(
        &self,
        pieces: &[&[u8]],
        _cache: Option<&mut PieceCache>,
        carry: &mut Carry,
    ) -> usize {
        let mut scratch = Vec::new();
        pieces
            .iter()
            .map(|p| self.count_one(p, &mut scratch, carry))
            .sum()
    }

    fn uses_piece_cache(&self) -> bool {
        // Results go through the memo of this module instead.
        false
    }

    fn token_bytes(&self, id: Rank) -> Option<&[u8]> {
        let &(a, b) = self.surface_off.get(id as usize)?;
        (a != u32::MAX).then(|| &self.surface[a as usize..b as usize])
    }

    fn n_ids(&self) -> usize {
        self.surface_off.len()
    }

    fn piece(&self, id: Rank) -> Option<&str> {
        self.pieces
            .get(id as usize)
            .map(|p| &**p)
            .filter(|p| !p.is_empty())
    }

    fn piece_id(&self, piece: &str) -> Option<Rank> {
        self.ids.get(piece.as_bytes()).copied()
    }

    fn strips_leading_space(
        &self,
        id: Rank,
        index: usize,
        nothing_yet: bool,
        stripped: bool,
    ) -> bool {
        let marked = || {
            !self.byte_token.get(id as usize).copied().unwrap_or(true)
                && self
                    .token_bytes(id)
                    .is_some_and(|b| b.first() == Some(&b' '))
        };
        match self.strip {
            Strip::Never => false,
            Strip::LeadingSpace => index == 0,
            Strip::MarkedFirstToken => index == 0 && marked(),
            Strip::WhileEmpty { once } => nothing_yet && !(once && stripped) && marked(),
        }
    }
}

// -- per-thread memo of piece -> ids -------------------------------------------------------------

/// A bounded per-thread map from (model, piece) to ids, keyed by a hash of both (a colliding
/// entry is overwritten; the stored piece is compared on every hit). Pieces and ids live in two
/// arenas, so storing costs no allocation and emptying (when full, or after
/// [`crate::cache::clear`]) is a truncation.
struct Memo {
    map: FxHashMap<u64, MemoEntry>,
    keys: Vec<u8>,
    ids: Vec<Rank>,
    /// The [`crate::cache::generation`] the entries were stored under.
    generation: u64,
}

/// Where an entry's piece and ids are in the arenas, its model and its margin (see [`unigram`]).
#[derive(Clone, Copy)]
struct MemoEntry {
    uid: u32,
    key: u32,
    key_len: u32,
    ids: u32,
    ids_len: u32,
    margin: Margin,
}

/// Memo budget per thread (keys plus ids plus table).
const MEMO_BYTES: usize = 8 << 20;

fn memo_key(uid: u32, piece: &[u8]) -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = rustc_hash::FxBuildHasher.build_hasher();
    h.write_u32(uid);
    h.write(piece);
    h.finish()
}

impl Memo {
    /// Drop every entry if [`crate::cache::clear`] was called since they were stored.
    fn refresh(&mut self) {
        let now = crate::cache::generation();
        if self.generation != now {
            self.empty();
            self.generation = now;
        }
    }

    fn empty(&mut self) {
        self.map.clear();
        self.keys.clear();
        self.ids.clear();
    }

    fn get(&self, uid: u32, piece: &[u8]) -> Option<(&[Rank], Margin)> {
        if !crate::cache::enabled() || self.generation != crate::cache::generation() {
            return None;
        }
        let e = self.map.get(&memo_key(uid, piece))?;
        let key = self
            .keys
            .get(e.key as usize..(e.key + e.key_len) as usize)?;
        if e.uid != uid || key != piece {
            return None;
        }
        let ids = self.ids.get(e.ids as usize..(e.ids + e.ids_len) as usize)?;
        Some((ids, e.margin))
    }

    /// Remember `ids` for `piece` (a result no carry can reuse is not kept).
    fn put(&mut self, uid: u32, piece: &[u8], ids: &[Rank], margin: Margin) {
        if !crate::cache::enabled() || piece.len() > 256 || margin.is_nan() || margin <= 0.0 {
            return;
        }
        self.refresh();
        let table = std::mem::size_of::<(u64, MemoEntry)>() * (self.map.len() + 1);
        if self.keys.len() + piece.len() + 4 * (self.ids.len() + ids.len()) + table > MEMO_BYTES {
            self.empty();
        }
        let entry = MemoEntry {
            uid,
            key: self.keys.len() as u32,
            key_len: piece.len() as u32,
            ids: self.ids.len() as u32,
            ids_len: ids.len() as u32,
            margin,
        };
        self.keys.extend_from_slice(piece);
        self.ids.extend_from_slice(ids);
        self.map.insert(memo_key(uid, piece), entry);
    }
}

thread_local! {
    static MEMO: RefCell<Memo> = RefCell::new(Memo {
        map: FxHashMap::default(),
        keys: Vec::new(),
        ids: Vec::new(),
        generation: 0,
    });
}

// -- BPE over symbols ---------------------------------------------------------------------------

#[derive(Debug, Clone, Copy)]
struct Sym {
    start: u32,
    end: u32,
    id: Rank,
    prev: u32,
    next: u32,
}

fn push_sym(syms: &mut Vec<Sym>, start: usize, end: usize, id: Rank) {
    let k = syms.len() as u32;
    if let Some(last) = syms.last_mut() {
        last.next = k;
    }
    syms.push(Sym {
        start: start as u32,
        end: end as u32,
        id,
        prev: if k == 0 { NONE } else { k - 1 },
        next: NONE,
    });
}

/// The length of the UTF-8 sequence a lead byte starts (1 for a stray continuation byte).
#[inline]
pub(crate) fn char_len(b: u8) -> usize {
    match b {
        0xF0..=0xF7 => 4,
        0xE0..=0xEF => 3,
        0xC0..=0xDF => 2,
        _ => 1,
    }
}

fn init_chars(piece: &[u8], id_of: impl Fn(&[u8]) -> Rank) -> Vec<Sym> {
    let mut syms = Vec::with_capacity(piece.len());
    let mut i = 0;
    while i < piece.len() {
        let n = char_len(piece[i]).min(piece.len() - i);
        push_sym(&mut syms, i, i + n, id_of(&piece[i..i + n]));
        i += n;
    }
    syms
}

fn alive(syms: &[Sym]) -> impl Iterator<Item = &Sym> {
    let mut k = if syms.is_empty() { NONE } else { 0 };
    std::iter::from_fn(move || {
        let s = syms.get(k as usize)?;
        k = s.next;
        Some(s)
    })
}

/// A candidate merge: (priority, start of left, left index, right index, end of right).
type Pending = Reverse<(u32, u32, u32, u32, u32)>;

/// Pieces of at most this many symbols merge by scanning for the best pair (no heap).
const SCAN_MAX: usize = 32;

/// Repeatedly merge the adjacent pair with the lowest priority (leftmost on ties).
/// `pair(left id, right id)` gives a pair's priority and merged id.
fn merge(syms: &mut Vec<Sym>, pair: impl Fn(Rank, Rank) -> Option<(u32, Rank)>) {
    if syms.len() <= SCAN_MAX {
        merge_scan(syms, pair);
    } else {
        merge_heap(syms, pair);
    }
}

/// [`merge`] for short pieces: the symbols stay in order in a compact array, with the
/// priority of each one's pair with its right neighbour; each step scans for the lowest.
/// O(n^2) in the piece's characters, with no heap traffic.
fn merge_scan(syms: &mut Vec<Sym>, pair: impl Fn(Rank, Rank) -> Option<(u32, Rank)>) {
    let n = syms.len();
    if n < 2 {
        return;
    }
    let mut ids = [NONE; SCAN_MAX];
    let mut ends = [0u32; SCAN_MAX];
    let mut prio = [(u32::MAX, NONE); SCAN_MAX];
    for (k, s) in syms.iter().enumerate() {
        ids[k] = s.id;
        ends[k] = s.end;
    }
    let start = syms[0].start;
    let look = |l: Rank, r: Rank| pair(l, r).unwrap_or((u32::MAX, NONE));
    for k in 0..n - 1 {
        prio[k] = look(ids[k], ids[k + 1]);
    }
    let mut len = n;
    loop {
        let mut best = 0;
        for k in 1..len - 1 {
            if prio[k].0 < prio[best].0 {
                best = k;
            }
        }
        let (p, merged) = prio[best];
        if p == u32::MAX {
            break;
        }
        ids[best] = merged;
        ends[best] = ends[best + 1];
        ids.copy_within(best + 2..len, best + 1);
        ends.copy_within(best + 2..len, best + 1);
        prio.copy_within(best + 2..len, best + 1);
        len -= 1;
        if best + 1 < len {
            prio[best] = look(ids[best], ids[best + 1]);
        } else {
            prio[best] = (u32::MAX, NONE);
        }
        if best > 0 {
            prio[best - 1] = look(ids[best - 1], ids[best]);
        }
        if len < 2 {
            break;
        }
    }
    syms.clear();
    let mut from = start;
    for k in 0..len {
        push_sym(syms, from as usize, ends[k] as usize, ids[k]);
        from = ends[k];
    }
}

/// [`merge`] with a binary heap of candidate pairs and lazy deletion of stale ones:
/// O(n log n).
fn merge_heap(syms: &mut [Sym], pair: impl Fn(Rank, Rank) -> Option<(u32, Rank)>) {
    if syms.len() < 2 {
        return;
    }
    // (priority, start of left, left index, right index, end of right)
    let mut heap: BinaryHeap<Pending> = BinaryHeap::with_capacity(syms.len());
    let push = |heap: &mut BinaryHeap<_>, syms: &[Sym], l: u32| {
        let ls = syms[l as usize];
        if ls.next == NONE {
            return;
        }
        let rs = syms[ls.next as usize];
        if let Some((p, _)) = pair(ls.id, rs.id) {
            heap.push(Reverse((p, ls.start, l, ls.next, rs.end)));
        }
    };
    for l in 0..syms.len() as u32 - 1 {
        push(&mut heap, syms, l);
    }
    while let Some(Reverse((_, start, l, r, end))) = heap.pop() {
        let ls = syms[l as usize];
        if ls.next != r || ls.start != start || syms[r as usize].end != end {
            continue;
        }
        let rs = syms[r as usize];
        let Some((_, merged)) = pair(ls.id, rs.id) else {
            continue;
        };
        let left = &mut syms[l as usize];
        left.end = rs.end;
        left.id = merged;
        left.next = rs.next;
        if rs.next != NONE {
            syms[rs.next as usize].prev = l;
        }
        // Mark the right symbol dead: it can no longer match a stored pair.
        syms[r as usize].start = NONE;
        syms[r as usize].next = NONE;
        if ls.prev != NONE {
            push(&mut heap, syms, ls.prev);
        }
        push(&mut heap, syms, l);
    }
}

// -- normalizer ----------------------------------------------------------------------------------

/// When the space marker is put in front of a segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prepend {
    Never,
    /// Only the segment at the start of the text (SentencePiece's dummy prefix; `Metaspace`
    /// `prepend_scheme: first`).
    First,
    /// Every segment between special tokens (`Metaspace` `prepend_scheme: always`).
    Always,
}

/// Text rules of a SentencePiece-style model.
pub struct SpNormalizer {
    /// Rules applied first (Hugging Face normalizer steps).
    pub inner: Option<Box<dyn Normalizer>>,
    /// SentencePiece's `remove_extra_whitespaces`: drop leading and trailing spaces and
    /// collapse runs of spaces into one.
    pub remove_extra_whitespaces: bool,
    /// Spaces become `▁`.
    pub escape: bool,
    pub prepend: Prepend,
    /// `Metaspace` prepends only to text that does not already start with `▁`; SentencePiece
    /// always does.
    pub prepend_unless_space: bool,
    /// SentencePiece's rules read prefix by prefix (a precompiled character map), applied in
    /// its own loop with the whitespace rules above.
    pub rules: Option<SpRules>,
}

/// SentencePiece's prefix rules: user-defined symbols pass unchanged (longest first), else the
/// longest rule of the character map, else one character.
pub struct SpRules {
    pub map: CharsMap,
    /// User-defined symbols, matched anchored at a position (longest).
    pub user: Option<AhoCorasick>,
}

impl SpRules {
    /// # Errors
    /// User-defined symbols the matcher cannot hold.
    pub fn new(map: CharsMap, user: &[String]) -> Result<Self, VocabError> {
        let user = if user.is_empty() {
            None
        } else {
            Some(
                AhoCorasickBuilder::new()
                    .match_kind(MatchKind::LeftmostLongest)
                    .start_kind(aho_corasick::StartKind::Anchored)
                    .build(user)
                    .map_err(|e| VocabError::InvalidVocab(format!("user-defined symbols: {e}")))?,
            )
        };
        Ok(Self { map, user })
    }

    /// sentencepiece's `NormalizePrefix`: (the normalized prefix of `input`, bytes consumed).
    #[inline]
    fn prefix<'a>(&'a self, input: &'a [u8]) -> (&'a [u8], usize) {
        let b0 = input[0];
        if let Some(ac) = &self.user {
            let m = ac.find(aho_corasick::Input::new(input).anchored(aho_corasick::Anchored::Yes));
            if let Some(m) = m {
                return (&input[..m.end()], m.end());
            }
        }
        if self.map.may_start(b0) {
            if let Some((len, rep)) = self.map.longest(input) {
                return (rep.as_bytes(), len);
            }
        }
        let n = char_len(b0);
        if b0 & 0xC0 == 0x80 || n > input.len() {
            // Inside a character (a rule ended there): sentencepiece's replacement character.
            return ("\u{FFFD}".as_bytes(), 1);
        }
        (&input[..n], n)
    }
}

impl SpNormalizer {
    /// sentencepiece's `Normalizer::Normalize` with prefix rules: each normalized prefix loses
    /// its leading spaces after a space (`remove_extra_whitespaces`), its spaces become `▁`.
    fn apply_rules(&self, rules: &SpRules, text: &str, at_start: bool) -> String {
        let space = if self.escape { SPACE_STR } else { " " };
        let mut input = text.as_bytes();
        if self.remove_extra_whitespaces {
            while !input.is_empty() {
                let (p, used) = rules.prefix(input);
                if p != b" " {
                    break;
                }
                input = &input[used..];
            }
        }
        let mut out: Vec<u8> = Vec::with_capacity(input.len() + input.len() / 2 + 3);
        if input.is_empty() {
            return String::new();
        }
        let prepend = match self.prepend {
            Prepend::Never => false,
            Prepend::First => at_start,
            Prepend::Always => true,
        };
        if prepend {
            out.extend_from_slice(space.as_bytes());
        }
        let mut prev_space = self.remove_extra_whitespaces;
        while !input.is_empty() {
            let (mut p, used) = rules.prefix(input);
            while prev_space && p.first() == Some(&b' ') {
                p = &p[1..];
            }
            if !p.is_empty() {
                for &b in p {
                    if b == b' ' {
                        out.extend_from_slice(space.as_bytes());
                    } else {
                        out.push(b);
                    }
                }
                prev_space = p.last() == Some(&b' ');
            }
            input = &input[used..];
            if !self.remove_extra_whitespaces {
                prev_space = false;
            }
        }
        if self.remove_extra_whitespaces {
            while out.ends_with(space.as_bytes()) {
                out.truncate(out.len() - space.len());
            }
        }
        // Every prefix is whole characters: text, rules' UTF-8 strings, or U+FFFD.
        String::from_utf8(out)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
    }

    fn apply(&self, text: &str, at_start: bool) -> String {
        if let Some(rules) = &self.rules {
            return self.apply_rules(rules, text, at_start);
        }
        let mut out = String::with_capacity(text.len() + text.len() / 2 + 3);
        let mut s = text;
        if self.remove_extra_whitespaces {
            s = s.trim_start_matches(' ');
        }
        if s.is_empty() {
            return out;
        }
        let prepend = match self.prepend {
            Prepend::Never => false,
            Prepend::First => at_start,
            Prepend::Always => true,
        };
        let starts_with_space = s.starts_with(' ') || s.starts_with(SPACE);
        if prepend && !(self.prepend_unless_space && starts_with_space) {
            out.push_str(if self.escape { SPACE_STR } else { " " });
        }
        // Copy the runs between spaces whole; each space becomes the marker, or is dropped
        // after another space with `remove_extra_whitespaces` (leading ones are trimmed).
        let space = if self.escape { SPACE_STR } else { " " };
        let mut last = 0;
        for i in memchr::memchr_iter(b' ', s.as_bytes()) {
            if i > last || !self.remove_extra_whitespaces {
                out.push_str(&s[last..i]);
                out.push_str(space);
            }
            last = i + 1;
        }
        out.push_str(&s[last..]);
        if self.remove_extra_whitespaces {
            while out.ends_with(space) {
                out.truncate(out.len() - space.len());
            }
        }
        out
    }
}

impl Normalizer for SpNormalizer {
    fn normalize<'t>(&self, text: &'t str) -> Result<Cow<'t, str>, VocabError> {
        self.normalize_segment(text, true)
    }

    fn normalize_segment<'t>(
        &self,
        text: &'t str,
        at_start: bool,
    ) -> Result<Cow<'t, str>, VocabError> {
        Ok(Cow::Owned(match &self.inner {
            Some(n) => self.apply(&n.normalize_segment(text, at_start)?, at_start),
            None => self.apply(text, at_start),
        }))
    }
}

// -- pre-tokenizer -------------------------------------------------------------------------------

/// Where the normalized text is cut into pieces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cut {
    /// Nowhere.
    Whole,
    /// Before each run of `▁` that follows another character.
    SpaceRuns,
    /// Before every `▁` (Hugging Face `Metaspace` with `split: true`).
    EverySpace,
}

/// Cuts normalized text into independent pieces (see the module notes).
pub struct SpSplit {
    /// User-defined symbols, cut out as pieces of their own.
    user: Option<AhoCorasick>,
    cut: Cut,
}

impl SpSplit {
    /// # Errors
    /// User-defined symbols the matcher cannot hold.
    pub fn new(user: &[String], cut: Cut) -> Result<Self, VocabError> {
        Self::build(user, cut, MatchKind::LeftmostLongest)
    }

    /// Like [`new`](Self::new), but where several literals match at the leftmost position the
    /// first listed wins, as in a regex alternation.
    ///
    /// # Errors
    /// Literals the matcher cannot hold.
    pub fn in_order(user: &[String], cut: Cut) -> Result<Self, VocabError> {
        Self::build(user, cut, MatchKind::LeftmostFirst)
    }

    fn build(user: &[String], cut: Cut, kind: MatchKind) -> Result<Self, VocabError> {
        let user = if user.is_empty() {
            None
        } else {
            Some(
                AhoCorasickBuilder::new()
                    .match_kind(kind)
                    .build(user)
                    .map_err(|e| VocabError::InvalidVocab(format!("user-defined symbols: {e}")))?,
            )
        };
        Ok(Self { user, cut })
    }

    fn cut<'t>(&self, text: &'t str, sink: &mut dyn FnMut(&'t str) -> bool) -> bool {
        if text.is_empty() {
            return true;
        }
        let b = text.as_bytes();
        let mut start = 0;
        match self.cut {
            Cut::Whole => return sink(text),
            Cut::SpaceRuns => {
                // `▁` is E2 96 81; a cut goes before an E2 96 81 not preceded by one.
                for at in space_marks(b) {
                    if at > start && !b[..at].ends_with(SPACE_STR.as_bytes()) {
                        if !sink(&text[start..at]) {
                            return false;
                        }
                        start = at;
                    }
                }
            }
            Cut::EverySpace => {
                for at in space_marks(b) {
                    if at > start {
                        if !sink(&text[start..at]) {
                            return false;
                        }
                        start = at;
                    }
                }
            }
        }
        sink(&text[start..])
    }
}

/// The byte offsets of the `▁` marks in `b`.
fn space_marks(b: &[u8]) -> impl Iterator<Item = usize> + '_ {
    memchr::memchr_iter(0xE2, b).filter(|&i| b[i..].starts_with(SPACE_STR.as_bytes()))
}

impl PreTokenizer for SpSplit {
    fn split_while<'t>(
        &self,
        text: &'t str,
        sink: &mut dyn FnMut(&'t str) -> bool,
    ) -> Result<(), VocabError> {
        let Some(ac) = &self.user else {
            self.cut(text, sink);
            return Ok(());
        };
        let mut start = 0;
        for m in ac.find_iter(text) {
            if !self.cut(&text[start..m.start()], sink) || !sink(&text[m.range()]) {
                return Ok(());
            }
            start = m.end();
        }
        self.cut(&text[start..], sink);
        Ok(())
    }
}

/// Whether some piece holds `▁` right after another character (then no cut before a run of
/// `▁` is safe).
#[must_use]
pub fn space_inside<'a>(pieces: impl IntoIterator<Item = &'a str>) -> bool {
    pieces.into_iter().any(|p| {
        let rest = p.trim_start_matches(SPACE);
        rest.contains(SPACE)
    })
}

// -- SentencePiece .model -------------------------------------------------------------------------

fn spm_err(message: impl Into<String>) -> VocabError {
    VocabError::InvalidVocab(format!("SentencePiece model: {}", message.into()))
}

/// The byte of a byte piece `<0xAB>`.
#[must_use]
pub fn byte_piece(p: &str) -> Option<u8> {
    let hex = p.strip_prefix("<0x")?.strip_suffix('>')?;
    if hex.len() != 2 {
        return None;
    }
    u8::from_str_radix(hex, 16).ok()
}

/// Ids of the 256 byte tokens, or an error naming the first missing byte.
///
/// # Errors
/// A byte with no `<0xXX>` piece.
pub fn byte_table(
    mut id_of: impl FnMut(u8) -> Option<Rank>,
) -> Result<Box<[Rank; 256]>, VocabError> {
    let mut t = Box::new([0; 256]);
    for b in 0..=255u8 {
        t[usize::from(b)] = id_of(b).ok_or_else(|| {
            VocabError::InvalidVocab(format!(
                "byte_fallback is on but there is no piece <0x{b:02X}>"
            ))
        })?;
    }
    Ok(t)
}

/// Load a SentencePiece `.model` file as an [`Encoding`]. Control and unknown pieces become
/// special tokens (SentencePiece never reads them from text; with `allowed_special` tokenmill
/// does); user-defined pieces are always matched in text, as SentencePiece does.
///
/// # Errors
/// A malformed file (with the byte offset) or character map, or a feature this loader does
/// not reproduce exactly (named): `treat_whitespace_as_suffix`, unused pieces in a BPE model,
/// WORD / CHAR models.
pub fn encoding_from_model(name: &str, data: &[u8]) -> Result<Encoding, VocabError> {
    let m = proto::parse(data)?;
    let n = m.pieces.len();
    let unk = usize::try_from(m.unk_id)
        .ok()
        .filter(|&u| u < n && m.pieces[u].kind == PieceType::Unknown)
        .ok_or_else(|| spm_err(format!("unk_id {} is not an unknown piece", m.unk_id)))?;
    let unk = unk as Rank;
    if m.treat_whitespace_as_suffix {
        return Err(spm_err("treat_whitespace_as_suffix is unsupported"));
    }
    // As sentencepiece's loader: byte pieces exist only for byte fallback, and each spells one
    // byte (a byte piece named otherwise would encode to an id that decodes to nothing).
    if let Some(p) = m.pieces.iter().find(|p| p.kind == PieceType::Byte) {
        if !m.byte_fallback {
            return Err(spm_err(format!(
                "byte piece {:?} is found although byte_fallback is false",
                p.piece
            )));
        }
    }
    if let Some(p) = m
        .pieces
        .iter()
        .find(|p| p.kind == PieceType::Byte && byte_piece(&p.piece).is_none())
    {
        return Err(spm_err(format!(
            "byte piece {:?} is invalid (not <0xHH>)",
            p.piece
        )));
    }
    // As sentencepiece's loader: a piece may be defined once.
    let mut seen = FxHashMap::with_capacity_and_hasher(n, Default::default());
    for (id, p) in m.pieces.iter().enumerate() {
        if let Some(first) = seen.insert(p.piece.as_str(), id) {
            return Err(spm_err(format!(
                "piece {:?} is defined twice (ids {first} and {id})",
                p.piece
            )));
        }
    }
    let bytes = if m.byte_fallback {
        let mut by_byte = [NONE; 256];
        for (id, p) in m.pieces.iter().enumerate() {
            if p.kind == PieceType::Byte {
                if let Some(b) = byte_piece(&p.piece) {
                    by_byte[usize::from(b)] = id as Rank;
                }
            }
        }
        Some(byte_table(|b| {
            Some(by_byte[usize::from(b)]).filter(|&i| i != NONE)
        })?)
    } else {
        None
    };
    let mergeable = |k: PieceType| matches!(k, PieceType::Normal | PieceType::UserDefined);
    let algo = match m.model_type {
        ModelType::Bpe => {
            if let Some(p) = m.pieces.iter().find(|p| p.kind == PieceType::Unused) {
                return Err(spm_err(format!(
                    "unused piece {:?} in a BPE model is unsupported",
                    p.piece
                )));
            }
            // Priority: rank of the score among distinct scores, highest first.
            let mut scores: Vec<f32> = m
                .pieces
                .iter()
                .filter(|p| mergeable(p.kind))
                .map(|p| p.score)
                .collect();
            scores.sort_by(|a, b| b.total_cmp(a));
            scores.dedup();
            let mut merges = FxHashMap::default();
            merges.reserve(n);
            for (id, p) in m.pieces.iter().enumerate() {
                if mergeable(p.kind) && p.piece.chars().nth(1).is_some() {
                    let prio = scores.partition_point(|s| s.total_cmp(&p.score).is_gt()) as u32;
                    merges
                        .entry(p.piece.as_bytes().into())
                        .or_insert((prio, id as Rank));
                }
            }
            Algo::ScoreBpe(Box::new(ScoreMerges::new(merges)))
        }
        ModelType::Unigram => Algo::Unigram(Unigram::from_spm(&m.pieces, unk)?),
        ModelType::Word | ModelType::Char => {
            return Err(spm_err(format!(
                "model_type {:?} is unsupported (BPE and Unigram are)",
                m.model_type
            )))
        }
    };
    let mut entries = Vec::with_capacity(n);
    let mut specials = Vec::new();
    let mut user = Vec::new();
    for (id, p) in m.pieces.iter().enumerate() {
        let (surface, is_byte) = match p.kind {
            PieceType::Byte => (byte_piece(&p.piece).map(|b| vec![b]), true),
            PieceType::Control | PieceType::Unknown => {
                specials.push((p.piece.clone(), id as Rank));
                (None, false)
            }
            _ => (Some(p.piece.replace(SPACE, " ").into_bytes()), false),
        };
        if p.kind == PieceType::UserDefined && !p.piece.is_empty() {
            user.push((p.piece.clone(), id as Rank));
        }
        entries.push(Entry {
            piece: if matches!(p.kind, PieceType::Control | PieceType::Unknown) {
                // Never looked up from text.
                String::new()
            } else {
                p.piece.clone()
            },
            surface,
            is_byte,
        });
    }
    specials.retain(|(s, _)| !s.is_empty());
    // BPE decides by integer priorities, so a cut where no piece spans is exact; Unigram
    // carries the path score across the cut (see `unigram`).
    let cut = if space_inside(m.pieces.iter().map(|p| p.piece.as_str())) {
        Cut::Whole
    } else {
        Cut::SpaceRuns
    };
    let user_strings: Vec<String> = user.iter().map(|(s, _)| s.clone()).collect();
    let normalizer = spm_normalizer(&m, &user_strings)?;
    let split = SpSplit::new(&user_strings, cut)?;
    let unknown = Unknown {
        bytes,
        unk: Some(unk),
        // A run of unknown characters is one unknown token (BPE and Unigram alike).
        fuse: true,
    };
    let strip = if m.add_dummy_prefix || m.remove_extra_whitespaces {
        Strip::WhileEmpty {
            once: !m.remove_extra_whitespaces,
        }
    } else {
        Strip::Never
    };
    let model = SpModel::new(entries, user, algo, unknown, strip)?;
    Encoding::with_piece_model(
        name,
        Box::new(model),
        Box::new(split),
        Some(Box::new(normalizer)),
        specials,
    )
}

/// The ids of the model's BOS and EOS pieces (`trainer_spec.bos_piece` / `eos_piece`), each
/// `None` unless it is a control piece: what sentencepiece's `add_bos` / `add_eos` insert.
///
/// # Errors
/// A malformed file (with the byte offset).
pub fn bos_eos(data: &[u8]) -> Result<(Option<Rank>, Option<Rank>), VocabError> {
    let m = proto::parse(data)?;
    let control = |name: &str| {
        m.pieces
            .iter()
            .position(|p| p.piece == name)
            .filter(|&i| m.pieces[i].kind == PieceType::Control)
            .map(|i| i as Rank)
    };
    Ok((control(&m.bos_piece), control(&m.eos_piece)))
}

/// The model's text rules: sentencepiece reads only `precompiled_charsmap` at run time (the
/// rule's name and a custom rule file's path are records of how it was built), so an empty map
/// is the identity whatever the name says.
fn spm_normalizer(m: &ModelProto, user: &[String]) -> Result<SpNormalizer, VocabError> {
    let rules = if m.precompiled_charsmap.is_empty() {
        None
    } else {
        let map = CharsMap::parse(&m.precompiled_charsmap)
            .map_err(|e| spm_err(format!("normalizer_spec {:?}: {e}", m.normalizer_name)))?;
        Some(SpRules::new(map, user)?)
    };
    Ok(SpNormalizer {
        inner: None,
        remove_extra_whitespaces: m.remove_extra_whitespaces,
        escape: m.escape_whitespaces,
        prepend: if m.add_dummy_prefix {
            Prepend::First
        } else {
            Prepend::Never
        },
        prepend_unless_space: false,
        rules,
    })
}

#[cfg(test)]
mod tests;
