//! The device flow (RFC 8628): the device's request at
//! POST /application/o/device/, and the person's side at /device, where a
//! signed-in person types the code, sees what asks, and allows or denies.
//!
//! The grant is opt-in per client (`device_flow`). Typed codes are throttled
//! per session and per address (`gatehouse_core::oauth::user_codes`). Both the
//! confirmation page and the approval ask the gate with the session's `amr`,
//! so a password-only session is stepped up where the application or the
//! person requires a second factor, as authorize does.

use std::sync::Arc;

use gatehouse_core::access::{Consent, Verdict};
use gatehouse_core::oauth::model::{DeviceCode, DeviceStatus};
use gatehouse_core::oauth::user_codes::CodeEntry;
use gatehouse_core::{Audit, Session, StoreError, User};
use gatehouse_crypto::{random_bytes, random_token, sha256_hex};
use serde_json::Value;

use super::{Failure, Provider, acting};
use crate::client::Client;
use crate::error::OAuthError;
use crate::params::Params;
use crate::{device, grant, paths, scope};

/// What the confirmation page shows.
#[derive(Debug, Clone)]
pub struct DevicePrompt {
    /// `BCDF-GHJK`.
    pub code: String,
    pub app_name: String,
    pub username: String,
    pub scopes: Vec<String>,
}

#[derive(Debug, Clone)]
pub enum DeviceOutcome {
    /// The code form again: the code is not (or no longer) valid.
    UnknownCode,
    /// Too many wrong codes: try again later.
    Throttled {
        retry_after_secs: i64,
    },
    /// A second factor first, then `return_to` (the code form, filled in).
    StepUp {
        return_to: String,
    },
    NoAccess {
        app_name: String,
    },
    /// Show what asks, with allow and deny.
    Confirm(DevicePrompt),
    /// Decided: the device is signed in (`allowed`) or refused.
    Decided {
        allowed: bool,
        app_name: String,
    },
}

/// A typed code that names a pending device authorization of a client that
/// may use the flow, and what the gate says about it.
struct Found {
    code: DeviceCode,
    client: Arc<Client>,
    verdict: Verdict,
}

impl Provider {
    /// POST /application/o/device/: a device asks for a code pair.
    pub async fn start_device(&self, authorization: Option<&str>, form: &Params) -> Result<Value, Failure> {
        let client = self.authenticate(authorization, form).await?;
        device::check_enabled(&client)?;
        let scopes = scope::parse(form.get("scope"));
        let now = self.dir.now();
        let device_code = random_token(32);
        // A clash of user codes (2^34 space) is retried once with a new code.
        for _ in 0..2 {
            let random = random_bytes();
            let mut eight = [0u8; 8];
            eight.copy_from_slice(&random[..8]);
            let user_code = device::user_code(&eight);
            let record = DeviceCode {
                device_code_hash: sha256_hex(device_code.as_bytes()),
                user_code: user_code.clone(),
                application_id: client.app.id,
                scopes: scopes.clone(),
                created_at: now,
                expires_at: now.plus_seconds(device::LIFETIME_SECS),
                interval_secs: device::INTERVAL_SECS,
                last_poll_at: None,
                status: DeviceStatus::Pending,
                grant_id: None,
            };
            match self.dir.oauth().start_device(&record).await {
                Ok(()) => {
                    let verify = format!("{}{}", self.external_url, paths::DEVICE_VERIFY);
                    return Ok(device::response(&device_code, &user_code, &verify));
                }
                Err(gatehouse_core::Error::Store(StoreError::Conflict(_))) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(OAuthError::server_error().into())
    }

    /// POST /device: the person typed a code; what asks (or why not).
    pub async fn device_code_entered(
        &self,
        me: &(Session, User),
        typed: &str,
        audit: &Audit,
    ) -> gatehouse_core::Result<DeviceOutcome> {
        let found = match self.find_code(me, typed, audit).await? {
            Ok(found) => found,
            Err(outcome) => return Ok(outcome),
        };
        Ok(match &found.verdict {
            Verdict::Allow { .. } | Verdict::AskConsent => DeviceOutcome::Confirm(DevicePrompt {
                code: device::display_user_code(&found.code.user_code),
                app_name: found.client.app.name.clone(),
                username: me.1.username.clone(),
                scopes: found.code.scopes.clone(),
            }),
            verdict => refusal(&found, verdict),
        })
    }

    /// POST /device/confirm: allow (through the gate) or deny.
    pub async fn device_decision(
        &self,
        me: &(Session, User),
        typed: &str,
        allow: bool,
        audit: &Audit,
    ) -> gatehouse_core::Result<DeviceOutcome> {
        let found = match self.find_code(me, typed, audit).await? {
            Ok(found) => found,
            Err(outcome) => return Ok(outcome),
        };
        let (session, user) = me;
        let approve = match (&found.verdict, allow) {
            (_, false) => None,
            (Verdict::Allow { .. } | Verdict::AskConsent, true) => Some(grant::device(
                &found.client,
                &found.code.scopes,
                session,
                user,
                self.dir.now(),
            )),
            (verdict, true) => return Ok(refusal(&found, verdict)),
        };
        let decided = self
            .dir
            .oauth()
            .decide_device_code(
                &acting(audit, user),
                &found.code.user_code,
                user,
                &found.client.app,
                approve,
            )
            .await?;
        if !decided {
            return Ok(DeviceOutcome::UnknownCode);
        }
        Ok(DeviceOutcome::Decided {
            allowed: allow,
            app_name: found.client.app.name.clone(),
        })
    }

    /// The pending code typed in `me`'s session (throttled), its client, and
    /// the gate's verdict for the session; or the outcome to show instead.
    async fn find_code(
        &self,
        me: &(Session, User),
        typed: &str,
        audit: &Audit,
    ) -> gatehouse_core::Result<Result<Found, DeviceOutcome>> {
        let (session, user) = me;
        // A malformed code cannot match anything: nothing to count.
        let Some(normalized) = device::normalize_user_code(typed) else {
            return Ok(Err(DeviceOutcome::UnknownCode));
        };
        let code = match self
            .dir
            .oauth()
            .enter_user_code(&acting(audit, user), session, user, &normalized)
            .await?
        {
            CodeEntry::Pending(code) => code,
            CodeEntry::Unknown => return Ok(Err(DeviceOutcome::UnknownCode)),
            CodeEntry::Throttled { retry_after_secs } => {
                return Ok(Err(DeviceOutcome::Throttled { retry_after_secs }));
            }
        };
        let Some(app) = self.dir.apps().by_id(code.application_id).await? else {
            return Ok(Err(DeviceOutcome::UnknownCode));
        };
        let Some(client) = self.client_of_app(&app).await?.filter(|c| c.config.device_flow) else {
            return Ok(Err(DeviceOutcome::UnknownCode));
        };
        // The device flow has no consent page of its own: confirming is consenting.
        let verdict = self
            .dir
            .access()
            .check(user, &session.amr, client.app.id, Consent::NotAsked)
            .await?;
        Ok(Ok(Found { code, client, verdict }))
    }
}

/// The outcome of a verdict that does not let the person approve.
fn refusal(found: &Found, verdict: &Verdict) -> DeviceOutcome {
    match verdict {
        Verdict::StepUp => DeviceOutcome::StepUp {
            return_to: format!(
                "{}?code={}",
                paths::DEVICE_VERIFY,
                device::display_user_code(&found.code.user_code)
            ),
        },
        _ => DeviceOutcome::NoAccess {
            app_name: found.client.app.name.clone(),
        },
    }
}
