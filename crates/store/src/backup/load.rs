//! Loading a backup into a database, in one transaction.

use std::collections::BTreeMap;

use sqlx::{Any, AnyConnection, AssertSqlSafe, Transaction};

use super::{BackupError, Catalog, NOT_BACKED_UP, Rows, TableDef, Value, ValueKind};
use crate::error::Ctx;
use crate::url::Backend;
use crate::{KNOWN_SCHEMA_VERSION, SqlStore};

/// Bind parameters per statement: well under SQLite's 32,766 and
/// PostgreSQL's 65,535, and large enough that a round trip carries ~1,000 rows.
const MAX_PARAMS: usize = 10_000;
const MAX_ROWS_PER_INSERT: usize = 1_000;
/// SQLite page cache of the restoring connection (KiB, as `cache_size`
/// takes it negative). With the default 2 MiB, one large transaction spills
/// index pages to the WAL and writes them again and again; 256 MiB keeps a
/// directory of 100,000 users' indexes in memory (bounded, unlike
/// `cache_spill = OFF`).
const SQLITE_RESTORE_CACHE_KIB: i64 = 256 * 1024;

/// What a database holds before a restore.
#[derive(Debug, Clone)]
pub struct TargetState {
    /// 0 when it was never migrated.
    pub schema_version: i64,
    /// Rows per table beyond those the migrations insert.
    pub rows: Vec<(String, i64)>,
}

impl TargetState {
    pub fn is_empty(&self) -> bool {
        self.rows.iter().all(|(_, n)| *n == 0)
    }

    /// "3 users, 2 groups, 41 events" (non-empty tables only).
    pub fn describe(&self) -> String {
        let parts: Vec<String> = self
            .rows
            .iter()
            .filter(|(_, n)| *n > 0)
            .map(|(t, n)| format!("{n} {t}"))
            .collect();
        if parts.is_empty() {
            "nothing".into()
        } else {
            parts.join(", ")
        }
    }
}

/// Rows loaded per table.
#[derive(Debug, Clone, Default)]
pub struct LoadReport {
    pub rows: BTreeMap<String, i64>,
}

/// A restore in progress: one open transaction on the target.
pub struct Loader {
    tx: Transaction<'static, Any>,
    backend: Backend,
    catalog: Catalog,
    loaded: BTreeMap<String, i64>,
    /// (table, column, key values, value) of self-references set at the end.
    deferred: Vec<(usize, usize, Vec<Value>, Value)>,
}

impl SqlStore {
    /// What the database holds now, for the empty check and `--force`'s message.
    pub async fn restore_target(&self) -> Result<TargetState, BackupError> {
        let mut conn = self.pool().acquire().await.ctx("inspect the target database")?;
        target_state(&mut conn, self.backend()).await
    }

    /// Starts a restore of a backup at `catalog`'s schema version: inside one
    /// transaction, replaces whatever schema the database has (refused when
    /// it holds data, unless `replace`) with the backup's, ready for rows.
    /// Nothing is visible to others until [`Loader::finish`] commits.
    pub async fn begin_restore(&self, catalog: Catalog, replace: bool) -> Result<Loader, BackupError> {
        let backend = self.backend();
        let mut tx = match backend {
            Backend::Sqlite => self.pool().begin_with("BEGIN IMMEDIATE").await,
            Backend::Postgres => self.pool().begin().await,
        }
        .ctx("begin the restore")?;
        if backend == Backend::Sqlite {
            sqlx::raw_sql(AssertSqlSafe(format!(
                "PRAGMA cache_size = -{SQLITE_RESTORE_CACHE_KIB}"
            )))
            .execute(&mut *tx)
            .await
            .ctx("size the restore's page cache")?;
        }
        if backend == Backend::Postgres {
            // Servers starting meanwhile wait for the restore before migrating.
            sqlx::query("SELECT 1 AS locked FROM (SELECT pg_advisory_xact_lock($1)) AS l")
                .bind(crate::migrate::PG_MIGRATION_LOCK)
                .fetch_one(&mut *tx)
                .await
                .ctx("take the migration lock")?;
        }
        let state = target_state(&mut tx, backend).await?;
        if !state.is_empty() && !replace {
            return Err(BackupError::NotEmpty(state.describe()));
        }
        if state.schema_version > 0 {
            drop_schema(&mut tx, backend, state.schema_version).await?;
        }
        crate::migrate::apply_through(&mut tx, backend, catalog.schema_version).await?;
        // The migrations seed a few rows (the event chain's start); the backup has its own.
        for t in catalog.tables.iter().rev() {
            sqlx::query(AssertSqlSafe(format!("DELETE FROM {}", t.name)))
                .execute(&mut *tx)
                .await
                .ctx("clear seeded rows")?;
        }
        Ok(Loader {
            tx,
            backend,
            catalog,
            loaded: BTreeMap::new(),
            deferred: Vec::new(),
        })
    }
}

