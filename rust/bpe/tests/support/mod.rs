//! What every loaded encoding must satisfy on any text; shared by the proptest targets
//! (`fuzz_loaders.rs`) and the coverage-guided targets under `fuzz/`, which include this file.

use tokenmill_bpe::{Encoding, SpecialSet, VocabError};

/// `count == len(encode)` (plain and with `count_till_limit`), a batch agrees with single
/// calls, decoding never fails, and with `byte_exact` (byte-level vocabularies without a
/// normalizer) decoding gives the text's bytes back. A split pattern that gives up must do so
/// on every path alike.
///
/// # Panics
/// When one of the properties fails: the fuzzers report the input.
pub fn check_encoding(enc: &Encoding, text: &str, byte_exact: bool) {
    let all = enc.policy(SpecialSet::All, SpecialSet::Names(&[]));
    let ids = match enc.encode(text, &all) {
        Ok(ids) => ids,
        Err(VocabError::PatternFailed { .. }) => {
            assert!(matches!(
                enc.count(text, &all),
                Err(VocabError::PatternFailed { .. })
            ));
            return;
        }
        Err(e) => panic!("encode failed: {e}"),
    };
    assert_eq!(enc.count(text, &all).expect("count"), ids.len());
    let limit = ids.len() / 2;
    let till = enc.count_till_limit(text, limit, &all).expect("limit");
    assert_eq!(till, (ids.len() <= limit).then_some(ids.len()));
    let batch = enc.count_batch(&[text, text], &all).expect("batch");
    assert_eq!(batch, vec![ids.len(); 2]);
    let raw: Vec<i64> = ids.iter().map(|&i| i64::from(i)).collect();
    let bytes = enc.decode_bytes(&raw).expect("decode");
    if byte_exact {
        assert_eq!(bytes, text.as_bytes());
    }
}
