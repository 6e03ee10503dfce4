//! The `post_processor` of a `tokenizer.json`: the ids Hugging Face adds around an encoded text
//! when `add_special_tokens=True`.
//!
//! # Design notes
//! For one sequence every supported post-processor reduces to fixed ids before and after the
//! text: `TemplateProcessing`'s `single` template (its `SpecialToken` pieces, with the ids the
//! template's `special_tokens` table gives, around the one `Sequence` piece), `BertProcessing`
//! and `RobertaProcessing` (`cls` before, `sep` after), `ByteLevel` (changes offsets only: no
//! ids) and `Sequence` (each step wraps the result of the previous one). Anything else is refused
//! with the JSON path of its `type`.
//!
//! Only the top-level `post_processor` field is read: [`from_json`] walks the document with
//! serde's visitor and skips every other value without building it, so a 9 MB file costs a fast
//! scan, not a second full parse.

use std::fmt;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, Visitor};
use serde_json::Value;

use crate::{Rank, VocabError};

/// The ids added around one encoded sequence.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Template {
    pub prefix: Vec<Rank>,
    pub suffix: Vec<Rank>,
}

fn err(field: impl Into<String>, message: impl Into<String>) -> VocabError {
    VocabError::TokenizerJson {
        field: field.into(),
        message: message.into(),
    }
}

fn id_of(v: &Value, field: &str) -> Result<Rank, VocabError> {
    v.as_u64()
        .and_then(|n| Rank::try_from(n).ok())
        .ok_or_else(|| err(field, format!("expected a token id, found {v}")))
}

/// `[content, id]` (Bert / Roberta `cls` and `sep`).
fn pair_id(p: &Value, key: &str, path: &str) -> Result<Rank, VocabError> {
    let field = format!("{path}.{key}");
    match p.get(key).and_then(Value::as_array).map(Vec::as_slice) {
        Some([_, id]) => id_of(id, &format!("{field}[1]")),
        _ => Err(err(field, "expected [token, id]")),
    }
}

fn template(p: &Value, path: &str) -> Result<Template, VocabError> {
    let single_field = format!("{path}.single");
    let single = p
        .get("single")
        .and_then(Value::as_array)
        .ok_or_else(|| err(&single_field, "expected a list of pieces"))?;
    let specials = p.get("special_tokens").and_then(Value::as_object);
    let mut out = Template::default();
    let mut seen_sequence = false;
    for (i, piece) in single.iter().enumerate() {
        let field = format!("{single_field}[{i}]");
        if let Some(s) = piece.get("SpecialToken") {
            let name = s
                .get("id")
                .and_then(Value::as_str)
                .ok_or_else(|| err(format!("{field}.SpecialToken.id"), "expected a string"))?;
            let entry = specials.and_then(|m| m.get(name)).ok_or_else(|| {
                err(
                    format!("{path}.special_tokens"),
                    format!("no entry for {name:?}, which {field} uses"),
                )
            })?;
            let ids = entry.get("ids").and_then(Value::as_array).ok_or_else(|| {
                err(
                    format!("{path}.special_tokens.{name}.ids"),
                    "expected a list",
                )
            })?;
            for (k, id) in ids.iter().enumerate() {
                let id = id_of(id, &format!("{path}.special_tokens.{name}.ids[{k}]"))?;
                if seen_sequence {
                    out.suffix.push(id);
                } else {
                    out.prefix.push(id);
                }
            }
        } else if let Some(s) = piece.get("Sequence") {
            let which = s.get("id").and_then(Value::as_str).unwrap_or("A");
            if which != "A" || seen_sequence {
                return Err(err(
                    field,
                    "a single-sequence template must hold the sequence A exactly once",
                ));
            }
            seen_sequence = true;
        } else {
            return Err(err(field, "expected a SpecialToken or Sequence piece"));
        }
    }
    if !seen_sequence {
        return Err(err(
            single_field,
            "the template never places the sequence A",
        ));
    }
    Ok(out)
}

/// The template of a parsed `post_processor` value (`path` names it in errors).
///
/// # Errors
/// An unknown or malformed post-processor, naming its JSON path.
pub fn parse(p: &Value, path: &str) -> Result<Template, VocabError> {
    if p.is_null() {
        return Ok(Template::default());
    }
    let ty = p
        .get("type")
        .and_then(Value::as_str)
        .ok_or_else(|| err(format!("{path}.type"), "missing"))?;
    match ty {
        "ByteLevel" => Ok(Template::default()),
        "TemplateProcessing" => template(p, path),
        "BertProcessing" | "RobertaProcessing" => Ok(Template {
            prefix: vec![pair_id(p, "cls", path)?],
            suffix: vec![pair_id(p, "sep", path)?],
        }),
        "Sequence" => {
            let steps = p
                .get("processors")
                .and_then(Value::as_array)
                .ok_or_else(|| err(format!("{path}.processors"), "expected a list"))?;
            let mut out = Template::default();
            for (i, step) in steps.iter().enumerate() {
                let t = parse(step, &format!("{path}.processors[{i}]"))?;
                let mut prefix = t.prefix;
                prefix.append(&mut out.prefix);
                out.prefix = prefix;
                out.suffix.extend(t.suffix);
            }
            Ok(out)
        }
        other => Err(err(
            format!("{path}.type"),
            format!(
                "unsupported post-processor {other:?} (supported: TemplateProcessing, ByteLevel, \
                 BertProcessing, RobertaProcessing, Sequence)"
            ),
        )),
    }
}

/// Reads the top-level object, keeping only `post_processor`.
struct PostOnly;

impl<'de> Visitor<'de> for PostOnly {
    type Value = Option<Value>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a tokenizer.json object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut found = None;
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            if key == "post_processor" {
                found = Some(map.next_value::<Value>()?);
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(found)
    }
}

impl<'de> DeserializeSeed<'de> for PostOnly {
    type Value = Option<Value>;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

/// The post-processor template of a `tokenizer.json` document.
///
/// # Errors
/// Malformed JSON, or an unknown or malformed post-processor (naming its JSON path).
pub fn from_json(json: &[u8]) -> Result<Template, VocabError> {
    let mut de = serde_json::Deserializer::from_slice(json);
    let post = PostOnly
        .deserialize(&mut de)
        .map_err(|e| err("(document)", format!("invalid JSON: {e}")))?;
    match post {
        None => Ok(Template::default()),
        Some(v) => parse(&v, "post_processor"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_sequence_and_errors() {
        let doc = br#"{"model": {"vocab": {"a": 0}}, "post_processor": {"type": "Sequence",
            "processors": [{"type": "ByteLevel"}, {"type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}},
                       {"Sequence": {"id": "A", "type_id": 0}},
                       {"SpecialToken": {"id": "</s>", "type_id": 0}}],
            "special_tokens": {"<s>": {"id": "<s>", "ids": [1], "tokens": ["<s>"]},
                               "</s>": {"id": "</s>", "ids": [2], "tokens": ["</s>"]}}},
            {"type": "RobertaProcessing", "cls": ["<c>", 7], "sep": ["<e>", 8]}]}}"#;
        let t = from_json(doc).unwrap();
        assert_eq!(t.prefix, [7, 1]);
        assert_eq!(t.suffix, [2, 8]);
        assert_eq!(
            from_json(br#"{"post_processor": null}"#).unwrap(),
            Template::default()
        );
        let bad = br#"{"post_processor": {"type": "Sequence", "processors": [{"type": "Nope"}]}}"#;
        let e = from_json(bad).unwrap_err().to_string();
        assert!(e.contains("post_processor.processors[0].type"), "{e}");
    }
}
