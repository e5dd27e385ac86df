//! Writing the generated bootstrap password to the `.env` file: appended as one
//! line, other lines untouched, the file created with mode 0600 (and tightened
//! to 0600 if it was readable by others, since it now holds a secret).

use std::fs::{self, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

pub fn append_secret(path: &Path, name: &str, value: &str) -> io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir)?;
    }
    let mut file = OpenOptions::new()
        .read(true)
        .append(true)
        .create(true)
        .mode(0o600)
        .open(path)?;
    let mode = file.metadata()?.permissions().mode();
    if mode & 0o077 != 0 {
        tracing::warn!(file = %path.display(), "the env file was readable by other users; restricting it to mode 0600");
        fs::set_permissions(path, fs::Permissions::from_mode(0o600))?;
    }
    let mut existing = String::new();
    file.read_to_string(&mut existing)?;
    let sep = if existing.is_empty() || existing.ends_with('\n') {
        ""
    } else {
        "\n"
    };
    writeln!(file, "{sep}{name}={value}")?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creates_0600_and_keeps_other_lines() {
        let dir = std::env::temp_dir().join(format!("gh-envfile-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let path = dir.join("sub/.env");
        append_secret(&path, "GATEHOUSE_BOOTSTRAP_PASSWORD", "abc").unwrap();
        assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(fs::read_to_string(&path).unwrap(), "GATEHOUSE_BOOTSTRAP_PASSWORD=abc\n");

        let other = dir.join(".env2");
        fs::write(&other, "# stack settings\nFOO=bar").unwrap();
        fs::set_permissions(&other, fs::Permissions::from_mode(0o644)).unwrap();
        append_secret(&other, "GATEHOUSE_BOOTSTRAP_PASSWORD", "xyz").unwrap();
        assert_eq!(
            fs::read_to_string(&other).unwrap(),
            "# stack settings\nFOO=bar\nGATEHOUSE_BOOTSTRAP_PASSWORD=xyz\n"
        );
        assert_eq!(fs::metadata(&other).unwrap().permissions().mode() & 0o777, 0o600);
        fs::remove_dir_all(dir).ok();
    }
}
