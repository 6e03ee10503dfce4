//! Loading Hugging Face `tokenizer.json` byte-level BPE models.
//!
//! # Design notes
//! A `tokenizer.json` describes a pipeline; this module turns the parts that decide token ids
//! into tokenmill's pieces and refuses, with the JSON path of the field, anything it cannot
//! reproduce exactly:
//! - `model`: type BPE only; vocabulary and merges (`"a b"` strings or `["a", "b"]` pairs) are
//!   decoded from GPT-2's byte-level alphabet into raw bytes ([`bytelevel`]); merge priority is
//!   the merge index and `ignore_merges` maps to whole-piece lookup ([`BpeModel::from_merges`]).
//!   Vocabulary strings outside the alphabet (DeepSeek's `<｜begin▁of▁sentence｜>`) can never be
//!   produced by byte-level merges and are left out of the model; they are added tokens.
//! - `normalizer`: NFC/NFD/NFKC/NFKD, Lowercase, Replace, Prepend, Sequence ([`normalize`]).
//! - `pre_tokenizer`: Split (Oniguruma regex or literal, all five behaviours, `invert`),
//!   ByteLevel (which must come last: it changes the alphabet later steps would see), Digits,
//!   Whitespace, WhitespaceSplit, Sequence ([`split`]).
//! - `added_tokens`: special and non-special; `lstrip`, `rstrip` and `single_word` are refused,
//!   as is `normalized: true` under a normalizer that changes text, and a non-normalized token
//!   that could start inside a normalized one (Hugging Face extracts the non-normalized ones in
//!   a first pass; tokenmill does one leftmost-longest pass, equal otherwise). Hugging Face
//!   extracts added tokens before normalizing and normalizes and pre-tokenizes the segments
//!   between them separately; [`HfTokenizer::encode`] is that pipeline, the reference the fast
//!   `Encoding` is tested against.
//! - `decoder`: ByteLevel or null (decoding is the byte concatenation either way);
//!   `post_processor` is ignored: tokenmill never adds BOS/EOS or template tokens, which matches
//!   `encode(text, add_special_tokens=False)`.
//!
//! Speed: a `Split` whose regex is one of the known patterns (Llama-3/GLM-4, Qwen 2.5/3,
//! Qwen 3.5, MiniMax's o200k-style one, DeepSeek-V3's three steps) runs a hand-written matcher
//! ([`fast`]) that reproduces Oniguruma's matches, with Oniguruma's own character classes;
//! every other pattern runs through Oniguruma itself.
//!
//! Loading parses the JSON once into a tree (about 0.2 s for Llama-3's 9 MB file, 0.5 s in all
//! with the merge table); encoding cost is that of the pre-tokenizer plus the merge engine.

pub mod bytelevel;
pub mod fast;
pub mod normalize;
pub mod post;
pub mod split;
pub mod spm_json;
pub mod table_cache;

use serde_json::{Map, Value};

use crate::{BpeModel, Encoding, Rank, VocabError};
use normalize::{HfNormalizer, Step};
use split::{Behavior, Pattern, PreTok};

/// A token the file declares outside the BPE merges (chat markers, `<think>`, …).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddedToken {
    pub content: String,
    pub id: Rank,
    /// Special tokens follow tiktoken's `allowed_special` rules in tokenmill; non-special ones
    /// are always recognised in text, as Hugging Face does.
    pub special: bool,
}

/// The id-deciding parts of a `tokenizer.json`.
pub struct HfTokenizer {
    pub model: BpeModel,
    pub normalizer: HfNormalizer,
    pub pre_tokenizer: PreTok,
    pub added_tokens: Vec<AddedToken>,
}

