//! A provider's settings in authentik's field names, as a blueprint entry or
//! a REST API request gives them. Each protocol crate reads its provider's
//! fields through [`Fields`] (one translation for both doors); the door turns
//! a [`FieldError`] into its own error (a blueprint's line and column, the
//! API's `{field: [message]}`).

use serde_json::{Map, Value};

/// Why a field was refused, and what would be accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub message: String,
    pub hint: Option<String>,
}

impl FieldError {
    pub fn new(field: &str, message: impl Into<String>) -> FieldError {
        FieldError {
            field: field.to_string(),
            message: message.into(),
            hint: None,
        }
    }

    pub fn hint(mut self, hint: impl Into<String>) -> FieldError {
        self.hint = Some(hint.into());
        self
    }
}

impl std::fmt::Display for FieldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// Fields by name; a null value counts as absent.
pub trait Fields {
    /// The value of `k`, unless absent or null.
    fn value(&self, k: &str) -> Option<&Value>;
    /// Whether `k` was given at all (null included: "clear it").
    fn present(&self, k: &str) -> bool;

    /// Text (a number is taken as its text).
    fn text(&self, k: &str) -> Result<Option<String>, FieldError> {
        match self.value(k) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(Value::Number(n)) => Ok(Some(n.to_string())),
            Some(_) => Err(FieldError::new(k, format!("{k}: expected text"))),
        }
    }

    fn flag(&self, k: &str) -> Result<Option<bool>, FieldError> {
        match self.value(k) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(Value::String(s)) if s == "true" || s == "false" => Ok(Some(s == "true")),
            Some(_) => Err(FieldError::new(k, format!("{k}: expected true or false"))),
        }
    }

    /// A whole number (or its text).
    fn whole(&self, k: &str) -> Result<Option<i64>, FieldError> {
        match self.value(k) {
            None => Ok(None),
            Some(v) => v
                .as_i64()
                .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
                .map(Some)
                .ok_or_else(|| FieldError::new(k, format!("{k}: expected a whole number"))),
        }
    }

    /// Text that may be cleared: `Some("")` for a null.
    fn text_or_cleared(&self, k: &str) -> Result<Option<String>, FieldError> {
        if !self.present(k) {
            return Ok(None);
        }
        Ok(Some(self.text(k)?.unwrap_or_default()))
    }
}

impl Fields for Map<String, Value> {
    fn value(&self, k: &str) -> Option<&Value> {
        self.get(k).filter(|v| !v.is_null())
    }

    fn present(&self, k: &str) -> bool {
        self.contains_key(k)
    }
}

/// authentik's `timedelta` text: `hours=1;minutes=30`, `days=30`, `seconds=600`.
pub fn parse_duration(text: &str) -> Option<i64> {
    let mut total = 0i64;
    for part in text.split(';').map(str::trim).filter(|p| !p.is_empty()) {
        let (unit, n) = part.split_once('=')?;
        let n: f64 = n.trim().parse().ok()?;
        let mult = match unit.trim() {
            "weeks" => 604_800.0,
            "days" => 86_400.0,
            "hours" => 3600.0,
            "minutes" => 60.0,
            "seconds" => 1.0,
            _ => return None,
        };
        total += (n * mult) as i64;
    }
    Some(total)
}

/// Seconds in authentik's `timedelta` text, in the largest whole unit.
pub fn format_duration(secs: i64) -> String {
    if secs % 86_400 == 0 {
        format!("days={}", secs / 86_400)
    } else if secs % 3600 == 0 {
        format!("hours={}", secs / 3600)
    } else if secs % 60 == 0 {
        format!("minutes={}", secs / 60)
    } else {
        format!("seconds={secs}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn durations_read_and_write_authentiks_form() {
        assert_eq!(parse_duration("hours=1;minutes=30"), Some(5400));
        assert_eq!(parse_duration("days=30"), Some(2_592_000));
        assert_eq!(parse_duration("fortnights=1"), None);
        assert_eq!(format_duration(600), "minutes=10");
        assert_eq!(format_duration(86_400), "days=1");
        assert_eq!(format_duration(61), "seconds=61");
    }

    #[test]
    fn null_is_absent_but_present() {
        let m = json!({"a": null, "b": "x", "n": 7, "f": true})
            .as_object()
            .unwrap()
            .clone();
        assert_eq!(m.value("a"), None);
        assert!(m.present("a"));
        assert_eq!(m.text_or_cleared("a").unwrap(), Some(String::new()));
        assert_eq!(m.text("n").unwrap(), Some("7".into()));
        assert_eq!(m.whole("n").unwrap(), Some(7));
        assert!(m.flag("b").is_err());
        assert_eq!(m.flag("f").unwrap(), Some(true));
    }
}
