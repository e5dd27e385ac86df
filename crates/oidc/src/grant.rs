//! What the provider issues when a person authorizes a client: the grant (the
//! family every token of that authorization belongs to), its authorization
//! code, and the first refresh token. Lifetimes and randomness live here so
//! that every flow (code, device) builds them by the same rule.

use gatehouse_core::oauth::model::{AuthCode, Grant, RefreshToken};
use gatehouse_core::{Session, Timestamp, User};
use gatehouse_crypto::{random_token, sha256_hex};
use uuid::Uuid;

use crate::authorize::AuthorizeRequest;
use crate::client::Client;
use crate::{device, scope};

/// How long an authorization code lives (RFC 6749 §4.1.2 recommends ≤ 10 min).
pub const CODE_LIFETIME_SECS: i64 = 60;

/// How long a grant lives. With `offline_access`, as long as the client's
/// refresh tokens (device grants too: no flow gets a longer life than the
/// client's setting); without, until the access token issued from it expires,
/// counted from the latest moment the client can pick it up.
pub fn lifetime_secs(client: &Client, scopes: &[String], pickup_secs: i64) -> i64 {
    if scope::has(scopes, scope::OFFLINE_ACCESS) {
        client.config.refresh_token_validity_secs
    } else {
        client.config.access_token_validity_secs + pickup_secs
    }
}

fn new_grant(client: &Client, scopes: &[String], session: &Session, user: &User, now: Timestamp, life: i64) -> Grant {
    Grant {
        id: Uuid::new_v4(),
        application_id: client.app.id,
        user_id: user.id,
        session_id: Some(session.id),
        scopes: scopes.to_vec(),
        auth_time: session.created_at,
        amr: session.amr.clone(),
        nonce: None,
        created_at: now,
        expires_at: now.plus_seconds(life),
        revoked_at: None,
    }
}

/// A new authorization by the code flow: the grant, the code's record, and the
/// code itself (only its hash is stored).
pub struct Authorization {
    pub grant: Grant,
    pub record: AuthCode,
    pub code: String,
}

// Written by hand so the code can never reach a log line.
impl std::fmt::Debug for Authorization {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authorization")
            .field("grant", &self.grant)
            .finish_non_exhaustive()
    }
}

/// The grant and code of an authorization request allowed now.
pub fn authorization(
    client: &Client,
    req: &AuthorizeRequest,
    session: &Session,
    user: &User,
    now: Timestamp,
) -> Authorization {
    let life = lifetime_secs(client, &req.scopes, CODE_LIFETIME_SECS);
    let grant = Grant {
        nonce: req.nonce.clone(),
        ..new_grant(client, &req.scopes, session, user, now, life)
    };
    let code = random_token(32);
    let record = AuthCode {
        code_hash: sha256_hex(code.as_bytes()),
        grant_id: grant.id,
        redirect_uri: req.redirect_uri.clone(),
        code_challenge: req.pkce.as_ref().map(|(c, _)| c.clone()),
        code_challenge_method: req.pkce.as_ref().map(|(_, m)| m.clone()),
        created_at: now,
        expires_at: now.plus_seconds(CODE_LIFETIME_SECS),
        used_at: None,
    };
    Authorization { grant, record, code }
}

/// The grant of a device authorization approved now. The device picks its
/// tokens up at the latest when the device code expires.
pub fn device(client: &Client, scopes: &[String], session: &Session, user: &User, now: Timestamp) -> Grant {
    let life = lifetime_secs(client, scopes, device::LIFETIME_SECS);
    new_grant(client, scopes, session, user, now, life)
}

/// The first refresh token of a grant (with `offline_access`): the plain token
/// for the response and its record. It never outlives the grant.
pub fn first_refresh_token(client: &Client, grant: &Grant, now: Timestamp) -> (String, RefreshToken) {
    let plain = random_token(32);
    let record = RefreshToken {
        token_hash: sha256_hex(plain.as_bytes()),
        grant_id: grant.id,
        scopes: grant.scopes.clone(),
        created_at: now,
        expires_at: now
            .plus_seconds(client.config.refresh_token_validity_secs)
            .min(grant.expires_at),
        used_at: None,
    };
    (plain, record)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::claims::tests::{client, user};

    fn session(amr: &[&str]) -> Session {
        Session {
            id: Uuid::new_v4(),
            user_id: Uuid::new_v4(),
            token_hash: String::new(),
            csrf_token: String::new(),
            created_at: Timestamp(500),
            last_seen: Timestamp(500),
            expires_at: Timestamp(10_000_000),
            client_ip: None,
            user_agent: None,
            amr: amr.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn device_grants_live_no_longer_than_the_client_s_refresh_tokens() {
        let mut c = client(true);
        c.config.refresh_token_validity_secs = 3600;
        let now = Timestamp(1_000_000);
        let offline = scope::parse(Some("openid offline_access"));
        let g = device(&c, &offline, &session(&["pwd"]), &user(), now);
        assert_eq!(g.expires_at, now.plus_seconds(3600));
        assert_eq!(g.amr, ["pwd"], "the session's amr travels with the grant");
        let online = scope::parse(Some("openid"));
        let g = device(&c, &online, &session(&["pwd"]), &user(), now);
        assert_eq!(g.expires_at, now.plus_seconds(600 + device::LIFETIME_SECS));
    }

    #[test]
    fn authorizations_carry_a_hashed_code_and_the_session_facts() {
        let c = client(false);
        let req = AuthorizeRequest {
            redirect_uri: "https://app.example/cb".into(),
            state: None,
            scopes: scope::parse(Some("openid")),
            nonce: Some("n".into()),
            prompt: Default::default(),
            max_age: None,
            pkce: Some(("challenge".into(), "S256".into())),
        };
        let now = Timestamp(1_000_000);
        let a = authorization(&c, &req, &session(&["pwd", "otp", "mfa"]), &user(), now);
        assert_eq!(a.record.code_hash, sha256_hex(a.code.as_bytes()));
        assert_eq!(a.record.expires_at, now.plus_seconds(CODE_LIFETIME_SECS));
        assert_eq!(a.grant.nonce.as_deref(), Some("n"));
        assert_eq!(a.grant.auth_time, Timestamp(500));
        assert_eq!(a.grant.expires_at, now.plus_seconds(600 + CODE_LIFETIME_SECS));
        assert!(!format!("{a:?}").contains(&a.code));
        let (plain, r) = first_refresh_token(&c, &a.grant, now);
        assert_eq!(r.token_hash, sha256_hex(plain.as_bytes()));
        assert_eq!(r.expires_at, a.grant.expires_at, "never outlives the grant");
    }
}
