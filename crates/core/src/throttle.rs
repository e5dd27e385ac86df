//! Brute-force throttling of sign-ins, per account and per client address.
//!
//! Failures are counted in a sliding window. Past `delay_after` failures each new
//! attempt must wait an escalating delay (1 s, 2 s, 4 s … up to `max_delay`) after
//! the last failure; at `lock_after` failures the key is locked for `lock_for`.
//! The check runs before any password hash is computed, so a locked account costs
//! the server nothing. Addresses get higher thresholds than accounts: many people
//! may share one address behind a NAT.

use crate::clock::Timestamp;
use crate::model::ThrottleRecord;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub delay_after: i64,
    pub lock_after: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThrottlePolicy {
    pub window_secs: i64,
    pub account: Limits,
    pub client: Limits,
    /// Wrong device user codes typed in one session (RFC 8628 §5.1).
    pub device: Limits,
    pub lock_secs: i64,
    pub max_delay_secs: i64,
    /// How long a browser that signed in stays a known device, whose password
    /// attempts get a bucket of their own (see `crate::known_device`); 0: off.
    pub known_device_secs: i64,
}

impl Default for ThrottlePolicy {
    fn default() -> Self {
        ThrottlePolicy {
            window_secs: 600,
            account: Limits {
                delay_after: 3,
                lock_after: 10,
            },
            client: Limits {
                delay_after: 10,
                lock_after: 50,
            },
            device: Limits {
                delay_after: 3,
                lock_after: 5,
            },
            lock_secs: 600,
            max_delay_secs: 30,
            known_device_secs: 90 * 86_400,
        }
    }
}

/// The kind of thing a key throttles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    Account,
    Client,
    /// Device user codes typed in one browser session.
    Device,
}

pub fn account_key(id: &str) -> String {
    format!("acct:{}", id.to_lowercase())
}

/// The key for an identifier that names no user: throttled all the same (a
/// lock must not reveal whether an account exists), under a bounded key.
pub fn unknown_account_key(identifier: &str) -> String {
    let digest = gatehouse_crypto::sha256_hex(identifier.to_lowercase().as_bytes());
    format!("acct:?{}", &digest[..32])
}

pub fn client_key(ip: &str) -> String {
    format!("ip:{ip}")
}

/// The key for device user codes typed in one session.
pub fn device_key(session_id: &str) -> String {
    format!("device:{session_id}")
}

/// The key for device user codes typed from one address (the client limits
/// apply; never equal to a sign-in key).
pub fn device_client_key(ip: &str) -> String {
    format!("ip:device:{ip}")
}

fn kind_of(key: &str) -> KeyKind {
    if key.starts_with("ip:") {
        KeyKind::Client
    } else if key.starts_with("device:") {
        KeyKind::Device
    } else {
        KeyKind::Account
    }
}

/// May an attempt go ahead now?
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Allowed,
    /// Try again after this many seconds.
    Wait(i64),
    Locked {
        until: Timestamp,
    },
}

impl ThrottlePolicy {
    fn limits(&self, kind: KeyKind) -> Limits {
        match kind {
            KeyKind::Account => self.account,
            KeyKind::Client => self.client,
            KeyKind::Device => self.device,
        }
    }

    fn in_window(&self, r: &ThrottleRecord, now: Timestamp) -> bool {
        now < r.window_start.plus_seconds(self.window_secs)
    }

    /// The verdict for one record (the strictest of several wins, see [`Self::verdict_all`]).
    pub fn verdict(&self, r: &ThrottleRecord, now: Timestamp) -> Verdict {
        if let Some(until) = r.locked_until {
            if now < until {
                return Verdict::Locked { until };
            }
            return Verdict::Allowed;
        }
        if !self.in_window(r, now) {
            return Verdict::Allowed;
        }
        let limits = self.limits(kind_of(&r.key));
        if r.failures < limits.delay_after {
            return Verdict::Allowed;
        }
        let delay = self.delay_secs(r.failures - limits.delay_after);
        let ready = r.last_failure.plus_seconds(delay);
        if now < ready {
            Verdict::Wait(((ready.0 - now.0) + 999) / 1000)
        } else {
            Verdict::Allowed
        }
    }

