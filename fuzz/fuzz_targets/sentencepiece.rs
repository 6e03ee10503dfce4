//! A SentencePiece `.model` (protobuf `ModelProto`, BPE or Unigram): it loads or fails with an
//! error naming the byte offset; what loads keeps the encoding properties. Seeds: the
//! mistral-common models with their piece lists cut short (`scripts/fuzz seeds`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(enc) = tokenmill_bpe::spm::encoding_from_model("fuzz", data) {
        tokenmill_fuzz::check_texts(&enc, false);
    }
});
