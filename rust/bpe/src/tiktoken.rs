//! `.tiktoken` rank files: one `<base64 token> <rank>` per line.
//!
//! # Design notes
//! The file must list ranks 0, 1, 2, ... in order (every published file does); anything else is
//! reported with its 1-based line number: bad base64, a missing or non-numeric rank, a rank that
//! repeats an earlier one (duplicate), a rank that skips ahead (gap), and a token that repeats an
//! earlier token. Gzip-compressed files (magic `1f 8b`) are decompressed first. Parsing is one
//! pass, O(file size), with a hand-written base64 decoder (standard alphabet, `=` padding).

use std::io::Read;

use crate::VocabError;

const INVALID: u8 = 0xFF;

static DECODE: [u8; 256] = {
    let mut t = [INVALID; 256];
    let mut i = 0;
    while i < 64 {
        t[ALPHABET[i] as usize] = i as u8;
        i += 1;
    }
    t
};

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Append the standard base64 of `b` (with `=` padding) to `out`.
fn base64_encode(b: &[u8], out: &mut Vec<u8>) {
    for chunk in b.chunks(3) {
        let word = chunk
            .iter()
            .enumerate()
            .fold(0u32, |w, (k, &x)| w | u32::from(x) << (16 - 8 * k));
        for k in 0..4 {
            out.push(if k <= chunk.len() {
                ALPHABET[(word >> (18 - 6 * k) & 63) as usize]
            } else {
                b'='
            });
        }
    }
}

/// The `.tiktoken` text of a rank list (`tokens[rank]`): one `<base64 token> <rank>` line per
/// rank, in rank order, each ending in `\n`; the layout of the published files.
#[must_use]
pub fn write_tiktoken<'a>(tokens: impl Iterator<Item = &'a [u8]>) -> Vec<u8> {
    write_tiktoken_ranked(tokens.enumerate())
}

/// [`write_tiktoken`] with explicit ranks (a published file may skip a rank: `p50k_base` has
/// no line for 50256, the id of `<|endoftext|>`).
#[must_use]
pub fn write_tiktoken_ranked<'a>(tokens: impl Iterator<Item = (usize, &'a [u8])>) -> Vec<u8> {
    use std::io::Write as _;
    let mut out = Vec::new();
    for (rank, token) in tokens {
        base64_encode(token, &mut out);
        // Writing to a Vec cannot fail.
        let _ = writeln!(out, " {rank}");
    }
    out
}

/// Decode standard base64 with optional `=` padding.
pub(crate) fn base64_decode(s: &[u8], out: &mut Vec<u8>) -> Result<(), String> {
    let trimmed = match s {
        [rest @ .., b'=', b'='] | [rest @ .., b'='] => rest,
        _ => s,
    };
    if !s.len().is_multiple_of(4) {
        return Err(format!(
            "bad base64 {:?}: length {} is not a multiple of 4",
            String::from_utf8_lossy(s),
            s.len()
        ));
    }
    let mut acc: u32 = 0;
    let mut bits = 0;
    for (k, &b) in trimmed.iter().enumerate() {
        let v = DECODE[usize::from(b)];
        if v == INVALID {
            return Err(format!(
                "bad base64 {:?}: invalid character {:?} at column {}",
                String::from_utf8_lossy(s),
                char::from(b),
                k + 1
            ));
        }
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    Ok(())
}

/// The most a gzip-compressed rank file may decompress to. Published rank files are a few MB
/// (o200k_base: 3.6 MB); the cap stops a small compressed file from claiming gigabytes.
pub const MAX_DECOMPRESSED: u64 = 256 << 20;

/// Decompress `data` if it is gzip (at most [`MAX_DECOMPRESSED`] bytes), else borrow it.
///
/// # Errors
/// A corrupt gzip stream, or one that decompresses to more than the cap.
pub fn maybe_gunzip(data: &[u8]) -> Result<std::borrow::Cow<'_, [u8]>, String> {
    if data.starts_with(&[0x1f, 0x8b]) {
        let cap = MAX_DECOMPRESSED as usize;
        let mut out = Vec::with_capacity(data.len().saturating_mul(3).min(cap));
        flate2::read::GzDecoder::new(data)
            .take(MAX_DECOMPRESSED + 1)
            .read_to_end(&mut out)
            .map_err(|e| format!("corrupt gzip data: {e}"))?;
        if out.len() > cap {
            return Err(format!(
                "gzip data decompresses to more than {} MiB; a rank file is a few MB",
                MAX_DECOMPRESSED >> 20
            ));
        }
        Ok(out.into())
    } else {
        Ok(data.into())
    }
}

/// Parse a `.tiktoken` file (plain or gzip) into tokens indexed by rank.
///
/// # Errors
/// [`VocabError::BadRankLine`] naming the line, or a corrupt gzip stream.
pub fn parse_tiktoken(data: &[u8]) -> Result<Vec<Vec<u8>>, VocabError> {
    parse_tiktoken_filling(data, &|_| None)
}

