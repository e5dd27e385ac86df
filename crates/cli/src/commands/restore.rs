//! `gatehouse restore FILE`: verifies every checksum, then loads the backup
//! into the configured database in one transaction, migrates it forward and
//! re-checks counts and the audit chain. `--check` verifies without writing.

use std::path::{Path, PathBuf};
use std::time::Instant;

use age::secrecy::SecretString;
use clap::Args;
use gatehouse_core::events::ChainReport;
use gatehouse_store::backup::{BackupError, Catalog, Loader, Rows};
use gatehouse_store::{KNOWN_SCHEMA_VERSION, SqlStore};
use tokio::sync::mpsc::Receiver;
use tokio::task::JoinHandle;

use crate::archive::{self, ArchiveError, Manifest, ReadOptions, Verified};
use crate::commands::backup::{counts_line, read_passphrase};
use crate::context::Context;
use crate::failure::{CmdResult, Failure};
use crate::progress::Progress;

#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// The backup file (from `gatehouse backup`).
    pub file: PathBuf,
    /// Only verify the file (every checksum, every row parsed); write nothing.
    #[arg(long)]
    pub check: bool,
    /// Replace a database that already holds data (the message says what).
    #[arg(long)]
    pub force: bool,
    /// The passphrase of an encrypted backup, on this file's first line
    /// (default: GATEHOUSE_BACKUP__PASSPHRASE_FILE).
    #[arg(long, value_name = "FILE")]
    pub passphrase_file: Option<PathBuf>,
    /// Write the backup's GATEHOUSE_SECRET_KEY (if it carries one) to the
    /// .env file, where none is set yet.
    #[arg(long)]
    pub restore_secrets: bool,
}

