//! Settings of outgoing mail (authentik's `EMAIL__*` names) and of the worker
//! (`GATEHOUSE_WORKER__*`), checked once at start like every other setting.

use std::time::Duration;

use gatehouse_mail::{MailSettings, Security};
use gatehouse_worker::WorkerSettings;

use crate::config::ConfigError;
use crate::config::sections::whole_number;

#[derive(Debug, Clone)]
pub struct MailWorkerSettings {
    /// `None` when GATEHOUSE_EMAIL__HOST is unset.
    pub email: Option<MailSettings>,
    pub recovery_minutes: i64,
    pub worker: WorkerSettings,
    pub housekeeping_every: Duration,
}

/// `get` reads a trimmed, non-empty value; `bad` builds the error for a name.
pub fn parse(
    get: &dyn Fn(&str) -> Option<String>,
    bad: &dyn Fn(&str, &str) -> ConfigError,
) -> Result<MailWorkerSettings, ConfigError> {
    let number = |name: &str, default: u64, min: u64, max: u64| whole_number(get, bad, name, default, min, max);
    let flag = |name: &str| -> Result<bool, ConfigError> {
        match get(name).map(|v| v.to_ascii_lowercase()).as_deref() {
            None | Some("false") | Some("0") | Some("no") | Some("off") => Ok(false),
            Some("true") | Some("1") | Some("yes") | Some("on") => Ok(true),
            Some(other) => Err(bad(name, &format!("is '{other}'; expected true or false"))),
        }
    };
    let use_tls = flag("GATEHOUSE_EMAIL__USE_TLS")?;
    let use_ssl = flag("GATEHOUSE_EMAIL__USE_SSL")?;
    if use_tls && use_ssl {
        return Err(bad(
            "GATEHOUSE_EMAIL__USE_SSL",
            "and GATEHOUSE_EMAIL__USE_TLS are both true; choose one (SSL: implicit TLS, TLS: STARTTLS)",
        ));
    }
    let port = number("GATEHOUSE_EMAIL__PORT", 25, 1, 65_535)? as u16;
    let timeout = Duration::from_secs(number("GATEHOUSE_EMAIL__TIMEOUT", 10, 1, 3600)?);
    let from = get("GATEHOUSE_EMAIL__FROM").unwrap_or_else(|| "gatehouse@localhost".into());
    let email = match get("GATEHOUSE_EMAIL__HOST") {
        None => None,
        Some(host) => {
            let settings = MailSettings {
                host,
                port,
                username: get("GATEHOUSE_EMAIL__USERNAME"),
                password: get("GATEHOUSE_EMAIL__PASSWORD"),
                security: if use_ssl {
                    Security::Implicit
                } else if use_tls {
                    Security::StartTls
                } else {
                    Security::Plain
                },
                timeout,
                from,
            };
            // Check the sender and TLS settings now, not at the first mail.
            gatehouse_mail::Mailer::new(settings.clone()).map_err(|e| bad("GATEHOUSE_EMAIL__FROM", &e.to_string()))?;
            Some(settings)
        }
    };
    let ms = |name: &str, default: u64, min: u64, max: u64| number(name, default, min, max).map(Duration::from_millis);
    let worker = WorkerSettings {
        poll: ms("GATEHOUSE_WORKER__POLL_MS", 5000, 10, 3_600_000)?,
        lease: ms("GATEHOUSE_WORKER__LEASE_MS", 60_000, 100, 86_400_000)?,
        heartbeat: ms("GATEHOUSE_WORKER__HEARTBEAT_MS", 10_000, 10, 3_600_000)?,
        retry_base: ms("GATEHOUSE_WORKER__RETRY_BASE_MS", 30_000, 1, 86_400_000)?,
        retry_max: ms("GATEHOUSE_WORKER__RETRY_MAX_MS", 3_600_000, 1, 7 * 86_400_000)?,
        max_attempts: number("GATEHOUSE_WORKER__MAX_ATTEMPTS", 8, 1, 1000)? as i64,
    };
    if worker.heartbeat >= worker.lease {
        return Err(bad(
            "GATEHOUSE_WORKER__HEARTBEAT_MS",
            "must be shorter than GATEHOUSE_WORKER__LEASE_MS (heartbeats renew the leases)",
        ));
    }
    Ok(MailWorkerSettings {
        email,
        recovery_minutes: number("GATEHOUSE_RECOVERY_EMAIL_MINUTES", 30, 1, 10_080)? as i64,
        worker,
        housekeeping_every: Duration::from_secs(number("GATEHOUSE_WORKER__HOUSEKEEPING_SECONDS", 300, 1, 86_400)?),
    })
}

