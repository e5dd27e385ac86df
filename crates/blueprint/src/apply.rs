//! Applying a plan: secrets resolved first (argon2 only for passwords the
//! blueprint sets and that differ), then every step in ONE write transaction
//! together with the applied state of each file. Any failure rolls back all
//! of it and names the entry.

use gatehouse_core::blueprints::{BlueprintInstance, record_instance};
use gatehouse_core::{Audit, Directory, Tx};
use serde::Serialize;

use crate::plan::{Change, Plan, prepare};
use crate::steps::{Step, apply_steps};

/// What an apply did.
#[derive(Debug, Clone, Serialize)]
pub struct Applied {
    pub changes: Vec<Change>,
    pub warnings: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// A step failed: nothing was written.
    #[error("{origin}: {message} (nothing was applied)")]
    Entry { origin: String, message: String },
    #[error(transparent)]
    Core(#[from] gatehouse_core::Error),
}

/// The steps of a plan, secrets resolved.
pub async fn resolve(dir: &Directory, plan: &Plan) -> Result<(Vec<Step>, Vec<Change>), ApplyError> {
    let secrets = prepare(dir, plan, true).await?;
    Ok(plan.steps(&secrets))
}

/// Writes the steps into `tx` and records each file's applied state (the
/// caller commits; the bootstrap claims in the same transaction).
pub async fn write(tx: &mut Tx<'_>, plan: &Plan, steps: &[Step], summarised: bool) -> Result<(), ApplyError> {
    apply_steps(tx, steps, summarised)
        .await
        .map_err(|e| ApplyError::Entry {
            origin: e.origin,
            message: e.error.to_string(),
        })?;
    for (path, name, hash) in &plan.sources {
        let instance = BlueprintInstance {
            path: path.clone(),
            name: name.clone(),
            hash: hash.clone(),
            applied_at: tx.now(),
            result: "applied".into(),
            message: if plan.warnings.is_empty() {
                String::new()
            } else {
                format!("{} warning(s)", plan.warnings.len())
            },
            changes: steps.len() as i64,
        };
        record_instance(tx, &instance).await?;
    }
    Ok(())
}

/// Applies a plan: everything or nothing.
pub async fn apply(dir: &Directory, audit: &Audit, plan: &Plan) -> Result<Applied, ApplyError> {
    let (steps, changes) = resolve(dir, plan).await?;
    let mut tx = dir.write(&audit.from_blueprint(&plan.name)).await?;
    write(&mut tx, plan, &steps, false).await?;
    tx.commit().await?;
    Ok(Applied {
        changes,
        warnings: plan.warnings.clone(),
    })
}

/// Records a failed apply of these files (in its own transaction: the
/// failed one was rolled back).
pub async fn record_failure(dir: &Directory, files: &[(String, String, String)], message: &str) {
    let instances: Vec<BlueprintInstance> = files
        .iter()
        .map(|(path, name, hash)| BlueprintInstance {
            path: path.clone(),
            name: name.clone(),
            hash: hash.clone(),
            applied_at: dir.now(),
            result: "failed".into(),
            message: message.chars().take(500).collect(),
            changes: 0,
        })
        .collect();
    if let Err(e) = dir.blueprints().record_failure(&Audit::system(), &instances).await {
        tracing::warn!(error = %e, "could not record the failed blueprint apply");
    }
}

/// Why [`plan_and_apply`] wrote nothing.
#[derive(Debug, thiserror::Error)]
pub enum SourcesError {
    /// The files do not plan (broken YAML, unknown model, bad reference…).
    #[error("{0} (nothing was applied)")]
    Plan(crate::BlueprintError),
    #[error(transparent)]
    Apply(#[from] ApplyError),
}

/// Plans `sources` and applies the plan (`blueprint apply`, the admin
/// interface); a failure is recorded in the files' applied state.
pub async fn plan_and_apply(
    dir: &Directory,
    audit: &Audit,
    sources: &[crate::Source],
    opts: &crate::Options<'_>,
) -> Result<Applied, SourcesError> {
    let plan = match crate::plan(dir, sources, opts).await {
        Ok(p) => p,
        Err(e) => {
            let files: Vec<_> = sources
                .iter()
                .map(|s| (s.path.clone(), s.path.clone(), s.hash.clone()))
                .collect();
            record_failure(dir, &files, &e.to_string()).await;
            return Err(SourcesError::Plan(e));
        }
    };
    match apply(dir, audit, &plan).await {
        Ok(done) => Ok(done),
        Err(e) => {
            record_failure(dir, &plan.sources, &e.to_string()).await;
            Err(e.into())
        }
    }
}
