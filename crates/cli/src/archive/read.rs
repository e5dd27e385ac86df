//! Reading a backup file: the verification pass (every checksum before any
//! write) and the loading pass (rows, table by table).

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;

use age::secrecy::SecretString;
use flate2::read::GzDecoder;
use gatehouse_store::backup::{Rows, Value};
use sha2::{Digest, Sha256};

use super::{
    AGE_MAGIC, ArchiveError, BRANDING_DIR, FORMAT, FORMAT_VERSION, HEADER, Header, MANIFEST, MANIFEST_SHA, Manifest,
    SECRETS, sha256_hex,
};

/// Largest member accepted (a part is ~16 MiB of JSON before compression).
const MAX_MEMBER: u64 = 256 << 20;
/// Largest decompressed part accepted (the writer closes parts at 16 MiB
/// plus one row; rows are bounded by what the database accepted).
const MAX_PART_JSON: u64 = 512 << 20;
/// Rows handed to the loader at once.
const LOAD_BATCH: usize = 5_000;

pub struct ReadOptions {
    pub passphrase: Option<SecretString>,
    /// Also decompress and parse every part, counting rows (`restore --check`).
    pub deep: bool,
    /// The newest schema this binary can restore.
    pub known_schema: i64,
}

/// A backup whose every checksum matched.
pub struct Verified {
    pub manifest: Manifest,
    /// The secrets member, when the backup carries one.
    pub secrets: Option<Vec<u8>>,
    /// Branding files: (file name, bytes).
    pub branding: Vec<(String, Vec<u8>)>,
}

fn open(path: &Path, passphrase: Option<&SecretString>) -> Result<Box<dyn Read>, ArchiveError> {
    let mut file = BufReader::new(File::open(path)?);
    if !file.fill_buf()?.starts_with(AGE_MAGIC) {
        return Ok(Box::new(file));
    }
    let passphrase = passphrase.ok_or(ArchiveError::NeedsPassphrase)?;
    let decryptor = age::Decryptor::new_buffered(file).map_err(|e| ArchiveError::Corrupt(e.to_string()))?;
    let identity = age::scrypt::Identity::new(passphrase.clone());
    match decryptor.decrypt(std::iter::once(&identity as &dyn age::Identity)) {
        Ok(reader) => Ok(Box::new(reader)),
        Err(age::DecryptError::NoMatchingKeys | age::DecryptError::DecryptionFailed) => {
            Err(ArchiveError::WrongPassphrase)
        }
        Err(e) => Err(ArchiveError::Corrupt(e.to_string())),
    }
}

/// Damage found while reading (an I/O error inside the archive or the age
/// stream is damage, not a system failure).
fn damaged(e: io::Error) -> ArchiveError {
    ArchiveError::Corrupt(format!("{e} (the file is truncated or altered)"))
}

fn read_member<R: Read>(entry: &mut tar::Entry<'_, R>) -> Result<(String, Vec<u8>), ArchiveError> {
    let path = entry.path().map_err(damaged)?.to_string_lossy().into_owned();
    let size = entry.header().size().map_err(damaged)?;
    if size > MAX_MEMBER {
        return Err(ArchiveError::Corrupt(format!(
            "member {path} is {size} bytes, more than a backup writes"
        )));
    }
    let mut data = Vec::with_capacity(size as usize);
    entry.read_to_end(&mut data).map_err(damaged)?;
    Ok((path, data))
}

fn check_header(data: &[u8], known_schema: i64) -> Result<Header, ArchiveError> {
    let header: Header =
        serde_json::from_slice(data).map_err(|e| ArchiveError::Corrupt(format!("its header is not valid: {e}")))?;
    if header.format != FORMAT {
        return Err(ArchiveError::Unsupported("this is not a Gatehouse backup".into()));
    }
    if header.format_version > FORMAT_VERSION {
        return Err(ArchiveError::Unsupported(format!(
            "the backup file is format version {}, newer than this binary reads ({FORMAT_VERSION}); \
             use the Gatehouse version that made it",
            header.format_version
        )));
    }
    if header.schema_version > known_schema {
        return Err(ArchiveError::Unsupported(format!(
            "the backup is at schema version {}, newer than this binary knows ({known_schema}); \
             it was made by Gatehouse {}: restore it with that version or a newer one",
            header.schema_version, header.gatehouse_version
        )));
    }
    Ok(header)
}

