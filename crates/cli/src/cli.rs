//! The command line, as clap definitions. Each subcommand's doc comment is its
//! `--help`; keep them short and concrete.

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Gatehouse: one small identity provider for a self-hosted stack: users, groups,
/// applications, and sign-in for every service.
///
/// Settings come from GATEHOUSE_* environment variables, the .env file
/// (GATEHOUSE_ENV_FILE, default ./.env) and an optional TOML file
/// (GATEHOUSE_CONFIG_FILE); `gatehouse settings` lists them. Admin commands work
/// directly on the configured database, whether or not the server runs.
///
/// Exit status: 0 success, 2 bad input or unknown name (nothing changed),
/// 1 runtime failure.
#[derive(Debug, Parser)]
#[command(name = "gatehouse", version, propagate_version = true, max_term_width = 100)]
pub struct Cli {
    /// Print machine-readable JSON instead of tables.
    #[arg(long, global = true)]
    pub json: bool,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
// Parsed once per process: the size of the provider options does not matter.
#[allow(clippy::large_enum_variant)]
pub enum Command {
    /// Run the server: web, health checks and metrics, and the background worker
    /// (unless --no-worker); applies migrations and creates the recovery admin on
    /// first start.
    Server(crate::commands::worker::ServerArgs),
    /// Manage users.
    #[command(subcommand)]
    User(UserCmd),
    /// Manage groups and membership.
    #[command(subcommand)]
    Group(GroupCmd),
    /// Manage applications and who may reach them.
    #[command(subcommand)]
    App(AppCmd),
    /// Show which user may reach which application (for compliance reviews).
    Access(AccessArgs),
    /// List and revoke sign-in sessions.
    #[command(subcommand)]
    Session(SessionCmd),
    /// API tokens for the REST API: create (the key is shown once), list, revoke.
    #[command(subcommand)]
    Token(crate::commands::token::TokenCmd),
    /// Read, verify and prune the audit log.
    Events(EventsArgs),
    /// Check the database, the schema, the running server, the worker and the
    /// backups; exit 1 if unhealthy.
    Status(crate::commands::status::StatusArgs),
    /// Regain access: make someone admin, or issue a one-time sign-in link.
    #[command(subcommand)]
    Recovery(RecoveryCmd),
    /// List and rotate the signing keys of tokens (OIDC, forward-auth JWTs).
    #[command(subcommand)]
    Key(crate::commands::key::KeyCmd),
    /// Run the background worker (mail, housekeeping) alone, or inspect its jobs.
    Worker(crate::commands::worker::WorkerArgs),
    /// Outgoing mail (GATEHOUSE_EMAIL__* settings).
    #[command(subcommand)]
    Email(crate::commands::email::EmailCmd),
    /// Invitations: links that let a person create their own account.
    #[command(subcommand)]
    Invite(crate::commands::invite::InviteCmd),
    /// Set who must use two-factor authentication.
    #[command(subcommand)]
    Policy(crate::commands::policy::PolicyCmd),
    /// Blueprints: declarative configuration in authentik's YAML format.
    #[command(subcommand)]
    Blueprint(crate::commands::blueprint::BlueprintCmd),
    /// Check and repair SSO drift across the stack (GATEHOUSE_STACK_FILE).
    #[command(subcommand)]
    Sso(crate::commands::sso::SsoCmd),
    /// The LDAP server alone (without a subcommand), its certificate, and a test bind.
    Ldap(crate::commands::ldap::LdapArgs),
    /// Write one consistent backup of everything Gatehouse owns, while the
    /// server keeps serving (compressed, checksummed, optionally encrypted).
    Backup(crate::commands::backup::BackupArgs),
    /// Restore a backup into an empty database (of either backend), or only
    /// verify it with --check.
    Restore(crate::commands::restore::RestoreArgs),
    /// Copy this installation's database into another one (e.g. SQLite to
    /// PostgreSQL), with progress; the source keeps serving meanwhile.
    MigrateDb(crate::commands::migrate_db::MigrateDbArgs),
    /// Exit 0 if this machine's server answers /-/health/ready/ with 200 (for
    /// container health checks; `status` checks much more).
    Healthcheck,
    /// Apply pending database migrations and exit.
    Migrate,
    /// List every setting Gatehouse reads, with its current value (secrets hidden).
    Settings,
}

#[derive(Debug, Subcommand)]
pub enum UserCmd {
    /// List users.
    List,
    /// Show one user, with groups and superuser status.
    Show { username: String },
    /// Create a user (without a password; set one with `user password`).
    Create {
        username: String,
        email: String,
        /// Display name.
        name: Option<String>,
    },
    /// Set a user's password: prompted twice, or --stdin, --generate, --link
    /// (mailed when email is configured and the user has an address; --print
    /// prints it instead).
    Password(PasswordArgs),
    /// Import a password hash as authentik stores it (pbkdf2_sha256$…,
    /// argon2$argon2id$…, bcrypt_sha256$…, scrypt$…) or Gatehouse's own
    /// $argon2id$…; replaced by argon2id at the user's first sign-in.
    /// HASH `-` reads it from standard input.
    SetPasswordHash { username: String, hash: String },
    /// List or reset a user's two-factor authenticators.
    #[command(subcommand)]
    Mfa(crate::commands::mfa::UserMfaCmd),
    /// Delete a user and their memberships.
    Delete {
        username: String,
        /// Required to delete the recovery account akadmin.
        #[arg(long)]
        force: bool,
    },
    /// Disable a user: they can no longer sign in anywhere.
    Disable { username: String },
    /// Enable a disabled user.
    Enable { username: String },
}

#[derive(Debug, Args)]
pub struct PasswordArgs {
    pub username: String,
    /// Read the password from the first line of standard input.
    #[arg(long, conflicts_with_all = ["generate", "link"])]
    pub stdin: bool,
    /// Generate a random password, set it and print it.
    #[arg(long, conflicts_with = "link")]
    pub generate: bool,
    /// A one-time link where the user sets a password themselves: mailed to the
    /// user when email is configured and they have an address, else printed.
    #[arg(long)]
    pub link: bool,
    /// With --link: print the link instead of mailing it.
    #[arg(long, requires = "link")]
    pub print: bool,
    /// Validity of the --link in minutes.
    #[arg(long, default_value_t = 60, requires = "link")]
    pub minutes: i64,
}

#[derive(Debug, Subcommand)]
pub enum GroupCmd {
    /// List groups with their parent and member count.
    List,
    /// Create a group.
    Create {
        name: String,
        /// Members are superusers (administrators).
        #[arg(long)]
        admin: bool,
        /// Nest the group in PARENT: its members count as members of PARENT.
        #[arg(long, value_name = "PARENT")]
        parent: Option<String>,
    },
    /// Delete a group (not `admins`, and not while groups are nested in it).
    Delete { name: String },
    /// Add a user to a group.
    Add { group: String, username: String },
    /// Remove a user from a group.
    Remove { group: String, username: String },
    /// Show members: direct ones, and those inherited from nested groups.
    Members { group: String },
}

#[derive(Debug, Subcommand)]
pub enum AppCmd {
    /// List applications, their providers and bound groups.
    List,
    /// Show one application.
    Show { slug: String },
    /// Create an application: a portal link, or with a protocol provider
    /// (--provider), whose options follow.
    Create(Box<AppCreateArgs>),
    /// Delete an application and its bindings.
    Delete { slug: String },
    /// Restrict an application to GROUP (and groups nested in it). An application
    /// without bindings is open to every active user.
    Bind { slug: String, group: String },
    /// Remove a group binding from an application.
    Unbind { slug: String, group: String },
    /// Change an application's provider settings (the options of `app create`;
    /// a list option given replaces the whole list).
    Update(Box<crate::commands::app_oidc::AppUpdateArgs>),
    /// Client secrets.
    #[command(subcommand)]
    Secret(crate::commands::app_oidc::SecretCmd),
}

#[derive(Debug, Args)]
pub struct AppCreateArgs {
    pub slug: String,
    #[arg(long)]
    pub name: String,
    /// Where the portal tile links to.
    #[arg(long, value_name = "URL")]
    pub launch_url: Option<String>,
    /// The protocol the application signs people in with.
    #[arg(long, value_enum)]
    pub provider: Option<ProviderChoice>,
    /// Restrict the application to these groups (repeat for several).
    #[arg(long = "allow-group", value_name = "GROUP")]
    pub allow_groups: Vec<String>,
    #[command(flatten)]
    pub oidc: crate::commands::app_oidc::OidcArgs,
    #[command(flatten)]
    pub proxy: crate::commands::app_proxy::ProxyArgs,
    #[command(flatten)]
    pub saml: crate::commands::app_saml::SamlArgs,
    #[command(flatten)]
    pub ldap: crate::commands::app_ldap::LdapArgs,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum ProviderChoice {
    /// OAuth 2.0 / OpenID Connect.
    Oidc,
    /// Forward-auth for nginx, Traefik and Caddy.
    Proxy,
    /// SAML 2.0.
    Saml,
    /// LDAP (authentik's outpost tree, served by Gatehouse itself).
    Ldap,
}

#[derive(Debug, Subcommand)]
pub enum SessionCmd {
    /// List live sessions, of everyone or of USERNAME.
    List { username: Option<String> },
    /// End a session by its ID, or every session of a user with --user.
    #[command(arg_required_else_help = true)]
    Revoke {
        /// The session ID (from `session list`).
        #[arg(conflicts_with = "user", required_unless_present = "user")]
        id: Option<String>,
        /// End all sessions of this user.
        #[arg(long, value_name = "USERNAME")]
        user: Option<String>,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum MatrixFormat {
    Table,
    Csv,
    Json,
}

#[derive(Debug, Args)]
pub struct AccessArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = MatrixFormat::Table)]
    pub format: MatrixFormat,
}

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct EventsArgs {
    #[command(subcommand)]
    pub command: Option<EventsCmd>,
    /// Only events about or by this user.
    #[arg(long)]
    pub user: Option<String>,
    /// Only this action, e.g. login_failed or model_created.
    #[arg(long)]
    pub action: Option<String>,
    /// Only events since T: RFC 3339 time, a date (2026-11-29), or an age (30m, 12h, 7d).
    #[arg(long, value_name = "T")]
    pub since: Option<String>,
    /// At most N events, newest first.
    #[arg(long, default_value_t = 100, value_name = "N")]
    pub limit: u32,
}

#[derive(Debug, Subcommand)]
pub enum EventsCmd {
    /// Walk the hash chain and name the first broken link; exit 1 if broken.
    /// With --head, also check the log against signed heads kept elsewhere.
    Verify {
        /// A file of signed heads (`events head` output, the worker's file or
        /// syslog lines): catches a recomputed chain, a cut end, a moved anchor.
        #[arg(long, value_name = "FILE")]
        head: Option<std::path::PathBuf>,
    },
    /// Print the chain head signed with a key derived from GATEHOUSE_SECRET_KEY
    /// (never in the database); keep it off this machine and check the log
    /// against it later with `events verify --head FILE`.
    Head {
        /// Append the signed head to FILE (created with mode 0600) instead of printing it.
        #[arg(long, short, value_name = "FILE")]
        output: Option<std::path::PathBuf>,
    },
    /// Delete events older than the retention (GATEHOUSE_EVENT_RETENTION_DAYS or
    /// --older-than), keeping the chain verifiable.
    Prune {
        /// Age such as 90d or 12w.
        #[arg(long, value_name = "AGE")]
        older_than: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum RecoveryCmd {
    /// Put USERNAME in the `admins` superuser group and enable it (for a lost
    /// admin); with --password-stdin also set its password, read from the
    /// first line of standard input.
    Admin {
        username: String,
        /// Set the password from standard input, e.g.
        /// `echo 'new pass' | gatehouse recovery admin akadmin --password-stdin`.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Print a one-time sign-in link for USERNAME.
    Key {
        username: String,
        /// Minutes until the link expires.
        #[arg(long, default_value_t = 60)]
        minutes: i64,
    },
    /// List recovery keys (never the keys themselves) and whether they are valid.
    List,
}
