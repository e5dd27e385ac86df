//! The OIDC side of `gatehouse app …`: the provider options of `app create`,
//! `app update`, `app secret rotate`, and the provider rows of `app show`.
//! Settings are checked by `gatehouse_oidc::config`; changes go through the
//! Directory services (`create_application_with`, `update_provider`).

use clap::{Args, Subcommand, ValueEnum};
use gatehouse_core::ProviderSpec;
use gatehouse_core::events::action;
use gatehouse_core::{Application, Audit, Directory, ProviderKind};
use gatehouse_crypto::signing::SigningAlg;
use gatehouse_oidc::config::{ClientType, ConsentMode, OidcConfig, SubMode, parse_redirect_uri};
use gatehouse_oidc::provision;
use serde_json::json;

use crate::context::Context;
use crate::failure::{CmdResult, Failure};
use crate::output::{Table, print_json};

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum AlgChoice {
    #[value(name = "RS256")]
    Rs256,
    #[value(name = "ES256")]
    Es256,
    #[value(name = "EdDSA")]
    EdDsa,
}

impl AlgChoice {
    pub fn alg(self) -> SigningAlg {
        match self {
            AlgChoice::Rs256 => SigningAlg::Rs256,
            AlgChoice::Es256 => SigningAlg::Es256,
            AlgChoice::EdDsa => SigningAlg::EdDsa,
        }
    }
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum SubChoice {
    Hashed,
    Uuid,
    Username,
    Email,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum ConsentChoice {
    Implicit,
    Explicit,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum Switch {
    On,
    Off,
}

/// OIDC provider options (with `--provider oidc`, and for `app update`).
#[derive(Debug, Args, Default)]
pub struct OidcArgs {
    /// Where the client may receive codes: an exact URL, or `regex:PATTERN`
    /// (matched against the whole URI). Repeat for several.
    #[arg(long = "redirect-uri", value_name = "URI")]
    pub redirect_uris: Vec<String>,
    /// A public client (no secret; PKCE required), e.g. a single-page or native app.
    #[arg(long)]
    pub public: bool,
    /// The client id (default: the slug).
    #[arg(long, value_name = "ID")]
    pub client_id: Option<String>,
    /// The ID and access token signature algorithm (default RS256).
    /// (SAML: rsa-sha256, rsa-sha512 or ecdsa-sha256, default rsa-sha256.)
    #[arg(long, value_enum, value_name = "ALG")]
    pub signing_alg: Option<crate::commands::app_saml::SigningAlgArg>,
    /// What `sub` holds (default hashed: SHA-256 of the user id).
    #[arg(long, value_enum, value_name = "MODE")]
    pub sub_mode: Option<SubChoice>,
    /// Ask people for consent once (explicit) or not at all (implicit, default).
    #[arg(long, value_enum)]
    pub consent: Option<ConsentChoice>,
    /// Where RP-initiated logout may send people afterwards (repeat for several).
    #[arg(long = "post-logout-redirect-uri", value_name = "URI")]
    pub post_logout_redirect_uris: Vec<String>,
    /// A `roles` claim value for members of GROUP: GROUP=ROLE (repeat).
    #[arg(long = "role", value_name = "GROUP=ROLE")]
    pub roles: Vec<String>,
    /// Access and ID token lifetime in seconds (default 600, at most 86400).
    #[arg(long, value_name = "SECONDS")]
    pub access_token_validity: Option<i64>,
    /// Refresh token lifetime in seconds (default 30 days).
    #[arg(long, value_name = "SECONDS")]
    pub refresh_token_validity: Option<i64>,
    /// Accept PKCE's `plain` method (refused by default; S256 is always accepted).
    #[arg(long)]
    pub allow_plain_pkce: bool,
    /// Accept the device authorization grant (RFC 8628) for this client, e.g.
    /// a TV or a command-line tool (default off).
    #[arg(long, value_enum, value_name = "on|off")]
    pub device_flow: Option<Switch>,
}

impl OidcArgs {
    /// Whether any OIDC option was given (they need `--provider oidc`).
    pub fn any(&self) -> bool {
        !self.redirect_uris.is_empty()
            || self.public
            || self.client_id.is_some()
            || self.signing_alg.is_some_and(|a| a.oidc().is_some())
            || self.sub_mode.is_some()
            || self.consent.is_some()
            || !self.post_logout_redirect_uris.is_empty()
            || !self.roles.is_empty()
            || self.access_token_validity.is_some()
            || self.refresh_token_validity.is_some()
            || self.allow_plain_pkce
            || self.device_flow.is_some()
    }
}

#[derive(Debug, Args)]
pub struct AppUpdateArgs {
    pub slug: String,
    #[command(flatten)]
    pub oidc: OidcArgs,
    /// Make a public client confidential (a secret is generated and printed).
    #[arg(long, conflicts_with = "public")]
    pub confidential: bool,
    /// Refuse PKCE's `plain` method again.
    #[arg(long, conflicts_with = "allow_plain_pkce")]
    pub refuse_plain_pkce: bool,
    #[command(flatten)]
    pub saml: crate::commands::app_saml::SamlArgs,
    #[command(flatten)]
    pub ldap: crate::commands::app_ldap::LdapArgs,
}

#[derive(Debug, Subcommand)]
pub enum SecretCmd {
    /// Generate a new client secret and print it; the old one stops working at once.
    Rotate { slug: String },
}

fn input(e: impl std::fmt::Display) -> Failure {
    Failure::input(format!("invalid OIDC setting: {e}"))
}

/// Applies the options given to `cfg` (lists replace, scalars override).
fn apply(cfg: &mut OidcConfig, a: &OidcArgs) -> CmdResult {
    if !a.redirect_uris.is_empty() {
        cfg.redirect_uris = a.redirect_uris.iter().map(|u| parse_redirect_uri(u)).collect();
    }
    if !a.post_logout_redirect_uris.is_empty() {
        cfg.post_logout_redirect_uris = a.post_logout_redirect_uris.clone();
    }
    if let Some(alg) = a.signing_alg {
        cfg.signing_alg = alg
            .oidc()
            .ok_or_else(|| input("--signing-alg takes RS256, ES256 or EdDSA"))?;
    }
    if let Some(s) = a.sub_mode {
        cfg.sub_mode = match s {
            SubChoice::Hashed => SubMode::Hashed,
            SubChoice::Uuid => SubMode::Uuid,
            SubChoice::Username => SubMode::Username,
            SubChoice::Email => SubMode::Email,
        };
    }
    if let Some(c) = a.consent {
        cfg.consent = match c {
            ConsentChoice::Implicit => ConsentMode::Implicit,
            ConsentChoice::Explicit => ConsentMode::Explicit,
        };
    }
    if !a.roles.is_empty() {
        cfg.role_mapping.clear();
        for r in &a.roles {
            let (g, role) = r
                .split_once('=')
                .ok_or_else(|| Failure::input(format!("--role {r}: expected GROUP=ROLE")))?;
            cfg.role_mapping.insert(g.trim().to_string(), role.trim().to_string());
        }
    }
    if let Some(v) = a.access_token_validity {
        cfg.access_token_validity_secs = v;
    }
    if let Some(v) = a.refresh_token_validity {
        cfg.refresh_token_validity_secs = v;
    }
    if a.allow_plain_pkce {
        cfg.allow_plain_pkce = true;
    }
    if let Some(d) = a.device_flow {
        cfg.device_flow = d == Switch::On;
    }
    Ok(())
}

/// The provider of a new application, and its secret (confidential clients).
pub async fn create_spec(dir: &Directory, slug: &str, a: &OidcArgs) -> CmdResult<(ProviderSpec, Option<String>)> {
    let client_id = a.client_id.clone().unwrap_or_else(|| slug.to_string());
    let kind = if a.public {
        ClientType::Public
    } else {
        ClientType::Confidential
    };
    let mut cfg = OidcConfig::new(client_id, kind);
    apply(&mut cfg, a)?;
    Ok(provision::client_spec(dir, cfg).await?)
}

pub fn print_created(ctx: &Context, app: &Application, secret: Option<&str>) -> CmdResult {
    let client_id = app.provider_key.clone().unwrap_or_default();
    let issuer = gatehouse_oidc::paths::issuer(&ctx.settings.external_url, &app.slug);
    if ctx.json {
        return Ok(print_json(&json!({
            "slug": app.slug, "id": app.id, "client_id": client_id,
            "client_secret": secret, "issuer": issuer,
        }))?);
    }
    println!("created application {} ({})", app.slug, app.id);
    println!("client_id: {client_id}");
    match secret {
        Some(s) => println!(
            "client_secret: {s}\n(shown once: store it now; `gatehouse app secret rotate {}` makes a new one)",
            app.slug
        ),
        None => println!("public client: no secret; PKCE (S256) is required"),
    }
    println!("issuer: {issuer}");
    Ok(())
}

fn oidc_config(app: &Application) -> CmdResult<OidcConfig> {
    Ok(provision::config_of(app)?)
}

pub async fn update(ctx: &Context, dir: &Directory, audit: &Audit, a: AppUpdateArgs) -> CmdResult {
    let app = dir.apps().get(&a.slug).await?.app;
    // SAML provider: its own settings
    crate::commands::app_saml::check_update(&a.saml, &app)?;
    if app.provider == Some(gatehouse_core::ProviderKind::Saml) {
        return crate::commands::app_saml::update(ctx, dir, audit, &app, &a.saml, a.oidc.signing_alg).await;
    }
    crate::commands::app_ldap::check_update(&a.ldap, &app)?;
    if app.provider == Some(ProviderKind::Ldap) {
        if a.oidc.any() || a.confidential || a.refuse_plain_pkce {
            return Err(Failure::input(
                "the OIDC options need an application with an OIDC provider",
            ));
        }
        return crate::commands::app_ldap::update(ctx, dir, audit, &app, &a.ldap).await;
    }
    let mut cfg = oidc_config(&app)?;
    apply(&mut cfg, &a.oidc)?;
    if let Some(id) = &a.oidc.client_id {
        cfg.client_id = id.clone();
    }
    if a.refuse_plain_pkce {
        cfg.allow_plain_pkce = false;
    }
    let mut new_secret = None;
    if a.oidc.public && !cfg.is_public() {
        cfg.client_type = ClientType::Public;
        cfg.client_secret_hash = None;
    }
    if a.confidential && cfg.is_public() {
        let s = dir.oauth().generate_client_secret();
        cfg.client_type = ClientType::Confidential;
        cfg.client_secret_hash = Some(dir.oauth().hash_client_secret(&s).await?);
        new_secret = Some(s);
    }
    cfg.validate().map_err(input)?;
    let app = dir
        .apps()
        .update_provider(audit, &a.slug, provision::spec(&cfg), action::MODEL_UPDATED)
        .await?;
    if ctx.json {
        return Ok(print_json(
            &json!({"slug": app.slug, "provider_config": cfg.shown(), "client_secret": new_secret}),
        )?);
    }
    println!("updated application {}", app.slug);
    if let Some(s) = new_secret {
        println!("client_secret: {s}");
    }
    Ok(())
}

pub async fn secret(ctx: &Context, dir: &Directory, audit: &Audit, cmd: SecretCmd) -> CmdResult {
    let SecretCmd::Rotate { slug } = cmd;
    let app = dir.apps().get(&slug).await?.app;
    if oidc_config(&app)?.is_public() {
        return Err(Failure::input(format!("'{slug}' is a public client: it has no secret")));
    }
    let (client_id, s) = provision::rotate_secret(dir, audit, &slug).await?;
    if ctx.json {
        return Ok(print_json(
            &json!({"slug": slug, "client_id": client_id, "client_secret": s}),
        )?);
    }
    println!("client_secret: {s}");
    println!("(the previous secret of {slug} no longer works)");
    Ok(())
}

/// The provider rows of `app show`.
pub fn show_rows(ctx: &Context, app: &Application, t: &mut Table) {
    let Ok(cfg) = oidc_config(app) else {
        return;
    };
    let row = |t: &mut Table, k: &str, v: String| t.row([k.to_string(), v]);
    row(t, "client id", cfg.client_id.clone());
    row(
        t,
        "client type",
        if cfg.is_public() {
            "public".into()
        } else {
            "confidential".into()
        },
    );
    row(
        t,
        "issuer",
        gatehouse_oidc::paths::issuer(&ctx.settings.external_url, &app.slug),
    );
    for r in &cfg.redirect_uris {
        let mode = match r.matching_mode {
            gatehouse_oidc::config::MatchingMode::Strict => "",
            gatehouse_oidc::config::MatchingMode::Regex => "regex:",
        };
        row(t, "redirect URI", format!("{mode}{}", r.url));
    }
    for u in &cfg.post_logout_redirect_uris {
        row(t, "post-logout URI", u.clone());
    }
    row(t, "signing alg", cfg.signing_alg.as_str().into());
    row(t, "sub mode", format!("{:?}", cfg.sub_mode).to_lowercase());
    row(t, "consent", format!("{:?}", cfg.consent).to_lowercase());
    row(
        t,
        "access token validity",
        format!("{} s", cfg.access_token_validity_secs),
    );
    row(
        t,
        "refresh token validity",
        format!("{} s", cfg.refresh_token_validity_secs),
    );
    for (g, r) in &cfg.role_mapping {
        row(t, "role", format!("{g} → {r}"));
    }
    if cfg.allow_plain_pkce {
        row(t, "PKCE plain", "allowed".into());
    }
    row(t, "device flow", if cfg.device_flow { "on" } else { "off" }.into());
}
