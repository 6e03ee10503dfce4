//! `Encoding`: special tokens, normalization, pre-tokenization and BPE put together.
//!
//! # Design notes
//! Text flows: special-token scan -> (optional) normalizer -> pre-tokenizer -> BPE per piece.
//! Special tokens follow tiktoken: the caller's policy says which specials are *allowed* (encoded
//! as their id) and which are *disallowed* (their presence anywhere in the text is an error);
//! specials in neither set are plain text. Specials are found with one Aho-Corasick automaton
//! (leftmost-longest); when no special is allowed the text is encoded in one ordinary run.
//!
//! Counting never builds id vectors: each piece reports its count. `count_till_limit` stops the
//! pre-tokenizer as soon as the running count passes the limit, so its cost is proportional to
//! the limit (for the hand-written pre-tokenizers; the disallowed-special scan is a fast
//! `memchr`-driven pass over the text). Batches run with rayon on whatever pool the caller
//! installed. All work is linear in the text length (the BPE engines are at worst O(n log n)
//! per piece).
//!
//! Stopping: every text method has an `_interruptible` form taking a stop flag, checked before
//! each text of a batch and before each batch of [`crate::pretok::BATCH`] pieces (one relaxed
//! atomic load per ~32 pieces); once it is set the call returns [`VocabError::Interrupted`].
//! The bindings set it when Python's signal handler raises (Ctrl-C). Splitting can fail (a
//! regex engine's backtracking limit): that is [`VocabError::PatternFailed`], never a panic.

use std::sync::atomic::{AtomicBool, Ordering};

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use rayon::prelude::*;

use crate::cache;
use rustc_hash::FxHashMap;

use crate::cache::PieceCache;
use crate::model::{BpeModel, Rank};
use crate::pretok::{Normalizer, PreTokenizer};
use crate::spm::unigram::Carry;
use crate::spm::PieceModel;
use crate::VocabError;

mod unstable;

/// The stop flag of calls that cannot be stopped.
static NEVER: AtomicBool = AtomicBool::new(false);

/// Which special tokens a call treats as special (tiktoken's `allowed_special` /
/// `disallowed_special`, already resolved to flags per special token, in the order of
/// [`Encoding::special_tokens`]).
#[derive(Debug, Clone, Default)]
pub struct SpecialPolicy {
    allowed: Vec<bool>,
    disallowed: Vec<bool>,
    /// Disallowed strings that are not special tokens of this encoding (tiktoken still refuses
    /// text containing them).
    extra_disallowed: Vec<String>,
}

/// A set of special-token names, or all of them.
#[derive(Debug, Clone, Copy)]
pub enum SpecialSet<'a> {
    /// Every special token of the encoding.
    All,
    /// These names.
    Names(&'a [String]),
}

/// The vocabulary and how a piece becomes ids: byte-level BPE, or a model over characters
/// (SentencePiece BPE and Unigram, Mistral tekken; see `spm`).
// One per encoding; the BPE variant is the hot path and stays unboxed.
#[allow(clippy::large_enum_variant)]
enum Model {
    Bpe(BpeModel),
    Pieces(Box<dyn PieceModel>),
}

impl Model {
    /// Whether the model reads and fills the per-thread piece cache.
    fn uses_piece_cache(&self) -> bool {
        match self {
            Model::Bpe(_) => true,
            Model::Pieces(m) => m.uses_piece_cache(),
        }
    }

    #[inline]
    fn encode_pieces(
        &self,
        ps: &[&[u8]],
        out: &mut Vec<Rank>,
        cache: Option<&mut PieceCache>,
        carry: &mut Carry,
    ) {
        match self {
            Model::Bpe(m) => m.encode_pieces(ps, out, cache),
            Model::Pieces(m) => m.encode_pieces(ps, out, cache, carry),
        }
    }

    #[inline]
    fn count_pieces(
        &self,
        ps: &[&[u8]],
        cache: Option<&mut PieceCache>,
        carry: &mut Carry,
    ) -> usize {
        match self {
            Model::Bpe(m) => m.count_pieces(ps, cache),
            Model::Pieces(m) => m.count_pieces(ps, cache, carry),
        }
    }

    fn token_bytes(&self, id: Rank) -> Option<&[u8]> {
        match self {
            Model::Bpe(m) => m.token_bytes(id),
            Model::Pieces(m) => m.token_bytes(id),
        }
    }

