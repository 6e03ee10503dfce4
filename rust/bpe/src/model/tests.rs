use super::construct::never_in_utf8;
use super::reference::{naive_merge, reference_merge};
use super::*;
use crate::vocab::key_and_hash;
use crate::VocabError;
use proptest::prelude::*;

fn byte_vocab() -> Vec<Vec<u8>> {
    (0..=255u8).map(|b| vec![b]).collect()
}

pub(crate) fn cl100k() -> &'static BpeModel {
    static M: std::sync::OnceLock<BpeModel> = std::sync::OnceLock::new();
    M.get_or_init(|| {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/data/cl100k_base.tiktoken.gz");
        let data = std::fs::read(path).unwrap();
        BpeModel::from_ranks(crate::tiktoken::parse_tiktoken(&data).unwrap()).unwrap()
    })
}

fn fast(m: &BpeModel, piece: &[u8]) -> Vec<Rank> {
    let mut out = Vec::new();
    if piece.len() <= SMALL {
        m.merge_small(piece, |id| out.push(id));
    } else {
        m.merge_long(piece, |id| out.push(id));
    }
    out
}

fn all_engines_agree(m: &BpeModel, piece: &[u8]) {
    let mut reference = Vec::new();
    reference_merge(m, piece, &mut reference);
    let mut long = Vec::new();
    m.merge_long(piece, |id| long.push(id));
    assert_eq!(long, reference, "heap engine on {piece:?}");
    if piece.len() <= SMALL {
        let mut small = Vec::new();
        m.merge_small(piece, |id| small.push(id));
        assert_eq!(small, reference, "small engine on {piece:?}");
    }
    if piece.len() <= 300 {
        assert_eq!(naive_merge(m, piece), reference, "naive on {piece:?}");
    }
    assert_eq!(fast(m, piece), reference);
    let mut enc = Vec::new();
    m.encode_piece(piece, &mut enc);
    assert_eq!(m.count_piece(piece), enc.len());
    if !m.whole_piece_lookup {
        // Merge lists without `ignore_merges`: the whole-piece lookup of tokens learnt to
        // encode to themselves must give what merging gives (the first call learns).
        assert_eq!(enc, reference, "encode_piece on {piece:?}");
        let mut again = Vec::new();
        m.encode_piece(piece, &mut again);
        assert_eq!(again, reference, "encode_piece again on {piece:?}");
        assert_eq!(m.count_piece(piece), reference.len());
    }
    let decoded: Vec<u8> = enc
        .iter()
        .flat_map(|&id| m.token_bytes(id).unwrap().to_vec())
        .collect();
    assert_eq!(decoded, piece);
}

#[test]
fn ranks_merge_lowest_rank_first() {
    let mut toks = byte_vocab();
    toks.push(b"ab".to_vec()); // 256
    toks.push(b"bc".to_vec()); // 257
    toks.push(b"abc".to_vec()); // 258
    let m = BpeModel::from_ranks(toks).unwrap();
    let mut out = Vec::new();
    m.encode_piece(b"abcx", &mut out);
    // "ab" (256) beats "bc" (257); then "ab"+"c" = "abc" (258).
    assert_eq!(out, vec![258, u32::from(b'x')]);
    assert_eq!(m.count_piece(b"abcx"), 2);
}

#[test]
fn merges_ignore_unlisted_pairs() {
    let mut vocab: Vec<(Vec<u8>, Rank)> = byte_vocab()
        .into_iter()
        .enumerate()
        .map(|(i, t)| (t, i as Rank))
        .collect();
    vocab.push((b"ab".to_vec(), 256));
    vocab.push((b"abc".to_vec(), 257));
    vocab.push((b"bc".to_vec(), 258));
    // Only "b"+"c" is a merge; "ab" is in the vocab but never formed.
    let m = BpeModel::from_merges(vocab, vec![(b"b".to_vec(), b"c".to_vec())], false).unwrap();
    let mut out = Vec::new();
    m.encode_piece(b"abc", &mut out);
    assert_eq!(out, vec![u32::from(b'a'), 258]);
    all_engines_agree(&m, &b"abcabcabbcbcbcbabcbabcbabcabcbabcbacbacbabcbabcbacbabcabcbabcbabcbacbacbabcbabcbacbabcab"[..]);
}

