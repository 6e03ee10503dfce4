//! Structure-aware fuzzing of the loaders and the text paths (proptest; coverage-guided
//! `cargo fuzz` needs a nightly toolchain and libFuzzer that CI does not install).
//!
//! Properties, for any input: loading returns `Ok` or a `VocabError`, never panics, aborts or
//! allocates by a size the file chooses; a loaded encoding's `count` equals the length of
//! `encode`, `count_till_limit` agrees with `count`, batches agree with single calls, and
//! decoding the ids gives the text's bytes back (byte-level files without a normalizer).
//!
//! Seeds: the first lines of the bundled `cl100k_base` rank file (real base64 tokens and ranks),
//! mutated line by line; `tokenizer.json` documents built from the GPT-2 byte alphabet with
//! random vocabularies (sparse and duplicate ids), merge lists (repeats, missing parts), added
//! tokens (colliding ids) and split patterns (including catastrophic ones).
//!
//! `cargo test` runs a bounded smoke (`PROPTEST_CASES`, default below); `scripts/fuzz` runs the
//! long campaign. A failure proptest shrinks becomes a regression test in `proptest-regressions/`.

use std::io::Read;

use proptest::prelude::*;
use tokenmill_bpe::{Encoding, SpecialSet, VocabError};

fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The first `n` lines of the bundled cl100k rank file.
fn seed_rank_lines(n: usize) -> Vec<String> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../python/tokenmill/data/cl100k_base.tiktoken.gz"
    );
    let gz = std::fs::read(path).expect("bundled rank file");
    let mut text = String::new();
    flate2::read::GzDecoder::new(&gz[..])
        .read_to_string(&mut text)
        .expect("gunzip");
    text.lines().take(n).map(str::to_owned).collect()
}

/// Everything a loaded encoding must satisfy on `text`.
fn check_encoding(enc: &Encoding, text: &str, byte_exact: bool) {
    let all = enc.policy(SpecialSet::All, SpecialSet::Names(&[]));
    let ids = match enc.encode(text, &all) {
        Ok(ids) => ids,
        Err(VocabError::PatternFailed { .. }) => {
            // The same failure from every path.
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

fn texts() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-c !.1-3\n]{0,40}",
        "\\PC{0,30}",
        "(a{1,30}!?|<x>|<y>| ){0,6}",
    ]
}

fn mutated_rank_file(seed: Vec<String>) -> impl Strategy<Value = Vec<u8>> {
    let n = seed.len();
    let edits = prop::collection::vec((0..n, 0u8..6, any::<u32>(), "[ -~]{0,6}"), 0..4);
    (Just(seed), edits).prop_map(|(mut lines, edits)| {
        for (i, kind, x, s) in edits {
            if lines.is_empty() {
                lines.push(s.clone());
            }
            let i = i % lines.len();
            let other = x as usize % lines.len();
            match kind {
                // A garbage line, a changed rank, out of order, a duplicate, a gap, junk.
                0 => lines[i] = s,
                1 => {
                    let b64 = lines[i].split(' ').next().unwrap_or("").to_owned();
                    lines[i] = format!("{b64} {x}");
                }
                2 => lines.swap(i, other),
                3 => {
                    let copy = lines[other].clone();
                    lines.insert(i, copy);
                }
                4 => {
                    lines.remove(i);
                }
                _ => lines[i].push_str(&s),
            }
        }
        (lines.join("\n") + "\n").into_bytes()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases(48)))]

    #[test]
    fn tiktoken_files_load_or_fail_cleanly(
        data in mutated_rank_file(seed_rank_lines(300)),
        text in texts(),
    ) {
        match tokenmill_bpe::openai::from_tiktoken("fuzz", &data, r"\w+|[^\w\s]+|\s+", vec![]) {
            Ok(enc) => check_encoding(&enc, &text, true),
            Err(e) => prop_assert!(!e.to_string().is_empty()),
        }
    }

    #[test]
    fn arbitrary_bytes_as_rank_file(data in prop::collection::vec(any::<u8>(), 0..400)) {
        let _ = tokenmill_bpe::tiktoken::parse_tiktoken(&data);
        let mut gz = vec![0x1f, 0x8b];
        gz.extend_from_slice(&data);
        let _ = tokenmill_bpe::tiktoken::parse_tiktoken(&gz);
    }
}