/// One entry of a `merges` list: `"a b"` (exactly one space) or `["a", "b"]`.
pub(super) fn merge_pair<'a>(
    v: &'a Value,
    field: &dyn Fn() -> String,
) -> Result<(&'a str, &'a str), VocabError> {
    match v {
        Value::String(s) => {
            let mut it = s.split(' ');
            match (it.next(), it.next(), it.next()) {
                (Some(l), Some(r), None) => Ok((l, r)),
                _ => Err(err(
                    field(),
                    format!("expected two tokens separated by one space, found {s:?}"),
                )),
            }
        }
        Value::Array(a) => match a.as_slice() {
            [Value::String(l), Value::String(r)] => Ok((l.as_str(), r.as_str())),
            _ => Err(err(field(), "expected a pair of strings")),
        },
        other => Err(err(
            field(),
            format!("expected \"a b\" or [\"a\", \"b\"], found {}", kind(other)),
        )),
    }
}

fn err(field: impl Into<String>, message: impl Into<String>) -> VocabError {
    VocabError::TokenizerJson {
        field: field.into(),
        message: message.into(),
    }
}

/// A JSON object with its path, for error messages.
struct Obj<'a> {
    map: &'a Map<String, Value>,
    path: String,
}

impl<'a> Obj<'a> {
    fn new(v: &'a Value, path: &str) -> Result<Self, VocabError> {
        match v {
            Value::Object(map) => Ok(Self {
                map,
                path: path.to_owned(),
            }),
            other => Err(err(
                path,
                format!("expected an object, found {}", kind(other)),
            )),
        }
    }
    fn field(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_owned()
        } else {
            format!("{}.{key}", self.path)
        }
    }
    fn get(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key).filter(|v| !v.is_null())
    }
    fn req(&self, key: &str) -> Result<&'a Value, VocabError> {
        self.get(key).ok_or_else(|| err(self.field(key), "missing"))
    }
    fn str(&self, key: &str) -> Result<&'a str, VocabError> {
        let v = self.req(key)?;
        v.as_str().ok_or_else(|| {
            err(
                self.field(key),
                format!("expected a string, found {}", kind(v)),
            )
        })
    }
    fn opt_str(&self, key: &str) -> Result<Option<&'a str>, VocabError> {
        self.get(key).map(|_| self.str(key)).transpose()
    }
    fn bool_or(&self, key: &str, default: bool) -> Result<bool, VocabError> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => v.as_bool().ok_or_else(|| {
                err(
                    self.field(key),
                    format!("expected true or false, found {}", kind(v)),
                )
            }),
        }
    }
    fn array(&self, key: &str) -> Result<&'a Vec<Value>, VocabError> {
        let v = self.req(key)?;
        v.as_array().ok_or_else(|| {
            err(
                self.field(key),
                format!("expected an array, found {}", kind(v)),
            )
        })
    }
    fn type_name(&self) -> Result<&'a str, VocabError> {
        self.str("type")
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn unsupported(field: String, what: &str) -> VocabError {
    err(field, format!("unsupported '{what}'"))
}

impl HfTokenizer {
    /// Parse a `tokenizer.json` document.
    ///
    /// # Errors
    /// Malformed JSON (with line and column), or a malformed or unsupported field (named by its
    /// JSON path).
    pub fn from_json(json: &[u8]) -> Result<Self, VocabError> {
        Self::from_value(&parse_json(json)?)
    }

    /// [`from_json`](Self::from_json) of an already parsed document.
    ///
    /// # Errors
    /// As [`from_json`](Self::from_json).
    pub fn from_value(root: &Value) -> Result<Self, VocabError> {
        let root = Obj::new(root, "")?;
        let (normalizer, pre_tokenizer, identity_normalizer) = parse_pipeline(&root)?;
        if let Some(d) = root.get("decoder") {
            let d = Obj::new(d, "decoder")?;
            match d.type_name()? {
                "ByteLevel" => {}
                other => return Err(unsupported(d.field("type"), other)),
            }
        }
        let model = parse_model(&Obj::new(root.req("model")?, "model")?)?;
        let added_tokens = parse_added(&root, identity_normalizer)?;
        Ok(Self {
            model,
            normalizer,
            pre_tokenizer,
            added_tokens,
        })
    }

