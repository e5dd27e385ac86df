//! `gatehouse backup`: one consistent, online snapshot of everything
//! Gatehouse owns, as one file (see `crate::archive` for the format). Also
//! the scheduled backup's body (`backup_job`).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use age::secrecy::SecretString;
use clap::Args;
use gatehouse_core::{Clock, SystemClock, Timestamp};
use gatehouse_store::backup::{BackupError, RowSink, Rows, Value};
use gatehouse_store::{BackupRecord, SqlStore};

use crate::archive::{self, ArchiveError, ArchiveWriter, AuditHead, Finished, Header, Manifest};
use crate::config::Settings;
use crate::context::Context;
use crate::failure::{CmdResult, Failure};
use crate::progress::Progress;

#[derive(Debug, Args)]
pub struct BackupArgs {
    /// Where to write the backup ('-' for standard output). Default:
    /// GATEHOUSE_BACKUP__DIR/gatehouse-backup-<time>.tar (.tar.age when encrypted).
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Encrypt with the passphrase on this file's first line (age; default:
    /// GATEHOUSE_BACKUP__PASSPHRASE_FILE).
    #[arg(long, value_name = "FILE")]
    pub passphrase_file: Option<PathBuf>,
    /// Also carry GATEHOUSE_SECRET_KEY (needed to open TOTP seeds elsewhere);
    /// only into an encrypted backup.
    #[arg(long)]
    pub include_secrets: bool,
}

/// What one backup run is asked to do.
pub struct BackupRequest {
    /// `None`: standard output.
    pub path: Option<PathBuf>,
    pub passphrase: Option<SecretString>,
    pub include_secrets: bool,
    /// `manual` or `scheduled`, for the record.
    pub kind: &'static str,
}

/// What one backup run did.
pub struct BackupOutcome {
    pub location: String,
    pub finished: Finished,
    pub elapsed: Duration,
}

/// Messages to the archive writer's thread.
enum Msg {
    Table(String, Vec<gatehouse_store::backup::ColumnDef>),
    Rows(Rows),
    File(String, Vec<u8>),
    Audit(AuditHead),
}

impl From<BackupError> for Failure {
    fn from(e: BackupError) -> Self {
        if e.is_caller_error() {
            Failure::input(e.to_string())
        } else {
            Failure::runtime(e.to_string())
        }
    }
}

pub async fn run(ctx: &Context, args: BackupArgs) -> CmdResult {
    let s = &ctx.settings;
    let passphrase = match args.passphrase_file.as_ref().or(s.backup.passphrase_file.as_ref()) {
        Some(f) => Some(read_passphrase(f)?),
        None => None,
    };
    let path = match args.output {
        Some(p) if p.as_os_str() == "-" => None,
        Some(p) => Some(p),
        None => Some(default_path(&s.backup.dir, passphrase.is_some(), SystemClock.now())),
    };
    let to_stdout = path.is_none();
    let store = ctx.connect().await?;
    let outcome = run_backup(
        s,
        &store,
        BackupRequest {
            path,
            passphrase,
            include_secrets: args.include_secrets,
            kind: "manual",
        },
    )
    .await?;
    if ctx.json && !to_stdout {
        return Ok(crate::output::print_json(&serde_json::json!({
            "file": outcome.location,
            "bytes": outcome.finished.bytes,
            "sha256": outcome.finished.sha256,
            "encrypted": outcome.finished.manifest.header.encrypted,
            "schema_version": outcome.finished.manifest.header.schema_version,
            "rows": outcome.finished.manifest.table_rows(),
            "seconds": outcome.elapsed.as_secs_f64(),
        }))?);
    }
    eprintln!("{}", summary_line(&outcome));
    Ok(())
}

/// "backup: 12 users, … → FILE (3.1 MiB, encrypted) in 0.4 s, sha256 …"
pub fn summary_line(o: &BackupOutcome) -> String {
    let m = &o.finished.manifest;
    format!(
        "backup: {} → {} ({}{}) in {:.1} s; sha256 {}",
        counts_line(m),
        o.location,
        human_bytes(o.finished.bytes),
        if m.header.encrypted { ", encrypted" } else { "" },
        o.elapsed.as_secs_f64(),
        o.finished.sha256
    )
}

/// Counts of the kinds people ask about, then everything else.
pub fn counts_line(m: &Manifest) -> String {
    let rows = m.table_rows();
    let named = [
        ("users", "users"),
        ("groups", "groups"),
        ("applications", "applications"),
        ("events", "events"),
        ("sessions", "sessions"),
    ];
    let mut parts: Vec<String> = named
        .iter()
        .map(|(t, label)| format!("{} {label}", rows.get(*t).copied().unwrap_or(0)))
        .collect();
    let other: i64 = rows
        .iter()
        .filter(|(t, _)| !named.iter().any(|(n, _)| n == t))
        .map(|(_, n)| n)
        .sum();
    parts.push(format!(
        "{other} other rows in {} tables",
        rows.len() - named.len().min(rows.len())
    ));
    parts.join(", ")
}

