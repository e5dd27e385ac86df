//! Simple bind: which user a bind DN names (the full DN, or the `cn=`/`uid=`
//! shorthand), the second factor appended to the password (`password;123456`,
//! authentik's convention), and how each verdict answers (RFC 4511 §4.2,
//! RFC 4513 §5.1).

use std::sync::Arc;

use gatehouse_core::Application;
use ldap3_proto::proto::LdapResultCode;

use crate::config::LdapConfig;
use crate::dn::Dn;
use crate::snapshot::{AppView, Snapshot};

/// A second factor typed after the password.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code<'a> {
    Totp(&'a str),
    Recovery(&'a str),
}

/// One bind, as the backend decides it.
pub struct BindAttempt<'a> {
    pub app: &'a Application,
    pub config: &'a LdapConfig,
    pub username: &'a str,
    pub password: &'a str,
    pub code: Option<Code<'a>>,
    pub client_ip: Option<String>,
    /// What the snapshot knows of the user (absent for one created since).
    pub known: Option<KnownUser<'a>>,
}

/// The snapshot's facts about the user a bind names, so a bind does not
/// read the whole directory: whether the application's access rule admits
/// them, and their direct memberships with the groups (for the MFA policy).
pub struct KnownUser<'a> {
    pub id: uuid::Uuid,
    pub allowed: bool,
    pub groups: &'a [gatehouse_core::Group],
    pub memberships: &'a [gatehouse_core::Membership],
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BindVerdict {
    Accepted {
        username: String,
    },
    /// Unknown user, disabled user, wrong password or wrong code: not told apart.
    Rejected,
    Throttled {
        retry_after_secs: i64,
    },
    /// Right password, but the account must add a code and did not.
    MfaRequired,
    /// Right password, but the application's access bindings exclude the user.
    Denied,
}

impl BindVerdict {
    /// The result code and diagnostic message a client sees.
    pub fn answer(&self) -> (LdapResultCode, String) {
        match self {
            BindVerdict::Accepted { .. } => (LdapResultCode::Success, String::new()),
            BindVerdict::Rejected | BindVerdict::Denied => {
                (LdapResultCode::InvalidCredentials, "invalid credentials".into())
            }
            BindVerdict::Throttled { retry_after_secs } => (
                LdapResultCode::InvalidCredentials,
                format!("too many failed attempts; try again in {retry_after_secs} seconds"),
            ),
            BindVerdict::MfaRequired => (
                LdapResultCode::InvalidCredentials,
                "this account needs a second factor: append ;CODE to the password".into(),
            ),
        }
    }
}

/// Why a bind DN names nobody we could check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetError {
    /// Not a DN, or not a user's place in any tree: answered as a wrong password.
    Unknown,
    /// A shorthand with several LDAP applications: which tree is meant?
    Ambiguous,
}

/// The application and username a bind DN names. Accepted forms: the full DN
/// `cn=<user>,ou=users,<base>` (or `uid=`), and the shorthands `cn=<user>`,
/// `uid=<user>` and a bare username, when one LDAP application exists.
pub fn resolve_target(snapshot: &Snapshot, bind_dn: &str) -> Result<(Arc<AppView>, String), TargetError> {
    let text = bind_dn.trim();
    let dn = if text.contains('=') {
        Dn::parse(text).map_err(|_| TargetError::Unknown)?
    } else {
        Dn::parse(&format!("cn={}", crate::dn::escape_value(text))).map_err(|_| TargetError::Unknown)?
    };
    let leaf = dn
        .leaf()
        .filter(|a| a.attr == "cn" || a.attr == "uid")
        .ok_or(TargetError::Unknown)?;
    if dn.len() == 1 {
        return match snapshot.apps.as_slice() {
            [only] => Ok((only.clone(), leaf.value.clone())),
            [] => Err(TargetError::Unknown),
            _ => Err(TargetError::Ambiguous),
        };
    }
    let app = snapshot.app_for(&dn).ok_or(TargetError::Unknown)?;
    let users = Dn::parse(&app.tree.users_dn()).map_err(|_| TargetError::Unknown)?;
    if dn.parent().normalized() != users.normalized() {
        return Err(TargetError::Unknown);
    }
    Ok((app.clone(), leaf.value.clone()))
}

/// Splits `password;code`: a six-digit TOTP code or a recovery code
/// (`xxxx-xxxx-xxxx`) after the last `;`. Anything else is all password.
pub fn split_code(password: &str) -> (&str, Option<Code<'_>>) {
    let Some((pass, suffix)) = password.rsplit_once(';') else {
        return (password, None);
    };
    if suffix.len() == 6 && suffix.bytes().all(|b| b.is_ascii_digit()) {
        return (pass, Some(Code::Totp(suffix)));
    }
    let groups: Vec<&str> = suffix.split('-').collect();
    if groups.len() == 3
        && groups
            .iter()
            .all(|g| g.len() == 4 && g.bytes().all(|b| b.is_ascii_alphanumeric()))
    {
        return (pass, Some(Code::Recovery(suffix)));
    }
    (password, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_split_only_when_they_look_like_codes() {
        assert_eq!(split_code("secret;123456"), ("secret", Some(Code::Totp("123456"))));
        assert_eq!(split_code("se;cret;654321"), ("se;cret", Some(Code::Totp("654321"))));
        assert_eq!(split_code("secret;12345"), ("secret;12345", None));
        assert_eq!(split_code("secret;12345a"), ("secret;12345a", None));
        assert_eq!(split_code("secret"), ("secret", None));
        assert_eq!(
            split_code("pw;abcd-ef23-4567"),
            ("pw", Some(Code::Recovery("abcd-ef23-4567")))
        );
        assert_eq!(split_code(";123456"), ("", Some(Code::Totp("123456"))));
    }

    #[test]
    fn verdicts_never_tell_a_wrong_password_from_a_refused_account() {
        assert_eq!(BindVerdict::Rejected.answer(), BindVerdict::Denied.answer());
        assert_eq!(
            BindVerdict::Accepted { username: "a".into() }.answer().0,
            LdapResultCode::Success
        );
        assert_eq!(
            BindVerdict::Throttled { retry_after_secs: 5 }.answer().0,
            LdapResultCode::InvalidCredentials
        );
    }
}
