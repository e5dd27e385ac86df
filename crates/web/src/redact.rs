//! Secrets that travel in URL paths, kept out of log lines.
//!
//! Query strings never reach a log line (codes, `?t=` continue tokens, device
//! user codes and `next` all travel there), so only paths need care. One path
//! carries a secret by design: authentik's recovery link
//! `/recovery/use-token/<key>/`; its key is replaced by `…` whether or not the
//! route matched (a mistyped link is still a key). An invitation's id is its
//! link's `itoken`, so the API's invitation paths are treated the same way. Any other segment that looks
//! like a random token (long, URL-safe base64 with upper case, lower case and
//! digits: what `random_token` makes, and what no slug or page name is) is
//! redacted too, so a secret pasted into a wrong path does not land in the log.

use std::borrow::Cow;

/// Path prefixes whose next segment is a secret.
const SECRET_AFTER: &[&str] = &["/recovery/use-token/", "/api/v3/stages/invitation/invitations/"];

/// What stands in for a redacted segment.
pub const REDACTED: &str = "…";

/// Shortest segment the token heuristic considers (a 32-byte token is 43
/// characters; 24 keeps 18-byte tokens covered).
const TOKEN_MIN_CHARS: usize = 24;

/// `path` as it may be logged.
pub fn loggable_path(path: &str) -> Cow<'_, str> {
    let starts_with = |p: &str| path.get(..p.len()).is_some_and(|head| head.eq_ignore_ascii_case(p));
    if let Some(prefix) = SECRET_AFTER.iter().find(|p| starts_with(p)) {
        let rest = &path[prefix.len()..];
        if rest.is_empty() {
            return Cow::Borrowed(path);
        }
        let tail = rest.find('/').map_or("", |i| &rest[i..]);
        return Cow::Owned(format!("{prefix}{REDACTED}{}", redact_tokens(tail)));
    }
    if path.split('/').any(looks_like_token) {
        return Cow::Owned(redact_tokens(path).into_owned());
    }
    Cow::Borrowed(path)
}

fn redact_tokens(path: &str) -> Cow<'_, str> {
    if !path.split('/').any(looks_like_token) {
        return Cow::Borrowed(path);
    }
    Cow::Owned(
        path.split('/')
            .map(|seg| if looks_like_token(seg) { REDACTED } else { seg })
            .collect::<Vec<_>>()
            .join("/"),
    )
}

fn looks_like_token(segment: &str) -> bool {
    segment.len() >= TOKEN_MIN_CHARS
        && segment
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'%')
        && segment.bytes().any(|b| b.is_ascii_uppercase())
        && segment.bytes().any(|b| b.is_ascii_lowercase())
        && segment.bytes().any(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovery_keys_never_reach_the_log() {
        let key = gatehouse_crypto::random_token(32);
        for path in [
            format!("/recovery/use-token/{key}/"),
            format!("/recovery/use-token/{key}"),
            format!("/Recovery/Use-Token/{key}/"),
            format!("/recovery/use-token/{key}/extra/{key}"),
            "/recovery/use-token/short/".to_string(),
        ] {
            let shown = loggable_path(&path);
            assert!(!shown.contains(&key), "{shown}");
            assert!(shown.contains(REDACTED), "{shown}");
            assert!(!shown.contains("short"), "{shown}");
        }
    }

    #[test]
    fn invitation_ids_never_reach_the_log() {
        let itoken = "0b5ed9d2-6f1e-4a39-9a43-2b8f8f6d1c55";
        let path = format!("/api/v3/stages/invitation/invitations/{itoken}/");
        assert_eq!(
            loggable_path(&path),
            format!("/api/v3/stages/invitation/invitations/{REDACTED}/")
        );
        let list = "/api/v3/stages/invitation/invitations/";
        assert_eq!(loggable_path(list), list);
    }

    #[test]
    fn token_shaped_segments_are_redacted_elsewhere() {
        let token = gatehouse_crypto::random_token(32);
        let path = format!("/if/user/{token}/x");
        assert_eq!(loggable_path(&path), format!("/if/user/{REDACTED}/x"));
    }

    #[test]
    fn ordinary_paths_are_kept() {
        for path in [
            "/application/o/authorize/",
            "/application/o/a-rather-long-application-slug-name/jwks/",
            "/application/saml/wiki/sso/continue/",
            "/outpost.goauthentik.io/callback",
            "/static/gatehouse.css",
            "/device",
        ] {
            assert_eq!(loggable_path(path), path);
        }
    }
}
