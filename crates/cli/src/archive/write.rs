//! Writing a backup file as rows arrive (runs on a blocking thread).

use std::io::{self, Write};

use age::secrecy::SecretString;
use flate2::Compression;
use flate2::write::GzEncoder;
use gatehouse_store::backup::{ColumnDef, Rows, Value};
use sha2::{Digest, Sha256};

use super::{
    ArchiveError, AuditHead, FileEntry, HEADER, Header, MANIFEST, MANIFEST_SHA, Manifest, Part, TableEntry, part_path,
    sha256_hex,
};

/// A part is closed at this many rows or this many bytes of JSON, whichever
/// comes first: memory holds one part.
const PART_ROWS: i64 = 50_000;
const PART_BYTES: usize = 16 << 20;
/// zlib level 3: most of level 6's size at about twice its speed.
const LEVEL: u32 = 3;

/// Where the archive's bytes go.
pub type Output = Box<dyn Write + Send>;

/// Counts and hashes what reaches the output (the whole file's SHA-256).
struct Hashing {
    inner: Output,
    hasher: Sha256,
    bytes: u64,
}

impl Write for Hashing {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

enum Sink {
    Plain(Hashing),
    Encrypted(age::stream::StreamWriter<Hashing>),
}

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Sink::Plain(w) => w.write(buf),
            Sink::Encrypted(w) => w.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Sink::Plain(w) => w.flush(),
            Sink::Encrypted(w) => w.flush(),
        }
    }
}

struct OpenTable {
    entry: TableEntry,
    json: Vec<u8>,
    rows: i64,
}

/// A backup being written.
pub struct ArchiveWriter {
    tar: tar::Builder<Sink>,
    header: Header,
    mtime: u64,
    content: Sha256,
    tables: Vec<TableEntry>,
    files: Vec<FileEntry>,
    open: Option<OpenTable>,
    audit: Option<AuditHead>,
}

/// What was written.
#[derive(Debug, Clone)]
pub struct Finished {
    pub manifest: Manifest,
    /// Size of the file.
    pub bytes: u64,
    /// SHA-256 of the file as written (encrypted or not).
    pub sha256: String,
}

impl ArchiveWriter {
    /// Starts the archive (and the age stream when `passphrase` is given) and
    /// writes the header member.
    pub fn new(out: Output, header: Header, passphrase: Option<SecretString>) -> Result<ArchiveWriter, ArchiveError> {
        let hashing = Hashing {
            inner: out,
            hasher: Sha256::new(),
            bytes: 0,
        };
        let sink = match passphrase {
            Some(p) => Sink::Encrypted(age::Encryptor::with_user_passphrase(p).wrap_output(hashing)?),
            None => Sink::Plain(hashing),
        };
        let mtime = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let mut w = ArchiveWriter {
            tar: tar::Builder::new(sink),
            header,
            mtime,
            content: Sha256::new(),
            tables: Vec::new(),
            files: Vec::new(),
            open: None,
            audit: None,
        };
        let json = serde_json::to_vec_pretty(&w.header).map_err(|e| ArchiveError::Unsupported(e.to_string()))?;
        w.member(HEADER, &json, true)?;
        Ok(w)
    }

    fn member(&mut self, path: &str, data: &[u8], counted: bool) -> Result<(), ArchiveError> {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o600);
        h.set_mtime(self.mtime);
        self.tar.append_data(&mut h, path, data)?;
        if counted {
            self.content.update(data);
        }
        Ok(())
    }

    pub fn begin_table(&mut self, name: &str, columns: Vec<ColumnDef>) -> Result<(), ArchiveError> {
        self.end_table()?;
        self.open = Some(OpenTable {
            entry: TableEntry {
                name: name.to_string(),
                columns,
                rows: 0,
                parts: Vec::new(),
            },
            json: Vec::new(),
            rows: 0,
        });
        Ok(())
    }

    pub fn rows(&mut self, rows: &Rows) -> Result<(), ArchiveError> {
        for row in rows {
            let Some(open) = self.open.as_mut() else {
                return Err(ArchiveError::Unsupported("rows outside a table".into()));
            };
            encode_row(&mut open.json, row);
            open.rows += 1;
            if open.rows >= PART_ROWS || open.json.len() >= PART_BYTES {
                self.flush_part()?;
            }
        }
        Ok(())
    }

    fn flush_part(&mut self) -> Result<(), ArchiveError> {
        let Some(open) = self.open.as_mut() else {
            return Ok(());
        };
        if open.rows == 0 {
            return Ok(());
        }
        let mut gz = GzEncoder::new(Vec::with_capacity(open.json.len() / 4), Compression::new(LEVEL));
        gz.write_all(&open.json)?;
        let data = gz.finish()?;
        let path = part_path(&open.entry.name, open.entry.parts.len() + 1);
        open.entry.parts.push(Part {
            path: path.clone(),
            rows: open.rows,
            bytes: data.len() as u64,
            sha256: sha256_hex(&data),
        });
        open.entry.rows += open.rows;
        open.rows = 0;
        open.json.clear();
        self.member(&path, &data, true)
    }

    pub fn end_table(&mut self) -> Result<(), ArchiveError> {
        self.flush_part()?;
        if let Some(open) = self.open.take() {
            self.tables.push(open.entry);
        }
        Ok(())
    }

    /// A file that travels with the data (branding, secrets), under `path`.
    pub fn add_file(&mut self, path: &str, data: &[u8]) -> Result<(), ArchiveError> {
        self.end_table()?;
        self.files.push(FileEntry {
            path: path.to_string(),
            bytes: data.len() as u64,
            sha256: sha256_hex(data),
        });
        self.member(path, data, true)
    }

    pub fn set_audit(&mut self, head: AuditHead) {
        self.audit = Some(head);
    }

    /// Writes the manifest and closes the archive, the encryption and the output.
    pub fn finish(mut self) -> Result<Finished, ArchiveError> {
        self.end_table()?;
        let manifest = Manifest {
            header: self.header.clone(),
            tables: std::mem::take(&mut self.tables),
            files: std::mem::take(&mut self.files),
            audit: self.audit.take(),
            content_sha256: hex::encode(self.content.clone().finalize()),
        };
        let json = serde_json::to_vec_pretty(&manifest).map_err(|e| ArchiveError::Unsupported(e.to_string()))?;
        self.member(MANIFEST, &json, false)?;
        let sha = format!("{}\n", sha256_hex(&json));
        self.member(MANIFEST_SHA, sha.as_bytes(), false)?;
        let mut hashing = match self.tar.into_inner()? {
            Sink::Plain(h) => h,
            Sink::Encrypted(w) => w.finish()?,
        };
        hashing.flush()?;
        Ok(Finished {
            manifest,
            bytes: hashing.bytes,
            sha256: hex::encode(hashing.hasher.finalize()),
        })
    }
}

/// One row as a JSON array on one line; blobs as base64 strings.
fn encode_row(buf: &mut Vec<u8>, row: &[Value]) {
    buf.push(b'[');
    for (i, v) in row.iter().enumerate() {
        if i > 0 {
            buf.push(b',');
        }
        match v {
            Value::Null => buf.extend_from_slice(b"null"),
            Value::Int(n) => buf.extend_from_slice(n.to_string().as_bytes()),
            Value::Text(s) => {
                // Writing a &str into a Vec cannot fail.
                let _ = serde_json::to_writer(&mut *buf, s);
            }
            other => {
                let _ = serde_json::to_writer(&mut *buf, &other.to_json());
            }
        }
    }
    buf.extend_from_slice(b"]\n");
}
