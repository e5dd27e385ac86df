//! Settings: built-in defaults, then an optional TOML file (`GATEHOUSE_CONFIG_FILE`),
//! then the `.env` file (`GATEHOUSE_ENV_FILE`, default `./.env`), then the process
//! environment, each overriding the one before. Every `GATEHOUSE_*` name must be
//! known: a typo stops start-up with one line naming it. Values are checked here,
//! once; the rest of the program receives typed values only.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use gatehouse_core::bootstrap::BootstrapSettings;
use gatehouse_core::password_policy::PasswordPolicy;
use gatehouse_core::session::SessionPolicy;
use gatehouse_core::throttle::ThrottlePolicy;
use gatehouse_crypto::HashParams;

mod file;
mod known;
pub(crate) mod sections;

pub use known::SETTINGS;
use known::{ALIASES, closest};

/// A configuration mistake, named precisely enough to fix in one go.
#[derive(Debug)]
pub struct ConfigError(pub String);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "configuration: {}", self.0)
    }
}

impl std::error::Error for ConfigError {}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Clone)]
pub struct Settings {
    pub env_file: PathBuf,
    pub data_dir: PathBuf,
    pub database_url: String,
    pub listen: SocketAddr,
    pub metrics_listen: Option<SocketAddr>,
    pub external_url: String,
    pub log_format: LogFormat,
    pub log_level: String,
    pub bootstrap: BootstrapSettings,
    pub password_policy: PasswordPolicy,
    pub hash_params: HashParams,
    pub event_retention_days: u32,
    /// `None`: the backend's default pool size.
    pub max_connections: Option<u32>,
    pub branding_title: String,
    pub branding_logo: Option<PathBuf>,
    pub sessions: SessionPolicy,
    pub throttle: ThrottlePolicy,
    pub trusted_proxies: String,
    /// Mail and worker: GATEHOUSE_EMAIL__*, GATEHOUSE_WORKER__*.
    pub mail_worker: crate::mail_settings::MailWorkerSettings,
    /// Test only: GATEHOUSE_TEST_CLOCK_FILE (see `test_clock`).
    pub test_clock_file: Option<PathBuf>,
    /// MFA: GATEHOUSE_SECRET_KEY (the server generates one when unset).
    pub secret_key: Option<String>,
    /// First MFA enrolment and the signed audit-log head (issue 13).
    pub security: crate::security_settings::SecuritySettings,
    /// The LDAP server: GATEHOUSE_LDAP*.
    pub ldap: crate::ldap_settings::LdapSettings,
    pub blueprints: crate::commands::blueprint::BlueprintSettings,
    /// Backups: GATEHOUSE_BACKUP__*.
    pub backup: crate::backup_settings::BackupSettings,
}

// Written by hand: the secret key and a database password must never reach a
// log line; the mail password is hidden by its own Debug.
impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Settings")
            .field("env_file", &self.env_file)
            .field("data_dir", &self.data_dir)
            .field("database_url", &self.database_url_redacted())
            .field("listen", &self.listen)
            .field("metrics_listen", &self.metrics_listen)
            .field("external_url", &self.external_url)
            .field("log_format", &self.log_format)
            .field("log_level", &self.log_level)
            .field("bootstrap", &self.bootstrap)
            .field("mail_worker", &self.mail_worker)
            .field("secret_key", &self.secret_key.as_ref().map(|_| "(set, hidden)"))
            .finish_non_exhaustive()
    }
}

/// Where a value came from, for error messages.
#[derive(Debug, Clone)]
struct Value {
    text: String,
    source: String,
}

impl Settings {
    /// Loads settings from the real environment and files.
    pub fn load() -> Result<Settings, ConfigError> {
        Self::from_vars(std::env::vars().collect())
    }