/// [`parse_tiktoken`], where a missing rank `r` is no error when `fill(r)` gives bytes for it:
/// they take the rank (`p50k_base` has no line for 50256, the id of `<|endoftext|>`; loaders
/// fill such a gap with the special token's own bytes, see `registry.rs`).
///
/// # Errors
/// As [`parse_tiktoken`].
pub fn parse_tiktoken_filling(
    data: &[u8],
    fill: &dyn Fn(usize) -> Option<Vec<u8>>,
) -> Result<Vec<Vec<u8>>, VocabError> {
    let data =
        maybe_gunzip(data).map_err(|message| VocabError::BadRankLine { line: 0, message })?;
    let mut tokens: Vec<Vec<u8>> = Vec::with_capacity(data.len() / 12);
    let mut lines: Vec<usize> = Vec::with_capacity(data.len() / 12);
    for (index, raw) in data.split(|&b| b == b'\n').enumerate() {
        let line = index + 1;
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        if raw.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let bad = |message: String| VocabError::BadRankLine { line, message };
        let mut fields = raw.split(|&b| b == b' ').filter(|f| !f.is_empty());
        let (Some(b64), Some(rank), None) = (fields.next(), fields.next(), fields.next()) else {
            return Err(bad(format!(
                "expected '<base64 token> <rank>', got {:?}",
                String::from_utf8_lossy(raw)
            )));
        };
        let rank: usize = std::str::from_utf8(rank)
            .ok()
            .and_then(|r| r.parse().ok())
            .ok_or_else(|| {
                bad(format!(
                    "rank {:?} is not a non-negative integer",
                    String::from_utf8_lossy(rank)
                ))
            })?;
        while rank > tokens.len() {
            let Some(filler) = fill(tokens.len()) else {
                break;
            };
            tokens.push(filler);
            lines.push(line);
        }
        let expected = tokens.len();
        if rank < expected {
            return Err(bad(format!(
                "duplicate rank {rank} (ranks must be 0, 1, 2, ... in order; expected {expected})"
            )));
        }
        if rank > expected {
            return Err(bad(format!(
                "gap in ranks: rank {rank} follows rank {} (ranks {expected}..{} are missing)",
                expected as i64 - 1,
                rank - 1
            )));
        }
        let mut token = Vec::with_capacity(b64.len() * 3 / 4);
        base64_decode(b64, &mut token).map_err(bad)?;
        if token.is_empty() {
            return Err(bad("empty token".to_string()));
        }
        tokens.push(token);
        lines.push(line);
    }
    if tokens.is_empty() {
        return Err(VocabError::BadRankLine {
            line: 0,
            message: "no tokens in file".to_string(),
        });
    }
    check_duplicates(&tokens, &lines)?;
    Ok(tokens)
}

/// A repeated token, reported on the line of its second occurrence.
fn check_duplicates(tokens: &[Vec<u8>], lines: &[usize]) -> Result<(), VocabError> {
    let mut seen = rustc_hash::FxHashMap::<&[u8], usize>::default();
    seen.reserve(tokens.len());
    for (t, &line) in tokens.iter().zip(lines) {
        if let Some(first) = seen.insert(t.as_slice(), line) {
            return Err(VocabError::BadRankLine {
                line,
                message: format!("duplicate token (first seen on line {first})"),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line_of(e: VocabError) -> (usize, String) {
        match e {
            VocabError::BadRankLine { line, message } => (line, message),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn parses_and_decodes() {
        let t = parse_tiktoken(b"IQ== 0\nIg== 1\naGVsbG8= 2\n\n").unwrap();
        assert_eq!(t, vec![b"!".to_vec(), b"\"".to_vec(), b"hello".to_vec()]);
    }

    #[test]
    fn errors_name_the_line() {
        let (l, m) = line_of(parse_tiktoken(b"IQ== 0\nI*== 1\n").unwrap_err());
        assert_eq!(l, 2);
        assert!(m.contains("bad base64"), "{m}");
        let (l, m) = line_of(parse_tiktoken(b"IQ== 0\nIg== 1\nIw== 1\n").unwrap_err());
        assert_eq!(l, 3);
        assert!(m.contains("duplicate rank 1"), "{m}");
        let (l, m) = line_of(parse_tiktoken(b"IQ== 0\nIg== 3\n").unwrap_err());
        assert_eq!(l, 2);
        assert!(m.contains("gap"), "{m}");
        let (l, m) = line_of(parse_tiktoken(b"IQ== 0\nIQ== 1\n").unwrap_err());
        assert_eq!(l, 2);
        assert!(m.contains("duplicate token"), "{m}");
        let (l, _) = line_of(parse_tiktoken(b"IQ== 0\nIg==\n").unwrap_err());
        assert_eq!(l, 2);
        let (l, _) = line_of(parse_tiktoken(b"IQ== zero\n").unwrap_err());
        assert_eq!(l, 1);
    }
}
