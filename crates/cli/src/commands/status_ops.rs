//! `gatehouse status` rows for operations: the last backup and the schedule,
//! and PostgreSQL's major version against the one Gatehouse recorded.

use gatehouse_core::Timestamp;
use gatehouse_store::SqlStore;

use crate::commands::backup::human_bytes;
use crate::context::Context;

/// Adds the rows; returns false when an operator must act (backups failing
/// or overdue on a schedule). Warnings go to stderr as well.
pub async fn rows(ctx: &Context, store: &SqlStore, now: Timestamp, rows: &mut Vec<(&'static str, String)>) -> bool {
    let mut healthy = true;
    let b = &ctx.settings.backup;
    let schedule = b.schedule;
    rows.push((
        "backup schedule",
        match schedule {
            Some(every) => format!(
                "every {}, keeping {} in {}",
                span(every.as_secs() as i64),
                b.keep,
                b.dir.display()
            ),
            None => "off (GATEHOUSE_BACKUP__SCHEDULE)".into(),
        },
    ));
    match store.last_backups().await {
        Ok((ok, failed)) => {
            let last_ok_at = ok.as_ref().map(|r| r.finished_at.millis());
            rows.push((
                "last backup",
                match &ok {
                    Some(r) => format!(
                        "{} ({} ago, {}), {} {}",
                        r.finished_at.to_rfc3339(),
                        span((now.millis() - r.finished_at.millis()) / 1000),
                        r.kind,
                        human_bytes(r.bytes.max(0) as u64),
                        r.location
                    ),
                    None => "none recorded".into(),
                },
            ));
            if let Some(f) = failed.filter(|f| Some(f.finished_at.millis()) > last_ok_at) {
                rows.push((
                    "backup failure",
                    format!(
                        "{} ago ({}): {}",
                        span((now.millis() - f.finished_at.millis()) / 1000),
                        f.kind,
                        f.error.as_deref().unwrap_or("-")
                    ),
                ));
                healthy &= schedule.is_none();
            }
            if let Some(every) = schedule {
                let due = every.as_millis() as i64 * 2 + 60_000;
                let age = last_ok_at.map(|t| now.millis() - t);
                if age.is_none_or(|a| a > due) {
                    rows.push((
                        "backup overdue",
                        "no successful backup within two schedule periods".into(),
                    ));
                    healthy = false;
                }
            }
        }
        Err(e) => rows.push(("last backup", format!("unknown: {e}"))),
    }
    match store.postgres_version().await {
        Ok(Some(v)) => {
            let note = match (v.changed(), v.recorded_major) {
                (true, Some(was)) => {
                    let msg = format!(
                        "WARNING: the major version changed from {was} to {} since {}: run ANALYZE, and REINDEX \
                         if the operating system's collation library changed too (docs/operations.md), then \
                         `gatehouse status --acknowledge-postgres-upgrade`",
                        v.major,
                        v.recorded_at.map(|t| t.to_rfc3339()).unwrap_or_default()
                    );
                    eprintln!("warning: PostgreSQL {msg}");
                    format!(" — {msg}")
                }
                (_, None) => " (not recorded yet)".into(),
                _ => String::new(),
            };
            rows.push(("postgresql", format!("{}{note}", v.server_version)));
        }
        Ok(None) => {}
        Err(e) => rows.push(("postgresql", format!("unknown: {e}"))),
    }
    healthy
}

/// "90 s", "12 min", "3 h", "2 d".
pub fn span(secs: i64) -> String {
    let s = secs.max(0);
    if s < 120 {
        format!("{s} s")
    } else if s < 7200 {
        format!("{} min", s / 60)
    } else if s < 172_800 {
        format!("{} h", s / 3600)
    } else {
        format!("{} d", s / 86_400)
    }
}
