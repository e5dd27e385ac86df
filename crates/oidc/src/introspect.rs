//! Token introspection (RFC 7662): the response for a token the caller may
//! see. Anything unknown, expired, revoked or issued to another client is
//! `{"active": false}` and nothing more (§2.2).

use serde_json::{Value, json};

use crate::scope;
use crate::token::AccessToken;

pub fn inactive() -> Value {
    json!({"active": false})
}

/// An active access token.
pub fn access_token(t: &AccessToken, username: Option<&str>) -> Value {
    let mut v = json!({
        "active": true,
        "token_type": "Bearer",
        "scope": scope::join(&t.scopes),
        "client_id": t.client_id,
        "sub": t.sub,
        "aud": t.client_id,
        "iss": t.issuer,
        "iat": t.iat,
        "exp": t.exp,
        "jti": t.jti,
    });
    if let (Some(u), Some(m)) = (username, v.as_object_mut()) {
        m.insert("username".into(), Value::from(u));
    }
    v
}

/// An active refresh token.
#[allow(clippy::too_many_arguments)]
pub fn refresh_token(
    scopes: &[String],
    client_id: &str,
    sub: &str,
    username: &str,
    issuer: &str,
    iat: i64,
    exp: i64,
) -> Value {
    json!({
        "active": true,
        "token_type": "refresh_token",
        "scope": scope::join(scopes),
        "client_id": client_id,
        "sub": sub,
        "username": username,
        "aud": client_id,
        "iss": issuer,
        "iat": iat,
        "exp": exp,
    })
}