/// Schema version and content rows of the database on `conn`.
async fn target_state(conn: &mut AnyConnection, backend: Backend) -> Result<TargetState, BackupError> {
    let schema_version = crate::migrate::version(conn, backend).await?;
    if schema_version > KNOWN_SCHEMA_VERSION {
        return Err(BackupError::UnknownSchema(format!(
            "the target database is at schema version {schema_version}, newer than this binary knows \
             ({KNOWN_SCHEMA_VERSION}); restore with a newer Gatehouse or into another database"
        )));
    }
    if schema_version == 0 {
        return Ok(TargetState {
            schema_version,
            rows: Vec::new(),
        });
    }
    let catalog = Catalog::at_version(schema_version).await?;
    let mut rows = Vec::new();
    for t in &catalog.tables {
        let n: i64 = sqlx::query_scalar(AssertSqlSafe(format!("SELECT COUNT(*) FROM {}", t.name)))
            .fetch_one(&mut *conn)
            .await
            .ctx("count rows")?;
        rows.push((t.name.clone(), (n - t.seeded_rows).max(0)));
    }
    Ok(TargetState { schema_version, rows })
}

/// Drops every table of schema `version`, children first, and the migration record.
async fn drop_schema(conn: &mut AnyConnection, backend: Backend, version: i64) -> Result<(), BackupError> {
    let catalog = Catalog::at_version(version).await?;
    let cascade = if backend == Backend::Postgres { " CASCADE" } else { "" };
    let names = catalog
        .tables
        .iter()
        .rev()
        .map(|t| t.name.as_str())
        .chain(NOT_BACKED_UP.iter().copied());
    for name in names {
        sqlx::query(AssertSqlSafe(format!("DROP TABLE IF EXISTS {name}{cascade}")))
            .execute(&mut *conn)
            .await
            .ctx("drop the old schema")?;
    }
    Ok(())
}

impl Loader {
    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// Inserts rows of `table` (each in the catalog's column order), in
    /// multi-row statements.
    pub async fn insert(&mut self, table: &str, mut rows: Rows) -> Result<(), BackupError> {
        let index = self
            .catalog
            .tables
            .iter()
            .position(|t| t.name == table)
            .ok_or_else(|| BackupError::BadRows(format!("the backup has rows of an unknown table {table}")))?;
        let def = &self.catalog.tables[index];
        for row in &mut rows {
            check_row(def, row)?;
            for name in &def.self_refs {
                if let Some(col) = def.column_index(name)
                    && !row[col].is_null()
                {
                    let key = key_of(def, row);
                    let value = std::mem::replace(&mut row[col], Value::Null);
                    self.deferred.push((index, col, key, value));
                }
            }
        }
        let per_statement = (MAX_PARAMS / def.columns.len().max(1)).clamp(1, MAX_ROWS_PER_INSERT);
        for chunk in rows.chunks(per_statement) {
            let sql = insert_sql(def, chunk.len(), self.backend);
            let mut q = sqlx::query(AssertSqlSafe(sql));
            for row in chunk {
                for (v, c) in row.iter().zip(&def.columns) {
                    q = bind(q, v, c.kind);
                }
            }
            q.execute(&mut *self.tx).await.ctx("restore rows")?;
        }
        *self.loaded.entry(def.name.clone()).or_default() += rows.len() as i64;
        Ok(())
    }

