//! One column value, typed by the catalog, and its JSON form in a backup.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::Value as Json;

use super::ValueKind;

/// A column value as a backup carries it.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
}

impl Value {
    /// The JSON a backup stores: numbers, strings, `null`; blobs as base64.
    pub fn to_json(&self) -> Json {
        match self {
            Value::Null => Json::Null,
            Value::Int(i) => Json::from(*i),
            Value::Real(f) => serde_json::Number::from_f64(*f).map_or(Json::Null, Json::Number),
            Value::Text(s) => Json::String(s.clone()),
            Value::Blob(b) => Json::String(BASE64.encode(b)),
        }
    }

    /// Reads a stored JSON value as a column of `kind`; `None` when it does not fit.
    pub fn from_json(json: Json, kind: ValueKind) -> Option<Value> {
        Some(match (kind, json) {
            (_, Json::Null) => Value::Null,
            (ValueKind::Integer, Json::Number(n)) => Value::Int(n.as_i64()?),
            (ValueKind::Real, Json::Number(n)) => Value::Real(n.as_f64()?),
            (ValueKind::Text, Json::String(s)) => Value::Text(s),
            (ValueKind::Blob, Json::String(s)) => Value::Blob(BASE64.decode(s).ok()?),
            _ => return None,
        })
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_round_trips_through_json() {
        let cases = [
            (ValueKind::Integer, Value::Int(i64::MIN)),
            (ValueKind::Integer, Value::Int(i64::MAX)),
            (ValueKind::Real, Value::Real(0.1)),
            (ValueKind::Text, Value::Text("ünïcode \"quoted\"\n".into())),
            (ValueKind::Blob, Value::Blob(vec![0, 255, 10])),
            (ValueKind::Text, Value::Null),
        ];
        for (kind, v) in cases {
            let text = v.to_json().to_string();
            let back = Value::from_json(serde_json::from_str(&text).unwrap(), kind).unwrap();
            assert_eq!(back, v, "{text}");
        }
    }

    #[test]
    fn a_value_of_the_wrong_kind_is_refused() {
        assert_eq!(Value::from_json(Json::from("1"), ValueKind::Integer), None);
        assert_eq!(Value::from_json(Json::from(1.5), ValueKind::Integer), None);
        assert_eq!(Value::from_json(Json::from(1), ValueKind::Text), None);
        assert_eq!(Value::from_json(Json::from("not base64!"), ValueKind::Blob), None);
    }
}