/// Reads the whole file once and checks the header, every part's SHA-256,
/// the content digest and the manifest's own digest; with `deep`, also
/// parses every part. Nothing is written anywhere.
pub fn verify(path: &Path, opts: &ReadOptions) -> Result<Verified, ArchiveError> {
    let mut archive = tar::Archive::new(open(path, opts.passphrase.as_ref())?);
    let mut header: Option<Header> = None;
    let mut content = Sha256::new();
    let mut seen: Vec<Seen> = Vec::new();
    let mut manifest_bytes: Option<Vec<u8>> = None;
    let mut manifest_sha: Option<Vec<u8>> = None;
    let mut secrets = None;
    let mut branding = Vec::new();
    for entry in archive.entries().map_err(damaged)? {
        let mut entry = entry.map_err(damaged)?;
        let (name, data) = read_member(&mut entry)?;
        if header.is_none() {
            if name != HEADER {
                return Err(ArchiveError::Unsupported("this is not a Gatehouse backup".into()));
            }
            header = Some(check_header(&data, opts.known_schema)?);
            content.update(&data);
            continue;
        }
        match name.as_str() {
            MANIFEST => manifest_bytes = Some(data),
            MANIFEST_SHA => manifest_sha = Some(data),
            _ if manifest_bytes.is_some() => {
                return Err(ArchiveError::Corrupt(format!("member {name} follows the manifest")));
            }
            _ => {
                content.update(&data);
                let parsed = if opts.deep && name.ends_with(".jsonl.gz") {
                    Some(count_rows(&name, &data)?)
                } else {
                    None
                };
                if name == SECRETS {
                    secrets = Some(data.clone());
                } else if let Some(file) = name.strip_prefix(BRANDING_DIR) {
                    branding.push((file.to_string(), data.clone()));
                }
                seen.push(Seen {
                    bytes: data.len() as u64,
                    sha256: sha256_hex(&data),
                    path: name,
                    parsed,
                });
            }
        }
    }
    let (Some(header), Some(manifest_bytes), Some(manifest_sha)) = (header, manifest_bytes, manifest_sha) else {
        return Err(ArchiveError::Corrupt(
            "it ends before its manifest: the file is truncated".into(),
        ));
    };
    if String::from_utf8_lossy(&manifest_sha).trim() != sha256_hex(&manifest_bytes) {
        return Err(ArchiveError::Corrupt("the manifest does not match its checksum".into()));
    }
    let manifest: Manifest = serde_json::from_slice(&manifest_bytes)
        .map_err(|e| ArchiveError::Corrupt(format!("the manifest is not valid: {e}")))?;
    if manifest.header != header {
        return Err(ArchiveError::Corrupt("the manifest and the header disagree".into()));
    }
    check_members(&manifest, &seen)?;
    if hex::encode(content.finalize()) != manifest.content_sha256 {
        return Err(ArchiveError::Corrupt("the content does not match its checksum".into()));
    }
    Ok(Verified {
        manifest,
        secrets,
        branding,
    })
}

/// A member as read: where, how big, its digest, and (when parsed) its rows
/// and widest row.
struct Seen {
    path: String,
    bytes: u64,
    sha256: String,
    parsed: Option<(i64, usize)>,
}

/// Every member the manifest lists, in its order, with its size and digest,
/// and nothing else.
fn check_members(m: &Manifest, seen: &[Seen]) -> Result<(), ArchiveError> {
    let mut expected = Vec::new();
    for t in &m.tables {
        if t.parts.iter().map(|p| p.rows).sum::<i64>() != t.rows {
            return Err(ArchiveError::Corrupt(format!(
                "the row count of {} does not add up",
                t.name
            )));
        }
        for p in &t.parts {
            expected.push((&p.path, p.bytes, &p.sha256, Some((p.rows, t.columns.len()))));
        }
    }
    for f in &m.files {
        expected.push((&f.path, f.bytes, &f.sha256, None));
    }
    if expected.len() != seen.len() {
        return Err(ArchiveError::Corrupt(format!(
            "it holds {} parts where the manifest lists {}",
            seen.len(),
            expected.len()
        )));
    }
    for ((path, bytes, sha, shape), s) in expected.iter().zip(seen) {
        let s_path = &s.path;
        if *path != s_path || *bytes != s.bytes || **sha != s.sha256 {
            return Err(ArchiveError::Corrupt(format!(
                "part {s_path} does not match the manifest"
            )));
        }
        if let (Some((rows, width)), Some((got_rows, got_width))) = (shape, &s.parsed)
            && (rows != got_rows || (*got_rows > 0 && width != got_width))
        {
            return Err(ArchiveError::Corrupt(format!(
                "part {s_path} holds {got_rows} rows of {got_width} values; the manifest says {rows} of {width}"
            )));
        }
    }
    Ok(())
}