    fn n_ids(&self) -> usize {
        match self {
            Model::Bpe(m) => m.n_ids(),
            Model::Pieces(m) => m.n_ids(),
        }
    }
}

/// A complete tokenizer.
pub struct Encoding {
    name: String,
    model: Model,
    pretok: Box<dyn PreTokenizer>,
    normalizer: Option<Box<dyn Normalizer>>,
    specials: Vec<(String, Rank)>,
    special_by_id: FxHashMap<Rank, usize>,
    matcher: Option<AhoCorasick>,
    /// The distinct first bytes of the special tokens: text without any of them (most text,
    /// found with one `memchr` pass) skips the automaton.
    special_starts: Vec<u8>,
    n_vocab: usize,
    /// Per special token: recognised under every policy (Hugging Face non-special added tokens).
    always: Vec<bool>,
    /// The regular token ids sorted by their bytes, built on first use (`unstable.rs`).
    sorted_ids: std::sync::OnceLock<Vec<Rank>>,
}

impl std::fmt::Debug for Encoding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Encoding")
            .field("name", &self.name)
            .field("n_vocab", &self.n_vocab)
            .field("specials", &self.specials)
            .finish_non_exhaustive()
    }
}

impl Encoding {
    /// Assemble an encoding.
    ///
    /// # Errors
    /// A special token that is empty, repeated, or whose id is already a regular token.
    pub fn new(
        name: impl Into<String>,
        model: BpeModel,
        pretok: Box<dyn PreTokenizer>,
        normalizer: Option<Box<dyn Normalizer>>,
        specials: Vec<(String, Rank)>,
    ) -> Result<Self, VocabError> {
        Self::assemble(name, Model::Bpe(model), pretok, normalizer, specials)
    }

    /// Run `f` with this thread's piece cache when the model uses it, else with `None`.
    fn with_cache<R>(&self, f: impl FnOnce(Option<&mut PieceCache>) -> R) -> R {
        if self.model.uses_piece_cache() {
            cache::with(f)
        } else {
            f(None)
        }
    }

    /// [`new`](Self::new) with a model that is not byte-level BPE.
    ///
    /// # Errors
    /// As [`new`](Self::new).
    pub(crate) fn with_piece_model(
        name: impl Into<String>,
        model: Box<dyn PieceModel>,
        pretok: Box<dyn PreTokenizer>,
        normalizer: Option<Box<dyn Normalizer>>,
        specials: Vec<(String, Rank)>,
    ) -> Result<Self, VocabError> {
        Self::assemble(name, Model::Pieces(model), pretok, normalizer, specials)
    }

    fn assemble(
        name: impl Into<String>,
        model: Model,
        pretok: Box<dyn PreTokenizer>,
        normalizer: Option<Box<dyn Normalizer>>,
        specials: Vec<(String, Rank)>,
    ) -> Result<Self, VocabError> {
        let mut special_by_id = FxHashMap::default();
        let mut names = rustc_hash::FxHashSet::default();
        for (k, (s, id)) in specials.iter().enumerate() {
            if s.is_empty() {
                return Err(VocabError::InvalidVocab(format!(
                    "special token with id {id} is empty"
                )));
            }
            if !names.insert(s.as_str()) {
                return Err(VocabError::InvalidVocab(format!(
                    "special token {s:?} appears twice"
                )));
            }
            if model.token_bytes(*id).is_some_and(|b| b != s.as_bytes()) {
                return Err(VocabError::InvalidVocab(format!(
                    "special token {s:?} has id {id}, which is already a regular token"
                )));
            }
            // Two names may share an id (tiktoken's o200k_harmony does); decoding gives the
            // last one, as tiktoken's inverted dict does.
            special_by_id.insert(*id, k);
        }
        let matcher = if specials.is_empty() {
            None
        } else {
            Some(
                AhoCorasickBuilder::new()
                    .match_kind(MatchKind::LeftmostLongest)
                    .build(specials.iter().map(|(s, _)| s.as_bytes()))
                    .map_err(|e| VocabError::InvalidVocab(format!("special tokens: {e}")))?,
            )
        };
        let mut special_starts: Vec<u8> = specials.iter().map(|(s, _)| s.as_bytes()[0]).collect();
        special_starts.sort_unstable();
        special_starts.dedup();
        let n_vocab = specials
            .iter()
            .map(|&(_, id)| id as usize + 1)
            .max()
            .unwrap_or(0)
            .max(model.n_ids());
        Ok(Self {
            name: name.into(),
            model,
            pretok,
            normalizer,
            specials,
            special_by_id,
            matcher,
            special_starts,
            n_vocab,
            always: Vec::new(),
            sorted_ids: std::sync::OnceLock::new(),
        })
    }

