//! A Hugging Face `tokenizer.json` (byte-level or SentencePiece-style): it loads or fails with
//! an error naming the field; what loads keeps the encoding properties (normalizers may change
//! the text, so decoding is not compared byte for byte). Seeds: small vocabularies cut from real
//! files (`scripts/fuzz seeds`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(enc) = tokenmill_bpe::hf::encoding_from_json("fuzz", data) {
        tokenmill_fuzz::check_texts(&enc, false);
    }
});
