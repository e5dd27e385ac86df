//! Settings of issue 13's security model (parsed here, declared in
//! `config::SETTINGS`) and how `gatehouse settings` shows them with the sign-in
//! throttling and whose forwarded headers are believed. docs/security.md has
//! the model behind each.

use std::time::Duration;

use gatehouse_core::mfa::enrolment::FirstEnrolment;
use gatehouse_worker::audit_head::HeadTarget;

use crate::config::{ConfigError, Settings};

#[derive(Debug, Clone)]
pub struct SecuritySettings {
    /// GATEHOUSE_MFA_FIRST_ENROLMENT.
    pub first_enrolment: FirstEnrolment,
    /// GATEHOUSE_MFA_ENROLMENT_WINDOW_MINUTES, in seconds.
    pub enrolment_window_secs: i64,
    /// GATEHOUSE_AUDIT_HEAD_EXPORT: where the worker posts signed heads.
    pub audit_head: Option<HeadTarget>,
    /// GATEHOUSE_AUDIT_HEAD_EVERY_MINUTES.
    pub audit_head_every: Duration,
}

pub fn parse(
    get: &dyn Fn(&str) -> Option<String>,
    bad: &dyn Fn(&str, &str) -> ConfigError,
) -> Result<SecuritySettings, ConfigError> {
    let minutes = |name: &str, default: u64, max: u64| -> Result<u64, ConfigError> {
        match get(name) {
            None => Ok(default),
            Some(t) => t.parse::<u64>().ok().filter(|n| (1..=max).contains(n)).ok_or_else(|| {
                bad(
                    name,
                    &format!("is '{t}'; expected a whole number of minutes from 1 to {max}"),
                )
            }),
        }
    };
    let first_enrolment = match get("GATEHOUSE_MFA_FIRST_ENROLMENT") {
        None => FirstEnrolment::Guarded,
        Some(t) => FirstEnrolment::parse(&t).ok_or_else(|| {
            bad(
                "GATEHOUSE_MFA_FIRST_ENROLMENT",
                &format!("is '{t}'; use guarded or password"),
            )
        })?,
    };
    let audit_head = match get("GATEHOUSE_AUDIT_HEAD_EXPORT") {
        None => None,
        Some(t) => Some(HeadTarget::parse(&t).map_err(|why| bad("GATEHOUSE_AUDIT_HEAD_EXPORT", &why))?),
    };
    Ok(SecuritySettings {
        first_enrolment,
        enrolment_window_secs: (minutes("GATEHOUSE_MFA_ENROLMENT_WINDOW_MINUTES", 60, 60 * 24 * 30)? * 60) as i64,
        audit_head,
        audit_head_every: Duration::from_secs(minutes("GATEHOUSE_AUDIT_HEAD_EVERY_MINUTES", 60, 60 * 24 * 7)? * 60),
    })
}

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
        (
            "GATEHOUSE_MFA_FIRST_ENROLMENT",
            s.security.first_enrolment.as_str().to_string(),
        ),
        (
            "GATEHOUSE_MFA_ENROLMENT_WINDOW_MINUTES",
            (s.security.enrolment_window_secs / 60).to_string(),
        ),
        (
            "GATEHOUSE_AUDIT_HEAD_EXPORT",
            s.security
                .audit_head
                .as_ref()
                .map_or_else(|| "off".to_string(), ToString::to_string),
        ),
        (
            "GATEHOUSE_AUDIT_HEAD_EVERY_MINUTES",
            (s.security.audit_head_every.as_secs() / 60).to_string(),
        ),
    ]
}
