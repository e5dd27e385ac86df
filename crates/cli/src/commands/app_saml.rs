//! `gatehouse app create … --provider saml`: the SAML options of an
//! application and SP metadata import.

use clap::{Args, ValueEnum};
use gatehouse_core::ProviderSpec;
use gatehouse_core::{Application, Directory, ProviderKind};
use gatehouse_crypto::signing::SigningAlg;
use gatehouse_saml::{NameIdKind, SamlConfig, SignMode, SignatureAlg, TrustedCert};
use serde_json::json;

use crate::cli::ProviderChoice;
use crate::context::Context;
use crate::failure::{CmdResult, Failure};
use crate::output::{Table, print_json};

/// `--signing-alg`, shared by the OIDC (`RS256`, `ES256`, `EdDSA`) and SAML
/// (`rsa-sha256`, `rsa-sha512`, `ecdsa-sha256`) providers.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum SigningAlgArg {
    #[value(name = "RS256")]
    Rs256,
    #[value(name = "ES256")]
    Es256,
    #[value(name = "EdDSA")]
    EdDsa,
    #[value(name = "rsa-sha256")]
    RsaSha256,
    #[value(name = "rsa-sha512")]
    RsaSha512,
    #[value(name = "ecdsa-sha256")]
    EcdsaSha256,
}

