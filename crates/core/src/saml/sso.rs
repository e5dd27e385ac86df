//! Single sign-on bookkeeping: request-ID replay protection, requests parked
//! while the person signs in, the access decision with its event, and the
//! subject an assertion speaks of.

use std::sync::Arc;

use gatehouse_crypto::{random_token, sha256_hex};
use gatehouse_saml::SamlConfig;
use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;

use crate::audit::Audit;
use crate::clock::Timestamp;
use crate::context::Saml;
use crate::error::{Error, Result};
use crate::events::action;
use crate::model::{Application, FlowRecord, ProviderKind, Session, User};

/// How long a parked request waits for the person to sign in.
pub const PARK_SECS: i64 = 15 * 60;
const PSEUDONYM_SECRET: &str = "saml_pseudonym_key";

/// An SSO request waiting for sign-in (a flow record; the `kind` tag keeps it
/// apart from sign-in and forward-auth records in the same table).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "kind", rename = "saml_sso")]
pub struct ParkedRequest {
    pub app_id: Uuid,
    pub acs_url: String,
    /// The AuthnRequest's ID (None: IdP-initiated).
    pub request_id: Option<String>,
    pub relay_state: Option<String>,
    /// The request wanted a fresh sign-in: sessions older than this do not count.
    pub not_before: Option<Timestamp>,
    /// A LogoutRequest (`acs_url` is then the SP's logout URL, maybe empty).
    #[serde(default)]
    pub logout: bool,
}

/// Who an assertion is about.
#[derive(Debug, Clone)]
pub struct Subject {
    pub name_id: String,
    pub username: String,
    pub email: String,
    pub name: String,
    pub uid: String,
    pub groups: Vec<String>,
    pub session_index: String,
}

