//! Clients and how they authenticate at the token, introspection, revocation
//! and device endpoints: `client_secret_basic`, `client_secret_post`, or
//! `none` for public clients (RFC 6749 §2.3.1). A client using two methods at
//! once is refused; every failure is `invalid_client` (401).

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use gatehouse_core::Application;

use crate::config::OidcConfig;
use crate::error::OAuthError;
use crate::params::Params;

/// An application with its parsed OIDC settings.
#[derive(Debug, Clone)]
pub struct Client {
    pub app: Arc<Application>,
    pub config: OidcConfig,
}

impl Client {
    /// `None` when the application has no (valid) OIDC provider.
    pub fn from_application(app: Arc<Application>) -> Option<Client> {
        if app.provider != Some(gatehouse_core::ProviderKind::Oidc) {
            return None;
        }
        let config = OidcConfig::from_value(&app.provider_config).ok()?;
        Some(Client { app, config })
    }

    pub fn client_id(&self) -> &str {
        &self.config.client_id
    }

    pub fn issuer(&self, external_url: &str) -> String {
        crate::paths::issuer(external_url, &self.app.slug)
    }
}

/// The credentials a request presented.
#[derive(Clone, PartialEq, Eq)]
pub struct Presented {
    pub client_id: String,
    /// `None`: no secret (public client, `none`).
    pub secret: Option<String>,
    pub via_basic: bool,
}

// Written by hand so a client secret can never reach a log line.
impl std::fmt::Debug for Presented {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Presented")
            .field("client_id", &self.client_id)
            .field("secret", &self.secret.as_ref().map(|_| "<redacted>"))
            .field("via_basic", &self.via_basic)
            .finish()
    }
}

/// Reads the client's credentials from the `Authorization` header and the
/// form, refusing ambiguity.
pub fn presented(authorization: Option<&str>, form: &Params) -> Result<Presented, OAuthError> {
    let basic = match authorization {
        Some(h) => {
            let Some(b64) = h.strip_prefix("Basic ").or_else(|| h.strip_prefix("basic ")) else {
                return Err(OAuthError::invalid_client("unsupported Authorization scheme"));
            };
            let raw = STANDARD
                .decode(b64.trim())
                .map_err(|_| OAuthError::invalid_client("malformed Basic credentials"))?;
            let text = String::from_utf8(raw).map_err(|_| OAuthError::invalid_client("malformed Basic credentials"))?;
            let (id, secret) = text
                .split_once(':')
                .ok_or_else(|| OAuthError::invalid_client("malformed Basic credentials"))?;
            // RFC 6749 §2.3.1: both parts are form-urlencoded.
            Some((form_decode(id), form_decode(secret)))
        }
        None => None,
    };
    match basic {
        Some((id, secret)) => {
            if form.has("client_secret") {
                return Err(OAuthError::invalid_request(
                    "use one client authentication method, not two",
                ));
            }
            if form.get("client_id").is_some_and(|f| f != id) {
                return Err(OAuthError::invalid_client("client_id does not match the credentials"));
            }
            Ok(Presented {
                client_id: id,
                secret: Some(secret),
                via_basic: true,
            })
        }
        None => {
            let id = form
                .get("client_id")
                .ok_or_else(|| OAuthError::invalid_client("client authentication is required"))?;
            Ok(Presented {
                client_id: id.to_string(),
                secret: form.get("client_secret").map(str::to_string),
                via_basic: false,
            })
        }
    }
}

fn form_decode(s: &str) -> String {
    form_urlencoded::parse(format!("x={s}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// What is left to check once the client is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthCheck<'a> {
    /// A public client, identified by its id only.
    Public,
    /// Compare this presented secret with this stored keyed hash.
    Secret { presented: &'a str, stored: &'a str },
}

/// The client authentication decision, up to the secret comparison (which
/// needs the server key).
pub fn check<'a>(client: &'a Client, p: &'a Presented) -> Result<AuthCheck<'a>, OAuthError> {
    if client.config.is_public() {
        return match p.secret.as_deref() {
            None | Some("") => Ok(AuthCheck::Public),
            Some(_) => Err(OAuthError::invalid_client(
                "public clients do not authenticate with a secret",
            )),
        };
    }
    let (Some(presented), Some(stored)) = (p.secret.as_deref(), client.config.client_secret_hash.as_deref()) else {
        return Err(OAuthError::invalid_client("client authentication failed"));
    };
    Ok(AuthCheck::Secret { presented, stored })
}

/// The answer when the secret did not match (or the client is unknown): the
/// same for both, so client ids cannot be probed.
pub fn failed() -> OAuthError {
    OAuthError::invalid_client("client authentication failed")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_and_post_and_both() {
        let empty = Params::parse("").unwrap();
        let b = STANDARD.encode("my%20app:s%3Acret");
        let p = presented(Some(&format!("Basic {b}")), &empty).unwrap();
        assert_eq!(p.client_id, "my app");
        assert_eq!(p.secret.as_deref(), Some("s:cret"));
        assert!(p.via_basic);
        let form = Params::parse("client_id=x&client_secret=y").unwrap();
        let p = presented(None, &form).unwrap();
        assert_eq!((p.client_id.as_str(), p.secret.as_deref()), ("x", Some("y")));
        assert!(presented(Some(&format!("Basic {b}")), &form).is_err());
        assert_eq!(
            presented(None, &empty).unwrap_err().code,
            crate::ErrorCode::InvalidClient
        );
        assert!(presented(Some("Bearer x"), &empty).is_err());
    }
}