pub fn human_bytes(n: u64) -> String {
    let f = n as f64;
    if f >= 1024.0 * 1024.0 * 1024.0 {
        format!("{:.2} GiB", f / (1024.0 * 1024.0 * 1024.0))
    } else if f >= 1024.0 * 1024.0 {
        format!("{:.1} MiB", f / (1024.0 * 1024.0))
    } else if f >= 1024.0 {
        format!("{:.1} KiB", f / 1024.0)
    } else {
        format!("{n} B")
    }
}

/// `DIR/gatehouse-backup-20261206T031500Z.tar[.age]`
pub fn default_path(dir: &Path, encrypted: bool, now: Timestamp) -> PathBuf {
    let stamp: String = now
        .to_rfc3339()
        .chars()
        .take(19)
        .filter(|c| c.is_ascii_digit() || *c == 'T')
        .collect();
    let ext = if encrypted { "tar.age" } else { "tar" };
    dir.join(format!("gatehouse-backup-{stamp}Z.{ext}"))
}

/// The first line of a passphrase file (never logged).
pub fn read_passphrase(path: &Path) -> CmdResult<SecretString> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Failure::input(format!("cannot read the passphrase file {}: {e}", path.display())))?;
    let line = text.lines().next().unwrap_or("").trim_end_matches('\r').to_string();
    if line.is_empty() {
        return Err(Failure::input(format!(
            "the passphrase file {} is empty",
            path.display()
        )));
    }
    Ok(SecretString::from(line))
}

/// Takes one backup and records the outcome (success or failure) in the database.
pub async fn run_backup(s: &Settings, store: &SqlStore, req: BackupRequest) -> CmdResult<BackupOutcome> {
    let started = SystemClock.now();
    let location = req
        .path
        .as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| "-".into());
    let kind = req.kind;
    let result = take_backup(s, store, req).await;
    let record = BackupRecord {
        id: uuid::Uuid::new_v4(),
        started_at: started,
        finished_at: SystemClock.now(),
        kind: kind.into(),
        ok: result.is_ok(),
        location: location.clone(),
        bytes: result.as_ref().map(|o| o.finished.bytes as i64).unwrap_or(0),
        sha256: result.as_ref().map(|o| o.finished.sha256.clone()).unwrap_or_default(),
        summary: result
            .as_ref()
            .map(|o| serde_json::json!(o.finished.manifest.table_rows()).to_string())
            .unwrap_or_else(|_| "{}".into()),
        error: result.as_ref().err().map(|e| e.to_string()),
        host: gatehouse_worker::hostname(),
    };
    if let Err(e) = store.record_backup(&record).await {
        tracing::warn!(error = %e, "could not record the backup's outcome in the database");
    }
    result
}

async fn take_backup(s: &Settings, store: &SqlStore, req: BackupRequest) -> CmdResult<BackupOutcome> {
    let started = Instant::now();
    if req.include_secrets && req.passphrase.is_none() {
        return Err(Failure::input(
            "--include-secrets needs an encrypted backup: give --passphrase-file (or set GATEHOUSE_BACKUP__PASSPHRASE_FILE)",
        ));
    }
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    if let Some(logo) = &s.branding_logo {
        let name = logo
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let data = std::fs::read(logo).map_err(|e| Failure::runtime(format!("cannot read {}: {e}", logo.display())))?;
        files.push((format!("{}{name}", archive::BRANDING_DIR), data));
    }
    if req.include_secrets {
        let key = s.secret_key.as_deref().ok_or_else(|| {
            Failure::input("--include-secrets: GATEHOUSE_SECRET_KEY is not set, so there is no secret to carry")
        })?;
        files.push((
            archive::SECRETS.into(),
            format!("GATEHOUSE_SECRET_KEY={key}\n").into_bytes(),
        ));
    }
    let mut snap = store.snapshot().await?;
    let catalog = snap.catalog().clone();
    let header = Header {
        format: archive::FORMAT.into(),
        format_version: archive::FORMAT_VERSION,
        schema_version: catalog.schema_version,
        created_at: SystemClock.now().to_rfc3339(),
        gatehouse_version: env!("CARGO_PKG_VERSION").into(),
        backend: store.backend().name().into(),
        server_version: snap.server_version().map(str::to_string),
        secret_key_fingerprint: s.secret_key.as_deref().map(archive::key_fingerprint),
        encrypted: req.passphrase.is_some(),
    };
    let output = Destination::open(req.path.as_deref())?;
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Msg>(4);
    let (sink, passphrase) = (output.writer()?, req.passphrase);
    let writer = tokio::task::spawn_blocking(move || -> Result<Finished, ArchiveError> {
        let mut w = ArchiveWriter::new(sink, header, passphrase)?;
        while let Some(msg) = rx.blocking_recv() {
            match msg {
                Msg::Table(name, columns) => w.begin_table(&name, columns)?,
                Msg::Rows(rows) => w.rows(&rows)?,
                Msg::File(path, data) => w.add_file(&path, &data)?,
                Msg::Audit(head) => w.set_audit(head),
            }
        }
        w.finish()
    });
    let total: i64 = snap.counts().await?.iter().map(|(_, n)| n).sum();
    let progress = Progress::rows(total.max(0) as u64, "backup");
    let fed = feed(&mut snap, &catalog, &tx, &progress, files).await;
    progress.finish();
    drop(tx);
    let _ = snap.finish().await;
    let written = writer
        .await
        .map_err(|e| Failure::runtime(format!("the backup writer failed: {e}")));
    let finished = match (fed, written) {
        (_, Ok(Err(e))) => return Err(output.abandon(e.into())),
        (_, Err(e)) => return Err(output.abandon(e)),
        (Err(e), _) => return Err(output.abandon(e)),
        (Ok(()), Ok(Ok(f))) => f,
    };
    let location = output.commit()?;
    Ok(BackupOutcome {
        location,
        finished,
        elapsed: started.elapsed(),
    })
}

