//! The one gate: may this person, signed in this way, get a credential for
//! this application now?
//!
//! Every path that issues a credential asks it, and nothing else decides:
//! OIDC authorize, the token endpoint (code exchange, refresh, device poll),
//! device confirmation, SAML SSO (both initiations), the forward-auth
//! hand-off and check, and LDAP bind. The order is fixed: an inactive user is
//! refused, then one outside the application's bound groups, then a session
//! without a second factor where the MFA policy wants one (interactive paths
//! step up; the others refuse), then consent where the protocol asks it.

use uuid::Uuid;

use super::snapshot::AccessSnapshot;
use crate::model::{Group, User};

/// The `amr` value every session that passed a second factor carries.
pub const MFA: &str = "mfa";

/// What the gate is asked.
#[derive(Debug, Clone, Copy)]
pub struct Ask<'a> {
    pub user: &'a User,
    /// How the session (or the grant it issued) was authenticated.
    pub amr: &'a [String],
    pub app_id: Uuid,
    pub consent: Consent,
}

/// Consent, where the protocol has it (OIDC); `NotAsked` elsewhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Consent {
    /// This path does not ask for consent.
    NotAsked,
    /// The application wants consent and a covering one is remembered.
    OnFile,
    /// The person gave it on this request.
    GivenNow,
    /// The application wants consent and there is none yet.
    Needed,
}

#[derive(Debug, Clone)]
pub enum Verdict {
    /// Issue it. `groups`: the user's effective groups, by name.
    Allow {
        groups: Vec<Group>,
    },
    /// A second factor first: interactive paths step up, the others refuse.
    StepUp,
    /// Ask the person for consent first.
    AskConsent,
    Deny(Denial),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denial {
    Inactive,
    /// Not a member of any group bound to the application.
    NotBound,
    UnknownApplication,
}

impl Denial {
    /// Why, in words an audit event or an error description can carry.
    pub fn reason(self) -> &'static str {
        match self {
            Denial::Inactive => "the user is disabled",
            Denial::NotBound => "the user may not use this application",
            Denial::UnknownApplication => "the application is gone",
        }
    }
}

impl Verdict {
    pub fn is_allowed(&self) -> bool {
        matches!(self, Verdict::Allow { .. })
    }
}

impl AccessSnapshot {
    /// The one gate, over this snapshot.
    pub fn gate(&self, ask: &Ask<'_>) -> Verdict {
        if !ask.user.is_active {
            return Verdict::Deny(Denial::Inactive);
        }
        if self.application(ask.app_id).is_none() {
            return Verdict::Deny(Denial::UnknownApplication);
        }
        let (groups, allowed) = self.decide(ask.user, ask.app_id);
        if !allowed {
            return Verdict::Deny(Denial::NotBound);
        }
        let passed_mfa = ask.amr.iter().any(|a| a == MFA);
        if !passed_mfa && (self.app_requires_mfa(ask.app_id) || self.user_requires_mfa(ask.user)) {
            return Verdict::StepUp;
        }
        if ask.consent == Consent::Needed {
            return Verdict::AskConsent;
        }
        Verdict::Allow {
            groups: groups.into_iter().cloned().collect(),
        }
    }
}
