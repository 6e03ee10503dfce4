//! `tokenizer.json` files of SentencePiece-style models: Metaspace pre-tokenizer or `▁`
//! normalizers, BPE over characters with `byte_fallback`, or Unigram (see `crate::spm`).
//!
//! # Design notes
//! Recognised when neither the pre-tokenizer nor the decoder has a `ByteLevel` step. Supported,
//! each as Hugging Face applies it:
//! - `normalizer`: the steps of [`super::parse_normalizer`] (`Prepend`, `Replace`, `Strip`,
//!   `Precompiled` character maps, NFKC, ...);
//! - `pre_tokenizer`: null, or `Metaspace` (`replacement` `▁`; `prepend_scheme` `always` /
//!   `first` / `never` or the older `add_prefix_space`; `split`), optionally followed by an
//!   `Isolated` `Split` whose pattern is a literal or an alternation of escaped literals (the
//!   form transformers' converter writes for user-defined pieces), matched as the regex
//!   engine would (leftmost, then the first alternative);
//! - `model`: `BPE` (merge list over characters, `byte_fallback`, `unk_token`, `fuse_unk`,
//!   `ignore_merges`) or `Unigram` (`unk_id`, `byte_fallback`; consecutive unknowns fused);
//! - `decoder`: `Metaspace`, or a `Sequence` of `Replace` (`▁` to a space), `ByteFallback`,
//!   `Fuse` and `Strip` (one leading space); null.
//!
//! Refused with the field named: `WordPiece` and `WordLevel` models, other pre-tokenizers and
//! decoders.

use serde_json::Value;

use super::{err, kind, parse_added, parse_normalizer, unsupported, with_added, Obj};
use crate::hf::normalize::HfNormalizer;
use crate::spm::unigram::Unigram;
use crate::spm::{
    byte_piece, byte_table, space_inside, Algo, Cut, Entry, Prepend, SpModel, SpNormalizer,
    SpSplit, Strip, Unknown, SPACE,
};
use crate::{Encoding, Rank, VocabError};

/// More vocabulary entries than any real file holds.
const MAX_VOCAB: usize = 4 << 20;

fn has_type(v: Option<&Value>, ty: &str) -> bool {
    match v {
        Some(Value::Object(o)) => {
            o.get("type").and_then(Value::as_str) == Some(ty)
                || ["pretokenizers", "decoders"].iter().any(|k| {
                    o.get(*k)
                        .and_then(Value::as_array)
                        .is_some_and(|a| a.iter().any(|x| has_type(Some(x), ty)))
                })
        }
        _ => false,
    }
}

/// Whether a parsed `tokenizer.json` is for this loader rather than the byte-level one: no
/// `ByteLevel` step in its pre-tokenizer or decoder (a file with one is byte-level, and the
/// byte-level loader names whatever else in it is unsupported).
#[must_use]
pub fn is_sentencepiece_style(root: &Value) -> bool {
    !(has_type(root.get("pre_tokenizer"), "ByteLevel")
        || has_type(root.get("decoder"), "ByteLevel"))
}

struct Meta {
    prepend: Prepend,
    split: bool,
}

fn parse_metaspace(p: &Obj<'_>) -> Result<Meta, VocabError> {
    let rep = p.opt_str("replacement")?.unwrap_or("\u{2581}");
    if rep != "\u{2581}" {
        return Err(err(
            p.field("replacement"),
            format!("{rep:?} is unsupported (only '▁')"),
        ));
    }
    let prepend = match p.opt_str("prepend_scheme")? {
        Some("always") => Prepend::Always,
        Some("first") => Prepend::First,
        Some("never") => Prepend::Never,
        Some(other) => return Err(unsupported(p.field("prepend_scheme"), other)),
        None if p.bool_or("add_prefix_space", true)? => Prepend::Always,
        None => Prepend::Never,
    };
    Ok(Meta {
        prepend,
        split: p.bool_or("split", true)?,
    })
}