#[test]
fn missing_byte_is_an_error() {
    let toks: Vec<Vec<u8>> = (0..=254u8).map(|b| vec![b]).collect();
    assert!(matches!(
        BpeModel::from_ranks(toks),
        Err(VocabError::InvalidVocab(_))
    ));
}

#[test]
fn every_token_is_found_through_the_filter_and_the_pair_table() {
    for name in ["cl100k_base", "o200k_base"] {
        let enc = crate::registry::bundled_encoding(name).unwrap();
        let m = enc.model().unwrap();
        let mut rejected = 0usize;
        for id in 0..m.n_ids() as Rank {
            let Some(bytes) = m.token_bytes(id) else {
                continue;
            };
            let (_, h) = key_and_hash(bytes);
            assert!(
                m.vocab.maybe_token(h),
                "{name}: the filter rejects token {id}"
            );
            assert_eq!(m.token_id(bytes), Some(id), "{name}: token {id}");
            if let [a, b] = *bytes {
                assert_eq!(m.byte_pairs[usize::from(a) << 8 | usize::from(b)], id);
            }
        }
        // The filter is useful: most non-tokens are rejected without a table probe.
        for i in 0..100_000u32 {
            let probe = [b'#', (i % 251) as u8, (i / 251) as u8, b'~', 0xff];
            if m.token_id(&probe).is_none() && !m.vocab.maybe_token(key_and_hash(&probe).1) {
                rejected += 1;
            }
        }
        assert!(
            rejected > 90_000,
            "{name}: filter rejected only {rejected} of 100000"
        );
    }
}

#[test]
fn duplicate_token_is_an_error() {
    let mut toks = byte_vocab();
    toks.push(b"a".to_vec());
    let e = BpeModel::from_ranks(toks).unwrap_err();
    assert!(e.to_string().contains("appears twice"), "{e}");
}

