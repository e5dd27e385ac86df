//! Making and re-keying OIDC clients: what `gatehouse app create --provider
//! oidc`, `app secret rotate` and the admin interface's wizard share. The
//! settings are checked here, secrets made and hashed by core's OAuth
//! service, and the application written by core's apps service.

use gatehouse_core::events::action;
use gatehouse_core::{Application, Audit, Directory, Error, ProviderKind, ProviderSpec, Result};

use crate::config::{ClientType, ConfigError, OidcConfig};

fn invalid(e: ConfigError) -> Error {
    Error::invalid(e.field, e.reason)
}

/// The provider spec of `cfg` (its client id is the lookup key).
pub fn spec(cfg: &OidcConfig) -> ProviderSpec {
    ProviderSpec {
        kind: ProviderKind::Oidc,
        key: Some(cfg.client_id.clone()),
        config: cfg.to_value(),
        shown: cfg.shown(),
    }
}

/// Checks `cfg` and, for a confidential client, gives it a new secret.
/// Returns the spec to store and the secret (shown once).
pub async fn client_spec(dir: &Directory, mut cfg: OidcConfig) -> Result<(ProviderSpec, Option<String>)> {
    cfg.client_secret_hash = None;
    let secret = settle_secret(dir, &mut cfg, None).await?;
    cfg.validate().map_err(invalid)?;
    Ok((spec(&cfg), secret))
}

/// Which secret a client has after a change: none for a public client; the
/// `given` one (hashed) for a confidential client; a new one for a
/// confidential client that has none yet; else the one it had. Returns a
/// secret made or given here (shown once).
pub async fn settle_secret(dir: &Directory, cfg: &mut OidcConfig, given: Option<&str>) -> Result<Option<String>> {
    let secret = match (cfg.client_type, given) {
        (ClientType::Public, _) => {
            cfg.client_secret_hash = None;
            return Ok(None);
        }
        (ClientType::Confidential, Some(s)) => s.to_string(),
        (ClientType::Confidential, None) if cfg.client_secret_hash.is_none() => dir.oauth().generate_client_secret(),
        (ClientType::Confidential, None) => return Ok(None),
    };
    cfg.client_secret_hash = Some(dir.oauth().hash_client_secret(&secret).await?);
    Ok(Some(secret))
}

/// The OIDC settings of `app`.
pub fn config_of(app: &Application) -> Result<OidcConfig> {
    if app.provider != Some(ProviderKind::Oidc) {
        return Err(Error::invalid(
            "provider",
            format!("application '{}' has no OIDC provider", app.slug),
        ));
    }
    OidcConfig::from_value(&app.provider_config).map_err(invalid)
}

/// A new secret for the confidential client of `slug`; the old one stops
/// working at once. Returns the client id and the secret (shown once).
pub async fn rotate_secret(dir: &Directory, audit: &Audit, slug: &str) -> Result<(String, String)> {
    let app = dir.apps().get(slug).await?.app;
    let mut cfg = config_of(&app)?;
    if cfg.is_public() {
        return Err(Error::invalid(
            "client",
            format!("'{slug}' is a public client: it has no secret"),
        ));
    }
    let secret = dir.oauth().generate_client_secret();
    cfg.client_secret_hash = Some(dir.oauth().hash_client_secret(&secret).await?);
    dir.apps()
        .update_provider(audit, slug, spec(&cfg), action::SECRET_ROTATE)
        .await?;
    Ok((cfg.client_id, secret))
}
