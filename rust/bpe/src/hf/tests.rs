//! Loader tests on small hand-written `tokenizer.json` documents.

use super::*;

/// A tiny byte-level BPE file: 256 byte tokens plus the merges given, and a pre-tokenizer.
pub(super) fn doc(merges: &str, pre: &str, extra: &str) -> String {
    let table = bytelevel::byte_to_char();
    let mut vocab: Vec<String> = table.iter().map(|c| c.to_string()).collect();
    let merges: Vec<(&str, &str)> = merges
        .split(',')
        .filter(|m| !m.is_empty())
        .map(|m| m.split_once(' ').unwrap())
        .collect();
    for (l, r) in &merges {
        vocab.push(format!("{l}{r}"));
    }
    let vocab_json: Vec<String> = vocab
        .iter()
        .enumerate()
        .map(|(i, t)| format!("{}: {i}", serde_json::to_string(t).unwrap()))
        .collect();
    let merges_json: Vec<String> = merges
        .iter()
        .map(|(l, r)| serde_json::to_string(&format!("{l} {r}")).unwrap())
        .collect();
    format!(
        r#"{{"version": "1.0", {extra} "pre_tokenizer": {pre},
            "decoder": {{"type": "ByteLevel"}},
            "model": {{"type": "BPE", "vocab": {{{}}}, "merges": [{}]}}}}"#,
        vocab_json.join(","),
        merges_json.join(",")
    )
}

const BYTE_LEVEL: &str = r#"{"type": "ByteLevel", "add_prefix_space": false, "use_regex": true}"#;

fn load(json: &str) -> Result<HfTokenizer, VocabError> {
    HfTokenizer::from_json(json.as_bytes())
}

fn field_of(e: VocabError) -> String {
    match e {
        VocabError::TokenizerJson { field, .. } => field,
        other => panic!("unexpected error {other:?}"),
    }
}

#[test]
fn merges_follow_list_order_and_decode_bytes() {
    // "Ġ" is the byte-level form of a space: the merge "Ġ a" builds the token " a".
    let t = load(&doc("Ġ a,b c,a b", BYTE_LEVEL, "")).unwrap();
    let ids = t.encode("abc a", true);
    // "abc": "b c" (index 1) beats "a b" (index 2) -> [a, bc]; " a" is one piece -> [" a"].
    assert_eq!(ids, vec![u32::from(b'a'), 257, 256]);
    assert_eq!(t.token_bytes(256), Some(&b" a"[..]));
}

#[test]
fn added_tokens_special_and_not() {
    let extra = r#""added_tokens": [
        {"id": 256, "content": "<|x|>", "special": true, "normalized": false},
        {"id": 257, "content": "<|x|>y", "special": true, "normalized": false},
        {"id": 258, "content": "<t>", "special": false, "normalized": false}],"#;
    let t = load(&doc("", BYTE_LEVEL, extra)).unwrap();
    // Leftmost-longest: "<|x|>y" wins over "<|x|>".
    assert_eq!(t.encode("a<|x|>yb", true), vec![97, 257, 98]);
    // Non-special tokens are matched even when special ones are not.
    assert_eq!(t.encode("<t>", false), vec![258]);
    assert_eq!(t.encode("<|x|>", false).len(), 5);
    assert_eq!(t.token_bytes(258), Some(&b"<t>"[..]));
}

#[test]
fn prefix_space_and_normalizers() {
    let pre = r#"{"type": "ByteLevel", "add_prefix_space": true, "use_regex": true}"#;
    let extra = r#""normalizer": {"type": "Sequence", "normalizers": [{"type": "NFC"},
        {"type": "Replace", "pattern": {"String": "x"}, "content": "y"}]},"#;
    let t = load(&doc("Ġ y", pre, extra)).unwrap();
    assert_eq!(t.encode("x", true), vec![256]);
    assert_eq!(t.encode("e\u{301}", true), t.encode(" \u{e9}", true));
}

#[test]
fn split_sequence_then_bytelevel() {
    let pre = r#"{"type": "Sequence", "pretokenizers": [
        {"type": "Split", "pattern": {"Regex": "\\p{N}{1,3}"}, "behavior": "Isolated", "invert": false},
        {"type": "Digits", "individual_digits": false},
        {"type": "ByteLevel", "add_prefix_space": false, "use_regex": false}]}"#;
    let t = load(&doc("1 2,12 3", pre, "")).unwrap();
    // Pieces "123", "4": "1 2" then "12 3".
    assert_eq!(t.encode("1234", true), vec![257, u32::from(b'4')]);
}

