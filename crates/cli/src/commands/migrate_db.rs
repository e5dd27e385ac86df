//! `gatehouse migrate-db --to URL`: copies the configured database (a live
//! SQLite installation, typically) into another one, PostgreSQL typically:
//! a backup and a restore in one step, without a file. The source is read in
//! one snapshot while it keeps serving; the target is written in one
//! transaction, re-counted, migrated forward and its audit chain verified.

use std::time::Instant;

use clap::Args;
use gatehouse_core::events::ChainReport;
use gatehouse_store::backup::{BackupError, RowSink, Rows};
use gatehouse_store::{ConnectOptions, SqlStore, redact_url};

use crate::commands::restore::stream_into;
use crate::context::Context;
use crate::failure::{CmdResult, Failure};

#[derive(Debug, Args)]
pub struct MigrateDbArgs {
    /// The database to copy into: postgres://USER@HOST/DB (or sqlite://PATH).
    #[arg(long, value_name = "URL")]
    pub to: String,
    /// Replace a target database that already holds data.
    #[arg(long)]
    pub force: bool,
}

pub async fn run(ctx: &Context, args: MigrateDbArgs) -> CmdResult {
    let started = Instant::now();
    let from_url = ctx.settings.database_url_redacted();
    let to_url = redact_url(&args.to);
    if args.to.trim() == ctx.settings.database_url.trim() {
        return Err(Failure::input("--to names the configured database itself"));
    }
    let source = ctx.connect().await?;
    let target = SqlStore::connect(&args.to, ConnectOptions::default()).await?;
    let state = target.restore_target().await?;
    if !state.is_empty() && !args.force {
        return Err(Failure::input(format!(
            "the target {to_url} is not empty ({}); pass --force to replace everything in it",
            state.describe()
        )));
    }
    if !state.is_empty() {
        eprintln!("--force: replacing everything in {to_url} ({})", state.describe());
    }
    let mut snap = source.snapshot().await?;
    let catalog = snap.catalog().clone();
    let counts = snap.counts().await?;
    let expected = counts.iter().cloned().collect();
    let total: i64 = counts.iter().map(|(_, n)| n).sum();
    let mut loader = target.begin_restore(catalog.clone(), args.force).await?;
    // The source is read on its own task, so reading and writing overlap.
    let (tx, rx) = tokio::sync::mpsc::channel::<(String, Rows)>(4);
    let reader = tokio::spawn(async move {
        for table in &catalog.tables {
            let mut sink = ToLoader {
                table: table.name.clone(),
                tx: tx.clone(),
            };
            snap.read_table(table, 5_000, &mut sink).await?;
        }
        snap.finish().await
    });
    stream_into(&mut loader, rx, reader, total, "copy", "nothing was copied").await?;
    let report = loader.finish(&expected).await?;
    let migrated = target.migrate().await?;
    target.write_postgres_major(true, None).await?;
    let events = match ctx.directory_on(target.clone())?.events().verify().await? {
        ChainReport::Intact { events, .. } => events,
        ChainReport::Broken { seq, reason } => {
            return Err(Failure::runtime(format!(
                "copied, but the audit chain does not verify at event {seq}: {reason}"
            )));
        }
    };
    let rows = |t: &str| report.rows.get(t).copied().unwrap_or(0);
    eprintln!(
        "copied {from_url} → {to_url}: {} users, {} groups, {} applications, {} events ({} rows in {} tables), \
         schema {} in {:.1} s; audit chain verified ({events} events). Point GATEHOUSE_DATABASE_URL at the new \
         database and restart the server.",
        rows("users"),
        rows("groups"),
        rows("applications"),
        rows("events"),
        report.rows.values().sum::<i64>(),
        report.rows.len(),
        migrated.to,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Hands a table's batches to the loading side.
struct ToLoader {
    table: String,
    tx: tokio::sync::mpsc::Sender<(String, Rows)>,
}

impl RowSink for ToLoader {
    async fn accept(&mut self, rows: Rows) -> Result<(), BackupError> {
        self.tx
            .send((self.table.clone(), rows))
            .await
            .map_err(|_| BackupError::BadRows("the copy stopped".into()))
    }
}
