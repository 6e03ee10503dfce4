//! A reader for SentencePiece's `ModelProto` (the `.model` file), protobuf wire format.
//!
//! Only the fields that decide token ids are read (field numbers from `sentencepiece_model.proto`);
//! everything else is skipped by wire type. Every length is checked against the bytes left
//! before anything is sliced or allocated, so a truncated or hostile file is an error naming the
//! byte offset, never a panic or a huge allocation.

use crate::VocabError;

/// More pieces than any real vocabulary holds (Gemma 3: 262,144): refused before allocating.
pub const MAX_PIECES: usize = 4 << 20;

/// The type of a piece (`ModelProto.SentencePiece.Type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PieceType {
    Normal,
    Unknown,
    Control,
    UserDefined,
    Unused,
    Byte,
}

/// One vocabulary entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Piece {
    pub piece: String,
    pub score: f32,
    pub kind: PieceType,
}

/// `TrainerSpec.model_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelType {
    Unigram,
    Bpe,
    Word,
    Char,
}

/// The fields of a `.model` file that tokenization depends on, with protobuf defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelProto {
    pub pieces: Vec<Piece>,
    pub model_type: ModelType,
    pub byte_fallback: bool,
    pub treat_whitespace_as_suffix: bool,
    pub unk_id: i64,
    pub normalizer_name: String,
    pub precompiled_charsmap: Vec<u8>,
    pub add_dummy_prefix: bool,
    pub remove_extra_whitespaces: bool,
    pub escape_whitespaces: bool,
    /// `normalization_rule_tsv` is non-empty (a custom rule set).
    pub has_rule_tsv: bool,
    /// `trainer_spec.bos_piece` / `eos_piece` (sentencepiece's defaults `<s>`, `</s>`).
    pub bos_piece: String,
    pub eos_piece: String,
}

fn err(offset: usize, message: impl std::fmt::Display) -> VocabError {
    VocabError::InvalidVocab(format!("SentencePiece model, byte {offset}: {message}"))
}

/// A protobuf message being read: `base` is its offset in the file, for error messages.
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    base: usize,
}

enum Value<'a> {
    Varint(u64),
    Fixed32([u8; 4]),
    Fixed64,
    Bytes(&'a [u8], usize),
}

impl<'a> Reader<'a> {
    fn new(buf: &'a [u8], base: usize) -> Self {
        Self { buf, pos: 0, base }
    }

    fn offset(&self) -> usize {
        self.base + self.pos
    }

    fn varint(&mut self) -> Result<u64, VocabError> {
        let start = self.offset();
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = *self
                .buf
                .get(self.pos)
                .ok_or_else(|| err(start, "truncated varint"))?;
            self.pos += 1;
            v |= u64::from(b & 0x7f) << shift;
            if b < 0x80 {
                return Ok(v);
            }
        }
        Err(err(start, "varint longer than 10 bytes"))
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], VocabError> {
        let start = self.offset();
        let left = self.buf.len() - self.pos;
        if n > left {
            return Err(err(
                start,
                format!("field of {n} bytes runs past the end ({left} left)"),
            ));
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    /// The next (field number, value), or `None` at the end.
    fn next(&mut self) -> Result<Option<(u64, Value<'a>)>, VocabError> {
        if self.pos >= self.buf.len() {
            return Ok(None);
        }
        let at = self.offset();
        let key = self.varint()?;
        let field = key >> 3;
        let v = match key & 7 {
            0 => Value::Varint(self.varint()?),
            1 => {
                self.take(8)?;
                Value::Fixed64
            }
            2 => {
                let len = self.varint()?;
                let len = usize::try_from(len).map_err(|_| err(at, "length too large"))?;
                let start = self.offset();
                Value::Bytes(self.take(len)?, start)
            }
            5 => {
                let b = self.take(4)?;
                Value::Fixed32([b[0], b[1], b[2], b[3]])
            }
            w => {
                return Err(err(
                    at,
                    format!("unsupported wire type {w} (field {field})"),
                ))
            }
        };
        Ok(Some((field, v)))
    }
}

fn as_int(v: &Value<'_>, at: usize, name: &str) -> Result<i64, VocabError> {
    match v {
        // int32 fields: negative values are sign-extended to 64 bits on the wire.
        Value::Varint(x) => Ok(*x as i64),
        _ => Err(err(at, format!("{name}: expected a varint"))),
    }
}

fn as_bool(v: &Value<'_>, at: usize, name: &str) -> Result<bool, VocabError> {
    as_int(v, at, name).map(|x| x != 0)
}

fn as_str<'a>(v: &Value<'a>, at: usize, name: &str) -> Result<&'a str, VocabError> {
    match v {
        Value::Bytes(b, start) => std::str::from_utf8(b)
            .map_err(|e| err(start + e.valid_up_to(), format!("{name}: invalid UTF-8"))),
        _ => Err(err(at, format!("{name}: expected a string"))),
    }
}

