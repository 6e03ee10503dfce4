//! Build-time precomputation: the Unicode character-class table the hand-written OpenAI
//! pre-tokenizers use.
//!
//! The classes come from `regex-syntax`, the same Unicode tables the `regex` / `fancy-regex`
//! engines (and therefore tiktoken) use, so `\p{L}`, `\p{N}`, `\p{M}`, `\s` etc. mean exactly what
//! they mean to tiktoken. The table is two-level (blocks of 128 code points, deduplicated) and is
//! written to `$OUT_DIR/uclass.rs`.

use std::fmt::Write as _;

use regex_syntax::hir::{Class, HirKind};

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

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
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
