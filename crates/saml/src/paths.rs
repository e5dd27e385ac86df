//! The identity provider's public URLs for one application, at authentik's
//! paths (`/application/saml/<slug>/…`): what an SP is configured with, as
//! `gatehouse app create` prints them and the admin wizard shows them.

/// Where an SP finds the IdP of the application at `slug`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdpUrls {
    /// The metadata, whose URL is also the IdP's entity id.
    pub metadata: String,
    pub sso_redirect: String,
    pub sso_post: String,
    pub idp_initiated: String,
    pub slo_redirect: String,
}

impl IdpUrls {
    /// `external_url`: where browsers and SPs reach Gatehouse.
    pub fn new(external_url: &str, slug: &str) -> IdpUrls {
        let base = format!("{}/application/saml/{slug}", external_url.trim_end_matches('/'));
        IdpUrls {
            metadata: format!("{base}/metadata/"),
            sso_redirect: format!("{base}/sso/binding/redirect/"),
            sso_post: format!("{base}/sso/binding/post/"),
            idp_initiated: format!("{base}/sso/binding/init/"),
            slo_redirect: format!("{base}/slo/binding/redirect/"),
        }
    }
}
