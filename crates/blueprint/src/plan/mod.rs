//! Planning: a blueprint's entries run, in order, against a snapshot of the
//! directory held in memory; the difference between the snapshot and the
//! result is the plan: the steps apply writes in one transaction.
//!
//! - `source` reads blueprint files;
//! - `file` runs one file's entries against the [`State`];
//! - `providers` settles providers once every file has run;
//! - `secrets` compares and hashes the plain-text secrets a plan sets;
//! - `diff` turns the two states into steps ([`Plan::steps`]).

mod diff;
mod file;
mod providers;
mod secrets;
mod source;

use std::collections::HashMap;
use std::path::Path;

use gatehouse_core::{Directory, Timestamp};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::error::BlueprintError;
use crate::state::State;
use file::Planner;

pub use diff::FieldChange;
pub use secrets::{Secrets, prepare};
pub use source::Source;

/// Options of plan and apply.
pub struct Options<'a> {
    /// Unsupported models and fields become warnings (and are skipped).
    pub allow_unsupported: bool,
    /// Extra context (`--context k=v`; the bootstrap's settings).
    pub context: Map<String, Value>,
    pub env: &'a (dyn Fn(&str) -> Option<String> + Sync),
}

pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// `!Env` lookups: the process environment, then an env file (Gatehouse's
/// `.env`, whose settings the server reads without exporting them).
#[derive(Debug, Clone, Default)]
pub struct EnvLookup {
    file: std::collections::BTreeMap<String, String>,
}

impl EnvLookup {
    pub fn with_file(path: Option<&Path>) -> EnvLookup {
        EnvLookup {
            file: path.and_then(|p| crate::sso::envfile::read(p).ok()).unwrap_or_default(),
        }
    }

    pub fn get(&self, name: &str) -> Option<String> {
        std::env::var(name).ok().or_else(|| self.file.get(name).cloned())
    }

    /// `!Env` for an uploaded blueprint: Gatehouse's own settings (and
    /// authentik's names for them: the secret key, the database URL) read as
    /// unset, so directory administration does not reveal the server's secrets.
    pub fn get_for_upload(&self, name: &str) -> Option<String> {
        let own = ["GATEHOUSE_", "AUTHENTIK_"].iter().any(|p| name.starts_with(p));
        if own { None } else { self.get(name) }
    }
}

impl Default for Options<'_> {
    fn default() -> Self {
        Options {
            allow_unsupported: false,
            context: Map::new(),
            env: &process_env,
        }
    }
}

/// One change, for people (`blueprint plan`).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Change {
    /// `create`, `update` or `delete`.
    pub action: &'static str,
    pub model: &'static str,
    pub name: String,
    /// Field by field (`update`), secrets masked.
    pub fields: Vec<FieldChange>,
    /// The blueprint entry responsible.
    pub origin: String,
}

/// The outcome of planning one or more blueprint files.
pub struct Plan {
    pub name: String,
    pub sources: Vec<(String, String, String)>,
    pub before: State,
    pub after: State,
    pub warnings: Vec<String>,
    pub notes: Vec<String>,
    /// object key → entry label, for errors and the plan's `origin`.
    pub origins: HashMap<String, String>,
    pub now: Timestamp,
}

/// A plan for people: its changes (secrets compared, not hashed), the
/// entries that change nothing, and the warnings.
#[derive(Debug, Clone, Serialize)]
pub struct Preview {
    pub changes: Vec<Change>,
    /// Labels of the entries whose objects already are as declared.
    pub unchanged: Vec<String>,
    pub warnings: Vec<String>,
}

impl Plan {
    /// What applying would do (`blueprint plan`, the admin interface).
    pub async fn preview(&self, dir: &Directory) -> gatehouse_core::Result<Preview> {
        let secrets = prepare(dir, self, false).await?;
        let (_, changes) = self.steps(&secrets);
        let changed: std::collections::HashSet<&str> = changes.iter().map(|c| c.origin.as_str()).collect();
        let mut unchanged: Vec<String> = self
            .origins
            .values()
            .filter(|o| !changed.contains(o.as_str()))
            .cloned()
            .collect();
        unchanged.sort_by_key(|l| entry_order(l));
        unchanged.dedup();
        Ok(Preview {
            changes,
            unchanged,
            warnings: self.warnings.clone(),
        })
    }
}

/// An entry label (`file:line: entry N (model)`) as (file, N), to list
/// entries in the order they are written.
fn entry_order(label: &str) -> (String, usize) {
    let (at, rest) = label.split_once(": entry ").unwrap_or((label, ""));
    let file = at.rsplit_once(':').map_or(at, |(f, _)| f);
    let n = rest.split(' ').next().and_then(|n| n.parse().ok()).unwrap_or(0);
    (file.to_string(), n)
}

/// Plans `sources` in order against the current directory.
pub async fn plan(dir: &Directory, sources: &[Source], opts: &Options<'_>) -> Result<Plan, BlueprintError> {
    let before = dir.contents().await.map(State::load).map_err(|e| {
        let file = sources.first().map(|s| s.path.clone()).unwrap_or_default();
        BlueprintError::about_file(file, format!("cannot read the directory: {e}"))
    })?;
    plan_on(before, sources, opts, dir.now())
}

/// Plans against a given state (no I/O but `!File`).
pub fn plan_on(before: State, sources: &[Source], opts: &Options<'_>, now: Timestamp) -> Result<Plan, BlueprintError> {
    let mut run = Planner::new(before.clone(), opts, now);
    let names = sources
        .iter()
        .map(|src| run.run_file(src))
        .collect::<Result<Vec<_>, _>>()?;
    let Planner {
        st: mut after,
        lenient,
        notes,
        origins,
        ..
    } = run;
    let mut warnings = lenient.warnings;
    providers::check_used(&before, &after, &origins, opts.allow_unsupported, &mut warnings)?;
    providers::copy_into_apps(&mut after);
    Ok(Plan {
        name: names.join(", "),
        sources: sources
            .iter()
            .zip(&names)
            .map(|(s, n)| (s.path.clone(), n.clone(), s.hash.clone()))
            .collect(),
        before,
        after,
        warnings,
        notes,
        origins,
        now,
    })
}
