//! First start: the superuser group `admins`, the recovery admin `akadmin` in it,
//! and optionally a non-expiring API token. Runs once per database, however many
//! servers start at the same moment: the store's bootstrap claim decides.
//!
//! The bootstrap itself is a shipped blueprint, applied by
//! `gatehouse_blueprint::bootstrap::bootstrap` in the transaction that claims
//! it; these are its settings and outcome.

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

impl crate::Context {
    /// Whether this database was bootstrapped already.
    pub async fn is_bootstrapped(&self) -> crate::Result<bool> {
        Ok(self.store().is_bootstrapped().await?)
    }
}

/// Claims the one-time bootstrap in the change `tx`: true for exactly one
/// caller per database, even when several servers start at once.
pub async fn claim(tx: &mut crate::Tx<'_>) -> crate::Result<bool> {
    let now = tx.now();
    Ok(tx.raw().claim_bootstrap(now).await?)
}