impl SigningAlgArg {
    /// The JWT algorithm, for OIDC.
    pub fn oidc(self) -> Option<SigningAlg> {
        match self {
            SigningAlgArg::Rs256 => Some(SigningAlg::Rs256),
            SigningAlgArg::Es256 => Some(SigningAlg::Es256),
            SigningAlgArg::EdDsa => Some(SigningAlg::EdDsa),
            _ => None,
        }
    }
    /// The XML signature algorithm, for SAML.
    pub fn saml(self) -> Option<SignatureAlg> {
        match self {
            SigningAlgArg::RsaSha256 => Some(SignatureAlg::RsaSha256),
            SigningAlgArg::RsaSha512 => Some(SignatureAlg::RsaSha512),
            SigningAlgArg::EcdsaSha256 => Some(SignatureAlg::EcdsaSha256),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
#[value(rename_all = "lower")]
pub enum NameIdChoice {
    /// A stable pseudonym, different for every application (default).
    Persistent,
    /// The email address.
    Email,
    /// A new random value at every sign-in.
    Transient,
    /// The username, format unspecified.
    Unspecified,
    /// The username, format unspecified.
    Username,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
#[value(rename_all = "lower")]
pub enum SignChoice {
    Assertion,
    Response,
    Both,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
#[value(rename_all = "lower")]
pub enum SloBindingChoice {
    Redirect,
    Post,
}

/// Options of `--provider saml`.
#[derive(Debug, Args, Default)]
pub struct SamlArgs {
    /// SAML: an Assertion Consumer Service URL of the SP (HTTP-POST; repeat
    /// for several, the first is the default).
    #[arg(long = "acs-url", value_name = "URL")]
    pub acs_urls: Vec<String>,
    /// SAML: the SP's entity id, the assertion's audience.
    #[arg(long, value_name = "SP_ENTITY_ID")]
    pub audience: Option<String>,
    /// SAML: read entity id, ACS URLs, logout URL and signing certificate from
    /// the SP's metadata XML (options given on the command line win).
    #[arg(long, value_name = "FILE")]
    pub sp_metadata: Option<std::path::PathBuf>,
    /// SAML: the NameID the SP gets (default persistent).
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub name_id: Option<NameIdChoice>,
    /// SAML: what to sign (default assertion).
    #[arg(long, value_enum, value_name = "WHAT")]
    pub sign: Option<SignChoice>,
    /// SAML: the SP's signing certificate (PEM); requests must then be signed.
    #[arg(long = "sp-cert", value_name = "FILE")]
    pub sp_certs: Vec<std::path::PathBuf>,
    /// SAML: refuse unsigned requests (implied by --sp-cert).
    #[arg(long)]
    pub want_signed_requests: bool,
    /// SAML: the SP's single logout URL.
    #[arg(long, value_name = "URL")]
    pub slo_url: Option<String>,
    /// SAML: how the logout response is sent to --slo-url (default redirect).
    #[arg(long, value_enum, value_name = "BINDING")]
    pub slo_binding: Option<SloBindingChoice>,
    /// SAML: accept unsigned LogoutRequests from this SP (default off: any
    /// site could sign people out with one).
    #[arg(long, value_name = "on|off", value_parser = on_off)]
    pub allow_unsigned_logout: Option<bool>,
}

fn on_off(s: &str) -> Result<bool, String> {
    match s {
        "on" => Ok(true),
        "off" => Ok(false),
        _ => Err("on or off".into()),
    }
}

impl SamlArgs {
    fn any_given(&self) -> bool {
        !self.acs_urls.is_empty()
            || self.audience.is_some()
            || self.sp_metadata.is_some()
            || self.name_id.is_some()
            || self.sign.is_some()
            || !self.sp_certs.is_empty()
            || self.want_signed_requests
            || self.slo_url.is_some()
            || self.slo_binding.is_some()
            || self.allow_unsigned_logout.is_some()
    }
}

/// Refuses SAML options on an application without a SAML provider.
pub fn check_unused(args: &SamlArgs, provider: Option<ProviderChoice>, alg: Option<SigningAlgArg>) -> CmdResult {
    if provider != Some(ProviderChoice::Saml) {
        if args.any_given() {
            return Err(Failure::input(
                "--acs-url, --audience, --sp-metadata, --name-id, --sign, --sp-cert, --slo-* and --allow-unsigned-logout need --provider saml",
            ));
        }
        if alg.is_some_and(|a| a.saml().is_some()) {
            return Err(Failure::input(
                "--signing-alg rsa-sha256|rsa-sha512|ecdsa-sha256 needs --provider saml",
            ));
        }
    }
    Ok(())
}

fn read(path: &std::path::Path) -> CmdResult<String> {
    std::fs::read_to_string(path).map_err(|e| Failure::input(format!("{}: {e}", path.display())))
}

/// The SAML provider the options describe, checked.
pub fn spec(args: &SamlArgs, alg: Option<SigningAlgArg>) -> CmdResult<ProviderSpec> {
    Ok(merge(None, args, alg)?.provider_spec())
}

/// The settings: `base` (an existing application's, for `app update`) with
/// the options given applied on top (lists replace).
fn merge(base: Option<SamlConfig>, args: &SamlArgs, alg: Option<SigningAlgArg>) -> CmdResult<SamlConfig> {
    let signing_alg = match alg {
        None => base.as_ref().map_or(SignatureAlg::RsaSha256, |b| b.signing_alg),
        Some(a) => a.saml().ok_or_else(|| {
            Failure::input("--provider saml takes --signing-alg rsa-sha256, rsa-sha512 or ecdsa-sha256")
        })?,
    };
    let mut acs_urls = args.acs_urls.clone();
    let mut audience = args.audience.clone();
    let mut sp_certs = Vec::new();
    let mut want = args.want_signed_requests;
    let mut slo = args.slo_url.clone().map(|u| (u, None));
    if let Some(path) = &args.sp_metadata {
        let md = gatehouse_saml::metadata::parse_sp_metadata(&read(path)?)
            .map_err(|e| Failure::input(format!("{}: {e}", path.display())))?;
        if acs_urls.is_empty() {
            acs_urls = md.acs_urls.clone();
        }
        if audience.is_none() {
            audience = Some(md.entity_id.clone());
        }
        sp_certs.extend(md.certs.iter().map(TrustedCert::b64));
        want |= md.authn_requests_signed;
        if slo.is_none()
            && let Some((binding, url)) = md.slo
        {
            let b = if binding == gatehouse_saml::metadata::BINDING_POST {
                "post"
            } else {
                "redirect"
            };
            slo = Some((url, Some(b.to_string())));
        }
    }
    for path in &args.sp_certs {
        let cert = TrustedCert::from_pem_or_b64(&read(path)?)
            .map_err(|e| Failure::input(format!("{}: {e}", path.display())))?;
        sp_certs.push(cert.b64());
    }
    sp_certs.dedup();
    // app update: what was not given stays as it was.
    if let Some(b) = &base {
        if acs_urls.is_empty() {
            acs_urls = b.acs_urls.clone();
        }
        audience = audience.or_else(|| Some(b.audience.clone()));
        if sp_certs.is_empty() {
            sp_certs = b.sp_certs.clone();
        }
        want |= b.want_authn_requests_signed;
        if slo.is_none() {
            slo = b.slo_url.clone().map(|u| (u, b.slo_binding.clone()));
        }
    }
    let slo_binding = match args.slo_binding {
        Some(SloBindingChoice::Post) => Some("post".to_string()),
        Some(SloBindingChoice::Redirect) => Some("redirect".to_string()),
        None => slo.as_ref().and_then(|(_, b)| b.clone()),
    };
    let name_id = args.name_id.or(base.as_ref().map(|b| match b.name_id {
        NameIdKind::Persistent => NameIdChoice::Persistent,
        NameIdKind::Email => NameIdChoice::Email,
        NameIdKind::Transient => NameIdChoice::Transient,
        NameIdKind::Unspecified => NameIdChoice::Unspecified,
        NameIdKind::Username => NameIdChoice::Username,
    }));
    let sign = args.sign.or(base.as_ref().map(|b| match b.sign {
        SignMode::Assertion => SignChoice::Assertion,
        SignMode::Response => SignChoice::Response,
        SignMode::Both => SignChoice::Both,
    }));
    SamlConfig {
        acs_urls,
        audience: audience.ok_or_else(|| Failure::input("--provider saml needs --audience or --sp-metadata"))?,
        name_id: match name_id.unwrap_or(NameIdChoice::Persistent) {
            NameIdChoice::Persistent => NameIdKind::Persistent,
            NameIdChoice::Email => NameIdKind::Email,
            NameIdChoice::Transient => NameIdKind::Transient,
            NameIdChoice::Unspecified => NameIdKind::Unspecified,
            NameIdChoice::Username => NameIdKind::Username,
        },
        sign: match sign.unwrap_or(SignChoice::Assertion) {
            SignChoice::Assertion => SignMode::Assertion,
            SignChoice::Response => SignMode::Response,
            SignChoice::Both => SignMode::Both,
        },
        signing_alg,
        sp_certs,
        want_authn_requests_signed: want,
        slo_url: slo.map(|(u, _)| u),
        slo_binding,
        assertion_valid_secs: base.as_ref().map_or(300, |b| b.assertion_valid_secs),
        allow_unsigned_logout: args
            .allow_unsigned_logout
            .unwrap_or(base.as_ref().is_some_and(|b| b.allow_unsigned_logout)),
    }
    .validate()
    .map_err(|e| Failure::input(format!("invalid SAML setting: {e}")))
}

/// `gatehouse app update SLUG …` for a SAML application.
pub async fn update(
    ctx: &Context,
    dir: &Directory,
    audit: &gatehouse_core::Audit,
    app: &Application,
    args: &SamlArgs,
    alg: Option<SigningAlgArg>,
) -> CmdResult {
    let base = SamlConfig::from_value(&app.provider_config)
        .map_err(|e| Failure::input(format!("stored SAML settings: {e}")))?;
    let cfg = merge(Some(base), args, alg)?;
    let app = dir
        .apps()
        .update_provider(
            audit,
            &app.slug,
            cfg.provider_spec(),
            gatehouse_core::events::action::MODEL_UPDATED,
        )
        .await?;
    if ctx.json {
        return Ok(print_json(&json!({"slug": app.slug, "provider_config": cfg}))?);
    }
    println!("updated application {}", app.slug);
    Ok(())
}

/// Refuses SAML options for `app update` of a non-SAML application.
pub fn check_update(args: &SamlArgs, app: &Application) -> CmdResult {
    if app.provider != Some(ProviderKind::Saml) && args.any_given() {
        return Err(Failure::input(
            "the SAML options need an application with a SAML provider",
        ));
    }
    Ok(())
}

fn urls(ctx: &Context, slug: &str) -> (String, String, String, String) {
    let u = gatehouse_saml::paths::IdpUrls::new(&ctx.settings.external_url, slug);
    (u.metadata, u.sso_redirect, u.sso_post, u.idp_initiated)
}

/// After `app create`: where the SP finds the IdP.
pub fn print_created(ctx: &Context, app: &Application) -> CmdResult {
    let (md, r, p, i) = urls(ctx, &app.slug);
    if ctx.json {
        return Ok(print_json(&json!({
            "slug": app.slug, "id": app.id, "entity_id": md, "metadata_url": md,
            "sso_redirect": r, "sso_post": p, "idp_initiated": i,
        }))?);
    }
    println!("created application {} ({})", app.slug, app.id);
    println!("IdP metadata and entity id: {md}");
    println!("SSO (HTTP-Redirect):        {r}");
    println!("SSO (HTTP-POST):            {p}");
    println!("IdP-initiated sign-in:      {i}");
    Ok(())
}

/// `app show`: the SAML settings.
pub fn show_rows(ctx: &Context, app: &Application, t: &mut Table) {
    if app.provider != Some(ProviderKind::Saml) {
        return;
    }
    let Ok(cfg) = SamlConfig::from_value(&app.provider_config) else {
        t.row([
            "SAML settings".to_string(),
            "not valid (see the server log)".to_string(),
        ]);
        return;
    };
    let (md, ..) = urls(ctx, &app.slug);
    let row = |t: &mut Table, k: &str, v: String| t.row([k.to_string(), v]);
    row(t, "entity id / metadata", md);
    row(t, "audience (SP)", cfg.audience.clone());
    row(t, "ACS URLs", cfg.acs_urls.join("  "));
    row(t, "NameID", cfg.name_id.as_str().into());
    row(t, "signs", cfg.sign.as_str().into());
    row(t, "signing alg", cfg.signing_alg.as_str().into());
    row(
        t,
        "signed requests",
        if cfg.requests_must_be_signed() {
            "required"
        } else {
            "optional"
        }
        .into(),
    );
    row(t, "SLO URL", cfg.slo_url.clone().unwrap_or_else(|| "-".into()));
}
