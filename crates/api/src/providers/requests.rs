//! The request bodies of the provider endpoints, as authentik-client sends
//! them (`OAuth2ProviderRequest`, `PatchedOAuth2ProviderRequest`, …). They
//! check types and required fields and document the API; the settings are
//! then read by name by each protocol crate's translation. Fields authentik
//! has and Gatehouse does not use (property mappings, certificates, JWT
//! federation) are accepted and ignored, as unknown fields are.

use serde::Deserialize;
use utoipa::ToSchema;
use uuid::Uuid;

#[derive(Debug, Deserialize, ToSchema)]
pub struct RedirectUriRequest {
    /// `strict` or `regex`.
    pub matching_mode: String,
    pub url: String,
}

/// Declares a provider's create/full-update body (`$required` fields must be
/// there) and its partial-update body (every field optional).
macro_rules! provider_request {
    ($full:ident, $patched:ident, { $($req:ident : $rty:ty),* $(,)? },
     { $($(#[$om:meta])* $opt:ident : $oty:ty),* $(,)? }) => {
        #[derive(Debug, Deserialize, ToSchema)]
        #[allow(dead_code)]
        pub struct $full {
            pub name: String,
            /// An authorization flow (`flows/instances/?designation=authorization`).
            pub authorization_flow: Uuid,
            /// An invalidation flow (`flows/instances/?designation=invalidation`).
            pub invalidation_flow: Uuid,
            pub authentication_flow: Option<Uuid>,
            pub property_mappings: Option<Vec<Uuid>>,
            $(pub $req: $rty,)*
            $($(#[$om])* pub $opt: Option<$oty>,)*
        }

        #[derive(Debug, Deserialize, ToSchema)]
        #[allow(dead_code)]
        pub struct $patched {
            pub name: Option<String>,
            pub authorization_flow: Option<Uuid>,
            pub invalidation_flow: Option<Uuid>,
            pub authentication_flow: Option<Uuid>,
            pub property_mappings: Option<Vec<Uuid>>,
            $(pub $req: Option<$rty>,)*
            $($(#[$om])* pub $opt: Option<$oty>,)*
        }
    };
}

provider_request!(OAuth2ProviderRequest, PatchedOAuth2ProviderRequest, {
    redirect_uris: Vec<RedirectUriRequest>,
}, {
    /// `confidential` (default) or `public`.
    client_type: String,
    /// Generated when not given.
    client_id: String,
    /// Generated for a confidential client when not given; shown once.
    client_secret: String,
    access_token_validity: String,
    refresh_token_validity: String,
    include_claims_in_id_token: bool,
    sub_mode: String,
    issuer_mode: String,
    signing_key: Uuid,
});

provider_request!(SAMLProviderRequest, PatchedSAMLProviderRequest, {
    acs_url: String,
}, {
    /// The SP's entity id: how Gatehouse knows the SP (required by Gatehouse).
    audience: String,
    sls_url: String,
    sls_binding: String,
    sp_binding: String,
    issuer: String,
    assertion_valid_not_before: String,
    assertion_valid_not_on_or_after: String,
    session_valid_not_on_or_after: String,
    digest_algorithm: String,
    signature_algorithm: String,
    sign_assertion: bool,
    sign_response: bool,
    signing_kp: Uuid,
    verification_kp: Uuid,
    name_id_mapping: Uuid,
});

provider_request!(ProxyProviderRequest, PatchedProxyProviderRequest, {
    external_host: String,
}, {
    /// `forward_single` (default) or `forward_domain`.
    mode: String,
    internal_host: String,
    cookie_domain: String,
    skip_path_regex: String,
    basic_auth_enabled: bool,
    basic_auth_user_attribute: String,
    basic_auth_password_attribute: String,
});

provider_request!(LDAPProviderRequest, PatchedLDAPProviderRequest, {}, {
    base_dn: String,
    uid_start_number: i64,
    gid_start_number: i64,
    search_mode: String,
    bind_mode: String,
    mfa_support: bool,
});
