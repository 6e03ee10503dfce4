//! Table cache: hits give what the document gives; damaged, truncated or foreign entries are
//! rebuilt, never trusted; an unwritable directory only costs the cache.

use super::super::tests::doc;
use super::*;
use crate::SpecialSet;

/// A file with merges, a normalizer, a Split step, added tokens (special and not) and a
/// post-processor: every part an entry stores.
fn document() -> String {
    document_with("a a,aa a,Ġ a,b c,a b,ab c,1 2,12 3,Ġ Ġ,ĠĠ ĠĠ,Ġa a,y y")
}

fn document_with(merges: &str) -> String {
    let pre = r#"{"type": "Sequence", "pretokenizers": [
        {"type": "Split", "pattern": {"Regex": "\\d{1,3}"}, "behavior": "Isolated", "invert": false},
        {"type": "ByteLevel", "add_prefix_space": false, "use_regex": true}]}"#;
    let extra = r#""normalizer": {"type": "Replace", "pattern": {"String": "x"}, "content": "y"},
        "added_tokens": [
        {"id": 300, "content": "<|s|>", "special": true, "normalized": false},
        {"id": 301, "content": "<t>", "special": false, "normalized": false}],
        "post_processor": {"type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": "<|s|>", "type_id": 0}},
                       {"Sequence": {"id": "A", "type_id": 0}}],
            "special_tokens": {"<|s|>": {"id": "<|s|>", "ids": [300], "tokens": ["<|s|>"]}}},"#;
    doc(merges, pre, extra)
}

const TEXTS: [&str; 6] = [
    "abc aaaa bc",
    "x xx yyy 123456 7",
    "<|s|>abc<t>aaa",
    "    aaaaaaa",
    "\u{e9}t\u{e9} \u{4e2d}\u{6587} abcabc",
    "",
];

/// Every text's ids, all specials allowed, and the template.
fn fingerprint(l: &Loaded) -> (Vec<Vec<Rank>>, post::Template, usize) {
    let enc = &l.encoding;
    let policy = enc.policy(SpecialSet::All, SpecialSet::Names(&[]));
    let ids = TEXTS
        .iter()
        .map(|t| enc.encode(t, &policy).unwrap())
        .collect();
    (ids, l.template.clone(), enc.n_vocab())
}

