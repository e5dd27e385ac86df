//! The token endpoint (RFC 6749 §3.2, §4.1.3, §4.4, §6; RFC 8628 §3.4): the
//! request, the decision for each grant type, and the response.

use std::sync::Arc;

use gatehouse_core::Timestamp;
use gatehouse_core::oauth::model::{AuthCode, Grant, RefreshToken};
use gatehouse_crypto::signing::{SigningKey, UnverifiedJwt};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::claims::{self, TokenFacts};
use crate::client::Client;
use crate::error::{ErrorCode, OAuthError};
use crate::params::Params;
use crate::{pkce, scope};

pub const DEVICE_CODE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// A parsed token request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenRequest {
    AuthorizationCode {
        code: String,
        redirect_uri: Option<String>,
        code_verifier: Option<String>,
    },
    RefreshToken {
        refresh_token: String,
        scope: Option<Vec<String>>,
    },
    ClientCredentials {
        scope: Vec<String>,
    },
    DeviceCode {
        device_code: String,
    },
}

fn required(p: &Params, name: &'static str) -> Result<String, OAuthError> {
    p.get(name)
        .map(str::to_string)
        .ok_or_else(|| OAuthError::invalid_request(format!("{name} is required")))
}

pub fn parse(p: &Params) -> Result<TokenRequest, OAuthError> {
    let grant_type = p
        .get("grant_type")
        .ok_or_else(|| OAuthError::invalid_request("grant_type is required"))?;
    Ok(match grant_type {
        "authorization_code" => TokenRequest::AuthorizationCode {
            code: required(p, "code")?,
            redirect_uri: p.get("redirect_uri").map(str::to_string),
            code_verifier: p.get("code_verifier").map(str::to_string),
        },
        "refresh_token" => TokenRequest::RefreshToken {
            refresh_token: required(p, "refresh_token")?,
            scope: p.get("scope").map(|s| scope::parse(Some(s))),
        },
        "client_credentials" => TokenRequest::ClientCredentials {
            scope: scope::parse(p.get("scope")),
        },
        DEVICE_CODE_GRANT => TokenRequest::DeviceCode {
            device_code: required(p, "device_code")?,
        },
        "password" | "implicit" => {
            return Err(OAuthError::new(
                ErrorCode::UnsupportedGrantType,
                "this grant type is not supported",
            ));
        }
        _ => return Err(OAuthError::new(ErrorCode::UnsupportedGrantType, "unknown grant_type")),
    })
}

/// The checks of an `authorization_code` exchange, after the code was spent.
pub fn check_code(
    client: &Client,
    code: &AuthCode,
    grant: &Grant,
    redirect_uri: Option<&str>,
    code_verifier: Option<&str>,
    now: Timestamp,
) -> Result<(), OAuthError> {
    if grant.application_id != client.app.id {
        return Err(OAuthError::invalid_grant("the code was issued to another client"));
    }
    if code.expires_at <= now {
        return Err(OAuthError::invalid_grant("the code has expired"));
    }
    if !grant.is_live(now) {
        return Err(OAuthError::invalid_grant("the grant was revoked"));
    }
    // RFC 6749 §4.1.3: identical to the authorization request's. The request
    // may leave it out only where the authorize request could (one URI).
    match redirect_uri {
        Some(r) if r == code.redirect_uri => {}
        Some(_) => {
            return Err(OAuthError::invalid_grant(
                "redirect_uri does not match the authorization request",
            ));
        }
        None if client.config.default_redirect_uri() == Some(code.redirect_uri.as_str()) => {}
        None => return Err(OAuthError::invalid_request("redirect_uri is required")),
    }
    pkce::verify(
        code.code_challenge.as_deref(),
        code.code_challenge_method.as_deref(),
        code_verifier,
    )
}