/// The pre-tokenizer: `Metaspace`, or a `Sequence` of an optional `Metaspace` and an optional
/// `Split` that isolates literal pieces (transformers' converter writes one for a model's
/// user-defined pieces: `Split(Regex("<a>|<b>"), "isolated")`). Returns the Metaspace settings
/// and the literals in the pattern's order.
fn parse_pre_tokenizer(p: &Obj<'_>) -> Result<(Option<Meta>, Vec<String>), VocabError> {
    let steps: Vec<Obj<'_>> = match p.type_name()? {
        "Sequence" => {
            let path = p.field("pretokenizers");
            p.array("pretokenizers")?
                .iter()
                .enumerate()
                .map(|(i, s)| Obj::new(s, &format!("{path}[{i}]")))
                .collect::<Result<_, _>>()?
        }
        _ => vec![Obj {
            map: p.map,
            path: p.path.clone(),
        }],
    };
    let mut meta = None;
    let mut user = None;
    for s in &steps {
        match s.type_name()? {
            "Metaspace" if meta.is_none() && user.is_none() => meta = Some(parse_metaspace(s)?),
            "Split" if user.is_none() => user = Some(parse_literal_split(s)?),
            "Metaspace" | "Split" => {
                return Err(err(
                    s.field("type"),
                    "supported: one Metaspace, then one Split of literal pieces",
                ))
            }
            other => return Err(unsupported(s.field("type"), other)),
        }
    }
    if let (Some(m), Some(_)) = (&meta, &user) {
        if m.split {
            return Err(err(
                steps[0].field("split"),
                "a Metaspace that splits, followed by a Split, is unsupported",
            ));
        }
    }
    Ok((meta, user.unwrap_or_default()))
}

/// A `Split` whose pattern is a literal or an alternation of literals, `Isolated`, not
/// inverted: the literals, in the pattern's order.
fn parse_literal_split(s: &Obj<'_>) -> Result<Vec<String>, VocabError> {
    let behavior = s.str("behavior")?;
    if !behavior.eq_ignore_ascii_case("isolated") || s.bool_or("invert", false)? {
        return Err(err(
            s.field("behavior"),
            format!("only an Isolated, not inverted Split of literal pieces is supported here (found {behavior:?})"),
        ));
    }
    let pat = Obj::new(s.req("pattern")?, &s.field("pattern"))?;
    if let Some(lit) = pat.opt_str("String")? {
        return if lit.is_empty() {
            Err(err(pat.field("String"), "empty pattern"))
        } else {
            Ok(vec![lit.to_owned()])
        };
    }
    let re = pat.str("Regex")?;
    literal_alternation(re).map_err(|why| err(pat.field("Regex"), why))
}

/// The literals of a regex that is an alternation of literals (metacharacters escaped with a
/// backslash, as Python's `re.escape` writes them), or why it is not one.
fn literal_alternation(re: &str) -> Result<Vec<String>, String> {
    const ONLY: &str = "only alternations of literal pieces are supported here";
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = re.chars();
    while let Some(c) = chars.next() {
        match c {
            '|' => out.push(std::mem::take(&mut cur)),
            '\\' => match chars.next() {
                Some(e) if !e.is_ascii_alphanumeric() => cur.push(e),
                Some(e) => return Err(format!("'\\{e}' is not a literal: {ONLY}")),
                None => return Err("ends in a lone backslash".into()),
            },
            '.' | '^' | '$' | '*' | '+' | '?' | '(' | ')' | '[' | ']' | '{' | '}' => {
                return Err(format!("'{c}' is not a literal: {ONLY}"))
            }
            _ => cur.push(c),
        }
    }
    out.push(cur);
    if out.iter().any(String::is_empty) {
        return Err("an empty alternative matches everywhere; unsupported".into());
    }
    Ok(out)
}

/// What the decoder does to the ids' text.
struct Dec {
    /// `▁` becomes a space.
    space: bool,
    /// Byte tokens `<0xAB>` become their byte.
    bytes: bool,
    strip: Strip,
}

fn parse_decoder(root: &Obj<'_>) -> Result<Dec, VocabError> {
    let mut d = Dec {
        space: false,
        bytes: false,
        strip: Strip::Never,
    };
    let Some(v) = root.get("decoder") else {
        return Ok(d);
    };
    let top = Obj::new(v, "decoder")?;
    let steps: Vec<(Obj<'_>, usize)> = if top.type_name()? == "Sequence" {
        let path = top.field("decoders");
        top.array("decoders")?
            .iter()
            .enumerate()
            .map(|(i, s)| Obj::new(s, &format!("{path}[{i}]")).map(|o| (o, i)))
            .collect::<Result<_, _>>()?
    } else {
        vec![(top, 0)]
    };
    let n = steps.len();
    for (s, i) in steps {
        match s.type_name()? {
            "Metaspace" => {
                let m = parse_metaspace(&s)?;
                d.space = true;
                if m.prepend != Prepend::Never {
                    d.strip = Strip::MarkedFirstToken;
                }
            }
            "Replace" => {
                let pat = Obj::new(s.req("pattern")?, &s.field("pattern"))?;
                let from = pat.opt_str("String")?;
                let to = s.str("content")?;
                if from != Some("\u{2581}") || to != " " {
                    return Err(err(
                        s.field("pattern"),
                        "only Replace of '▁' by ' ' is supported in a decoder",
                    ));
                }
                d.space = true;
            }
            "ByteFallback" => d.bytes = true,
            "Fuse" => {}
            "Strip" => {
                let content = s.str("content")?;
                let start = s.get("start").and_then(Value::as_u64).unwrap_or(0);
                let stop = s.get("stop").and_then(Value::as_u64).unwrap_or(0);
                if content != " " || start != 1 || stop != 0 || i + 1 != n {
                    return Err(err(
                        s.field("type"),
                        "only a final Strip of one leading ' ' is supported",
                    ));
                }
                d.strip = Strip::LeadingSpace;
            }
            other => return Err(unsupported(s.field("type"), other)),
        }
    }
    Ok(d)
}

