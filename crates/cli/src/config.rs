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
use gatehouse_core::throttle::{Limits, ThrottlePolicy};
use gatehouse_crypto::HashParams;

/// Every setting, by its environment name (the TOML key is the lower-case name
/// without the prefix), with a short description for `--help`-style listings.
pub const SETTINGS: &[(&str, &str)] = &[
    (
        "GATEHOUSE_CONFIG_FILE",
        "optional TOML file with these settings (lower-case keys without the prefix)",
    ),
    (
        "GATEHOUSE_ENV_FILE",
        "the .env file read at start and where a generated admin password is written (default ./.env)",
    ),
    (
        "GATEHOUSE_DATA_DIR",
        "directory for the SQLite database and other state (default ./data)",
    ),
    (
        "GATEHOUSE_DATABASE_URL",
        "sqlite://PATH or postgres://USER@HOST/DB (default: SQLite file in the data directory)",
    ),
    ("GATEHOUSE_LISTEN", "HTTP listen address (default 0.0.0.0:9000)"),
    (
        "GATEHOUSE_METRICS_LISTEN",
        "Prometheus metrics listen address, or 'off' (default 0.0.0.0:9300)",
    ),
    (
        "GATEHOUSE_EXTERNAL_URL",
        "public base URL (default http://localhost:9000)",
    ),
    ("GATEHOUSE_LOG_FORMAT", "text or json (default text)"),
    (
        "GATEHOUSE_LOG_LEVEL",
        "error, warn, info, debug, trace or a filter like 'info,sqlx=warn' (default info)",
    ),
    (
        "GATEHOUSE_BOOTSTRAP_PASSWORD",
        "first start only: password of akadmin (alias AUTHENTIK_BOOTSTRAP_PASSWORD)",
    ),
    (
        "GATEHOUSE_BOOTSTRAP_EMAIL",
        "first start only: email of akadmin (alias AUTHENTIK_BOOTSTRAP_EMAIL)",
    ),
    (
        "GATEHOUSE_BOOTSTRAP_TOKEN",
        "first start only: a non-expiring API token for akadmin (alias AUTHENTIK_BOOTSTRAP_TOKEN)",
    ),
    (
        "GATEHOUSE_PASSWORD_MIN_LENGTH",
        "minimum password length in characters (default 8)",
    ),
    (
        "GATEHOUSE_PASSWORD_HASH_MEMORY_KIB",
        "argon2id memory cost in KiB (default 19456)",
    ),
    ("GATEHOUSE_PASSWORD_HASH_ITERATIONS", "argon2id time cost (default 2)"),
    ("GATEHOUSE_PASSWORD_HASH_PARALLELISM", "argon2id lanes (default 1)"),
    (
        "GATEHOUSE_EVENT_RETENTION_DAYS",
        "audit events older than this are pruned; 0 keeps them forever (default 365)",
    ),
    (
        "GATEHOUSE_BRANDING_TITLE",
        "the instance's name on every page (default Gatehouse)",
    ),
    (
        "GATEHOUSE_BRANDING_LOGO",
        "path of a PNG, SVG, JPEG or WebP logo shown on the pages",
    ),
    (
        "GATEHOUSE_SESSION_IDLE_MINUTES",
        "a session unused this long ends (default 720)",
    ),
    (
        "GATEHOUSE_SESSION_MAX_HOURS",
        "no session lives longer than this (default 168)",
    ),
    (
        "GATEHOUSE_LOGIN_DELAY_AFTER",
        "failed sign-ins per account before each attempt is delayed (default 3)",
    ),
    (
        "GATEHOUSE_LOGIN_LOCK_AFTER",
        "failed sign-ins per account that lock it temporarily (default 10)",
    ),
    (
        "GATEHOUSE_LOGIN_IP_DELAY_AFTER",
        "failed sign-ins per client address before delays (default 10)",
    ),
    (
        "GATEHOUSE_LOGIN_IP_LOCK_AFTER",
        "failed sign-ins per client address that lock it (default 50)",
    ),
    (
        "GATEHOUSE_LOGIN_WINDOW_MINUTES",
        "failures are counted over this window (default 10)",
    ),
    ("GATEHOUSE_LOGIN_LOCK_MINUTES", "how long a lock lasts (default 10)"),
    (
        "GATEHOUSE_LOGIN_KNOWN_DEVICE_DAYS",
        "a browser that signed in keeps its own sign-in throttle this long, so others' wrong passwords cannot lock it out; 0: off, every attempt counts against the account (default 90)",
    ),
    (
        "GATEHOUSE_TRUSTED_PROXIES",
        "addresses/CIDRs of the reverse proxies whose X-Forwarded-For is believed (default loopback only: 127.0.0.0/8, ::1)",
    ),
    (
        "GATEHOUSE_DATABASE_MAX_CONNECTIONS",
        "connection pool size per process (default 4 on SQLite, 5 on PostgreSQL)",
    ),
    // Read by the justfile, which passes its environment on to the binary.
    ("GATEHOUSE_BIN", "justfile: the gatehouse binary to call"),
    (
        "GATEHOUSE_DEPLOY",
        "justfile: systemd or container, for -status/-logs/-restart",
    ),
    (
        "GATEHOUSE_CONTAINER",
        "justfile: the container name when GATEHOUSE_DEPLOY=container",
    ),
    // Read by the test suite, accepted so that a test environment can run the binary.
    (
        "GATEHOUSE_TEST_DATABASE_URL",
        "test suite only: PostgreSQL server for the store tests",
    ),
    (
        "GATEHOUSE_SKIP_POSTGRES",
        "test suite only: skip PostgreSQL tests (never in CI)",
    ),
    (
        "GATEHOUSE_TEST_JUST",
        "test suite only: the `just` binary to test the justfile with",
    ),
    (
        "GATEHOUSE_TEST_CLOCK_FILE",
        "test suite only: shift the clock by the seconds written in this file (never in production)",
    ),
    (
        "GATEHOUSE_EMAIL__HOST",
        "SMTP server; unset disables mail (password reset by email, `email test`)",
    ),
    ("GATEHOUSE_EMAIL__PORT", "SMTP port (default 25)"),
    ("GATEHOUSE_EMAIL__USERNAME", "SMTP user name (unset: no authentication)"),
    ("GATEHOUSE_EMAIL__PASSWORD", "SMTP password"),
    (
        "GATEHOUSE_EMAIL__USE_TLS",
        "true: STARTTLS, required (default false; both TLS flags false means plain SMTP)",
    ),
    (
        "GATEHOUSE_EMAIL__USE_SSL",
        "true: TLS from the first byte, usually port 465 (default false)",
    ),
    ("GATEHOUSE_EMAIL__TIMEOUT", "SMTP timeout in seconds (default 10)"),
    (
        "GATEHOUSE_EMAIL__FROM",
        "sender, 'Name <address>' or an address (default gatehouse@localhost)",
    ),
    (
        "GATEHOUSE_RECOVERY_EMAIL_MINUTES",
        "validity of a password reset link sent by email (default 30)",
    ),
    (
        "GATEHOUSE_WORKER__POLL_MS",
        "how often an idle worker looks for due jobs, in ms (default 5000)",
    ),
    (
        "GATEHOUSE_WORKER__LEASE_MS",
        "how long a claimed job stays with a worker that stopped heartbeating, in ms (default 60000)",
    ),
    (
        "GATEHOUSE_WORKER__HEARTBEAT_MS",
        "worker heartbeat and lease renewal interval in ms (default 10000)",
    ),
    (
        "GATEHOUSE_WORKER__RETRY_BASE_MS",
        "first retry delay of a failed job in ms, doubled per attempt (default 30000)",
    ),
    (
        "GATEHOUSE_WORKER__RETRY_MAX_MS",
        "longest retry delay in ms (default 3600000)",
    ),
    (
        "GATEHOUSE_WORKER__MAX_ATTEMPTS",
        "attempts before a job is dead (dead letter; default 8)",
    ),
    (
        "GATEHOUSE_WORKER__HOUSEKEEPING_SECONDS",
        "how often expired sessions, codes, tokens and links are purged (default 300)",
    ),
    (
        "GATEHOUSE_SECRET_KEY",
        "key for MFA secrets at rest (TOTP seeds); generated into the .env file on first start if unset",
    ),
    (
        "GATEHOUSE_MFA_FIRST_ENROLMENT",
        "guarded: a person who must use MFA enrols the first authenticator only within a window after the first sign-in, an admin's recovery link, `user mfa reset` or `user mfa allow-enrolment`; password: the password alone is enough (default guarded)",
    ),
    (
        "GATEHOUSE_MFA_ENROLMENT_WINDOW_MINUTES",
        "how long such a window stays open (default 60)",
    ),
    (
        "GATEHOUSE_AUDIT_HEAD_EXPORT",
        "where the worker posts the signed audit-log head: file:PATH (JSON lines, 0600), syslog or syslog:SOCKET (default: off; see `events head`)",
    ),
    (
        "GATEHOUSE_AUDIT_HEAD_EVERY_MINUTES",
        "how often the signed head is posted (default 60)",
    ),
    (
        "GATEHOUSE_BLUEPRINTS_DIR",
        "blueprints applied at start, when a file changes and periodically (default: none)",
    ),
    (
        "GATEHOUSE_BLUEPRINTS_INTERVAL",
        "seconds between periodic re-applies of GATEHOUSE_BLUEPRINTS_DIR (default 3600; 0: never)",
    ),
    (
        "GATEHOUSE_BLUEPRINTS_WATCH_SECONDS",
        "how often GATEHOUSE_BLUEPRINTS_DIR is checked for changed files (default 5)",
    ),
    (
        "GATEHOUSE_STACK_FILE",
        "the stack manifest for `sso check` and `sso fix` (a file, or a directory of one file per service)",
    ),
    (
        "GATEHOUSE_STACK_ENV_FILE",
        "the stack's .env for ${VARIABLE} in the manifest (default: .env beside the manifest)",
    ),
    (
        "GATEHOUSE_LDAP_LISTEN",
        "LDAP (and StartTLS) listen address, or 'off' (default 0.0.0.0:3389)",
    ),
    (
        "GATEHOUSE_LDAPS_LISTEN",
        "LDAPS listen address, or 'off' (default 0.0.0.0:6636)",
    ),
    (
        "GATEHOUSE_LDAP_TLS_CERT",
        "PEM certificate chain for LDAPS and StartTLS (default: generated on first start, kept in the database)",
    ),
    ("GATEHOUSE_LDAP_TLS_KEY", "PEM private key of GATEHOUSE_LDAP_TLS_CERT"),
    (
        "GATEHOUSE_LDAP_MAX_MESSAGE_BYTES",
        "largest LDAP request in bytes (default 65536)",
    ),
    (
        "GATEHOUSE_LDAP_MAX_MESSAGES",
        "requests one LDAP connection may send before it is closed (default 100000)",
    ),
    (
        "GATEHOUSE_LDAP_MAX_CONNECTIONS",
        "concurrent LDAP connections (default 1024)",
    ),
    (
        "GATEHOUSE_LDAP_MAX_RESULTS",
        "entries one search (or one page of a paged search) returns at most (default 1000)",
    ),
    (
        "GATEHOUSE_LDAP_TIME_LIMIT_SECONDS",
        "longest time one search may take (default 10)",
    ),
    (
        "GATEHOUSE_LDAP_MAX_PENDING_BINDS",
        "binds waiting for a password check before more are answered 'busy' (default 256)",
    ),
    (
        "GATEHOUSE_BACKUP__SCHEDULE",
        "how often the worker takes a backup: off (default), hourly, daily, weekly or an interval like 6h",
    ),
    (
        "GATEHOUSE_BACKUP__DIR",
        "where scheduled backups go, and `gatehouse backup`'s default (default: DATA_DIR/backups)",
    ),
    (
        "GATEHOUSE_BACKUP__KEEP",
        "scheduled backups kept in the directory (default 7)",
    ),
    (
        "GATEHOUSE_BACKUP__PASSPHRASE_FILE",
        "file whose first line encrypts backups (age, passphrase); unset: backups are not encrypted",
    ),
];

