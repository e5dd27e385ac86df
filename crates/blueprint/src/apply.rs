//! Applying a plan: secrets resolved first (argon2 only for passwords the
//! blueprint sets and that differ), then every step in ONE write transaction
//! together with the applied state of each file. Any failure rolls back all
//! of it and names the entry.

use gatehouse_core::blueprint_apply::{BlueprintInstance, Step, apply_steps};
use gatehouse_core::{Audit, Directory, WriteTx};
use serde::Serialize;

use crate::plan::{Change, Plan, prepare};

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
pub async fn write(
    tx: &mut dyn WriteTx,
    dir: &Directory,
    audit: &Audit,
    plan: &Plan,
    steps: &[Step],
) -> Result<(), ApplyError> {
    apply_steps(tx, audit, &plan.name, steps, dir.now(), false)
        .await
        .map_err(|e| ApplyError::Entry {
            origin: e.origin,
            message: e.error.to_string(),
        })?;
    for (path, name, hash) in &plan.sources {
        tx.put_blueprint_instance(&BlueprintInstance {
            path: path.clone(),
            name: name.clone(),
            hash: hash.clone(),
            applied_at: dir.now(),
            result: "applied".into(),
            message: if plan.warnings.is_empty() {
                String::new()
            } else {
                format!("{} warning(s)", plan.warnings.len())
            },
            changes: steps.len() as i64,
        })
        .await
        .map_err(gatehouse_core::Error::from)?;
    }
    Ok(())
}

/// Applies a plan: everything or nothing.
pub async fn apply(dir: &Directory, audit: &Audit, plan: &Plan) -> Result<Applied, ApplyError> {
    let (steps, changes) = resolve(dir, plan).await?;
    let mut tx = dir.store().begin().await.map_err(gatehouse_core::Error::from)?;
    match write(&mut *tx, dir, audit, plan, &steps).await {
        Ok(()) => {
            tx.commit().await.map_err(gatehouse_core::Error::from)?;
            Ok(Applied {
                changes,
                warnings: plan.warnings.clone(),
            })
        }
        Err(e) => {
            drop(tx);
            Err(e)
        }
    }
}

/// Records a failed apply of these files (in its own transaction: the
/// failed one was rolled back).
pub async fn record_failure(dir: &Directory, files: &[(String, String, String)], message: &str) {
    let result: gatehouse_core::Result<()> = async {
        let mut tx = dir.store().begin().await?;
        for (path, name, hash) in files {
            tx.put_blueprint_instance(&BlueprintInstance {
                path: path.clone(),
                name: name.clone(),
                hash: hash.clone(),
                applied_at: dir.now(),
                result: "failed".into(),
                message: message.chars().take(500).collect(),
                changes: 0,
            })
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }
    .await;
    if let Err(e) = result {
        tracing::warn!(error = %e, "could not record the failed blueprint apply");
    }
}
