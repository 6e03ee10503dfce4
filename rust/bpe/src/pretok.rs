//! Pre-tokenization: splitting text into the pieces that BPE encodes independently.
//!
//! Splitting can fail: a regex engine may give up on an input (Oniguruma's retry limit,
//! fancy-regex's backtrack limit). Such a failure is an error naming the pattern and the byte
//! offset ([`VocabError::PatternFailed`]), never a panic and never a guess at the rest.

use crate::VocabError;

/// Splits text into pieces. Pieces are sub-slices of `text`, reported in order. A pre-tokenizer
/// may drop text (Hugging Face `Split` with `Removed` behaviour does), so pieces need not cover it.
pub trait PreTokenizer: Send + Sync {
    /// Call `sink` with each piece of `text`, in order.
    ///
    /// The default runs [`split_while`](Self::split_while) with a sink that never stops.
    ///
    /// # Errors
    /// The pattern's engine gave up on this text ([`VocabError::PatternFailed`]).
    fn split<'t>(&self, text: &'t str, sink: &mut dyn FnMut(&'t str)) -> Result<(), VocabError> {
        self.split_while(text, &mut |piece| {
            sink(piece);
            true
        })
    }

    /// Like [`split`](Self::split), but stop as soon as `sink` returns `false`: every
    /// pre-tokenizer can stop early, so that `count_till_limit` costs work proportional to the
    /// limit rather than to the text.
    ///
    /// # Errors
    /// As [`split`](Self::split).
    fn split_while<'t>(
        &self,
        text: &'t str,
        sink: &mut dyn FnMut(&'t str) -> bool,
    ) -> Result<(), VocabError>;

    /// The non-empty pieces of `text` in order, handed to `sink` in batches of at most
    /// [`BATCH`] (the BPE stage resolves a batch with overlapping table lookups); stop as soon as
    /// `sink` returns `false`.
    ///
    /// The default collects [`split_while`](Self::split_while)'s pieces; the hand-written
    /// pre-tokenizers override it to fill batches without a call per piece.
    ///
    /// # Errors
    /// As [`split`](Self::split).
    fn split_batched<'t>(
        &self,
        text: &'t str,
        sink: &mut dyn FnMut(&[&'t [u8]]) -> bool,
    ) -> Result<(), VocabError> {
        batch_split_while(self, text, sink)
    }
}

/// [`PreTokenizer::split_batched`]'s default: [`split_while`](PreTokenizer::split_while)'s
/// pieces collected into batches (for overriding implementations that fall back to it).
///
/// # Errors
/// As [`PreTokenizer::split`].
pub(crate) fn batch_split_while<'t, P: PreTokenizer + ?Sized>(
    p: &P,
    text: &'t str,
    sink: &mut dyn FnMut(&[&'t [u8]]) -> bool,
) -> Result<(), VocabError> {
    let mut batch = Batch::new();
    let mut going = true;
    p.split_while(text, &mut |piece| {
        going = batch.push(piece.as_bytes(), sink);
        going
    })?;
    if going {
        batch.flush(sink);
    }
    Ok(())
}

/// Batches of the pieces of a splitter whose pieces tile `text`: `next(i)` is the end of the
/// piece starting at byte `i` (a char boundary past `i`). No call through a `dyn` per piece.
#[inline(always)]
pub(crate) fn batch_tiling<'t>(
    text: &'t str,
    next: impl Fn(usize) -> usize,
    sink: &mut dyn FnMut(&[&'t [u8]]) -> bool,
) {
    let s = text.as_bytes();
    let mut batch = Batch::new();
    let mut i = 0;
    while i < s.len() {
        let e = next(i);
        if !batch.push(&s[i..e], sink) {
            return;
        }
        i = e;
    }
    batch.flush(sink);
}

/// Pieces per batch handed to the BPE stage.
pub const BATCH: usize = 32;

/// A batch of pieces being filled.
pub(crate) struct Batch<'t> {
    buf: [&'t [u8]; BATCH],
    n: usize,
}

impl<'t> Batch<'t> {
    #[inline(always)]
    pub(crate) fn new() -> Self {
        Self {
            buf: [&[]; BATCH],
            n: 0,
        }
    }

    /// Add a piece (empty ones are skipped); when the batch fills, hand it to `sink` and return
    /// what `sink` returned.
    #[inline(always)]
    pub(crate) fn push(
        &mut self,
        piece: &'t [u8],
        sink: &mut dyn FnMut(&[&'t [u8]]) -> bool,
    ) -> bool {
        if piece.is_empty() {
            return true;
        }
        self.buf[self.n] = piece;
        self.n += 1;
        if self.n == BATCH {
            self.n = 0;
            return sink(&self.buf);
        }
        true
    }

    /// Hand the pieces still held to `sink`.
    #[inline]
    pub(crate) fn flush(&mut self, sink: &mut dyn FnMut(&[&'t [u8]]) -> bool) {
        if self.n > 0 {
            sink(&self.buf[..self.n]);
            self.n = 0;
        }
    }
}

/// Rewrites text before pre-tokenization (for example Unicode NFC, as some `tokenizer.json` files
/// ask). Returns the input unchanged (borrowed) when there is nothing to do.
pub trait Normalizer: Send + Sync {
    /// The normalized form of `text`.
    ///
    /// # Errors
    /// A pattern's engine gave up on this text ([`VocabError::PatternFailed`]).
    fn normalize<'t>(&self, text: &'t str) -> Result<std::borrow::Cow<'t, str>, VocabError>;

    /// The normalized form of one segment of a text cut at special tokens; `at_start` says
    /// whether it begins the text (SentencePiece's dummy prefix and `Metaspace`'s
    /// `prepend_scheme: first` apply only there).
    ///
    /// # Errors
    /// As [`normalize`](Self::normalize).
    fn normalize_segment<'t>(
        &self,
        text: &'t str,
        at_start: bool,
    ) -> Result<std::borrow::Cow<'t, str>, VocabError> {
        let _ = at_start;
        self.normalize(text)
    }
}