#[test]
fn long_runs_match_reference() {
    let m = cl100k();
    for n in [1, 2, 3, 63, 64, 65, 500, 1000, 4097] {
        all_engines_agree(m, &vec![b'a'; n]);
        all_engines_agree(m, &vec![b' '; n]);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]
    #[test]
    fn random_letters_match_reference(s in "[a-z]{1,700}") {
        all_engines_agree(cl100k(), s.as_bytes());
    }

    #[test]
    fn random_base64_match_reference(s in "[A-Za-z0-9+/]{1,200}") {
        all_engines_agree(cl100k(), s.as_bytes());
    }

    #[test]
    fn random_bytes_match_reference(b in prop::collection::vec(any::<u8>(), 1..120)) {
        all_engines_agree(cl100k(), &b);
    }

    #[test]
    fn random_merge_lists_match_reference(
        merges in prop::collection::vec((0u8..6, 0u8..6, 0usize..40, 0usize..40), 0..30),
        piece in prop::collection::vec(0u8..6, 1..150),
    ) {
        // Build a merge-list vocabulary over the letters a..f: each merge joins two earlier
        // tokens (chosen by index), so the list is always consistent.
        let mut vocab: Vec<(Vec<u8>, Rank)> = byte_vocab()
            .into_iter()
            .enumerate()
            .map(|(i, t)| (t, i as Rank))
            .collect();
        let mut tokens: Vec<Vec<u8>> = (0..6u8).map(|c| vec![b'a' + c]).collect();
        let mut list = Vec::new();
        for (a, b, i, j) in merges {
            let l = if i < tokens.len() { tokens[i].clone() } else { vec![b'a' + a] };
            let r = if j < tokens.len() { tokens[j].clone() } else { vec![b'a' + b] };
            let mut joined = l.clone();
            joined.extend_from_slice(&r);
            if !vocab.iter().any(|(t, _)| *t == joined) {
                vocab.push((joined.clone(), vocab.len() as Rank));
                tokens.push(joined);
            }
            list.push((l, r));
        }
        let piece: Vec<u8> = piece.into_iter().map(|c| b'a' + c).collect();
        for ignore in [false, true] {
            let m = BpeModel::from_merges(vocab.clone(), list.clone(), ignore).unwrap();
            all_engines_agree(&m, &piece);
            // Every token as a piece, and two tokens joined: lists whose merges make a token from
            // several pairs, or merge it before its parts, are not rank vocabularies, and some
            // of their tokens do not encode to themselves.
            for (t, _) in &vocab[256..] {
                all_engines_agree(&m, t);
                all_engines_agree(&m, &[t.as_slice(), &piece[..piece.len().min(5)]].concat());
            }
        }
    }

}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]
    #[test]
    fn converted_rank_vocabularies_match_reference(
        joins in prop::collection::vec((0usize..64, 0usize..64), 0..40),
        by_rank in any::<bool>(),
        seed in any::<u64>(),
        piece in prop::collection::vec(0u8..4, 1..90),
    ) {
        // A rank vocabulary over a..d (tokens joined from earlier ones), written as a merge list
        // the way tiktoken vocabularies are converted: for each token in rank order every split
        // into two tokens, ordered by the parts' ranks (or shuffled). Merge order then follows
        // merged ids and tokens have several listed splits, which compete when two candidates
        // make the same token: the engine orders by merged id and must fall back to merge
        // indices exactly then.
        let mut toks = byte_vocab();
        let mut made: Vec<Vec<u8>> = (0..4u8).map(|c| vec![b'a' + c]).collect();
        for (i, j) in joins {
            let joined = [made[i % made.len()].clone(), made[j % made.len()].clone()].concat();
            if !toks.contains(&joined) {
                toks.push(joined.clone());
                made.push(joined);
            }
        }
        let rank = |b: &[u8]| toks.iter().position(|t| t == b);
        let mut merges = Vec::new();
        let mut state = seed | 1;
        for t in &toks[256..] {
            let mut local: Vec<(usize, usize, usize)> = (1..t.len())
                .filter_map(|k| Some((rank(&t[..k])?, rank(&t[k..])?, k)))
                .collect();
            if by_rank {
                local.sort_unstable();
            } else {
                for x in (1..local.len()).rev() {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    local.swap(x, (state % (x as u64 + 1)) as usize);
                }
            }
            merges.extend(local.into_iter().map(|(_, _, k)| (t[..k].to_vec(), t[k..].to_vec())));
        }
        let vocab: Vec<(Vec<u8>, Rank)> =
            toks.iter().enumerate().map(|(i, t)| (t.clone(), i as Rank)).collect();
        let piece: Vec<u8> = piece.into_iter().map(|c| b'a' + c).collect();
        for ignore in [false, true] {
            let m = BpeModel::from_merges(vocab.clone(), merges.clone(), ignore).unwrap();
            prop_assert!(m.rank_order);
            all_engines_agree(&m, &piece);
            for t in &toks[256..] {
                all_engines_agree(&m, &[t.as_slice(), t.as_slice(), &piece[..piece.len().min(7)]].concat());
            }
        }
    }
}

#[test]
fn merge_lists_may_lack_bytes_that_utf8_never_uses() {
    // DeepSeek's files have no token for 0xC0, 0xC1, 0xF5-0xFF. Such a byte can only come
    // through the raw-byte entry points; it is dropped and its neighbours merge across the
    // gap, as Hugging Face does with a character its vocabulary lacks (no `unk_token`).
    let mut vocab: Vec<(Vec<u8>, Rank)> = (0..=255u8)
        .filter(|&b| !never_in_utf8(b))
        .map(|b| (vec![b], Rank::from(b)))
        .collect();
    vocab.push((b"ab".to_vec(), 256));
    let m =
        BpeModel::from_merges(vocab.clone(), vec![(b"a".to_vec(), b"b".to_vec())], false).unwrap();
    for piece in [
        &b"a\xc0b"[..],
        b"\xffa\xf5\xc1b\xfe",
        b"a\xc0b\xff".repeat(30).as_slice(),
    ] {
        let mut out = Vec::new();
        m.encode_piece(piece, &mut out);
        assert!(out.iter().all(|&id| id == 256), "{piece:?} -> {out:?}");
        assert_eq!(m.count_piece(piece), out.len());
    }
    let mut out = Vec::new();
    m.encode_piece(b"\xc0", &mut out);
    assert!(out.is_empty());
    // A byte that UTF-8 text does use stays required, and rank vocabularies need all 256.
    vocab.retain(|(b, _)| b != b"a");
    assert!(BpeModel::from_merges(vocab, vec![], false).is_err());
    let toks: Vec<Vec<u8>> = (0..=255u8)
        .filter(|&b| b != 0xC0)
        .map(|b| vec![b])
        .collect();
    assert!(BpeModel::from_ranks(toks).is_err());
}
