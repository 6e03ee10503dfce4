//! Structure-aware fuzzing of the loaders and the text paths (proptest). The coverage-guided
//! targets under `fuzz/` (libFuzzer) check the same properties, from the same `support` module,
//! on mutations of real files.
//!
//! Properties, for any input: loading returns `Ok` or a `VocabError`, never panics, aborts or
//! allocates by a size the file chooses; a loaded encoding's `count` equals the length of
//! `encode`, `count_till_limit` agrees with `count`, batches agree with single calls, and
//! decoding the ids gives the text's bytes back (byte-level files without a normalizer).
//!
//! Seeds: the first lines of the bundled `cl100k_base` rank file (real base64 tokens and ranks),
//! mutated line by line; `tokenizer.json` documents built from the GPT-2 byte alphabet with
//! random vocabularies (sparse and duplicate ids), merge lists (repeats, missing parts), added
//! tokens (colliding ids) and split patterns (including catastrophic ones); SentencePiece
//! `ModelProto` documents written here (BPE and Unigram, byte pieces or not, any piece types,
//! scores including NaN and -inf, `unk_id` anywhere, whitespace options, then a few bytes
//! overwritten or the file cut); `tekken.json` documents (byte ranks plus merges, special-token
//! counts from 0 to absurd, declared sizes off by a few or by billions, listed special tokens
//! with repeated or out-of-range ranks, ranks out of order, catastrophic patterns).
//!
//! `cargo test` runs a bounded smoke (`PROPTEST_CASES`, default below); `scripts/fuzz` runs the
//! long campaign. A failure proptest shrinks becomes a regression test in `proptest-regressions/`.

use std::io::Read;

use proptest::prelude::*;

mod support;
use support::check_encoding;

fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The first `n` lines of the bundled cl100k rank file.
fn seed_rank_lines(n: usize) -> Vec<String> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/data/cl100k_base.tiktoken.gz");
    let gz = std::fs::read(path).expect("bundled rank file");
    let mut text = String::new();
    flate2::read::GzDecoder::new(&gz[..])
        .read_to_string(&mut text)
        .expect("gunzip");
    text.lines().take(n).map(str::to_owned).collect()
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
        match tokenmill_bpe::registry::from_tiktoken("fuzz", &data, r"\w+|[^\w\s]+|\s+", vec![]) {
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

/// Protobuf writing, for SentencePiece `ModelProto` documents.
fn varint(mut v: u64, out: &mut Vec<u8>) {
    loop {
        let b = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}

fn bytes_field(num: u64, body: &[u8], out: &mut Vec<u8>) {
    varint(num << 3 | 2, out);
    varint(body.len() as u64, out);
    out.extend_from_slice(body);
}

fn varint_field(num: u64, v: u64, out: &mut Vec<u8>) {
    varint(num << 3, out);
    varint(v, out);
}

#[derive(Debug, Clone)]
struct SpmDoc {
    /// (piece, score, type 1-6)
    pieces: Vec<(String, f32, u64)>,
    with_bytes: bool,
    model_type: u64,
    byte_fallback: bool,
    unk_id: u64,
    add_dummy_prefix: bool,
    remove_extra_whitespaces: bool,
    /// Byte edits after writing: (position, new byte), and a cut.
    edits: Vec<(usize, u8)>,
    cut: Option<usize>,
}

fn spm_docs() -> impl Strategy<Value = SpmDoc> {
    let piece = (
        prop_oneof![
            "[ab\u{2581}]{1,4}",
            "<0x[0-9A-F]{2}>",
            "<[su/]{1,2}>",
            "\\PC{1,3}",
        ],
        prop_oneof![
            -20.0f32..0.0,
            Just(f32::NAN),
            Just(f32::NEG_INFINITY),
            Just(0.0)
        ],
        prop_oneof![8 => Just(1u64), 1 => 2u64..7],
    );
    (
        prop::collection::vec(piece, 0..24),
        any::<bool>(),
        prop_oneof![Just(1u64), Just(2), 0u64..6],
        any::<bool>(),
        prop_oneof![6 => Just(0u64), 1 => 0u64..30, 1 => Just(u64::MAX)],
        any::<bool>(),
        any::<bool>(),
        prop_oneof![
            4 => Just(vec![]),
            1 => prop::collection::vec((any::<usize>(), any::<u8>()), 1..3),
        ],
        prop_oneof![4 => Just(None), 1 => any::<usize>().prop_map(Some)],
    )
        .prop_map(
            |(pieces, with_bytes, model_type, byte_fallback, unk_id, dummy, extra, edits, cut)| {
                SpmDoc {
                    pieces,
                    with_bytes,
                    model_type,
                    byte_fallback,
                    unk_id,
                    add_dummy_prefix: dummy,
                    remove_extra_whitespaces: extra,
                    edits,
                    cut,
                }
            },
        )
}

fn render_spm(doc: &SpmDoc) -> Vec<u8> {
    let mut pieces = vec![("<unk>".to_owned(), 0.0, 2u64)];
    if doc.with_bytes {
        pieces.extend((0..=255u8).map(|b| (format!("<0x{b:02X}>"), 0.0, 6)));
    }
    pieces.extend(doc.pieces.iter().cloned());
    let mut out = Vec::new();
    for (p, score, ty) in &pieces {
        let mut body = Vec::new();
        bytes_field(1, p.as_bytes(), &mut body);
        body.push(2 << 3 | 5);
        body.extend_from_slice(&score.to_le_bytes());
        varint_field(3, *ty, &mut body);
        bytes_field(1, &body, &mut out);
    }
    let mut trainer = Vec::new();
    varint_field(3, doc.model_type, &mut trainer);
    varint_field(35, u64::from(doc.byte_fallback), &mut trainer);
    varint_field(40, doc.unk_id, &mut trainer);
    bytes_field(2, &trainer, &mut out);
    let mut norm = Vec::new();
    bytes_field(1, b"identity", &mut norm);
    varint_field(3, u64::from(doc.add_dummy_prefix), &mut norm);
    varint_field(4, u64::from(doc.remove_extra_whitespaces), &mut norm);
    bytes_field(3, &norm, &mut out);
    if !out.is_empty() {
        for &(at, b) in &doc.edits {
            let at = at % out.len();
            out[at] = b;
        }
        if let Some(cut) = doc.cut {
            out.truncate(cut % (out.len() + 1));
        }
    }
    out
}

#[derive(Debug, Clone)]
struct TekkenDoc {
    merges: Vec<(u8, u8)>,
    n_special: u64,
    /// Added to the vocabulary size the config declares (may exceed the entries).
    size_delta: i64,
    specials: Vec<(String, u64)>,
    list_specials: bool,
    rank_swap: Option<(usize, usize)>,
    pattern: String,
}

fn tekken_docs() -> impl Strategy<Value = TekkenDoc> {
    let letters = || prop::sample::select(b"abc! ".to_vec());
    (
        prop::collection::vec((letters(), letters()), 0..8),
        prop_oneof![4 => 0u64..40, 1 => Just(1_000), 1 => Just(u64::MAX)],
        prop_oneof![8 => Just(0i64), 2 => -3i64..3, 1 => Just(i64::from(u32::MAX))],
        prop::collection::vec(("<[a-z/]{1,4}>|\\[INST\\]", 0u64..50), 0..5),
        any::<bool>(),
        prop_oneof![4 => Just(None), 1 => (0usize..300, 0usize..300).prop_map(Some)],
        prop_oneof![
            Just(r"\s+|\w+|[^\s\w]+".to_owned()),
            Just("(a|a)+$".to_owned()),
            "[ab|()*+?]{1,8}",
        ],
    )
        .prop_map(
            |(merges, n_special, size_delta, specials, list_specials, rank_swap, pattern)| {
                TekkenDoc {
                    merges,
                    n_special,
                    size_delta,
                    specials,
                    list_specials,
                    rank_swap,
                    pattern,
                }
            },
        )
}

fn b64(token: &[u8]) -> String {
    let line = tokenmill_bpe::tiktoken::write_tiktoken(std::iter::once(token));
    let line = String::from_utf8(line).expect("base64 is ASCII");
    line.split(' ').next().unwrap_or("").to_owned()
}

fn render_tekken(doc: &TekkenDoc) -> String {
    let mut tokens: Vec<Vec<u8>> = (0..=255u8).map(|b| vec![b]).collect();
    for &(l, r) in &doc.merges {
        let t = vec![l, r];
        if !tokens.contains(&t) {
            tokens.push(t);
        }
    }
    let mut ranks: Vec<u64> = (0..tokens.len() as u64).collect();
    if let Some((a, b)) = doc.rank_swap {
        let n = ranks.len();
        ranks.swap(a % n, b % n);
    }
    let vocab: Vec<serde_json::Value> = tokens
        .iter()
        .zip(&ranks)
        .map(|(t, r)| serde_json::json!({"rank": r, "token_bytes": b64(t)}))
        .collect();
    let size = (tokens.len() as i64 + doc.size_delta).max(0) as u64;
    let mut root = serde_json::json!({
        "config": {"pattern": doc.pattern, "default_vocab_size": size.saturating_add(doc.n_special),
                   "default_num_special_tokens": doc.n_special, "version": "v7"},
        "vocab": vocab,
    });
    if doc.list_specials {
        root["special_tokens"] = doc
            .specials
            .iter()
            .map(|(s, r)| serde_json::json!({"rank": r, "token_str": s, "is_control": true}))
            .collect();
    }
    root.to_string()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases(96)))]

    #[test]
    fn sentencepiece_models_load_or_fail_cleanly(doc in spm_docs(), text in texts()) {
        let data = render_spm(&doc);
        match tokenmill_bpe::spm::encoding_from_model("fuzz", &data) {
            Ok(enc) => check_encoding(&enc, &text, false),
            Err(e) => prop_assert!(!e.to_string().is_empty()),
        }
    }

    #[test]
    fn arbitrary_bytes_as_sentencepiece_model(data in prop::collection::vec(any::<u8>(), 0..300)) {
        let _ = tokenmill_bpe::spm::encoding_from_model("fuzz", &data);
        let _ = tokenmill_bpe::load::encoding_from_bytes("fuzz", &data);
    }

    #[test]
    fn tekken_files_load_or_fail_cleanly(doc in tekken_docs(), text in texts()) {
        let json = render_tekken(&doc);
        match tokenmill_bpe::load::encoding_from_bytes("fuzz", json.as_bytes()) {
            Ok((format, enc)) => {
                prop_assert_eq!(format, tokenmill_bpe::load::Format::Tekken);
                check_encoding(&enc, &text, false);
            }
            Err(e) => prop_assert!(!e.to_string().is_empty()),
        }
    }
}
