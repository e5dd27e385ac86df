//! An application's OIDC settings, as stored in `applications.provider_config`
//! (the client secret only as its keyed hash), with the checks every change
//! goes through.

use std::collections::BTreeMap;

use gatehouse_crypto::signing::SigningAlg;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The longest access/ID token lifetime an application may ask for (signing
/// keys stay published this long after they stop signing).
pub const MAX_TOKEN_VALIDITY_SECS: i64 = gatehouse_core::keys::MAX_SIGNED_TOKEN_LIFETIME_SECS;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ClientType {
    Confidential,
    Public,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MatchingMode {
    Strict,
    Regex,
}

/// A registered redirect URI (authentik's `{matching_mode, url}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RedirectUri {
    pub matching_mode: MatchingMode,
    pub url: String,
}

/// What the `sub` claim holds (authentik's `sub_mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SubMode {
    /// SHA-256 of the user's id (authentik's `hashed_user_id`), the default.
    Hashed,
    Uuid,
    Username,
    Email,
}

impl SubMode {
    pub fn parse(s: &str) -> Option<SubMode> {
        Some(match s {
            "hashed" => SubMode::Hashed,
            "uuid" => SubMode::Uuid,
            "username" => SubMode::Username,
            "email" => SubMode::Email,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ConsentMode {
    /// No consent page (the default: the operator decided for the people).
    Implicit,
    /// Ask once, remember; withdrawable in the portal.
    Explicit,
}

mod alg_serde {
    use gatehouse_crypto::signing::SigningAlg;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(a: &SigningAlg, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(a.as_str())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<SigningAlg, D::Error> {
        let text = String::deserialize(d)?;
        SigningAlg::parse(&text).ok_or_else(|| serde::de::Error::custom(format!("unknown signing algorithm {text}")))
    }
}

fn default_alg() -> SigningAlg {
    SigningAlg::Rs256
}
fn default_access_validity() -> i64 {
    600
}
fn default_refresh_validity() -> i64 {
    30 * 86_400
}
fn yes() -> bool {
    true
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OidcConfig {
    pub client_id: String,
    pub client_type: ClientType,
    /// `hmac-sha256:<hex>` of the secret; `None` for public clients.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret_hash: Option<String>,
    #[serde(default)]
    pub redirect_uris: Vec<RedirectUri>,
    #[serde(default)]
    pub post_logout_redirect_uris: Vec<String>,
    #[serde(default = "default_alg", with = "alg_serde")]
    pub signing_alg: SigningAlg,
    #[serde(default = "default_sub_mode")]
    pub sub_mode: SubMode,
    #[serde(default = "default_consent")]
    pub consent: ConsentMode,
    #[serde(default = "default_access_validity")]
    pub access_token_validity_secs: i64,
    #[serde(default = "default_refresh_validity")]
    pub refresh_token_validity_secs: i64,
    /// Group name → role, for the `roles` claim.
    #[serde(default)]
    pub role_mapping: BTreeMap<String, String>,
    /// Accept PKCE `plain` (refused by default, RFC 7636 §4.2 / OAuth 2.1).
    #[serde(default)]
    pub allow_plain_pkce: bool,
    /// Put the scope claims (email, profile) in the ID token too, as authentik does.
    #[serde(default = "yes")]
    pub include_claims_in_id_token: bool,
    /// Accept the device authorization grant (RFC 8628). Off by default: any
    /// public client can start it with its id alone, so an operator opts in
    /// for the clients that are devices (TVs, command-line tools).
    #[serde(default, skip_serializing_if = "is_false")]
    pub device_flow: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

fn default_sub_mode() -> SubMode {
    SubMode::Hashed
}
fn default_consent() -> ConsentMode {
    ConsentMode::Implicit
}

/// A refused setting: which and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct ConfigError {
    pub field: &'static str,
    pub reason: String,
}

fn bad(field: &'static str, reason: impl Into<String>) -> ConfigError {
    ConfigError {
        field,
        reason: reason.into(),
    }
}

impl OidcConfig {
    /// A new client with the defaults.
    pub fn new(client_id: String, client_type: ClientType) -> Self {
        OidcConfig {
            client_id,
            client_type,
            client_secret_hash: None,
            redirect_uris: Vec::new(),
            post_logout_redirect_uris: Vec::new(),
            signing_alg: default_alg(),
            sub_mode: default_sub_mode(),
            consent: default_consent(),
            access_token_validity_secs: default_access_validity(),
            refresh_token_validity_secs: default_refresh_validity(),
            role_mapping: BTreeMap::new(),
            allow_plain_pkce: false,
            include_claims_in_id_token: true,
            device_flow: false,
        }
    }

    pub fn from_value(v: &Value) -> Result<OidcConfig, ConfigError> {
        serde_json::from_value(v.clone()).map_err(|e| bad("provider_config", e.to_string()))
    }

    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    /// The settings as an event may show them: the secret hash masked.
    pub fn shown(&self) -> Value {
        let mut v = self.to_value();
        if let Some(m) = v.as_object_mut()
            && m.contains_key("client_secret_hash")
        {
            m.insert("client_secret_hash".into(), Value::from("(hidden)"));
        }
        v
    }

    pub fn is_public(&self) -> bool {
        self.client_type == ClientType::Public
    }

    /// Checks every setting; the message names the first one wrong.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.client_id.is_empty()
            || self.client_id.len() > 255
            || !self.client_id.chars().all(|c| c.is_ascii_graphic() && c != ':')
        {
            return Err(bad("client id", "1 to 255 visible ASCII characters, no ':'"));
        }
        match (self.client_type, &self.client_secret_hash) {
            (ClientType::Confidential, None) => return Err(bad("client secret", "a confidential client needs one")),
            (ClientType::Public, Some(_)) => return Err(bad("client secret", "a public client has none")),
            _ => {}
        }
        if self.redirect_uris.is_empty() {
            return Err(bad("redirect URI", "at least one is required"));
        }
        for r in &self.redirect_uris {
            match r.matching_mode {
                MatchingMode::Strict => check_url("redirect URI", &r.url)?,
                MatchingMode::Regex => {
                    anchored(&r.url).map_err(|e| bad("redirect URI", format!("regex '{}': {e}", r.url)))?;
                }
            }
        }
        for u in &self.post_logout_redirect_uris {
            check_url("post-logout redirect URI", u)?;
        }
        if !(60..=MAX_TOKEN_VALIDITY_SECS).contains(&self.access_token_validity_secs) {
            return Err(bad(
                "access token validity",
                format!("from 60 seconds to {MAX_TOKEN_VALIDITY_SECS} seconds"),
            ));
        }
        if !(300..=366 * 86_400).contains(&self.refresh_token_validity_secs) {
            return Err(bad("refresh token validity", "from 5 minutes to 366 days"));
        }
        for (group, role) in &self.role_mapping {
            if group.trim().is_empty() || role.trim().is_empty() {
                return Err(bad("role mapping", "GROUP=ROLE, both non-empty"));
            }
        }
        Ok(())
    }

    /// Whether `uri` is registered: strict entries compare exactly, regex
    /// entries must match the whole URI.
    pub fn redirect_uri_allowed(&self, uri: &str) -> bool {
        self.redirect_uris.iter().any(|r| match r.matching_mode {
            MatchingMode::Strict => r.url == uri,
            MatchingMode::Regex => anchored(&r.url).is_ok_and(|re| re.is_match(uri)),
        })
    }

    /// The redirect URI to use when the request names none: only when exactly
    /// one strict URI is registered (RFC 6749 §3.1.2.3).
    pub fn default_redirect_uri(&self) -> Option<&str> {
        match self.redirect_uris.as_slice() {
            [only] if only.matching_mode == MatchingMode::Strict => Some(&only.url),
            _ => None,
        }
    }
}

/// A redirect regex anchored at both ends, so `https://a\.example/.*` cannot
/// match `https://evil.example/?https://a.example/`.
fn anchored(pattern: &str) -> Result<regex::Regex, regex::Error> {
    regex::RegexBuilder::new(&format!("^(?:{pattern})$"))
        .size_limit(1 << 20)
        .build()
}

/// An absolute URI without fragment (RFC 6749 §3.1.2); http only for loopback
/// or custom schemes of native apps.
fn check_url(field: &'static str, url: &str) -> Result<(), ConfigError> {
    if url.len() > 2048 || url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad(field, format!("'{url}' is not a valid URI")));
    }
    if url.contains('#') {
        return Err(bad(field, format!("'{url}' must not contain a fragment")));
    }
    let Some((scheme, rest)) = url.split_once(':') else {
        return Err(bad(field, format!("'{url}' is not an absolute URI")));
    };
    if scheme.is_empty() || !scheme.chars().all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c)) || rest.is_empty() {
        return Err(bad(field, format!("'{url}' is not an absolute URI")));
    }
    if (scheme == "https" || scheme == "http") && !rest.starts_with("//") {
        return Err(bad(field, format!("'{url}' is not an absolute URI")));
    }
    if scheme.eq_ignore_ascii_case("javascript") || scheme.eq_ignore_ascii_case("data") {
        return Err(bad(field, format!("'{url}' uses a forbidden scheme")));
    }
    Ok(())
}

/// Parses `strict:URL`, `regex:PATTERN` or a bare URL (strict).
pub fn parse_redirect_uri(text: &str) -> RedirectUri {
    if let Some(p) = text.strip_prefix("regex:") {
        RedirectUri {
            matching_mode: MatchingMode::Regex,
            url: p.to_string(),
        }
    } else {
        RedirectUri {
            matching_mode: MatchingMode::Strict,
            url: text.strip_prefix("strict:").unwrap_or(text).to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> OidcConfig {
        let mut c = OidcConfig::new("grafana".into(), ClientType::Confidential);
        c.client_secret_hash = Some("hmac-sha256:00".into());
        c.redirect_uris = vec![
            parse_redirect_uri("https://grafana.example.com/login/generic_oauth"),
            parse_redirect_uri(r"regex:https://[a-z]+\.apps\.example\.com/cb"),
        ];
        c
    }

    #[test]
    fn redirect_uris_match_exactly_or_by_anchored_regex() {
        let c = cfg();
        c.validate().unwrap();
        assert!(c.redirect_uri_allowed("https://grafana.example.com/login/generic_oauth"));
        assert!(!c.redirect_uri_allowed("https://grafana.example.com/login/generic_oauth/"));
        assert!(!c.redirect_uri_allowed("https://grafana.example.com/login/generic_oauth?x=1"));
        assert!(c.redirect_uri_allowed("https://wiki.apps.example.com/cb"));
        assert!(!c.redirect_uri_allowed("https://evil.example/?https://wiki.apps.example.com/cb"));
        assert!(!c.redirect_uri_allowed("https://wiki.apps.example.com/cb.evil.example"));
        assert_eq!(c.default_redirect_uri(), None);
    }

    #[test]
    fn bad_settings_are_named() {
        let mut c = cfg();
        c.redirect_uris.push(parse_redirect_uri("https://x.example/cb#frag"));
        assert_eq!(c.validate().unwrap_err().field, "redirect URI");
        let mut c = cfg();
        c.client_secret_hash = None;
        assert_eq!(c.validate().unwrap_err().field, "client secret");
        let mut c = cfg();
        c.access_token_validity_secs = 10 * 86_400;
        assert_eq!(c.validate().unwrap_err().field, "access token validity");
        let mut c = cfg();
        c.redirect_uris = vec![parse_redirect_uri("regex:(unclosed")];
        assert!(c.validate().is_err());
        let mut c = cfg();
        c.post_logout_redirect_uris = vec!["javascript:alert(1)".into()];
        assert!(c.validate().is_err());
    }

    #[test]
    fn stored_form_round_trips_and_masks_the_secret() {
        let c = cfg();
        let v = c.to_value();
        assert_eq!(v["signing_alg"], "RS256");
        assert_eq!(OidcConfig::from_value(&v).unwrap(), c);
        assert_eq!(c.shown()["client_secret_hash"], "(hidden)");
        // Older stored settings get the defaults.
        let minimal = serde_json::json!({"client_id": "x", "client_type": "public"});
        let m = OidcConfig::from_value(&minimal).unwrap();
        assert_eq!(m.sub_mode, SubMode::Hashed);
        assert!(m.include_claims_in_id_token);
        assert!(!m.device_flow, "the device grant is opt-in");
        assert!(c.to_value().get("device_flow").is_none(), "stored as before while off");
    }
}
