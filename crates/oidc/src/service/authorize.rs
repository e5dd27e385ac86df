//! GET/POST /application/o/authorize/: validate the request, send the person
//! to sign in (back to this request), ask the gate (bindings, MFA step-up,
//! consent), and issue the code.

use gatehouse_core::{Audit, Session, User};

use super::{Provider, acting};
use crate::authorize::{self, AuthorizeRequest, Refusal, SessionFacts, Step};
use crate::client::Client;
use crate::error::{ErrorCode, OAuthError};
use crate::params::Params;
use crate::{grant, paths, scope};

/// The consent page's answer (its CSRF token already checked by the caller).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsentAnswer {
    Allow,
    Deny,
}

/// What the consent page shows.
#[derive(Debug, Clone)]
pub struct ConsentPrompt {
    pub app_name: String,
    pub username: String,
    pub scopes: Vec<String>,
    /// The authorization request, carried through the form.
    pub fields: Vec<(String, String)>,
}

#[derive(Debug, Clone)]
pub enum AuthorizeOutcome {
    /// An error page, never a redirect: unknown client, unregistered redirect
    /// URI, malformed request (RFC 6749 §4.1.2.1).
    Refused(String),
    /// Back to the client: with the code, or with an error.
    Redirect(String),
    /// Sign in, then come back to `return_to` (a local path); `force`: even
    /// though a session exists.
    SignIn {
        return_to: String,
        force: bool,
    },
    /// A second factor first, then `return_to` (this request again).
    StepUp {
        return_to: String,
    },
    /// Signed in, but not allowed to use the application.
    NoAccess {
        app_name: String,
    },
    AskConsent(ConsentPrompt),
}

impl Provider {
    /// One authorization request. `params` is the request without the consent
    /// form's own fields; `answer` the consent page's answer, if this is one.
    pub async fn authorize(
        &self,
        params: &Params,
        answer: Option<ConsentAnswer>,
        session: Option<&(Session, User)>,
        audit: &Audit,
    ) -> gatehouse_core::Result<AuthorizeOutcome> {
        let client = match params.get("client_id") {
            Some(id) => self.client(id).await?,
            None => None,
        };
        let req = match authorize::validate(params, client.as_deref(), |c| self.issuer(c)) {
            Ok(r) => r,
            Err(refusal) => return Ok(refused(refusal)),
        };
        let Some(client) = client else {
            return Ok(AuthorizeOutcome::Refused("Unknown client.".into()));
        };
        let issuer = self.issuer(&client);
        if let (Some(ConsentAnswer::Deny), Some(_)) = (answer, session) {
            let e = OAuthError::new(ErrorCode::AccessDenied, "the user denied the request");
            let to = authorize::error_redirect(&req.redirect_uri, req.state.as_deref(), &issuer, &e);
            return Ok(AuthorizeOutcome::Redirect(to));
        }
        let facts = session.map(|(s, _)| SessionFacts {
            auth_time: s.created_at,
        });
        if let Some(step) = authorize::session_step(params, &req, &issuer, facts, self.dir.now(), answer.is_some()) {
            return Ok(self.render(step, params, &client, None));
        }
        let Some((session, user)) = session else {
            return Ok(AuthorizeOutcome::Refused("Sign in first.".into()));
        };
        let on_file = authorize::asks_consent(&req, &client)
            && self
                .dir
                .oauth()
                .consent(user, &client.app)
                .await?
                .is_some_and(|c| scope::is_subset(&req.scopes, &c.scopes));
        let given_now = answer == Some(ConsentAnswer::Allow);
        let consent = authorize::consent(&req, &client, on_file, given_now);
        let verdict = self
            .dir
            .access()
            .check(user, &session.amr, client.app.id, consent)
            .await?;
        match authorize::after_gate(&req, &issuer, &verdict) {
            Step::Grant => {
                let audit = acting(audit, user);
                if given_now {
                    self.dir
                        .oauth()
                        .remember_consent(&audit, user, &client.app, &req.scopes)
                        .await?;
                }
                let code = self.issue_code(&audit, &client, &req, session, user).await?;
                Ok(AuthorizeOutcome::Redirect(authorize::success_redirect(
                    &req, &code, &issuer,
                )))
            }
            step => Ok(self.render(step, params, &client, Some((&req, user)))),
        }
    }

    /// Records the grant and its code (with the `authorize_application` event); returns the code.
    async fn issue_code(
        &self,
        audit: &Audit,
        client: &Client,
        req: &AuthorizeRequest,
        session: &Session,
        user: &User,
    ) -> gatehouse_core::Result<String> {
        let issued = grant::authorization(client, req, session, user, self.dir.now());
        self.dir
            .oauth()
            .record_authorization(audit, &client.app, user, &issued.grant, &issued.record)
            .await?;
        Ok(issued.code)
    }

    /// The outcome of every step but `Grant`.
    fn render(
        &self,
        step: Step,
        params: &Params,
        client: &Client,
        asking: Option<(&AuthorizeRequest, &User)>,
    ) -> AuthorizeOutcome {
        match step {
            Step::Login { return_to, force } => AuthorizeOutcome::SignIn { return_to, force },
            Step::Refuse(refusal) => refused(refusal),
            Step::NoAccess => AuthorizeOutcome::NoAccess {
                app_name: client.app.name.clone(),
            },
            Step::StepUp => AuthorizeOutcome::StepUp {
                return_to: format!("{}?{}", paths::AUTHORIZE, params.to_query(&[])),
            },
            Step::AskConsent => match asking {
                Some((req, user)) => AuthorizeOutcome::AskConsent(ConsentPrompt {
                    app_name: client.app.name.clone(),
                    username: user.username.clone(),
                    scopes: req.scopes.clone(),
                    fields: params.pairs().to_vec(),
                }),
                None => AuthorizeOutcome::Refused("Sign in first.".into()),
            },
            Step::Grant => AuthorizeOutcome::Refused("Start again.".into()),
        }
    }
}

fn refused(refusal: Refusal) -> AuthorizeOutcome {
    match refusal {
        Refusal::Page(msg) => AuthorizeOutcome::Refused(msg),
        Refusal::Redirect(to) => AuthorizeOutcome::Redirect(to),
    }
}