/// The GPT-2 byte-level alphabet, byte order: printable Latin-1 bytes stand for themselves,
/// the others map to U+0100 onwards in byte order.
fn byte_alphabet() -> Vec<String> {
    let mut next = 256u32;
    (0u32..256)
        .map(|b| {
            let printable = (33..=126).contains(&b) || (161..=172).contains(&b) || b >= 174;
            let c = if printable {
                b
            } else {
                next += 1;
                next - 1
            };
            char::from_u32(c).map(String::from).unwrap_or_default()
        })
        .collect()
}

#[derive(Debug, Clone)]
struct Doc {
    merges: Vec<(u8, u8)>,
    extra_ids: Vec<(String, u64)>,
    added: Vec<(String, u64, bool)>,
    pattern: Option<String>,
}

fn docs() -> impl Strategy<Value = Doc> {
    let letters = || prop::sample::select(b"abc! ".to_vec());
    (
        prop::collection::vec((letters(), letters()), 0..8),
        prop::collection::vec(
            (
                "[abc]{2,3}",
                prop_oneof![0u64..400, Just(4_000_000_000u64), Just(100_000_000)],
            ),
            0..3,
        ),
        prop::collection::vec(("<[xyz]>|ab|a", 0u64..600, any::<bool>()), 0..4),
        prop::option::of(prop_oneof![
            Just("(a|a)+$".to_owned()),
            Just(r"\s+|\w+".to_owned()),
            Just("a*".to_owned()),
            "[ab|()*+?]{1,8}",
        ]),
    )
        .prop_map(|(merges, extra_ids, added, pattern)| Doc {
            merges,
            extra_ids,
            added,
            pattern,
        })
}

fn render(doc: &Doc) -> String {
    let alphabet = byte_alphabet();
    let mut vocab: Vec<(String, u64)> = alphabet
        .iter()
        .enumerate()
        .map(|(i, c)| (c.clone(), i as u64))
        .collect();
    let mut merges = Vec::new();
    for &(l, r) in &doc.merges {
        let (l, r) = (&alphabet[usize::from(l)], &alphabet[usize::from(r)]);
        let joined = format!("{l}{r}");
        if !vocab.iter().any(|(t, _)| *t == joined) {
            vocab.push((joined, vocab.len() as u64));
        }
        merges.push(serde_json::Value::String(format!("{l} {r}")));
    }
    let mut vocab_map = serde_json::Map::new();
    for (t, id) in vocab.into_iter().chain(doc.extra_ids.iter().cloned()) {
        vocab_map.insert(t, id.into());
    }
    let added: Vec<serde_json::Value> = doc
        .added
        .iter()
        .map(|(c, id, special)| {
            serde_json::json!({"id": id, "content": c, "special": special, "normalized": false})
        })
        .collect();
    let byte_level = serde_json::json!({"type": "ByteLevel", "add_prefix_space": false,
        "use_regex": doc.pattern.is_none()});
    let pre = match &doc.pattern {
        Some(p) => serde_json::json!({"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": p}, "behavior": "Isolated", "invert": false},
            byte_level]}),
        None => byte_level,
    };
    serde_json::json!({
        "version": "1.0", "added_tokens": added, "normalizer": null, "pre_tokenizer": pre,
        "decoder": {"type": "ByteLevel"},
        "model": {"type": "BPE", "vocab": vocab_map, "merges": merges}
    })
    .to_string()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases(96)))]

    #[test]
    fn tokenizer_json_files_load_or_fail_cleanly(doc in docs(), text in texts()) {
        let json = render(&doc);
        match tokenmill_bpe::hf::encoding_from_json("fuzz", json.as_bytes()) {
            Ok(enc) => check_encoding(&enc, &text, true),
            Err(e) => prop_assert!(!e.to_string().is_empty()),
        }
    }

    #[test]
    fn arbitrary_bytes_as_tokenizer_json(data in prop::collection::vec(any::<u8>(), 0..300)) {
        let _ = tokenmill_bpe::hf::encoding_from_json("fuzz", &data);
    }
}
