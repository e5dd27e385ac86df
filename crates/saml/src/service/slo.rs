//! Answering a parked LogoutRequest: end this browser's Gatehouse session and
//! send the SP a signed LogoutResponse, by its binding.

use gatehouse_core::{Actor, Audit, Directory, Session, User};

use super::parked::ParkedRequest;
use super::{PostForm, SamlIdp, signing_error};
use crate::binding;
use crate::dsig::sign_element;
use crate::response::{self, STATUS_SUCCESS};

/// What the continue URL of a logout request does. Every outcome but
/// `NotFound` and `Expired` ends the browser's session (the web layer clears
/// its cookie).
#[derive(Debug)]
pub enum SloOutcome {
    NotFound,
    Expired,
    /// Signed out; the SP has no logout URL to answer at.
    SignedOut,
    /// Post the signed LogoutResponse to the SP (HTTP-POST binding).
    Post(PostForm),
    /// Send the browser to this URL: the SP's logout URL with the signed
    /// LogoutResponse in its query (HTTP-Redirect binding).
    Redirect(String),
}

impl SamlIdp {
    /// The continue URL of a parked logout request, for the browser's current session.
    pub async fn continue_slo(
        &self,
        dir: &Directory,
        slug: &str,
        token: &str,
        session: Option<(Session, User)>,
        audit: &Audit,
    ) -> gatehouse_core::Result<SloOutcome> {
        let Some(sp) = self.application(dir, slug).await? else {
            return Ok(SloOutcome::NotFound);
        };
        let Some(parked) = ParkedRequest::take(dir, token, sp.app.id).await?.filter(|p| p.logout) else {
            return Ok(SloOutcome::Expired);
        };
        if let Some((session, user)) = session {
            let audit = Audit::new(Actor::User(user.username.clone()), audit.client_ip.clone());
            dir.sessions().end(&audit, &session, &user.username).await?;
        }
        if parked.acs_url.is_empty() {
            return Ok(SloOutcome::SignedOut);
        }
        let (key, _) = self.signers.current(dir, sp.cfg.signing_alg.family()).await?;
        let id = crate::new_id();
        let xml = response::logout_response_xml(
            &id,
            &sp.entity_id(),
            &parked.acs_url,
            parked.request_id.as_deref().unwrap_or(""),
            STATUS_SUCCESS,
            dir.now().millis(),
        );
        if sp.cfg.slo_binding.as_deref() == Some("post") {
            let signed = sign_element(&xml, &id, key.as_ref(), sp.cfg.signing_alg).map_err(signing_error)?;
            return Ok(SloOutcome::Post(PostForm {
                app_name: sp.app.name.clone(),
                action: parked.acs_url,
                field: "SAMLResponse",
                value: binding::encode_post(&signed),
                relay_state: parked.relay_state,
            }));
        }
        let query = binding::signed_redirect_query(
            "SAMLResponse",
            &xml,
            parked.relay_state.as_deref(),
            key.as_ref(),
            sp.cfg.signing_alg,
        )
        .map_err(signing_error)?;
        let sep = if parked.acs_url.contains('?') { '&' } else { '?' };
        Ok(SloOutcome::Redirect(format!("{}{sep}{query}", parked.acs_url)))
    }
}
