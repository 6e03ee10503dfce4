use super::*;

#[path = "../../tests/support/proto.rs"]
mod proto;

/// A protobuf `ModelProto` with the given pieces (piece, score, type) and trainer fields.
fn model_bytes(pieces: &[(&str, f32, u8)], model_type: u8, byte_fallback: bool) -> Vec<u8> {
    use proto::bytes_field as field;
    let mut out = Vec::new();
    for (p, score, ty) in pieces {
        let mut body = Vec::new();
        field(1, p.as_bytes(), &mut body);
        body.push(2 << 3 | 5);
        body.extend_from_slice(&score.to_le_bytes());
        body.push(3 << 3);
        body.push(*ty);
        field(1, &body, &mut out);
    }
    let mut trainer = vec![3 << 3, model_type];
    trainer.extend_from_slice(&[(35 << 3) as u8 | 0x80, 0x02, u8::from(byte_fallback)]);
    field(2, &trainer, &mut out);
    let mut norm = Vec::new();
    field(1, b"identity", &mut norm);
    norm.extend_from_slice(&[4 << 3, 0]); // remove_extra_whitespaces = false
    field(3, &norm, &mut out);
    out
}

fn toy_bpe() -> Vec<u8> {
    // unk, control, then pieces whose scores decide the merge order.
    let mut pieces = vec![("<unk>", 0.0, 2), ("<s>", 0.0, 3)];
    pieces.extend([
        ("\u{2581}", -1.0, 1),
        ("a", -2.0, 1),
        ("b", -3.0, 1),
        ("c", -4.0, 1),
        ("ab", -5.0, 1),
        ("bc", -5.0, 1),
        ("\u{2581}ab", -6.0, 1),
        ("abc", -7.0, 1),
    ]);
    model_bytes(&pieces, 2, false)
}

fn ids(enc: &Encoding, text: &str) -> Vec<Rank> {
    enc.encode_ordinary(text).unwrap()
}

#[test]
fn bpe_merges_by_score_then_leftmost() {
    let enc = encoding_from_model("toy", &toy_bpe()).unwrap();
    // "▁abc": "ab" and "bc" tie on score; the leftmost ("ab") goes first, then "▁"+"ab"
    // (-6) beats "ab"+"c" (-7).
    assert_eq!(ids(&enc, "abc"), vec![8, 5]);
    // Unknown characters without byte fallback: one unknown token per run, as sentencepiece.
    assert_eq!(ids(&enc, "xy"), vec![2, 0]);
    assert_eq!(ids(&enc, "xaz"), vec![2, 0, 3, 0]);
    assert_eq!(enc.decode_bytes(&[8, 5]).unwrap(), b"abc");
    assert_eq!(enc.count_ordinary("abc abc").unwrap(), 4);
}

#[test]
fn truncated_and_hostile_files_name_the_byte() {
    let data = toy_bpe();
    for cut in [1, 5, data.len() / 2, data.len() - 1] {
        let e = encoding_from_model("toy", &data[..cut])
            .unwrap_err()
            .to_string();
        assert!(e.contains("byte "), "{e}");
    }
    // A length field claiming 2^60 bytes is refused before any allocation.
    let mut huge = vec![1 << 3 | 2];
    huge.extend_from_slice(&[0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x10]);
    let e = encoding_from_model("x", &huge).unwrap_err().to_string();
    assert!(e.contains("runs past the end"), "{e}");
    assert!(encoding_from_model("x", b"").is_err());
    assert!(encoding_from_model("x", &[0xff; 40]).is_err());
}

