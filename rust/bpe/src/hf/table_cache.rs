//! An on-disk cache of the tables built from a byte-level BPE `tokenizer.json`, so that loading
//! the same file again skips parsing its JSON and resolving its merge list.
//!
//! # Design notes
//! Parsing a 9-11 MB `tokenizer.json` and resolving its ~300k merges (three hash lookups each)
//! is most of a load. What they produce is small and flat: the packed token bytes and their
//! offsets, one `[left, right, merge index, merged]` row per merge, the self-encoding bits of a
//! list without `ignore_merges` (`model/listed.rs`), the added tokens, the
//! post-processor's ids and the `normalizer` / `pre_tokenizer` JSON (kilobytes, re-parsed on
//! every load, so compiled regexes never live in the file). A load hashes the document
//! (sha256), and if `<dir>/<sha256 hex>.tables` holds tables for exactly that document, built by
//! exactly this code, it rebuilds the lookup tables from them instead (about linear in the
//! vocabulary, no JSON).
//!
//! The entry is read as untrusted input, like any file:
//! - header: magic, [`FORMAT`], a fingerprint of the code that wrote it ([`BUILD_ID`]: the
//!   crate version and a hash of the source files that decide the tables, so a changed loader
//!   never reads an older loader's tables), the document's sha256, the payload's length and
//!   its sha256. Any mismatch, a short file, or a file larger than a bound set by the
//!   document's size, and the entry is ignored, rebuilt and replaced;
//! - the payload is read with a cursor that checks every length against the bytes left before
//!   taking or allocating anything; then the model is rebuilt with every offset and every
//!   merge's ids checked (ids are tokens, the parts' bytes join into the result), and the
//!   added tokens go through `Encoding::new`'s checks. Anything refused is a rebuild, never an
//!   error the caller sees: the document decides, the cache only saves time.
//!
//! Writes go to a temporary file in the same directory that is renamed over the entry, so a
//! reader sees a whole old entry or a whole new one, and concurrent writers (threads or
//! processes) each rename a complete file. A directory that cannot be created or written
//! (read-only, full) is skipped silently: the load succeeds uncached.
//!
//! The directory is `TOKENMILL_CACHE_DIR` if set (set and empty turns the cache off, as
//! tiktoken's `TIKTOKEN_CACHE_DIR` does), else the platform's user cache directory plus
//! `tokenmill`: `$XDG_CACHE_HOME` or `~/.cache` on Linux, `~/Library/Caches` on macOS,
//! `%LOCALAPPDATA%` on Windows.

use std::borrow::Cow;
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::{parse_json, parse_pipeline, post, spm_json, AddedToken, HfTokenizer, Obj};
use crate::model::MergeTables;
use crate::{BpeModel, Encoding, Rank, VocabError};

/// The environment variable naming the cache directory (empty: no cache).
pub const DIR_ENV: &str = "TOKENMILL_CACHE_DIR";

const MAGIC: &[u8; 8] = b"TMTABLES";
/// Layout version of an entry.
const FORMAT: u32 = 2;
/// magic, format, reserved, build id, document sha256, payload length, payload checksum.
const HEADER: usize = 8 + 4 + 4 + 8 + 32 + 8 + 8;

/// The source files whose code decides what an entry holds.
const SOURCES: [&[u8]; 5] = [
    include_bytes!("mod.rs"),
    include_bytes!("bytelevel.rs"),
    include_bytes!("post.rs"),
    include_bytes!("table_cache.rs"),
    include_bytes!("../model/construct.rs"),
];

/// FNV-1a over the crate version, [`FORMAT`] and [`SOURCES`], evaluated at compile time.
const BUILD_ID: u64 = {
    const fn feed(mut h: u64, bytes: &[u8]) -> u64 {
        let mut i = 0;
        while i < bytes.len() {
            h ^= bytes[i] as u64;
            h = h.wrapping_mul(0x0100_0000_01b3);
            i += 1;
        }
        h
    }
    let mut h = feed(0xcbf2_9ce4_8422_2325, env!("CARGO_PKG_VERSION").as_bytes());
    h = feed(h, &FORMAT.to_le_bytes());
    let mut k = 0;
    while k < SOURCES.len() {
        h = feed(h, SOURCES[k]);
        k += 1;
    }
    h
};

