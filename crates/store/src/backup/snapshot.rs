//! Reading a consistent snapshot of the whole database while it serves.

use futures_util::TryStreamExt;
use sqlx::any::AnyRow;
use sqlx::{Any, AssertSqlSafe, Row, Transaction};

use super::catalog::check_live;
use super::{BackupError, Catalog, Rows, TableDef, Value, ValueKind};
use crate::SqlStore;
use crate::error::Ctx;
use crate::url::Backend;

/// Where [`Snapshot::read_table`] hands its batches (an archive writer, a loader).
pub trait RowSink: Send {
    fn accept(&mut self, rows: Rows) -> impl Future<Output = Result<(), BackupError>> + Send;
}

/// One read transaction over every table of the schema.
pub struct Snapshot {
    tx: Transaction<'static, Any>,
    catalog: Catalog,
    server_version: Option<String>,
}

impl SqlStore {
    /// Opens a snapshot: PostgreSQL `REPEATABLE READ READ ONLY` (every table
    /// as of one moment, writers never blocked); SQLite a deferred read
    /// transaction, which in WAL mode sees one commit point however long it
    /// reads while writers go on. Refuses a database whose tables differ from
    /// the schema its version says it has.
    pub async fn snapshot(&self) -> Result<Snapshot, BackupError> {
        let backend = self.backend();
        let mut tx = match backend {
            Backend::Postgres => {
                self.pool()
                    .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                    .await
            }
            Backend::Sqlite => self.pool().begin().await,
        }
        .ctx("open the backup snapshot")?;
        // The first read fixes SQLite's snapshot.
        let version = crate::migrate::version(&mut tx, backend).await?;
        if version == 0 {
            return Err(BackupError::UnknownSchema(
                "the database has never been migrated: there is nothing to back up".into(),
            ));
        }
        let catalog = Catalog::at_version(version).await?;
        check_live(&mut tx, backend, &catalog).await?;
        let server_version = match backend {
            Backend::Postgres => Some(
                sqlx::query_scalar("SELECT current_setting('server_version')")
                    .fetch_one(&mut *tx)
                    .await
                    .ctx("read the server version")?,
            ),
            Backend::Sqlite => None,
        };
        Ok(Snapshot {
            tx,
            catalog,
            server_version,
        })
    }
}

impl Snapshot {
    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// PostgreSQL's `server_version`; `None` on SQLite.
    pub fn server_version(&self) -> Option<&str> {
        self.server_version.as_deref()
    }

    /// Rows per table, in load order (for progress and the manifest).
    pub async fn counts(&mut self) -> Result<Vec<(String, i64)>, BackupError> {
        let mut out = Vec::with_capacity(self.catalog.tables.len());
        for t in &self.catalog.tables {
            let n: i64 = sqlx::query_scalar(AssertSqlSafe(format!("SELECT COUNT(*) FROM {}", t.name)))
                .fetch_one(&mut *self.tx)
                .await
                .ctx("count rows")?;
            out.push((t.name.clone(), n));
        }
        Ok(out)
    }

    /// Reads every row of `table` in primary-key order and hands them to
    /// `sink` in batches of at most `batch`; returns the number of rows.
    /// Rows are streamed from the database, never all held at once.
    pub async fn read_table<S: RowSink>(
        &mut self,
        table: &TableDef,
        batch: usize,
        sink: &mut S,
    ) -> Result<i64, BackupError> {
        let columns: Vec<&str> = table.columns.iter().map(|c| c.name.as_str()).collect();
        let mut sql = format!("SELECT {} FROM {}", columns.join(", "), table.name);
        if !table.primary_key.is_empty() {
            sql.push_str(" ORDER BY ");
            sql.push_str(&table.primary_key.join(", "));
        }
        let batch = batch.max(1);
        let mut total = 0i64;
        let mut rows: Rows = Vec::with_capacity(batch);
        let mut stream = sqlx::query(AssertSqlSafe(sql)).fetch(&mut *self.tx);
        while let Some(row) = stream.try_next().await.ctx("read a table for the backup")? {
            rows.push(decode(&row, table)?);
            total += 1;
            if rows.len() >= batch {
                sink.accept(std::mem::replace(&mut rows, Vec::with_capacity(batch)))
                    .await?;
            }
        }
        drop(stream);
        if !rows.is_empty() {
            sink.accept(rows).await?;
        }
        Ok(total)
    }

    /// Ends the read transaction.
    pub async fn finish(self) -> Result<(), BackupError> {
        self.tx.rollback().await.ctx("close the backup snapshot")?;
        Ok(())
    }
}

fn decode(row: &AnyRow, table: &TableDef) -> Result<Vec<Value>, BackupError> {
    table
        .columns
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let v = match c.kind {
                ValueKind::Integer => row.try_get::<Option<i64>, _>(i).map(|v| v.map(Value::Int)),
                ValueKind::Real => row.try_get::<Option<f64>, _>(i).map(|v| v.map(Value::Real)),
                ValueKind::Text => row.try_get::<Option<String>, _>(i).map(|v| v.map(Value::Text)),
                ValueKind::Blob => row.try_get::<Option<Vec<u8>>, _>(i).map(|v| v.map(Value::Blob)),
            };
            v.map(|v| v.unwrap_or(Value::Null)).map_err(|e| {
                BackupError::BadRows(format!(
                    "{}.{} holds a value that is not {:?}: {e}",
                    table.name, c.name, c.kind
                ))
            })
        })
        .collect()
}