    /// Sets deferred self-references, re-counts every table against what was
    /// loaded and `expected` (the backup's own counts), and commits.
    pub async fn finish(mut self, expected: &BTreeMap<String, i64>) -> Result<LoadReport, BackupError> {
        for (index, col, key, value) in std::mem::take(&mut self.deferred) {
            let def = &self.catalog.tables[index];
            let (sql, kinds) = update_sql(def, col);
            let mut q = sqlx::query(AssertSqlSafe(sql)).bind_value(&value, def.columns[col].kind);
            for (v, k) in key.iter().zip(kinds) {
                q = q.bind_value(v, k);
            }
            q.execute(&mut *self.tx).await.ctx("restore references")?;
        }
        if self.backend == Backend::Postgres {
            reset_sequences(&mut self.tx).await?;
        }
        let mut report = LoadReport::default();
        for t in &self.catalog.tables {
            let n: i64 = sqlx::query_scalar(AssertSqlSafe(format!("SELECT COUNT(*) FROM {}", t.name)))
                .fetch_one(&mut *self.tx)
                .await
                .ctx("count restored rows")?;
            let loaded = self.loaded.get(&t.name).copied().unwrap_or(0);
            let wanted = expected.get(&t.name).copied().unwrap_or(0);
            if n != loaded || n != wanted {
                return Err(BackupError::Mismatch(format!(
                    "table {} holds {n} rows after loading {loaded}; the backup lists {wanted}: nothing was restored",
                    t.name
                )));
            }
            report.rows.insert(t.name.clone(), n);
        }
        if let Some(extra) = expected.keys().find(|k| self.catalog.table(k).is_none()) {
            return Err(BackupError::Mismatch(format!(
                "the backup lists table {extra}, which schema version {} does not have",
                self.catalog.schema_version
            )));
        }
        self.tx.commit().await.ctx("commit the restore")?;
        Ok(report)
    }
}

fn check_row(def: &TableDef, row: &[Value]) -> Result<(), BackupError> {
    if row.len() != def.columns.len() {
        return Err(BackupError::BadRows(format!(
            "a row of {} has {} values for {} columns",
            def.name,
            row.len(),
            def.columns.len()
        )));
    }
    Ok(())
}

fn key_of(def: &TableDef, row: &[Value]) -> Vec<Value> {
    def.primary_key
        .iter()
        .filter_map(|k| def.column_index(k))
        .map(|i| row[i].clone())
        .collect()
}

/// `INSERT INTO t (a, b) VALUES ($1, $2), ($3, $4)…` on PostgreSQL, with
/// anonymous `?` on SQLite: SQLite looks a numbered `$N` up by scanning its
/// list of named parameters, so binding ten thousand of them costs ten
/// thousand squared (a million-event restore took minutes).
fn insert_sql(def: &TableDef, rows: usize, backend: Backend) -> String {
    let cols: Vec<&str> = def.columns.iter().map(|c| c.name.as_str()).collect();
    let mut sql = format!("INSERT INTO {} ({}) VALUES ", def.name, cols.join(", "));
    let mut n = 0;
    for r in 0..rows {
        if r > 0 {
            sql.push_str(", ");
        }
        sql.push('(');
        for c in 0..cols.len() {
            n += 1;
            if c > 0 {
                sql.push_str(", ");
            }
            match backend {
                Backend::Sqlite => sql.push('?'),
                Backend::Postgres => {
                    sql.push('$');
                    sql.push_str(&n.to_string());
                }
            }
        }
        sql.push(')');
    }
    sql
}

