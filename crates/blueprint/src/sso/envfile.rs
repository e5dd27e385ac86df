//! The env files services read their client id and secret from: read as
//! `KEY=VALUE` lines, rewritten atomically (temporary file in the same
//! directory, fsync, rename) with the previous version kept as `FILE.bak` and
//! the file's permissions (and owner, when we may) preserved.

use std::collections::BTreeMap;
use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
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
    Ok(parse(&read_no_follow(path)?))
}

/// Reads a file we are about to replace without following a symbolic link at
/// `path` (someone who may write the service's directory must not make us copy
/// another file into the backup).
fn read_no_follow(path: &Path) -> std::io::Result<String> {
    let mut f = fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)?;
    let mut text = String::new();
    f.read_to_string(&mut text)?;
    Ok(text)
}

/// Sets `updates` in the file (other lines untouched; new keys appended),
/// atomically. Returns the backup's path when there was a previous file.
pub fn write_keys(path: &Path, updates: &[(&str, &str)]) -> std::io::Result<Option<PathBuf>> {
    refuse_symlink(path)?;
    let old = match read_no_follow(path) {
        Ok(t) => Some(t),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(e),
    };
    let meta = fs::symlink_metadata(path).ok();
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

/// A symbolic link in place of a service's file is refused: replacing it would
/// cut the link, and following it would write wherever it points.
fn refuse_symlink(path: &Path) -> std::io::Result<()> {
    match fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!(
                "{} is a symbolic link; point the stack manifest at the file itself",
                path.display()
            ),
        )),
        _ => Ok(()),
    }
}

/// Writes `bytes` to `path` atomically, keeping the previous file as `.bak`;
/// both get the previous file's mode (and owner, when we may).
pub fn write_atomic(
    path: &Path,
    bytes: &[u8],
    meta: Option<&fs::Metadata>,
    backup: bool,
) -> std::io::Result<Option<PathBuf>> {
    refuse_symlink(path)?;
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    fs::create_dir_all(dir)?;
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let mode = meta.map(|m| m.permissions().mode() & 0o7777).unwrap_or(0o600);
    let owner = meta.map(|m| (m.uid(), m.gid()));
    let backup_path = if backup {
        let b = dir.join(format!("{name}.bak"));
        replace_file(dir, &b, read_no_follow(path)?.as_bytes(), mode, owner)?;
        Some(b)
    } else {
        None
    };
    replace_file(dir, path, bytes, mode, owner)?;
    Ok(backup_path)
}

/// Puts `bytes` at `target` by renaming a fresh temporary file over it. The
/// temporary file has an unpredictable name, is created exclusively (never
/// through a link) and readable by its owner only until it has the final mode,
/// so the secret is never visible to others on the way.
fn replace_file(dir: &Path, target: &Path, bytes: &[u8], mode: u32, owner: Option<(u32, u32)>) -> std::io::Result<()> {
    refuse_symlink(target)?;
    let name = target.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let tmp = dir.join(format!(".{name}.{}.tmp", gatehouse_crypto::random_token(12)));
    let written = (|| {
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&tmp)?;
        f.write_all(bytes)?;
        if let Some((uid, gid)) = owner {
            // Keep the owner (works as root; otherwise the file is ours already).
            let _ = std::os::unix::fs::fchown(&f, Some(uid), Some(gid));
        }
        f.set_permissions(fs::Permissions::from_mode(mode))?;
        f.sync_all()?;
        fs::rename(&tmp, target)
    })();
    if written.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    written?;
    if let Ok(d) = fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
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
        // No temporary file is left behind.
        let names: Vec<String> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names.len(), 2, "{names:?}");
    }

    #[test]
    fn symbolic_links_are_refused_and_nothing_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("elsewhere");
        fs::write(&real, "KEEP=1\n").unwrap();
        let link = dir.path().join("svc.env");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        let e = write_keys(&link, &[("CLIENT_SECRET", "new")]).unwrap_err();
        assert!(e.to_string().contains("symbolic link"), "{e}");
        assert_eq!(fs::read_to_string(&real).unwrap(), "KEEP=1\n");
        assert!(fs::symlink_metadata(&link).unwrap().file_type().is_symlink());
        assert!(read(&link).is_err(), "not read through the link either");
        // A link planted where the backup goes is refused too.
        let p = dir.path().join("other.env");
        fs::write(&p, "A=1\n").unwrap();
        std::os::unix::fs::symlink(&real, dir.path().join("other.env.bak")).unwrap();
        assert!(write_keys(&p, &[("A", "2")]).is_err());
        assert_eq!(fs::read_to_string(&real).unwrap(), "KEEP=1\n");
        assert_eq!(fs::read_to_string(&p).unwrap(), "A=1\n");
        let leftovers = fs::read_dir(dir.path())
            .unwrap()
            .filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().ends_with(".tmp"))
            .count();
        assert_eq!(leftovers, 0);
    }

    #[test]
    fn a_new_file_is_private() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("new.env");
        assert!(write_keys(&p, &[("CLIENT_SECRET", "s")]).unwrap().is_none());
        assert_eq!(fs::metadata(&p).unwrap().permissions().mode() & 0o777, 0o600);
    }
}