impl Saml<'_> {
    /// A SAML application and its settings.
    pub async fn application(self, slug: &str) -> Result<Option<(Application, SamlConfig)>> {
        let Some(app) = self.store().application_by_slug(slug).await? else {
            return Ok(None);
        };
        if app.provider != Some(ProviderKind::Saml) {
            return Ok(None);
        }
        let cfg = SamlConfig::from_value(&app.provider_config).map_err(|e| Error::Refused(e.to_string()))?;
        Ok(Some((app, cfg)))
    }

    /// Records a request ID for this application and issuer until `until`;
    /// false when it was seen before (a replay). Shared by every node.
    pub async fn claim_request_id(self, app_id: Uuid, issuer: &str, id: &str, until: Timestamp) -> Result<bool> {
        let key = sha256_hex(format!("{app_id}\n{issuer}\n{id}").as_bytes());
        let mut tx = self.store().begin().await?;
        let fresh = tx.claim_saml_request_id(&key, until).await?;
        tx.commit().await?;
        Ok(fresh)
    }

    /// Parks a request; returns the token of the continue URL.
    pub async fn park(self, req: &ParkedRequest) -> Result<String> {
        let token = random_token(32);
        let now = self.now();
        let record = FlowRecord {
            id: Uuid::new_v4(),
            token_hash: sha256_hex(token.as_bytes()),
            state: serde_json::to_value(req).map_err(|e| Error::invalid("SAML request", e.to_string()))?,
            created_at: now,
            expires_at: now.plus_seconds(PARK_SECS),
        };
        let mut tx = self.store().begin().await?;
        tx.insert_flow(&record).await?;
        tx.commit().await?;
        Ok(token)
    }

    /// The parked request of a token, left in place (the person may still be signing in).
    pub async fn parked(self, token: &str) -> Result<Option<ParkedRequest>> {
        let Some(rec) = self.store().flow_by_hash(&sha256_hex(token.as_bytes())).await? else {
            return Ok(None);
        };
        if rec.expires_at <= self.now() {
            return Ok(None);
        }
        Ok(serde_json::from_value(rec.state).ok())
    }

    /// Takes the parked request (single use: of two takers one gets it).
    pub async fn unpark(self, token: &str) -> Result<Option<ParkedRequest>> {
        let mut tx = self.store().begin().await?;
        let rec = tx.consume_flow(&sha256_hex(token.as_bytes()), self.now()).await?;
        tx.commit().await?;
        Ok(rec.and_then(|r| serde_json::from_value(r.state).ok()))
    }

    /// Decides whether `user` may use `app`, writes the event either way
    /// (`authorize_application`, or a refusal), and returns the subject.
    pub async fn authorize(
        self,
        audit: &Audit,
        app: &Application,
        cfg: &SamlConfig,
        user: &User,
        session: &Session,
        request_id: Option<&str>,
    ) -> Result<Option<Subject>> {
        let access = self.access().cached_snapshot(app.id).await?;
        let (groups, allowed) = access.decide(user, app.id);
        let allowed = allowed && user.is_active;
        let groups: Vec<String> = groups.into_iter().map(|g| g.name.clone()).collect();
        let now = self.now();
        let mut tx = self.store().begin().await?;
        tx.append_event(
            audit.event(
                if allowed {
                    super::AUTHORIZE_APPLICATION
                } else {
                    super::ACCESS_DENIED
                },
                None,
                json!({"authorized_application": {"pk": app.id, "slug": app.slug, "name": app.name},
                       "protocol": "saml", "request_id": request_id, "username": user.username}),
            ),
            now,
        )
        .await?;
        tx.commit().await?;
        if !allowed {
            return Ok(None);
        }
        let name_id = match cfg.name_id {
            gatehouse_saml::NameIdKind::Persistent => self.pseudonym(app.id, user.id).await?,
            gatehouse_saml::NameIdKind::Email => user.email.clone(),
            gatehouse_saml::NameIdKind::Transient => gatehouse_saml::new_id(),
            gatehouse_saml::NameIdKind::Unspecified | gatehouse_saml::NameIdKind::Username => user.username.clone(),
        };
        Ok(Some(Subject {
            name_id,
            username: user.username.clone(),
            email: user.email.clone(),
            name: user.name.clone(),
            uid: user.hashed_uid(),
            groups,
            session_index: format!(
                "_{}",
                &sha256_hex(format!("saml-session\n{}\n{}", session.id, app.id).as_bytes())[..40]
            ),
        }))
    }

    /// The persistent NameID of a user for an application: an HMAC of both
    /// ids under a server secret, so it is stable, differs per application and
    /// cannot be linked across applications.
    pub async fn pseudonym(self, app_id: Uuid, user_id: Uuid) -> Result<String> {
        let key = self.pseudonym_key().await?;
        let mac = gatehouse_crypto::mac::keyed_hash(&key[..], &format!("{app_id}\n{user_id}"));
        let hex = mac.rsplit(':').next().unwrap_or(&mac);
        Ok(format!("_{}", &hex[..hex.len().min(40)]))
    }

    async fn pseudonym_key(self) -> Result<Arc<Vec<u8>>> {
        if let Some(v) = self.store().server_secret(PSEUDONYM_SECRET).await? {
            return Ok(Arc::new(v.into_bytes()));
        }
        let mut tx = self.store().begin().await?;
        if tx
            .insert_server_secret(PSEUDONYM_SECRET, &random_token(32), self.now())
            .await?
        {
            tx.append_event(
                Audit::system().event(
                    action::MODEL_CREATED,
                    None,
                    json!({"model": "server_secret", "name": PSEUDONYM_SECRET}),
                ),
                self.now(),
            )
            .await?;
        }
        tx.commit().await?;
        self.store()
            .server_secret(PSEUDONYM_SECRET)
            .await?
            .map(|v| Arc::new(v.into_bytes()))
            .ok_or_else(|| Error::Refused("the SAML pseudonym key could not be created".into()))
    }

    /// Housekeeping: expired request ids and keys no longer published.
    pub async fn purge(self) -> Result<u64> {
        let mut tx = self.store().begin().await?;
        let n = tx.delete_expired_saml(self.now()).await?;
        tx.commit().await?;
        Ok(n)
    }
}
