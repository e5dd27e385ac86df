//! Validation of the names people and scripts choose: usernames, group names,
//! application slugs, emails. Kept strict so names are safe in URLs, headers,
//! LDAP DNs and shell scripts alike.

use crate::error::{Error, Result};

/// Usernames: 1–150 characters of letters, digits and `.`, `_`, `-`, `@`, `+`
/// (authentik's limit and character set). Compared case-insensitively.
pub fn check_username(name: &str) -> Result<()> {
    check_chars("username", name, 150, |c| {
        c.is_alphanumeric() || matches!(c, '.' | '_' | '-' | '@' | '+')
    })
}

/// Group names: 1–150 characters; letters, digits, space and `.`, `_`, `-`.
pub fn check_group_name(name: &str) -> Result<()> {
    check_chars("group name", name, 150, |c| {
        c.is_alphanumeric() || matches!(c, '.' | '_' | '-' | ' ')
    })?;
    if name.trim() != name {
        return Err(Error::invalid("group name", "must not start or end with a space"));
    }
    Ok(())
}

/// Application slugs appear in URLs: lower-case letters, digits, `-` and `_`.
pub fn check_slug(slug: &str) -> Result<()> {
    check_chars("slug", slug, 50, |c| {
        c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_')
    })
}

/// A plausible email address: one `@`, a non-empty local part, a dotted domain,
/// no spaces or control characters. Empty means "no email".
pub fn check_email(email: &str) -> Result<()> {
    if email.is_empty() {
        return Ok(());
    }
    let bad = || Error::invalid("email", format!("'{email}' is not an email address"));
    if email.len() > 254 || email.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad());
    }
    let (local, domain) = email.split_once('@').ok_or_else(bad)?;
    if local.is_empty()
        || domain.contains('@')
        || !domain.contains('.')
        || domain.starts_with('.')
        || domain.ends_with('.')
    {
        return Err(bad());
    }
    Ok(())
}

/// Display names: free text, but no control characters (they end up in headers).
pub fn check_display_name(name: &str) -> Result<()> {
    if name.chars().count() > 200 {
        return Err(Error::invalid("name", "longer than 200 characters"));
    }
    if name.chars().any(char::is_control) {
        return Err(Error::invalid("name", "contains control characters"));
    }
    Ok(())
}

/// An absolute http(s) URL without whitespace, as launch URLs must be.
pub fn check_url(field: &'static str, url: &str) -> Result<()> {
    let ok = (url.starts_with("https://") || url.starts_with("http://"))
        && url.len() <= 2048
        && !url.chars().any(|c| c.is_whitespace() || c.is_control())
        && url.split("://").nth(1).is_some_and(|rest| !rest.is_empty());
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(field, format!("'{url}' is not an http(s) URL")))
    }
}

/// The case-folded form used for uniqueness and lookup.
pub fn name_key(name: &str) -> String {
    name.to_lowercase()
}

fn check_chars(field: &'static str, value: &str, max: usize, allowed: impl Fn(char) -> bool) -> Result<()> {
    if value.is_empty() {
        return Err(Error::invalid(field, "must not be empty"));
    }
    if value.chars().count() > max {
        return Err(Error::invalid(field, format!("longer than {max} characters")));
    }
    if let Some(c) = value.chars().find(|c| !allowed(*c)) {
        return Err(Error::invalid(
            field,
            format!("'{value}' contains the character {c:?}, which is not allowed"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames() {
        assert!(check_username("alice").is_ok());
        assert!(check_username("a.b-c_d@x+y").is_ok());
        assert!(check_username("").is_err());
        assert!(check_username("al ice").is_err());
        assert!(check_username("al\nice").is_err());
        assert!(check_username(&"a".repeat(151)).is_err());
    }

    #[test]
    fn slugs_and_emails() {
        assert!(check_slug("grafana-2").is_ok());
        assert!(check_slug("Grafana").is_err());
        assert!(check_email("alice@example.com").is_ok());
        assert!(check_email("").is_ok());
        assert!(check_email("alice").is_err());
        assert!(check_email("a@b").is_err());
        assert!(check_email("a b@example.com").is_err());
    }

    #[test]
    fn urls() {
        assert!(check_url("launch URL", "https://grafana.example.com/").is_ok());
        assert!(check_url("launch URL", "javascript:alert(1)").is_err());
        assert!(check_url("launch URL", "https://").is_err());
    }
}
