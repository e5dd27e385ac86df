//! Sign-ins that open no session: a protocol that checks a password on every
//! request (an LDAP bind). The password check and its throttling are
//! [`SignIn::check_password_via`]'s; this records the outcome the way a
//! web sign-in does (`login`, or `login_failed` when a correct password is
//! still refused), with the protocol named in the event.

use serde_json::{Value, json};

use crate::audit::Audit;
use crate::context::SignIn;
use crate::error::Result;
use crate::events::action;
use crate::login::PasswordCheck;
use crate::model::User;

impl SignIn<'_> {
    /// Completes an accepted password check: re-reads the user (locked),
    /// refuses when the account changed since the check (disabled, deleted,
    /// password reset), stores an upgraded hash, clears the account's failure
    /// counts (and the second factor's, when one was used), records the
    /// last-login time and the `login` event with `context`, in one
    /// transaction. `None` when the account changed.
    pub async fn finish_sessionless_sign_in(
        self,
        audit: &Audit,
        check: PasswordCheck,
        amr: &[&str],
        context: Value,
    ) -> Result<Option<User>> {
        let PasswordCheck::Accepted {
            user: checked,
            rehash,
            had_failures,
        } = check
        else {
            return Ok(None);
        };
        let mut tx = self.write(audit).await?;
        let now = tx.now();
        let mut user = *checked;
        if let Some(hash) = rehash {
            // A new hash: the account is read again (locked) and rewritten.
            let Some(stored) = crate::login::still_as_checked(&mut tx, &user).await? else {
                return Ok(None);
            };
            user = stored;
            user.password_hash = Some(hash);
            user.last_login = Some(now);
            tx.raw().update_user(&user).await?;
        } else {
            // The account as checked, stamped in one statement: a change since
            // the check (disabled, deleted, a new password) makes it touch nothing.
            let hash = user.password_hash.as_deref().unwrap_or_default();
            if !tx.raw().stamp_login(user.id, hash, now).await? {
                return Ok(None);
            }
            user.last_login = Some(now);
        }
        if had_failures {
            crate::login::clear_account_throttle(&mut tx, &user).await?;
        }
        if amr.contains(&"mfa") {
            tx.raw().delete_throttle(&crate::mfa::mfa_key(user.id)).await?;
        }
        let mut context = context;
        context["amr"] = json!(amr);
        tx.record(action::LOGIN, Some(&user.username), context).await?;
        tx.commit().await?;
        Ok(Some(user))
    }

    /// Records that a correct password was still refused (`reason`: no access
    /// to the application, a missing second factor). Not a failure that
    /// counts towards throttling: nothing was guessed.
    pub async fn record_refused_sign_in(self, audit: &Audit, user: &User, reason: &str, context: Value) -> Result<()> {
        let mut context = context;
        context["reason"] = json!(reason);
        self.events()
            .record(audit, action::LOGIN_FAILED, Some(&user.username), context)
            .await?;
        Ok(())
    }
}
