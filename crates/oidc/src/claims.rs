//! Claims: the subject, the scope claims (authentik's mapping), the ID token
//! (OIDC Core §2), the JWT access token (RFC 9068 §2.2) and userinfo.

use gatehouse_core::{Timestamp, User};
use gatehouse_crypto::signing::SigningAlg;
use serde_json::{Map, Value, json};
use uuid::Uuid;

use crate::client::Client;
use crate::config::{OidcConfig, SubMode};
use crate::scope;

/// authentik's `acr` value, kept for services that compare it.
pub const ACR: &str = "goauthentik.io/providers/oauth2/default";

/// The user id authentik calls `uid`: SHA-256 (hex) of the user's UUID.
pub fn hashed_uid(user: &User) -> String {
    user.hashed_uid()
}

pub fn subject(mode: SubMode, user: &User) -> String {
    match mode {
        SubMode::Hashed => hashed_uid(user),
        SubMode::Uuid => user.id.to_string(),
        SubMode::Username => user.username.clone(),
        SubMode::Email => user.email.clone(),
    }
}

/// Roles from the application's group → role mapping, sorted, deduplicated.
pub fn roles(config: &OidcConfig, groups: &[String]) -> Vec<String> {
    let mut out: Vec<String> = config
        .role_mapping
        .iter()
        .filter(|(g, _)| groups.iter().any(|x| x == *g))
        .map(|(_, r)| r.clone())
        .collect();
    out.sort();
    out.dedup();
    out
}

/// The claims the granted scopes release (authentik's default mappings):
/// `email` → email, email_verified; `profile` → name, given_name,
/// preferred_username, nickname, groups; and `roles` when the mapping gives any.
pub fn scope_claims(config: &OidcConfig, user: &User, groups: &[String], scopes: &[String]) -> Map<String, Value> {
    let mut m = Map::new();
    if scope::has(scopes, scope::EMAIL) {
        m.insert("email".into(), Value::from(user.email.clone()));
        m.insert("email_verified".into(), Value::from(true));
    }
    if scope::has(scopes, scope::PROFILE) {
        let name = user.display_name();
        m.insert("name".into(), Value::from(name.clone()));
        m.insert("given_name".into(), Value::from(name));
        m.insert("preferred_username".into(), Value::from(user.username.clone()));
        m.insert("nickname".into(), Value::from(user.username.clone()));
        m.insert("groups".into(), Value::from(groups.to_vec()));
    }
    let roles = roles(config, groups);
    if !roles.is_empty() {
        m.insert("roles".into(), Value::from(roles));
    }
    m
}

/// Who a token speaks for: a user (with the session facts) or, for
/// `client_credentials`, the client itself.
#[derive(Debug, Clone)]
pub enum Principal<'a> {
    User {
        user: &'a User,
        groups: &'a [String],
        auth_time: Timestamp,
        amr: &'a [String],
        session_id: Option<Uuid>,
    },
    Client,
}

/// Everything the tokens of one response are made of.
#[derive(Debug, Clone)]
pub struct TokenFacts<'a> {
    pub issuer: &'a str,
    pub client: &'a Client,
    pub principal: Principal<'a>,
    pub scopes: &'a [String],
    pub now: Timestamp,
    pub jti: String,
    pub nonce: Option<&'a str>,
}

fn secs(t: Timestamp) -> i64 {
    t.millis().div_euclid(1000)
}