    /// The bytes token `id` decodes to (added tokens decode to their content).
    #[must_use]
    pub fn token_bytes(&self, id: Rank) -> Option<&[u8]> {
        self.model.token_bytes(id).or_else(|| {
            self.added_tokens
                .iter()
                .find(|t| t.id == id)
                .map(|t| t.content.as_bytes())
        })
    }

    /// Reference pipeline (Hugging Face's order of operations), used to test the fast path:
    /// extract added tokens (special ones only with `allow_special`; leftmost-longest), then
    /// normalize, pre-tokenize and BPE-encode each segment between them.
    #[cfg(test)]
    #[must_use]
    pub(crate) fn encode(&self, text: &str, allow_special: bool) -> Vec<Rank> {
        use crate::{Normalizer, PreTokenizer};
        let mut out = Vec::new();
        let encode_segment = |seg: &str, out: &mut Vec<Rank>| {
            let norm = self.normalizer.normalize(seg).unwrap();
            self.pre_tokenizer
                .split(&norm, &mut |piece| {
                    self.model.encode_piece(piece.as_bytes(), out)
                })
                .unwrap();
        };
        let mut first = [false; 256];
        for t in &self.added_tokens {
            first[usize::from(t.content.as_bytes()[0])] = true;
        }
        let mut start = 0;
        let mut i = 0;
        let bytes = text.as_bytes();
        while i < bytes.len() {
            if !first[usize::from(bytes[i])] {
                i += 1;
                continue;
            }
            let best = self
                .added_tokens
                .iter()
                .filter(|t| allow_special || !t.special)
                .filter(|t| bytes[i..].starts_with(t.content.as_bytes()))
                .max_by_key(|t| t.content.len());
            if let Some(t) = best {
                encode_segment(&text[start..i], &mut out);
                out.push(t.id);
                i += t.content.len();
                start = i;
            } else {
                i += 1;
            }
        }
        encode_segment(&text[start..], &mut out);
        out
    }
}

/// Load a `tokenizer.json` as an [`Encoding`] named `name`. Every added token becomes a special
/// token of the encoding (so `allowed_special` governs the special ones, as in tiktoken);
/// non-special added tokens are [always matched](Encoding::set_always_matched), as Hugging Face
/// does. The post-processor (BOS/EOS templates) is ignored.
///
/// # Errors
/// As [`HfTokenizer::from_json`], or added tokens that clash with the vocabulary.
pub fn encoding_from_json(name: &str, json: &[u8]) -> Result<Encoding, VocabError> {
    encoding_from_value(name, &parse_json(json)?)
}

fn parse_json(json: &[u8]) -> Result<Value, VocabError> {
    serde_json::from_slice(json).map_err(|e| err("(document)", format!("invalid JSON: {e}")))
}

/// [`encoding_from_json`] of an already parsed document. SentencePiece-style files (Metaspace,
/// `byte_fallback`, Unigram) go to [`spm_json`].
///
/// # Errors
/// As [`encoding_from_json`].
pub fn encoding_from_value(name: &str, root: &Value) -> Result<Encoding, VocabError> {
    if spm_json::is_sentencepiece_style(root) {
        return spm_json::encoding(name, root);
    }
    HfTokenizer::from_value(root)?.into_encoding(name)
}

impl HfTokenizer {
    /// The [`Encoding`] named `name` (see [`encoding_from_json`]).
    ///
    /// # Errors
    /// Added tokens that clash with the vocabulary.
    pub fn into_encoding(self, name: &str) -> Result<Encoding, VocabError> {
        let normalizer: Option<Box<dyn crate::Normalizer>> = if self.normalizer.is_identity() {
            None
        } else {
            Some(Box::new(self.normalizer))
        };
        let always = self.added_tokens.iter().map(|t| !t.special).collect();
        let specials = self
            .added_tokens
            .into_iter()
            .map(|t| (t.content, t.id))
            .collect();
        let enc = Encoding::new(
            name,
            self.model,
            Box::new(self.pre_tokenizer),
            normalizer,
            specials,
        );
        with_added(enc, always)
    }
}

