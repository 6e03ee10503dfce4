//! Streaming detokenization: text out as token ids arrive, with stop strings and stop tokens.
//!
//! # Design notes
//! Decoding a token sequence is the concatenation of the tokens' bytes, read as UTF-8 with
//! U+FFFD for each invalid maximal subpart (`decode(errors="replace")`). A stream feeds those
//! bytes through an incremental UTF-8 decoder: complete characters are decoded at once; a
//! trailing valid-but-incomplete sequence (at most 3 bytes) waits for the next token; bytes that
//! can no longer become a character become U+FFFD as soon as that is certain (the next byte
//! proves it; Python's incremental `utf-8` decoder waits one byte longer for surrogate-range
//! pairs such as `ED A8`). So for every id sequence the emitted pieces plus
//! [`DecodeStream::flush`] concatenate to the one-shot decode, and no U+FFFD ever stands for a
//! character that a later token completes.
//!
//! Stop strings (OpenAI's and vLLM's `stop`) are matched on that decoded text, never inside
//! the prompt. After each token the stream emits everything except the longest suffix that is a
//! proper prefix of some stop string (it may be the start of a match that the next tokens
//! finish), so a match can span any number of tokens and split characters. When a stop string
//! occurs, the stream ends: it emits the text before the match (plus the stop string with
//! `include_stop`), discards the rest, and records which stop string (the earliest-starting
//! occurrence; at equal starts the first in the list) and at which token. A stop token id ends
//! the stream the same way, its own text left out unless `include_stop`.
//!
//! Cost per token: one vocabulary lookup and a UTF-8 check of the token's bytes; with stop
//! strings, a search of the held-back text (shorter than the longest stop string plus one
//! token) per stop string. No allocation once the buffers have grown.
//!
//! `prompt` ids give context only: their text is never emitted nor searched, but a character
//! the prompt leaves incomplete is finished (and emitted) by the first generated tokens.

use rustc_hash::FxHashSet;

use crate::{Encoding, Rank, VocabError};

/// What a stream does besides decoding: skip special tokens, stop strings, stop tokens.
/// Shared by every stream of a batch.
#[derive(Debug, Clone, Default)]
pub struct StreamConfig {
    /// Ids whose text is dropped (the encoding's special tokens, with `skip_special_tokens`).
    skip: FxHashSet<Rank>,
    stops: Vec<String>,
    stop_ids: FxHashSet<Rank>,
    include_stop: bool,
}

impl StreamConfig {
    /// A configuration for `enc`.
    ///
    /// # Errors
    /// An empty stop string (it would match before any text).
    pub fn new(
        enc: &Encoding,
        skip_special_tokens: bool,
        stops: Vec<String>,
        stop_ids: &[Rank],
        include_stop: bool,
    ) -> Result<Self, VocabError> {
        if let Some(i) = stops.iter().position(String::is_empty) {
            return Err(VocabError::InvalidArgument(format!(
                "stop[{i}] is an empty string (it would match before any text)"
            )));
        }
        let skip = if skip_special_tokens {
            enc.special_tokens()
                .iter()
                .map(|&(_, id)| id)
                .filter(|&id| enc.is_special_id(id))
                .collect()
        } else {
            FxHashSet::default()
        };
        Ok(Self {
            skip,
            stops,
            stop_ids: stop_ids.iter().copied().collect(),
            include_stop,
        })
    }

    /// The stop strings.
    #[must_use]
    pub fn stops(&self) -> &[String] {
        &self.stops
    }
}

/// Why a stream ended before [`DecodeStream::flush`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stopped {
    /// Stop string `stop` (index into [`StreamConfig::stops`]) matched after token `token`
    /// (0-based among the generated tokens, the prompt not counted).
    String { stop: usize, token: usize },
    /// Stop token `id` was generated token `token`.
    Token { id: Rank, token: usize },
}

/// The state of one stream.
#[derive(Debug, Clone, Default)]
pub struct DecodeStream {
    /// A valid but incomplete UTF-8 sequence at the end of the bytes so far (at most 3 bytes).
    partial: Vec<u8>,
    /// Decoded text held back because it may be the start of a stop string.
    held: String,
    /// Generated tokens seen (the prompt not counted).
    tokens: usize,
    stopped: Option<Stopped>,
    done: bool,
}

/// Decode `bytes` (after `partial`) into `out` as an incremental UTF-8 decoder with
/// replacement does; leave a trailing incomplete sequence in `partial`.
fn decode_into(partial: &mut Vec<u8>, bytes: &[u8], out: &mut String) {
    if partial.is_empty() {
        decode_run(partial, bytes, out);
    } else {
        let mut joined = std::mem::take(partial);
        joined.extend_from_slice(bytes);
        decode_run(partial, &joined, out);
    }
}

fn decode_run(partial: &mut Vec<u8>, mut bytes: &[u8], out: &mut String) {
    loop {
        match std::str::from_utf8(bytes) {
            Ok(s) => {
                out.push_str(s);
                return;
            }
            Err(e) => {
                let (good, rest) = bytes.split_at(e.valid_up_to());
                // `good` is valid UTF-8 by `valid_up_to`'s contract.
                out.push_str(std::str::from_utf8(good).unwrap_or_default());
                match e.error_len() {
                    Some(n) => {
                        out.push('\u{FFFD}');
                        bytes = &rest[n..];
                    }
                    None => {
                        partial.extend_from_slice(rest);
                        return;
                    }
                }
            }
        }
    }
}

