//! Pre-tokenization: splitting text into the pieces that BPE encodes independently.

/// Splits text into pieces. Pieces are sub-slices of `text`, reported in order. A pre-tokenizer
/// may drop text (Hugging Face `Split` with `Removed` behaviour does), so pieces need not cover it.
pub trait PreTokenizer: Send + Sync {
    /// Call `sink` with each piece of `text`, in order.
    fn split<'t>(&self, text: &'t str, sink: &mut dyn FnMut(&'t str));
}

/// Rewrites text before pre-tokenization (for example Unicode NFC, as some `tokenizer.json` files
/// ask). Returns the input unchanged (borrowed) when there is nothing to do.
pub trait Normalizer: Send + Sync {
    /// The normalized form of `text`.
    fn normalize<'t>(&self, text: &'t str) -> std::borrow::Cow<'t, str>;
}