/// The last step of both `tokenizer.json` loaders: an invalid added token is reported against
/// `added_tokens`, and the added tokens `always` flags are [always
/// matched](Encoding::set_always_matched).
fn with_added(
    enc: Result<Encoding, VocabError>,
    always: Vec<bool>,
) -> Result<Encoding, VocabError> {
    let mut enc = enc.map_err(|e| match e {
        VocabError::InvalidVocab(message) => err("added_tokens", message),
        other => other,
    })?;
    enc.set_always_matched(always);
    Ok(enc)
}

/// The `normalizer` and `pre_tokenizer` of a document (or of the two-field object a table cache
/// keeps of them), and whether the normalizer leaves text unchanged before a leading ByteLevel
/// step's prefix space is added to it.
fn parse_pipeline(root: &Obj<'_>) -> Result<(HfNormalizer, PreTok, bool), VocabError> {
    let mut normalizer = match root.get("normalizer") {
        None => HfNormalizer::default(),
        Some(v) => {
            let mut steps = Vec::new();
            parse_normalizer(&Obj::new(v, "normalizer")?, &mut steps)?;
            HfNormalizer { steps }
        }
    };
    let (pre_tokenizer, prefix_space) = parse_pre_tokenizer_root(root.req("pre_tokenizer")?)?;
    let identity_normalizer = normalizer.is_identity();
    if prefix_space {
        normalizer.steps.push(Step::PrefixSpace);
    }
    Ok((normalizer, pre_tokenizer, identity_normalizer))
}

fn parse_normalizer(n: &Obj<'_>, steps: &mut Vec<Step>) -> Result<(), VocabError> {
    let ty = n.type_name()?;
    match ty {
        "NFC" => steps.push(Step::Nfc),
        "NFD" => steps.push(Step::Nfd),
        "NFKC" => steps.push(Step::Nfkc),
        "NFKD" => steps.push(Step::Nfkd),
        "Lowercase" => steps.push(Step::Lowercase),
        "Prepend" => steps.push(Step::Prepend(n.str("prepend")?.to_owned())),
        "Strip" => steps.push(Step::Strip {
            left: n.bool_or("strip_left", true)?,
            right: n.bool_or("strip_right", true)?,
        }),
        "Precompiled" => {
            let field = n.field("precompiled_charsmap");
            let blob = crate::spm::charsmap::base64_decode(n.str("precompiled_charsmap")?)
                .map_err(|e| err(&field, e))?;
            let map = crate::spm::charsmap::CharsMap::parse(&blob)
                .map_err(|e| err(&field, e.to_string()))?;
            steps.push(Step::Precompiled(Box::new(map)));
        }
        "Replace" => {
            let pattern = parse_pattern(&Obj::new(n.req("pattern")?, &n.field("pattern"))?)?;
            let content = n.str("content")?.to_owned();
            steps.push(Step::Replace { pattern, content });
        }
        "Sequence" => {
            let path = n.field("normalizers");
            for (i, v) in n.array("normalizers")?.iter().enumerate() {
                parse_normalizer(&Obj::new(v, &format!("{path}[{i}]"))?, steps)?;
            }
        }
        other => return Err(unsupported(n.field("type"), other)),
    }
    Ok(())
}

/// `{"Regex": "..."}` or `{"String": "..."}`.
fn parse_pattern(p: &Obj<'_>) -> Result<Pattern, VocabError> {
    if let Some(s) = p.opt_str("Regex")? {
        return Pattern::regex(s).map_err(|e| err(p.field("Regex"), format!("bad regex: {e}")));
    }
    if let Some(s) = p.opt_str("String")? {
        if s.is_empty() {
            return Err(err(p.field("String"), "empty pattern"));
        }
        return Ok(Pattern::Literal(s.to_owned()));
    }
    Err(err(
        &p.path,
        "expected {\"Regex\": ...} or {\"String\": ...}",
    ))
}

