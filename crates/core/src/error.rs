//! The domain's error type. Each variant says whether the caller asked for
//! something wrong (bad input, unknown name: exit 2 / HTTP 4xx) or the system
//! failed (database down: exit 1 / HTTP 5xx). Messages are written for people and
//! never contain a secret.

use gatehouse_crypto::password::HashError;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{kind} '{name}' not found")]
    NotFound { kind: &'static str, name: String },
    #[error("{kind} '{name}' already exists")]
    AlreadyExists { kind: &'static str, name: String },
    #[error("invalid {field}: {reason}")]
    Invalid { field: &'static str, reason: String },
    #[error("password rejected: {0}")]
    PasswordRejected(String),
    #[error("{0}")]
    Refused(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("password hashing failed: {0}")]
    Hash(#[from] HashError),
}

impl Error {
    pub fn not_found(kind: &'static str, name: impl Into<String>) -> Self {
        Error::NotFound {
            kind,
            name: name.into(),
        }
    }

    pub fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
        Error::Invalid {
            field,
            reason: reason.into(),
        }
    }

    /// True when the caller's request was at fault (unknown name, bad value,
    /// refused operation) rather than the system.
    pub fn is_caller_error(&self) -> bool {
        match self {
            Error::Store(e) => matches!(e, StoreError::Conflict(_)),
            Error::Hash(_) => false,
            _ => true,
        }
    }

    /// A stable, machine-readable code for API bodies and logs.
    pub fn code(&self) -> &'static str {
        match self {
            Error::NotFound { .. } => "not_found",
            Error::AlreadyExists { .. } => "already_exists",
            Error::Invalid { .. } => "invalid",
            Error::PasswordRejected(_) => "password_rejected",
            Error::Refused(_) => "refused",
            Error::Store(StoreError::Conflict(_)) => "conflict",
            Error::Store(StoreError::SchemaTooNew { .. }) => "schema_too_new",
            Error::Store(_) => "store_unavailable",
            Error::Hash(_) => "internal",
        }
    }
}

/// What storage reports. Backends convert their driver errors into these at the
/// store boundary, so no SQL type leaks into the domain.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database unavailable: {0}")]
    Unavailable(String),
    #[error(
        "the database schema is version {found}, newer than this binary knows ({known}); \
         upgrade gatehouse or point it at another database"
    )]
    SchemaTooNew { found: i64, known: i64 },
    #[error("conflicting change: {0}")]
    Conflict(String),
    #[error("stored data is not valid: {0}")]
    Corrupt(String),
    #[error("database error: {0}")]
    Query(String),
}
