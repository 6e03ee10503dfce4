//! Any text through the bundled encodings: `count == len(encode)`, `count_till_limit` and
//! `count_batch` agree, and `decode(encode(text)) == text` byte for byte. The first input byte
//! picks the encoding; the rest is the text (invalid UTF-8 replaced by U+FFFD).
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use tokenmill_bpe::Encoding;

const NAMES: [&str; 3] = ["cl100k_base", "o200k_base", "o200k_harmony"];

fn encodings() -> &'static [Encoding] {
    static ENCODINGS: OnceLock<Vec<Encoding>> = OnceLock::new();
    ENCODINGS.get_or_init(|| {
        NAMES
            .iter()
            .map(|n| tokenmill_bpe::registry::bundled_encoding(n).expect("bundled encoding"))
            .collect()
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(rest);
    let enc = &encodings()[usize::from(pick) % NAMES.len()];
    tokenmill_fuzz::check_encoding(enc, &text, true);
});
