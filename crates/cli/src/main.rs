//! The `gatehouse` binary: parses the command line, loads settings, runs one
//! command and turns its outcome into an exit status. Business rules live in
//! `gatehouse-core`; this crate only wires things together.

mod archive;
mod backup_settings;
mod cli;
mod commands;
mod config;
mod context;
mod envfile;
mod failure;
mod ldap_settings;
mod mail_settings;
mod osuser;
mod output;
mod progress;
mod security_settings;
mod test_clock; // GATEHOUSE_TEST_CLOCK_FILE (tests only)

use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command};
use crate::config::{LogFormat, Settings};
use crate::context::Context;
use crate::failure::{CmdResult, Failure};

fn main() -> ExitCode {
    tune_allocator();
    let cli = Cli::parse();
    let settings = match Settings::load() {
        Ok(s) => s,
        Err(e) => return fail(&Failure::from(e)),
    };
    // Long-running processes (server, worker, LDAP alone) log; commands print.
    let is_server = matches!(cli.command, Command::Server(_))
        || matches!(&cli.command, Command::Worker(a) if a.command.is_none())
        || matches!(&cli.command, Command::Ldap(a) if a.command.is_none());
    init_logging(&settings, is_server);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => return fail(&Failure::runtime(format!("cannot start the runtime: {e}"))),
    };
    let ctx = Context {
        settings,
        json: cli.json,
    };
    match runtime.block_on(run(&ctx, cli.command)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&e),
    }
}

async fn run(ctx: &Context, command: Command) -> CmdResult {
    match command {
        Command::Server(args) => commands::server::run(ctx, &args).await,
        Command::User(cmd) => commands::user::run(ctx, cmd).await,
        Command::Group(cmd) => commands::group::run(ctx, cmd).await,
        Command::App(cmd) => commands::app::run(ctx, cmd).await,
        Command::Access(args) => commands::access::run(ctx, args).await,
        Command::Session(cmd) => commands::session::run(ctx, cmd).await,
        Command::Token(cmd) => commands::token::run(ctx, cmd).await,
        Command::Events(args) => commands::events::run(ctx, args).await,
        Command::Status(args) => commands::status::run(ctx, args).await,
        Command::Recovery(cmd) => commands::recovery::run(ctx, cmd).await,
        Command::Key(cmd) => commands::key::run(ctx, cmd).await,
        Command::Worker(args) => commands::worker::run(ctx, args).await,
        Command::Email(cmd) => commands::email::run(ctx, cmd).await,
        Command::Invite(cmd) => commands::invite::run(ctx, cmd).await,
        Command::Policy(cmd) => commands::policy::run(ctx, cmd).await,
        Command::Blueprint(cmd) => commands::blueprint::run(ctx, cmd).await,
        Command::Sso(cmd) => commands::sso::run(ctx, cmd).await,
        Command::Ldap(args) => commands::ldap::run(ctx, args).await,
        Command::Backup(args) => commands::backup::run(ctx, args).await,
        Command::Restore(args) => commands::restore::run(ctx, args).await,
        Command::MigrateDb(args) => commands::migrate_db::run(ctx, args).await,
        Command::Healthcheck => commands::healthcheck::run(ctx).await,
        Command::Migrate => {
            let report = ctx.connect().await?.migrate().await?;
            println!("schema version {} (was {})", report.to, report.from);
            Ok(())
        }
        Command::Settings => commands::settings::run(ctx),
    }
}

/// glibc keeps freed memory of large allocations (argon2's 19 MiB work areas)
/// once its dynamic mmap threshold has grown past them. A fixed threshold makes
/// every large block its own mapping, returned to the system when freed, and two
/// arenas per process keep fragmentation (and resident memory) low.
fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only adjusts allocator tuning knobs; called before any thread starts.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 256 * 1024);
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}

fn fail(e: &Failure) -> ExitCode {
    eprintln!("error: {e}");
    ExitCode::from(e.exit_code())
}

/// The server logs at the configured level; admin commands only warn, on stderr,
/// so their stdout stays clean for scripts.
fn init_logging(settings: &Settings, is_server: bool) {
    let level = if is_server { settings.log_level.as_str() } else { "warn" };
    let filter =
        tracing_subscriber::EnvFilter::try_new(level).unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match settings.log_format {
        LogFormat::Json => builder.json().flatten_event(true).init(),
        LogFormat::Text => builder.with_target(false).init(),
    }
}
