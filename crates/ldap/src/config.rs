//! An LDAP application's settings, as stored in `applications.provider_config`,
//! with the checks every change goes through. The normalised base DN is the
//! application's provider key, so two LDAP applications cannot share a tree.

use gatehouse_core::{ProviderKind, ProviderSpec};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::dn::Dn;

/// authentik's default base DN.
pub const DEFAULT_BASE_DN: &str = "DC=ldap,DC=goauthentik,DC=io";
/// authentik's defaults: above the numbers local accounts and groups use.
pub const DEFAULT_UID_START: i64 = 2000;
pub const DEFAULT_GID_START: i64 = 4000;

/// When a bind must carry a second factor (`password;123456`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum MfaMode {
    /// Whoever must use MFA on the web (an authenticator, or the policy)
    /// appends a code; others may.
    #[default]
    Optional,
    /// Every bind needs a valid code.
    Required,
}

impl MfaMode {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "optional" => Some(MfaMode::Optional),
            "required" => Some(MfaMode::Required),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            MfaMode::Optional => "optional",
            MfaMode::Required => "required",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LdapConfig {
    /// Where the tree starts, as the operator wrote it.
    pub base_dn: String,
    /// Members (direct or nested) of this group see the whole directory;
    /// everyone else only their own entry. `None`: every bound user searches.
    #[serde(default)]
    pub search_group: Option<String>,
    #[serde(default)]
    pub mfa: MfaMode,
    /// Added to a user's integer id for `uidNumber`.
    #[serde(default = "uid_start")]
    pub uid_start_number: i64,
    /// Added to a group's integer id for `gidNumber`.
    #[serde(default = "gid_start")]
    pub gid_start_number: i64,
}

fn uid_start() -> i64 {
    DEFAULT_UID_START
}

fn gid_start() -> i64 {
    DEFAULT_GID_START
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("base DN '{0}' is not a distinguished name like DC=ldap,DC=example,DC=com")]
    BaseDn(String),
    #[error("{0} must be between 1 and 2000000000")]
    StartNumber(&'static str),
    #[error("the search group name must not be empty")]
    SearchGroup,
    #[error("stored LDAP settings do not parse: {0}")]
    Stored(String),
}

impl LdapConfig {
    pub fn new(base_dn: &str) -> Result<Self, ConfigError> {
        let cfg = LdapConfig {
            base_dn: base_dn.trim().to_string(),
            search_group: None,
            mfa: MfaMode::Optional,
            uid_start_number: DEFAULT_UID_START,
            gid_start_number: DEFAULT_GID_START,
        };
        cfg.check()?;
        Ok(cfg)
    }

    /// Every rule a stored or changed setting must satisfy.
    pub fn check(&self) -> Result<(), ConfigError> {
        self.base()?;
        for (name, n) in [
            ("uid_start_number", self.uid_start_number),
            ("gid_start_number", self.gid_start_number),
        ] {
            if !(1..=2_000_000_000).contains(&n) {
                return Err(ConfigError::StartNumber(name));
            }
        }
        if self.search_group.as_deref().is_some_and(|g| g.trim().is_empty()) {
            return Err(ConfigError::SearchGroup);
        }
        Ok(())
    }

    /// The parsed base DN.
    pub fn base(&self) -> Result<Dn, ConfigError> {
        Dn::parse(&self.base_dn)
            .ok()
            .filter(|dn| !dn.is_root())
            .ok_or_else(|| ConfigError::BaseDn(self.base_dn.clone()))
    }

    /// The provider key: the normalised base DN (unique among LDAP applications).
    pub fn provider_key(&self) -> Result<String, ConfigError> {
        Ok(self.base()?.normalized().to_string())
    }

    pub fn from_value(v: &Value) -> Result<Self, ConfigError> {
        let cfg: LdapConfig = serde_json::from_value(v.clone()).map_err(|e| ConfigError::Stored(e.to_string()))?;
        cfg.check()?;
        Ok(cfg)
    }

    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    /// What an audit event may show (nothing here is secret).
    pub fn shown(&self) -> Value {
        self.to_value()
    }

    /// The provider as the directory stores it, keyed by the normalised base
    /// DN (the CLI, blueprints' `sso fix` and the admin wizard store it so).
    pub fn provider_spec(&self) -> Result<ProviderSpec, ConfigError> {
        self.check()?;
        Ok(ProviderSpec {
            kind: ProviderKind::Ldap,
            key: Some(self.provider_key()?),
            config: self.to_value(),
            shown: self.shown(),
        })
    }

    /// [`Self::provider_spec`] once the search group is known to exist (a
    /// typo would otherwise leave every account searching nothing).
    pub async fn checked_spec(&self, dir: &gatehouse_core::Directory) -> gatehouse_core::Result<ProviderSpec> {
        if let Some(group) = &self.search_group {
            dir.groups().get(group).await?;
        }
        self.provider_spec()
            .map_err(|e| gatehouse_core::Error::invalid("LDAP settings", e.to_string()))
    }

    /// What an LDAP client (a Redmine-like service) is configured with: the
    /// bind DN pattern of a person and the filter that finds one by login.
    pub fn bind_dn_pattern(&self) -> String {
        format!("cn=<user>,ou=users,{}", self.base_dn)
    }

    /// The filter such a service searches a person by (`uid` is the
    /// username; `<login>` is what the person typed).
    pub const USER_FILTER: &str = "(&(objectClass=user)(uid=<login>))";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_round_trip_and_checks() {
        let cfg = LdapConfig::new(DEFAULT_BASE_DN).unwrap();
        assert_eq!(cfg.provider_key().unwrap(), "dc=ldap,dc=goauthentik,dc=io");
        assert_eq!(LdapConfig::from_value(&cfg.to_value()).unwrap(), cfg);
        let stored = serde_json::json!({"base_dn": "ou=app,dc=example,dc=com"});
        let cfg = LdapConfig::from_value(&stored).unwrap();
        assert_eq!(
            (cfg.uid_start_number, cfg.gid_start_number, cfg.mfa),
            (2000, 4000, MfaMode::Optional)
        );
        assert!(LdapConfig::new("not a dn").is_err());
        assert!(LdapConfig::new("").is_err());
        let bad = LdapConfig {
            uid_start_number: 0,
            ..LdapConfig::new(DEFAULT_BASE_DN).unwrap()
        };
        assert_eq!(bad.check(), Err(ConfigError::StartNumber("uid_start_number")));
        assert!(LdapConfig::from_value(&serde_json::json!({"base_dn": "dc=x", "bogus": 1})).is_err());
    }
}
