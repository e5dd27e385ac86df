//! The backup file: a tar archive (optionally encrypted with age, passphrase
//! recipient), readable with standard tools:
//!
//! ```text
//! gatehouse-backup/header.json                      format, schema version, backend, time
//! gatehouse-backup/tables/<table>/<n>.jsonl.gz      rows as JSON arrays, ≤ 50,000 per part
//! gatehouse-backup/files/branding/<name>            the configured logo, if any
//! gatehouse-backup/secrets.env                      GATEHOUSE_SECRET_KEY (encrypted backups only, on request)
//! gatehouse-backup/manifest.json                    counts, columns, SHA-256 of every part and of the whole
//! gatehouse-backup/manifest.json.sha256             SHA-256 of the manifest
//! ```
//!
//! `age -d FILE | tar -x` opens an encrypted one. Parts are written as the
//! rows stream out of the database (memory holds one part), so the manifest,
//! which needs every checksum, comes last; a truncated file lacks it and is
//! refused. `content_sha256` is the SHA-256 of every member before the
//! manifest, in archive order, so a member swapped, dropped or reordered fails
//! as surely as a flipped byte.

mod read;
#[cfg(test)]
mod tests;
mod write;

pub use read::{ReadOptions, Verified, for_each_part, verify};
pub use write::{ArchiveWriter, Finished, Output};

use gatehouse_store::backup::ColumnDef;
use serde::{Deserialize, Serialize};

pub const FORMAT: &str = "gatehouse-backup";
pub const FORMAT_VERSION: u32 = 1;
pub const ROOT: &str = "gatehouse-backup";
pub const HEADER: &str = "gatehouse-backup/header.json";
pub const MANIFEST: &str = "gatehouse-backup/manifest.json";
pub const MANIFEST_SHA: &str = "gatehouse-backup/manifest.json.sha256";
pub const SECRETS: &str = "gatehouse-backup/secrets.env";
pub const BRANDING_DIR: &str = "gatehouse-backup/files/branding/";
/// The age format's first line: an encrypted backup starts with it.
pub const AGE_MAGIC: &[u8] = b"age-encryption.org/v1";

/// What is known before the first row: written first, repeated in the manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    pub format: String,
    pub format_version: u32,
    pub schema_version: i64,
    pub created_at: String,
    pub gatehouse_version: String,
    /// `sqlite` or `postgresql`: where it came from (it loads into either).
    pub backend: String,
    /// PostgreSQL's `server_version`, if it came from PostgreSQL.
    pub server_version: Option<String>,
    /// A fingerprint of the GATEHOUSE_SECRET_KEY the TOTP seeds are sealed
    /// with (not the key), so a restore can say when its key differs.
    pub secret_key_fingerprint: Option<String>,
    pub encrypted: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Part {
    pub path: String,
    pub rows: i64,
    pub bytes: u64,
    pub sha256: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableEntry {
    pub name: String,
    pub columns: Vec<ColumnDef>,
    pub rows: i64,
    pub parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    pub path: String,
    pub bytes: u64,
    pub sha256: String,
}

/// The audit chain's head in the snapshot: a restore must end at the same one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditHead {
    pub head_seq: i64,
    pub head_hash: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub header: Header,
    pub tables: Vec<TableEntry>,
    pub files: Vec<FileEntry>,
    pub audit: Option<AuditHead>,
    pub content_sha256: String,
}

impl Manifest {
    pub fn table_rows(&self) -> std::collections::BTreeMap<String, i64> {
        self.tables.iter().map(|t| (t.name.clone(), t.rows)).collect()
    }

    pub fn total_rows(&self) -> i64 {
        self.tables.iter().map(|t| t.rows).sum()
    }
}

/// Why a backup file cannot be written or used.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error("the backup file is damaged: {0}")]
    Corrupt(String),
    #[error("the backup file is encrypted: give its passphrase with --passphrase-file")]
    NeedsPassphrase,
    #[error("wrong passphrase for this backup file")]
    WrongPassphrase,
    #[error("{0}")]
    Unsupported(String),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

impl From<ArchiveError> for crate::failure::Failure {
    fn from(e: ArchiveError) -> Self {
        match e {
            ArchiveError::Io(_) => crate::failure::Failure::runtime(e.to_string()),
            other => crate::failure::Failure::input(other.to_string()),
        }
    }
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

/// `gatehouse-backup/tables/<table>/<n>.jsonl.gz`
pub fn part_path(table: &str, n: usize) -> String {
    format!("{ROOT}/tables/{table}/{n:05}.jsonl.gz")
}

/// Fingerprint of a secret key: enough to tell two keys apart, nothing more.
pub fn key_fingerprint(key: &str) -> String {
    let mut input = b"gatehouse secret key fingerprint\0".to_vec();
    input.extend_from_slice(key.as_bytes());
    sha256_hex(&input)[..16].to_string()
}
