//! Scopes Gatehouse knows (authentik's set) and the parsing rules: unknown
//! scopes are dropped (RFC 6749 §3.3 lets the server narrow the request), the
//! order is kept, duplicates go.

pub const OPENID: &str = "openid";
pub const EMAIL: &str = "email";
pub const PROFILE: &str = "profile";
pub const OFFLINE_ACCESS: &str = "offline_access";

pub const SUPPORTED: [&str; 4] = [OPENID, EMAIL, PROFILE, OFFLINE_ACCESS];

/// The known scopes in `text` (space-separated), in order, without duplicates.
pub fn parse(text: Option<&str>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for s in text.unwrap_or("").split_ascii_whitespace() {
        if SUPPORTED.contains(&s) && !out.iter().any(|o| o == s) {
            out.push(s.to_string());
        }
    }
    out
}

pub fn has(scopes: &[String], scope: &str) -> bool {
    scopes.iter().any(|s| s == scope)
}

pub fn join(scopes: &[String]) -> String {
    scopes.join(" ")
}

/// Whether every scope of `asked` is in `granted` (refresh narrowing).
pub fn is_subset(asked: &[String], granted: &[String]) -> bool {
    asked.iter().all(|a| has(granted, a))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_and_duplicate_scopes_are_dropped() {
        assert_eq!(parse(Some("openid  email openid admin")), vec!["openid", "email"]);
        assert!(parse(None).is_empty());
        let g = parse(Some("openid email"));
        assert!(is_subset(&parse(Some("email")), &g));
        assert!(!is_subset(&parse(Some("profile")), &g));
    }
}
