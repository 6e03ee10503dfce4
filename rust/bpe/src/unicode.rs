//! Unicode character classes for the hand-written pre-tokenizers.
//!
//! # Design notes
//! One byte per code point says which of the classes the OpenAI split patterns mention it is in
//! (`\p{Lu}`, `\p{Ll}`, `\p{Lt}`, `\p{Lm}`, `\p{Lo}`, `\p{M}`, `\p{N}`, `\s`, CR/LF, other).
//! The table is generated at build time from `regex-syntax` (the tables behind the `regex` and
//! `fancy-regex` engines tiktoken runs), two-level with 128-code-point blocks: a lookup is two
//! array reads. ASCII has its own 128-entry table. Each class is a bit so that pattern classes
//! such as `[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]` are one AND against a mask.

include!(concat!(env!("OUT_DIR"), "/uclass.rs"));

/// Bit flags, one per class. Exactly one bit is set for every code point.
pub(crate) type Class = u16;
pub(crate) const OTHER: Class = 1 << 0;
pub(crate) const LU: Class = 1 << 1;
pub(crate) const LL: Class = 1 << 2;
pub(crate) const LT: Class = 1 << 3;
pub(crate) const LM: Class = 1 << 4;
pub(crate) const LO: Class = 1 << 5;
pub(crate) const MARK: Class = 1 << 6;
pub(crate) const NUM: Class = 1 << 7;
/// `\s` other than CR and LF.
pub(crate) const SPACE: Class = 1 << 8;
/// CR or LF (also `\s`).
pub(crate) const NEWLINE: Class = 1 << 9;

pub(crate) const LETTER: Class = LU | LL | LT | LM | LO;
pub(crate) const WHITE: Class = SPACE | NEWLINE;

#[inline]
fn code_to_class(code: u8) -> Class {
    1 << code
}

static ASCII: [Class; 128] = {
    let mut t = [OTHER; 128];
    let mut i = 0;
    while i < 128 {
        let b = i as u8;
        t[i] = if b.is_ascii_uppercase() {
            LU
        } else if b.is_ascii_lowercase() {
            LL
        } else if b.is_ascii_digit() {
            NUM
        } else if b == b'\r' || b == b'\n' {
            NEWLINE
        } else if b == b' ' || b == b'\t' || b == 0x0b || b == 0x0c {
            SPACE
        } else {
            OTHER
        };
        i += 1;
    }
    t
};

/// The class of an ASCII byte.
#[inline(always)]
pub(crate) fn ascii_class(b: u8) -> Class {
    ASCII[usize::from(b & 0x7F)]
}

/// The class of a code point.
#[inline(always)]
pub(crate) fn class_of(c: u32) -> Class {
    if c < 128 {
        return ASCII[c as usize];
    }
    let block = BLOCK_INDEX[(c >> BLOCK_SHIFT) as usize] as usize;
    code_to_class(BLOCKS[(block << BLOCK_SHIFT) + (c as usize & ((1 << BLOCK_SHIFT) - 1))])
}

/// Decode the char starting at byte `i` of valid UTF-8 `s`: (class, byte length).
#[inline(always)]
pub(crate) fn class_at(s: &[u8], i: usize) -> (Class, usize) {
    let b0 = s[i];
    if b0 < 0x80 {
        return (ASCII[b0 as usize], 1);
    }
    let (c, len) = if b0 < 0xE0 {
        ((u32::from(b0 & 0x1F) << 6) | u32::from(s[i + 1] & 0x3F), 2)
    } else if b0 < 0xF0 {
        (
            (u32::from(b0 & 0x0F) << 12)
                | (u32::from(s[i + 1] & 0x3F) << 6)
                | u32::from(s[i + 2] & 0x3F),
            3,
        )
    } else {
        (
            (u32::from(b0 & 0x07) << 18)
                | (u32::from(s[i + 1] & 0x3F) << 12)
                | (u32::from(s[i + 2] & 0x3F) << 6)
                | u32::from(s[i + 3] & 0x3F),
            4,
        )
    };
    (class_of(c), len)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_agree_with_regex_engine() {
        let cases: &[(&str, Class)] = &[
            (r"\p{Lu}", LU),
            (r"\p{Ll}", LL),
            (r"\p{Lt}", LT),
            (r"\p{Lm}", LM),
            (r"\p{Lo}", LO),
            (r"\p{M}", MARK),
            (r"\p{N}", NUM),
        ];
        let white = fancy_regex::Regex::new(r"^\s$").unwrap();
        let res: Vec<_> = cases
            .iter()
            .map(|(p, c)| (fancy_regex::Regex::new(&format!("^{p}$")).unwrap(), *c))
            .collect();
        for cp in (0..0x11_0000u32).step_by(61).chain(0..0x1000) {
            let Some(ch) = char::from_u32(cp) else {
                continue;
            };
            let s = ch.to_string();
            let class = class_of(cp);
            let mut buf = [0u8; 4];
            assert_eq!(
                class_at(ch.encode_utf8(&mut buf).as_bytes(), 0),
                (class, s.len())
            );
            for (re, c) in &res {
                assert_eq!(re.is_match(&s).unwrap(), class == *c, "U+{cp:04X}");
            }
            assert_eq!(
                white.is_match(&s).unwrap(),
                class & WHITE != 0,
                "U+{cp:04X}"
            );
        }
    }
}