impl TokenFacts<'_> {
    pub fn expires_at(&self) -> Timestamp {
        self.now.plus_seconds(self.client.config.access_token_validity_secs)
    }

    fn sub(&self) -> String {
        match &self.principal {
            Principal::User { user, .. } => subject(self.client.config.sub_mode, user),
            // RFC 9068 §2.2: without a resource owner, the client.
            Principal::Client => self.client.client_id().to_string(),
        }
    }

    /// RFC 9068 access token claims.
    pub fn access_token_claims(&self) -> Value {
        let mut c = json!({
            "iss": self.issuer,
            "sub": self.sub(),
            "aud": self.client.client_id(),
            "client_id": self.client.client_id(),
            "iat": secs(self.now),
            "exp": secs(self.expires_at()),
            "jti": self.jti,
            "scope": scope::join(self.scopes),
        });
        if let (
            Principal::User {
                auth_time, amr, groups, ..
            },
            Some(m),
        ) = (&self.principal, c.as_object_mut())
        {
            m.insert("auth_time".into(), Value::from(secs(*auth_time)));
            m.insert("acr".into(), Value::from(ACR));
            m.insert("amr".into(), Value::from(amr.to_vec()));
            let roles = roles(&self.client.config, groups);
            if !roles.is_empty() {
                m.insert("roles".into(), Value::from(roles));
            }
        }
        c
    }

    /// OIDC ID token claims; `access_token` gives `at_hash`. `None` without a
    /// user or without the `openid` scope.
    pub fn id_token_claims(&self, alg: SigningAlg, access_token: &str) -> Option<Value> {
        let Principal::User {
            user,
            groups,
            auth_time,
            amr,
            session_id,
        } = &self.principal
        else {
            return None;
        };
        if !scope::has(self.scopes, scope::OPENID) {
            return None;
        }
        let mut c = Map::new();
        c.insert("iss".into(), Value::from(self.issuer));
        c.insert("sub".into(), Value::from(self.sub()));
        c.insert("aud".into(), Value::from(self.client.client_id()));
        c.insert("azp".into(), Value::from(self.client.client_id()));
        c.insert("iat".into(), Value::from(secs(self.now)));
        c.insert("exp".into(), Value::from(secs(self.expires_at())));
        c.insert("auth_time".into(), Value::from(secs(*auth_time)));
        c.insert("acr".into(), Value::from(ACR));
        c.insert("amr".into(), Value::from(amr.to_vec()));
        c.insert("at_hash".into(), Value::from(alg.half_hash(access_token.as_bytes())));
        if let Some(n) = self.nonce {
            c.insert("nonce".into(), Value::from(n));
        }
        if let Some(sid) = session_id {
            c.insert("sid".into(), Value::from(sid.simple().to_string()));
        }
        if self.client.config.include_claims_in_id_token {
            for (k, v) in scope_claims(&self.client.config, user, groups, self.scopes) {
                c.entry(k).or_insert(v);
            }
        }
        Some(Value::Object(c))
    }
}

/// The userinfo response (OIDC Core §5.3): `sub` and the scope claims.
pub fn userinfo(config: &OidcConfig, user: &User, groups: &[String], scopes: &[String]) -> Value {
    let mut m = scope_claims(config, user, groups, scopes);
    m.insert("sub".into(), Value::from(subject(config.sub_mode, user)));
    Value::Object(m)
}

/// An access token id: for tokens of a grant, `<grant>.<random>` (so
/// revoking the grant reaches its access tokens without a row per token);
/// for client credentials, the random part alone.
pub fn jti(grant: Option<Uuid>, random: &str) -> String {
    match grant {
        Some(g) => format!("{}.{random}", g.simple()),
        None => random.to_string(),
    }
}

/// The grant an access token id names, if any.
pub fn grant_of_jti(jti: &str) -> Option<Uuid> {
    let (g, _) = jti.split_once('.')?;
    Uuid::try_parse(g).ok()
}

#[cfg(test)]
pub(crate) mod tests {
    use std::sync::Arc;

    use gatehouse_core::{Application, ProviderKind};

    use super::*;
    use crate::config::ClientType;

    pub fn user() -> User {
        User {
            id: Uuid::parse_str("6f9619ff-8b86-d011-b42d-00cf4fc964ff").unwrap(),
            pk: 0,
            username: "alice".into(),
            email: "alice@example.com".into(),
            name: "Alice Example".into(),
            is_active: true,
            password_hash: None,
            attributes: json!({}),
            created_at: Timestamp(0),
            last_login: None,
            password_changed_at: None,
        }
    }

