//! An application's SAML settings: its `provider_config` JSON.

use gatehouse_core::{ProviderKind, ProviderSpec};
use serde::{Deserialize, Serialize};

use crate::Error;
use crate::keys::{SignatureAlg, TrustedCert};
use crate::response::SignMode;

pub const NAMEID_PERSISTENT: &str = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent";
pub const NAMEID_TRANSIENT: &str = "urn:oasis:names:tc:SAML:2.0:nameid-format:transient";
pub const NAMEID_EMAIL: &str = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress";
pub const NAMEID_UNSPECIFIED: &str = "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified";

/// Which NameID the SP gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NameIdKind {
    /// A stable pseudonym, different for every application.
    Persistent,
    Email,
    /// A fresh random value each time.
    Transient,
    /// The username, format unspecified.
    Unspecified,
    /// The username, format unspecified (authentik's name for it).
    Username,
}

impl NameIdKind {
    pub fn format(self) -> &'static str {
        match self {
            NameIdKind::Persistent => NAMEID_PERSISTENT,
            NameIdKind::Email => NAMEID_EMAIL,
            NameIdKind::Transient => NAMEID_TRANSIENT,
            NameIdKind::Unspecified | NameIdKind::Username => NAMEID_UNSPECIFIED,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            NameIdKind::Persistent => "persistent",
            NameIdKind::Email => "email",
            NameIdKind::Transient => "transient",
            NameIdKind::Unspecified => "unspecified",
            NameIdKind::Username => "username",
        }
    }
}

fn default_valid() -> i64 {
    300
}

/// The settings of one SAML application. Nothing here is secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SamlConfig {
    /// Registered ACS URLs (HTTP-POST binding); the first is the default.
    pub acs_urls: Vec<String>,
    /// The SP's entity id: the assertion's Audience, and the AuthnRequest Issuer we expect.
    pub audience: String,
    pub name_id: NameIdKind,
    pub sign: SignMode,
    pub signing_alg: SignatureAlg,
    /// SP signing certificates, base64 DER. When any is set, requests must be signed.
    #[serde(default)]
    pub sp_certs: Vec<String>,
    /// Requests must be signed (also implied by `sp_certs`).
    #[serde(default)]
    pub want_authn_requests_signed: bool,
    /// The SP's single logout URL and binding (`redirect` or `post`).
    #[serde(default)]
    pub slo_url: Option<String>,
    #[serde(default)]
    pub slo_binding: Option<String>,
    /// Lifetime of an assertion, seconds.
    #[serde(default = "default_valid")]
    pub assertion_valid_secs: i64,
    /// Accept a LogoutRequest that is not signed (an SP without certificates).
    /// Off by default: anyone can build an unsigned LogoutRequest, so any site
    /// could sign a person out by sending their browser one.
    #[serde(default)]
    pub allow_unsigned_logout: bool,
}

fn check_url(what: &str, u: &str) -> Result<(), Error> {
    let parsed = url::Url::parse(u).map_err(|_| Error::Config(format!("{what} '{u}' is not a URL")))?;
    if !matches!(parsed.scheme(), "https" | "http") || parsed.host_str().is_none() {
        return Err(Error::Config(format!("{what} '{u}' must be an http(s) URL")));
    }
    if parsed.fragment().is_some() {
        return Err(Error::Config(format!("{what} '{u}' must not have a fragment")));
    }
    Ok(())
}

impl SamlConfig {
    /// A new application's settings: the SP's entity id and ACS URLs, and
    /// the defaults of `gatehouse app create --provider saml` (persistent
    /// NameID, signed assertion, RSA-SHA256, 5-minute assertions), checked.
    pub fn new(audience: &str, acs_urls: Vec<String>) -> Result<SamlConfig, Error> {
        SamlConfig {
            acs_urls,
            audience: audience.trim().to_string(),
            ..SamlConfig::blank()
        }
        .validate()
    }

    /// The defaults with no SP yet (no audience, no ACS URL): not usable
    /// until those are set, then [`Self::validate`]d.
    pub fn blank() -> SamlConfig {
        SamlConfig {
            acs_urls: Vec::new(),
            audience: String::new(),
            name_id: NameIdKind::Persistent,
            sign: SignMode::Assertion,
            signing_alg: SignatureAlg::RsaSha256,
            sp_certs: Vec::new(),
            want_authn_requests_signed: false,
            slo_url: None,
            slo_binding: None,
            assertion_valid_secs: default_valid(),
            allow_unsigned_logout: false,
        }
    }

    /// The provider as the directory stores it, keyed by the SP's entity id
    /// (the CLI, blueprints' `sso fix` and the admin wizard all store it so).
    /// Nothing here is secret.
    pub fn provider_spec(&self) -> ProviderSpec {
        let config = serde_json::to_value(self).unwrap_or_default();
        ProviderSpec {
            kind: ProviderKind::Saml,
            key: Some(self.audience.clone()),
            shown: config.clone(),
            config,
        }
    }