    /// Loads settings given the process environment (tests pass their own).
    pub fn from_vars(process: BTreeMap<String, String>) -> Result<Settings, ConfigError> {
        let mut vars: BTreeMap<String, Value> = BTreeMap::new();
        let from_process = |name: &str| process.get(name).cloned();

        // 1. Config file, if any.
        if let Some(path) = from_process("GATEHOUSE_CONFIG_FILE") {
            for (k, v) in file::read_toml(Path::new(&path))? {
                vars.insert(
                    k,
                    Value {
                        text: v,
                        source: path.clone(),
                    },
                );
            }
        }
        // 2. The .env file (missing is fine).
        let env_file = from_process("GATEHOUSE_ENV_FILE")
            .or_else(|| vars.get("GATEHOUSE_ENV_FILE").map(|v| v.text.clone()))
            .unwrap_or_else(|| ".env".into());
        let env_path = PathBuf::from(&env_file);
        if env_path.exists() {
            let iter = dotenvy::from_path_iter(&env_path)
                .map_err(|e| ConfigError(format!("cannot read {}: {e}", env_path.display())))?;
            for item in iter {
                let (k, v) = item.map_err(|e| ConfigError(format!("{}: {e}", env_path.display())))?;
                vars.insert(
                    k,
                    Value {
                        text: v,
                        source: env_path.display().to_string(),
                    },
                );
            }
        }
        // 3. The process environment wins.
        for (k, v) in &process {
            vars.insert(
                k.clone(),
                Value {
                    text: v.clone(),
                    source: "environment".into(),
                },
            );
        }
        // Aliases fill in only what the native name does not set.
        for (alias, native) in ALIASES {
            if let Some(v) = vars.get(*alias).cloned() {
                vars.entry(native.to_string()).or_insert(v);
            }
        }
        // Unknown GATEHOUSE_* names are mistakes.
        for (k, v) in &vars {
            if k.starts_with("GATEHOUSE_") && !SETTINGS.iter().any(|(n, _)| n == k) {
                let hint = closest(k).map(|s| format!(" (did you mean {s}?)")).unwrap_or_default();
                return Err(ConfigError(format!("unknown setting {k} in {}{hint}", v.source)));
            }
        }
        Settings::from_values(&vars, env_path)
    }

    fn from_values(vars: &BTreeMap<String, Value>, env_file: PathBuf) -> Result<Settings, ConfigError> {
        let get = |name: &str| {
            vars.get(name)
                .map(|v| v.text.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let bad = |name: &str, why: &str| {
            let source = vars.get(name).map(|v| v.source.as_str()).unwrap_or("default");
            ConfigError(format!("{name} (from {source}) {why}"))
        };
        let read = sections::Reader { get: &get, bad: &bad };
        let data_dir = PathBuf::from(get("GATEHOUSE_DATA_DIR").unwrap_or_else(|| "./data".into()));
        let (log_format, log_level) = read.logging()?;
        Ok(Settings {
            database_url: read.database_url(&data_dir)?,
            listen: read.address("GATEHOUSE_LISTEN", "0.0.0.0:9000")?,
            metrics_listen: read.metrics_listen()?,
            external_url: read.external_url()?,
            log_format,
            log_level,
            backup: crate::backup_settings::parse(&get, &bad, &data_dir)?,
            ldap: crate::ldap_settings::parse(&get, &bad)?,
            mail_worker: crate::mail_settings::parse(&get, &bad)?,
            security: crate::security_settings::parse(&get, &bad)?,
            blueprints: read.blueprints()?,
            branding_title: get("GATEHOUSE_BRANDING_TITLE").unwrap_or_else(|| "Gatehouse".into()),
            branding_logo: read.branding_logo()?,
            sessions: read.sessions()?,
            throttle: read.throttle()?,
            trusted_proxies: read.trusted_proxies()?,
            test_clock_file: get("GATEHOUSE_TEST_CLOCK_FILE").map(PathBuf::from),
            secret_key: get("GATEHOUSE_SECRET_KEY"),
            env_file,
            data_dir,
            bootstrap: BootstrapSettings {
                password: get("GATEHOUSE_BOOTSTRAP_PASSWORD"),
                email: get("GATEHOUSE_BOOTSTRAP_EMAIL"),
                token: get("GATEHOUSE_BOOTSTRAP_TOKEN"),
            },
            password_policy: PasswordPolicy {
                min_chars: read.number("GATEHOUSE_PASSWORD_MIN_LENGTH", 8, 1, 1024)? as usize,
            },
            hash_params: read.hash_params()?,
            event_retention_days: read.number("GATEHOUSE_EVENT_RETENTION_DAYS", 365, 0, 100_000)?,
            max_connections: match get("GATEHOUSE_DATABASE_MAX_CONNECTIONS") {
                None => None,
                Some(_) => Some(read.number("GATEHOUSE_DATABASE_MAX_CONNECTIONS", 0, 1, 1000)?),
            },
        })
    }

    /// The database URL with any password masked, for messages and `status`.
    pub fn database_url_redacted(&self) -> String {
        gatehouse_store::redact_url(&self.database_url)
    }

    /// Where the local server answers, for `status` (0.0.0.0 → 127.0.0.1).
    pub fn local_server_addr(&self) -> SocketAddr {
        let mut addr = self.listen;
        if addr.ip().is_unspecified() {
            addr.set_ip(match addr {
                SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
                SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
            });
        }
        addr
    }
}

/// The Content-Type of a logo file, by extension.
pub fn logo_content_type(path: &Path) -> Option<&'static str> {
    match path.extension()?.to_str()?.to_ascii_lowercase().as_str() {
        "png" => Some("image/png"),
        "svg" => Some("image/svg+xml"),
        "jpg" | "jpeg" => Some("image/jpeg"),
        "webp" => Some("image/webp"),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
