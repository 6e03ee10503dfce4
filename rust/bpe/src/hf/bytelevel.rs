//! GPT-2's byte-level alphabet: the bijection between the 256 byte values and 256 printable
//! characters that byte-level BPE vocabularies are written in.
//!
//! # Design notes
//! Bytes that are printable Latin-1 (`!`..=`~`, `¡`..=`¬`, `®`..=`ÿ`) stand for themselves; the
//! other 68 bytes, in increasing order, take U+0100, U+0101, … (so the space 0x20 is `Ġ`,
//! U+0120). `tokenizer.json` vocabularies and merges are strings over this alphabet; tokenmill
//! stores raw bytes, so every vocabulary string is decoded once at load time. Decoding is a
//! table lookup per character, O(length).

/// Whether byte `b` is printable and so stands for itself.
const fn is_printable(b: u8) -> bool {
    matches!(b, b'!'..=b'~' | 0xA1..=0xAC | 0xAE..=0xFF)
}

/// The alphabet character of each byte.
#[must_use]
pub fn byte_to_char() -> [char; 256] {
    let mut table = ['\0'; 256];
    let mut next = 0x100u32;
    for (b, slot) in table.iter_mut().enumerate() {
        let b = b as u8;
        *slot = if is_printable(b) {
            char::from(b)
        } else {
            let c = char::from_u32(next).unwrap_or('\0');
            next += 1;
            c
        };
    }
    table
}

/// The byte an alphabet character stands for, or `None` for characters outside the alphabet.
#[must_use]
pub fn char_to_byte(c: char) -> Option<u8> {
    let cp = u32::from(c);
    if cp < 0x100 {
        let b = cp as u8;
        return is_printable(b).then_some(b);
    }
    // U+0100 + k is the k-th non-printable byte.
    let k = cp.checked_sub(0x100)?;
    (0..=255u8).filter(|&b| !is_printable(b)).nth(k as usize)
}

/// Decodes a vocabulary string into raw bytes; `None` if it has a character outside the
/// alphabet.
#[must_use]
pub fn decode(token: &str, table: &Decoder) -> Option<Vec<u8>> {
    token.chars().map(|c| table.byte(c)).collect()
}

/// A fast character -> byte table for [`decode`].
pub struct Decoder {
    /// Indexed by code point for code points below 0x144; 0xFFFF marks "not in the alphabet".
    bytes: [u16; 0x144],
}

impl Decoder {
    /// Build the table.
    #[must_use]
    pub fn new() -> Self {
        let mut bytes = [0xFFFFu16; 0x144];
        for (b, c) in byte_to_char().iter().enumerate() {
            bytes[*c as usize] = b as u16;
        }
        Self { bytes }
    }

    /// The byte of alphabet character `c`.
    #[must_use]
    pub fn byte(&self, c: char) -> Option<u8> {
        let v = *self.bytes.get(c as usize)?;
        u8::try_from(v).ok()
    }
}

impl Default for Decoder {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alphabet_is_a_bijection() {
        let table = byte_to_char();
        let dec = Decoder::new();
        let mut seen = std::collections::HashSet::new();
        for (b, &c) in table.iter().enumerate() {
            assert!(seen.insert(c));
            assert_eq!(char_to_byte(c), Some(b as u8));
            assert_eq!(dec.byte(c), Some(b as u8));
        }
        // Published anchors of the GPT-2 alphabet.
        assert_eq!(table[usize::from(b' ')], 'Ġ');
        assert_eq!(table[usize::from(b'\n')], 'Ċ');
        assert_eq!(table[0], 'Ā');
        assert_eq!(table[usize::from(b'a')], 'a');
        assert_eq!(char_to_byte(' '), None);
        assert_eq!(dec.byte('｜'), None);
        assert_eq!(decode("Ġhello", &dec), Some(b" hello".to_vec()));
    }
}
