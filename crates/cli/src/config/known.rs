//! Every setting Gatehouse knows, by its environment name, and the names of
//! the deployment it replaces that mean the same. A name not listed here is
//! a mistake, named with the nearest known one.

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
pub(super) const ALIASES: &[(&str, &str)] = &[
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

/// The known setting nearest to a misspelt one, if any is close.
pub(super) fn closest(name: &str) -> Option<&'static str> {
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
