//! GET/POST /application/o/<slug>/end-session/ (RP-initiated logout). An
//! unregistered `post_logout_redirect_uri` gets an error page, never a
//! redirect. With an `id_token_hint` for the signed-in person, signing out is
//! immediate; otherwise the person confirms (a CSRF-checked form), so a link
//! on another site cannot sign anyone out unasked.

use gatehouse_core::{Audit, Session, User};

use super::{Provider, acting};
use crate::claims;
use crate::end_session::{self, EndSessionError};
use crate::params::Params;

/// What the confirmation page shows.
#[derive(Debug, Clone)]
pub struct LogoutPrompt {
    pub app_name: String,
    pub username: String,
    /// Where the form posts to.
    pub action: String,
    /// The request, carried through the form.
    pub fields: Vec<(String, String)>,
}

#[derive(Debug, Clone)]
pub enum EndSessionOutcome {
    /// No OIDC application at this address.
    NotFound,
    /// An error page, never a redirect.
    Refused(String),
    Confirm(LogoutPrompt),
    /// Signed out (or nobody was signed in): go to `redirect`, or show "signed out".
    SignedOut {
        redirect: Option<String>,
    },
}

impl Provider {
    /// `params`: the request without the confirmation form's own fields;
    /// `confirmed`: the person confirmed on that form (CSRF checked by the caller).
    pub async fn end_session(
        &self,
        slug: &str,
        params: &Params,
        confirmed: bool,
        session: Option<&(Session, User)>,
        audit: &Audit,
    ) -> gatehouse_core::Result<EndSessionOutcome> {
        let Some(client) = self.client_by_slug(slug).await? else {
            return Ok(EndSessionOutcome::NotFound);
        };
        let ring = self.dir.keys().ring().await?;
        let now = self.dir.now();
        let plan = match end_session::check(params, &client, |token, jwt| {
            jwt.kid()
                .and_then(|k| ring.by_kid(k, now))
                .is_some_and(|key| jwt.verify_with(token, key).is_ok())
        }) {
            Ok(p) => p,
            Err(EndSessionError::Page(msg)) => return Ok(EndSessionOutcome::Refused(msg)),
        };
        if let Some((session, user)) = session {
            let hinted_me = plan
                .hinted_sub
                .as_deref()
                .is_some_and(|s| s == claims::subject(client.config.sub_mode, user));
            if !hinted_me && !confirmed {
                return Ok(EndSessionOutcome::Confirm(LogoutPrompt {
                    app_name: client.app.name.clone(),
                    username: user.username.clone(),
                    action: format!("/application/o/{}/end-session/", client.app.slug),
                    fields: params.pairs().to_vec(),
                }));
            }
            self.dir
                .sessions()
                .end(&acting(audit, user), session, &user.username)
                .await?;
        }
        Ok(EndSessionOutcome::SignedOut {
            redirect: plan.redirect,
        })
    }
}
