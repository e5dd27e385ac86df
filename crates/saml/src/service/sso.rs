//! Answering a parked sign-in request (SP- or IdP-initiated): sign in if
//! needed (again, if the SP forced it), ask the one gate, record the
//! decision, and post the signed response to the ACS.

use gatehouse_core::access::{Consent, Denial, Verdict};
use gatehouse_core::{Actor, Audit, Directory, Group, Session, User};
use serde_json::json;

use super::parked::ParkedRequest;
use super::subject::Subject;
use super::{ACCESS_DENIED, AUTHORIZE_APPLICATION, PostForm, SamlApp, SamlIdp, signing_error};
use crate::binding;
use crate::response::{self, Assertion, authn_context_class};

/// What the continue URL of a sign-in request does.
#[derive(Debug)]
pub enum SsoOutcome {
    /// No SAML application at this address.
    NotFound,
    /// Unknown, expired or already answered request.
    Expired,
    /// Sign in first (`force`: even if signed in, the SP wants a fresh
    /// sign-in), then come back to `next`.
    SignIn { next: String, force: bool },
    /// A second factor first, then back to `next`.
    StepUp { next: String },
    /// The gate refused (the event is written); the person sees why not.
    Denied { app_name: String, denial: Denial },
    /// Post the signed response to the SP.
    Post(PostForm),
}

impl SamlIdp {
    /// The continue URL of a parked sign-in request, for the browser's
    /// current session. `audit`: the caller (its address); the events are
    /// the signed-in user's.
    pub async fn continue_sso(
        &self,
        dir: &Directory,
        slug: &str,
        token: &str,
        session: Option<(Session, User)>,
        audit: &Audit,
    ) -> gatehouse_core::Result<SsoOutcome> {
        let Some(sp) = self.application(dir, slug).await? else {
            return Ok(SsoOutcome::NotFound);
        };
        let Some(parked) = ParkedRequest::peek(dir, token, sp.app.id).await?.filter(|p| !p.logout) else {
            return Ok(SsoOutcome::Expired);
        };
        let here = sp.continue_path("sso", token);
        let fresh_enough = |s: &Session| parked.not_before.is_none_or(|t| s.created_at >= t);
        let Some((session, user)) = session.filter(|(s, _)| fresh_enough(s)) else {
            return Ok(SsoOutcome::SignIn {
                next: here,
                force: parked.not_before.is_some(),
            });
        };
        // SAML has no consent step: the gate decides on activity, bindings and MFA.
        let verdict = dir
            .access()
            .check(&user, &session.amr, sp.app.id, Consent::NotAsked)
            .await?;
        let groups = match verdict {
            Verdict::StepUp => return Ok(SsoOutcome::StepUp { next: here }),
            Verdict::Allow { groups } => Ok(groups),
            Verdict::Deny(denial) => Err(denial),
            // Not asked for, so never given; refuse rather than issue.
            Verdict::AskConsent => Err(Denial::NotBound),
        };
        let Some(parked) = ParkedRequest::take(dir, token, sp.app.id).await? else {
            return Ok(SsoOutcome::Expired);
        };
        let audit = Audit::new(Actor::User(user.username.clone()), audit.client_ip.clone());
        record(dir, &audit, &sp, &user, &parked, groups.as_ref().err().copied()).await?;
        match groups {
            Ok(groups) => Ok(SsoOutcome::Post(
                self.signed_response(dir, &sp, &parked, &user, &session, &groups)
                    .await?,
            )),
            Err(denial) => Ok(SsoOutcome::Denied {
                app_name: sp.app.name.clone(),
                denial,
            }),
        }
    }

    /// The response to `parked`, signed as the application wants, in a form for the ACS.
    async fn signed_response(
        &self,
        dir: &Directory,
        sp: &SamlApp,
        parked: &ParkedRequest,
        user: &User,
        session: &Session,
        groups: &[Group],
    ) -> gatehouse_core::Result<PostForm> {
        let subject = Subject::of(dir, sp, user, session, groups).await?;
        let (key, _) = self.signers.current(dir, sp.cfg.signing_alg.family()).await?;
        let attrs = response::standard_attributes(
            &subject.username,
            &subject.email,
            &subject.name,
            &subject.uid,
            &subject.groups,
        );
        let (response_id, assertion_id) = (crate::new_id(), crate::new_id());
        let issuer = sp.entity_id();
        let assertion = Assertion {
            response_id: &response_id,
            assertion_id: &assertion_id,
            issuer: &issuer,
            acs_url: &parked.acs_url,
            in_response_to: parked.request_id.as_deref(),
            audience: &sp.cfg.audience,
            name_id: &subject.name_id,
            name_id_format: sp.cfg.name_id.format(),
            session_index: &subject.session_index,
            authn_instant: session.created_at.millis(),
            authn_context: authn_context_class(&session.amr, self.https),
            session_not_on_or_after: Some(session.expires_at.millis()),
            attributes: &attrs,
            now: dir.now().millis(),
            valid_secs: sp.cfg.assertion_valid_secs,
        };
        let xml = response::signed_response(&assertion, sp.cfg.sign, key.as_ref(), sp.cfg.signing_alg)
            .map_err(signing_error)?;
        Ok(PostForm {
            app_name: sp.app.name.clone(),
            action: parked.acs_url.clone(),
            field: "SAMLResponse",
            value: binding::encode_post(&xml),
            relay_state: parked.relay_state.clone(),
        })
    }
}

/// The decision's event: authentik's `authorize_application`, or a refusal with its reason.
async fn record(
    dir: &Directory,
    audit: &Audit,
    sp: &SamlApp,
    user: &User,
    parked: &ParkedRequest,
    denial: Option<Denial>,
) -> gatehouse_core::Result<()> {
    let mut context = json!({
        "authorized_application": {"pk": sp.app.id, "slug": sp.app.slug, "name": sp.app.name},
        "protocol": "saml", "request_id": parked.request_id, "username": user.username,
    });
    if let Some(d) = denial {
        context["reason"] = d.reason().into();
    }
    let action = if denial.is_some() {
        ACCESS_DENIED
    } else {
        AUTHORIZE_APPLICATION
    };
    dir.events()
        .record(audit, action, Some(&user.username), context)
        .await?;
    Ok(())
}
