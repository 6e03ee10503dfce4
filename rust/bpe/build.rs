//! Build-time precomputation: the Unicode character-class table the hand-written OpenAI
//! pre-tokenizers use.
//!
//! The classes come from `regex-syntax`, the same Unicode tables the `regex` / `fancy-regex`
//! engines (and therefore tiktoken) use, so `\p{L}`, `\p{N}`, `\p{M}`, `\s` etc. mean exactly what
//! they mean to tiktoken. The table is two-level (blocks of 128 code points, deduplicated) and is
//! written to `$OUT_DIR/uclass.rs`.
//!
//! It also precomputes the bundled OpenAI vocabularies: the gzip `.tiktoken` files under `data/`
//! are decompressed, checked against tiktoken's published sha256 (`src/rank_files.rs`; a
//! mismatch fails the build), base64-decoded and written as packed `$OUT_DIR/<name>.bin`
//! (`u32` count, `count + 1` `u32` offsets, token bytes), which the library embeds, so loading
//! `o200k_base` skips gzip and base64 entirely. The packed form is the only copy the library
//! carries: the `.tiktoken` text is regenerated from it on request (`openai::rank_file`).

use std::fmt::Write as _;

use regex_syntax::hir::{Class, HirKind};
use sha2::{Digest, Sha256};

include!("src/rank_files.rs");

/// Class codes; must match `src/unicode.rs`.
const CLASSES: &[(&str, u8)] = &[
    (r"\p{Lu}", 1),
    (r"\p{Ll}", 2),
    (r"\p{Lt}", 3),
    (r"\p{Lm}", 4),
    (r"\p{Lo}", 5),
    (r"\p{M}", 6),
    (r"\p{N}", 7),
    (r"\s", 8),
];
const BLOCK: usize = 128;

fn b64(s: &[u8]) -> Vec<u8> {
    let val = |c: u8| -> u32 {
        match c {
            b'A'..=b'Z' => u32::from(c - b'A'),
            b'a'..=b'z' => u32::from(c - b'a') + 26,
            b'0'..=b'9' => u32::from(c - b'0') + 52,
            b'+' => 62,
            b'/' => 63,
            _ => panic!("bad base64 in bundled vocabulary"),
        }
    };
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0);
    for &c in s.iter().filter(|&&c| c != b'=') {
        acc = (acc << 6) | val(c);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    out
}

fn pack_vocab(name: &str, sha256: &str) {
    use std::io::Read;
    let dir = std::path::Path::new(&std::env::var("CARGO_MANIFEST_DIR").expect("manifest dir"))
        .join("data");
    let path = dir.join(format!("{name}.tiktoken.gz"));
    println!("cargo:rerun-if-changed={}", path.display());
    let gz = std::fs::read(&path).expect("bundled vocabulary present");
    let mut text = Vec::new();
    flate2::read::GzDecoder::new(&gz[..])
        .read_to_end(&mut text)
        .expect("bundled vocabulary is valid gzip");
    let digest: String = Sha256::digest(&text)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(
        digest,
        sha256,
        "{} is not the published {name} rank file",
        path.display()
    );
    let mut offsets = vec![0u32];
    let mut data = Vec::new();
    for (i, line) in text
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .enumerate()
    {
        let mut f = line.split(|&b| b == b' ');
        let tok = b64(f.next().expect("token"));
        let rank: usize = std::str::from_utf8(f.next().expect("rank"))
            .expect("ascii rank")
            .trim()
            .parse()
            .expect("numeric rank");
        assert_eq!(rank, i, "bundled vocabulary ranks are 0, 1, 2, ...");
        data.extend_from_slice(&tok);
        offsets.push(u32::try_from(data.len()).expect("small vocabulary"));
    }
    let mut out = Vec::with_capacity(4 + offsets.len() * 4 + data.len());
    out.extend_from_slice(
        &u32::try_from(offsets.len() - 1)
            .expect("count")
            .to_le_bytes(),
    );
    for o in &offsets {
        out.extend_from_slice(&o.to_le_bytes());
    }
    out.extend_from_slice(&data);
    let dest = std::path::Path::new(&std::env::var("OUT_DIR").expect("OUT_DIR"))
        .join(format!("{name}.bin"));
    std::fs::write(dest, out).expect("write packed vocabulary");
}

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=src/rank_files.rs");
    for &(name, sha256) in RANK_FILES {
        pack_vocab(name, sha256);
    }
    let mut table = vec![0u8; 0x11_0000];
    for &(pattern, code) in CLASSES {
        let hir = regex_syntax::Parser::new()
            .parse(pattern)
            .expect("class pattern parses");
        let HirKind::Class(Class::Unicode(class)) = hir.kind() else {
            panic!("{pattern} is not a Unicode class");
        };
        for range in class.ranges() {
            for cp in u32::from(range.start())..=u32::from(range.end()) {
                assert_eq!(table[cp as usize], 0, "classes overlap at U+{cp:04X}");
                table[cp as usize] = code;
            }
        }
    }
    // CR and LF get their own code (they are `\s` too, but the patterns single them out).
    table[usize::from(b'\r')] = 9;
    table[usize::from(b'\n')] = 9;

    let mut blocks: Vec<&[u8]> = Vec::new();
    let mut index = Vec::with_capacity(table.len() / BLOCK);
    for chunk in table.chunks(BLOCK) {
        let pos = blocks.iter().position(|b| *b == chunk).unwrap_or_else(|| {
            blocks.push(chunk);
            blocks.len() - 1
        });
        index.push(u16::try_from(pos).expect("fewer than 65536 distinct blocks"));
    }
    let mut out = String::new();
    writeln!(
        out,
        "pub(crate) const BLOCK_SHIFT: u32 = {};",
        BLOCK.trailing_zeros()
    )
    .expect("write to String");
    writeln!(
        out,
        "pub(crate) static BLOCK_INDEX: [u16; {}] = {index:?};",
        index.len()
    )
    .expect("write to String");
    let flat: Vec<u8> = blocks.concat();
    writeln!(
        out,
        "pub(crate) static BLOCKS: [u8; {}] = {flat:?};",
        flat.len()
    )
    .expect("write to String");
    let path = std::path::Path::new(&std::env::var("OUT_DIR").expect("OUT_DIR")).join("uclass.rs");
    std::fs::write(path, out).expect("write uclass.rs");
}
