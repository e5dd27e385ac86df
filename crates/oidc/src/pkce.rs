//! PKCE (RFC 7636): S256 always, `plain` only when the application allows it;
//! required for public clients.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

use crate::error::OAuthError;

/// RFC 7636 §4.1: 43–128 characters of `[A-Za-z0-9-._~]` (verifiers and, as
/// produced by S256, challenges).
fn well_formed(s: &str) -> bool {
    (43..=128).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
}

/// Checks the challenge of an authorization request. `Ok(None)`: no PKCE.
pub fn check_challenge(
    challenge: Option<&str>,
    method: Option<&str>,
    allow_plain: bool,
    required: bool,
) -> Result<Option<(String, String)>, OAuthError> {
    let Some(challenge) = challenge else {
        if method.is_some() {
            return Err(OAuthError::invalid_request(
                "code_challenge_method without code_challenge",
            ));
        }
        if required {
            return Err(OAuthError::invalid_request(
                "PKCE (code_challenge, S256) is required for this client",
            ));
        }
        return Ok(None);
    };
    let method = match method.unwrap_or("plain") {
        "S256" => "S256",
        "plain" if allow_plain => "plain",
        "plain" => {
            return Err(OAuthError::invalid_request(
                "code_challenge_method plain is not allowed; use S256",
            ));
        }
        _ => return Err(OAuthError::invalid_request("unsupported code_challenge_method")),
    };
    if !well_formed(challenge) {
        return Err(OAuthError::invalid_request("malformed code_challenge"));
    }
    Ok(Some((challenge.to_string(), method.to_string())))
}

/// Checks the verifier of a token request against the recorded challenge.
pub fn verify(challenge: Option<&str>, method: Option<&str>, verifier: Option<&str>) -> Result<(), OAuthError> {
    match (challenge, verifier) {
        (None, None) => Ok(()),
        (None, Some(_)) => Err(OAuthError::invalid_grant(
            "code_verifier sent, but no code_challenge was",
        )),
        (Some(_), None) => Err(OAuthError::invalid_grant("code_verifier is required")),
        (Some(challenge), Some(verifier)) => {
            if !well_formed(verifier) {
                return Err(OAuthError::invalid_grant("malformed code_verifier"));
            }
            let computed = match method {
                Some("plain") => verifier.to_string(),
                _ => URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())),
            };
            if gatehouse_crypto::constant_time_eq(computed.as_bytes(), challenge.as_bytes()) {
                Ok(())
            } else {
                Err(OAuthError::invalid_grant(
                    "code_verifier does not match the code_challenge",
                ))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 7636 Appendix B.
    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    #[test]
    fn s256_round_trip_from_the_rfc() {
        let (c, m) = check_challenge(Some(CHALLENGE), Some("S256"), false, true)
            .unwrap()
            .unwrap();
        verify(Some(&c), Some(&m), Some(VERIFIER)).unwrap();
        let wrong = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXX";
        assert_eq!(
            verify(Some(&c), Some(&m), Some(wrong)).unwrap_err().code,
            crate::ErrorCode::InvalidGrant
        );
        assert!(verify(Some(&c), Some(&m), None).is_err());
        assert!(verify(None, None, Some(VERIFIER)).is_err());
    }

    #[test]
    fn plain_is_refused_unless_allowed_and_public_clients_need_pkce() {
        assert!(check_challenge(Some(VERIFIER), Some("plain"), false, false).is_err());
        assert!(
            check_challenge(Some(VERIFIER), None, false, false).is_err(),
            "missing method means plain"
        );
        assert!(
            check_challenge(Some(VERIFIER), Some("plain"), true, false)
                .unwrap()
                .is_some()
        );
        assert!(check_challenge(None, None, false, true).is_err());
        assert!(check_challenge(None, None, false, false).unwrap().is_none());
        assert!(check_challenge(Some("short"), Some("S256"), false, false).is_err());
    }
}