/// A fresh directory under the system's temporary directory.
fn temp_dir(tag: &str) -> PathBuf {
    static N: AtomicU64 = AtomicU64::new(0);
    let d = std::env::temp_dir().join(format!(
        "tokenmill-table-cache-{tag}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = fs::remove_dir_all(&d);
    fs::create_dir_all(&d).unwrap();
    d
}

fn entry_path(dir: &Path, json: &[u8]) -> PathBuf {
    dir.join(format!("{}.tables", hex(&Sha256::digest(json))))
}

#[test]
fn hit_equals_uncached_build() {
    let json = document();
    let dir = temp_dir("hit");
    let plain = load("t", json.as_bytes(), None).unwrap();
    assert_eq!(plain.status, CacheStatus::Off);
    let first = load("t", json.as_bytes(), Some(&dir)).unwrap();
    assert_eq!(first.status, CacheStatus::Stored);
    let second = load("t", json.as_bytes(), Some(&dir)).unwrap();
    assert_eq!(second.status, CacheStatus::Hit);
    let want = fingerprint(&plain);
    // The reference pipeline (Hugging Face's order of operations) agrees with the document.
    let hf = HfTokenizer::from_json(json.as_bytes()).unwrap();
    for (t, ids) in TEXTS.iter().zip(&want.0) {
        assert_eq!(&hf.encode(t, true), ids, "{t:?}");
    }
    assert_eq!(want.1.prefix, [300]);
    assert_eq!(fingerprint(&first), want);
    assert_eq!(fingerprint(&second), want);
    let specials = |l: &Loaded| l.encoding.special_tokens().to_vec();
    assert_eq!(specials(&second), specials(&plain));
    // No temporary file is left behind.
    let names: Vec<_> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(names, [entry_path(&dir, json.as_bytes())]);
    fs::remove_dir_all(dir).unwrap();
}

#[test]
fn another_document_misses() {
    let dir = temp_dir("miss");
    let a = document();
    // The same merges in another order: other ids and other priorities.
    let b = document_with("a b,b c,ab c,a a,aa a,Ġ a,1 2,12 3,Ġ Ġ,ĠĠ ĠĠ,Ġa a,y y");
    assert_eq!(
        load("t", a.as_bytes(), Some(&dir)).unwrap().status,
        CacheStatus::Stored
    );
    let lb = load("t", b.as_bytes(), Some(&dir)).unwrap();
    assert_eq!(lb.status, CacheStatus::Stored);
    let want = fingerprint(&load("t", b.as_bytes(), None).unwrap());
    assert_eq!(fingerprint(&lb), want);
    assert_ne!(want, fingerprint(&load("t", a.as_bytes(), None).unwrap()));
    fs::remove_dir_all(dir).unwrap();
}

/// Load through a cache whose entry was replaced by `damage(entry)`: the tables must come from
/// the document (and a good entry be written back).
fn after_damage(tag: &str, damage: impl Fn(&mut Vec<u8>)) {
    let json = document();
    let dir = temp_dir(tag);
    let want = fingerprint(&load("t", json.as_bytes(), None).unwrap());
    load("t", json.as_bytes(), Some(&dir)).unwrap();
    let path = entry_path(&dir, json.as_bytes());
    let mut entry = fs::read(&path).unwrap();
    damage(&mut entry);
    fs::write(&path, &entry).unwrap();
    let l = load("t", json.as_bytes(), Some(&dir)).unwrap();
    assert_eq!(l.status, CacheStatus::Replaced, "{tag}");
    assert_eq!(fingerprint(&l), want, "{tag}");
    let again = load("t", json.as_bytes(), Some(&dir)).unwrap();
    assert_eq!(again.status, CacheStatus::Hit, "{tag}");
    fs::remove_dir_all(dir).unwrap();
}

#[test]
fn damaged_entries_are_rebuilt() {
    after_damage("flip-payload", |e| {
        let k = e.len() - 7;
        e[k] ^= 0x10;
    });
    after_damage("flip-checksum", |e| e[HEADER - 1] ^= 1);
    after_damage("truncated", |e| e.truncate(e.len() / 2));
    after_damage("header-only", |e| e.truncate(HEADER));
    after_damage("empty", Vec::clear);
    after_damage("longer", |e| e.extend_from_slice(b"tail"));
    after_damage("other-build", |e| e[16] ^= 1);
    after_damage("other-format", |e| e[8] = 99);
    after_damage("other-document", |e| e[24] ^= 1);
}

#[test]
fn every_truncation_and_byte_flip_is_refused() {
    let json = document();
    let dir = temp_dir("every");
    load("t", json.as_bytes(), Some(&dir)).unwrap();
    let entry = fs::read(entry_path(&dir, json.as_bytes())).unwrap();
    let digest: [u8; 32] = Sha256::digest(json.as_bytes()).into();
    assert!(from_entry("t", &entry, &digest).is_some());
    for n in 0..entry.len() {
        assert!(
            from_entry("t", &entry[..n], &digest).is_none(),
            "cut at {n}"
        );
    }
    for k in (0..entry.len()).step_by(3) {
        let mut e = entry.clone();
        e[k] ^= 0x41;
        assert!(from_entry("t", &e, &digest).is_none(), "flip at {k}");
    }
    fs::remove_dir_all(dir).unwrap();
}

/// An entry with a valid header and checksum around `payload`.
fn sealed(payload: &[u8], digest: &[u8; 32]) -> Vec<u8> {
    let mut e = Vec::new();
    e.extend_from_slice(MAGIC);
    e.extend_from_slice(&FORMAT.to_le_bytes());
    e.extend_from_slice(&0u32.to_le_bytes());
    e.extend_from_slice(&BUILD_ID.to_le_bytes());
    e.extend_from_slice(digest);
    e.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    e.extend_from_slice(&checksum(payload).to_le_bytes());
    e.extend_from_slice(payload);
    e
}

#[test]
fn checksummed_but_inconsistent_tables_are_refused() {
    let json = document();
    let root = parse_json(json.as_bytes()).unwrap();
    let hf = HfTokenizer::from_value(&root).unwrap();
    let template = post::Template::default();
    let pipeline = serde_json::json!({"pre_tokenizer": root["pre_tokenizer"]});
    let good = hf.model.merge_tables().unwrap();
    let digest = [7u8; 32];
    let entry = |t: &MergeTables<'_>, added: &[AddedToken]| {
        sealed(&payload(&pipeline, t, added, &template), &digest)
    };
    assert!(from_entry("t", &entry(&good, &hf.added_tokens), &digest).is_some());
    let variant = |f: &dyn Fn(&mut MergeTables<'static>)| {
        let mut t = MergeTables {
            data: Cow::Owned(good.data.to_vec()),
            offsets: Cow::Owned(good.offsets.to_vec()),
            pairs: good.pairs.clone(),
            whole_piece_lookup: false,
            self_encoding: Cow::Owned(good.self_encoding.to_vec()),
        };
        f(&mut t);
        from_entry("t", &entry(&t, &hf.added_tokens), &digest).is_none()
    };
    assert!(variant(&|t| t.offsets.to_mut()[3] = u32::MAX));
    assert!(variant(&|t| t
        .offsets
        .to_mut()
        .pop()
        .map(drop)
        .unwrap_or(())));
    assert!(variant(&|t| t.data.to_mut().push(b'z')));
    assert!(variant(&|t| t.pairs[0][0] = 1 << 30));
    assert!(variant(&|t| t.pairs[0][3] = t.pairs[1][3]));
    assert!(variant(&|t| t.pairs[2][2] = u32::MAX));
    // Self-encoding bits that do not cover the ids (one bit per id).
    assert!(variant(&|t| t.self_encoding.to_mut().push(0)));
    assert!(variant(&|t| t.self_encoding.to_mut().clear()));
    // Two tokens with the same bytes.
    assert!(variant(&|t| {
        let o = t.offsets.to_mut();
        let d = t.data.to_mut();
        d.insert(o[2] as usize, d[o[1] as usize]);
        for x in &mut o[2..] {
            *x += 1;
        }
        d.remove(o[3] as usize);
        for x in &mut o[3..] {
            *x -= 1;
        }
    }));
    // An added token on a vocabulary id, and an empty one.
    let clash = [AddedToken {
        content: "<q>".into(),
        id: 97,
        special: true,
    }];
    assert!(from_entry("t", &entry(&good, &clash), &digest).is_none());
    let mut raw = payload(&pipeline, &good, &[], &template);
    // Lengths that claim more than the entry holds.
    let huge = u64::MAX.to_le_bytes();
    raw[..8].copy_from_slice(&huge);
    assert!(from_entry("t", &sealed(&raw, &digest), &digest).is_none());
    // A pipeline that no longer parses.
    let bad_pipe = serde_json::json!({"pre_tokenizer": {"type": "Nope"}});
    let e = sealed(&payload(&bad_pipe, &good, &[], &template), &digest);
    assert!(from_entry("t", &e, &digest).is_none());
}

#[test]
fn unwritable_directory_loads_uncached() {
    let json = document();
    let dir = temp_dir("ro");
    // A directory that cannot be created (its parent is a file), which fails as a read-only
    // directory does, whatever the user's privileges.
    let blocker = dir.join("file");
    fs::write(&blocker, b"x").unwrap();
    let l = load("t", json.as_bytes(), Some(&blocker.join("cache"))).unwrap();
    assert_eq!(l.status, CacheStatus::NotStored);
    assert_eq!(
        fingerprint(&l),
        fingerprint(&load("t", json.as_bytes(), None).unwrap())
    );
    fs::remove_dir_all(dir).unwrap();
}

#[test]
fn concurrent_writers_leave_one_good_entry() {
    let json = document();
    let dir = temp_dir("threads");
    let want = fingerprint(&load("t", json.as_bytes(), None).unwrap());
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|_| s.spawn(|| fingerprint(&load("t", json.as_bytes(), Some(&dir)).unwrap())))
            .collect();
        for h in handles {
            assert_eq!(h.join().unwrap(), want);
        }
    });
    let l = load("t", json.as_bytes(), Some(&dir)).unwrap();
    assert_eq!(l.status, CacheStatus::Hit);
    assert_eq!(fs::read_dir(&dir).unwrap().count(), 1);
    fs::remove_dir_all(dir).unwrap();
}

#[test]
fn errors_are_the_documents() {
    let dir = temp_dir("errors");
    let bad = document().replace("\"BPE\"", "\"WordPiece\"");
    let cached = load("t", bad.as_bytes(), Some(&dir)).err().unwrap();
    let plain = crate::hf::encoding_from_json("t", bad.as_bytes())
        .err()
        .unwrap();
    assert_eq!(cached, plain);
    assert_eq!(fs::read_dir(&dir).unwrap().count(), 0);
    fs::remove_dir_all(dir).unwrap();
}
