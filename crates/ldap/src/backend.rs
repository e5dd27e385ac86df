//! The one place the LDAP server calls into `gatehouse-core`: reading the
//! directory for a snapshot, the change feed's events, a bind (the same
//! password check, throttling, access rule, MFA and audit events as a web
//! sign-in) and the generated TLS certificate. The rest of the crate sees
//! only the [`Backend`] trait, so its tests run without a database.

use async_trait::async_trait;
use gatehouse_core::access::{Consent, Verdict};
use gatehouse_core::login::PasswordCheck;
use gatehouse_core::mfa::{FactorCheck, SecondFactor};
use gatehouse_core::{Actor, Application, Audit, Binding, Directory, Group, Membership, ProviderKind, User};
use serde_json::json;

use crate::bind::{BindAttempt, BindVerdict, Code};
use crate::config::{LdapConfig, MfaMode};

#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    #[error("the directory is unavailable: {0}")]
    Unavailable(String),
    #[error("{0}")]
    Internal(String),
}

impl From<gatehouse_core::Error> for BackendError {
    fn from(e: gatehouse_core::Error) -> Self {
        BackendError::Unavailable(e.to_string())
    }
}

impl From<gatehouse_core::StoreError> for BackendError {
    fn from(e: gatehouse_core::StoreError) -> Self {
        BackendError::Unavailable(e.to_string())
    }
}

/// One read of everything a snapshot is built from.
#[derive(Debug, Default)]
pub struct DirectoryData {
    /// The change-feed sequence read *before* the rest, so a change landing
    /// during the read moves the feed past it.
    pub seq: i64,
    pub users: Vec<User>,
    pub groups: Vec<Group>,
    pub memberships: Vec<Membership>,
    pub bindings: Vec<Binding>,
    /// The LDAP applications and their settings.
    pub apps: Vec<(Application, LdapConfig)>,
}

#[async_trait]
pub trait Backend: Send + Sync {
    async fn load(&self) -> Result<DirectoryData, BackendError>;
    /// Whether the events after `seq` change more than sign-ins (core's rule,
    /// the one the change feed's directory generation follows).
    async fn directory_changed_since(&self, seq: i64) -> Result<bool, BackendError>;
    /// Decides a simple bind as a web sign-in would, with its events.
    async fn bind(&self, attempt: BindAttempt<'_>) -> Result<BindVerdict, BackendError>;
    /// The certificate and key (PEM) kept in the database, created by
    /// `generate` on first use (one winner if several nodes race).
    async fn stored_tls_pem(
        &self,
        generate: &(dyn Fn() -> Result<String, String> + Sync),
    ) -> Result<String, BackendError>;
}

/// Name of the server secret holding the generated certificate and key.
const TLS_SECRET: &str = "ldap_tls_pem";

/// [`Backend`] over a [`Directory`].
#[derive(Clone)]
pub struct CoreBackend {
    directory: Directory,
}

impl CoreBackend {
    pub fn new(directory: Directory) -> Self {
        CoreBackend { directory }
    }
}

#[async_trait]
impl Backend for CoreBackend {
    async fn load(&self) -> Result<DirectoryData, BackendError> {
        let dir = &self.directory;
        let seq = dir.change_seq().await?;
        let contents = dir.contents().await?;
        let apps = contents
            .applications
            .into_iter()
            .filter(|a| a.provider == Some(ProviderKind::Ldap))
            .filter_map(|a| match LdapConfig::from_value(&a.provider_config) {
                Ok(cfg) => Some((a, cfg)),
                Err(e) => {
                    tracing::warn!(app = %a.slug, error = %e, "LDAP application has unusable settings; not served");
                    None
                }
            })
            .collect();
        Ok(DirectoryData {
            seq,
            users: contents.users,
            groups: contents.groups,
            memberships: contents.memberships,
            bindings: contents.bindings,
            apps,
        })
    }

    async fn directory_changed_since(&self, seq: i64) -> Result<bool, BackendError> {
        Ok(self.directory.events().directory_changed_since(seq).await?)
    }

    async fn bind(&self, attempt: BindAttempt<'_>) -> Result<BindVerdict, BackendError> {
        let dir = &self.directory;
        let anonymous = Audit::new(Actor::System, attempt.client_ip.clone());
        let check = dir
            .sign_in()
            .check_password_via(&anonymous, attempt.username, attempt.password, "ldap")
            .await?;
        let user = match &check {
            PasswordCheck::Accepted { user, .. } => (**user).clone(),
            PasswordCheck::Rejected => return Ok(BindVerdict::Rejected),
            PasswordCheck::Throttled { retry_after_secs } => {
                return Ok(BindVerdict::Throttled {
                    retry_after_secs: *retry_after_secs,
                });
            }
        };
        let audit = Audit::new(Actor::User(user.username.clone()), attempt.client_ip.clone());
        let context = json!({"via": "ldap", "application": attempt.app.slug});
        // The one gate, as for every credential: active user, bindings, and
        // whether the MFA policy wants a second factor here.
        let password_only = [String::from("pwd")];
        let verdict = dir
            .access()
            .check(&user, &password_only, attempt.app.id, Consent::NotAsked)
            .await?;
        if let Verdict::Deny(_) = verdict {
            dir.sign_in()
                .record_refused_sign_in(&audit, &user, "application_denied", context)
                .await?;
            return Ok(BindVerdict::Denied);
        }
        // The web's rule too: whoever has an authenticator passes it; and the
        // LDAP application may require one of everyone.
        let needs_code = matches!(verdict, Verdict::StepUp)
            || attempt.config.mfa == MfaMode::Required
            || !dir.mfa().authenticators(user.id).await?.is_empty();
        let mut amr = vec!["pwd"];
        match attempt.code {
            None if needs_code => {
                dir.sign_in()
                    .record_refused_sign_in(&audit, &user, "mfa_required", context)
                    .await?;
                return Ok(BindVerdict::MfaRequired);
            }
            None => {}
            Some(code) => {
                let factor = match code {
                    Code::Totp(c) => SecondFactor::Totp(c),
                    Code::Recovery(c) => SecondFactor::RecoveryCode(c),
                };
                match dir.mfa().check_second_factor(&audit, &user, factor).await? {
                    FactorCheck::Passed(method) => amr.extend([method, "mfa"]),
                    FactorCheck::Rejected => return Ok(BindVerdict::Rejected),
                    FactorCheck::Throttled { retry_after_secs } => {
                        return Ok(BindVerdict::Throttled { retry_after_secs });
                    }
                }
            }
        }
        Ok(
            match dir
                .sign_in()
                .finish_sessionless_sign_in(&audit, check, &amr, context)
                .await?
            {
                Some(user) => BindVerdict::Accepted {
                    username: user.username,
                },
                None => BindVerdict::Rejected,
            },
        )
    }

    async fn stored_tls_pem(
        &self,
        generate: &(dyn Fn() -> Result<String, String> + Sync),
    ) -> Result<String, BackendError> {
        // Made once per database; whoever wins the race, every node serves it.
        let fresh = match self.directory.secrets().get(TLS_SECRET).await? {
            Some(pem) => return Ok(pem),
            None => generate().map_err(BackendError::Internal)?,
        };
        Ok(self.directory.secrets().get_or_create(TLS_SECRET, || fresh).await?)
    }
}