pub async fn run(ctx: &Context, args: RestoreArgs) -> CmdResult {
    let started = Instant::now();
    let s = &ctx.settings;
    let passphrase = match args.passphrase_file.as_ref().or(s.backup.passphrase_file.as_ref()) {
        Some(f) => Some(read_passphrase(f)?),
        None => None,
    };
    let verified = verify(&args.file, passphrase.clone(), args.check).await?;
    let m = &verified.manifest;
    if args.check {
        println!(
            "{}: a whole Gatehouse backup, schema version {}, from {} ({}), made {} by Gatehouse {}{}; {} rows in {} tables, every checksum matches",
            args.file.display(),
            m.header.schema_version,
            m.header.backend,
            m.header.server_version.as_deref().unwrap_or("-"),
            m.header.created_at,
            m.header.gatehouse_version,
            if m.header.encrypted { ", encrypted" } else { "" },
            m.total_rows(),
            m.tables.len()
        );
        println!("{}", counts_line(m));
        return Ok(());
    }
    let secret = secret_plan(ctx, &verified, args.restore_secrets)?;
    let catalog = Catalog::at_version(m.header.schema_version).await?;
    check_columns(&catalog, m)?;
    let store = ctx.connect().await?;
    let target = store.restore_target().await?;
    if !target.is_empty() {
        if !args.force {
            return Err(Failure::input(format!(
                "the database {} is not empty ({}); restore into an empty database, or pass --force to replace everything in it",
                s.database_url_redacted(),
                target.describe()
            )));
        }
        eprintln!(
            "--force: replacing everything in {} (schema version {}: {})",
            s.database_url_redacted(),
            target.schema_version,
            target.describe()
        );
    }
    load(&store, &args.file, passphrase, m, catalog, args.force).await?;
    let migrated = store.migrate().await?;
    store.write_postgres_major(true, None).await?;
    let chain = check_chain(ctx, &store, m).await?;
    let written = write_files(ctx, &verified, secret)?;
    eprintln!(
        "restored {} from {} into {} (schema {}{}) in {:.1} s; audit chain verified ({chain} events){written}",
        counts_line(m),
        args.file.display(),
        s.database_url_redacted(),
        m.header.schema_version,
        if migrated.applied_any() {
            format!(", migrated to {}", migrated.to)
        } else {
            String::new()
        },
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// The verification pass, on a blocking thread.
pub async fn verify(file: &Path, passphrase: Option<SecretString>, deep: bool) -> CmdResult<Verified> {
    let file = file.to_path_buf();
    let opts = ReadOptions {
        passphrase,
        deep,
        known_schema: KNOWN_SCHEMA_VERSION,
    };
    tokio::task::spawn_blocking(move || archive::verify(&file, &opts))
        .await
        .map_err(|e| Failure::runtime(format!("verification failed: {e}")))?
        .map_err(|e| match e {
            ArchiveError::Io(io) => Failure::input(format!("cannot read {}: {io}", "the backup file")),
            other => other.into(),
        })
}

/// The backup's tables must be exactly those of its schema version here.
fn check_columns(catalog: &Catalog, m: &Manifest) -> CmdResult {
    for t in &m.tables {
        let def = catalog.table(&t.name).ok_or_else(|| {
            Failure::input(format!(
                "the backup has a table {} that schema version {} does not have here",
                t.name, m.header.schema_version
            ))
        })?;
        if def.columns != t.columns {
            return Err(Failure::input(format!(
                "the backup's columns of {} differ from schema version {}",
                t.name, m.header.schema_version
            )));
        }
    }
    Ok(())
}

/// Streams the rows from the file (blocking thread) into one transaction.
async fn load(
    store: &SqlStore,
    file: &Path,
    passphrase: Option<SecretString>,
    m: &Manifest,
    catalog: Catalog,
    force: bool,
) -> CmdResult {
    let mut loader = store.begin_restore(catalog, force).await?;
    let (tx, rx) = tokio::sync::mpsc::channel::<(String, Rows)>(4);
    let (file, manifest) = (file.to_path_buf(), m.clone());
    let reader = tokio::task::spawn_blocking(move || {
        archive::for_each_part(&file, passphrase.as_ref(), &manifest, |table, rows| {
            tx.blocking_send((table.to_string(), rows))
                .map_err(|_| ArchiveError::Unsupported("the restore stopped".into()))
        })
    });
    stream_into(
        &mut loader,
        rx,
        reader,
        m.total_rows(),
        "restore",
        "nothing was restored",
    )
    .await?;
    loader.finish(&m.table_rows()).await?;
    Ok(())
}

/// Walks the restored chain; it must end where the snapshot's did.
async fn check_chain(ctx: &Context, store: &SqlStore, m: &Manifest) -> CmdResult<u64> {
    let dir = ctx.directory_on(store.clone())?;
    match dir.events().verify().await? {
        ChainReport::Intact {
            events,
            head_seq,
            head_hash,
        } => {
            if let Some(head) = &m.audit
                && (head.head_seq != head_seq || head.head_hash != head_hash)
            {
                return Err(Failure::runtime(format!(
                    "restored, but the audit chain ends at event {head_seq}, not at the backup's {}",
                    head.head_seq
                )));
            }
            Ok(events)
        }
        ChainReport::Broken { seq, reason } => Err(Failure::runtime(format!(
            "restored, but the audit chain does not verify at event {seq}: {reason} \
             (`gatehouse events verify` on the source would say the same)"
        ))),
    }
}

/// What to do with a secret key the backup carries, decided before any write.
fn secret_plan(ctx: &Context, v: &Verified, restore_secrets: bool) -> CmdResult<Option<String>> {
    let configured = ctx.settings.secret_key.as_deref();
    let carried = v.secrets.as_ref().and_then(|bytes| {
        String::from_utf8_lossy(bytes)
            .lines()
            .find_map(|l| l.strip_prefix("GATEHOUSE_SECRET_KEY=").map(str::to_string))
    });
    let fingerprint = v.manifest.header.secret_key_fingerprint.as_deref();
    let differs = |key: &str| fingerprint.is_some_and(|f| f != archive::key_fingerprint(key));
    match (restore_secrets, carried, configured) {
        (true, None, _) => Err(Failure::input(
            "--restore-secrets: this backup carries no secrets (make one with --include-secrets)",
        )),
        (true, Some(key), Some(current)) if key != current => Err(Failure::input(
            "--restore-secrets: GATEHOUSE_SECRET_KEY is already set to another key here; remove it first",
        )),
        (true, Some(key), None) => Ok(Some(key)),
        (_, _, Some(current)) if differs(current) => {
            eprintln!(
                "warning: the backup's TOTP secrets were sealed with another GATEHOUSE_SECRET_KEY than the one set here; \
                 authenticator apps will not work until that key is set (or `user mfa reset`)"
            );
            Ok(None)
        }
        (_, _, None) if fingerprint.is_some() => {
            eprintln!(
                "warning: GATEHOUSE_SECRET_KEY is not set here; set the source's key before the server starts, \
                 or it generates a new one and TOTP authenticators stop working"
            );
            Ok(None)
        }
        _ => Ok(None),
    }
}

/// Branding to the data directory, the secret key to the .env file; returns
/// a note for the summary.
fn write_files(ctx: &Context, v: &Verified, secret: Option<String>) -> CmdResult<String> {
    let mut note = String::new();
    for (name, data) in &v.branding {
        let dir = ctx.settings.data_dir.join("branding");
        let safe: String = name
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || ".-_".contains(*c))
            .collect();
        let path = dir.join(safe.trim_start_matches('.'));
        if !path.exists() {
            std::fs::create_dir_all(&dir)?;
            std::fs::write(&path, data)?;
            note.push_str(&format!(
                "; logo written to {} (GATEHOUSE_BRANDING_LOGO)",
                path.display()
            ));
        }
    }
    if let Some(key) = secret {
        crate::envfile::append_secret(&ctx.settings.env_file, "GATEHOUSE_SECRET_KEY", &key)?;
        note.push_str(&format!(
            "; GATEHOUSE_SECRET_KEY written to {}",
            ctx.settings.env_file.display()
        ));
    }
    Ok(note)
}

/// Writes what `reader` sends into `loader`, with a progress bar, then joins
/// the reader; restore and migrate-db share it. `undone` says what a failure
/// means for the target ("nothing was restored").
pub(crate) async fn stream_into<T, E>(
    loader: &mut Loader,
    mut rx: Receiver<(String, Rows)>,
    reader: JoinHandle<Result<T, E>>,
    total_rows: i64,
    label: &str,
    undone: &str,
) -> CmdResult
where
    Failure: From<E>,
{
    let progress = Progress::rows(total_rows.max(0) as u64, label);
    let mut failed = None;
    while let Some((table, rows)) = rx.recv().await {
        let n = rows.len();
        if let Err(e) = loader.insert(&table, rows).await {
            failed = Some(e);
            break;
        }
        progress.inc(n);
    }
    drop(rx);
    progress.finish();
    let read = reader
        .await
        .map_err(|e| Failure::runtime(format!("reading the {label} source failed: {e}")))?;
    if let Some(e) = failed {
        return Err(<Failure as From<BackupError>>::from(e).context(undone));
    }
    read.map(|_| ()).map_err(|e| Failure::from(e).context(undone))
}
