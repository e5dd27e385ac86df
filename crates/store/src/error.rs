//! sqlx errors → [`StoreError`], at the one place they cross into the domain.
//!
//! Messages name the operation and the driver's message or constraint, never a
//! bound value: parameters may be password hashes or token hashes.

use gatehouse_core::StoreError;
use sqlx::error::ErrorKind;

/// Attaches the operation's name to a failed query.
pub(crate) trait Ctx<T> {
    fn ctx(self, op: &'static str) -> Result<T, StoreError>;
}

impl<T> Ctx<T> for Result<T, sqlx::Error> {
    fn ctx(self, op: &'static str) -> Result<T, StoreError> {
        self.map_err(|e| map(e, op))
    }
}

pub(crate) fn map(e: sqlx::Error, op: &'static str) -> StoreError {
    match e {
        sqlx::Error::Database(db) => {
            let code = db.code().map(|c| c.into_owned()).unwrap_or_default();
            match db.kind() {
                ErrorKind::UniqueViolation => StoreError::Conflict(format!(
                    "{op}: a record with this {} already exists",
                    db.constraint()
                        .map(str::to_string)
                        .or_else(|| unique_columns(db.message()))
                        .unwrap_or_else(|| "key".into())
                )),
                ErrorKind::ForeignKeyViolation => {
                    StoreError::Conflict(format!("{op}: a record it refers to does not exist (any more)"))
                }
                _ if is_unavailable_code(&code) => {
                    StoreError::Unavailable(format!("{op}: {} (code {code})", db.message()))
                }
                _ => StoreError::Query(format!("{op}: {} (code {code})", db.message())),
            }
        }
        sqlx::Error::Io(e) => StoreError::Unavailable(format!("{op}: {e}")),
        sqlx::Error::Tls(e) => StoreError::Unavailable(format!("{op}: TLS: {e}")),
        sqlx::Error::PoolTimedOut => {
            StoreError::Unavailable(format!("{op}: timed out waiting for a database connection"))
        }
        sqlx::Error::PoolClosed => StoreError::Unavailable(format!("{op}: the connection pool is closed")),
        sqlx::Error::WorkerCrashed => StoreError::Unavailable(format!("{op}: the database worker stopped")),
        sqlx::Error::Protocol(m) => StoreError::Unavailable(format!("{op}: protocol error: {m}")),
        sqlx::Error::Configuration(e) => StoreError::Unavailable(format!("{op}: configuration: {e}")),
        sqlx::Error::ColumnDecode { index, source } => StoreError::Corrupt(format!("{op}: column {index}: {source}")),
        sqlx::Error::Decode(e) => StoreError::Corrupt(format!("{op}: {e}")),
        other => StoreError::Query(format!("{op}: {other}")),
    }
}

/// SQLite: `UNIQUE constraint failed: users.username_key` → the column list.
fn unique_columns(message: &str) -> Option<String> {
    message.strip_prefix("UNIQUE constraint failed: ").map(str::to_string)
}

/// SQLITE_BUSY / SQLITE_LOCKED and their extended codes.
fn is_sqlite_busy_code(code: &str) -> bool {
    matches!(code, "5" | "6" | "261" | "262" | "517" | "773")
}

/// Another SQLite connection holds the lock.
pub(crate) fn is_busy(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.code().is_some_and(|c| is_sqlite_busy_code(&c)))
}

/// SQLite busy (the busy timeout ran out) and PostgreSQL's connection (08…),
/// resource (53…) and operator-intervention (57…) classes.
fn is_unavailable_code(code: &str) -> bool {
    is_sqlite_busy_code(code) || code.starts_with("08") || code.starts_with("53") || code.starts_with("57")
}
