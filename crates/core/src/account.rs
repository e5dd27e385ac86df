//! What a signed-in person does to their own account.

use crate::context::Users;
use crate::directory::{Audit, store_password};
use crate::error::{Error, Result};
use crate::login::PasswordCheck;
use crate::model::Session;

impl Users<'_> {
    /// Changes the password of the session's user after checking the current
    /// one (throttled like a sign-in). Other sessions of the user end; this one
    /// stays.
    pub async fn change_own_password(
        self,
        audit: &Audit,
        session: &Session,
        current: &str,
        new_password: &str,
    ) -> Result<()> {
        let user = self
            .store()
            .user_by_id(session.user_id)
            .await?
            .ok_or_else(|| Error::not_found("user", session.user_id.to_string()))?;
        match self.sign_in().check_password(audit, &user.username, current).await? {
            PasswordCheck::Accepted { .. } => {}
            PasswordCheck::Rejected => {
                return Err(Error::invalid("current password", "it is not your current password"));
            }
            PasswordCheck::Throttled { retry_after_secs } => {
                return Err(Error::Refused(format!(
                    "too many wrong passwords; try again in {retry_after_secs} seconds"
                )));
            }
        }
        if current == new_password {
            return Err(Error::PasswordRejected(
                "the new password must differ from the current one".into(),
            ));
        }
        self.password_policy().check(&user.username, new_password)?;
        let hash = self.hasher().hash(new_password).await?;
        let mut tx = self.store().begin().await?;
        let mut user = tx
            .user_by_id(user.id)
            .await?
            .ok_or_else(|| Error::not_found("user", user.username.clone()))?;
        store_password(&mut *tx, audit, &mut user, hash, Some(session.id), self.now()).await?;
        tx.commit().await?;
        Ok(())
    }
}