/// The earliest occurrence of any stop string in `text`: (byte position, stop index).
fn find_stop(stops: &[String], text: &str) -> Option<(usize, usize)> {
    let mut best: Option<(usize, usize)> = None;
    for (k, s) in stops.iter().enumerate() {
        if let Some(pos) = text.find(s.as_str()) {
            if best.is_none_or(|(p, _)| pos < p) {
                best = Some((pos, k));
            }
        }
    }
    best
}

/// Length of the longest suffix of `text` that is a proper prefix of some stop string.
fn held_back(stops: &[String], text: &str) -> usize {
    let t = text.as_bytes();
    let mut keep = 0;
    for s in stops {
        let s = s.as_bytes();
        let longest = (s.len() - 1).min(t.len());
        for len in (keep + 1..=longest).rev() {
            if t.ends_with(&s[..len]) {
                keep = len;
                break;
            }
        }
    }
    keep
}

impl DecodeStream {
    /// A fresh stream.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Feed the prompt: its text is context only (never emitted, never searched for stop
    /// strings); a character it leaves incomplete is completed by the generated tokens.
    ///
    /// # Errors
    /// [`VocabError::UnknownId`] for an id outside the vocabulary (the stream is unchanged).
    pub fn prime(
        &mut self,
        enc: &Encoding,
        cfg: &StreamConfig,
        prompt: &[i64],
    ) -> Result<(), VocabError> {
        let mut bytes = std::mem::take(&mut self.partial);
        for &raw in prompt {
            let id = Rank::try_from(raw).map_err(|_| VocabError::UnknownId(raw))?;
            if cfg.skip.contains(&id) {
                continue;
            }
            bytes.extend_from_slice(enc.token_bytes(id).ok_or(VocabError::UnknownId(raw))?);
        }
        // Keep only the incomplete tail: at most 3 bytes, a prefix of one character.
        let mut scratch = String::new();
        let start = bytes.len().saturating_sub(4);
        let tail_start = (start..bytes.len())
            .find(|&i| (bytes[i] & 0xC0) != 0x80)
            .unwrap_or(bytes.len());
        decode_run(&mut self.partial, &bytes[tail_start..], &mut scratch);
        Ok(())
    }

    /// Whether the stream has ended (a stop string or token, or [`flush`](Self::flush)).
    #[must_use]
    pub fn finished(&self) -> bool {
        self.done
    }

    /// Why the stream stopped, if a stop string or stop token ended it.
    #[must_use]
    pub fn stopped(&self) -> Option<Stopped> {
        self.stopped
    }

    /// Generated tokens stepped so far (including a stop token, not the prompt).
    #[must_use]
    pub fn tokens(&self) -> usize {
        self.tokens
    }

    /// Feed the next generated token; append the text it releases to `out`. Tokens after the
    /// stream has finished are ignored.
    ///
    /// # Errors
    /// [`VocabError::UnknownId`] for an id outside the vocabulary (the stream is unchanged).
    pub fn step(
        &mut self,
        enc: &Encoding,
        cfg: &StreamConfig,
        raw: i64,
        out: &mut String,
    ) -> Result<(), VocabError> {
        if self.done {
            return Ok(());
        }
        let id = Rank::try_from(raw).map_err(|_| VocabError::UnknownId(raw))?;
        let bytes = enc.token_bytes(id).ok_or(VocabError::UnknownId(raw))?;
        let index = self.tokens;
        self.tokens += 1;
        if cfg.stop_ids.contains(&id) {
            self.stopped = Some(Stopped::Token { id, token: index });
            self.done = true;
            if cfg.include_stop && !cfg.skip.contains(&id) {
                decode_into(&mut self.partial, bytes, &mut self.held);
            }
            self.finish_into(cfg, out);
            return Ok(());
        }
        let bytes = if cfg.skip.contains(&id) {
            &[][..]
        } else {
            bytes
        };
        if cfg.stops.is_empty() {
            decode_into(&mut self.partial, bytes, out);
            return Ok(());
        }
        decode_into(&mut self.partial, bytes, &mut self.held);
        if let Some((pos, k)) = find_stop(&cfg.stops, &self.held) {
            self.stop_at(cfg, pos, k, index, out);
            return Ok(());
        }
        let keep = held_back(&cfg.stops, &self.held);
        let cut = self.held.len() - keep;
        out.push_str(&self.held[..cut]);
        self.held.drain(..cut);
        Ok(())
    }

    fn stop_at(
        &mut self,
        cfg: &StreamConfig,
        pos: usize,
        k: usize,
        token: usize,
        out: &mut String,
    ) {
        let end = if cfg.include_stop {
            pos + cfg.stops[k].len()
        } else {
            pos
        };
        out.push_str(&self.held[..end]);
        self.held.clear();
        self.partial.clear();
        self.stopped = Some(Stopped::String { stop: k, token });
        self.done = true;
    }