#[test]
fn normalizer_follows_sentencepiece_whitespace_rules() {
    let n = |remove: bool, prepend: Prepend, text: &str, at_start: bool| {
        SpNormalizer {
            inner: None,
            remove_extra_whitespaces: remove,
            escape: true,
            prepend,
            prepend_unless_space: false,
            rules: None,
        }
        .normalize_segment(text, at_start)
        .unwrap()
        .into_owned()
    };
    assert_eq!(n(false, Prepend::First, "a  b ", true), "▁a▁▁b▁");
    assert_eq!(n(true, Prepend::First, "  a  b ", true), "▁a▁b");
    assert_eq!(n(true, Prepend::First, "   ", true), "");
    assert_eq!(n(false, Prepend::First, "", true), "");
    assert_eq!(n(false, Prepend::First, "a", false), "a");
    assert_eq!(n(false, Prepend::Always, "a", false), "▁a");
}

#[test]
fn cuts_before_space_runs_only() {
    let s = SpSplit::new(&["<x>".to_owned()], Cut::SpaceRuns).unwrap();
    let mut got = Vec::new();
    s.split("▁a▁▁b<x>c▁", &mut |p| got.push(p.to_owned()))
        .unwrap();
    assert_eq!(got, ["▁a", "▁▁b", "<x>", "c", "▁"]);
    let s = SpSplit::new(&[], Cut::EverySpace).unwrap();
    got.clear();
    s.split("▁a▁▁b", &mut |p| got.push(p.to_owned())).unwrap();
    assert_eq!(got, ["▁a", "▁", "▁b"]);
    assert!(space_inside(["▁▁", "a▁b"]));
    assert!(!space_inside(["▁▁", "▁ab", "x"]));
}

#[test]
fn byte_pieces_only_with_byte_fallback_and_only_as_bytes() {
    // sentencepiece refuses both files ("byte piece ... is found although `byte_fallback` is
    // false", "byte piece ... is invalid"); a misnamed byte piece once loaded here and encoded
    // "1" to an id that decode_bytes called unknown.
    let mut pieces = vec![("<unk>", 0.0, 2)];
    let bytes: Vec<String> = (0..=255u8).map(|b| format!("<0x{b:02X}>")).collect();
    pieces.extend(bytes.iter().map(|b| (b.as_str(), 0.0, 6)));
    pieces.push(("\u{2581}", 0.0, 6));
    let e = encoding_from_model("t", &model_bytes(&pieces, 2, true)).err();
    assert!(e.is_some_and(|e| e.to_string().contains("byte piece \"\u{2581}\" is invalid")));
    pieces.pop();
    let e = encoding_from_model("t", &model_bytes(&pieces, 2, false)).err();
    assert!(e.is_some_and(|e| e.to_string().contains("byte_fallback is false")));
    let enc = encoding_from_model("t", &model_bytes(&pieces, 2, true)).expect("loads");
    let ids = ids(&enc, "1");
    let raw: Vec<i64> = ids.iter().map(|&i| i64::from(i)).collect();
    // the dummy prefix has no piece: its UTF-8 bytes come through byte fallback
    assert_eq!(ids.len(), 4);
    assert_eq!(
        enc.decode_bytes(&raw).expect("decodes"),
        "\u{2581}1".as_bytes()
    );
}

proptest::proptest! {
    /// The scanning merge of short pieces gives what the heap gives.
    #[test]
    fn merge_scan_equals_merge_heap(
        table in proptest::collection::vec((0u32..6, 0u32..6, 0u32..4, 0u32..9), 0..40),
        ids in proptest::collection::vec(0u32..9, 0..=SCAN_MAX),
    ) {
        let pairs: FxHashMap<(Rank, Rank), (u32, Rank)> =
            table.iter().map(|&(l, r, p, m)| ((l, r), (p, m))).collect();
        let mut a = Vec::new();
        for (k, &id) in ids.iter().enumerate() {
            push_sym(&mut a, k, k + 1, id);
        }
        let mut b = a.clone();
        merge_scan(&mut a, |l, r| pairs.get(&(l, r)).copied());
        merge_heap(&mut b, |l, r| pairs.get(&(l, r)).copied());
        let spans = |s: &[Sym]| alive(s).map(|s| (s.start, s.end, s.id)).collect::<Vec<_>>();
        proptest::prop_assert_eq!(spans(&a), spans(&b));
    }
}
