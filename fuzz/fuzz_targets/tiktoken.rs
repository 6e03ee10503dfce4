//! A `.tiktoken` rank file (plain or gzip): it loads or fails with an error, and what loads is a
//! byte-level encoding (decode gives the text back). Seeds: the bundled rank files, cut short.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tokenmill_bpe::registry::from_tiktoken;

const PATTERN: &str = r"'s|'t|\w+| ?[^\s\w]+|\s+(?!\S)|\s+";

fuzz_target!(|data: &[u8]| {
    if let Ok(enc) = from_tiktoken("fuzz", data, PATTERN, vec![]) {
        tokenmill_fuzz::check_texts(&enc, true);
    }
});
