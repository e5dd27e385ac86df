//! The env files services read their client id and secret from: read as
//! `KEY=VALUE` lines, rewritten atomically (temporary file in the same
//! directory, fsync, rename) with the previous version kept as `FILE.bak` and
//! the file's permissions (and owner, when we may) preserved.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Parses `KEY=VALUE` lines (`export ` prefix, quotes and comments allowed).
pub fn parse(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for line in text.lines() {
        if let Some((k, v)) = parse_line(line) {
            out.insert(k, v);
        }
    }
    out
}

fn parse_line(line: &str) -> Option<(String, String)> {
    let t = line.trim();
    if t.is_empty() || t.starts_with('#') {
        return None;
    }
    let t = t.strip_prefix("export ").unwrap_or(t);
    let (k, v) = t.split_once('=')?;
    let k = k.trim();
    if k.is_empty() || !k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return None;
    }
    let v = v.trim();
    let v = if v.len() >= 2 && ((v.starts_with('"') && v.ends_with('"')) || (v.starts_with('\'') && v.ends_with('\'')))
    {
        v[1..v.len() - 1].to_string()
    } else {
        v.split(" #").next().unwrap_or(v).trim().to_string()
    };
    Some((k.to_string(), v))
}

pub fn read(path: &Path) -> std::io::Result<BTreeMap<String, String>> {
    Ok(parse(&fs::read_to_string(path)?))
}

/// Sets `updates` in the file (other lines untouched; new keys appended),
/// atomically. Returns the backup's path when there was a previous file.
pub fn write_keys(path: &Path, updates: &[(&str, &str)]) -> std::io::Result<Option<PathBuf>> {
    let old = match fs::read_to_string(path) {
        Ok(t) => Some(t),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(e),
    };
    let meta = fs::metadata(path).ok();
    let mut done = vec![false; updates.len()];
    let mut lines: Vec<String> = Vec::new();
    for line in old.as_deref().unwrap_or("").lines() {
        if let Some((k, _)) = parse_line(line)
            && let Some(i) = updates.iter().position(|(u, _)| *u == k)
        {
            if !done[i] {
                lines.push(format!("{k}={}", updates[i].1));
                done[i] = true;
            }
            continue;
        }
        lines.push(line.to_string());
    }
    for (i, (k, v)) in updates.iter().enumerate() {
        if !done[i] {
            lines.push(format!("{k}={v}"));
        }
    }
    let mut text = lines.join("\n");
    text.push('\n');
    write_atomic(path, text.as_bytes(), meta.as_ref(), old.is_some())
}

/// Writes `bytes` to `path` atomically, keeping the previous file as `.bak`.
pub fn write_atomic(
    path: &Path,
    bytes: &[u8],
    meta: Option<&fs::Metadata>,
    backup: bool,
) -> std::io::Result<Option<PathBuf>> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    fs::create_dir_all(dir)?;
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let tmp = dir.join(format!(".{name}.gatehouse-tmp-{}", std::process::id()));
    {
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)?;
        let mode = meta.map(|m| m.permissions().mode() & 0o7777).unwrap_or(0o600);
        fs::set_permissions(&tmp, fs::Permissions::from_mode(mode))?;
        if let Some(m) = meta {
            // Keep the owner (works as root; otherwise the file is ours already).
            let _ = std::os::unix::fs::chown(&tmp, Some(m.uid()), Some(m.gid()));
        }
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    let backup_path = if backup {
        let b = dir.join(format!("{name}.bak"));
        fs::copy(path, &b)?;
        if let Some(m) = meta {
            fs::set_permissions(&b, fs::Permissions::from_mode(m.permissions().mode() & 0o7777))?;
        }
        Some(b)
    } else {
        None
    };
    fs::rename(&tmp, path)?;
    if let Ok(d) = fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(backup_path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rewrite_keeps_other_lines_permissions_and_a_backup() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("grafana.env");
        fs::write(&p, "# grafana\nGF_X=1\nCLIENT_SECRET=\"old\"\nexport OTHER='a b'\n").unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(0o640)).unwrap();
        let m = read(&p).unwrap();
        assert_eq!(m["CLIENT_SECRET"], "old");
        assert_eq!(m["OTHER"], "a b");
        let b = write_keys(&p, &[("CLIENT_SECRET", "new"), ("CLIENT_ID", "grafana")]).unwrap();
        assert_eq!(
            fs::read_to_string(&p).unwrap(),
            "# grafana\nGF_X=1\nCLIENT_SECRET=new\nexport OTHER='a b'\nCLIENT_ID=grafana\n"
        );
        assert_eq!(fs::metadata(&p).unwrap().permissions().mode() & 0o777, 0o640);
        let b = b.unwrap();
        assert!(fs::read_to_string(&b).unwrap().contains("CLIENT_SECRET=\"old\""));
        assert_eq!(fs::metadata(&b).unwrap().permissions().mode() & 0o777, 0o640);
    }
}
