//! Posting the signed audit-log head somewhere the database's writers cannot
//! reach (see `gatehouse_core::events_head`): appended as one JSON line to a
//! file, or sent as a syslog line to the local syslog socket (which forwards it
//! off the machine when the operator configured that). A periodic job, so one
//! node posts per period however many run.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use gatehouse_core::events_head::{HeadKey, SignedHead};
use gatehouse_core::jobs::Job;

use crate::{JobContext, JobError, JobHandler, Registry};

/// The job kind.
pub const POST_HEAD: &str = "audit.post_head";

/// Where signed heads go (`GATEHOUSE_AUDIT_HEAD_EXPORT`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeadTarget {
    /// `file:PATH`: one JSON line appended per head; created with mode 0600.
    File(PathBuf),
    /// `syslog` (`/dev/log`) or `syslog:SOCKET`: facility auth, severity notice.
    Syslog(PathBuf),
}

impl HeadTarget {
    /// Parses the setting's value; `Err` says what is accepted.
    pub fn parse(text: &str) -> Result<HeadTarget, String> {
        let text = text.trim();
        if text == "syslog" {
            return Ok(HeadTarget::Syslog(PathBuf::from("/dev/log")));
        }
        let accepted = "use file:PATH, syslog or syslog:SOCKET";
        match text.split_once(':') {
            Some(("file", p)) if !p.trim().is_empty() => Ok(HeadTarget::File(PathBuf::from(p.trim()))),
            Some(("syslog", p)) if !p.trim().is_empty() => Ok(HeadTarget::Syslog(PathBuf::from(p.trim()))),
            _ => Err(format!("'{text}' is not a place for signed heads; {accepted}")),
        }
    }
}

impl std::fmt::Display for HeadTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HeadTarget::File(p) => write!(f, "file:{}", p.display()),
            HeadTarget::Syslog(p) => write!(f, "syslog:{}", p.display()),
        }
    }
}

/// Appends `head` as one JSON line to `path`, creating it with mode 0600.
pub fn append_to_file(path: &Path, head: &SignedHead) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let line = serde_json::to_string(head).map_err(std::io::Error::other)?;
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(format!("{line}\n").as_bytes())?;
    file.sync_data()
}

/// Sends `head` to a syslog socket (RFC 3164 framing, as `logger` does).
pub fn send_to_syslog(socket: &Path, head: &SignedHead) -> std::io::Result<()> {
    const AUTH_NOTICE: u8 = 4 * 8 + 5;
    let line = serde_json::to_string(head).map_err(std::io::Error::other)?;
    let message = format!("<{AUTH_NOTICE}>gatehouse[{}]: audit-head {line}", std::process::id());
    let sock = std::os::unix::net::UnixDatagram::unbound()?;
    sock.send_to(message.as_bytes(), socket).map(|_| ())
}

/// Posts `head` to `target`.
pub fn post(target: &HeadTarget, head: &SignedHead) -> std::io::Result<()> {
    match target {
        HeadTarget::File(path) => append_to_file(path, head),
        HeadTarget::Syslog(socket) => send_to_syslog(socket, head),
    }
}

/// `audit.post_head`.
pub struct PostHead {
    pub key: Arc<HeadKey>,
    pub target: HeadTarget,
}

#[async_trait]
impl JobHandler for PostHead {
    async fn run(&self, ctx: &JobContext, _job: &Job) -> Result<(), JobError> {
        let head = ctx.directory.events().signed_chain_head(&self.key).await?;
        let target = self.target.clone();
        let posted = head.clone();
        tokio::task::spawn_blocking(move || post(&target, &posted))
            .await
            .map_err(|e| JobError::Retry(format!("posting the audit head: {e}")))?
            .map_err(|e| JobError::Retry(format!("cannot post the audit head to {}: {e}", self.target)))?;
        tracing::info!(seq = head.head_seq, target = %self.target, "posted the signed audit-log head");
        Ok(())
    }
}

/// Registers the job and its schedule.
pub fn register(registry: &mut Registry, key: Arc<HeadKey>, target: HeadTarget, every: Duration) {
    registry.register(POST_HEAD, Arc::new(PostHead { key, target }));
    registry.every(POST_HEAD, every, serde_json::json!({}));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse() {
        assert_eq!(
            HeadTarget::parse("syslog").unwrap(),
            HeadTarget::Syslog("/dev/log".into())
        );
        assert_eq!(
            HeadTarget::parse("syslog:/run/x.sock").unwrap(),
            HeadTarget::Syslog("/run/x.sock".into())
        );
        assert_eq!(
            HeadTarget::parse("file:/var/lib/heads.jsonl").unwrap(),
            HeadTarget::File("/var/lib/heads.jsonl".into())
        );
        for bad in ["", "file:", "ftp://x", "/just/a/path"] {
            assert!(HeadTarget::parse(bad).is_err(), "{bad}");
        }
    }
}
