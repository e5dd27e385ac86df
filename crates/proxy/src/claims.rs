//! The claims of `X-authentik-jwt`: the identity the other headers carry, signed,
//! so a service can check it came through Gatehouse (keys at
//! `X-authentik-meta-jwks`). Claim names follow OIDC Core 5.1, as authentik's
//! proxy token does; signing is the caller's (one signature per cached decision).

use serde_json::{Value, json};

use crate::headers::Identity;

/// How long a forward-auth token is valid. Longer than any cached decision, so
/// a token handed out from the cache is never already expired.
pub const JWT_LIFETIME_SECS: i64 = 300;

/// `iss` is the application's issuer (`<external_url>/application/o/<slug>/`),
/// `aud` the application's slug, `sid` the Gatehouse session.
pub fn identity_claims(issuer: &str, audience: &str, id: &Identity<'_>, session_id: &str, now_secs: i64) -> Value {
    json!({
        "iss": issuer,
        "sub": id.uid,
        "aud": audience,
        "iat": now_secs,
        "exp": now_secs + JWT_LIFETIME_SECS,
        "sid": session_id,
        "email": id.email,
        "name": id.name,
        "given_name": id.name,
        "preferred_username": id.username,
        "nickname": id.username,
        "groups": id.groups,
        "entitlements": id.entitlements,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_carry_the_identity() {
        let id = Identity {
            uid: "u1",
            username: "alice",
            email: "alice@example.com",
            name: "Alice",
            groups: vec!["a", "b"],
            ..Identity::default()
        };
        let c = identity_claims("https://auth/application/o/app/", "app", &id, "s1", 1000);
        assert_eq!(c["sub"], "u1");
        assert_eq!(c["exp"], 1000 + JWT_LIFETIME_SECS);
        assert_eq!(c["groups"], json!(["a", "b"]));
        assert_eq!(c["entitlements"], json!([]));
        assert_eq!(c["preferred_username"], "alice");
    }
}
