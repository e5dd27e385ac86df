//! `gatehouse app …`

use gatehouse_core::{Audit, Directory};

use crate::cli::{AppCmd, AppCreateArgs, ProviderChoice};
use crate::context::Context;
use crate::failure::{CmdResult, Failure};
use crate::output::{Table, print_json};

pub async fn run(ctx: &Context, cmd: AppCmd) -> CmdResult {
    let dir = ctx.directory().await?;
    let audit = ctx.audit();
    match cmd {
        AppCmd::List => {
            let apps = dir.apps().list().await?;
            if ctx.json {
                return Ok(print_json(&apps)?);
            }
            let mut t = Table::new(["SLUG", "NAME", "PROVIDER", "ACCESS", "LAUNCH URL"]);
            for a in &apps {
                t.row([
                    a.app.slug.clone(),
                    a.app.name.clone(),
                    a.app.provider.map_or("-", |p| p.as_str()).to_string(),
                    access_label(&a.bound_groups),
                    a.app.launch_url.clone().unwrap_or_else(|| "-".into()),
                ]);
            }
            t.print()?;
        }
        AppCmd::Show { slug } => {
            let a = dir.apps().get(&slug).await?;
            if ctx.json {
                return Ok(print_json(&a)?);
            }
            let mut t = Table::new(["FIELD", "VALUE"]);
            t.row(["slug".to_string(), a.app.slug.clone()]);
            t.row(["id".to_string(), a.app.id.to_string()]);
            t.row(["name".to_string(), a.app.name.clone()]);
            t.row([
                "provider".to_string(),
                a.app.provider.map_or("-", |p| p.as_str()).to_string(),
            ]);
            t.row([
                "launch URL".to_string(),
                a.app.launch_url.clone().unwrap_or_else(|| "-".into()),
            ]);
            t.row(["access".to_string(), access_label(&a.bound_groups)]);
            crate::commands::app_oidc::show_rows(ctx, &a.app, &mut t);
            crate::commands::app_proxy::show_rows(&a.app, &mut t);
            crate::commands::app_saml::show_rows(ctx, &a.app, &mut t);
            crate::commands::app_ldap::show_rows(&a.app, &mut t);
            t.row(["created".to_string(), a.app.created_at.to_rfc3339()]);
            t.print()?;
        }
        AppCmd::Create(args) => create(ctx, &dir, &audit, *args).await?,
        AppCmd::Update(args) => crate::commands::app_oidc::update(ctx, &dir, &audit, *args).await?,
        AppCmd::Secret(cmd) => crate::commands::app_oidc::secret(ctx, &dir, &audit, cmd).await?,
        AppCmd::Delete { slug } => {
            dir.apps().delete(&audit, &slug).await?;
            println!("deleted application {slug}");
        }
        AppCmd::Bind { slug, group } => {
            let changed = dir.apps().bind(&audit, &slug, &group).await?;
            println!(
                "{}",
                if changed {
                    format!("{slug} is now restricted to {group}")
                } else {
                    format!("{slug} was already bound to {group}")
                }
            );
        }
        AppCmd::Unbind { slug, group } => {
            let changed = dir.apps().unbind(&audit, &slug, &group).await?;
            println!(
                "{}",
                if changed {
                    format!("removed binding {slug} → {group}")
                } else {
                    format!("{slug} was not bound to {group}")
                }
            );
        }
    }
    Ok(())
}

async fn create(ctx: &Context, dir: &Directory, audit: &Audit, args: AppCreateArgs) -> CmdResult {
    let mut oidc_secret = None; // the new client secret, printed once
    if args.oidc.any() && args.provider != Some(ProviderChoice::Oidc) {
        return Err(Failure::input(
            "the OIDC options (--redirect-uri, --public, …) need --provider oidc",
        ));
    }
    // Check the groups first: a typo must not leave a half-made application.
    for g in &args.allow_groups {
        dir.groups().get(g).await?;
    }
    crate::commands::app_proxy::check_unused(&args.proxy, args.provider)?;
    crate::commands::app_saml::check_unused(&args.saml, args.provider, args.oidc.signing_alg)?;
    crate::commands::app_ldap::check_unused(&args.ldap, args.provider)?;
    let provider = match args.provider {
        None => None,
        Some(ProviderChoice::Proxy) => Some(crate::commands::app_proxy::spec(dir, &args.proxy).await?),
        Some(ProviderChoice::Oidc) => {
            let (spec, secret) = crate::commands::app_oidc::create_spec(dir, &args.slug, &args.oidc).await?;
            oidc_secret = secret;
            Some(spec)
        }
        Some(ProviderChoice::Saml) => Some(crate::commands::app_saml::spec(&args.saml, args.oidc.signing_alg)?),
        Some(ProviderChoice::Ldap) => Some(crate::commands::app_ldap::create_spec(dir, &args.ldap).await?),
        #[allow(unreachable_patterns)]
        Some(other) => {
            return Err(Failure::input(format!(
                "--provider {other:?} is not available in this version of gatehouse"
            )));
        }
    };
    let app = dir
        .apps()
        .create_with(
            audit,
            &args.slug,
            &args.name,
            // forward-auth: a single-host proxy application links to its host by default
            args.launch_url
                .clone()
                .or_else(|| crate::commands::app_proxy::launch_url(&args.proxy, args.provider))
                .as_deref(),
            provider,
        )
        .await?;
    for g in &args.allow_groups {
        dir.apps().bind(audit, &app.slug, g).await?;
    }
    if app.provider == Some(gatehouse_core::ProviderKind::Oidc) {
        return crate::commands::app_oidc::print_created(ctx, &app, oidc_secret.as_deref());
    }
    if app.provider == Some(gatehouse_core::ProviderKind::Saml) {
        return crate::commands::app_saml::print_created(ctx, &app);
    }
    if app.provider == Some(gatehouse_core::ProviderKind::Ldap) {
        return crate::commands::app_ldap::print_created(ctx, &app);
    }
    if ctx.json {
        return Ok(print_json(&app)?);
    }
    println!("created application {} ({})", app.slug, app.id);
    Ok(())
}

fn access_label(groups: &[String]) -> String {
    if groups.is_empty() {
        "all users".into()
    } else {
        groups.join(", ")
    }
}
