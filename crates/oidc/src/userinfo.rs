//! The userinfo endpoint's request side (RFC 6750 §2): the bearer token from
//! the `Authorization` header, or from a form body (`access_token`) on POST;
//! never from the query string, and never from both places.

use crate::error::{ErrorCode, OAuthError};
use crate::params::Params;
use crate::scope;
use crate::token::AccessToken;

/// The token, or the error to answer with (no token at all: 401 with a bare
/// `WWW-Authenticate: Bearer`, RFC 6750 §3.1).
pub fn bearer(authorization: Option<&str>, form: Option<&Params>) -> Result<String, Option<OAuthError>> {
    let header = match authorization {
        Some(h) => match h.strip_prefix("Bearer ").or_else(|| h.strip_prefix("bearer ")) {
            Some(t) if !t.trim().is_empty() => Some(t.trim().to_string()),
            _ => return Err(Some(OAuthError::invalid_request("malformed Authorization header"))),
        },
        None => None,
    };
    let body = form.and_then(|f| f.get("access_token")).map(str::to_string);
    match (header, body) {
        (Some(_), Some(_)) => Err(Some(OAuthError::invalid_request("send the token once, not twice"))),
        (Some(t), None) | (None, Some(t)) => Ok(t),
        (None, None) => Err(None),
    }
}

/// Userinfo needs the `openid` scope (OIDC Core §5.3).
pub fn check_scope(token: &AccessToken) -> Result<(), OAuthError> {
    if scope::has(&token.scopes, scope::OPENID) {
        Ok(())
    } else {
        Err(OAuthError::new(
            ErrorCode::InsufficientScope,
            "the token lacks the openid scope",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_or_body_not_both() {
        assert_eq!(bearer(Some("Bearer abc"), None).unwrap(), "abc");
        let f = Params::parse("access_token=def").unwrap();
        assert_eq!(bearer(None, Some(&f)).unwrap(), "def");
        assert!(bearer(Some("Bearer abc"), Some(&f)).is_err());
        assert_eq!(bearer(None, None), Err(None));
        assert!(matches!(bearer(Some("Basic x"), None), Err(Some(_))));
    }
}
