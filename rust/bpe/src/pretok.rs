//! Pre-tokenization: splitting text into the pieces that BPE encodes independently.

/// Splits text into pieces. Pieces are sub-slices of `text`, reported in order. A pre-tokenizer
/// may drop text (Hugging Face `Split` with `Removed` behaviour does), so pieces need not cover it.
pub trait PreTokenizer: Send + Sync {
    /// Call `sink` with each piece of `text`, in order.
    fn split<'t>(&self, text: &'t str, sink: &mut dyn FnMut(&'t str));

    /// Like [`split`](Self::split), but stop as soon as `sink` returns `false`.
    ///
    /// The default runs `split` to the end and drops the pieces after the stop; pre-tokenizers
    /// that can stop early override it, so that `count_till_limit` costs work proportional to the
    /// limit rather than to the text.
    fn split_while<'t>(&self, text: &'t str, sink: &mut dyn FnMut(&'t str) -> bool) {
        let mut going = true;
        self.split(text, &mut |piece| {
            if going {
                going = sink(piece);
            }
        });
    }
}

/// Rewrites text before pre-tokenization (for example Unicode NFC, as some `tokenizer.json` files
/// ask). Returns the input unchanged (borrowed) when there is nothing to do.
pub trait Normalizer: Send + Sync {
    /// The normalized form of `text`.
    fn normalize<'t>(&self, text: &'t str) -> std::borrow::Cow<'t, str>;
}