fn inflate(name: &str, data: &[u8]) -> Result<Vec<u8>, ArchiveError> {
    let mut json = Vec::new();
    GzDecoder::new(data)
        .take(MAX_PART_JSON + 1)
        .read_to_end(&mut json)
        .map_err(|e| ArchiveError::Corrupt(format!("part {name}: {e}")))?;
    if json.len() as u64 > MAX_PART_JSON {
        return Err(ArchiveError::Corrupt(format!(
            "part {name} inflates beyond any part a backup writes"
        )));
    }
    Ok(json)
}

/// Rows in a part, and the width of its widest row (all must be arrays).
fn count_rows(name: &str, data: &[u8]) -> Result<(i64, usize), ArchiveError> {
    let json = inflate(name, data)?;
    let mut rows = 0i64;
    let mut width = 0usize;
    for line in json.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        let values: Vec<serde_json::Value> = serde_json::from_slice(line)
            .map_err(|e| ArchiveError::Corrupt(format!("part {name}, row {}: {e}", rows + 1)))?;
        width = width.max(values.len());
        rows += 1;
    }
    Ok((rows, width))
}

/// Reads the file again and hands every table's rows to `load`, in the
/// manifest's order and in batches, typed by the manifest's columns. Each
/// part's digest is checked again (the file may have changed since `verify`).
pub fn for_each_part(
    path: &Path,
    passphrase: Option<&SecretString>,
    manifest: &Manifest,
    mut load: impl FnMut(&str, Rows) -> Result<(), ArchiveError>,
) -> Result<(), ArchiveError> {
    let parts: HashMap<&str, (usize, &str)> = manifest
        .tables
        .iter()
        .enumerate()
        .flat_map(|(i, t)| t.parts.iter().map(move |p| (p.path.as_str(), (i, p.sha256.as_str()))))
        .collect();
    let mut archive = tar::Archive::new(open(path, passphrase)?);
    for entry in archive.entries().map_err(damaged)? {
        let mut entry = entry.map_err(damaged)?;
        let (name, data) = read_member(&mut entry)?;
        let Some(&(table, sha)) = parts.get(name.as_str()) else {
            continue;
        };
        if sha256_hex(&data) != sha {
            return Err(ArchiveError::Corrupt(format!(
                "part {name} changed since it was verified"
            )));
        }
        let t = &manifest.tables[table];
        let json = inflate(&name, &data)?;
        let mut batch: Rows = Vec::with_capacity(LOAD_BATCH);
        for line in json.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
            let values: Vec<serde_json::Value> =
                serde_json::from_slice(line).map_err(|e| ArchiveError::Corrupt(format!("part {name}: {e}")))?;
            if values.len() != t.columns.len() {
                return Err(ArchiveError::Corrupt(format!(
                    "part {name}: a row has the wrong number of values"
                )));
            }
            let row = values
                .into_iter()
                .zip(&t.columns)
                .map(|(v, c)| Value::from_json(v, c.kind))
                .collect::<Option<Vec<Value>>>()
                .ok_or_else(|| ArchiveError::Corrupt(format!("part {name}: a value does not fit its column")))?;
            batch.push(row);
            if batch.len() >= LOAD_BATCH {
                load(&t.name, std::mem::replace(&mut batch, Vec::with_capacity(LOAD_BATCH)))?;
            }
        }
        if !batch.is_empty() {
            load(&t.name, batch)?;
        }
    }
    Ok(())
}
