//! `gatehouse settings`: every setting and its effective value, secrets hidden.

use crate::config::SETTINGS;
use crate::context::Context;
use crate::failure::CmdResult;
use crate::output::{Table, print_json};

/// Every setting with its effective value and meaning, secrets hidden:
/// what `gatehouse settings` prints and the admin interface shows.
pub fn shown(s: &crate::config::Settings) -> Vec<(String, String, String)> {
    let hidden = |v: &Option<String>| {
        if v.is_some() {
            "(set, hidden)".to_string()
        } else {
            "-".to_string()
        }
    };
    let mut values: Vec<(&str, String)> = vec![
        ("GATEHOUSE_ENV_FILE", s.env_file.display().to_string()),
        ("GATEHOUSE_DATA_DIR", s.data_dir.display().to_string()),
        ("GATEHOUSE_DATABASE_URL", s.database_url_redacted()),
        ("GATEHOUSE_LISTEN", s.listen.to_string()),
        (
            "GATEHOUSE_METRICS_LISTEN",
            s.metrics_listen.map_or("off".into(), |a| a.to_string()),
        ),
        ("GATEHOUSE_EXTERNAL_URL", s.external_url.clone()),
        ("GATEHOUSE_LOG_FORMAT", format!("{:?}", s.log_format).to_lowercase()),
        ("GATEHOUSE_LOG_LEVEL", s.log_level.clone()),
        ("GATEHOUSE_BOOTSTRAP_PASSWORD", hidden(&s.bootstrap.password)),
        (
            "GATEHOUSE_BOOTSTRAP_EMAIL",
            s.bootstrap.email.clone().unwrap_or_else(|| "-".into()),
        ),
        ("GATEHOUSE_BOOTSTRAP_TOKEN", hidden(&s.bootstrap.token)),
        ("GATEHOUSE_SECRET_KEY", hidden(&s.secret_key)),
        ("GATEHOUSE_PASSWORD_MIN_LENGTH", s.password_policy.min_chars.to_string()),
        (
            "GATEHOUSE_PASSWORD_HASH_MEMORY_KIB",
            s.hash_params.m_cost_kib.to_string(),
        ),
        ("GATEHOUSE_PASSWORD_HASH_ITERATIONS", s.hash_params.t_cost.to_string()),
        ("GATEHOUSE_PASSWORD_HASH_PARALLELISM", s.hash_params.p_cost.to_string()),
        ("GATEHOUSE_EVENT_RETENTION_DAYS", s.event_retention_days.to_string()),
        (
            "GATEHOUSE_DATABASE_MAX_CONNECTIONS",
            s.max_connections.map_or("default".into(), |n| n.to_string()),
        ),
    ];
    values.extend(crate::security_settings::shown(s));
    values.extend(crate::mail_settings::shown(&s.mail_worker));
    values.extend(crate::ldap_settings::shown(&s.ldap));
    values
        .into_iter()
        .map(|(name, value)| {
            let meaning = SETTINGS.iter().find(|(n, _)| *n == name).map_or("", |(_, m)| m);
            (name.to_string(), value, meaning.to_string())
        })
        .collect()
}

pub fn run(ctx: &Context) -> CmdResult {
    let values = shown(&ctx.settings);
    if ctx.json {
        let map: serde_json::Map<String, serde_json::Value> =
            values.iter().map(|(k, v, _)| (k.clone(), v.clone().into())).collect();
        return Ok(print_json(&map)?);
    }
    let mut t = Table::new(["SETTING", "VALUE", "MEANING"]);
    for (name, value, meaning) in values {
        t.row([name, value, meaning]);
    }
    t.print()?;
    Ok(())
}
