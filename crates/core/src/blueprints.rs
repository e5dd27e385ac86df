//! What blueprint apply records besides its changes: the applied state of
//! each file (`gatehouse blueprint list`). The changes themselves go through
//! the single-object writes of each domain (`users::insert`, …).

use serde::Serialize;

use crate::clock::Timestamp;
use crate::context::Blueprints;
use crate::error::Result;
use crate::tx::Tx;

/// The applied state of one blueprint file.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct BlueprintInstance {
    /// The file's path as given (or `embedded:NAME` for shipped blueprints).
    pub path: String,
    /// `metadata.name`.
    pub name: String,
    /// SHA-256 of the file's bytes.
    pub hash: String,
    pub applied_at: Timestamp,
    /// `applied` or `failed`.
    pub result: String,
    pub message: String,
    /// How many steps the last apply made.
    pub changes: i64,
}

impl Blueprints<'_> {
    /// The applied state of every blueprint file, by path.
    pub async fn instances(self) -> Result<Vec<BlueprintInstance>> {
        Ok(self.store().blueprint_instances().await?)
    }

    /// Records a failed apply of these files, in a transaction of its own
    /// (the failed one was rolled back).
    pub async fn record_failure(self, audit: &crate::Audit, instances: &[BlueprintInstance]) -> Result<()> {
        let mut tx = self.write(audit).await?;
        for instance in instances {
            record_instance(&mut tx, instance).await?;
        }
        tx.commit().await
    }
}

/// Records (or replaces) the applied state of one file, in the apply's change.
pub async fn record_instance(tx: &mut Tx<'_>, instance: &BlueprintInstance) -> Result<()> {
    Ok(tx.raw().put_blueprint_instance(instance).await?)
}