/// The pre-tokenizer, and whether a leading ByteLevel asks for a prefix space.
fn parse_pre_tokenizer_root(v: &Value) -> Result<(PreTok, bool), VocabError> {
    let root = Obj::new(v, "pre_tokenizer")?;
    let (steps, paths): (Vec<&Value>, Vec<String>) = if root.type_name()? == "Sequence" {
        let path = root.field("pretokenizers");
        root.array("pretokenizers")?
            .iter()
            .enumerate()
            .map(|(i, v)| (v, format!("{path}[{i}]")))
            .unzip()
    } else {
        (vec![v], vec!["pre_tokenizer".to_owned()])
    };
    let mut out = Vec::new();
    let mut byte_level = false;
    let mut prefix_space = false;
    for (k, (v, path)) in steps.iter().zip(&paths).enumerate() {
        let p = Obj::new(v, path)?;
        if byte_level {
            return Err(err(
                p.field("type"),
                "a step after ByteLevel would see the byte-level alphabet; unsupported",
            ));
        }
        match p.type_name()? {
            "ByteLevel" => {
                byte_level = true;
                if p.bool_or("add_prefix_space", true)? {
                    if k > 0 {
                        return Err(err(
                            p.field("add_prefix_space"),
                            "true after other steps is unsupported",
                        ));
                    }
                    prefix_space = true;
                }
                // Without its regex the step only changes the alphabet: no step at all here.
                if p.bool_or("use_regex", true)? {
                    out.push(regex_split(split::GPT2_PATTERN, Behavior::Isolated, false)?);
                }
            }
            _ => out.push(parse_pre_step(&p)?),
        }
    }
    if !byte_level {
        return Err(err(
            "pre_tokenizer",
            "no ByteLevel step: only byte-level BPE models are supported",
        ));
    }
    // One step alone is that step (a `Sequence` hands each piece of its first step to the
    // empty rest, which passes it on unchanged); it may then split in batches directly.
    let pretok = if out.len() == 1 {
        out.pop().unwrap_or(PreTok::Identity)
    } else {
        PreTok::Sequence(out)
    };
    Ok((pretok, prefix_space))
}

fn regex_split(pattern: &str, behavior: Behavior, invert: bool) -> Result<PreTok, VocabError> {
    Ok(PreTok::Split {
        pattern: Pattern::regex(pattern).map_err(|e| err("pre_tokenizer", e))?,
        behavior,
        invert,
    })
}

fn parse_pre_step(p: &Obj<'_>) -> Result<PreTok, VocabError> {
    Ok(match p.type_name()? {
        "Split" => {
            let pat = Obj::new(p.req("pattern")?, &p.field("pattern"))?;
            let pattern = parse_pattern(&pat)?;
            let b = p.str("behavior")?;
            let behavior = Behavior::parse(b).ok_or_else(|| unsupported(p.field("behavior"), b))?;
            let invert = p.bool_or("invert", false)?;
            // The known patterns match at every position, so their matches tile the text:
            // Isolated and inverted Removed (MiniMax's choice) both yield exactly the matches.
            let fast = match (behavior, invert, pat.opt_str("Regex")?) {
                (Behavior::Isolated, false, Some(re)) | (Behavior::Removed, true, Some(re)) => {
                    fast::Family::of(re)
                }
                _ => None,
            };
            if let Some(split) = fast.and_then(fast::FastSplit::new) {
                return Ok(PreTok::Fast(split));
            }
            PreTok::Split {
                pattern,
                behavior,
                invert,
            }
        }
        "Digits" => PreTok::Split {
            pattern: Pattern::Char(char::is_numeric),
            behavior: if p.bool_or("individual_digits", false)? {
                Behavior::Isolated
            } else {
                Behavior::Contiguous
            },
            invert: false,
        },
        "Whitespace" => regex_split(r"\w+|[^\w\s]+", Behavior::Removed, true)?,
        "WhitespaceSplit" => PreTok::Split {
            pattern: Pattern::Char(char::is_whitespace),
            behavior: Behavior::Removed,
            invert: false,
        },
        "Sequence" => {
            return Err(err(p.field("type"), "nested Sequence is unsupported"));
        }
        other => return Err(unsupported(p.field("type"), other)),
    })
}