/// The scopes of a refreshed token, or why the refresh is refused. `access`
/// is the gate's answer for the grant's user and `amr` now.
pub fn check_refresh(
    client: &Client,
    old: &RefreshToken,
    grant: &Grant,
    access: Result<(), &'static str>,
    asked: Option<&[String]>,
    now: Timestamp,
) -> Result<Vec<String>, OAuthError> {
    if grant.application_id != client.app.id {
        return Err(OAuthError::invalid_grant(
            "the refresh token was issued to another client",
        ));
    }
    if old.expires_at <= now || !grant.is_live(now) {
        return Err(OAuthError::invalid_grant(
            "the refresh token has expired or was revoked",
        ));
    }
    access.map_err(OAuthError::invalid_grant)?;
    match asked {
        None => Ok(old.scopes.clone()),
        Some(a) if scope::is_subset(a, &old.scopes) && !a.is_empty() => Ok(a.to_vec()),
        Some(_) => Err(OAuthError::new(
            ErrorCode::InvalidScope,
            "scope exceeds the original grant",
        )),
    }
}

/// The refresh token that replaces `old`, with the same family end.
pub fn next_refresh_token(
    old: &RefreshToken,
    grant: &Grant,
    new_hash: String,
    scopes: Vec<String>,
    client: &Client,
    now: Timestamp,
) -> RefreshToken {
    RefreshToken {
        token_hash: new_hash,
        grant_id: old.grant_id,
        scopes,
        created_at: now,
        expires_at: now
            .plus_seconds(client.config.refresh_token_validity_secs)
            .min(grant.expires_at),
        used_at: None,
    }
}

/// The scopes a `client_credentials` token gets: no user, so no `openid` or
/// `offline_access`. Public clients cannot use this grant.
pub fn client_credentials_scopes(client: &Client, asked: &[String]) -> Result<Vec<String>, OAuthError> {
    if client.config.is_public() {
        return Err(OAuthError::new(
            ErrorCode::UnauthorizedClient,
            "public clients cannot use client_credentials",
        ));
    }
    Ok(asked
        .iter()
        .filter(|s| *s != scope::OPENID && *s != scope::OFFLINE_ACCESS)
        .cloned()
        .collect())
}

/// Whether a grant with these scopes gets a refresh token.
pub fn issues_refresh_token(scopes: &[String]) -> bool {
    scope::has(scopes, scope::OFFLINE_ACCESS)
}

/// Signed tokens of one response.
#[derive(Clone)]
pub struct Minted {
    pub access_token: String,
    pub id_token: Option<String>,
    pub expires_in: i64,
}

// Written by hand so a bearer token can never reach a log line.
impl std::fmt::Debug for Minted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Minted")
            .field("expires_in", &self.expires_in)
            .finish_non_exhaustive()
    }
}

/// Signs the access token (and the ID token, when there is one).
pub fn mint(key: &SigningKey, facts: &TokenFacts<'_>) -> Result<Minted, OAuthError> {
    let access_token = key
        .sign_jwt_typed("at+jwt", &facts.access_token_claims())
        .map_err(|_| OAuthError::server_error())?;
    let id_token = match facts.id_token_claims(key.alg(), &access_token) {
        Some(c) => Some(key.sign_jwt(&c).map_err(|_| OAuthError::server_error())?),
        None => None,
    };
    Ok(Minted {
        access_token,
        id_token,
        expires_in: facts.client.config.access_token_validity_secs,
    })
}

/// The JSON body of a successful token response (RFC 6749 §5.1).
pub fn response(minted: &Minted, scopes: &[String], refresh_token: Option<&str>) -> Value {
    let mut v = json!({
        "access_token": minted.access_token,
        "token_type": "Bearer",
        "expires_in": minted.expires_in,
        "scope": scope::join(scopes),
    });
    if let Some(m) = v.as_object_mut() {
        if let Some(id) = &minted.id_token {
            m.insert("id_token".into(), Value::from(id.clone()));
        }
        if let Some(r) = refresh_token {
            m.insert("refresh_token".into(), Value::from(r));
        }
    }
    v
}

