//! Logical backups, read and written generically from the schema.
//!
//! A backup is every row of every table Gatehouse's migrations create, read in
//! one consistent snapshot (PostgreSQL: one `REPEATABLE READ` read-only
//! transaction; SQLite: one read transaction, which WAL keeps consistent while
//! writers go on). Which tables and columns exist, and in which order they
//! must be loaded, comes from a [`Catalog`] built by running this binary's
//! SQLite migrations in memory up to the backup's schema version: no hand
//! list that goes stale when a migration adds a table. A database holding a
//! table or column the catalog does not know, or a column type it cannot
//! carry, is refused rather than half backed up.
//!
//! Values are typed by the catalog (integer, real, text, blob), so a backup
//! taken on one backend loads into the other. Restoring ([`Loader`]) builds
//! the backup's schema version inside one transaction, loads every row in
//! batched multi-row `INSERT`s, re-counts and commits; the caller migrates
//! forward afterwards.
//!
//! This module knows nothing of files, compression or encryption: the
//! command line's archive format carries what it reads and feeds what it loads.

mod catalog;
mod load;
mod snapshot;
mod value;

pub use catalog::{Catalog, ColumnDef, NOT_BACKED_UP, TableDef, ValueKind};
pub use load::{LoadReport, Loader, TargetState};
pub use snapshot::{RowSink, Snapshot};
pub use value::Value;

use gatehouse_core::StoreError;

/// A batch of rows of one table, each in the catalog's column order.
pub type Rows = Vec<Vec<Value>>;

/// Why a backup or restore cannot go on.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The database holds something the schema does not describe.
    #[error("{0}")]
    UnknownSchema(String),
    /// The backup was made by a newer Gatehouse.
    #[error(
        "the backup is at schema version {found}, newer than this binary knows ({known}); \
         restore it with the Gatehouse version that made it, or a newer one"
    )]
    SchemaTooNew { found: i64, known: i64 },
    /// Restoring would replace data; `--force` allows it.
    #[error("the target database is not empty ({0}); pass --force to replace it")]
    NotEmpty(String),
    /// Rows that do not fit the table they are meant for.
    #[error("{0}")]
    BadRows(String),
    /// After loading, a table does not hold what the backup says it should.
    #[error("{0}")]
    Mismatch(String),
}

impl BackupError {
    /// True when the caller (or the backup file) is at fault, not the system.
    pub fn is_caller_error(&self) -> bool {
        !matches!(self, BackupError::Store(StoreError::Unavailable(_)))
    }
}

/// Checks that a name from a catalog or a backup is a plain lower-case SQL
/// identifier, so it can be written into a statement without quoting.
pub(crate) fn checked_ident(name: &str) -> Result<&str, BackupError> {
    let ok = !name.is_empty()
        && name.len() <= 63
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        && !name.starts_with(|c: char| c.is_ascii_digit());
    if ok {
        Ok(name)
    } else {
        Err(BackupError::UnknownSchema(format!(
            "'{name}' is not a table or column name Gatehouse uses"
        )))
    }
}