#[test]
fn errors_name_the_field() {
    let e = load("{\"model\": ").err().unwrap();
    assert!(e.to_string().contains("line 1 column"), "{e}");

    let uni = r#"{"pre_tokenizer": {"type": "ByteLevel"},
        "model": {"type": "Unigram", "vocab": []}}"#;
    let e = load(uni).err().unwrap();
    assert!(e.to_string().contains("'Unigram'"), "{e}");
    assert_eq!(field_of(e), "model.type");

    let meta = r#"{"type": "Sequence", "pretokenizers": [{"type": "ByteLevel"},
        {"type": "Metaspace"}]}"#;
    let e = load(&doc("", meta, "")).err().unwrap();
    assert_eq!(field_of(e), "pre_tokenizer.pretokenizers[1].type");
    let meta = r#"{"type": "Sequence", "pretokenizers": [{"type": "Metaspace"},
        {"type": "ByteLevel"}]}"#;
    let e = load(&doc("", meta, "")).err().unwrap();
    assert!(e.to_string().contains("unsupported 'Metaspace'"), "{e}");
    assert_eq!(field_of(e), "pre_tokenizer.pretokenizers[0].type");

    let no_bl = r#"{"type": "Whitespace"}"#;
    assert_eq!(
        field_of(load(&doc("", no_bl, "")).err().unwrap()),
        "pre_tokenizer"
    );

    let bad_re = r#"{"type": "Sequence", "pretokenizers": [
        {"type": "Split", "pattern": {"Regex": "(a"}, "behavior": "Isolated"}, {"type": "ByteLevel"}]}"#;
    assert_eq!(
        field_of(load(&doc("", bad_re, "")).err().unwrap()),
        "pre_tokenizer.pretokenizers[0].pattern.Regex"
    );

    let extra = r#""normalizer": {"type": "BertNormalizer"},"#;
    assert_eq!(
        field_of(load(&doc("", BYTE_LEVEL, extra)).err().unwrap()),
        "normalizer.type"
    );

    let extra =
        r#""added_tokens": [{"id": 300, "content": "<s>", "special": true, "lstrip": true}],"#;
    assert_eq!(
        field_of(load(&doc("", BYTE_LEVEL, extra)).err().unwrap()),
        "added_tokens[0].lstrip"
    );

    // A non-normalized token that could cut a normalized one (HF extracts it first).
    let extra = r#""added_tokens": [
        {"id": 300, "content": "<ab>", "special": false, "normalized": true},
        {"id": 301, "content": "b>", "special": true, "normalized": false}],"#;
    assert_eq!(
        field_of(load(&doc("", BYTE_LEVEL, extra)).err().unwrap()),
        "added_tokens[0].normalized"
    );
    let extra = r#""added_tokens": [
        {"id": 300, "content": "<ab>", "special": false, "normalized": true},
        {"id": 301, "content": "<c>", "special": true, "normalized": false}],"#;
    assert!(load(&doc("", BYTE_LEVEL, extra)).is_ok());

    // A merge whose result is missing from the vocabulary.
    let mut bad = doc("a b", BYTE_LEVEL, "");
    bad = bad.replace("\"ab\": 256", "\"zz\": 256");
    assert_eq!(field_of(load(&bad).err().unwrap()), "model.merges[0]");
    let bad = doc("a b", BYTE_LEVEL, "").replace("\"a b\"", "\"a b c\"");
    assert_eq!(field_of(load(&bad).err().unwrap()), "model.merges[0]");
}

#[test]
fn encoding_matches_the_reference_pipeline() {
    use crate::SpecialSet;
    let extra = r#""normalizer": {"type": "NFC"}, "added_tokens": [
        {"id": 259, "content": "<|x|>", "special": true, "normalized": false},
        {"id": 260, "content": "<t>", "special": false, "normalized": false}],"#;
    let pre = r#"{"type": "Sequence", "pretokenizers": [
        {"type": "Split", "pattern": {"Regex": "\\p{N}{1,3}| ?\\p{L}+|\\s+"}, "behavior": "Isolated"},
        {"type": "ByteLevel", "add_prefix_space": false, "use_regex": false}]}"#;
    let json = doc("Ġ a,a b,1 2", pre, extra);
    let reference = load(&json).unwrap();
    let enc = encoding_from_json("t", json.as_bytes()).unwrap();
    let all = enc.policy(SpecialSet::All, SpecialSet::All);
    for text in [
        "",
        "a ab 1234 <|x|>e\u{301}<t> a<t>b",
        "<t><|x|><t>",
        " a a a 12 12",
    ] {
        assert_eq!(
            enc.encode(text, &all).unwrap(),
            reference.encode(text, true),
            "{text:?}"
        );
        // Non-special added tokens stay tokens even in ordinary encoding.
        assert_eq!(
            enc.encode_ordinary(text).unwrap(),
            reference.encode(text, false),
            "{text:?}"
        );
        assert_eq!(
            enc.count_ordinary(text).unwrap(),
            enc.encode_ordinary(text).unwrap().len()
        );
    }
    // The special one is refused by default, the plain one is not.
    let default = enc.policy(SpecialSet::Names(&[]), SpecialSet::All);
    assert!(enc.encode("a<|x|>", &default).is_err());
    assert_eq!(enc.encode("<t>", &default).unwrap(), vec![260]);
}