/// `UPDATE t SET col = $1 WHERE k1 = $2 AND …` and the key columns' kinds.
fn update_sql(def: &TableDef, col: usize) -> (String, Vec<ValueKind>) {
    let mut sql = format!("UPDATE {} SET {} = $1 WHERE ", def.name, def.columns[col].name);
    let mut kinds = Vec::new();
    for (i, k) in def.primary_key.iter().enumerate() {
        if i > 0 {
            sql.push_str(" AND ");
        }
        sql.push_str(&format!("{k} = ${}", i + 2));
        if let Some(c) = def.column_index(k) {
            kinds.push(def.columns[c].kind);
        }
    }
    (sql, kinds)
}

type Query<'q> = sqlx::query::Query<'q, Any, sqlx::any::AnyArguments>;

/// Binds a value with its column's type, NULL included, so PostgreSQL sees
/// the right parameter type in a multi-row `VALUES` list.
fn bind<'q>(q: Query<'q>, v: &Value, kind: ValueKind) -> Query<'q> {
    match (v, kind) {
        (Value::Int(i), _) => q.bind(*i),
        (Value::Real(f), _) => q.bind(*f),
        (Value::Text(s), _) => q.bind(s.clone()),
        (Value::Blob(b), _) => q.bind(b.clone()),
        (Value::Null, ValueKind::Integer) => q.bind(None::<i64>),
        (Value::Null, ValueKind::Real) => q.bind(None::<f64>),
        (Value::Null, ValueKind::Text) => q.bind(None::<String>),
        (Value::Null, ValueKind::Blob) => q.bind(None::<Vec<u8>>),
    }
}

trait BindValue<'q> {
    fn bind_value(self, v: &Value, kind: ValueKind) -> Self;
}

impl<'q> BindValue<'q> for Query<'q> {
    fn bind_value(self, v: &Value, kind: ValueKind) -> Self {
        bind(self, v, kind)
    }
}

/// Serial columns (none in today's schema) continue after the restored rows.
async fn reset_sequences(conn: &mut AnyConnection) -> Result<(), BackupError> {
    let serials: Vec<(String, String)> = sqlx::query_as(
        "SELECT table_name::text, column_name::text FROM information_schema.columns \
         WHERE table_schema = current_schema() AND column_default LIKE 'nextval(%'",
    )
    .fetch_all(&mut *conn)
    .await
    .ctx("list sequences")?;
    for (table, column) in serials {
        let (table, column) = (super::checked_ident(&table)?, super::checked_ident(&column)?);
        sqlx::query(AssertSqlSafe(format!(
            "SELECT 1 AS done FROM (SELECT setval(pg_get_serial_sequence('{table}', '{column}'), \
             COALESCE((SELECT MAX({column}) FROM {table}), 0) + 1, false)) AS s"
        )))
        .fetch_one(&mut *conn)
        .await
        .ctx("reset a sequence")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insert_statements_number_their_parameters() {
        let def = TableDef {
            name: "t".into(),
            columns: vec![
                super::super::ColumnDef {
                    name: "a".into(),
                    kind: ValueKind::Integer,
                },
                super::super::ColumnDef {
                    name: "b".into(),
                    kind: ValueKind::Text,
                },
            ],
            primary_key: vec!["a".into()],
            self_refs: vec![],
            depends_on: vec![],
            seeded_rows: 0,
        };
        assert_eq!(
            insert_sql(&def, 2, Backend::Postgres),
            "INSERT INTO t (a, b) VALUES ($1, $2), ($3, $4)"
        );
        assert_eq!(
            insert_sql(&def, 2, Backend::Sqlite),
            "INSERT INTO t (a, b) VALUES (?, ?), (?, ?)"
        );
        assert_eq!(update_sql(&def, 1).0, "UPDATE t SET b = $1 WHERE a = $2");
    }
}
