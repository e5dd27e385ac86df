//! Request input: query parameters (repeatable, as django-filter reads them)
//! and JSON bodies. A body must be a JSON object; unknown fields are ignored,
//! values of the wrong type are refused field by field, as DRF does.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use uuid::Uuid;

use crate::error::ApiError;

/// The query string as name/value pairs.
#[derive(Debug, Default, Clone)]
pub struct Params(Vec<(String, String)>);

impl<S: Send + Sync> FromRequestParts<S> for Params {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or("");
        Ok(Params(form_urlencoded::parse(query.as_bytes()).into_owned().collect()))
    }
}

impl Params {
    pub fn from_pairs(pairs: Vec<(String, String)>) -> Self {
        Params(pairs)
    }

    /// The last value given for `name`, if not empty.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(k, v)| k == name && !v.is_empty())
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self, name: &str) -> Option<String> {
        self.get(name).map(str::to_string)
    }

    /// Every non-empty value given for `name`.
    pub fn all(&self, name: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, v)| k == name && !v.is_empty())
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// `true`/`false` (or `1`/`0`); anything else is a 400 naming the parameter.
    pub fn bool(&self, name: &str) -> Result<Option<bool>, ApiError> {
        match self.get(name).map(str::to_ascii_lowercase).as_deref() {
            None => Ok(None),
            Some("true" | "1") => Ok(Some(true)),
            Some("false" | "0") => Ok(Some(false)),
            Some(_) => Err(ApiError::field(name, "Select a valid choice.")),
        }
    }

    /// A boolean with a default when absent.
    pub fn flag(&self, name: &str, default: bool) -> Result<bool, ApiError> {
        Ok(self.bool(name)?.unwrap_or(default))
    }

    pub fn uuid(&self, name: &str) -> Result<Option<Uuid>, ApiError> {
        self.get(name)
            .map(|v| Uuid::parse_str(v).map_err(|_| ApiError::field(name, "Enter a valid UUID.")))
            .transpose()
    }

    pub fn int(&self, name: &str) -> Result<Option<i64>, ApiError> {
        self.get(name)
            .map(|v| v.parse().map_err(|_| ApiError::field(name, "Enter a whole number.")))
            .transpose()
    }
}

/// A JSON object body deserialized into `T`.
pub struct Body<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|_| ApiError::general("The request body is too large or could not be read."))?;
        parse(&bytes).map(Body)
    }
}

/// Parses a body: an object (empty means `{}`), then `T` field by field.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let value: serde_json::Value = if bytes.iter().all(u8::is_ascii_whitespace) {
        serde_json::Value::Object(Default::default())
    } else {
        serde_json::from_slice(bytes).map_err(|e| ApiError::general(format!("JSON parse error - {e}")))?
    };
    if !value.is_object() {
        return Err(ApiError::general(format!(
            "Invalid data. Expected a dictionary, but got {}.",
            kind(&value)
        )));
    }
    from_value(value)
}

/// `T` from an object already parsed, field by field (missing, wrong type).
pub fn from_value<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, ApiError> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner().to_string();
        match inner.strip_prefix("missing field `") {
            Some(rest) => ApiError::field(rest.trim_end_matches('`'), "This field is required."),
            None => ApiError::field(path.split(['.', '[']).next().unwrap_or("non_field_errors"), inner),
        }
    })
}

fn kind(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "bool",
        serde_json::Value::Number(_) => "number",
        serde_json::Value::String(_) => "str",
        serde_json::Value::Array(_) => "list",
        serde_json::Value::Object(_) => "dict",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug)]
    #[allow(dead_code)]
    struct T {
        username: String,
        is_active: Option<bool>,
    }

    fn fields(e: ApiError) -> Vec<String> {
        match e {
            ApiError::Invalid(m) => m.keys().cloned().collect(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn bodies_are_checked_field_by_field() {
        assert!(parse::<T>(br#"{"username": "a", "extra": 1}"#).is_ok());
        assert_eq!(fields(parse::<T>(br#"{"is_active": true}"#).unwrap_err()), ["username"]);
        assert_eq!(
            fields(parse::<T>(br#"{"username": "a", "is_active": "yes"}"#).unwrap_err()),
            ["is_active"]
        );
        assert_eq!(fields(parse::<T>(br#"{"username": 5}"#).unwrap_err()), ["username"]);
        assert_eq!(fields(parse::<T>(b"[1]").unwrap_err()), ["non_field_errors"]);
        assert_eq!(fields(parse::<T>(b"{nope").unwrap_err()), ["non_field_errors"]);
    }
}
