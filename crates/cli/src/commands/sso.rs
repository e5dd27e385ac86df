//! `gatehouse sso check|fix`: compare the services of the stack manifest
//! (GATEHOUSE_STACK_FILE) with Gatehouse's configuration and the files the
//! services read, and repair the drift.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use gatehouse_blueprint::sso;
use serde_json::json;

use crate::context::Context;
use crate::failure::{CmdResult, Failure};
use crate::output::{Table, print_json};

#[derive(Debug, Subcommand)]
pub enum SsoCmd {
    /// One row per service: ok, or each drift found. Exit 0 clean, 1 drift,
    /// 2 broken manifest.
    Check {
        /// Only this service.
        service: Option<String>,
        #[command(flatten)]
        manifest: ManifestArgs,
    },
    /// Repair a service's drift (or every service's with --all): create or
    /// update the application, rotate a drifted secret and write it to the
    /// service's env file (atomically, previous file kept as .bak), refresh
    /// trust files. A second run changes nothing.
    Fix {
        /// The service to repair.
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        service: Option<String>,
        /// Repair every service.
        #[arg(long)]
        all: bool,
        /// Show what would be repaired without changing anything.
        #[arg(long)]
        dry_run: bool,
        #[command(flatten)]
        manifest: ManifestArgs,
    },
}

#[derive(Debug, Args)]
pub struct ManifestArgs {
    /// The stack manifest (default GATEHOUSE_STACK_FILE).
    #[arg(long, value_name = "FILE|DIR")]
    pub manifest: Option<PathBuf>,
    /// The stack's .env for ${VARIABLE} (default GATEHOUSE_STACK_ENV_FILE, or .env beside the manifest).
    #[arg(long, value_name = "FILE")]
    pub stack_env: Option<PathBuf>,
}

fn load(ctx: &Context, a: &ManifestArgs, only: Option<&str>) -> CmdResult<sso::Manifest> {
    let path = a
        .manifest
        .clone()
        .or_else(|| ctx.settings.blueprints.stack_file.clone())
        .ok_or_else(|| Failure::input("no stack manifest: set GATEHOUSE_STACK_FILE or pass --manifest"))?;
    let env = a
        .stack_env
        .clone()
        .or_else(|| ctx.settings.blueprints.stack_env_file.clone());
    let m = sso::load(&path, env.as_deref()).map_err(|e| Failure::input(format!("broken manifest: {e}")))?;
    if let Some(name) = only
        && m.service(name).is_none()
    {
        return Err(Failure::input(format!("no service '{name}' in the manifest")));
    }
    Ok(m)
}

pub async fn run(ctx: &Context, cmd: SsoCmd) -> CmdResult {
    match cmd {
        SsoCmd::Check { service, manifest } => {
            let m = load(ctx, &manifest, service.as_deref())?;
            let dir = ctx.directory().await?;
            let reports = sso::check(&dir, &ctx.settings.external_url, &m, service.as_deref()).await?;
            let drifted = reports.iter().filter(|r| r.status == "drift").count();
            if ctx.json {
                print_json(&json!({"clean": drifted == 0, "services": reports}))?;
            } else {
                let mut t = Table::new(["SERVICE", "APPLICATION", "TYPE", "STATUS", "DETAIL"]);
                for r in &reports {
                    let kind = serde_json::to_value(r.kind)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_string))
                        .unwrap_or_default();
                    if r.drifts.is_empty() {
                        let detail = if r.status == "unsupported" {
                            "not checked yet (comes with the provider)".to_string()
                        } else {
                            "-".to_string()
                        };
                        t.row([
                            r.service.clone(),
                            r.application.clone(),
                            kind.clone(),
                            r.status.to_string(),
                            detail,
                        ]);
                    }
                    for d in &r.drifts {
                        t.row([
                            r.service.clone(),
                            r.application.clone(),
                            kind.clone(),
                            d.kind.to_string(),
                            d.detail.clone(),
                        ]);
                    }
                }
                t.print()?;
            }
            if drifted > 0 {
                return Err(Failure::runtime(format!(
                    "drift in {drifted} service(s): `gatehouse sso fix --all` repairs it"
                )));
            }
            Ok(())
        }
        SsoCmd::Fix {
            service,
            all,
            dry_run,
            manifest,
        } => {
            let only = if all { None } else { service.as_deref() };
            let m = load(ctx, &manifest, only)?;
            let dir = ctx.directory().await?;
            let repairs = sso::fix(&dir, &ctx.audit(), &ctx.settings.external_url, &m, only, dry_run)
                .await
                .map_err(|e| match e {
                    sso::FixError::Core(c) => Failure::from(c),
                    sso::FixError::Io(m) => Failure::runtime(m),
                })?;
            if ctx.json {
                return Ok(print_json(&json!({"dry_run": dry_run, "repairs": repairs}))?);
            }
            if repairs.is_empty() {
                println!("nothing to repair");
            }
            for r in &repairs {
                let verb = if dry_run { "would" } else { "did" };
                println!("{}: {verb} {}", r.service, r.action);
            }
            Ok(())
        }
    }
}
