//! Scheduled backups: GATEHOUSE_BACKUP__SCHEDULE, __DIR, __KEEP,
//! __PASSPHRASE_FILE.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::config::ConfigError;

#[derive(Debug, Clone)]
pub struct BackupSettings {
    /// How often the worker takes a backup; `None`: never.
    pub schedule: Option<Duration>,
    /// Where scheduled backups go (and `gatehouse backup`'s default).
    pub dir: PathBuf,
    /// Scheduled backups kept in `dir`; older ones are deleted.
    pub keep: u32,
    /// A file whose first line encrypts backups (age, passphrase).
    pub passphrase_file: Option<PathBuf>,
}

/// Reads the settings; `get` yields a trimmed non-empty value, `bad` builds the error.
pub fn parse(
    get: &dyn Fn(&str) -> Option<String>,
    bad: &dyn Fn(&str, &str) -> ConfigError,
    data_dir: &Path,
) -> Result<BackupSettings, ConfigError> {
    let schedule = match get("GATEHOUSE_BACKUP__SCHEDULE") {
        None => None,
        Some(text) => parse_schedule(&text).ok_or_else(|| {
            bad(
                "GATEHOUSE_BACKUP__SCHEDULE",
                &format!("is '{text}'; use off, hourly, daily, weekly or an interval like 30m, 6h, 1d"),
            )
        })?,
    };
    let keep = match get("GATEHOUSE_BACKUP__KEEP") {
        None => 7,
        Some(t) => t
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=10_000).contains(n))
            .ok_or_else(|| {
                bad(
                    "GATEHOUSE_BACKUP__KEEP",
                    &format!("is '{t}'; expected a number from 1 to 10000"),
                )
            })?,
    };
    let passphrase_file = get("GATEHOUSE_BACKUP__PASSPHRASE_FILE").map(PathBuf::from);
    if let Some(f) = &passphrase_file
        && !f.is_file()
    {
        return Err(bad(
            "GATEHOUSE_BACKUP__PASSPHRASE_FILE",
            &format!("names {}, which is not a readable file", f.display()),
        ));
    }
    Ok(BackupSettings {
        schedule,
        dir: get("GATEHOUSE_BACKUP__DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| data_dir.join("backups")),
        keep,
        passphrase_file,
    })
}

/// `off`, `hourly`, `daily`, `weekly`, or a number with s, m, h or d.
/// `Some(None)` is "off"; `None` is not a schedule.
fn parse_schedule(text: &str) -> Option<Option<Duration>> {
    let t = text.trim().to_ascii_lowercase();
    let secs = match t.as_str() {
        "off" | "none" | "never" => return Some(None),
        "hourly" => 3600,
        "daily" => 86_400,
        "weekly" => 7 * 86_400,
        _ => {
            let split = t.find(|c: char| !c.is_ascii_digit())?;
            let (n, unit) = t.split_at(split);
            let n: u64 = n.parse().ok().filter(|n| *n > 0)?;
            n.checked_mul(match unit {
                "s" => 1,
                "m" | "min" => 60,
                "h" => 3600,
                "d" => 86_400,
                _ => return None,
            })?
        }
    };
    Some(Some(Duration::from_secs(secs)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules() {
        assert_eq!(parse_schedule("off"), Some(None));
        assert_eq!(parse_schedule("daily"), Some(Some(Duration::from_secs(86_400))));
        assert_eq!(parse_schedule("6h"), Some(Some(Duration::from_secs(21_600))));
        assert_eq!(parse_schedule("30m"), Some(Some(Duration::from_secs(1800))));
        assert_eq!(parse_schedule("5s"), Some(Some(Duration::from_secs(5))));
        for bad in ["", "h", "0h", "6y", "-1h", "every day"] {
            assert_eq!(parse_schedule(bad), None, "{bad}");
        }
    }
}