fn surface(piece: &str, dec: &Dec) -> (Vec<u8>, bool) {
    if dec.bytes {
        if let Some(b) = byte_piece(piece) {
            return (vec![b], true);
        }
    }
    let text = if dec.space {
        piece.replace(SPACE, " ")
    } else {
        piece.to_owned()
    };
    (text.into_bytes(), byte_piece(piece).is_some())
}

/// Load a SentencePiece-style `tokenizer.json` (already parsed) as an [`Encoding`].
///
/// # Errors
/// A malformed or unsupported field, named by its JSON path.
pub fn encoding(name: &str, root_v: &Value) -> Result<Encoding, VocabError> {
    let root = Obj::new(root_v, "")?;
    let mut steps = Vec::new();
    if let Some(v) = root.get("normalizer") {
        parse_normalizer(&Obj::new(v, "normalizer")?, &mut steps)?;
    }
    let hf_norm = HfNormalizer { steps };
    let identity = hf_norm.is_identity();
    let (meta, user) = match root.get("pre_tokenizer") {
        None => (None, Vec::new()),
        Some(v) => parse_pre_tokenizer(&Obj::new(v, "pre_tokenizer")?)?,
    };
    let dec = parse_decoder(&root)?;
    let m = Obj::new(root.req("model")?, "model")?;
    let model_type = m.type_name()?;
    let byte_fallback = m.bool_or("byte_fallback", false)?;
    // (piece, score) in id order.
    let (pieces, algo_of): (Vec<(String, f64)>, _) = match model_type {
        "Unigram" => {
            let field = m.field("vocab");
            let arr = m.array("vocab")?;
            if arr.len() > MAX_VOCAB {
                return Err(err(field, format!("more than {MAX_VOCAB} entries")));
            }
            let mut out = Vec::with_capacity(arr.len());
            for (i, e) in arr.iter().enumerate() {
                match e.as_array().map(Vec::as_slice) {
                    Some([Value::String(p), s]) if s.is_number() => {
                        out.push((p.clone(), s.as_f64().unwrap_or(0.0)));
                    }
                    _ => return Err(err(format!("{field}[{i}]"), "expected [piece, score]")),
                }
            }
            (out, "Unigram")
        }
        "BPE" => {
            let field = m.field("vocab");
            let v = m.req("vocab")?;
            let obj = v
                .as_object()
                .ok_or_else(|| err(&field, format!("expected an object, found {}", kind(v))))?;
            if obj.len() > MAX_VOCAB {
                return Err(err(field, format!("more than {MAX_VOCAB} entries")));
            }
            let mut by_id: Vec<Option<String>> = vec![None; obj.len()];
            for (tok, id) in obj {
                let id = id
                    .as_u64()
                    .and_then(|i| usize::try_from(i).ok())
                    .filter(|&i| i < obj.len())
                    .ok_or_else(|| {
                        err(
                            format!("{field}[{tok:?}]"),
                            format!("expected an id below {} (ids must be dense)", obj.len()),
                        )
                    })?;
                if by_id[id].replace(tok.clone()).is_some() {
                    return Err(err(format!("{field}[{tok:?}]"), format!("id {id} repeats")));
                }
            }
            let out = by_id
                .into_iter()
                .map(|p| (p.unwrap_or_default(), 0.0))
                .collect();
            (out, "BPE")
        }
        "WordPiece" | "WordLevel" => {
            return Err(err(
                m.field("type"),
                format!("unsupported '{model_type}' (BPE and Unigram models are supported)"),
            ))
        }
        other => return Err(unsupported(m.field("type"), other)),
    };
    let n = pieces.len();
    let id_of = |p: &str| pieces.iter().position(|(q, _)| q == p).map(|i| i as Rank);
    let added = parse_added(&root, identity)?;
    let mut entries = Vec::with_capacity(n);
    for (p, _) in &pieces {
        let (s, is_byte) = surface(p, &dec);
        entries.push(Entry {
            piece: p.clone(),
            surface: Some(s),
            is_byte,
        });
    }
    let mut byte_ids = [Rank::MAX; 256];
    for (id, (p, _)) in pieces.iter().enumerate() {
        if let Some(b) = byte_piece(p) {
            byte_ids[usize::from(b)] = id as Rank;
        }
    }
    let bytes = if byte_fallback {
        Some(
            byte_table(|b| Some(byte_ids[usize::from(b)]).filter(|&i| i != Rank::MAX))
                .map_err(|e| err(m.field("byte_fallback"), e.to_string()))?,
        )
    } else {
        None
    };
    let (algo, unknown, whole) = if algo_of == "Unigram" {
        let unk = match m.get("unk_id") {
            None => None,
            Some(u) => Some(
                u.as_u64()
                    .and_then(|u| Rank::try_from(u).ok())
                    .filter(|&u| (u as usize) < n)
                    .ok_or_else(|| err(m.field("unk_id"), format!("expected an id below {n}")))?,
            ),
        };
        if unk.is_none() && bytes.is_none() {
            // Hugging Face loads such a file and raises on the first character no piece covers;
            // encoding cannot fail here, so the file is refused rather than that text encoded
            // without the character.
            return Err(err(
                m.field("unk_id"),
                "missing, and byte_fallback is off: a character no piece covers would have no id",
            ));
        }
        let uni = Unigram::from_hf(&pieces, unk.unwrap_or(Rank::MAX))?;
        (
            Algo::Unigram(uni),
            Unknown {
                bytes,
                unk,
                fuse: true,
            },
            false,
        )
    } else {
        for key in ["continuing_subword_prefix", "end_of_word_suffix"] {
            if m.opt_str(key)?.is_some_and(|s| !s.is_empty()) {
                return Err(err(m.field(key), "unsupported"));
            }
        }
        if m.get("dropout").is_some_and(|d| d.as_f64() != Some(0.0)) {
            return Err(err(
                m.field("dropout"),
                "BPE dropout is unsupported (randomised)",
            ));
        }
        let unk = match m.opt_str("unk_token")? {
            None => None,
            Some(t) => Some(id_of(t).ok_or_else(|| {
                err(
                    m.field("unk_token"),
                    format!("{t:?} is not in the vocabulary"),
                )
            })?),
        };
        let merges_field = m.field("merges");
        let list = m.array("merges")?;
        let mut map = rustc_hash::FxHashMap::default();
        map.reserve(list.len());
        let index: rustc_hash::FxHashMap<&str, Rank> = pieces
            .iter()
            .enumerate()
            .map(|(i, (p, _))| (p.as_str(), i as Rank))
            .collect();
        for (i, v) in list.iter().enumerate() {
            let field = || format!("{merges_field}[{i}]");
            let (l, r) = super::merge_pair(v, &field)?;
            let get = |s: &str| {
                index
                    .get(s)
                    .copied()
                    .ok_or_else(|| err(field(), format!("{s:?} is not in the vocabulary")))
            };
            let joined = format!("{l}{r}");
            let (li, ri, mi) = (get(l)?, get(r)?, get(&joined)?);
            map.entry((li, ri)).or_insert((i as u32, mi));
        }
        (
            Algo::MergeBpe(map),
            Unknown {
                bytes,
                unk,
                fuse: m.bool_or("fuse_unk", false)?,
            },
            m.bool_or("ignore_merges", false)?,
        )
    };
    // A Unigram piece continues the path score of the one before it unless Hugging Face splits
    // the text into words there (then every word starts at 0).
    // A literal Split cuts the text into pre-tokens too, each a lattice of its own: a Unigram
    // model then takes each stretch between the literals whole, from 0.
    let unigram = matches!(algo, Algo::Unigram(_));
    let cut = match &meta {
        Some(Meta { split: true, .. }) => Cut::EverySpace,
        _ if unigram && !user.is_empty() => Cut::Whole,
        _ if space_inside(pieces.iter().map(|(p, _)| p.as_str())) => Cut::Whole,
        _ => Cut::SpaceRuns,
    };
    let algo = match algo {
        Algo::Unigram(mut u) => {
            u.set_carry(cut != Cut::EverySpace && user.is_empty());
            Algo::Unigram(u)
        }
        other => other,
    };
    let normalizer = SpNormalizer {
        inner: (!identity).then(|| Box::new(hf_norm) as Box<dyn crate::Normalizer>),
        remove_extra_whitespaces: false,
        escape: meta.is_some(),
        prepend: meta.as_ref().map_or(Prepend::Never, |m| m.prepend),
        prepend_unless_space: true,
        rules: None,
    };
    let mut model = SpModel::new(entries, Vec::new(), algo, unknown, dec.strip)?;
    model.set_whole_piece_lookup(whole);
    let always = added.iter().map(|t| !t.special).collect();
    let specials = added.into_iter().map(|t| (t.content, t.id)).collect();
    let enc = Encoding::with_piece_model(
        name,
        Box::new(model),
        Box::new(SpSplit::in_order(&user, cut)?),
        Some(Box::new(normalizer)),
        specials,
    );
    with_added(enc, always)
}
