//! Helpers of the fuzz targets: the properties every loaded encoding must have (shared with the
//! proptest targets of `rust/bpe/tests/fuzz_loaders.rs`) and the texts they are checked on.

#[path = "../../rust/bpe/tests/support/mod.rs"]
mod support;

pub use support::check_encoding;
use tokenmill_bpe::Encoding;

/// Texts every loaded encoding is checked on: empty, ASCII words and punctuation, runs of
/// spaces and newlines, accented Latin, CJK, an emoji sequence, a long repeat, bytes that
/// SentencePiece normalizes (NBSP, full-width forms) and a special-token spelling.
pub const TEXTS: &[&str] = &[
    "",
    "Hello, world! It's 2024.",
    "  two  spaces\n\n\ttab\r\n",
    "héllo wörld — ça va?",
    "日本語のテキストと中文",
    "👩‍👩‍👧 ok",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!",
    "\u{a0}Ｆｕｌｌ width\u{3000}x",
    "<s>[INST]<|endoftext|></s>",
];

/// Check `enc` on every text of [`TEXTS`].
pub fn check_texts(enc: &Encoding, byte_exact: bool) {
    for text in TEXTS {
        check_encoding(enc, text, byte_exact);
    }
}