/// What the cache did for one load.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheStatus {
    /// The tables came from the cache.
    Hit,
    /// There was no entry: built from the document, then stored.
    Stored,
    /// The entry failed a check (corrupt, truncated, written by other code): rebuilt, replaced.
    Replaced,
    /// Built from the document; the entry could not be written (read-only directory, full disk).
    NotStored,
    /// Caching is off.
    Off,
    /// A document the cache does not cover (SentencePiece-style `tokenizer.json`): built.
    NotCovered,
}

impl CacheStatus {
    /// A short name (`"hit"`, `"stored"`, `"replaced"`, `"not-stored"`, `"off"`,
    /// `"not-covered"`).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Hit => "hit",
            Self::Stored => "stored",
            Self::Replaced => "replaced",
            Self::NotStored => "not-stored",
            Self::Off => "off",
            Self::NotCovered => "not-covered",
        }
    }
}

/// A loaded `tokenizer.json`: the encoding, its post-processor's ids, what the cache did.
pub struct Loaded {
    pub encoding: Encoding,
    pub template: post::Template,
    pub status: CacheStatus,
}

/// The cache directory: [`DIR_ENV`] if set (`None` if set and empty), else the platform's user
/// cache directory plus `tokenmill` (`None` if it cannot be found).
#[must_use]
pub fn default_dir() -> Option<PathBuf> {
    match std::env::var_os(DIR_ENV) {
        Some(v) if v.is_empty() => None,
        Some(v) => Some(PathBuf::from(v)),
        None => user_cache_home().map(|d| d.join("tokenmill")),
    }
}

fn user_cache_home() -> Option<PathBuf> {
    let absolute = |key: &str| {
        std::env::var_os(key)
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
    };
    if cfg!(windows) {
        absolute("LOCALAPPDATA")
    } else if cfg!(target_os = "macos") {
        absolute("HOME").map(|h| h.join("Library").join("Caches"))
    } else {
        absolute("XDG_CACHE_HOME").or_else(|| absolute("HOME").map(|h| h.join(".cache")))
    }
}

/// Load a `tokenizer.json` named `name` from its bytes, through the cache in `dir` (`None`: no
/// cache). The result is the same with or without the cache.
///
/// # Errors
/// As [`super::encoding_from_json`], or a malformed `post_processor`. Cache problems are never
/// errors.
pub fn load(name: &str, json: &[u8], dir: Option<&Path>) -> Result<Loaded, VocabError> {
    let Some(dir) = dir else {
        let (encoding, template, _) = build(name, json, false)?;
        return Ok(Loaded {
            encoding,
            template,
            status: CacheStatus::Off,
        });
    };
    let digest: [u8; 32] = Sha256::digest(json).into();
    let path = dir.join(format!("{}.tables", hex(&digest)));
    let entry = read_entry(&path, json.len());
    if let Some(loaded) = entry.as_deref().and_then(|e| from_entry(name, e, &digest)) {
        return Ok(loaded);
    }
    let (encoding, template, payload) = build(name, json, true)?;
    let status = match payload {
        None => CacheStatus::NotCovered,
        Some(p) => match write_entry(dir, &path, &digest, &p) {
            Err(_) => CacheStatus::NotStored,
            Ok(()) if entry.is_some() => CacheStatus::Replaced,
            Ok(()) => CacheStatus::Stored,
        },
    };
    Ok(Loaded {
        encoding,
        template,
        status,
    })
}

/// Build from the document; with `want_payload`, also the entry's payload (`None` for
/// documents the cache does not cover).
fn build(
    name: &str,
    json: &[u8],
    want_payload: bool,
) -> Result<(Encoding, post::Template, Option<Vec<u8>>), VocabError> {
    let root = parse_json(json)?;
    let post_of = |root: &Value| {
        post::parse(
            root.get("post_processor").unwrap_or(&Value::Null),
            "post_processor",
        )
    };
    if spm_json::is_sentencepiece_style(&root) {
        let enc = spm_json::encoding(name, &root)?;
        return Ok((enc, post_of(&root)?, None));
    }
    let hf = HfTokenizer::from_value(&root)?;
    let template = post_of(&root)?;
    let payload = if want_payload {
        let mut pipeline = Map::new();
        for key in ["normalizer", "pre_tokenizer"] {
            if let Some(v) = root.get(key) {
                pipeline.insert(key.to_owned(), v.clone());
            }
        }
        hf.model
            .merge_tables()
            .map(|t| payload(&Value::Object(pipeline), &t, &hf.added_tokens, &template))
    } else {
        None
    };
    Ok((hf.into_encoding(name)?, template, payload))
}

