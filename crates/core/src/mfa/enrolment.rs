//! Who may enrol a first authenticator, and telling the owner about every one.
//!
//! The attack: someone who has only the password enrols *their* authenticator
//! first; from then on the owner cannot pass the second factor. So for a person
//! policy requires MFA of (`mfa_required_for`) and who has no authenticator,
//! the first enrolment is open only within a window (`window_secs`, default an
//! hour) that starts:
//! - at the first time Gatehouse asks them to enrol (the first sign-in or
//!   step-up after the policy applied to them), once per person, ever;
//! - when they use a recovery link an administrator issued for them
//!   (`recovery key`, `user password --link`);
//! - when an administrator resets their MFA or runs `user mfa allow-enrolment`.
//!
//! Outside a window the enrolment page says to ask an administrator. The
//! setting `GATEHOUSE_MFA_FIRST_ENROLMENT=password` restores "a password is
//! enough" for operators who accept the risk. Whoever enrols, every new
//! authenticator is an audit event and, when mail is configured, a mail to the
//! owner (a worker job), so an unexpected enrolment does not go unnoticed.

use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;

use super::Authenticator;
use crate::audit::Audit;
use crate::clock::Timestamp;
use crate::context::Mfa;
use crate::error::{Error, Result};
use crate::jobs::NewJob;
use crate::model::User;
use crate::store::WriteTx;

/// Audit actions of this module.
pub mod action {
    /// A window for a first enrolment opened (context: reason, until).
    pub const ENROLMENT_ALLOWED: &str = "mfa_enrolment_allowed";
    /// Someone was asked to enrol but no window was open (the password alone
    /// is not enough to enrol the first authenticator).
    pub const ENROLMENT_REFUSED: &str = "mfa_enrolment_refused";
}

/// The job kind of the "new authenticator" mail: payload [`EnrolledMail`].
pub const ENROLLED_MAIL: &str = "mail.mfa_enrolled";

/// Payload of [`ENROLLED_MAIL`] (nothing secret).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EnrolledMail {
    pub user_id: Uuid,
    pub kind: String,
    pub name: String,
    /// When, ms since the epoch.
    pub at: i64,
    pub client_ip: Option<String>,
}

/// `GATEHOUSE_MFA_FIRST_ENROLMENT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FirstEnrolment {
    /// Within a window only (the default).
    Guarded,
    /// Whoever has the password may enrol the first authenticator.
    Password,
}

impl FirstEnrolment {
    pub fn parse(s: &str) -> Option<FirstEnrolment> {
        match s {
            "guarded" => Some(FirstEnrolment::Guarded),
            "password" => Some(FirstEnrolment::Password),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            FirstEnrolment::Guarded => "guarded",
            FirstEnrolment::Password => "password",
        }
    }
}

/// The server's enrolment settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnrolmentPolicy {
    pub first: FirstEnrolment,
    pub window_secs: i64,
    /// Mail the owner about every new authenticator (email is configured).
    pub notify_owner: bool,
}

impl Default for EnrolmentPolicy {
    fn default() -> Self {
        EnrolmentPolicy {
            first: FirstEnrolment::Guarded,
            window_secs: 3600,
            notify_owner: false,
        }
    }
}

/// A person's enrolment state, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EnrolmentRecord {
    pub user_id: Uuid,
    pub first_offered_at: Option<Timestamp>,
    pub window_until: Option<Timestamp>,
    pub window_reason: Option<String>,
    /// SHA-256 of an administrator's recovery key that opens a window when used.
    pub link_hash: Option<String>,
    pub link_until: Option<Timestamp>,
}

impl EnrolmentRecord {
    fn open_at(&self, now: Timestamp) -> bool {
        self.window_until.is_some_and(|until| now < until)
    }
}

