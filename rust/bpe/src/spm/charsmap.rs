//! Precompiled normalisation rules: SentencePiece's `normalizer_spec.precompiled_charsmap`
//! (`nmt_nfkc`, `nmt_nfkc_cf`, ...), which Hugging Face's `Precompiled` normalizer carries in
//! base64.
//!
//! # Design notes
//! The blob is `<u32 LE: trie size in bytes><trie><replacement strings, each ending in NUL>`.
//! The trie is a double array of 32-bit units (the darts-clone layout): from node `p`, byte `b`
//! leads to unit `q = p ^ offset(unit[p]) ^ b`, valid when `label(unit[q]) == b`; a unit with
//! the leaf bit has its value (an offset into the replacement strings) at
//! `q ^ offset(unit[q])`. Rules are looked up at a text position by walking the bytes from
//! there: O(length of the longest rule) per position. Every unit access is bounds-checked, so a
//! damaged blob matches less rather than panicking.
//!
//! The two references read the rules differently, and each format follows its own:
//! - sentencepiece ([`CharsMap::longest`]): at each position the *longest* rule wins; where none
//!   matches, one character is copied;
//! - Hugging Face ([`CharsMap::shortest`], used per grapheme in `hf::normalize`): the *first*
//!   (shortest) rule that is a prefix of the chunk replaces the whole chunk, and the walk stops
//!   at a NUL byte.

use crate::VocabError;

/// Parsed precompiled rules.
#[derive(Clone)]
pub struct CharsMap {
    units: Vec<u32>,
    /// The replacement strings, NUL-separated (valid UTF-8).
    strings: Box<str>,
    /// Bytes that start some rule (the root has an edge for them).
    first: [bool; 256],
}

#[inline]
fn has_leaf(u: u32) -> bool {
    (u >> 8) & 1 == 1
}

#[inline]
fn value(u: u32) -> u32 {
    u & 0x7FFF_FFFF
}

#[inline]
fn label(u: u32) -> u32 {
    u & (0x8000_0000 | 0xFF)
}

#[inline]
fn offset(u: u32) -> usize {
    ((u >> 10) << ((u & (1 << 9)) >> 6)) as usize
}

impl CharsMap {
    /// Parse a blob.
    ///
    /// # Errors
    /// A blob too short for its trie size, or replacement strings that are not UTF-8 (the
    /// message names the byte offset).
    pub fn parse(blob: &[u8]) -> Result<Self, VocabError> {
        let bad = |m: String| VocabError::InvalidVocab(format!("precompiled_charsmap: {m}"));
        let head: [u8; 4] = blob
            .get(..4)
            .and_then(|h| h.try_into().ok())
            .filter(|_| blob.len() > 4)
            .ok_or_else(|| bad(format!("{} bytes is too short", blob.len())))?;
        let size = u32::from_le_bytes(head) as usize;
        if size >= blob.len() || !size.is_multiple_of(4) {
            return Err(bad(format!(
                "trie size {size} at byte 0 does not fit the {} bytes",
                blob.len()
            )));
        }
        let units: Vec<u32> = blob[4..4 + size]
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        let strings = std::str::from_utf8(&blob[4 + size..]).map_err(|e| {
            bad(format!(
                "replacement strings are not UTF-8 at byte {}",
                4 + size + e.valid_up_to()
            ))
        })?;
        let mut map = Self {
            units,
            strings: strings.into(),
            first: [false; 256],
        };
        for b in 0..=255u8 {
            map.first[usize::from(b)] = map.step(map.root(), b).is_some();
        }
        Ok(map)
    }

    /// The position of the root's children.
    #[inline]
    fn root(&self) -> usize {
        self.units.first().map_or(0, |&u| offset(u))
    }

    /// From children position `p`, the unit reached by byte `b` and its children's position.
    #[inline]
    fn step(&self, p: usize, b: u8) -> Option<(u32, usize)> {
        let q = p ^ usize::from(b);
        let u = *self.units.get(q)?;
        (label(u) == u32::from(b)).then(|| (u, q ^ offset(u)))
    }

