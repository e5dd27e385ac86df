//! The env file an OIDC service reads its client id and secret from: read
//! before a repair, rewritten with the new values (one `sso_fix` event), and
//! put back when Gatehouse's side of the repair fails.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::json;

use super::{FixError, Fixing, SSO_FIX, envfile};

/// A service's env file: missing is empty; unreadable (permissions, a
/// directory, a symbolic link) is an error naming the file.
pub(super) fn read(file: &Path) -> Result<BTreeMap<String, String>, String> {
    match envfile::read(file) {
        Ok(env) => Ok(env),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Default::default()),
        Err(e) => Err(format!("cannot read {}: {e}", file.display())),
    }
}

/// A rewritten env file, and how to put the previous one back.
pub(super) struct WrittenEnv {
    file: PathBuf,
    backup: Option<PathBuf>,
}

impl WrittenEnv {
    pub(super) fn restore(&self) {
        let restored = match &self.backup {
            Some(b) => std::fs::read(b).and_then(|old| {
                let meta = std::fs::symlink_metadata(&self.file).ok();
                envfile::write_atomic(&self.file, &old, meta.as_ref(), false).map(|_| ())
            }),
            None => std::fs::remove_file(&self.file),
        };
        if let Err(e) = restored {
            tracing::error!(file = %self.file.display(), error = %e, "could not restore the previous env file");
        }
    }
}

/// Writes the service's new client id/secret (one `sso_fix` event).
pub(super) async fn write(f: &mut Fixing<'_>, updates: &[(String, String)]) -> Result<Option<WrittenEnv>, FixError> {
    let s = f.s;
    let Some((file, _, _)) = &s.client else {
        return Ok(None);
    };
    if updates.is_empty() {
        return Ok(None);
    }
    let keys: Vec<String> = updates.iter().map(|(k, _)| k.clone()).collect();
    f.note(
        "client_secret",
        format!("write {} to {}", keys.join(", "), file.display()),
    );
    if f.dry_run {
        return Ok(None);
    }
    let pairs: Vec<(&str, &str)> = updates.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let backup =
        envfile::write_keys(file, &pairs).map_err(|e| f.failed(format!("cannot write {}: {e}", file.display())))?;
    let written = WrittenEnv {
        file: file.clone(),
        backup: backup.clone(),
    };
    let recorded = f
        .dir
        .events()
        .record(
            f.audit,
            SSO_FIX,
            None,
            json!({"service": s.name, "application": s.slug, "file": file.display().to_string(),
               "keys": keys, "backup": backup.map(|b| b.display().to_string())}),
        )
        .await;
    if let Err(e) = recorded {
        written.restore();
        return Err(e.into());
    }
    Ok(Some(written))
}