/// `gatehouse settings` rows (the password hidden).
pub fn shown(s: &MailWorkerSettings) -> Vec<(&'static str, String)> {
    let dash = || "-".to_string();
    let e = s.email.as_ref();
    let ms = |d: Duration| d.as_millis().to_string();
    vec![
        (
            "GATEHOUSE_EMAIL__HOST",
            e.map_or_else(|| "- (mail off)".into(), |e| e.host.clone()),
        ),
        ("GATEHOUSE_EMAIL__PORT", e.map_or_else(dash, |e| e.port.to_string())),
        (
            "GATEHOUSE_EMAIL__USERNAME",
            e.and_then(|e| e.username.clone()).unwrap_or_else(dash),
        ),
        (
            "GATEHOUSE_EMAIL__PASSWORD",
            if e.is_some_and(|e| e.password.is_some()) {
                "(set, hidden)".into()
            } else {
                dash()
            },
        ),
        (
            "GATEHOUSE_EMAIL__USE_TLS",
            e.map_or_else(dash, |e| (e.security == Security::StartTls).to_string()),
        ),
        (
            "GATEHOUSE_EMAIL__USE_SSL",
            e.map_or_else(dash, |e| (e.security == Security::Implicit).to_string()),
        ),
        (
            "GATEHOUSE_EMAIL__TIMEOUT",
            e.map_or_else(dash, |e| e.timeout.as_secs().to_string()),
        ),
        ("GATEHOUSE_EMAIL__FROM", e.map_or_else(dash, |e| e.from.clone())),
        ("GATEHOUSE_RECOVERY_EMAIL_MINUTES", s.recovery_minutes.to_string()),
        ("GATEHOUSE_WORKER__POLL_MS", ms(s.worker.poll)),
        ("GATEHOUSE_WORKER__LEASE_MS", ms(s.worker.lease)),
        ("GATEHOUSE_WORKER__HEARTBEAT_MS", ms(s.worker.heartbeat)),
        ("GATEHOUSE_WORKER__RETRY_BASE_MS", ms(s.worker.retry_base)),
        ("GATEHOUSE_WORKER__RETRY_MAX_MS", ms(s.worker.retry_max)),
        ("GATEHOUSE_WORKER__MAX_ATTEMPTS", s.worker.max_attempts.to_string()),
        (
            "GATEHOUSE_WORKER__HOUSEKEEPING_SECONDS",
            s.housekeeping_every.as_secs().to_string(),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use crate::config::Settings;

    fn load(pairs: &[(&str, &str)]) -> Result<Settings, String> {
        let mut vars: BTreeMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        vars.insert("GATEHOUSE_ENV_FILE".into(), "/nonexistent/.env".into());
        Settings::from_vars(vars).map_err(|e| e.to_string())
    }

    #[test]
    fn email_is_off_without_a_host() {
        let s = load(&[]).unwrap();
        assert!(s.mail_worker.email.is_none());
        assert_eq!(s.mail_worker.recovery_minutes, 30);
    }

    #[test]
    fn email_settings_parse_and_hide_the_password() {
        let s = load(&[
            ("GATEHOUSE_EMAIL__HOST", "smtp.example.com"),
            ("GATEHOUSE_EMAIL__PORT", "465"),
            ("GATEHOUSE_EMAIL__USE_SSL", "true"),
            ("GATEHOUSE_EMAIL__USERNAME", "mailer"),
            ("GATEHOUSE_EMAIL__PASSWORD", "hunter2"),
            ("GATEHOUSE_EMAIL__FROM", "Auth <auth@example.com>"),
        ])
        .unwrap();
        let e = s.mail_worker.email.clone().unwrap();
        assert_eq!(e.port, 465);
        assert_eq!(e.security, gatehouse_mail::Security::Implicit);
        let shown = format!("{:?} {:?}", super::shown(&s.mail_worker), s.mail_worker);
        assert!(!shown.contains("hunter2"), "{shown}");
    }

    #[test]
    fn the_stacks_authentik_names_are_read() {
        let s = load(&[
            ("AUTHENTIK_EMAIL__HOST", "smtp.example.com"),
            ("AUTHENTIK_EMAIL__PORT", "2525"),
            ("AUTHENTIK_EMAIL__FROM", "auth@example.com"),
        ])
        .unwrap();
        let e = s.mail_worker.email.clone().unwrap();
        assert_eq!((e.host.as_str(), e.port), ("smtp.example.com", 2525));
        // The native name wins over the alias.
        let s = load(&[
            ("AUTHENTIK_EMAIL__HOST", "old.example.com"),
            ("GATEHOUSE_EMAIL__HOST", "new.example.com"),
        ])
        .unwrap();
        assert_eq!(s.mail_worker.email.unwrap().host, "new.example.com");
    }

    #[test]
    fn bad_values_are_named() {
        for (k, v) in [
            ("GATEHOUSE_EMAIL__PORT", "70000"),
            ("GATEHOUSE_EMAIL__USE_TLS", "maybe"),
            ("GATEHOUSE_WORKER__MAX_ATTEMPTS", "0"),
        ] {
            let e = load(&[("GATEHOUSE_EMAIL__HOST", "h"), (k, v)]).unwrap_err();
            assert!(e.contains(k), "{e}");
        }
        let both = load(&[
            ("GATEHOUSE_EMAIL__HOST", "h"),
            ("GATEHOUSE_EMAIL__USE_TLS", "true"),
            ("GATEHOUSE_EMAIL__USE_SSL", "true"),
        ])
        .unwrap_err();
        assert!(both.contains("choose one"), "{both}");
        let from = load(&[
            ("GATEHOUSE_EMAIL__HOST", "h"),
            ("GATEHOUSE_EMAIL__FROM", "not an address"),
        ])
        .unwrap_err();
        assert!(from.contains("GATEHOUSE_EMAIL__FROM"), "{from}");
        let beat = load(&[
            ("GATEHOUSE_WORKER__HEARTBEAT_MS", "5000"),
            ("GATEHOUSE_WORKER__LEASE_MS", "1000"),
        ])
        .unwrap_err();
        assert!(beat.contains("HEARTBEAT"), "{beat}");
    }
}