    /// Call `found(length, value)` for each rule that is a prefix of `key`, shortest first,
    /// until it returns `false`. `stop_at_nul`: end the walk at a NUL byte (Hugging Face).
    #[inline]
    fn prefixes(&self, key: &[u8], stop_at_nul: bool, mut found: impl FnMut(usize, u32) -> bool) {
        let Some(&b0) = key.first() else { return };
        if !self.first[usize::from(b0)] {
            return;
        }
        let mut p = self.root();
        for (i, &b) in key.iter().enumerate() {
            if stop_at_nul && b == 0 {
                return;
            }
            let Some((u, next)) = self.step(p, b) else {
                return;
            };
            p = next;
            if has_leaf(u) {
                let Some(&leaf) = self.units.get(p) else {
                    return;
                };
                if !found(i + 1, value(leaf)) {
                    return;
                }
            }
        }
    }

    /// The replacement string at `value`, up to its NUL; `None` past the strings.
    #[inline]
    fn replacement(&self, value: u32) -> Option<&str> {
        let rest = self.strings.get(value as usize..)?;
        Some(rest.split('\0').next().unwrap_or(rest))
    }

    /// Whether a rule may start with byte `b`.
    #[inline]
    pub fn may_start(&self, b: u8) -> bool {
        self.first[usize::from(b)]
    }

    /// sentencepiece: the longest rule at the start of `input`, as (bytes consumed,
    /// replacement); `None` when no rule matches there (or its value lies past the strings).
    #[inline]
    pub fn longest(&self, input: &[u8]) -> Option<(usize, &str)> {
        let mut best = None;
        self.prefixes(input, false, |len, v| {
            best = Some((len, v));
            true
        });
        let (len, v) = best?;
        Some((len, self.replacement(v)?))
    }

    /// Hugging Face: the replacement of the shortest rule that is a prefix of `chunk`.
    #[inline]
    pub fn shortest(&self, chunk: &[u8]) -> Option<&str> {
        let mut first = None;
        self.prefixes(chunk, true, |_, v| {
            first = Some(v);
            false
        });
        // Hugging Face slices its strings from the value to the next NUL or the end.
        let v = first? as usize;
        let rest = self.strings.get(v..).unwrap_or("");
        Some(rest.split('\0').next().unwrap_or(rest))
    }
}

/// Decode standard base64 (with `=` padding), as `tokenizer.json` stores the blob.
///
/// # Errors
/// A character outside the alphabet (named with its offset) or a bad length.
pub fn base64_decode(s: &str) -> Result<Vec<u8>, String> {
    fn val(c: u8) -> Option<u32> {
        Some(u32::from(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        }))
    }
    let b = s.as_bytes();
    let body = b
        .strip_suffix(b"==")
        .or_else(|| b.strip_suffix(b"="))
        .unwrap_or(b);
    if !b.len().is_multiple_of(4) {
        return Err(format!("base64 length {} is not a multiple of 4", b.len()));
    }
    let mut out = Vec::with_capacity(body.len() * 3 / 4);
    for (k, chunk) in body.chunks(4).enumerate() {
        let mut acc = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            let v =
                val(c).ok_or_else(|| format!("bad base64 character at offset {}", 4 * k + i))?;
            acc |= v << (18 - 6 * i);
        }
        let bytes = acc.to_be_bytes();
        out.extend_from_slice(&bytes[1..chunk.len()]);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_round_trips_known_values() {
        assert_eq!(base64_decode("").unwrap(), b"");
        assert_eq!(base64_decode("Zg==").unwrap(), b"f");
        assert_eq!(base64_decode("Zm8=").unwrap(), b"fo");
        assert_eq!(base64_decode("Zm9v").unwrap(), b"foo");
        assert_eq!(base64_decode("Zm9vYmFy").unwrap(), b"foobar");
        assert!(base64_decode("Zm9").is_err());
        assert!(base64_decode("Zm9*").is_err());
    }

    #[test]
    fn damaged_blobs_are_errors_or_match_nothing() {
        assert!(CharsMap::parse(b"").is_err());
        assert!(CharsMap::parse(&[8, 0, 0, 0, 1, 2]).is_err());
        assert!(CharsMap::parse(&[4, 0, 0, 0, 0, 0, 0, 0, 0xff]).is_err());
        // A trie of garbage units: lookups stay in bounds.
        let mut blob = vec![16, 0, 0, 0];
        blob.extend((0..16).map(|i| (i * 37) as u8));
        blob.extend(b"x\0");
        let m = CharsMap::parse(&blob).unwrap();
        for b in 0..=255u8 {
            let _ = m.longest(&[b, b, b]);
            let _ = m.shortest(&[b, 0, b]);
        }
    }
}
