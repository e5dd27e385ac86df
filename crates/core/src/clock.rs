//! Time as the domain sees it: milliseconds since the Unix epoch, UTC.
//!
//! Services never read the system clock themselves; they ask a [`Clock`], so that
//! tests can freeze and advance time (expiry of recovery keys, lockouts, tokens).

use std::fmt;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, Ordering};

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// A point in time, in milliseconds since 1970-01-01T00:00:00Z.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Timestamp(pub i64);

impl Timestamp {
    pub fn millis(self) -> i64 {
        self.0
    }

    pub fn plus_seconds(self, seconds: i64) -> Timestamp {
        Timestamp(self.0.saturating_add(seconds.saturating_mul(1000)))
    }

    pub fn minus_seconds(self, seconds: i64) -> Timestamp {
        self.plus_seconds(-seconds)
    }

    /// RFC 3339 in UTC with millisecond precision, e.g. `2026-11-29T10:00:00.123Z`.
    pub fn to_rfc3339(self) -> String {
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(self.0) * 1_000_000)
            .ok()
            .and_then(|t| t.format(&Rfc3339).ok())
            .unwrap_or_else(|| self.0.to_string())
    }

    /// Parses RFC 3339 (`2026-11-29T10:00:00Z`), a date (`2026-11-29`, midnight UTC)
    /// or a relative age (`30m`, `12h`, `7d`, counted back from `now`).
    pub fn parse_since(text: &str, now: Timestamp) -> Option<Timestamp> {
        let text = text.trim();
        if let Some(t) = parse_age(text) {
            return Some(now.minus_seconds(t));
        }
        if let Ok(t) = OffsetDateTime::parse(text, &Rfc3339) {
            return Some(Timestamp((t.unix_timestamp_nanos() / 1_000_000) as i64));
        }
        let date_fmt = time::macros::format_description!("[year]-[month]-[day]");
        time::Date::parse(text, &date_fmt)
            .ok()
            .map(|d| Timestamp(d.midnight().assume_utc().unix_timestamp() * 1000))
    }
}

/// `90s`, `30m`, `12h`, `7d`, `2w` → seconds.
pub fn parse_age(text: &str) -> Option<i64> {
    let (num, unit) = text.split_at(text.len().checked_sub(1)?);
    let n: i64 = num.parse().ok()?;
    let mult = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 604_800,
        _ => return None,
    };
    (n >= 0).then(|| n.saturating_mul(mult))
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

/// The source of "now".
pub trait Clock: Send + Sync + fmt::Debug {
    fn now(&self) -> Timestamp;
}

/// The real clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        let nanos = OffsetDateTime::now_utc().unix_timestamp_nanos();
        Timestamp((nanos / 1_000_000) as i64)
    }
}

/// A clock the test moves by hand.
#[derive(Debug)]
pub struct FixedClock {
    now: AtomicI64,
}

impl FixedClock {
    pub fn new(at: Timestamp) -> Self {
        FixedClock {
            now: AtomicI64::new(at.0),
        }
    }

    pub fn advance_seconds(&self, seconds: i64) {
        self.now.fetch_add(seconds * 1000, Ordering::SeqCst);
    }

    pub fn set(&self, at: Timestamp) {
        self.now.store(at.0, Ordering::SeqCst);
    }
}

impl Clock for FixedClock {
    fn now(&self) -> Timestamp {
        Timestamp(self.now.load(Ordering::SeqCst))
    }
}

/// The system clock shifted by an offset that can be changed while running.
/// Black-box tests use it (through `GATEHOUSE_TEST_CLOCK_FILE`) to move a running
/// server's time forward without waiting.
#[derive(Debug)]
pub struct OffsetClock {
    offset_ms: Mutex<i64>,
}

impl OffsetClock {
    pub fn new(offset_ms: i64) -> Self {
        OffsetClock {
            offset_ms: Mutex::new(offset_ms),
        }
    }

    pub fn set_offset_ms(&self, ms: i64) {
        if let Ok(mut o) = self.offset_ms.lock() {
            *o = ms;
        }
    }
}

impl Clock for OffsetClock {
    fn now(&self) -> Timestamp {
        let off = self.offset_ms.lock().map(|o| *o).unwrap_or(0);
        Timestamp(SystemClock.now().0 + off)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_parses() {
        let t = Timestamp(1_764_410_400_123);
        assert_eq!(t.to_rfc3339(), "2025-11-29T10:00:00.123Z");
        let now = Timestamp(1_000_000_000);
        assert_eq!(Timestamp::parse_since("2025-11-29T10:00:00.123Z", now), Some(t));
        assert_eq!(
            Timestamp::parse_since("10m", now),
            Some(Timestamp(1_000_000_000 - 600_000))
        );
        assert_eq!(
            Timestamp::parse_since("2025-11-29", now),
            Some(Timestamp(1_764_374_400_000))
        );
        assert_eq!(Timestamp::parse_since("yesterday", now), None);
    }

    #[test]
    fn fixed_clock_moves_only_when_told() {
        let c = FixedClock::new(Timestamp(5000));
        assert_eq!(c.now(), Timestamp(5000));
        c.advance_seconds(2);
        assert_eq!(c.now(), Timestamp(7000));
    }
}
