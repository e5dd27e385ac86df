//! First start: the superuser group `admins`, the recovery admin `akadmin` in it,
//! and optionally a non-expiring API token. Runs once per database, however many
//! servers start at the same moment: the store's bootstrap claim decides.

use gatehouse_crypto::{random_token, sha256_hex};
use serde_json::json;
use uuid::Uuid;

use crate::directory::{ADMIN_GROUP, Audit, Directory, RECOVERY_ADMIN, admin_group, insert_group, insert_user};
use crate::error::Result;
use crate::events::action;
use crate::model::{ApiToken, Membership, User};

/// Settings from `GATEHOUSE_BOOTSTRAP_*`.
#[derive(Default, Clone)]
pub struct BootstrapSettings {
    pub password: Option<String>,
    pub email: Option<String>,
    pub token: Option<String>,
}

impl std::fmt::Debug for BootstrapSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BootstrapSettings")
            .field("password", &self.password.as_ref().map(|_| "<set>"))
            .field("email", &self.email)
            .field("token", &self.token.as_ref().map(|_| "<set>"))
            .finish()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BootstrapOutcome {
    /// The database was already bootstrapped; nothing was done.
    AlreadyDone,
    /// `akadmin` was created. `generated_password` is set when no password was
    /// configured and one was made up; the caller must hand it to the operator.
    Created { generated_password: Option<String> },
}

impl Directory {
    pub async fn bootstrap(&self, settings: &BootstrapSettings) -> Result<BootstrapOutcome> {
        if self.store().is_bootstrapped().await? {
            return Ok(BootstrapOutcome::AlreadyDone);
        }
        let (password, generated) = match settings.password.as_deref().filter(|p| !p.is_empty()) {
            Some(p) => (p.to_string(), false),
            None => (random_token(24), true),
        };
        // Hash before opening the transaction: the claim holds a write lock.
        let hash = self.hasher().hash(&password).await?;
        let now = self.now();
        let audit = Audit::system();
        let mut tx = self.store().begin().await?;
        if !tx.claim_bootstrap(now).await? {
            return Ok(BootstrapOutcome::AlreadyDone);
        }
        let group = match tx.group_by_name(ADMIN_GROUP).await? {
            Some(g) => g,
            None => {
                let g = admin_group(now);
                insert_group(&mut *tx, &audit, &g, None, now).await?;
                g
            }
        };
        let admin = match tx.user_by_name(RECOVERY_ADMIN).await? {
            Some(u) => u,
            None => {
                let u = User {
                    id: Uuid::new_v4(),
                    username: RECOVERY_ADMIN.into(),
                    email: settings.email.clone().unwrap_or_default(),
                    name: "authentik Default Admin".into(),
                    is_active: true,
                    password_hash: Some(hash),
                    attributes: json!({}),
                    created_at: now,
                    last_login: None,
                    password_changed_at: Some(now),
                };
                insert_user(&mut *tx, &audit, &u, now).await?;
                u
            }
        };
        tx.add_membership(Membership {
            user_id: admin.id,
            group_id: group.id,
        })
        .await?;
        if let Some(token) = settings.token.as_deref().filter(|t| !t.is_empty()) {
            let t = ApiToken {
                id: Uuid::new_v4(),
                identifier: "authentik-bootstrap-token".into(),
                user_id: admin.id,
                intent: "api".into(),
                token_hash: sha256_hex(token.as_bytes()),
                created_at: now,
                expires_at: None,
            };
            tx.insert_api_token(&t).await?;
        }
        tx.append_event(
            audit.event(
                action::BOOTSTRAP,
                Some(RECOVERY_ADMIN),
                json!({"group": ADMIN_GROUP, "password": if generated { "generated" } else { "from environment" }, "api_token": settings.token.is_some()}),
            ),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(BootstrapOutcome::Created {
            generated_password: generated.then_some(password),
        })
    }
}