/// An access token Gatehouse issued, after its signature and lifetime checked out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessToken {
    pub issuer: String,
    pub sub: String,
    pub client_id: String,
    pub jti: String,
    pub scopes: Vec<String>,
    pub iat: i64,
    pub exp: i64,
    /// The grant it belongs to (none for `client_credentials`).
    pub grant: Option<Uuid>,
}

/// Verifies a JWT access token: signature by a published key, `typ`, and
/// lifetime. Revocation (the jti list, the grant) is the caller's next check.
pub fn verify_access_token(
    token: &str,
    key_for: impl Fn(&str) -> Option<Arc<SigningKey>>,
    now: Timestamp,
) -> Result<AccessToken, OAuthError> {
    let invalid = |d: &'static str| OAuthError::new(ErrorCode::InvalidToken, d);
    let jwt = UnverifiedJwt::parse(token).map_err(|_| invalid("malformed token"))?;
    if jwt.typ() != Some("at+jwt") {
        return Err(invalid("not an access token"));
    }
    let key = jwt
        .kid()
        .and_then(&key_for)
        .ok_or_else(|| invalid("unknown signing key"))?;
    jwt.verify_with(token, &key).map_err(|_| invalid("bad signature"))?;
    let c = &jwt.claims;
    let s = |k: &str| c.get(k).and_then(Value::as_str).map(str::to_string);
    let n = |k: &str| c.get(k).and_then(Value::as_i64);
    let (Some(issuer), Some(sub), Some(client_id), Some(jti), Some(iat), Some(exp)) =
        (s("iss"), s("sub"), s("client_id"), s("jti"), n("iat"), n("exp"))
    else {
        return Err(invalid("missing claims"));
    };
    if exp * 1000 <= now.millis() {
        return Err(invalid("the token has expired"));
    }
    Ok(AccessToken {
        grant: claims::grant_of_jti(&jti),
        scopes: scope::parse(s("scope").as_deref()),
        issuer,
        sub,
        client_id,
        jti,
        iat,
        exp,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::claims::Principal;
    use crate::claims::tests::{client, user};

    fn grant(c: &Client) -> Grant {
        Grant {
            id: Uuid::new_v4(),
            application_id: c.app.id,
            user_id: Uuid::new_v4(),
            session_id: None,
            scopes: scope::parse(Some("openid offline_access")),
            auth_time: Timestamp(0),
            amr: vec![],
            nonce: None,
            created_at: Timestamp(0),
            expires_at: Timestamp(10_000_000),
            revoked_at: None,
        }
    }

    #[test]
    fn parses_each_grant_type() {
        let p = Params::parse("grant_type=authorization_code&code=c&redirect_uri=https%3A%2F%2Fa").unwrap();
        assert!(matches!(parse(&p).unwrap(), TokenRequest::AuthorizationCode { .. }));
        let p = Params::parse(&format!("grant_type={DEVICE_CODE_GRANT}&device_code=d")).unwrap();
        assert!(matches!(parse(&p).unwrap(), TokenRequest::DeviceCode { .. }));
        assert_eq!(
            parse(&Params::parse("grant_type=password").unwrap()).unwrap_err().code,
            ErrorCode::UnsupportedGrantType
        );
        assert_eq!(
            parse(&Params::parse("grant_type=refresh_token").unwrap())
                .unwrap_err()
                .code,
            ErrorCode::InvalidRequest
        );
        assert!(parse(&Params::parse("").unwrap()).is_err());
    }

    #[test]
    fn code_checks() {
        let c = client(false);
        let g = grant(&c);
        let code = AuthCode {
            code_hash: "h".into(),
            grant_id: g.id,
            redirect_uri: "https://app.example/cb".into(),
            code_challenge: None,
            code_challenge_method: None,
            created_at: Timestamp(0),
            expires_at: Timestamp(60_000),
            used_at: None,
        };
        check_code(&c, &code, &g, Some("https://app.example/cb"), None, Timestamp(1000)).unwrap();
        check_code(&c, &code, &g, None, None, Timestamp(1000)).unwrap();
        assert!(check_code(&c, &code, &g, Some("https://app.example/other"), None, Timestamp(1000)).is_err());
        assert!(
            check_code(&c, &code, &g, None, None, Timestamp(60_000)).is_err(),
            "expired"
        );
        let other = client(false);
        assert!(check_code(&other, &code, &g, None, None, Timestamp(1000)).is_err());
    }

    #[test]
    fn refresh_checks_and_narrowing() {
        let c = client(false);
        let g = grant(&c);
        let old = RefreshToken {
            token_hash: "h".into(),
            grant_id: g.id,
            scopes: g.scopes.clone(),
            created_at: Timestamp(0),
            expires_at: Timestamp(5_000_000),
            used_at: None,
        };
        assert_eq!(
            check_refresh(&c, &old, &g, Ok(()), None, Timestamp(1)).unwrap(),
            g.scopes
        );
        let narrow = scope::parse(Some("openid"));
        assert_eq!(
            check_refresh(&c, &old, &g, Ok(()), Some(&narrow), Timestamp(1)).unwrap(),
            narrow
        );
        let wide = scope::parse(Some("openid email"));
        assert_eq!(
            check_refresh(&c, &old, &g, Ok(()), Some(&wide), Timestamp(1))
                .unwrap_err()
                .code,
            ErrorCode::InvalidScope
        );
        assert!(
            check_refresh(&c, &old, &g, Err("no"), None, Timestamp(1)).is_err(),
            "no access"
        );
        assert!(
            check_refresh(&c, &old, &g, Ok(()), None, Timestamp(5_000_000)).is_err(),
            "expired"
        );
        let next = next_refresh_token(&old, &g, "n".into(), g.scopes.clone(), &c, Timestamp(9_000_000));
        assert_eq!(next.expires_at, g.expires_at, "never outlives the grant");
    }

    #[test]
    fn minted_tokens_verify_and_tampering_fails() {
        let c = client(false);
        let u = user();
        let key = Arc::new(
            SigningKey::generate(gatehouse_crypto::signing::SigningAlg::Es256)
                .unwrap()
                .key,
        );
        let scopes = scope::parse(Some("openid email"));
        let facts = TokenFacts {
            issuer: "https://id.example/application/o/grafana/",
            client: &c,
            principal: Principal::User {
                user: &u,
                groups: &[],
                auth_time: Timestamp(0),
                amr: &[],
                session_id: None,
            },
            scopes: &scopes,
            now: Timestamp(1_000_000),
            jti: claims::jti(Some(Uuid::nil()), "abc"),
            nonce: None,
        };
        let minted = mint(&key, &facts).unwrap();
        assert!(minted.id_token.is_some());
        let k2 = key.clone();
        let lookup = move |kid: &str| (kid == k2.kid()).then(|| k2.clone());
        let at = verify_access_token(&minted.access_token, &lookup, Timestamp(1_000_000)).unwrap();
        assert_eq!(at.client_id, "grafana");
        assert_eq!(at.grant, Some(Uuid::nil()));
        assert!(verify_access_token(&minted.access_token, &lookup, Timestamp(1_000_000 + 601_000)).is_err());
        assert!(
            verify_access_token(minted.id_token.as_deref().unwrap(), &lookup, Timestamp(1_000_000)).is_err(),
            "an ID token is not an access token"
        );
        let body = response(&minted, &scopes, Some("r"));
        assert_eq!(body["token_type"], "Bearer");
        assert_eq!(body["refresh_token"], "r");
        assert!(client_credentials_scopes(&client(true), &[]).is_err());
        assert_eq!(
            client_credentials_scopes(&c, &scope::parse(Some("openid profile"))).unwrap(),
            vec!["profile"]
        );
    }
}
