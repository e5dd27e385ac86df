//! `gatehouse blueprint …`: plan, apply and export blueprints (authentik's
//! declarative YAML), and list the applied state of each file.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use gatehouse_blueprint::plan::{EnvLookup, Options, Source};
use gatehouse_blueprint::{ApplyError, Change, SourcesError, export};
use serde_json::{Map, Value, json};

use crate::context::Context;
use crate::failure::{CmdResult, Failure};
use crate::output::{Table, print_json};

/// Settings of blueprints and the SSO drift check (GATEHOUSE_BLUEPRINTS_*, GATEHOUSE_STACK_*).
#[derive(Debug, Clone, Default)]
pub struct BlueprintSettings {
    pub dir: Option<PathBuf>,
    pub interval_secs: u64,
    pub watch_secs: u64,
    pub stack_file: Option<PathBuf>,
    pub stack_env_file: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum BlueprintCmd {
    /// Show what applying would create, change (field by field, secrets
    /// masked) and delete, without changing anything.
    Plan(ApplyArgs),
    /// Apply blueprints: all files in one transaction, everything or nothing.
    Apply(ApplyArgs),
    /// Write the current configuration as a blueprint (secrets as !Env references).
    Export {
        /// Write to FILE instead of standard output.
        #[arg(long, short, value_name = "FILE")]
        output: Option<PathBuf>,
        /// Also export what can be: users' password hashes. Client secrets and
        /// API token keys are stored hashed and stay !Env references.
        #[arg(long)]
        include_secrets: bool,
    },
    /// List the applied state of each blueprint file (hash, time, result).
    List,
}

#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// Blueprint files, or directories of *.yaml files.
    #[arg(required = true, value_name = "FILE|DIR")]
    pub paths: Vec<PathBuf>,
    /// Context for !Context: KEY=VALUE (repeat).
    #[arg(long = "context", value_name = "KEY=VALUE")]
    pub context: Vec<String>,
    /// Report unsupported models and fields as warnings and skip them.
    #[arg(long)]
    pub allow_unsupported: bool,
}

fn sources(paths: &[PathBuf]) -> CmdResult<Vec<Source>> {
    let mut out = Vec::new();
    for p in paths {
        out.extend(Source::read_all(p).map_err(|e| Failure::input(e.to_string()))?);
    }
    if out.is_empty() {
        return Err(Failure::input("no blueprint files (*.yaml) found"));
    }
    Ok(out)
}

fn context(pairs: &[String]) -> CmdResult<Map<String, Value>> {
    let mut m = Map::new();
    for p in pairs {
        let (k, v) = p
            .split_once('=')
            .ok_or_else(|| Failure::input(format!("--context {p}: expected KEY=VALUE")))?;
        m.insert(k.trim().to_string(), Value::from(v.to_string()));
    }
    Ok(m)
}

fn print_changes(changes: &[Change], warnings: &[String], verb: &str) {
    if changes.is_empty() {
        println!("no changes");
    }
    for c in changes {
        let sign = match c.action {
            "create" => "+",
            "delete" => "-",
            _ => "~",
        };
        println!("{sign} {} {} {}", c.action, c.model, c.name);
        if c.action != "delete" {
            for f in &c.fields {
                if f.from.is_null() {
                    println!("    {}: {}", f.field, f.to);
                } else {
                    println!("    {}: {} → {}", f.field, f.from, f.to);
                }
            }
        }
    }
    let count = |a: &str| changes.iter().filter(|c| c.action == a).count();
    println!(
        "{verb}: {} to create, {} to change, {} to delete",
        count("create"),
        count("update"),
        count("delete")
    );
    if !warnings.is_empty() {
        println!("warnings (unsupported, skipped):");
        for w in warnings {
            println!("  {w}");
        }
    }
}