    /// Mark special tokens (by index in [`special_tokens`](Self::special_tokens)) as always
    /// recognised: every policy, `encode_ordinary` and `count_ordinary` included, treats them
    /// as allowed and never as disallowed. This is how Hugging Face treats its non-special
    /// added tokens (`<think>` in Qwen 3), which belong to the ordinary vocabulary there.
    pub fn set_always_matched(&mut self, flags: Vec<bool>) {
        self.always = flags;
    }

    fn is_always(&self, k: usize) -> bool {
        self.always.get(k).copied().unwrap_or(false)
    }

    /// The encoding's name.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// One past the largest token id (regular or special), as tiktoken's `n_vocab`.
    #[must_use]
    pub fn n_vocab(&self) -> usize {
        self.n_vocab
    }

    /// The id of the regular (non-special) token whose bytes are `bytes`.
    #[must_use]
    pub fn regular_token_id(&self, bytes: &[u8]) -> Option<Rank> {
        match &self.model {
            Model::Bpe(m) => m.token_id(bytes),
            Model::Pieces(m) => m.token_id(bytes),
        }
    }

    /// The bytes of regular token `id` (`None` for special tokens and unused ids).
    #[must_use]
    pub fn regular_token_bytes(&self, id: Rank) -> Option<&[u8]> {
        self.model.token_bytes(id)
    }

    /// The vocabulary string of regular token `id` for models that write tokens as strings
    /// (`▁hello` in SentencePiece-style models); `None` for byte-level models (their strings are
    /// the bytes in GPT-2's alphabet) and unknown ids.
    #[must_use]
    pub fn piece(&self, id: Rank) -> Option<&str> {
        match &self.model {
            Model::Bpe(_) => None,
            Model::Pieces(m) => m.piece(id),
        }
    }

    /// The id of a vocabulary string (see [`piece`](Self::piece)).
    #[must_use]
    pub fn piece_id(&self, piece: &str) -> Option<Rank> {
        match &self.model {
            Model::Bpe(_) => None,
            Model::Pieces(m) => m.piece_id(piece),
        }
    }

    /// One past the largest regular token id.
    #[must_use]
    pub fn n_regular_ids(&self) -> usize {
        self.model.n_ids()
    }

    /// The byte-level BPE model (`None` for the models of `spm` and `tekken`).
    #[must_use]
    pub fn model(&self) -> Option<&BpeModel> {
        match &self.model {
            Model::Bpe(m) => Some(m),
            Model::Pieces(_) => None,
        }
    }

    /// Special tokens (name, id), in the order given at construction.
    #[must_use]
    pub fn special_tokens(&self) -> &[(String, Rank)] {
        &self.specials
    }