/// A checksum that catches damaged entries (not forgeries: those are the checks' business):
/// four interleaved multiply-rotate lanes over 8-byte words, about 8 GB/s where sha256 gives
/// 1-2.
fn checksum(bytes: &[u8]) -> u64 {
    const K: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut lanes = [1u64, 2, 3, 4];
    let mut blocks = bytes.chunks_exact(32);
    for b in &mut blocks {
        for (lane, w) in lanes.iter_mut().zip(b.chunks_exact(8)) {
            let w = u64::from_le_bytes([w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]]);
            *lane = (*lane ^ w).wrapping_mul(K).rotate_left(29);
        }
    }
    let mut h = bytes.len() as u64;
    for (i, &b) in blocks.remainder().iter().enumerate() {
        h ^= u64::from(b) << (8 * (i % 8));
        h = h.rotate_left(13).wrapping_mul(K);
    }
    for lane in lanes {
        h = (h ^ lane).wrapping_mul(K).rotate_left(31);
    }
    h ^ (h >> 29)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The entry at `path`: `None` if there is none, empty if it is unreadable or larger than any
/// entry for a document of `doc_len` bytes can be.
fn read_entry(path: &Path, doc_len: usize) -> Option<Vec<u8>> {
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return None,
        Err(_) => return Some(Vec::new()),
    };
    // Every table is a re-encoding of part of the document: a few times its size at most.
    let limit = (doc_len as u64).saturating_mul(4).saturating_add(1 << 20);
    let mut out = Vec::new();
    match file.take(limit + 1).read_to_end(&mut out) {
        Ok(n) if n as u64 <= limit => Some(out),
        _ => Some(Vec::new()),
    }
}

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Write the entry whole under a temporary name, then rename it over `path`.
fn write_entry(dir: &Path, path: &Path, digest: &[u8; 32], payload: &[u8]) -> io::Result<()> {
    fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(
        ".{}.{}.{}.tmp",
        hex(&digest[..8]),
        std::process::id(),
        TEMP_COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let result = (|| {
        let mut f = File::create_new(&tmp)?;
        let mut header = Vec::with_capacity(HEADER);
        header.extend_from_slice(MAGIC);
        header.extend_from_slice(&FORMAT.to_le_bytes());
        header.extend_from_slice(&0u32.to_le_bytes());
        header.extend_from_slice(&BUILD_ID.to_le_bytes());
        header.extend_from_slice(digest);
        header.extend_from_slice(&(payload.len() as u64).to_le_bytes());
        header.extend_from_slice(&checksum(payload).to_le_bytes());
        f.write_all(&header)?;
        f.write_all(payload)?;
        drop(f);
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// The payload: the pipeline JSON, the model's tables, the added tokens, the template's ids.
fn payload(
    pipeline: &Value,
    tables: &MergeTables<'_>,
    added: &[AddedToken],
    template: &post::Template,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(
        tables.data.len() + 4 * tables.offsets.len() + 16 * tables.pairs.len() + (1 << 12),
    );
    let bytes = |out: &mut Vec<u8>, b: &[u8]| {
        out.extend_from_slice(&(b.len() as u64).to_le_bytes());
        out.extend_from_slice(b);
    };
    let words = |out: &mut Vec<u8>, w: &mut dyn Iterator<Item = u32>, n: usize| {
        out.extend_from_slice(&(n as u64).to_le_bytes());
        for x in w {
            out.extend_from_slice(&x.to_le_bytes());
        }
    };
    bytes(&mut out, pipeline.to_string().as_bytes());
    bytes(&mut out, &tables.data);
    words(
        &mut out,
        &mut tables.offsets.iter().copied(),
        tables.offsets.len(),
    );
    words(
        &mut out,
        &mut tables.pairs.iter().flatten().copied(),
        4 * tables.pairs.len(),
    );
    out.push(u8::from(tables.whole_piece_lookup));
    bytes(&mut out, &tables.self_encoding);
    out.extend_from_slice(&(added.len() as u64).to_le_bytes());
    for t in added {
        bytes(&mut out, t.content.as_bytes());
        out.extend_from_slice(&t.id.to_le_bytes());
        out.push(u8::from(t.special));
    }
    for ids in [&template.prefix, &template.suffix] {
        words(&mut out, &mut ids.iter().copied(), ids.len());
    }
    out
}

/// A cursor over untrusted bytes: every read checks what is left first.
struct Cursor<'a> {
    rest: &'a [u8],
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if n > self.rest.len() {
            return None;
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Some(head)
    }
    fn u8(&mut self) -> Option<u8> {
        Some(self.take(1)?[0])
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }
    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
    /// A length that fits in what is left when each unit takes `unit` bytes.
    fn len(&mut self, unit: usize) -> Option<usize> {
        let n = usize::try_from(self.u64()?).ok()?;
        (n <= self.rest.len() / unit).then_some(n)
    }
    fn bytes(&mut self) -> Option<&'a [u8]> {
        let n = self.len(1)?;
        self.take(n)
    }
    fn words(&mut self) -> Option<Vec<u32>> {
        let n = self.len(4)?;
        let raw = self.take(4 * n)?;
        Some(
            raw.chunks_exact(4)
                .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect(),
        )
    }
}

/// The encoding an entry describes, if it is intact, was written for the document with sha256
/// `digest` by this code, and passes every check on its contents.
fn from_entry(name: &str, entry: &[u8], digest: &[u8; 32]) -> Option<Loaded> {
    let mut c = Cursor { rest: entry };
    let ok = c.take(8)? == MAGIC
        && c.u32()? == FORMAT
        && c.u32()? == 0
        && c.u64()? == BUILD_ID
        && c.take(32)? == digest;
    if !ok {
        return None;
    }
    let len = usize::try_from(c.u64()?).ok()?;
    let sum = c.u64()?;
    if len != c.rest.len() || checksum(c.rest) != sum {
        return None;
    }
    let pipeline: Value = serde_json::from_slice(c.bytes()?).ok()?;
    let data = c.bytes()?;
    let offsets = c.words()?;
    let flat = c.words()?;
    if flat.len() % 4 != 0 {
        return None;
    }
    let pairs = flat
        .chunks_exact(4)
        .map(|p| [p[0], p[1], p[2], p[3]])
        .collect();
    let whole_piece_lookup = match c.u8()? {
        0 => false,
        1 => true,
        _ => return None,
    };
    let self_encoding = c.bytes()?;
    let n_added = c.len(8 + 4 + 1)?;
    let mut added_tokens = Vec::with_capacity(n_added);
    for _ in 0..n_added {
        let content = std::str::from_utf8(c.bytes()?).ok()?.to_owned();
        let id: Rank = c.u32()?;
        let special = match c.u8()? {
            0 => false,
            1 => true,
            _ => return None,
        };
        if content.is_empty() {
            return None;
        }
        added_tokens.push(AddedToken {
            content,
            id,
            special,
        });
    }
    let prefix = c.words()?;
    let suffix = c.words()?;
    if !c.rest.is_empty() {
        return None;
    }
    let model = BpeModel::from_merge_tables(MergeTables {
        data: Cow::Borrowed(data),
        offsets: Cow::Owned(offsets),
        pairs,
        whole_piece_lookup,
        self_encoding: Cow::Borrowed(self_encoding),
    })
    .ok()?;
    let (normalizer, pre_tokenizer, _) = parse_pipeline(&Obj::new(&pipeline, "").ok()?).ok()?;
    let hf = HfTokenizer {
        model,
        normalizer,
        pre_tokenizer,
        added_tokens,
    };
    Some(Loaded {
        encoding: hf.into_encoding(name).ok()?,
        template: post::Template { prefix, suffix },
        status: CacheStatus::Hit,
    })
}

#[cfg(test)]
mod tests;