    /// Emit the held-back text and the incomplete bytes (one U+FFFD per invalid subpart, as
    /// `decode(errors="replace")`), then clear.
    fn finish_into(&mut self, cfg: &StreamConfig, out: &mut String) {
        if !self.partial.is_empty() {
            self.held
                .push_str(&String::from_utf8_lossy(&std::mem::take(&mut self.partial)));
        }
        if self.stopped.is_none() {
            if let Some((pos, k)) = find_stop(&cfg.stops, &self.held) {
                let token = self.tokens.saturating_sub(1);
                self.stop_at(cfg, pos, k, token, out);
                return;
            }
        }
        out.push_str(&self.held);
        self.held.clear();
    }

    /// End the stream: append everything still held back to `out` (incomplete bytes as
    /// U+FFFD). A stop string completed by those U+FFFD still ends the text there. Does nothing
    /// on a stream that has already finished.
    pub fn flush(&mut self, cfg: &StreamConfig, out: &mut String) {
        if self.done {
            return;
        }
        self.done = true;
        self.finish_into(cfg, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc() -> Encoding {
        // Byte tokens 0..=255, plus "ab" = 256 and a special "<s>" = 257.
        let mut tokens: Vec<Vec<u8>> = (0u8..=255).map(|b| vec![b]).collect();
        tokens.push(b"ab".to_vec());
        let model = crate::BpeModel::from_ranks(tokens).unwrap();
        let pretok = crate::openai::pretokenizer_for(r"\S+|\s+").unwrap();
        Encoding::new("t", model, pretok, None, vec![("<s>".into(), 257)]).unwrap()
    }

    fn run(cfg: &StreamConfig, ids: &[i64]) -> (Vec<String>, String, DecodeStream) {
        let e = enc();
        let mut s = DecodeStream::new();
        let mut pieces = Vec::new();
        for &id in ids {
            let mut out = String::new();
            s.step(&e, cfg, id, &mut out).unwrap();
            pieces.push(out);
        }
        let mut rest = String::new();
        s.flush(cfg, &mut rest);
        (pieces, rest, s)
    }

    #[test]
    fn split_character_is_held_until_complete() {
        let cfg = StreamConfig::default();
        // "é" = C3 A9, "€" = E2 82 AC.
        let (pieces, rest, _) = run(&cfg, &[0xC3, 0xA9, 0xE2, 0x82, 0xAC, i64::from(b'x')]);
        assert_eq!(pieces, ["", "é", "", "", "€", "x"]);
        assert_eq!(rest, "");
    }

    #[test]
    fn invalid_bytes_become_replacement_once_certain() {
        let cfg = StreamConfig::default();
        let (pieces, rest, _) = run(&cfg, &[0xE2, 0x82, i64::from(b'x'), 0xFF, 0xF0]);
        assert_eq!(pieces, ["", "", "\u{FFFD}x", "\u{FFFD}", ""]);
        assert_eq!(rest, "\u{FFFD}");
    }

    #[test]
    fn stop_string_spanning_tokens() {
        let e = enc();
        let cfg = StreamConfig::new(&e, false, vec!["bc".into()], &[], false).unwrap();
        let ids = [256, i64::from(b'c'), i64::from(b'd')];
        let (pieces, rest, s) = run(&cfg, &ids);
        assert_eq!(pieces, ["a", "", ""]);
        assert_eq!(rest, "");
        assert_eq!(s.stopped(), Some(Stopped::String { stop: 0, token: 1 }));
    }

    #[test]
    fn held_prefix_released_when_it_cannot_match() {
        let e = enc();
        let cfg = StreamConfig::new(&e, false, vec!["bc".into()], &[], false).unwrap();
        let (pieces, rest, s) = run(&cfg, &[256, i64::from(b'x')]);
        assert_eq!(pieces, ["a", "bx"]);
        assert_eq!(rest, "");
        assert_eq!(s.stopped(), None);
    }

    #[test]
    fn stop_token_and_skip_special() {
        let e = enc();
        let cfg = StreamConfig::new(&e, true, vec![], &[u32::from(b'!')], false).unwrap();
        let (pieces, _, s) = run(&cfg, &[257, i64::from(b'a'), 0xC3, i64::from(b'!'), 256]);
        assert_eq!(pieces, ["", "a", "", "\u{FFFD}", ""]);
        assert_eq!(s.stopped(), Some(Stopped::Token { id: 33, token: 3 }));
    }

    #[test]
    fn prompt_tail_completed_by_generation() {
        let e = enc();
        let cfg = StreamConfig::default();
        let mut s = DecodeStream::new();
        s.prime(&e, &cfg, &[i64::from(b'q'), 0xE2, 0x82]).unwrap();
        let mut out = String::new();
        s.step(&e, &cfg, 0xAC, &mut out).unwrap();
        assert_eq!(out, "€");
    }

    #[test]
    fn empty_stop_string_is_refused() {
        let e = enc();
        assert!(StreamConfig::new(&e, false, vec![String::new()], &[], false).is_err());
    }
}