/// Streams every table to the writer; stops early if the writer has gone
/// (its own error then says why).
async fn feed(
    snap: &mut gatehouse_store::backup::Snapshot,
    catalog: &gatehouse_store::backup::Catalog,
    tx: &tokio::sync::mpsc::Sender<Msg>,
    progress: &Progress,
    files: Vec<(String, Vec<u8>)>,
) -> CmdResult {
    let gone = || Failure::runtime("the backup writer stopped");
    for table in &catalog.tables {
        tx.send(Msg::Table(table.name.clone(), table.columns.clone()))
            .await
            .map_err(|_| gone())?;
        let chain = (table.name == "event_chain")
            .then(|| table.column_index("head_seq").zip(table.column_index("head_hash")))
            .flatten();
        let mut sink = ToWriter { tx, progress, chain };
        snap.read_table(table, 2_000, &mut sink).await?;
    }
    for (path, data) in files {
        tx.send(Msg::File(path, data)).await.map_err(|_| gone())?;
    }
    Ok(())
}

/// The backup's file: written as `NAME.partial` (mode 0600: it holds password
/// hashes) and renamed into place only once complete, so a file with the
/// final name is always a whole backup.
enum Destination {
    Stdout,
    File {
        partial: PathBuf,
        path: PathBuf,
        file: std::fs::File,
    },
}

impl Destination {
    fn open(path: Option<&Path>) -> CmdResult<Destination> {
        use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
        let Some(path) = path else {
            return Ok(Destination::Stdout);
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty() && !d.exists()) {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(|e| Failure::runtime(format!("cannot create {}: {e}", dir.display())))?;
        }
        let mut partial = path.as_os_str().to_owned();
        partial.push(".partial");
        let partial = PathBuf::from(partial);
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&partial)
            .map_err(|e| Failure::runtime(format!("cannot write {}: {e}", partial.display())))?;
        Ok(Destination::File {
            partial,
            path: path.to_path_buf(),
            file,
        })
    }

    fn writer(&self) -> CmdResult<archive::Output> {
        Ok(match self {
            Destination::Stdout => Box::new(std::io::stdout()),
            Destination::File { file, .. } => Box::new(std::io::BufWriter::with_capacity(1 << 20, file.try_clone()?)),
        })
    }

    /// Makes the file durable and gives it its name.
    fn commit(self) -> CmdResult<String> {
        match self {
            Destination::Stdout => {
                std::io::stdout().flush()?;
                Ok("-".into())
            }
            Destination::File { partial, path, file } => {
                file.sync_all()?;
                std::fs::rename(&partial, &path)?;
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
                    && let Ok(d) = std::fs::File::open(dir)
                {
                    let _ = d.sync_all();
                }
                Ok(path.display().to_string())
            }
        }
    }

    /// Removes the incomplete file and passes the error on.
    fn abandon(self, e: Failure) -> Failure {
        if let Destination::File { partial, .. } = self {
            let _ = std::fs::remove_file(partial);
        }
        e
    }
}

/// Hands a table's batches to the writer thread, counting progress and
/// noting the audit chain's head as its row passes.
struct ToWriter<'a> {
    tx: &'a tokio::sync::mpsc::Sender<Msg>,
    progress: &'a Progress,
    /// Columns of head_seq and head_hash when this is the event_chain table.
    chain: Option<(usize, usize)>,
}

impl RowSink for ToWriter<'_> {
    async fn accept(&mut self, rows: Rows) -> Result<(), BackupError> {
        let gone = || BackupError::BadRows("the backup writer stopped".into());
        if let Some((seq, hash)) = self.chain
            && let Some(row) = rows.first()
            && let (Some(Value::Int(s)), Some(Value::Text(h))) = (row.get(seq), row.get(hash))
        {
            let head = AuditHead {
                head_seq: *s,
                head_hash: h.clone(),
            };
            self.tx.send(Msg::Audit(head)).await.map_err(|_| gone())?;
        }
        self.progress.inc(rows.len());
        self.tx.send(Msg::Rows(rows)).await.map_err(|_| gone())
    }
}