    fn delay_secs(&self, over: i64) -> i64 {
        let shift = over.clamp(0, 30) as u32;
        (1i64 << shift).min(self.max_delay_secs)
    }

    pub fn verdict_all(&self, records: &[ThrottleRecord], now: Timestamp) -> Verdict {
        let mut worst = Verdict::Allowed;
        for r in records {
            worst = match (worst, self.verdict(r, now)) {
                (Verdict::Locked { until: a }, Verdict::Locked { until: b }) => Verdict::Locked { until: a.max(b) },
                (l @ Verdict::Locked { .. }, _) | (_, l @ Verdict::Locked { .. }) => l,
                (Verdict::Wait(a), Verdict::Wait(b)) => Verdict::Wait(a.max(b)),
                (w @ Verdict::Wait(_), _) | (_, w @ Verdict::Wait(_)) => w,
                _ => Verdict::Allowed,
            };
        }
        worst
    }

    /// The arguments of `WriteTx::bump_throttle` for `key` at `now`: the
    /// window floor, the lock threshold and the end of a lock set now. The
    /// store applies the same rules as [`Self::after_failure`], atomically.
    pub fn bump_args(&self, key: &str, now: Timestamp) -> (Timestamp, i64, Timestamp) {
        (
            Timestamp(now.0.saturating_sub(self.window_secs.saturating_mul(1000))),
            self.limits(kind_of(key)).lock_after,
            now.plus_seconds(self.lock_secs),
        )
    }

    /// Whether `record`, as returned by the store after a bump, was locked by that failure.
    pub fn just_locked(&self, record: &ThrottleRecord) -> bool {
        record.locked_until.is_some() && record.failures == self.limits(kind_of(&record.key)).lock_after
    }

