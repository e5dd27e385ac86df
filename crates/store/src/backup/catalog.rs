//! What a backup holds, derived from the migrations themselves.
//!
//! [`Catalog::at_version`] runs this binary's SQLite migrations up to a schema
//! version in an in-memory database and reads back its tables, columns,
//! primary keys and foreign keys. The PostgreSQL migrations create the same
//! tables and columns (the store's conformance suite runs one set of queries
//! on both), and [`check_live`] verifies that of the database at hand before
//! anything is read from it.

use std::collections::BTreeSet;

use sqlx::{AnyConnection, AssertSqlSafe, Connection, Row};

use super::{BackupError, checked_ident};
use crate::error::Ctx;
use crate::url::Backend;

/// Tables a backup leaves out: the migration record (a restore writes its own
/// by building the schema) and facts about the database server, which
/// belong to the server the data lives on, not to the data.
pub const NOT_BACKED_UP: &[&str] = &["schema_migrations", "database_facts"];

/// How a column's values are carried.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ValueKind {
    Integer,
    Real,
    Text,
    Blob,
}

impl ValueKind {
    /// SQLite's type affinity rules (section 3.1 of its "Datatypes" page),
    /// minus NUMERIC, which a portable schema does not use.
    fn from_sqlite_decl(decl: &str) -> Option<ValueKind> {
        let d = decl.to_ascii_uppercase();
        if d.contains("INT") {
            Some(ValueKind::Integer)
        } else if d.contains("CHAR") || d.contains("CLOB") || d.contains("TEXT") {
            Some(ValueKind::Text)
        } else if d.contains("BLOB") || d.contains("BYTEA") {
            Some(ValueKind::Blob)
        } else if d.contains("REAL") || d.contains("FLOA") || d.contains("DOUB") {
            Some(ValueKind::Real)
        } else {
            None
        }
    }

