//! The checks of the core settings, one small function per group; each error
//! names the setting and where its value came from.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use gatehouse_core::session::SessionPolicy;
use gatehouse_core::throttle::{Limits, ThrottlePolicy};
use gatehouse_crypto::HashParams;
// Loopback only; see there for why.
use gatehouse_web::client::DEFAULT_TRUSTED_PROXIES;

use super::{ConfigError, LogFormat};

/// The setting `name` as a whole number in `min..=max`; `default` when unset.
/// `get` reads a trimmed, non-empty value; `bad` builds the error for a name.
pub(crate) fn whole_number(
    get: &dyn Fn(&str) -> Option<String>,
    bad: &dyn Fn(&str, &str) -> ConfigError,
    name: &str,
    default: u64,
    min: u64,
    max: u64,
) -> Result<u64, ConfigError> {
    match get(name) {
        None => Ok(default),
        Some(t) => t
            .parse::<u64>()
            .ok()
            .filter(|n| (min..=max).contains(n))
            .ok_or_else(|| bad(name, &format!("is '{t}'; expected a whole number from {min} to {max}"))),
    }
}

/// The merged settings and how to name a bad one.
pub(super) struct Reader<'a> {
    pub get: &'a dyn Fn(&str) -> Option<String>,
    pub bad: &'a dyn Fn(&str, &str) -> ConfigError,
}