pub async fn run(ctx: &Context, cmd: BlueprintCmd) -> CmdResult {
    let dir = ctx.directory().await?;
    match cmd {
        BlueprintCmd::Plan(a) => {
            let srcs = sources(&a.paths)?;
            let lookup = EnvLookup::with_file(Some(&ctx.settings.env_file));
            let env = |name: &str| lookup.get(name);
            let opts = Options {
                allow_unsupported: a.allow_unsupported,
                context: context(&a.context)?,
                env: &env,
            };
            let plan = gatehouse_blueprint::plan(&dir, &srcs, &opts)
                .await
                .map_err(|e| Failure::input(e.to_string()))?;
            let preview = plan.preview(&dir).await?;
            if ctx.json {
                return Ok(print_json(
                    &json!({"changes": preview.changes, "warnings": preview.warnings}),
                )?);
            }
            print_changes(&preview.changes, &preview.warnings, "plan");
            Ok(())
        }
        BlueprintCmd::Apply(a) => {
            let srcs = sources(&a.paths)?;
            let lookup = EnvLookup::with_file(Some(&ctx.settings.env_file));
            let env = |name: &str| lookup.get(name);
            let opts = Options {
                allow_unsupported: a.allow_unsupported,
                context: context(&a.context)?,
                env: &env,
            };
            match gatehouse_blueprint::plan_and_apply(&dir, &ctx.audit(), &srcs, &opts).await {
                Ok(done) => {
                    if ctx.json {
                        return Ok(print_json(
                            &json!({"changes": done.changes, "warnings": done.warnings}),
                        )?);
                    }
                    print_changes(&done.changes, &done.warnings, "applied");
                    Ok(())
                }
                Err(e @ (SourcesError::Plan(_) | SourcesError::Apply(ApplyError::Entry { .. }))) => {
                    Err(Failure::input(e.to_string()))
                }
                Err(SourcesError::Apply(ApplyError::Core(c))) => Err(c.into()),
            }
        }
        BlueprintCmd::Export {
            output,
            include_secrets,
        } => {
            let ex = export::export(&dir, include_secrets).await?;
            match output {
                Some(path) => {
                    gatehouse_blueprint::sso::envfile::write_atomic(&path, ex.yaml.as_bytes(), None, false)?;
                    eprintln!("wrote {}", path.display());
                }
                None => print!("{}", ex.yaml),
            }
            for n in &ex.notes {
                eprintln!("note: {n}");
            }
            if !ex.env.is_empty() {
                eprintln!(
                    "note: applying this export needs {} set (secrets are stored hashed and are referenced with !Env)",
                    ex.env.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>().join(", ")
                );
            }
            Ok(())
        }
        BlueprintCmd::List => {
            let list = dir.blueprints().instances().await?;
            if ctx.json {
                return Ok(print_json(&list)?);
            }
            let mut t = Table::new(["PATH", "NAME", "RESULT", "APPLIED", "CHANGES", "HASH", "MESSAGE"]);
            for i in &list {
                t.row([
                    i.path.clone(),
                    i.name.clone(),
                    i.result.clone(),
                    i.applied_at.to_rfc3339(),
                    i.changes.to_string(),
                    i.hash.chars().take(12).collect(),
                    i.message.clone(),
                ]);
            }
            t.print()?;
            Ok(())
        }
    }
}

/// Applies GATEHOUSE_BLUEPRINTS_DIR (the server does so before it is ready);
/// with `watch`, where the worker runs, then re-applies it when a file changes
/// and periodically (see `gatehouse_blueprint::watch`).
pub async fn start_watch(
    ctx: &Context,
    dir: &gatehouse_core::Directory,
    shutdown: tokio::sync::watch::Receiver<bool>,
    watch: bool,
) {
    let s = &ctx.settings.blueprints;
    let Some(path) = s.dir.clone() else { return };
    let env_file = Some(ctx.settings.env_file.clone());
    let (changes, ok) = gatehouse_blueprint::watch::apply_dir(dir, &path, env_file.as_deref()).await;
    tracing::info!(dir = %path.display(), changes, "blueprints applied");
    if !watch {
        return;
    }
    let settings = gatehouse_blueprint::watch::WatchSettings {
        dir: path,
        poll: std::time::Duration::from_secs(s.watch_secs.max(1)),
        interval: (s.interval_secs > 0).then(|| std::time::Duration::from_secs(s.interval_secs)),
        env_file,
        start_failed: !ok,
    };
    tokio::spawn(gatehouse_blueprint::watch::run(dir.clone(), settings, shutdown));
}
