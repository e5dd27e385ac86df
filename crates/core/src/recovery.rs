//! Regaining access: making someone admin again, one-time recovery keys
//! (`gatehouse recovery key`) and the recovery flow that spends them.

use gatehouse_crypto::{random_token, sha256_hex};
use serde_json::json;
use uuid::Uuid;

use crate::audit::Audit;
use crate::context::Recovery;
use crate::error::{Error, Result};
use crate::events::action;
use crate::groups::{ADMIN_GROUP, admin_group};
use crate::model::*;
use crate::session::ClientInfo;
use crate::tx::Tx;

/// A recovery key as listed for operators (never the key itself).
#[derive(Debug, Clone, serde::Serialize)]
pub struct RecoveryKeyListing {
    #[serde(flatten)]
    pub key: RecoveryKey,
    pub username: String,
    pub state: &'static str,
}

impl Recovery<'_> {
    /// Makes `username` a member of the superuser group (creating it if needed),
    /// for an installation that lost its last admin.
    pub async fn admin(self, audit: &Audit, username: &str) -> Result<bool> {
        let mut tx = self.write(audit).await?;
        let user = crate::users::find(&mut tx, username).await?;
        let group = match tx.raw().group_by_name(ADMIN_GROUP).await? {
            Some(g) => g,
            None => {
                let g = admin_group(self.now());
                let pk = crate::groups::insert(&mut tx, &g).await?;
                Group { pk, ..g }
            }
        };
        let added = crate::groups::add_member(&mut tx, group.named(), user.named(), false).await?;
        tx.commit().await?;
        Ok(added)
    }

    /// Creates a one-time sign-in key for `username`, valid for `minutes`.
    /// Returns the key (shown once) and its record.
    pub async fn create_key(self, audit: &Audit, username: &str, minutes: i64) -> Result<(String, RecoveryKey)> {
        if !(1..=60 * 24 * 30).contains(&minutes) {
            return Err(Error::invalid("minutes", "must be between 1 and 43200 (30 days)"));
        }
        let key = random_token(32);
        let mut tx = self.begin().await?;
        let user = tx
            .user_by_name(username)
            .await?
            .ok_or_else(|| Error::not_found("user", username))?;
        let now = self.now();
        let record = RecoveryKey {
            id: Uuid::new_v4(),
            user_id: user.id,
            token_hash: sha256_hex(key.as_bytes()),
            created_at: now,
            expires_at: now.plus_seconds(minutes * 60),
            used_at: None,
        };
        tx.insert_recovery_key(&record).await?;
        tx.append_event(
            audit.event(
                action::RECOVERY_KEY_CREATED,
                Some(&user.username),
                json!({"pk": record.id, "expires": record.expires_at.millis()}),
            ),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok((key, record))
    }

    pub async fn list(self) -> Result<Vec<RecoveryKeyListing>> {
        let users = self.store().users().await?;
        let now = self.now();
        let mut out: Vec<RecoveryKeyListing> = self
            .store()
            .recovery_keys()
            .await?
            .into_iter()
            .map(|key| RecoveryKeyListing {
                username: users
                    .iter()
                    .find(|u| u.id == key.user_id)
                    .map(|u| u.username.clone())
                    .unwrap_or_default(),
                state: if key.used_at.is_some() {
                    "used"
                } else if key.expires_at <= now {
                    "expired"
                } else {
                    "valid"
                },
                key,
            })
            .collect();
        out.sort_by_key(|k| std::cmp::Reverse(k.key.created_at));
        Ok(out)
    }

    /// Spends a recovery key: returns its user if the key is valid, unused and
    /// unexpired, and makes it unusable. Any failure looks the same to the caller.
    pub async fn consume_key(self, audit: &Audit, key: &str) -> Result<User> {
        let invalid = || Error::invalid("recovery key", "the link is invalid, expired or already used");
        if key.is_empty() || key.len() > 128 {
            return Err(invalid());
        }
        let _now = self.now();
        let mut tx = self.write(audit).await?;
        let user = spend_key(&mut tx, &sha256_hex(key.as_bytes()))
            .await?
            .ok_or_else(invalid)?;
        tx.commit().await?;
        Ok(user)
    }

    /// The user a recovery key is for, if the key is valid, unused and unexpired,
    /// without spending it (a link preview must not burn the key).
    pub async fn key_user(self, key: &str) -> Result<Option<(String, User)>> {
        if key.is_empty() || key.len() > 128 {
            return Ok(None);
        }
        let hash = sha256_hex(key.as_bytes());
        let Some(record) = self.store().recovery_key_by_hash(&hash).await? else {
            return Ok(None);
        };
        if record.used_at.is_some() || record.expires_at <= self.now() {
            return Ok(None);
        }
        let user = self.store().user_by_id(record.user_id).await?.filter(|u| u.is_active);
        Ok(user.map(|u| (hash, u)))
    }

    /// Sets a new password with a recovery key and signs the person in: spends the
    /// key, stores the password (ending other sessions) and starts a session, in
    /// one transaction. A key already spent or expired changes nothing.
    pub async fn complete(
        self,
        audit: &Audit,
        key_hash: &str,
        new_password: &str,
        client: &ClientInfo,
    ) -> Result<(String, Session, User)> {
        self.complete_with(audit, key_hash, new_password, client, &["pwd"])
            .await
    }

    /// [`Self::complete_recovery`] with the session's `amr` (MFA: a recovery
    /// link whose person passed a second factor first).
    pub async fn complete_with(
        self,
        audit: &Audit,
        key_hash: &str,
        new_password: &str,
        client: &ClientInfo,
        amr: &[&str],
    ) -> Result<(String, Session, User)> {
        let invalid = || Error::invalid("recovery key", "the link is invalid, expired or already used");
        let _now = self.now();
        let record = self.store().recovery_key_by_hash(key_hash).await?.ok_or_else(invalid)?;
        let user = self.store().user_by_id(record.user_id).await?.ok_or_else(invalid)?;
        let hash = self.users().hash_new_password(&user.username, new_password).await?;
        let mut tx = self.write(audit).await?;
        let user = spend_key(&mut tx, key_hash).await?.ok_or_else(invalid)?;
        let asker = tx.audit().clone();
        self.mfa()
            .open_enrolment_for_link(tx.raw(), &asker, &user, key_hash)
            .await?;
        let mut user = crate::users::store_password(&mut tx, user.id, hash, None).await?;
        crate::login::clear_account_throttle(&mut tx, &user).await?;
        let (token, session) = crate::session::open(&mut tx, &mut user, client, amr).await?;
        tx.commit().await?;
        Ok((token, session, user))
    }
}

/// Spends the key with this hash inside `tx` and returns its (active) user, with
/// the `recovery_key_used` event; `None` when the key is invalid, spent, expired
/// or its user disabled.
async fn spend_key(tx: &mut Tx<'_>, key_hash: &str) -> Result<Option<User>> {
    let now = tx.now();
    let Some(record) = tx.raw().consume_recovery_key(key_hash, now).await? else {
        return Ok(None);
    };
    let Some(user) = tx.raw().user_by_id(record.user_id).await?.filter(|u| u.is_active) else {
        return Ok(None);
    };
    tx.record(
        action::RECOVERY_KEY_USED,
        Some(&user.username),
        json!({"pk": record.id}),
    )
    .await?;
    Ok(Some(user))
}
