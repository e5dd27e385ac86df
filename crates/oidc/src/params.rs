//! Request parameters (query string or form body) as the OAuth RFCs read
//! them: a parameter sent twice is an error (RFC 6749 §3.1, §3.2), an empty
//! value counts as absent, and sizes are bounded.

use std::collections::HashMap;

use crate::error::OAuthError;

const MAX_PARAMS: usize = 64;
const MAX_VALUE_LEN: usize = 8192;

#[derive(Debug, Clone, Default)]
pub struct Params {
    map: HashMap<String, String>,
    /// In order, for rebuilding a query (sign-in return, consent form).
    pairs: Vec<(String, String)>,
}

impl Params {
    /// Parses `application/x-www-form-urlencoded` text.
    pub fn parse(text: &str) -> Result<Params, OAuthError> {
        let mut p = Params::default();
        for (k, v) in form_urlencoded::parse(text.as_bytes()) {
            if p.pairs.len() >= MAX_PARAMS {
                return Err(OAuthError::invalid_request("too many parameters"));
            }
            if v.len() > MAX_VALUE_LEN || k.len() > 128 {
                return Err(OAuthError::invalid_request(format!(
                    "parameter '{}' is too long",
                    truncate(&k)
                )));
            }
            if p.map.contains_key(k.as_ref()) {
                return Err(OAuthError::invalid_request(format!(
                    "parameter '{}' was sent more than once",
                    truncate(&k)
                )));
            }
            p.map.insert(k.to_string(), v.to_string());
            p.pairs.push((k.into_owned(), v.into_owned()));
        }
        Ok(p)
    }

    /// The value of `name`, `None` when absent or empty.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.map.get(name).map(String::as_str).filter(|v| !v.is_empty())
    }

    pub fn has(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    pub fn pairs(&self) -> &[(String, String)] {
        &self.pairs
    }

    /// Splits off a form's own fields: (the rest, those named).
    pub fn split(&self, names: &[&str]) -> (Params, Params) {
        let (mut rest, mut named) = (Params::default(), Params::default());
        for (k, v) in &self.pairs {
            let to = if names.contains(&k.as_str()) {
                &mut named
            } else {
                &mut rest
            };
            to.map.insert(k.clone(), v.clone());
            to.pairs.push((k.clone(), v.clone()));
        }
        (rest, named)
    }

    /// The parameters as a query string, without `drop`ped names.
    pub fn to_query(&self, drop: &[&str]) -> String {
        let mut s = form_urlencoded::Serializer::new(String::new());
        for (k, v) in &self.pairs {
            if !drop.contains(&k.as_str()) {
                s.append_pair(k, v);
            }
        }
        s.finish()
    }
}

fn truncate(s: &str) -> String {
    s.chars().take(40).collect()
}

/// Appends `pairs` to a URL's query (keeping a query it already has).
pub fn append_query(url: &str, pairs: &[(&str, &str)]) -> String {
    let (base, fragment) = match url.split_once('#') {
        Some((b, _)) => (b, ""),
        None => (url, ""),
    };
    let mut out = String::from(base);
    let mut ser = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        ser.append_pair(k, v);
    }
    let q = ser.finish();
    if !q.is_empty() {
        out.push(if base.contains('?') { '&' } else { '?' });
        out.push_str(&q);
    }
    out.push_str(fragment);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicates_are_refused_and_empty_is_absent() {
        let p = Params::parse("a=1&b=&c=x%20y").unwrap();
        assert_eq!(p.get("a"), Some("1"));
        assert_eq!(p.get("b"), None);
        assert_eq!(p.get("c"), Some("x y"));
        assert!(Params::parse("a=1&a=2").is_err());
        let many: Vec<String> = (0..65).map(|i| format!("p{i}=1")).collect();
        assert!(Params::parse(&many.join("&")).is_err());
        assert!(Params::parse(&format!("a={}", "x".repeat(9000))).is_err());
        assert_eq!(p.to_query(&["b"]), "a=1&c=x+y");
        let (rest, named) = p.split(&["a"]);
        assert_eq!((rest.get("a"), rest.get("c")), (None, Some("x y")));
        assert_eq!((named.get("a"), named.pairs().len()), (Some("1"), 1));
    }

    #[test]
    fn append_query_keeps_an_existing_query() {
        assert_eq!(
            append_query("https://a/cb", &[("code", "x y")]),
            "https://a/cb?code=x+y"
        );
        assert_eq!(
            append_query("https://a/cb?x=1", &[("code", "c")]),
            "https://a/cb?x=1&code=c"
        );
        assert_eq!(append_query("https://a/cb#frag", &[("s", "1")]), "https://a/cb?s=1");
    }
}