/// Names from the deployment Gatehouse replaces that mean the same thing.
const ALIASES: &[(&str, &str)] = &[
    ("AUTHENTIK_BOOTSTRAP_PASSWORD", "GATEHOUSE_BOOTSTRAP_PASSWORD"),
    ("AUTHENTIK_BOOTSTRAP_EMAIL", "GATEHOUSE_BOOTSTRAP_EMAIL"),
    ("AUTHENTIK_BOOTSTRAP_TOKEN", "GATEHOUSE_BOOTSTRAP_TOKEN"),
    // The stack's mail settings, under the names its .env already uses.
    ("AUTHENTIK_EMAIL__HOST", "GATEHOUSE_EMAIL__HOST"),
    ("AUTHENTIK_EMAIL__PORT", "GATEHOUSE_EMAIL__PORT"),
    ("AUTHENTIK_EMAIL__USERNAME", "GATEHOUSE_EMAIL__USERNAME"),
    ("AUTHENTIK_EMAIL__PASSWORD", "GATEHOUSE_EMAIL__PASSWORD"),
    ("AUTHENTIK_EMAIL__USE_TLS", "GATEHOUSE_EMAIL__USE_TLS"),
    ("AUTHENTIK_EMAIL__USE_SSL", "GATEHOUSE_EMAIL__USE_SSL"),
    ("AUTHENTIK_EMAIL__TIMEOUT", "GATEHOUSE_EMAIL__TIMEOUT"),
    ("AUTHENTIK_EMAIL__FROM", "GATEHOUSE_EMAIL__FROM"),
];

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