    /// Checks the settings; returns them unchanged when they are usable.
    pub fn validate(self) -> Result<SamlConfig, Error> {
        if self.acs_urls.is_empty() {
            return Err(Error::Config(
                "at least one ACS URL is needed (--acs-url or --sp-metadata)".into(),
            ));
        }
        for u in &self.acs_urls {
            check_url("ACS URL", u)?;
        }
        if self.audience.trim().is_empty() || self.audience.len() > 1024 {
            return Err(Error::Config(
                "the audience (SP entity id) is needed (--audience or --sp-metadata)".into(),
            ));
        }
        if let Some(u) = &self.slo_url {
            check_url("SLO URL", u)?;
        }
        if let Some(b) = &self.slo_binding
            && b != "redirect"
            && b != "post"
        {
            return Err(Error::Config("SLO binding must be redirect or post".into()));
        }
        for c in &self.sp_certs {
            TrustedCert::from_pem_or_b64(c).map_err(|_| Error::Config("an SP certificate does not parse".into()))?;
        }
        if self.want_authn_requests_signed && self.sp_certs.is_empty() {
            return Err(Error::Config(
                "signed requests need the SP's certificate (--sp-cert, or a KeyDescriptor in its metadata)".into(),
            ));
        }
        if !(30..=3600).contains(&self.assertion_valid_secs) {
            return Err(Error::Config("assertion lifetime must be between 30 s and 1 h".into()));
        }
        Ok(self)
    }

    pub fn from_value(v: &serde_json::Value) -> Result<SamlConfig, Error> {
        serde_json::from_value::<SamlConfig>(v.clone())
            .map_err(|e| Error::Config(format!("stored SAML settings: {e}")))?
            .validate()
    }

    /// The SP's certificates.
    pub fn certs(&self) -> Vec<TrustedCert> {
        self.sp_certs
            .iter()
            .filter_map(|c| TrustedCert::from_pem_or_b64(c).ok())
            .collect()
    }

    /// Whether requests from this SP must be signed.
    pub fn requests_must_be_signed(&self) -> bool {
        self.want_authn_requests_signed || !self.sp_certs.is_empty()
    }

    /// The ACS URL a request may use: the one it names if registered (exact
    /// match), the indexed one, or the default.
    pub fn acs_for(&self, requested: Option<&str>, index: Option<u32>) -> Result<&str, Error> {
        match (requested, index) {
            (Some(u), _) => self
                .acs_urls
                .iter()
                .find(|a| a.as_str() == u)
                .map(String::as_str)
                .ok_or_else(|| Error::UnknownAcs(u.to_string())),
            (None, Some(i)) => self
                .acs_urls
                .get(i as usize)
                .map(String::as_str)
                .ok_or_else(|| Error::UnknownAcs(format!("index {i}"))),
            (None, None) => self
                .acs_urls
                .first()
                .map(String::as_str)
                .ok_or_else(|| Error::UnknownAcs("-".into())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> SamlConfig {
        SamlConfig {
            acs_urls: vec!["https://sp/acs".into(), "https://sp/acs2".into()],
            audience: "https://sp".into(),
            name_id: NameIdKind::Persistent,
            sign: SignMode::Assertion,
            signing_alg: SignatureAlg::RsaSha256,
            sp_certs: vec![],
            want_authn_requests_signed: false,
            slo_url: None,
            slo_binding: None,
            assertion_valid_secs: 300,
            allow_unsigned_logout: false,
        }
    }

    #[test]
    fn acs_urls_must_be_registered_exactly() {
        let c = cfg().validate().unwrap();
        assert_eq!(c.acs_for(None, None).unwrap(), "https://sp/acs");
        assert_eq!(c.acs_for(Some("https://sp/acs2"), None).unwrap(), "https://sp/acs2");
        assert_eq!(c.acs_for(None, Some(1)).unwrap(), "https://sp/acs2");
        for bad in [
            "https://sp/acs/",
            "https://sp/acs?x",
            "https://SP/acs",
            "https://evil/acs",
        ] {
            assert!(matches!(c.acs_for(Some(bad), None), Err(Error::UnknownAcs(_))), "{bad}");
        }
        assert!(c.acs_for(None, Some(7)).is_err());
    }

    #[test]
    fn settings_are_checked() {
        assert!(
            SamlConfig {
                acs_urls: vec![],
                ..cfg()
            }
            .validate()
            .is_err()
        );
        assert!(
            SamlConfig {
                acs_urls: vec!["javascript:alert(1)".into()],
                ..cfg()
            }
            .validate()
            .is_err()
        );
        assert!(
            SamlConfig {
                audience: " ".into(),
                ..cfg()
            }
            .validate()
            .is_err()
        );
        assert!(
            SamlConfig {
                want_authn_requests_signed: true,
                ..cfg()
            }
            .validate()
            .is_err()
        );
        assert!(
            SamlConfig {
                sp_certs: vec!["not a cert".into()],
                ..cfg()
            }
            .validate()
            .is_err()
        );
        let c = cfg().validate().unwrap();
        assert!(!c.requests_must_be_signed());
        let json = serde_json::to_value(&c).unwrap();
        assert_eq!(SamlConfig::from_value(&json).unwrap(), c);
    }
}