    pub fn client(public: bool) -> Client {
        let mut cfg = OidcConfig::new(
            "grafana".into(),
            if public {
                ClientType::Public
            } else {
                ClientType::Confidential
            },
        );
        if !public {
            cfg.client_secret_hash = Some("hmac-sha256:00".into());
        }
        cfg.redirect_uris = vec![crate::config::parse_redirect_uri("https://app.example/cb")];
        cfg.role_mapping.insert("admins".into(), "admin".into());
        cfg.post_logout_redirect_uris = vec!["https://app.example/bye".into()];
        let app = Application {
            id: Uuid::new_v4(),
            slug: "grafana".into(),
            name: "Grafana".into(),
            launch_url: None,
            provider: Some(ProviderKind::Oidc),
            provider_config: cfg.to_value(),
            provider_key: Some("grafana".into()),
            provider_pk: None,
            provider_name: None,
            created_at: Timestamp(0),
        };
        Client::from_application(Arc::new(app)).unwrap()
    }

    #[test]
    fn scope_claims_follow_authentik_and_roles_come_from_groups() {
        let c = client(false);
        let u = user();
        let groups = vec!["admins".to_string(), "staff".to_string()];
        let all = crate::scope::parse(Some("openid email profile"));
        let m = scope_claims(&c.config, &u, &groups, &all);
        assert_eq!(m["email"], "alice@example.com");
        assert_eq!(m["email_verified"], true);
        assert_eq!(m["preferred_username"], "alice");
        assert_eq!(m["groups"], json!(["admins", "staff"]));
        assert_eq!(m["roles"], json!(["admin"]));
        let none = scope_claims(&c.config, &u, &[], &crate::scope::parse(Some("openid")));
        assert!(none.is_empty());
    }

    #[test]
    fn id_token_has_the_required_claims() {
        let c = client(false);
        let u = user();
        let groups = vec![];
        let scopes = crate::scope::parse(Some("openid profile"));
        let amr = vec!["pwd".to_string()];
        let facts = TokenFacts {
            issuer: "https://id.example/application/o/grafana/",
            client: &c,
            principal: Principal::User {
                user: &u,
                groups: &groups,
                auth_time: Timestamp(1_000_000),
                amr: &amr,
                session_id: Some(Uuid::nil()),
            },
            scopes: &scopes,
            now: Timestamp(2_000_000),
            jti: jti(Some(Uuid::nil()), "r"),
            nonce: Some("n-0S6_WzA2Mj"),
        };
        let id = facts.id_token_claims(SigningAlg::Rs256, "token").unwrap();
        for k in [
            "iss",
            "sub",
            "aud",
            "exp",
            "iat",
            "auth_time",
            "nonce",
            "acr",
            "amr",
            "at_hash",
            "sid",
        ] {
            assert!(id.get(k).is_some(), "{k}");
        }
        assert_eq!(id["auth_time"], 1000);
        assert_eq!(id["exp"], 2000 + 600);
        assert_eq!(id["sub"], hashed_uid(&u));
        let at = facts.access_token_claims();
        assert_eq!(at["client_id"], "grafana");
        assert_eq!(grant_of_jti(at["jti"].as_str().unwrap()), Some(Uuid::nil()));
        let cc = TokenFacts {
            principal: Principal::Client,
            ..facts
        };
        assert!(cc.id_token_claims(SigningAlg::Rs256, "t").is_none());
        assert_eq!(cc.access_token_claims()["sub"], "grafana");
        assert_eq!(grant_of_jti("abc"), None);
    }

    #[test]
    fn sub_modes() {
        let u = user();
        assert_eq!(subject(SubMode::Username, &u), "alice");
        assert_eq!(subject(SubMode::Email, &u), "alice@example.com");
        assert_eq!(subject(SubMode::Uuid, &u), "6f9619ff-8b86-d011-b42d-00cf4fc964ff");
        assert_eq!(subject(SubMode::Hashed, &u).len(), 64);
    }
}