fn parse_model(m: &Obj<'_>) -> Result<BpeModel, VocabError> {
    match m.get("type") {
        Some(_) => match m.type_name()? {
            "BPE" => {}
            other => {
                return Err(err(
                    m.field("type"),
                    format!("unsupported '{other}': only byte-level BPE models are supported"),
                ))
            }
        },
        None if m.get("merges").is_some() => {}
        None => return Err(err(m.field("type"), "missing")),
    }
    if m.get("dropout").is_some_and(|d| d.as_f64() != Some(0.0)) {
        return Err(err(
            m.field("dropout"),
            "BPE dropout is unsupported (randomised)",
        ));
    }
    for key in ["continuing_subword_prefix", "end_of_word_suffix"] {
        if m.opt_str(key)?.is_some_and(|s| !s.is_empty()) {
            return Err(err(m.field(key), "unsupported with byte-level BPE"));
        }
    }
    if m.bool_or("byte_fallback", false)? {
        return Err(err(
            m.field("byte_fallback"),
            "unsupported with byte-level BPE",
        ));
    }
    let ignore_merges = m.bool_or("ignore_merges", false)?;
    let dec = bytelevel::Decoder::new();

    let vocab_v = m.req("vocab")?;
    let vocab_obj = vocab_v.as_object().ok_or_else(|| {
        err(
            m.field("vocab"),
            format!("expected an object, found {}", kind(vocab_v)),
        )
    })?;
    let mut vocab = Vec::with_capacity(vocab_obj.len());
    for (tok, id) in vocab_obj {
        let field = || format!("{}[{tok:?}]", m.field("vocab"));
        let id = id
            .as_u64()
            .and_then(|i| Rank::try_from(i).ok())
            .ok_or_else(|| err(field(), format!("expected a token id, found {id}")))?;
        // Strings outside the byte-level alphabet (DeepSeek's `<｜begin▁of▁sentence｜>`) can
        // never come out of byte-level merges; they are reachable only as added tokens.
        if let Some(bytes) = bytelevel::decode(tok, &dec) {
            vocab.push((bytes, id));
        }
    }

    let merges_field = m.field("merges");
    let mut merges = Vec::new();
    for (i, v) in m.array("merges")?.iter().enumerate() {
        let field = || format!("{merges_field}[{i}]");
        let (l, r) = merge_pair(v, &field)?;
        let decode = |s: &str| {
            bytelevel::decode(s, &dec)
                .ok_or_else(|| err(field(), format!("{s:?} is not in the byte-level alphabet")))
        };
        merges.push((decode(l)?, decode(r)?));
    }
    BpeModel::from_merges(vocab, merges, ignore_merges).map_err(|e| match e {
        VocabError::BadMerge { index, message } => err(format!("{merges_field}[{index}]"), message),
        VocabError::InvalidVocab(message) => err(m.field("vocab"), message),
        other => other,
    })
}