    /// The record after one more failure, and whether this failure locked it.
    pub fn after_failure(
        &self,
        key: &str,
        existing: Option<&ThrottleRecord>,
        now: Timestamp,
    ) -> (ThrottleRecord, bool) {
        let fresh = ThrottleRecord {
            key: key.to_string(),
            failures: 0,
            window_start: now,
            last_failure: now,
            locked_until: None,
        };
        let mut r = match existing {
            // An ended lock or an expired window starts over.
            Some(r) if r.locked_until.is_none() && self.in_window(r, now) => r.clone(),
            _ => fresh,
        };
        r.failures += 1;
        r.last_failure = now;
        let locked = r.failures >= self.limits(kind_of(key)).lock_after;
        if locked {
            r.locked_until = Some(now.plus_seconds(self.lock_secs));
        }
        (r, locked)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fail_n(p: &ThrottlePolicy, key: &str, n: i64, start: Timestamp, step_secs: i64) -> (ThrottleRecord, Timestamp) {
        let mut rec: Option<ThrottleRecord> = None;
        let mut now = start;
        for _ in 0..n {
            let (r, _) = p.after_failure(key, rec.as_ref(), now);
            rec = Some(r);
            now = now.plus_seconds(step_secs);
        }
        (rec.unwrap(), now)
    }

    #[test]
    fn escalating_delay_then_lock() {
        let p = ThrottlePolicy::default();
        let t0 = Timestamp(1_000_000);
        let (r, _) = fail_n(&p, "acct:alice", 2, t0, 0);
        assert_eq!(p.verdict(&r, t0), Verdict::Allowed);
        let (r, _) = fail_n(&p, "acct:alice", 3, t0, 0);
        assert_eq!(p.verdict(&r, t0), Verdict::Wait(1));
        assert_eq!(p.verdict(&r, t0.plus_seconds(1)), Verdict::Allowed);
        let (r, _) = fail_n(&p, "acct:alice", 5, t0, 0);
        assert_eq!(p.verdict(&r, t0), Verdict::Wait(4));
        let (r, _) = fail_n(&p, "acct:alice", 9, t0, 0);
        assert_eq!(p.verdict(&r, t0), Verdict::Wait(30), "capped");
        let (r9, _) = fail_n(&p, "acct:alice", 9, t0, 0);
        let (r10, locked) = p.after_failure("acct:alice", Some(&r9), t0);
        assert!(locked);
        let until = t0.plus_seconds(600);
        assert_eq!(p.verdict(&r10, t0.plus_seconds(599)), Verdict::Locked { until });
        assert_eq!(p.verdict(&r10, until), Verdict::Allowed, "the lock ends");
        // After the lock the count starts over.
        let (r11, locked) = p.after_failure("acct:alice", Some(&r10), until);
        assert!(!locked);
        assert_eq!(r11.failures, 1);
    }

    #[test]
    fn window_expiry_forgets_failures() {
        let p = ThrottlePolicy::default();
        let t0 = Timestamp(0);
        let (r, _) = fail_n(&p, "acct:bob", 5, t0, 0);
        let later = t0.plus_seconds(601);
        assert_eq!(p.verdict(&r, later), Verdict::Allowed);
        let (r, _) = p.after_failure("acct:bob", Some(&r), later);
        assert_eq!(r.failures, 1);
    }

    #[test]
    fn clients_have_higher_thresholds_and_strictest_wins() {
        let p = ThrottlePolicy::default();
        let t0 = Timestamp(0);
        let (ip, _) = fail_n(&p, "ip:192.0.2.1", 9, t0, 0);
        assert_eq!(p.verdict(&ip, t0), Verdict::Allowed);
        let (acct, _) = fail_n(&p, "acct:carol", 4, t0, 0);
        assert_eq!(p.verdict_all(&[ip.clone(), acct], t0), Verdict::Wait(2));
        let (ip50, _) = fail_n(&p, "ip:192.0.2.1", 50, t0, 0);
        assert!(matches!(p.verdict_all(&[ip50, ip], t0), Verdict::Locked { .. }));
    }

    #[test]
    fn device_codes_lock_a_session_after_five_wrong_ones() {
        let p = ThrottlePolicy::default();
        let t0 = Timestamp(0);
        let key = device_key("s1");
        let (r, _) = fail_n(&p, &key, 4, t0, 0);
        assert_eq!(p.verdict(&r, t0.plus_seconds(30)), Verdict::Allowed);
        let (r, locked) = p.after_failure(&key, Some(&r), t0.plus_seconds(30));
        assert!(locked && matches!(p.verdict(&r, t0.plus_seconds(31)), Verdict::Locked { .. }));
        let (ip, _) = fail_n(&p, &device_client_key("192.0.2.1"), 9, t0, 0);
        assert_eq!(p.verdict(&ip, t0), Verdict::Allowed, "addresses get the client limits");
    }
}

/// A throttle lock in force, as an administrator reads it.
#[derive(Debug, Clone)]
pub struct ActiveLock {
    pub kind: KeyKind,
    /// The account id or the address; empty for an identifier that names no one.
    pub subject: String,
    pub failures: i64,
    pub locked_until: Timestamp,
}

impl crate::context::SignIn<'_> {
    /// Accounts and addresses locked out of signing in right now.
    pub async fn active_locks(self) -> crate::error::Result<Vec<ActiveLock>> {
        let now = self.now();
        let records = self.store().active_locks(now).await?;
        Ok(records
            .into_iter()
            .filter_map(|r| {
                let kind = kind_of(&r.key);
                let subject = r.key.split_once(':').map_or("", |(_, s)| s);
                let subject = if subject.starts_with('?') { "" } else { subject };
                Some(ActiveLock {
                    kind,
                    subject: subject.trim_start_matches("device:").to_string(),
                    failures: r.failures,
                    locked_until: r.locked_until?,
                })
            })
            .collect())
    }
}
