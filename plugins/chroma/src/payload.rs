//! A vdr payload (a JSON object) as a Chroma document plus metadata, and
//! back. See README.md "Payload mapping". The rules, chosen so that any
//! payload round-trips to the same canonical JSON:
//!
//! - a string under the reserved key `"document"` becomes the Chroma document;
//! - booleans, strings, i64 integers and finite floats are stored as Chroma
//!   metadata scalars under the same key;
//! - everything else (objects, arrays, null, integers beyond i64) is stored as
//!   the string `vdr:json:<JSON>`; a genuine string value that starts with
//!   that marker is stored the same way (JSON-encoded), so decoding is
//!   unambiguous;
//! - keys Chroma refuses (`""`, `#...`, `$...`), a non-string `"document"`
//!   and the reserved `vdr:extra` itself are kept together in one
//!   marker-encoded object under `vdr:extra`.

use serde_json::{Map, Value};
use vdr_plugin_sdk::{Error, Result};

pub const JSON_MARKER: &str = "vdr:json:";
pub const EXTRA_KEY: &str = "vdr:extra";
pub const DOCUMENT_KEY: &str = "document";

/// Chroma metadata of one record.
pub type Metadata = Map<String, Value>;

/// Metadata and document of one record.
pub fn split(payload: Option<&str>) -> Result<(Option<Metadata>, Option<String>)> {
    let Some(text) = payload else { return Ok((None, None)) };
    let value: Value = serde_json::from_str(text)
        .map_err(|e| Error::InvalidInput(format!("payload is not JSON: {e}")))?;
    let Value::Object(object) = value else {
        return Err(Error::InvalidInput("payload must be a JSON object".into()));
    };
    let (mut metadata, mut extra, mut document) = (Map::new(), Map::new(), None);
    for (key, value) in object {
        match value {
            Value::String(s) if key == DOCUMENT_KEY => document = Some(s),
            v if needs_extra(&key) => {
                extra.insert(key, v);
            }
            v => {
                metadata.insert(key, encode_value(v));
            }
        }
    }
    // An empty payload keeps an empty marker so that it reads back as `{}`,
    // not as "no payload".
    if !extra.is_empty() || (metadata.is_empty() && document.is_none()) {
        metadata.insert(EXTRA_KEY.into(), marked(&Value::Object(extra)));
    }
    Ok(((!metadata.is_empty()).then_some(metadata), document))
}

/// The payload of a record read back (`None` when it has neither).
pub fn join(metadata: Option<Map<String, Value>>, document: Option<String>) -> Option<String> {
    if metadata.is_none() && document.is_none() {
        return None;
    }
    let mut out = Map::new();
    for (key, value) in metadata.unwrap_or_default() {
        match (key.as_str(), decode_value(value)) {
            (EXTRA_KEY, Value::Object(extra)) => out.extend(extra),
            (_, v) => {
                out.insert(key, v);
            }
        }
    }
    if let Some(d) = document {
        out.insert(DOCUMENT_KEY.into(), Value::String(d));
    }
    Some(Value::Object(out).to_string())
}

fn needs_extra(key: &str) -> bool {
    key.is_empty()
        || key.starts_with('#')
        || key.starts_with('$')
        || key == EXTRA_KEY
        || key == DOCUMENT_KEY
}

fn encode_value(value: Value) -> Value {
    match value {
        Value::Bool(_) => value,
        Value::Number(ref n) if n.is_i64() || n.is_f64() => value,
        Value::String(ref s) if !s.starts_with(JSON_MARKER) => value,
        other => marked(&other),
    }
}

fn marked(value: &Value) -> Value {
    Value::String(format!("{JSON_MARKER}{value}"))
}

fn decode_value(value: Value) -> Value {
    match &value {
        Value::String(s) => match s.strip_prefix(JSON_MARKER) {
            Some(json) => serde_json::from_str(json).unwrap_or(value),
            None => value,
        },
        _ => value,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_round_trip() {
        for text in [
            r##"{"a":1,"b":0.5,"c":"x","d":{"e":[1,null]},"document":"doc","#k":1,"":2}"##,
            r#"{"document":3,"vdr:extra":"y","s":"vdr:json:1","big":18446744073709551615}"#,
            r#"{"f":1.0,"n":null,"t":true}"#,
            "{}",
        ] {
            let (m, d) = split(Some(text)).unwrap();
            let m = m.map(|m| serde_json::from_str(&Value::Object(m).to_string()).unwrap());
            let back = join(m, d).unwrap();
            let canon = |t: &str| serde_json::from_str::<Value>(t).unwrap().to_string();
            assert_eq!(canon(&back), canon(text));
        }
    }
}
