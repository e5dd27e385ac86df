//! The security-relevant settings as `gatehouse settings` shows them: sign-in
//! throttling, known devices and whose forwarded headers are believed (see
//! docs/security.md for the model behind each).

use crate::config::Settings;

/// `(name, value)` rows for `gatehouse settings`.
pub fn shown(s: &Settings) -> Vec<(&'static str, String)> {
    let t = &s.throttle;
    vec![
        ("GATEHOUSE_TRUSTED_PROXIES", s.trusted_proxies.clone()),
        (
            "GATEHOUSE_SESSION_IDLE_MINUTES",
            (s.sessions.idle_secs / 60).to_string(),
        ),
        (
            "GATEHOUSE_SESSION_MAX_HOURS",
            (s.sessions.absolute_secs / 3600).to_string(),
        ),
        ("GATEHOUSE_LOGIN_DELAY_AFTER", t.account.delay_after.to_string()),
        ("GATEHOUSE_LOGIN_LOCK_AFTER", t.account.lock_after.to_string()),
        ("GATEHOUSE_LOGIN_IP_DELAY_AFTER", t.client.delay_after.to_string()),
        ("GATEHOUSE_LOGIN_IP_LOCK_AFTER", t.client.lock_after.to_string()),
        ("GATEHOUSE_LOGIN_WINDOW_MINUTES", (t.window_secs / 60).to_string()),
        ("GATEHOUSE_LOGIN_LOCK_MINUTES", (t.lock_secs / 60).to_string()),
        (
            "GATEHOUSE_LOGIN_KNOWN_DEVICE_DAYS",
            match t.known_device_secs / 86_400 {
                0 => "0 (off)".to_string(),
                days => days.to_string(),
            },
        ),
    ]
}