impl Reader<'_> {
    fn get(&self, name: &str) -> Option<String> {
        (self.get)(name)
    }

    fn bad(&self, name: &str, why: &str) -> ConfigError {
        (self.bad)(name, why)
    }

    pub fn number(&self, name: &str, default: u32, min: u32, max: u32) -> Result<u32, ConfigError> {
        let n = whole_number(self.get, self.bad, name, default.into(), min.into(), max.into())?;
        Ok(n as u32) // within min..=max, so it fits
    }

    fn minutes(&self, name: &str, default: u32, max: u32) -> Result<i64, ConfigError> {
        self.number(name, default, 1, max).map(|m| i64::from(m) * 60)
    }

    pub fn database_url(&self, data_dir: &Path) -> Result<String, ConfigError> {
        match self.get("GATEHOUSE_DATABASE_URL") {
            Some(url)
                if url.starts_with("sqlite:") || url.starts_with("postgres://") || url.starts_with("postgresql://") =>
            {
                Ok(url)
            }
            Some(_) => Err(self.bad("GATEHOUSE_DATABASE_URL", "must start with sqlite: or postgres://")),
            None => Ok(format!("sqlite://{}", data_dir.join("gatehouse.db").display())),
        }
    }

    pub fn address(&self, name: &str, default: &str) -> Result<SocketAddr, ConfigError> {
        let text = self.get(name).unwrap_or_else(|| default.into());
        text.parse()
            .map_err(|_| self.bad(name, &format!("'{text}' is not an address like 0.0.0.0:9000")))
    }

    pub fn metrics_listen(&self) -> Result<Option<SocketAddr>, ConfigError> {
        match self.get("GATEHOUSE_METRICS_LISTEN").as_deref() {
            Some("off") | Some("none") => Ok(None),
            _ => self.address("GATEHOUSE_METRICS_LISTEN", "0.0.0.0:9300").map(Some),
        }
    }

    pub fn external_url(&self) -> Result<String, ConfigError> {
        let url = self
            .get("GATEHOUSE_EXTERNAL_URL")
            .unwrap_or_else(|| "http://localhost:9000".into());
        let after_scheme = url
            .strip_prefix("https://")
            .or_else(|| url.strip_prefix("http://"))
            .filter(|rest| {
                !rest.is_empty() && !rest.contains(char::is_whitespace) && !rest.contains('?') && !rest.contains('#')
            });
        if after_scheme.is_none() {
            return Err(self.bad(
                "GATEHOUSE_EXTERNAL_URL",
                "must be an http(s) URL like https://auth.example.com",
            ));
        }
        Ok(url.trim_end_matches('/').to_string())
    }

    pub fn logging(&self) -> Result<(LogFormat, String), ConfigError> {
        let format = match self.get("GATEHOUSE_LOG_FORMAT").as_deref().unwrap_or("text") {
            "text" => LogFormat::Text,
            "json" => LogFormat::Json,
            other => {
                return Err(self.bad("GATEHOUSE_LOG_FORMAT", &format!("is '{other}'; use text or json")));
            }
        };
        let level = self.get("GATEHOUSE_LOG_LEVEL").unwrap_or_else(|| "info".into());
        if tracing_subscriber::EnvFilter::try_new(&level).is_err() {
            return Err(self.bad("GATEHOUSE_LOG_LEVEL", &format!("'{level}' is not a level or filter")));
        }
        Ok((format, level))
    }

    pub fn hash_params(&self) -> Result<HashParams, ConfigError> {
        let params = HashParams {
            m_cost_kib: self.number("GATEHOUSE_PASSWORD_HASH_MEMORY_KIB", 19 * 1024, 8, 4 * 1024 * 1024)?,
            t_cost: self.number("GATEHOUSE_PASSWORD_HASH_ITERATIONS", 2, 1, 64)?,
            p_cost: self.number("GATEHOUSE_PASSWORD_HASH_PARALLELISM", 1, 1, 16)?,
        };
        if params.m_cost_kib < 8 * params.p_cost {
            return Err(self.bad("GATEHOUSE_PASSWORD_HASH_MEMORY_KIB", "must be at least 8 KiB per lane"));
        }
        Ok(params)
    }

    pub fn branding_logo(&self) -> Result<Option<PathBuf>, ConfigError> {
        let Some(logo) = self.get("GATEHOUSE_BRANDING_LOGO").map(PathBuf::from) else {
            return Ok(None);
        };
        if super::logo_content_type(&logo).is_none() {
            return Err(self.bad(
                "GATEHOUSE_BRANDING_LOGO",
                "must name a .png, .svg, .jpg, .jpeg or .webp file",
            ));
        }
        if !logo.is_file() {
            return Err(self.bad(
                "GATEHOUSE_BRANDING_LOGO",
                &format!("names {}, which is not a readable file", logo.display()),
            ));
        }
        Ok(Some(logo))
    }

    pub fn trusted_proxies(&self) -> Result<String, ConfigError> {
        let text = self
            .get("GATEHOUSE_TRUSTED_PROXIES")
            .unwrap_or_else(|| DEFAULT_TRUSTED_PROXIES.into());
        match gatehouse_web::client::TrustedProxies::parse(&text) {
            Ok(_) => Ok(text),
            Err(item) => Err(self.bad(
                "GATEHOUSE_TRUSTED_PROXIES",
                &format!("has '{item}', which is not an address or CIDR range"),
            )),
        }
    }

    pub fn sessions(&self) -> Result<SessionPolicy, ConfigError> {
        Ok(SessionPolicy {
            idle_secs: self.minutes("GATEHOUSE_SESSION_IDLE_MINUTES", 720, 525_600)?,
            absolute_secs: self
                .number("GATEHOUSE_SESSION_MAX_HOURS", 168, 1, 8760)
                .map(|h| i64::from(h) * 3600)?,
        })
    }

    pub fn throttle(&self) -> Result<ThrottlePolicy, ConfigError> {
        let count = |name: &str, default: u32, max: u32| self.number(name, default, 1, max).map(i64::from);
        Ok(ThrottlePolicy {
            window_secs: self.minutes("GATEHOUSE_LOGIN_WINDOW_MINUTES", 10, 1440)?,
            account: Limits {
                delay_after: count("GATEHOUSE_LOGIN_DELAY_AFTER", 3, 1000)?,
                lock_after: count("GATEHOUSE_LOGIN_LOCK_AFTER", 10, 10_000)?,
            },
            client: Limits {
                delay_after: count("GATEHOUSE_LOGIN_IP_DELAY_AFTER", 10, 10_000)?,
                lock_after: count("GATEHOUSE_LOGIN_IP_LOCK_AFTER", 50, 100_000)?,
            },
            lock_secs: self.minutes("GATEHOUSE_LOGIN_LOCK_MINUTES", 10, 1440)?,
            known_device_secs: i64::from(self.number("GATEHOUSE_LOGIN_KNOWN_DEVICE_DAYS", 90, 0, 3650)?) * 86_400,
            ..ThrottlePolicy::default()
        })
    }

    pub fn blueprints(&self) -> Result<crate::commands::blueprint::BlueprintSettings, ConfigError> {
        Ok(crate::commands::blueprint::BlueprintSettings {
            dir: self.get("GATEHOUSE_BLUEPRINTS_DIR").map(PathBuf::from),
            interval_secs: self
                .number("GATEHOUSE_BLUEPRINTS_INTERVAL", 3600, 0, 10_000_000)?
                .into(),
            watch_secs: self.number("GATEHOUSE_BLUEPRINTS_WATCH_SECONDS", 5, 1, 86_400)?.into(),
            stack_file: self.get("GATEHOUSE_STACK_FILE").map(PathBuf::from),
            stack_env_file: self.get("GATEHOUSE_STACK_ENV_FILE").map(PathBuf::from),
        })
    }
}
