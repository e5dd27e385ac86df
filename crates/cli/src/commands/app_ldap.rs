//! The LDAP side of `gatehouse app …`: the provider options of `app create`
//! and `app update`, and the provider rows of `app show`. Settings are checked
//! by `gatehouse_ldap::config`; changes go through the Directory services
//! (`create_application_with`, `update_provider`).

use clap::{Args, ValueEnum};
use gatehouse_core::ProviderSpec;
use gatehouse_core::events::action;
use gatehouse_core::{Application, Audit, Directory, ProviderKind};
use gatehouse_ldap::config::{LdapConfig, MfaMode};
use serde_json::json;

use crate::cli::ProviderChoice;
use crate::context::Context;
use crate::failure::{CmdResult, Failure};
use crate::output::{Table, print_json};

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum MfaArg {
    /// Those who use MFA on the web append their code; others need not.
    Optional,
    /// Every bind needs `password;CODE`.
    Required,
}

/// LDAP provider options (with `--provider ldap`, and for `app update`).
#[derive(Debug, Args, Default)]
pub struct LdapArgs {
    /// Where the tree starts (default DC=ldap,DC=goauthentik,DC=io, authentik's).
    #[arg(long, value_name = "DN")]
    pub base_dn: Option<String>,
    /// Members of GROUP (or of groups nested in it) may search the whole
    /// directory; other accounts see only their own entry.
    #[arg(long, value_name = "GROUP")]
    pub search_group: Option<String>,
    /// Let every bound account search the whole directory again.
    #[arg(long, conflicts_with = "search_group")]
    pub no_search_group: bool,
    /// When a bind must carry a second factor as `password;CODE`.
    #[arg(long, value_enum)]
    pub mfa: Option<MfaArg>,
    /// uidNumber = this + the user's integer id (default 2000).
    #[arg(long, value_name = "N")]
    pub uid_start: Option<i64>,
    /// gidNumber = this + the group's integer id (default 4000).
    #[arg(long, value_name = "N")]
    pub gid_start: Option<i64>,
}

impl LdapArgs {
    fn any_given(&self) -> bool {
        self.base_dn.is_some()
            || self.search_group.is_some()
            || self.no_search_group
            || self.mfa.is_some()
            || self.uid_start.is_some()
            || self.gid_start.is_some()
    }
}

/// Refuses LDAP options on an application created without `--provider ldap`.
pub fn check_unused(args: &LdapArgs, provider: Option<ProviderChoice>) -> CmdResult {
    if provider != Some(ProviderChoice::Ldap) && args.any_given() {
        return Err(Failure::input(
            "--base-dn, --search-group, --mfa, --uid-start and --gid-start need --provider ldap",
        ));
    }
    Ok(())
}

fn input(e: impl std::fmt::Display) -> Failure {
    Failure::input(format!("invalid LDAP setting: {e}"))
}

/// Applies the options given to `cfg` (the search group is checked with the spec).
fn apply(cfg: &mut LdapConfig, a: &LdapArgs) -> CmdResult {
    if let Some(base) = &a.base_dn {
        cfg.base_dn = base.trim().to_string();
    }
    if let Some(group) = &a.search_group {
        cfg.search_group = Some(group.clone());
    }
    if a.no_search_group {
        cfg.search_group = None;
    }
    if let Some(m) = a.mfa {
        cfg.mfa = match m {
            MfaArg::Optional => MfaMode::Optional,
            MfaArg::Required => MfaMode::Required,
        };
    }
    if let Some(n) = a.uid_start {
        cfg.uid_start_number = n;
    }
    if let Some(n) = a.gid_start {
        cfg.gid_start_number = n;
    }
    cfg.check().map_err(input)
}

/// The provider of a new application.
pub async fn create_spec(dir: &Directory, a: &LdapArgs) -> CmdResult<ProviderSpec> {
    let mut cfg = LdapConfig::new(gatehouse_ldap::config::DEFAULT_BASE_DN).map_err(input)?;
    apply(&mut cfg, a)?;
    Ok(cfg.checked_spec(dir).await?)
}

/// `gatehouse app update SLUG …` for an LDAP application.
pub async fn update(ctx: &Context, dir: &Directory, audit: &Audit, app: &Application, a: &LdapArgs) -> CmdResult {
    let mut cfg = LdapConfig::from_value(&app.provider_config).map_err(input)?;
    apply(&mut cfg, a)?;
    let spec = cfg.checked_spec(dir).await?;
    let app = dir
        .apps()
        .update_provider(audit, &app.slug, spec, action::MODEL_UPDATED)
        .await?;
    if ctx.json {
        return Ok(print_json(&json!({"slug": app.slug, "provider_config": cfg.shown()}))?);
    }
    println!("updated application {}", app.slug);
    Ok(())
}

/// Refuses LDAP options for `app update` of an application of another kind.
pub fn check_update(args: &LdapArgs, app: &Application) -> CmdResult {
    if app.provider != Some(ProviderKind::Ldap) && args.any_given() {
        return Err(Failure::input(
            "the LDAP options need an application with an LDAP provider",
        ));
    }
    Ok(())
}

pub fn print_created(ctx: &Context, app: &Application) -> CmdResult {
    let cfg = LdapConfig::from_value(&app.provider_config).map_err(input)?;
    if ctx.json {
        return Ok(print_json(
            &json!({"slug": app.slug, "id": app.id, "provider_config": cfg.shown()}),
        )?);
    }
    println!("created application {} ({})", app.slug, app.id);
    println!("base DN: {}", cfg.base_dn);
    println!("bind DN: cn=USERNAME,ou=users,{}", cfg.base_dn);
    Ok(())
}

/// The provider rows of `app show`.
pub fn show_rows(app: &Application, t: &mut Table) {
    if app.provider != Some(ProviderKind::Ldap) {
        return;
    }
    let Ok(cfg) = LdapConfig::from_value(&app.provider_config) else {
        return;
    };
    let row = |t: &mut Table, k: &str, v: String| t.row([k.to_string(), v]);
    row(t, "base DN", cfg.base_dn.clone());
    row(t, "users", format!("ou=users,{}", cfg.base_dn));
    row(t, "groups", format!("ou=groups,{}", cfg.base_dn));
    row(
        t,
        "search group",
        cfg.search_group
            .clone()
            .unwrap_or_else(|| "- (every bound account searches)".into()),
    );
    row(t, "MFA", cfg.mfa.as_str().into());
    row(
        t,
        "uid/gid start",
        format!("{} / {}", cfg.uid_start_number, cfg.gid_start_number),
    );
}
