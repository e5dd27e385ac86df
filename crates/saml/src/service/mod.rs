//! The identity provider's request services, at authentik's paths
//! (`/application/saml/<slug>/…`). Each takes the directory, the process's
//! [`SamlIdp`] and an already-parsed HTTP request, and returns an outcome the
//! web layer renders; the decisions, the records and the events are here.
//!
//! Every incoming message is checked ([`receive`]: size, XML hardening,
//! signature, issuer, destination, age, replay, ACS) and then *parked* under
//! a one-time token; the browser goes on with a GET to a local continue URL.
//! That keeps the request out of `next` (only local paths are allowed there)
//! and lets the SameSite=Lax session cookie be seen even when the SP posted
//! from another site. The continue URL ([`sso`], [`slo`]) then signs in, steps
//! up, asks the one gate, and answers the SP.

mod parked;
mod receive;
mod signers;
mod slo;
mod sso;
mod subject;

#[cfg(test)]
mod tests;

use gatehouse_core::{Application, Directory, ProviderKind};

pub use parked::ParkedRequest;
pub use receive::{Endpoint, Incoming, Received};
pub use signers::published_certificates;
pub use slo::SloOutcome;
pub use sso::SsoOutcome;
pub use subject::Subject;

use crate::SamlConfig;
use crate::metadata::{IdpMetadata, idp_metadata};
use signers::Signers;

/// authentik's action name for a successful SSO, and ours for a refusal.
pub const AUTHORIZE_APPLICATION: &str = "authorize_application";
pub const ACCESS_DENIED: &str = "authorize_application_denied";

/// The identity provider as this process runs it: where it is reached, and
/// its signing keys parsed (cached until the change feed moves).
pub struct SamlIdp {
    external_url: String,
    https: bool,
    signers: Signers,
}

/// A SAML application, its settings and its endpoints.
pub struct SamlApp {
    pub app: Application,
    pub cfg: SamlConfig,
    /// `EXTERNAL/application/saml/<slug>`
    base: String,
}

impl SamlApp {
    /// The IdP entity id the SP knows: the metadata URL.
    pub fn entity_id(&self) -> String {
        self.endpoint("metadata/")
    }

    fn endpoint(&self, path: &str) -> String {
        format!("{}/{path}", self.base)
    }

    /// The local URL a parked request continues at (`token` is one of ours:
    /// URL-safe by construction).
    fn continue_path(&self, which: &str, token: &str) -> String {
        format!("/application/saml/{}/{which}/continue/?t={token}", self.app.slug)
    }
}

/// A form the browser posts to the SP (HTTP-POST binding).
pub struct PostForm {
    pub app_name: String,
    pub action: String,
    /// `SAMLResponse`.
    pub field: &'static str,
    /// The signed message, base64. A bearer credential: never logged.
    pub value: String,
    pub relay_state: Option<String>,
}

impl std::fmt::Debug for PostForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostForm")
            .field("action", &self.action)
            .field("field", &self.field)
            .finish_non_exhaustive()
    }
}

impl SamlIdp {
    /// `external_url`: where browsers and SPs reach Gatehouse.
    pub fn new(external_url: &str) -> Self {
        SamlIdp {
            external_url: external_url.trim_end_matches('/').to_string(),
            https: external_url.starts_with("https://"),
            signers: Signers::default(),
        }
    }

    /// The SAML application at `slug`, with its settings.
    pub async fn application(&self, dir: &Directory, slug: &str) -> gatehouse_core::Result<Option<SamlApp>> {
        let Some(app) = dir.apps().by_slug(slug).await? else {
            return Ok(None);
        };
        if app.provider != Some(ProviderKind::Saml) {
            return Ok(None);
        }
        let cfg =
            SamlConfig::from_value(&app.provider_config).map_err(|e| gatehouse_core::Error::Refused(e.to_string()))?;
        let base = format!("{}/application/saml/{}", self.external_url, app.slug);
        Ok(Some(SamlApp { app, cfg, base }))
    }

    /// The IdP metadata of an application (`None`: no SAML application there).
    /// It lists every published certificate, the next one too, so SPs that
    /// refresh metadata learn a new key before it signs.
    pub async fn metadata(&self, dir: &Directory, slug: &str) -> gatehouse_core::Result<Option<String>> {
        let Some(sp) = self.application(dir, slug).await? else {
            return Ok(None);
        };
        let (_, certs) = self.signers.current(dir, sp.cfg.signing_alg.family()).await?;
        Ok(Some(idp_metadata(&IdpMetadata {
            entity_id: &sp.entity_id(),
            sso_redirect: &sp.endpoint("sso/binding/redirect/"),
            sso_post: &sp.endpoint("sso/binding/post/"),
            slo_redirect: &sp.endpoint("slo/binding/redirect/"),
            slo_post: &sp.endpoint("slo/binding/post/"),
            certs: &certs,
            name_id_formats: &[sp.cfg.name_id.format()],
            want_authn_requests_signed: sp.cfg.requests_must_be_signed(),
        })))
    }
}

/// A signing failure: the key ring holds a key the signer refuses.
fn signing_error(e: crate::Error) -> gatehouse_core::Error {
    gatehouse_core::Error::Refused(format!("SAML signing: {e}"))
}
