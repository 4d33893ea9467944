//! Strict JSON: request bodies are parsed into a [`Value`] that refuses
//! what the databases cannot store or what would be read two ways — a
//! NUL character (`\u0000`) in any string or key, and an object key that
//! appears twice. Each is a 400 naming the field.

use std::cell::RefCell;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

/// Why a body was refused: the field (dotted path) and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The field, e.g. `metadata.note` or `body` for the top level.
    pub reference: String,
    /// What is wrong with it.
    pub detail: &'static str,
}

/// Detail of a NUL character in text.
pub const NUL_DETAIL: &str = "Text must not contain the NUL character (\\u0000).";
const DUPLICATE_DETAIL: &str = "This key appears more than once in the object.";

/// How [`parse`] failed.
#[derive(Debug)]
pub enum StrictError {
    /// Valid JSON refused by a rule above.
    Refused(Refusal),
    /// Not JSON at all.
    Malformed(serde_json::Error),
}

/// Parses `bytes` as JSON, refusing NUL characters and duplicate keys.
pub fn parse(bytes: &[u8]) -> Result<Value, StrictError> {
    let refusal = RefCell::new(None);
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let seed = Node {
        path: String::new(),
        refusal: &refusal,
    };
    let parsed = seed
        .deserialize(&mut deserializer)
        .and_then(|value| deserializer.end().map(|()| value));
    match (parsed, refusal.into_inner()) {
        (_, Some(refusal)) => Err(StrictError::Refused(refusal)),
        (Ok(value), None) => Ok(value),
        (Err(err), None) => Err(StrictError::Malformed(err)),
    }
}

/// One node of the document at `path`.
struct Node<'a> {
    path: String,
    refusal: &'a RefCell<Option<Refusal>>,
}

impl Node<'_> {
    fn refuse<E: de::Error>(&self, path: &str, detail: &'static str) -> E {
        let reference = if path.is_empty() { "body" } else { path };
        *self.refusal.borrow_mut() = Some(Refusal {
            reference: reference.to_string(),
            detail,
        });
        E::custom(detail)
    }

    fn child(&self, segment: &str) -> String {
        if self.path.is_empty() {
            segment.to_string()
        } else {
            format!("{}.{segment}", self.path)
        }
    }
}

impl<'de> DeserializeSeed<'de> for Node<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Node<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        if v.contains('\0') {
            return Err(self.refuse(&self.path, NUL_DETAIL));
        }
        Ok(Value::String(v.to_string()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        self.visit_str(&v)
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(Node {
            path: self.child(&items.len().to_string()),
            refusal: self.refusal,
        })? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let path = self.child(&key);
            if key.contains('\0') {
                return Err(self.refuse(&self.path, NUL_DETAIL));
            }
            if object.contains_key(&key) {
                return Err(self.refuse(&path, DUPLICATE_DETAIL));
            }
            let value = map.next_value_seed(Node {
                path,
                refusal: self.refusal,
            })?;
            object.insert(key, value);
        }
        Ok(Value::Object(object))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn refused(text: &str) -> Refusal {
        match parse(text.as_bytes()) {
            Err(StrictError::Refused(refusal)) => refusal,
            other => panic!("{text}: {other:?}"),
        }
    }

    #[test]
    fn ordinary_json_parses_as_serde_json_does() {
        let text = r#"{"a": [1, -2, 3.5, "x", null, true], "b": {"c": "Émile"}}"#;
        let expected: Value = serde_json::from_str(text).unwrap();
        assert_eq!(parse(text.as_bytes()).unwrap(), expected);
        assert_eq!(parse(b"{}").unwrap(), json!({}));
    }

    #[test]
    fn nul_characters_are_refused_with_the_field_path() {
        assert_eq!(refused(r#"{"name": "a\u0000b"}"#).reference, "name");
        assert_eq!(
            refused(r#"{"metadata": {"k": "\u0000"}}"#).reference,
            "metadata.k"
        );
        assert_eq!(refused(r#"{"list": ["ok", "\u0000"]}"#).reference, "list.1");
        assert_eq!(refused(r#"{"meta": {"a\u0000": 1}}"#).reference, "meta");
        assert_eq!(refused(r#""\u0000""#).reference, "body");
        assert_eq!(refused(r#"{"name": "a\u0000b"}"#).detail, NUL_DETAIL);
    }

    #[test]
    fn duplicate_keys_are_refused_at_any_depth() {
        assert_eq!(refused(r#"{"name": "a", "name": "b"}"#).reference, "name");
        assert_eq!(refused(r#"{"x": {"y": 1, "y": 1}}"#).reference, "x.y");
    }

    #[test]
    fn malformed_json_is_reported_as_such() {
        assert!(matches!(
            parse(b"{\"a\": }"),
            Err(StrictError::Malformed(_))
        ));
        assert!(matches!(parse(b"{} {}"), Err(StrictError::Malformed(_))));
    }
}