    /// `information_schema.columns.data_type` on PostgreSQL.
    fn from_postgres_type(data_type: &str) -> Option<ValueKind> {
        match data_type {
            "smallint" | "integer" | "bigint" => Some(ValueKind::Integer),
            "text" | "character varying" | "character" => Some(ValueKind::Text),
            "bytea" => Some(ValueKind::Blob),
            "real" | "double precision" => Some(ValueKind::Real),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ColumnDef {
    pub name: String,
    pub kind: ValueKind,
}

#[derive(Debug, Clone)]
pub struct TableDef {
    pub name: String,
    pub columns: Vec<ColumnDef>,
    /// Primary-key columns in key order (rows are read in this order).
    pub primary_key: Vec<String>,
    /// Nullable columns referring to this same table (a group's parent):
    /// loaded as NULL first and set once every row is in.
    pub self_refs: Vec<String>,
    /// Tables this one refers to (loaded before it).
    pub depends_on: Vec<String>,
    /// Rows the migrations themselves insert (the event chain's genesis).
    pub seeded_rows: i64,
}

impl TableDef {
    pub fn column_index(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.name == name)
    }
}

/// Every table a backup at one schema version holds, in load order.
#[derive(Debug, Clone)]
pub struct Catalog {
    pub schema_version: i64,
    pub tables: Vec<TableDef>,
}

impl Catalog {
    /// Builds the catalog of `version` from this binary's migrations.
    pub async fn at_version(version: i64) -> Result<Catalog, BackupError> {
        if !crate::migrate::is_known_version(version) {
            return Err(BackupError::SchemaTooNew {
                found: version,
                known: crate::KNOWN_SCHEMA_VERSION,
            });
        }
        sqlx::any::install_default_drivers();
        let mut conn = AnyConnection::connect("sqlite::memory:")
            .await
            .ctx("open the schema catalog")?;
        for script in crate::migrate::sqlite_scripts(version) {
            sqlx::raw_sql(AssertSqlSafe(script))
                .execute(&mut conn)
                .await
                .ctx("build the schema catalog")?;
        }
        let mut tables = Vec::new();
        for name in sqlite_tables(&mut conn).await? {
            if NOT_BACKED_UP.contains(&name.as_str()) {
                continue;
            }
            tables.push(sqlite_table(&mut conn, &name).await?);
        }
        let _ = conn.close().await;
        Ok(Catalog {
            schema_version: version,
            tables: load_order(tables)?,
        })
    }

    pub fn table(&self, name: &str) -> Option<&TableDef> {
        self.tables.iter().find(|t| t.name == name)
    }
}

async fn sqlite_tables(conn: &mut AnyConnection) -> Result<Vec<String>, BackupError> {
    // sqlite_master's rowid is creation order: a stable tie-break for load order.
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY rowid",
    )
    .fetch_all(&mut *conn)
    .await
    .ctx("list tables")?;
    Ok(names)
}

async fn sqlite_table(conn: &mut AnyConnection, name: &str) -> Result<TableDef, BackupError> {
    let name = checked_ident(name)?.to_string();
    let rows = sqlx::query("SELECT name, type, pk FROM pragma_table_info($1) ORDER BY cid")
        .bind(&name)
        .fetch_all(&mut *conn)
        .await
        .ctx("read table columns")?;
    let mut columns = Vec::new();
    let mut keyed: Vec<(i64, String)> = Vec::new();
    for r in rows {
        let col: String = r.try_get(0).ctx("read table columns")?;
        let decl: String = r.try_get(1).ctx("read table columns")?;
        let pk: i64 = r.try_get(2).ctx("read table columns")?;
        let kind = ValueKind::from_sqlite_decl(&decl).ok_or_else(|| {
            BackupError::UnknownSchema(format!(
                "column {name}.{col} has type {decl}, which a backup cannot carry"
            ))
        })?;
        checked_ident(&col)?;
        if pk > 0 {
            keyed.push((pk, col.clone()));
        }
        columns.push(ColumnDef { name: col, kind });
    }
    keyed.sort();
    let fks = sqlx::query("SELECT \"table\", \"from\" FROM pragma_foreign_key_list($1)")
        .bind(&name)
        .fetch_all(&mut *conn)
        .await
        .ctx("read foreign keys")?;
    let mut self_refs = Vec::new();
    let mut depends_on = BTreeSet::new();
    for fk in fks {
        let target: String = fk.try_get(0).ctx("read foreign keys")?;
        let from: String = fk.try_get(1).ctx("read foreign keys")?;
        if target == name {
            self_refs.push(from);
        } else {
            depends_on.insert(target);
        }
    }
    let seeded_rows: i64 = sqlx::query_scalar(AssertSqlSafe(format!("SELECT COUNT(*) FROM {name}")))
        .fetch_one(&mut *conn)
        .await
        .ctx("count seeded rows")?;
    Ok(TableDef {
        name,
        columns,
        primary_key: keyed.into_iter().map(|(_, c)| c).collect(),
        self_refs,
        depends_on: depends_on.into_iter().collect(),
        seeded_rows,
    })
}

/// Parents before children, otherwise creation order. A cycle across tables
/// could not be loaded with immediate foreign keys, so it is refused.
fn load_order(mut rest: Vec<TableDef>) -> Result<Vec<TableDef>, BackupError> {
    let mut ordered: Vec<TableDef> = Vec::with_capacity(rest.len());
    while !rest.is_empty() {
        let ready = rest.iter().position(|t| {
            t.depends_on
                .iter()
                .all(|d| ordered.iter().any(|o| &o.name == d) || !rest.iter().any(|r| &r.name == d))
        });
        match ready {
            Some(i) => ordered.push(rest.remove(i)),
            None => {
                let names: Vec<&str> = rest.iter().map(|t| t.name.as_str()).collect();
                return Err(BackupError::UnknownSchema(format!(
                    "tables {} refer to each other in a cycle; a backup could not load them",
                    names.join(", ")
                )));
            }
        }
    }
    Ok(ordered)
}

/// Refuses a database whose tables or columns differ from the catalog: a
/// table the catalog does not list would be silently left out of the backup.
pub(crate) async fn check_live(
    conn: &mut AnyConnection,
    backend: Backend,
    catalog: &Catalog,
) -> Result<(), BackupError> {
    let live = live_columns(conn, backend).await?;
    let mut names: BTreeSet<&str> = live.iter().map(|(t, _, _)| t.as_str()).collect();
    for table in &catalog.tables {
        let cols: Vec<(&str, &str)> = live
            .iter()
            .filter(|(t, _, _)| t == &table.name)
            .map(|(_, c, k)| (c.as_str(), k.as_str()))
            .collect();
        if cols.is_empty() {
            return Err(BackupError::UnknownSchema(format!(
                "table {} of schema version {} is missing from the database",
                table.name, catalog.schema_version
            )));
        }
        for (col, ty) in &cols {
            let expected = table.columns.iter().find(|c| c.name == *col);
            let kind = match backend {
                Backend::Sqlite => ValueKind::from_sqlite_decl(ty),
                Backend::Postgres => ValueKind::from_postgres_type(ty),
            };
            if expected.map(|c| Some(c.kind)) != Some(kind) {
                return Err(BackupError::UnknownSchema(format!(
                    "column {}.{col} ({ty}) is not part of Gatehouse's schema version {}; \
                     a backup would not know how to restore it",
                    table.name, catalog.schema_version
                )));
            }
        }
        if cols.len() != table.columns.len() {
            return Err(BackupError::UnknownSchema(format!(
                "table {} lacks columns of schema version {}",
                table.name, catalog.schema_version
            )));
        }
        names.remove(table.name.as_str());
    }
    for skipped in NOT_BACKED_UP {
        names.remove(skipped);
    }
    if let Some(stranger) = names.first() {
        return Err(BackupError::UnknownSchema(format!(
            "table {stranger} is not part of Gatehouse's schema version {}; a backup would not know \
             how to restore it (move it to another schema or database)",
            catalog.schema_version
        )));
    }
    Ok(())
}

/// (table, column, declared type) of every base table in the database.
async fn live_columns(
    conn: &mut AnyConnection,
    backend: Backend,
) -> Result<Vec<(String, String, String)>, BackupError> {
    let rows = match backend {
        Backend::Sqlite => {
            sqlx::query(
                "SELECT m.name, p.name, p.type FROM sqlite_master m, pragma_table_info(m.name) p \
                 WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%'",
            )
            .fetch_all(&mut *conn)
            .await
        }
        Backend::Postgres => {
            sqlx::query(
                "SELECT c.table_name::text, c.column_name::text, c.data_type::text \
                 FROM information_schema.columns c JOIN information_schema.tables t \
                   ON t.table_schema = c.table_schema AND t.table_name = c.table_name \
                 WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE'",
            )
            .fetch_all(&mut *conn)
            .await
        }
    }
    .ctx("list the database's tables")?;
    rows.iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
        .collect::<Result<Vec<_>, sqlx::Error>>()
        .ctx("list the database's tables")
        .map_err(Into::into)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_catalog_lists_every_table_parents_first() {
        let c = Catalog::at_version(crate::KNOWN_SCHEMA_VERSION).await.unwrap();
        let pos = |n: &str| c.tables.iter().position(|t| t.name == n).unwrap();
        assert!(pos("users") < pos("memberships"));
        assert!(pos("groups") < pos("memberships"));
        assert!(pos("oauth_grants") < pos("oauth_codes"));
        assert!(c.table("schema_migrations").is_none());
        assert!(c.table("database_facts").is_none());
        let groups = c.table("groups").unwrap();
        assert_eq!(groups.self_refs, vec!["parent_id".to_string()]);
        assert_eq!(c.table("events").unwrap().primary_key, vec!["seq".to_string()]);
        assert_eq!(c.table("event_chain").unwrap().seeded_rows, 1);
        let users = c.table("users").unwrap();
        assert_eq!(
            users.columns[users.column_index("is_active").unwrap()].kind,
            ValueKind::Integer
        );
        // Version 1 has the directory only.
        let v1 = Catalog::at_version(1).await.unwrap();
        assert!(v1.table("users").is_some() && v1.table("sessions").is_none());
        assert!(
            v1.table("applications")
                .unwrap()
                .column_index("provider_config")
                .is_none()
        );
    }

    #[tokio::test]
    async fn an_unknown_version_is_refused() {
        let e = Catalog::at_version(crate::KNOWN_SCHEMA_VERSION + 1).await.unwrap_err();
        assert!(matches!(e, BackupError::SchemaTooNew { .. }), "{e}");
    }

    #[test]
    fn types_map_to_kinds() {
        assert_eq!(ValueKind::from_sqlite_decl("BIGINT"), Some(ValueKind::Integer));
        assert_eq!(ValueKind::from_sqlite_decl("SMALLINT"), Some(ValueKind::Integer));
        assert_eq!(ValueKind::from_sqlite_decl("TEXT"), Some(ValueKind::Text));
        assert_eq!(ValueKind::from_sqlite_decl("NUMERIC"), None);
        assert_eq!(ValueKind::from_postgres_type("jsonb"), None);
        assert_eq!(ValueKind::from_postgres_type("smallint"), Some(ValueKind::Integer));
    }

    #[test]
    fn a_cycle_is_refused() {
        let t = |n: &str, d: &str| TableDef {
            name: n.into(),
            columns: vec![],
            primary_key: vec![],
            self_refs: vec![],
            depends_on: vec![d.into()],
            seeded_rows: 0,
        };
        assert!(load_order(vec![t("a", "b"), t("b", "a")]).is_err());
        let ok = load_order(vec![t("a", "b"), t("b", "c")]).unwrap();
        assert_eq!(ok[0].name, "b");
    }
}