impl Mfa<'_> {
    /// Whether `user`'s first enrolment needs a window: the setting is on,
    /// policy requires MFA of them, and they have no authenticator.
    async fn first_enrolment_guarded(self, user: &User) -> Result<bool> {
        Ok(self.enrolment_policy().first == FirstEnrolment::Guarded
            && self.authenticators(user.id).await?.is_empty()
            && self.mfa().required_for(user).await?)
    }

    /// Whether `user` may enrol an authenticator now (reads only).
    pub async fn may_enrol(self, user: &User) -> Result<bool> {
        if !self.first_enrolment_guarded(user).await? {
            return Ok(true);
        }
        let record = self.store().mfa_enrolment(user.id).await?;
        Ok(record.is_some_and(|r| r.open_at(self.now())))
    }

    /// Gatehouse asks `user` to enrol (at sign-in or step-up). The first time
    /// ever opens a window; returns whether they may enrol now. A refusal is an
    /// event (someone with the password, perhaps not the owner, tried).
    pub async fn offer_enrolment(self, audit: &Audit, user: &User) -> Result<bool> {
        if !self.first_enrolment_guarded(user).await? {
            return Ok(true);
        }
        let now = self.now();
        let mut tx = self.begin().await?;
        let mut record = tx.mfa_enrolment(user.id).await?.unwrap_or(EnrolmentRecord {
            user_id: user.id,
            ..EnrolmentRecord::default()
        });
        if record.open_at(now) {
            return Ok(true);
        }
        let allowed = record.first_offered_at.is_none();
        if allowed {
            record.first_offered_at = Some(now);
            self.open_window(
                &mut *tx,
                audit,
                user,
                &mut record,
                "first_sign_in",
                self.enrolment_policy().window_secs,
            )
            .await?;
        } else {
            tx.append_event(
                audit.event(
                    action::ENROLMENT_REFUSED,
                    Some(&user.username),
                    json!({"reason": "no enrolment window; an administrator must allow it"}),
                ),
                now,
            )
            .await?;
        }
        tx.commit().await?;
        Ok(allowed)
    }

    /// An administrator lets `username` enrol a first authenticator for
    /// `minutes` (default: the window setting). Returns the window's end.
    pub async fn allow_enrolment(self, audit: &Audit, username: &str, minutes: Option<i64>) -> Result<Timestamp> {
        let secs = match minutes {
            Some(m) if !(1..=60 * 24 * 30).contains(&m) => {
                return Err(Error::invalid("minutes", "must be between 1 and 43200 (30 days)"));
            }
            Some(m) => m * 60,
            None => self.enrolment_policy().window_secs,
        };
        let mut tx = self.begin().await?;
        let user = tx
            .user_by_name(username)
            .await?
            .ok_or_else(|| Error::not_found("user", username))?;
        let mut record = tx.mfa_enrolment(user.id).await?.unwrap_or(EnrolmentRecord {
            user_id: user.id,
            ..EnrolmentRecord::default()
        });
        let until = self
            .open_window(&mut *tx, audit, &user, &mut record, "admin", secs)
            .await?;
        tx.commit().await?;
        Ok(until)
    }

    /// An administrator issued recovery link `key` (valid until `until`) for
    /// `user_id`: using it opens an enrolment window.
    pub async fn hold_enrolment_for_link(self, user_id: Uuid, key: &str, until: Timestamp) -> Result<()> {
        let mut tx = self.begin().await?;
        let mut record = tx.mfa_enrolment(user_id).await?.unwrap_or(EnrolmentRecord {
            user_id,
            ..EnrolmentRecord::default()
        });
        record.link_hash = Some(gatehouse_crypto::sha256_hex(key.as_bytes()));
        record.link_until = Some(until);
        tx.put_mfa_enrolment(&record).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Inside the recovery link's transaction: when the link spent is the
    /// one an administrator issued, the window opens.
    pub(crate) async fn open_enrolment_for_link(
        self,
        tx: &mut dyn WriteTx,
        audit: &Audit,
        user: &User,
        key_hash: &str,
    ) -> Result<()> {
        let Some(mut record) = tx.mfa_enrolment(user.id).await? else {
            return Ok(());
        };
        let matches = record
            .link_hash
            .as_deref()
            .is_some_and(|h| gatehouse_crypto::constant_time_eq(h.as_bytes(), key_hash.as_bytes()))
            && record.link_until.is_some_and(|u| self.now() < u);
        if matches {
            record.link_hash = None;
            record.link_until = None;
            let secs = self.enrolment_policy().window_secs;
            self.open_window(tx, audit, user, &mut record, "admin_recovery_link", secs)
                .await?;
        }
        Ok(())
    }

    /// Inside `reset_mfa`'s transaction: the person enrols again, soon.
    pub(crate) async fn open_enrolment_after_reset(
        self,
        tx: &mut dyn WriteTx,
        audit: &Audit,
        user: &User,
    ) -> Result<()> {
        let mut record = tx.mfa_enrolment(user.id).await?.unwrap_or(EnrolmentRecord {
            user_id: user.id,
            ..EnrolmentRecord::default()
        });
        let secs = self.enrolment_policy().window_secs;
        self.open_window(tx, audit, user, &mut record, "mfa_reset", secs)
            .await?;
        Ok(())
    }

    async fn open_window(
        self,
        tx: &mut dyn WriteTx,
        audit: &Audit,
        user: &User,
        record: &mut EnrolmentRecord,
        reason: &str,
        secs: i64,
    ) -> Result<Timestamp> {
        let now = self.now();
        let until = now.plus_seconds(secs);
        record.window_until = Some(until);
        record.window_reason = Some(reason.to_string());
        tx.put_mfa_enrolment(record).await?;
        tx.append_event(
            audit.event(
                action::ENROLMENT_ALLOWED,
                Some(&user.username),
                json!({"reason": reason, "until": until.millis()}),
            ),
            now,
        )
        .await?;
        Ok(until)
    }

    /// Inside `add_authenticator`'s transaction, for a first authenticator:
    /// refuses unless enrolment is open for `user`.
    pub(crate) async fn guard_first_enrolment(self, tx: &mut dyn WriteTx, user: &User) -> Result<()> {
        if self.enrolment_policy().first != FirstEnrolment::Guarded || !self.mfa().required_for(user).await? {
            return Ok(());
        }
        let open = tx.mfa_enrolment(user.id).await?.is_some_and(|r| r.open_at(self.now()));
        if open {
            Ok(())
        } else {
            Err(Error::Refused(
                "your first second factor can only be added shortly after your first sign-in, or with an administrator's enrolment link".into(),
            ))
        }
    }

    /// Inside `add_authenticator`'s transaction: the owner hears of it by mail.
    pub(crate) async fn announce_enrolment(
        self,
        tx: &mut dyn WriteTx,
        audit: &Audit,
        user: &User,
        auth: &Authenticator,
    ) -> Result<()> {
        if !self.enrolment_policy().notify_owner || user.email.trim().is_empty() {
            return Ok(());
        }
        let now = self.now();
        let payload = EnrolledMail {
            user_id: user.id,
            kind: auth.kind.as_str().to_string(),
            name: auth.name.clone(),
            at: now.millis(),
            client_ip: audit.client_ip.clone(),
        };
        let job = NewJob {
            idem_key: format!("{ENROLLED_MAIL}:{}", auth.id),
            ..NewJob::new(ENROLLED_MAIL, json!(payload), now)
        };
        crate::jobs::enqueue_in(tx, &job, now).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_parse_and_windows_end() {
        assert_eq!(FirstEnrolment::parse("guarded"), Some(FirstEnrolment::Guarded));
        assert_eq!(FirstEnrolment::parse("password"), Some(FirstEnrolment::Password));
        assert_eq!(FirstEnrolment::parse("open"), None);
        let r = EnrolmentRecord {
            window_until: Some(Timestamp(10_000)),
            ..EnrolmentRecord::default()
        };
        assert!(r.open_at(Timestamp(9_999)));
        assert!(!r.open_at(Timestamp(10_000)));
        assert!(!EnrolmentRecord::default().open_at(Timestamp(0)));
    }
}