// Loopback only; see there for why.
use gatehouse_web::client::DEFAULT_TRUSTED_PROXIES;

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
            for (k, v) in read_toml(Path::new(&path))? {
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

        let data_dir = PathBuf::from(get("GATEHOUSE_DATA_DIR").unwrap_or_else(|| "./data".into()));
        let database_url = match get("GATEHOUSE_DATABASE_URL") {
            Some(url) => {
                if !(url.starts_with("sqlite:") || url.starts_with("postgres://") || url.starts_with("postgresql://")) {
                    return Err(bad("GATEHOUSE_DATABASE_URL", "must start with sqlite: or postgres://"));
                }
                url
            }
            None => format!("sqlite://{}", data_dir.join("gatehouse.db").display()),
        };
        let addr = |name: &str, default: &str| -> Result<SocketAddr, ConfigError> {
            let text = get(name).unwrap_or_else(|| default.into());
            text.parse()
                .map_err(|_| bad(name, &format!("'{text}' is not an address like 0.0.0.0:9000")))
        };
        let listen = addr("GATEHOUSE_LISTEN", "0.0.0.0:9000")?;
        let metrics_listen = match get("GATEHOUSE_METRICS_LISTEN").as_deref() {
            Some("off") | Some("none") => None,
            _ => Some(addr("GATEHOUSE_METRICS_LISTEN", "0.0.0.0:9300")?),
        };
        let external_url = get("GATEHOUSE_EXTERNAL_URL").unwrap_or_else(|| "http://localhost:9000".into());
        let after_scheme = external_url
            .strip_prefix("https://")
            .or_else(|| external_url.strip_prefix("http://"))
            .filter(|rest| {
                !rest.is_empty() && !rest.contains(char::is_whitespace) && !rest.contains('?') && !rest.contains('#')
            });
        if after_scheme.is_none() {
            return Err(bad(
                "GATEHOUSE_EXTERNAL_URL",
                "must be an http(s) URL like https://auth.example.com",
            ));
        }
        let external_url = external_url.trim_end_matches('/').to_string();
        let log_format = match get("GATEHOUSE_LOG_FORMAT").as_deref().unwrap_or("text") {
            "text" => LogFormat::Text,
            "json" => LogFormat::Json,
            other => {
                return Err(bad("GATEHOUSE_LOG_FORMAT", &format!("is '{other}'; use text or json")));
            }
        };
        let log_level = get("GATEHOUSE_LOG_LEVEL").unwrap_or_else(|| "info".into());
        if tracing_subscriber::EnvFilter::try_new(&log_level).is_err() {
            return Err(bad(
                "GATEHOUSE_LOG_LEVEL",
                &format!("'{log_level}' is not a level or filter"),
            ));
        }
        let number = |name: &str, default: u32, min: u32, max: u32| -> Result<u32, ConfigError> {
            match get(name) {
                None => Ok(default),
                Some(t) => t
                    .parse::<u32>()
                    .ok()
                    .filter(|n| (min..=max).contains(n))
                    .ok_or_else(|| bad(name, &format!("is '{t}'; expected a whole number from {min} to {max}"))),
            }
        };
        let hash_params = HashParams {
            m_cost_kib: number("GATEHOUSE_PASSWORD_HASH_MEMORY_KIB", 19 * 1024, 8, 4 * 1024 * 1024)?,
            t_cost: number("GATEHOUSE_PASSWORD_HASH_ITERATIONS", 2, 1, 64)?,
            p_cost: number("GATEHOUSE_PASSWORD_HASH_PARALLELISM", 1, 1, 16)?,
        };
        if hash_params.m_cost_kib < 8 * hash_params.p_cost {
            return Err(bad(
                "GATEHOUSE_PASSWORD_HASH_MEMORY_KIB",
                "must be at least 8 KiB per lane",
            ));
        }
        let branding_logo = get("GATEHOUSE_BRANDING_LOGO").map(PathBuf::from);
        if let Some(logo) = &branding_logo {
            if crate::config::logo_content_type(logo).is_none() {
                return Err(bad(
                    "GATEHOUSE_BRANDING_LOGO",
                    "must name a .png, .svg, .jpg, .jpeg or .webp file",
                ));
            }
            if !logo.is_file() {
                return Err(bad(
                    "GATEHOUSE_BRANDING_LOGO",
                    &format!("names {}, which is not a readable file", logo.display()),
                ));
            }
        }
        let trusted_proxies = get("GATEHOUSE_TRUSTED_PROXIES").unwrap_or_else(|| DEFAULT_TRUSTED_PROXIES.into());
        if let Err(item) = gatehouse_web::client::TrustedProxies::parse(&trusted_proxies) {
            return Err(bad(
                "GATEHOUSE_TRUSTED_PROXIES",
                &format!("has '{item}', which is not an address or CIDR range"),
            ));
        }
        let minutes = |name: &str, default: u32, max: u32| number(name, default, 1, max).map(|m| i64::from(m) * 60);
        let sessions = SessionPolicy {
            idle_secs: minutes("GATEHOUSE_SESSION_IDLE_MINUTES", 720, 525_600)?,
            absolute_secs: number("GATEHOUSE_SESSION_MAX_HOURS", 168, 1, 8760).map(|h| i64::from(h) * 3600)?,
        };
        let throttle = ThrottlePolicy {
            window_secs: minutes("GATEHOUSE_LOGIN_WINDOW_MINUTES", 10, 1440)?,
            account: Limits {
                delay_after: i64::from(number("GATEHOUSE_LOGIN_DELAY_AFTER", 3, 1, 1000)?),
                lock_after: i64::from(number("GATEHOUSE_LOGIN_LOCK_AFTER", 10, 1, 10_000)?),
            },
            client: Limits {
                delay_after: i64::from(number("GATEHOUSE_LOGIN_IP_DELAY_AFTER", 10, 1, 10_000)?),
                lock_after: i64::from(number("GATEHOUSE_LOGIN_IP_LOCK_AFTER", 50, 1, 100_000)?),
            },
            lock_secs: minutes("GATEHOUSE_LOGIN_LOCK_MINUTES", 10, 1440)?,
            known_device_secs: i64::from(number("GATEHOUSE_LOGIN_KNOWN_DEVICE_DAYS", 90, 0, 3650)?) * 86_400,
            ..ThrottlePolicy::default()
        };
        let blueprints = crate::commands::blueprint::BlueprintSettings {
            dir: get("GATEHOUSE_BLUEPRINTS_DIR").map(PathBuf::from),
            interval_secs: number("GATEHOUSE_BLUEPRINTS_INTERVAL", 3600, 0, 10_000_000)?.into(),
            watch_secs: number("GATEHOUSE_BLUEPRINTS_WATCH_SECONDS", 5, 1, 86_400)?.into(),
            stack_file: get("GATEHOUSE_STACK_FILE").map(PathBuf::from),
            stack_env_file: get("GATEHOUSE_STACK_ENV_FILE").map(PathBuf::from),
        };
        let mail_worker = crate::mail_settings::parse(&get, &bad)?;
        let security = crate::security_settings::parse(&get, &bad)?;
        let ldap = crate::ldap_settings::parse(&get, &bad)?;
        let backup = crate::backup_settings::parse(&get, &bad, &data_dir)?;
        Ok(Settings {
            backup,
            ldap,
            mail_worker,
            security,
            blueprints,
            branding_title: get("GATEHOUSE_BRANDING_TITLE").unwrap_or_else(|| "Gatehouse".into()),
            branding_logo,
            sessions,
            throttle,
            trusted_proxies,
            test_clock_file: get("GATEHOUSE_TEST_CLOCK_FILE").map(PathBuf::from),
            secret_key: get("GATEHOUSE_SECRET_KEY"),
            env_file,
            data_dir,
            database_url,
            listen,
            metrics_listen,
            external_url,
            log_format,
            log_level,
            bootstrap: BootstrapSettings {
                password: get("GATEHOUSE_BOOTSTRAP_PASSWORD"),
                email: get("GATEHOUSE_BOOTSTRAP_EMAIL"),
                token: get("GATEHOUSE_BOOTSTRAP_TOKEN"),
            },
            password_policy: PasswordPolicy {
                min_chars: number("GATEHOUSE_PASSWORD_MIN_LENGTH", 8, 1, 1024)? as usize,
            },
            hash_params,
            event_retention_days: number("GATEHOUSE_EVENT_RETENTION_DAYS", 365, 0, 100_000)?,
            max_connections: match get("GATEHOUSE_DATABASE_MAX_CONNECTIONS") {
                None => None,
                Some(_) => Some(number("GATEHOUSE_DATABASE_MAX_CONNECTIONS", 0, 1, 1000)?),
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

fn read_toml(path: &Path) -> Result<Vec<(String, String)>, ConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigError(format!("cannot read config file {}: {e}", path.display())))?;
    let table: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| ConfigError(format!("{}: {}", path.display(), e.message())))?;
    let mut out = Vec::new();
    for (key, value) in table {
        let name = format!("GATEHOUSE_{}", key.to_uppercase());
        if !SETTINGS.iter().any(|(n, _)| *n == name) {
            let hint = closest(&name)
                .map(|s| format!(" (did you mean {}?)", s.trim_start_matches("GATEHOUSE_").to_lowercase()))
                .unwrap_or_default();
            return Err(ConfigError(format!(
                "unknown setting '{key}' in {}{hint}",
                path.display()
            )));
        }
        let text = match value {
            toml::Value::String(s) => s,
            toml::Value::Integer(i) => i.to_string(),
            toml::Value::Boolean(b) => b.to_string(),
            other => {
                return Err(ConfigError(format!(
                    "'{key}' in {} must be a string or number, not {}",
                    path.display(),
                    other.type_str()
                )));
            }
        };
        out.push((name, text));
    }
    Ok(out)
}

/// The known setting nearest to a misspelt one, if any is close.
fn closest(name: &str) -> Option<&'static str> {
    SETTINGS
        .iter()
        .map(|(n, _)| (*n, edit_distance(name, n)))
        .filter(|(_, d)| *d <= 3)
        .min_by_key(|(_, d)| *d)
        .map(|(n, _)| n)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur.push((prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        let mut m: BTreeMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        m.entry("GATEHOUSE_ENV_FILE".into())
            .or_insert_with(|| "/nonexistent/.env".into());
        m
    }

    #[test]
    fn defaults() {
        let s = Settings::from_vars(vars(&[])).unwrap();
        assert_eq!(s.listen.to_string(), "0.0.0.0:9000");
        assert_eq!(s.metrics_listen.map(|a| a.to_string()).as_deref(), Some("0.0.0.0:9300"));
        assert_eq!(s.external_url, "http://localhost:9000");
        assert_eq!(s.database_url, "sqlite://./data/gatehouse.db");
        assert_eq!(s.log_format, LogFormat::Text);
        assert_eq!(s.hash_params, HashParams::default());
        assert_eq!(
            s.trusted_proxies, "127.0.0.0/8, ::1",
            "forwarded headers from loopback only"
        );
    }

    #[test]
    fn unknown_setting_is_named_with_a_suggestion() {
        let e = Settings::from_vars(vars(&[("GATEHOUSE_LISTN", "0.0.0.0:1")]))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("GATEHOUSE_LISTN") && e.contains("did you mean GATEHOUSE_LISTEN"),
            "{e}"
        );
    }

    #[test]
    fn bad_values_are_named() {
        for (k, v) in [
            ("GATEHOUSE_LISTEN", "nine-thousand"),
            ("GATEHOUSE_LOG_FORMAT", "xml"),
            ("GATEHOUSE_EXTERNAL_URL", "ftp://x"),
            ("GATEHOUSE_DATABASE_URL", "mysql://x"),
            ("GATEHOUSE_PASSWORD_MIN_LENGTH", "-1"),
            ("GATEHOUSE_LOG_LEVEL", "loud[[["),
        ] {
            let e = Settings::from_vars(vars(&[(k, v)])).unwrap_err().to_string();
            assert!(e.contains(k), "{k}: {e}");
        }
    }

    #[test]
    fn debug_hides_the_secret_key_and_the_database_password() {
        let s = Settings::from_vars(vars(&[
            ("GATEHOUSE_SECRET_KEY", "very-secret-key-material"),
            ("GATEHOUSE_DATABASE_URL", "postgres://gh:db-password@127.0.0.1/gh"),
        ]))
        .unwrap();
        let shown = format!("{s:?}");
        assert!(!shown.contains("very-secret-key-material"), "{shown}");
        assert!(!shown.contains("db-password"), "{shown}");
        assert!(shown.contains("(set, hidden)"), "{shown}");
    }

    #[test]
    fn env_file_then_environment() {
        let dir = std::env::temp_dir().join(format!("gh-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let env = dir.join(".env");
        std::fs::write(
            &env,
            "OTHER=1\nGATEHOUSE_LISTEN=127.0.0.1:8000\nAUTHENTIK_BOOTSTRAP_PASSWORD=from-alias\n",
        )
        .unwrap();
        let s = Settings::from_vars(vars(&[("GATEHOUSE_ENV_FILE", env.to_str().unwrap())])).unwrap();
        assert_eq!(s.listen.to_string(), "127.0.0.1:8000");
        assert_eq!(s.bootstrap.password.as_deref(), Some("from-alias"));
        let s = Settings::from_vars(vars(&[
            ("GATEHOUSE_ENV_FILE", env.to_str().unwrap()),
            ("GATEHOUSE_LISTEN", "127.0.0.1:8001"),
        ]))
        .unwrap();
        assert_eq!(s.listen.to_string(), "127.0.0.1:8001");
        std::fs::write(&env, "GATEHOUSE_LISTN=1\n").unwrap();
        let e = Settings::from_vars(vars(&[("GATEHOUSE_ENV_FILE", env.to_str().unwrap())]))
            .unwrap_err()
            .to_string();
        assert!(e.contains(".env"), "{e}");
        std::fs::remove_dir_all(dir).ok();
    }

    #[test]
    fn toml_file() {
        let dir = std::env::temp_dir().join(format!("gh-toml-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("gatehouse.toml");
        std::fs::write(&f, "listen = \"127.0.0.1:7000\"\npassword_min_length = 12\n").unwrap();
        let s = Settings::from_vars(vars(&[("GATEHOUSE_CONFIG_FILE", f.to_str().unwrap())])).unwrap();
        assert_eq!(s.listen.to_string(), "127.0.0.1:7000");
        assert_eq!(s.password_policy.min_chars, 12);
        std::fs::write(&f, "lisen = \"x\"\n").unwrap();
        let e = Settings::from_vars(vars(&[("GATEHOUSE_CONFIG_FILE", f.to_str().unwrap())]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("lisen") && e.contains("did you mean listen"), "{e}");
        std::fs::remove_dir_all(dir).ok();
    }
}
