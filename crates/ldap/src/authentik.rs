//! authentik's LDAP provider fields (`authentik_providers_ldap.ldapprovider`,
//! the REST API's `LDAPProviderRequest`) onto an [`LdapConfig`]: one
//! translation for blueprints and the API. The search group is a reference
//! to another object, which each door resolves itself.

use gatehouse_core::fields::{FieldError, Fields};

use crate::config::{LdapConfig, MfaMode};

/// `base` with every field `f` gives applied, checked.
pub fn apply(base: &LdapConfig, f: &dyn Fields) -> Result<LdapConfig, FieldError> {
    let mut c = base.clone();
    if let Some(b) = f.text("base_dn")? {
        c.base_dn = b.trim().to_string();
    }
    // authentik's switch is code-based MFA support; Gatehouse checks a code
    // whenever one is given, and `mfa: required` demands one on every bind.
    if let Some(m) = f.text("mfa")? {
        c.mfa = MfaMode::parse(&m).ok_or_else(|| FieldError::new("mfa", "mfa: expected optional or required"))?;
    }
    if let Some(n) = f.whole("uid_start_number")? {
        c.uid_start_number = n;
    }
    if let Some(n) = f.whole("gid_start_number")? {
        c.gid_start_number = n;
    }
    c.check()
        .map_err(|e| FieldError::new("base_dn", format!("invalid LDAP provider: {e}")))?;
    Ok(c)
}
