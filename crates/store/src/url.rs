//! Database URLs: which backend a URL names, how it is handed to sqlx, and how it
//! is shown to people (never with its password).

use std::time::Duration;

use gatehouse_core::StoreError;
use uuid::Uuid;

/// The SQL dialects the store speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// The name `gatehouse status` shows.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgresql",
        }
    }

    /// Pool size when the operator sets none.
    ///
    /// SQLite admits one writer at a time (write transactions queue on the file
    /// lock whatever the pool size), so a large pool only adds idle connections and
    /// page caches. A few connections are still needed: readers run beside the
    /// writer in WAL mode, and a request may read through the pool while another
    /// holds a write transaction. PostgreSQL's connections are server processes;
    /// five serve an identity provider's load without crowding `max_connections`.
    pub fn default_pool_size(self) -> u32 {
        match self {
            Backend::Sqlite => 4,
            Backend::Postgres => 5,
        }
    }
}

/// How to connect.
#[derive(Debug, Clone, Default)]
pub struct ConnectOptions {
    /// Pool size; `None` picks [`Backend::default_pool_size`].
    pub max_connections: Option<u32>,
    /// How long to wait for a free connection; `None` means 10 s.
    pub acquire_timeout: Option<Duration>,
}

/// A parsed database URL.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    pub backend: Backend,
    /// The URL handed to sqlx (SQLite: normalised, see [`parse`]).
    pub sqlx_url: String,
    /// An in-memory SQLite database, which lives only as long as a connection to it.
    pub in_memory: bool,
}

/// Recognises `sqlite://PATH`, `sqlite:PATH`, `sqlite::memory:`,
/// `postgres://…` and `postgresql://…`.
///
/// SQLite URLs are rewritten so that the file is created when missing
/// (`mode=rwc`, unless the URL sets a mode) and so that `:memory:` names one
/// shared in-memory database: sqlx's own `:memory:` handling would give every
/// pooled connection a separate, empty database.
pub(crate) fn parse(url: &str) -> Result<Target, StoreError> {
    let url = url.trim();
    let Some((scheme, rest)) = url.split_once(':') else {
        return Err(StoreError::Unavailable(
            "the database URL has no scheme; use sqlite://PATH or postgres://…".into(),
        ));
    };
    match scheme.to_ascii_lowercase().as_str() {
        "sqlite" => Ok(sqlite_target(rest)),
        "postgres" | "postgresql" => Ok(Target {
            backend: Backend::Postgres,
            sqlx_url: url.to_string(),
            in_memory: false,
        }),
        other => Err(StoreError::Unavailable(format!(
            "unsupported database URL scheme '{}'; use sqlite://… or postgres://…",
            other.chars().take(32).collect::<String>()
        ))),
    }
}

fn sqlite_target(rest: &str) -> Target {
    let rest = rest.strip_prefix("//").unwrap_or(rest);
    let (path, query) = match rest.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (rest, None),
    };
    let mode_memory = query.is_some_and(|q| q.split('&').any(|kv| kv == "mode=memory"));
    if path == ":memory:" || path.is_empty() || mode_memory {
        return Target {
            backend: Backend::Sqlite,
            sqlx_url: format!("sqlite:file:gatehouse-memory-{}?mode=memory", Uuid::new_v4().simple()),
            in_memory: true,
        };
    }
    let query = match query.filter(|q| !q.is_empty()) {
        Some(q) if q.split('&').any(|kv| kv.starts_with("mode=")) => q.to_string(),
        Some(q) => format!("{q}&mode=rwc"),
        None => "mode=rwc".to_string(),
    };
    // `sqlite:PATH` (no `//`): the URL parser keeps such a path verbatim, where
    // `sqlite://rel/path` would read `rel` as a host name.
    Target {
        backend: Backend::Sqlite,
        sqlx_url: format!("sqlite:{path}?{query}"),
        in_memory: false,
    }
}

/// The URL with any `user:password@` replaced, for messages and logs.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rfind('@') {
        Some(at) => format!("{scheme}://***@{}{tail}", &authority[at + 1..]),
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_urls() {
        let t = parse("sqlite:///var/lib/gatehouse/db.sqlite").unwrap();
        assert_eq!(t.backend, Backend::Sqlite);
        assert_eq!(t.sqlx_url, "sqlite:/var/lib/gatehouse/db.sqlite?mode=rwc");
        assert!(!t.in_memory);
        let t = parse("sqlite:data/gh.db").unwrap();
        assert_eq!(t.sqlx_url, "sqlite:data/gh.db?mode=rwc");
        let t = parse("sqlite://data/gh.db?mode=ro").unwrap();
        assert_eq!(t.sqlx_url, "sqlite:data/gh.db?mode=ro");
        let t = parse("sqlite://gh.db?cache=private").unwrap();
        assert_eq!(t.sqlx_url, "sqlite:gh.db?cache=private&mode=rwc");
    }

    #[test]
    fn memory_urls_name_one_shared_database() {
        let a = parse("sqlite::memory:").unwrap();
        let b = parse("sqlite::memory:").unwrap();
        assert!(a.in_memory);
        assert!(a.sqlx_url.starts_with("sqlite:file:gatehouse-memory-"));
        assert!(a.sqlx_url.ends_with("?mode=memory"));
        assert_ne!(a.sqlx_url, b.sqlx_url);
        assert!(parse("sqlite://:memory:").unwrap().in_memory);
    }

    #[test]
    fn postgres_and_others() {
        let t = parse("postgres://u:pw@db:5432/gh").unwrap();
        assert_eq!(t.backend, Backend::Postgres);
        assert_eq!(t.sqlx_url, "postgres://u:pw@db:5432/gh");
        assert_eq!(parse("postgresql://db/gh").unwrap().backend, Backend::Postgres);
        let e = parse("mysql://root:secret@db/gh").unwrap_err().to_string();
        assert!(e.contains("unsupported database URL scheme 'mysql'"), "{e}");
        assert!(!e.contains("secret"));
        assert!(parse("just-a-path.db").is_err());
    }

    #[test]
    fn redaction() {
        assert_eq!(
            redact_url("postgres://u:pw@db:5432/gh?sslmode=require"),
            "postgres://***@db:5432/gh?sslmode=require"
        );
        assert_eq!(redact_url("postgres://db/gh"), "postgres://db/gh");
        assert_eq!(redact_url("postgres://u:p@ss@db/gh"), "postgres://***@db/gh");
        assert_eq!(redact_url("sqlite:///x.db"), "sqlite:///x.db");
    }
}
