//! The MFA pages' templates.

use askama::Template;

use crate::pages::{Branding, initial_of};

/// The second factor: passkey first when the person has one, then the
/// authenticator app's code, then a recovery code.
#[derive(Template)]
#[template(path = "mfa_stage.html")]
pub struct MfaStagePage {
    pub branding: Branding,
    pub csrf: String,
    pub username: String,
    pub error: Option<String>,
    pub webauthn: bool,
    pub totp: bool,
    pub recovery: bool,
    /// Where the code forms post.
    pub action: String,
    pub webauthn_options_url: String,
    pub webauthn_finish_url: String,
    pub restart_url: Option<String>,
}

impl MfaStagePage {
    fn avatar_initial(&self) -> String {
        initial_of(&self.username)
    }
}

/// Enrolment at sign-in, when policy requires MFA of someone who has none.
#[derive(Template)]
#[template(path = "mfa_enrol.html")]
pub struct MfaEnrolPage {
    pub branding: Branding,
    pub csrf: String,
    pub error: Option<String>,
    pub qr_data_uri: String,
    pub secret: String,
    pub pending: String,
    pub action: String,
}

/// Recovery codes, shown once.
#[derive(Template)]
#[template(path = "mfa_codes.html")]
pub struct MfaCodesPage {
    pub branding: Branding,
    pub codes: Vec<String>,
    pub continue_url: String,
}

/// One row of the Security page's list.
#[derive(Debug, Clone)]
pub struct AuthenticatorRow {
    pub id: String,
    pub name: String,
    pub kind: &'static str,
    pub created: crate::components::When,
    pub last_used: crate::components::MaybeWhen,
}

/// The portal's Security page.
#[derive(Template)]
#[template(path = "security.html")]
pub struct SecurityPage {
    pub branding: Branding,
    pub csrf: String,
    pub display_name: String,
    pub username: String,
    pub logout_url: String,
    pub authenticators: Vec<AuthenticatorRow>,
    pub codes_left: i64,
    pub required: bool,
    pub passkeys: bool,
    pub notice: Option<String>,
    pub error: Option<String>,
}

impl SecurityPage {
    fn avatar_initial(&self) -> String {
        initial_of(&self.display_name)
    }
}

/// Adding an authenticator app from the portal.
#[derive(Template)]
#[template(path = "security_totp.html")]
pub struct SecurityTotpPage {
    pub branding: Branding,
    pub csrf: String,
    pub display_name: String,
    pub username: String,
    pub logout_url: String,
    pub error: Option<String>,
    pub qr_data_uri: String,
    pub secret: String,
    pub pending: String,
    pub action: String,
}

impl SecurityTotpPage {
    fn avatar_initial(&self) -> String {
        initial_of(&self.display_name)
    }
}
