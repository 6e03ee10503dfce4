//! A Mistral `tekken.json`, read by the tekken loader whether or not it looks like one: it loads
//! or fails with an error naming the field; what loads keeps the encoding properties. Seeds:
//! the mistral-common files with their vocabularies cut short (`scripts/fuzz seeds`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(root) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    if let Ok(enc) = tokenmill_bpe::tekken::encoding_from_value("fuzz", &root) {
        tokenmill_fuzz::check_texts(&enc, false);
    }
});
