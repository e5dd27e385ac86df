//! Remembered explicit consent: given on the consent page, listed and
//! withdrawn in the portal. Withdrawing also revokes the person's grants for
//! the application, so its refresh tokens stop working.

use serde_json::json;

use crate::audit::Audit;
use crate::context::OAuth;
use crate::error::{Error, Result};
use crate::events::action as core_action;
use crate::model::{Application, User};
use crate::oauth::action;
use crate::oauth::model::Consent;

/// A consent with its application's names, for the portal.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ConsentListing {
    #[serde(flatten)]
    pub consent: Consent,
    pub slug: String,
    pub name: String,
}

impl OAuth<'_> {
    pub async fn consent(self, user: &User, app: &Application) -> Result<Option<Consent>> {
        Ok(self
            .store()
            .oauth_consents(user.id)
            .await?
            .into_iter()
            .find(|c| c.application_id == app.id))
    }

    pub async fn remember_consent(
        self,
        audit: &Audit,
        user: &User,
        app: &Application,
        scopes: &[String],
    ) -> Result<()> {
        let consent = Consent {
            user_id: user.id,
            application_id: app.id,
            scopes: scopes.to_vec(),
            created_at: self.now(),
        };
        let mut tx = self.store().begin().await?;
        tx.put_consent(&consent).await?;
        tx.append_event(
            audit.event(
                core_action::MODEL_CREATED,
                Some(&user.username),
                json!({"model": "consent", "application": app.slug, "scopes": scopes}),
            ),
            self.now(),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn consents_of(self, user: &User) -> Result<Vec<ConsentListing>> {
        let apps = self.store().applications().await?;
        Ok(self
            .store()
            .oauth_consents(user.id)
            .await?
            .into_iter()
            .filter_map(|c| {
                let app = apps.iter().find(|a| a.id == c.application_id)?;
                Some(ConsentListing {
                    slug: app.slug.clone(),
                    name: app.name.clone(),
                    consent: c,
                })
            })
            .collect())
    }

    /// Withdraws `user`'s consent to the application `slug` and revokes their
    /// grants for it. False when there was no consent.
    pub async fn withdraw_consent(self, audit: &Audit, user: &User, slug: &str) -> Result<bool> {
        let mut tx = self.store().begin().await?;
        let app = tx
            .application_by_slug(slug)
            .await?
            .ok_or_else(|| Error::not_found("application", slug))?;
        if !tx.delete_consent(user.id, app.id).await? {
            return Ok(false);
        }
        let revoked = tx.revoke_user_grants(user.id, Some(app.id), self.now()).await?;
        tx.append_event(
            audit.event(
                action::CONSENT_WITHDRAWN,
                Some(&user.username),
                json!({"application": app.slug, "grants_revoked": revoked}),
            ),
            self.now(),
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }
}