    /// Resolve tiktoken's `allowed_special` / `disallowed_special` arguments: with
    /// `disallowed = All`, every special that is not allowed is disallowed.
    #[must_use]
    pub fn policy(&self, allowed: SpecialSet<'_>, disallowed: SpecialSet<'_>) -> SpecialPolicy {
        let n = self.specials.len();
        let flags = |set: SpecialSet<'_>| match set {
            SpecialSet::All => vec![true; n],
            SpecialSet::Names(names) => self
                .specials
                .iter()
                .map(|(s, _)| names.iter().any(|x| x == s))
                .collect(),
        };
        let allowed_flags = flags(allowed);
        let disallowed_flags = match disallowed {
            SpecialSet::All => allowed_flags.iter().map(|a| !a).collect(),
            set @ SpecialSet::Names(_) => flags(set),
        };
        let extra_disallowed = match disallowed {
            SpecialSet::All => Vec::new(),
            SpecialSet::Names(names) => names
                .iter()
                .filter(|x| !x.is_empty() && !self.specials.iter().any(|(s, _)| s == *x))
                .cloned()
                .collect(),
        };
        let mut policy = SpecialPolicy {
            allowed: allowed_flags,
            disallowed: disallowed_flags,
            extra_disallowed,
        };
        for k in 0..n {
            if self.is_always(k) {
                policy.allowed[k] = true;
                policy.disallowed[k] = false;
            }
        }
        policy
    }

    /// The policy of `encode_ordinary`: every special token is plain text.
    #[must_use]
    pub fn ordinary_policy(&self) -> SpecialPolicy {
        let n = self.specials.len();
        SpecialPolicy {
            allowed: (0..n).map(|k| self.is_always(k)).collect(),
            disallowed: vec![false; n],
            extra_disallowed: Vec::new(),
        }
    }

    /// Whether `text` may contain a special token (`false` is certain).
    fn may_hold_special(&self, text: &str) -> bool {
        let t = text.as_bytes();
        match *self.special_starts.as_slice() {
            [] => false,
            [a] => memchr::memchr(a, t).is_some(),
            [a, b] => memchr::memchr2(a, b, t).is_some(),
            [a, b, c] => memchr::memchr3(a, b, c, t).is_some(),
            _ => true,
        }
    }

    /// The leftmost disallowed special in `text` (the longest at that position), found by
    /// visiting only the positions that hold a special's first byte (`memchr`) and comparing the
    /// disallowed specials there: text has few such bytes, so this costs one fast scan, where
    /// the automaton would run over every byte. `None` when there are more than three distinct
    /// first bytes (the caller then uses the automaton); `Some(None)` when there is no match.
    #[allow(clippy::option_option)]
    fn first_disallowed<'t>(
        &self,
        text: &'t str,
        policy: &SpecialPolicy,
    ) -> Option<Option<(usize, &'t str)>> {
        let t = text.as_bytes();
        let at = |pos: usize| -> Option<(usize, &'t str)> {
            let rest = &t[pos..];
            self.specials
                .iter()
                .enumerate()
                .filter(|&(k, (s, _))| policy.disallowed[k] && rest.starts_with(s.as_bytes()))
                .max_by_key(|(_, (s, _))| s.len())
                .map(|(_, (s, _))| (pos, &text[pos..pos + s.len()]))
        };
        let hit = match *self.special_starts.as_slice() {
            [] => None,
            [a] => memchr::memchr_iter(a, t).find_map(at),
            [a, b] => memchr::memchr2_iter(a, b, t).find_map(at),
            [a, b, c] => memchr::memchr3_iter(a, b, c, t).find_map(at),
            _ => return None,
        };
        Some(hit)
    }

    fn check_disallowed(&self, text: &str, policy: &SpecialPolicy) -> Result<(), VocabError> {
        let mut first: Option<(usize, &str)> = None;
        if let Some(ac) = &self.matcher {
            if policy.disallowed.iter().any(|&d| d) {
                first = match self.first_disallowed(text, policy) {
                    Some(found) => found,
                    None => ac
                        .find_iter(text)
                        .find(|m| policy.disallowed[m.pattern().as_usize()])
                        .map(|m| (m.start(), &text[m.range()])),
                };
            }
        }
        for extra in &policy.extra_disallowed {
            if let Some(pos) = text.find(extra.as_str()) {
                if first.is_none_or(|(p, _)| pos < p) {
                    first = Some((pos, extra));
                }
            }
        }
        match first {
            Some((_, s)) => Err(VocabError::DisallowedSpecial(s.to_string())),
            None => Ok(()),
        }
    }

    /// Call `ordinary(segment)` for text runs and `special(id)` for allowed specials, in order.
    /// Stops early when a callback returns `false`.
    fn walk<'t>(
        &self,
        text: &'t str,
        policy: &SpecialPolicy,
        mut ordinary: impl FnMut(&'t str) -> bool,
        mut special: impl FnMut(Rank) -> bool,
    ) -> Result<(), VocabError> {
        self.check_disallowed(text, policy)?;
        let matcher = match &self.matcher {
            Some(ac) if policy.allowed.iter().any(|&a| a) && self.may_hold_special(text) => ac,
            _ => {
                ordinary(text);
                return Ok(());
            }
        };
        let mut start = 0;
        let mut find_from = 0;
        while start < text.len() {
            let found = matcher
                .find(aho_corasick::Input::new(text).span(find_from..text.len()))
                .filter(|m| m.start() >= start);
            match found {
                Some(m) if !policy.allowed[m.pattern().as_usize()] => {
                    find_from = m.start() + 1;
                }
                Some(m) => {
                    if m.start() > start && !ordinary(&text[start..m.start()]) {
                        return Ok(());
                    }
                    if !special(self.specials[m.pattern().as_usize()].1) {
                        return Ok(());
                    }
                    start = m.end();
                    find_from = start;
                }
                None => {
                    ordinary(&text[start..]);
                    return Ok(());
                }
            }
        }
        Ok(())
    }

    /// Call `sink` with the (non-empty) pieces of `text` in order, in batches of at most
    /// `BATCH` (see `model/pipeline.rs`). Stops early when `sink` returns `false`, and with
    /// [`VocabError::Interrupted`] once `stop` is set. `at_start`: the text begins the caller's
    /// text (see [`Normalizer::normalize_segment`]).
    fn for_each_batch(
        &self,
        text: &str,
        at_start: bool,
        stop: &AtomicBool,
        sink: &mut dyn FnMut(&[&[u8]]) -> bool,
    ) -> Result<(), VocabError> {
        let mut stopped = false;
        let mut checked = |ps: &[&[u8]]| {
            if stop.load(Ordering::Relaxed) {
                stopped = true;
                return false;
            }
            sink(ps)
        };
        match &self.normalizer {
            Some(norm) => {
                let normalized = norm.normalize_segment(text, at_start)?;
                self.pretok.split_batched(&normalized, &mut checked)?;
            }
            None => self.pretok.split_batched(text, &mut checked)?,
        }
        if stopped {
            return Err(VocabError::Interrupted);
        }
        Ok(())
    }

    /// Encode `text` with every special token treated as plain text (except those marked
    /// [always matched](Self::set_always_matched)).
    ///
    /// # Errors
    /// [`VocabError::PatternFailed`] if the split pattern's regex engine gives up on the text.
    pub fn encode_ordinary(&self, text: &str) -> Result<Vec<Rank>, VocabError> {
        self.encode_ordinary_interruptible(text, &NEVER)
    }

    /// [`encode_ordinary`](Self::encode_ordinary), stopped early once `stop` is set.
    ///
    /// # Errors
    /// As [`encode_ordinary`](Self::encode_ordinary), or [`VocabError::Interrupted`].
    pub fn encode_ordinary_interruptible(
        &self,
        text: &str,
        stop: &AtomicBool,
    ) -> Result<Vec<Rank>, VocabError> {
        if self.always.contains(&true) {
            return self.encode_interruptible(text, &self.ordinary_policy(), stop);
        }
        let mut out = Vec::with_capacity(text.len() / 4 + 1);
        let mut carry = Carry::default();
        self.with_cache(|mut c| {
            self.for_each_batch(text, true, stop, &mut |ps| {
                self.model
                    .encode_pieces(ps, &mut out, c.as_deref_mut(), &mut carry);
                true
            })
        })?;
        Ok(out)
    }

    /// Encode `text` under a special-token policy.
    ///
    /// # Errors
    /// [`VocabError::DisallowedSpecial`] if the text contains a disallowed special token,
    /// [`VocabError::PatternFailed`] if the split pattern's regex engine gives up on it.
    pub fn encode(&self, text: &str, policy: &SpecialPolicy) -> Result<Vec<Rank>, VocabError> {
        self.encode_interruptible(text, policy, &NEVER)
    }

    /// [`encode`](Self::encode), stopped early once `stop` is set.
    ///
    /// # Errors
    /// As [`encode`](Self::encode), or [`VocabError::Interrupted`].
    pub fn encode_interruptible(
        &self,
        text: &str,
        policy: &SpecialPolicy,
        stop: &AtomicBool,
    ) -> Result<Vec<Rank>, VocabError> {
        let mut out = Vec::with_capacity(text.len() / 4 + 1);
        let out_cell = std::cell::RefCell::new(&mut out);
        let mut failed = None;
        self.with_cache(|c| {
            let c = std::cell::RefCell::new(c);
            self.walk(
                text,
                policy,
                |seg| {
                    let mut o = out_cell.borrow_mut();
                    let mut c = c.borrow_mut();
                    let at_start = seg.as_ptr() == text.as_ptr();
                    let mut carry = Carry::default();
                    let done = self.for_each_batch(seg, at_start, stop, &mut |ps| {
                        self.model
                            .encode_pieces(ps, &mut o, c.as_deref_mut(), &mut carry);
                        true
                    });
                    done.map_err(|e| failed = Some(e)).is_ok()
                },
                |id| {
                    out_cell.borrow_mut().push(id);
                    true
                },
            )
        })?;
        failed.map_or(Ok(out), Err)
    }

    /// Number of tokens `encode(text, policy)` returns, without building them.
    ///
    /// # Errors
    /// As [`encode`](Self::encode).
    pub fn count(&self, text: &str, policy: &SpecialPolicy) -> Result<usize, VocabError> {
        self.count_interruptible(text, policy, &NEVER)
    }

    /// [`count`](Self::count), stopped early once `stop` is set.
    ///
    /// # Errors
    /// As [`encode`](Self::encode), or [`VocabError::Interrupted`].
    pub fn count_interruptible(
        &self,
        text: &str,
        policy: &SpecialPolicy,
        stop: &AtomicBool,
    ) -> Result<usize, VocabError> {
        Ok(self
            .count_till_limit_interruptible(text, usize::MAX, policy, stop)?
            .unwrap_or(usize::MAX))
    }

    /// Number of tokens with every special token treated as plain text (except those marked
    /// [always matched](Self::set_always_matched)).
    ///
    /// # Errors
    /// As [`encode_ordinary`](Self::encode_ordinary).
    pub fn count_ordinary(&self, text: &str) -> Result<usize, VocabError> {
        self.count_ordinary_interruptible(text, &NEVER)
    }

    /// [`count_ordinary`](Self::count_ordinary), stopped early once `stop` is set.
    ///
    /// # Errors
    /// As [`encode_ordinary`](Self::encode_ordinary), or [`VocabError::Interrupted`].
    pub fn count_ordinary_interruptible(
        &self,
        text: &str,
        stop: &AtomicBool,
    ) -> Result<usize, VocabError> {
        if self.always.contains(&true) {
            return self.count_interruptible(text, &self.ordinary_policy(), stop);
        }
        let mut n = 0;
        let mut carry = Carry::default();
        self.with_cache(|mut c| {
            self.for_each_batch(text, true, stop, &mut |ps| {
                n += self.model.count_pieces(ps, c.as_deref_mut(), &mut carry);
                true
            })
        })?;
        Ok(n)
    }

    /// The token count if it is at most `limit`, else `None`. Stops tokenizing as soon as the
    /// count passes the limit.
    ///
    /// # Errors
    /// As [`encode`](Self::encode).
    pub fn count_till_limit(
        &self,
        text: &str,
        limit: usize,
        policy: &SpecialPolicy,
    ) -> Result<Option<usize>, VocabError> {
        self.count_till_limit_interruptible(text, limit, policy, &NEVER)
    }

    /// [`count_till_limit`](Self::count_till_limit), stopped early once `stop` is set.
    ///
    /// # Errors
    /// As [`encode`](Self::encode), or [`VocabError::Interrupted`].
    pub fn count_till_limit_interruptible(
        &self,
        text: &str,
        limit: usize,
        policy: &SpecialPolicy,
        stop: &AtomicBool,
    ) -> Result<Option<usize>, VocabError> {
        let count = std::cell::Cell::new(0usize);
        let mut failed = None;
        self.with_cache(|mut c| {
            self.walk(
                text,
                policy,
                |seg| {
                    let mut n = count.get();
                    let at_start = seg.as_ptr() == text.as_ptr();
                    let mut carry = Carry::default();
                    let done = self.for_each_batch(seg, at_start, stop, &mut |ps| {
                        n += self.model.count_pieces(ps, c.as_deref_mut(), &mut carry);
                        n <= limit
                    });
                    count.set(n);
                    done.map_err(|e| failed = Some(e)).is_ok() && n <= limit
                },
                |_| {
                    count.set(count.get() + 1);
                    count.get() <= limit
                },
            )
        })?;
        if let Some(e) = failed {
            return Err(e);
        }
        let n = count.get();
        Ok((n <= limit).then_some(n))
    }

    /// Encode many texts in parallel (on the current rayon pool).
    ///
    /// # Errors
    /// The first text that fails (by index), as [`encode`](Self::encode).
    pub fn encode_batch<S: AsRef<str> + Sync>(
        &self,
        texts: &[S],
        policy: &SpecialPolicy,
    ) -> Result<Vec<Vec<Rank>>, (usize, VocabError)> {
        self.encode_batch_interruptible(texts, policy, &NEVER)
    }

    /// [`encode_batch`](Self::encode_batch), stopped early once `stop` is set.
    ///
    /// # Errors
    /// As [`encode_batch`](Self::encode_batch), or [`VocabError::Interrupted`].
    pub fn encode_batch_interruptible<S: AsRef<str> + Sync>(
        &self,
        texts: &[S],
        policy: &SpecialPolicy,
        stop: &AtomicBool,
    ) -> Result<Vec<Vec<Rank>>, (usize, VocabError)> {
        texts
            .par_iter()
            .enumerate()
            .map(|(i, t)| {
                if stop.load(Ordering::Relaxed) {
                    return Err((i, VocabError::Interrupted));
                }
                self.encode_interruptible(t.as_ref(), policy, stop)
                    .map_err(|e| (i, e))
            })
            .collect()
    }

    /// Count many texts in parallel (on the current rayon pool).
    ///
    /// # Errors
    /// The first text that fails (by index), as [`encode`](Self::encode).
    pub fn count_batch<S: AsRef<str> + Sync>(
        &self,
        texts: &[S],
        policy: &SpecialPolicy,
    ) -> Result<Vec<usize>, (usize, VocabError)> {
        self.count_batch_interruptible(texts, policy, &NEVER)
    }

    /// [`count_batch`](Self::count_batch), stopped early once `stop` is set.
    ///
    /// # Errors
    /// As [`count_batch`](Self::count_batch), or [`VocabError::Interrupted`].
    pub fn count_batch_interruptible<S: AsRef<str> + Sync>(
        &self,
        texts: &[S],
        policy: &SpecialPolicy,
        stop: &AtomicBool,
    ) -> Result<Vec<usize>, (usize, VocabError)> {
        texts
            .par_iter()
            .enumerate()
            .map(|(i, t)| {
                if stop.load(Ordering::Relaxed) {
                    return Err((i, VocabError::Interrupted));
                }
                self.count_interruptible(t.as_ref(), policy, stop)
                    .map_err(|e| (i, e))
            })
            .collect()
    }

    /// The bytes of a token sequence (regular and special tokens).
    ///
    /// # Errors
    /// [`VocabError::UnknownId`] naming the first id outside the vocabulary.
    pub fn decode_bytes(&self, ids: &[i64]) -> Result<Vec<u8>, VocabError> {
        let mut out = Vec::with_capacity(ids.len() * 4);
        let mut stripped = false;
        for (i, &raw) in ids.iter().enumerate() {
            let bytes = Rank::try_from(raw).ok().and_then(|id| {
                self.model.token_bytes(id).or_else(|| {
                    self.special_by_id
                        .get(&id)
                        .map(|&k| self.specials[k].0.as_bytes())
                })
            });
            let mut b = match bytes {
                Some(b) => b,
                None => return Err(VocabError::UnknownId(raw)),
            };
            if let Model::Pieces(m) = &self.model {
                // The dummy prefix's space goes, as SentencePiece and `Metaspace` decode.
                let id = Rank::try_from(raw).unwrap_or(Rank::MAX);
                if b.first() == Some(&b' ')
                    && m.strips_leading_space(id, i, out.is_empty(), stripped)
                {
                    b = &b[1..];
                    stripped = true;
                }
            }
            out.extend_from_slice(b);
        }
        Ok(out)
    }

    /// Whether `id` is a special token in Hugging Face's sense, the tokens that
    /// `skip_special_tokens` drops: every special token of a tiktoken encoding, and the added
    /// tokens of a `tokenizer.json` marked `"special": true` (not `<think>`-style ones).
    #[must_use]
    pub fn is_special_id(&self, id: Rank) -> bool {
        self.special_by_id
            .get(&id)
            .is_some_and(|&k| !self.is_always(k))
    }

    /// The bytes of one token, or `None` outside the vocabulary.
    #[must_use]
    pub fn token_bytes(&self, id: Rank) -> Option<&[u8]> {
        self.model.token_bytes(id).or_else(|| {
            self.special_by_id
                .get(&id)
                .map(|&k| self.specials[k].0.as_bytes())
        })
    }
}
