//! Token revocation (RFC 7009): what a revocation request means. The answer
//! is 200 whether or not the token was valid (§2.2); only a bad client or a
//! malformed request is an error.

use crate::error::OAuthError;
use crate::params::Params;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hint {
    AccessToken,
    RefreshToken,
    /// None or unknown: search both (§2.1).
    Unknown,
}

/// The token to revoke and the client's hint.
pub fn parse(p: &Params) -> Result<(String, Hint), OAuthError> {
    let token = p
        .get("token")
        .ok_or_else(|| OAuthError::invalid_request("token is required"))?
        .to_string();
    let hint = match p.get("token_type_hint") {
        Some("access_token") => Hint::AccessToken,
        Some("refresh_token") => Hint::RefreshToken,
        _ => Hint::Unknown,
    };
    Ok((token, hint))
}

/// JWT access tokens have two dots; refresh tokens are opaque.
pub fn looks_like_jwt(token: &str) -> bool {
    token.bytes().filter(|b| *b == b'.').count() == 2
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_is_required_and_hints_are_advisory() {
        assert!(parse(&Params::parse("").unwrap()).is_err());
        assert_eq!(
            parse(&Params::parse("token=t&token_type_hint=bogus").unwrap())
                .unwrap()
                .1,
            Hint::Unknown
        );
        assert!(looks_like_jwt("a.b.c") && !looks_like_jwt("opaque_token"));
    }
}