fn parse_added(root: &Obj<'_>, identity_normalizer: bool) -> Result<Vec<AddedToken>, VocabError> {
    let Some(v) = root.get("added_tokens") else {
        return Ok(Vec::new());
    };
    let arr = v.as_array().ok_or_else(|| {
        err(
            "added_tokens",
            format!("expected an array, found {}", kind(v)),
        )
    })?;
    // Hugging Face ignores the declared ids: a token whose content is a vocabulary string
    // takes that string's id; any other takes the next id after the vocabulary (its number of
    // entries) and the added tokens so far. Same here, so a file whose declared ids collide
    // with the vocabulary or leave gaps loads as Hugging Face loads it.
    // A BPE vocabulary is an object of ids; a Unigram one an array of [piece, score] (the
    // last of repeated pieces is the one Hugging Face looks up).
    let model_vocab = root.get("model").and_then(|m| m.get("vocab"));
    let vocab = model_vocab.and_then(Value::as_object);
    let unigram_ids: rustc_hash::FxHashMap<&str, u64> = match model_vocab {
        Some(Value::Array(a)) if !arr.is_empty() => a
            .iter()
            .enumerate()
            .filter_map(|(i, e)| Some((e.get(0)?.as_str()?, i as u64)))
            .collect(),
        _ => rustc_hash::FxHashMap::default(),
    };
    let vocab_size = match model_vocab {
        Some(Value::Array(a)) => a.len() as u64,
        _ => vocab.map_or(0, Map::len) as u64,
    };
    let mut ids_so_far = rustc_hash::FxHashMap::<&str, (usize, Rank)>::default();
    let mut max_id: Option<u64> = None;
    let mut out: Vec<AddedToken> = Vec::with_capacity(arr.len());
    let mut flags = Vec::with_capacity(arr.len());
    for (i, t) in arr.iter().enumerate() {
        let t = Obj::new(t, &format!("added_tokens[{i}]"))?;
        let content = t.str("content")?;
        let id_v = t.req("id")?;
        if id_v.as_u64().is_none() {
            return Err(err(
                t.field("id"),
                format!("expected a token id, found {id_v}"),
            ));
        }
        if content.is_empty() {
            return Err(err(t.field("content"), "empty"));
        }
        for flag in ["lstrip", "rstrip", "single_word"] {
            if t.bool_or(flag, false)? {
                return Err(err(
                    t.field(flag),
                    format!("true is unsupported (token {content:?})"),
                ));
            }
        }
        let special = t.bool_or("special", false)?;
        // Hugging Face matches `normalized` tokens in normalized text; with a normalizer that
        // changes text that differs from matching the raw text, which tokenmill does.
        let normalized = t.bool_or("normalized", true)?;
        if normalized && !identity_normalizer {
            return Err(err(
                t.field("normalized"),
                format!("true with a text-changing normalizer is unsupported (token {content:?})"),
            ));
        }
        if let Some(&(k, _)) = ids_so_far.get(content) {
            // Hugging Face keeps one id per content; refuse what it would merge silently.
            if out[k].special != special || flags[k] != normalized {
                return Err(err(
                    t.field("content"),
                    format!("{content:?} repeats added_tokens[{k}] with other flags; unsupported"),
                ));
            }
            continue;
        }
        let in_vocab = vocab
            .and_then(|v| v.get(content))
            .and_then(Value::as_u64)
            .or_else(|| unigram_ids.get(content).copied());
        let id = in_vocab.unwrap_or(match max_id {
            Some(m) if m >= vocab_size || vocab_size == 0 => m + 1,
            _ => vocab_size,
        });
        let id = Rank::try_from(id)
            .ok()
            .filter(|&id| id < Rank::MAX - 1)
            .ok_or_else(|| err(t.field("id"), format!("id {id} is too large")))?;
        max_id = Some(max_id.map_or(u64::from(id), |m| m.max(u64::from(id))));
        ids_so_far.insert(content, (out.len(), id));
        out.push(AddedToken {
            content: content.to_owned(),
            id,
            special,
        });
        flags.push(normalized);
    }
    check_extraction_order(&out, &flags)?;
    Ok(out)
}

/// Hugging Face extracts non-normalized added tokens first and normalized ones afterwards from
/// what is left; tokenmill extracts all in one leftmost-longest pass. The two agree unless a
/// non-normalized token can start inside a normalized one (then Hugging Face cuts the
/// normalized one); such files are refused.
fn check_extraction_order(tokens: &[AddedToken], normalized: &[bool]) -> Result<(), VocabError> {
    let (norm, raw): (Vec<_>, Vec<_>) = tokens
        .iter()
        .zip(normalized)
        .enumerate()
        .partition(|(_, (_, &n))| n);
    for &(i, (y, _)) in &norm {
        let y = y.content.as_bytes();
        for &(_, (x, _)) in &raw {
            let xb = x.content.as_bytes();
            let cut = (0..y.len()).any(|o| {
                let k = (y.len() - o).min(xb.len());
                y[o..o + k] == xb[..k]
            });
            if cut {
                return Err(err(
                    format!("added_tokens[{i}].normalized"),
                    format!(
                        "true, and non-normalized token {:?} can start inside it; unsupported",
                        x.content
                    ),
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
