//! Pre-tokenization: splitting text into the pieces that BPE encodes independently.

/// Splits text into pieces. Pieces are sub-slices of `text`, reported in order. A pre-tokenizer
/// may drop text (Hugging Face `Split` with `Removed` behaviour does), so pieces need not cover it.
pub trait PreTokenizer: Send + Sync {
    /// Call `sink` with each piece of `text`, in order.
    fn split<'t>(&self, text: &'t str, sink: &mut dyn FnMut(&'t str));
}