fn parse_piece(buf: &[u8], base: usize) -> Result<Piece, VocabError> {
    let mut r = Reader::new(buf, base);
    let mut piece = None;
    let mut score = 0.0f32;
    let mut kind = PieceType::Normal;
    loop {
        let at = r.offset();
        let Some((field, v)) = r.next()? else { break };
        match field {
            1 => piece = Some(as_str(&v, at, "piece")?.to_owned()),
            2 => match v {
                Value::Fixed32(b) => score = f32::from_le_bytes(b),
                _ => return Err(err(at, "score: expected a float")),
            },
            3 => {
                kind = match as_int(&v, at, "type")? {
                    1 => PieceType::Normal,
                    2 => PieceType::Unknown,
                    3 => PieceType::Control,
                    4 => PieceType::UserDefined,
                    5 => PieceType::Unused,
                    6 => PieceType::Byte,
                    t => return Err(err(at, format!("unknown piece type {t}"))),
                }
            }
            _ => {}
        }
    }
    let piece = piece.ok_or_else(|| err(base, "a piece without its string"))?;
    Ok(Piece { piece, score, kind })
}

/// Parse a `.model` file.
///
/// # Errors
/// Malformed protobuf (with the byte offset), a piece without a string, an unknown piece or
/// model type, no pieces, or more than [`MAX_PIECES`] pieces.
pub fn parse(data: &[u8]) -> Result<ModelProto, VocabError> {
    let mut m = ModelProto {
        pieces: Vec::new(),
        model_type: ModelType::Unigram,
        byte_fallback: false,
        treat_whitespace_as_suffix: false,
        unk_id: 0,
        normalizer_name: "identity".to_owned(),
        precompiled_charsmap: Vec::new(),
        add_dummy_prefix: true,
        remove_extra_whitespaces: true,
        escape_whitespaces: true,
        has_rule_tsv: false,
        bos_piece: "<s>".to_owned(),
        eos_piece: "</s>".to_owned(),
    };
    let mut r = Reader::new(data, 0);
    loop {
        let at = r.offset();
        let Some((field, v)) = r.next()? else { break };
        let body = match v {
            Value::Bytes(body, start) => (body, start),
            _ if matches!(field, 1..=3) => {
                return Err(err(at, format!("field {field}: expected a message")));
            }
            _ => continue,
        };
        match field {
            1 => {
                if m.pieces.len() >= MAX_PIECES {
                    return Err(err(at, format!("more than {MAX_PIECES} pieces")));
                }
                m.pieces.push(parse_piece(body.0, body.1)?);
            }
            2 => parse_trainer(body.0, body.1, &mut m)?,
            3 => parse_normalizer(body.0, body.1, &mut m)?,
            _ => {}
        }
    }
    if m.pieces.is_empty() {
        return Err(err(0, "no pieces (not a SentencePiece model?)"));
    }
    Ok(m)
}

fn parse_trainer(buf: &[u8], base: usize, m: &mut ModelProto) -> Result<(), VocabError> {
    let mut r = Reader::new(buf, base);
    loop {
        let at = r.offset();
        let Some((field, v)) = r.next()? else { break };
        match field {
            3 => {
                m.model_type = match as_int(&v, at, "trainer_spec.model_type")? {
                    1 => ModelType::Unigram,
                    2 => ModelType::Bpe,
                    3 => ModelType::Word,
                    4 => ModelType::Char,
                    t => return Err(err(at, format!("unknown model_type {t}"))),
                }
            }
            24 => m.treat_whitespace_as_suffix = as_bool(&v, at, "treat_whitespace_as_suffix")?,
            35 => m.byte_fallback = as_bool(&v, at, "byte_fallback")?,
            40 => m.unk_id = as_int(&v, at, "unk_id")?,
            46 => m.bos_piece = as_str(&v, at, "trainer_spec.bos_piece")?.to_owned(),
            47 => m.eos_piece = as_str(&v, at, "trainer_spec.eos_piece")?.to_owned(),
            _ => {}
        }
    }
    Ok(())
}

fn parse_normalizer(buf: &[u8], base: usize, m: &mut ModelProto) -> Result<(), VocabError> {
    let mut r = Reader::new(buf, base);
    loop {
        let at = r.offset();
        let Some((field, v)) = r.next()? else { break };
        match field {
            1 => m.normalizer_name = as_str(&v, at, "normalizer_spec.name")?.to_owned(),
            2 => match v {
                Value::Bytes(b, _) => m.precompiled_charsmap = b.to_vec(),
                _ => return Err(err(at, "precompiled_charsmap: expected bytes")),
            },
            3 => m.add_dummy_prefix = as_bool(&v, at, "add_dummy_prefix")?,
            4 => m.remove_extra_whitespaces = as_bool(&v, at, "remove_extra_whitespaces")?,
            5 => m.escape_whitespaces = as_bool(&v, at, "escape_whitespaces")?,
            6 => m.has_rule_tsv = !as_str(&v, at, "normalization_rule_tsv")?.is_empty(),
            _ => {}
        }
    }
    Ok(())
}
