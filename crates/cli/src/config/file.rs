//! The optional TOML settings file (`GATEHOUSE_CONFIG_FILE`): lower-case keys
//! without the prefix, strings, numbers or booleans.

use std::path::Path;

use super::ConfigError;
use super::known::{SETTINGS, closest};

pub(super) fn read_toml(path: &Path) -> Result<Vec<(String, String)>, ConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigError(format!("cannot read config file {}: {e}", path.display())))?;
    let table: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| ConfigError(format!("{}: {}", path.display(), e.message())))?;
    let mut out = Vec::new();
    for (key, value) in table {
        let name = format!("GATEHOUSE_{}", key.to_uppercase());
        if !SETTINGS.iter().any(|(n, _)| *n == name) {
            let hint = closest(&name)
                .map(|s| format!(" (did you mean {}?)", s.trim_start_matches("GATEHOUSE_").to_lowercase()))
                .unwrap_or_default();
            return Err(ConfigError(format!(
                "unknown setting '{key}' in {}{hint}",
                path.display()
            )));
        }
        let text = match value {
            toml::Value::String(s) => s,
            toml::Value::Integer(i) => i.to_string(),
            toml::Value::Boolean(b) => b.to_string(),
            other => {
                return Err(ConfigError(format!(
                    "'{key}' in {} must be a string or number, not {}",
                    path.display(),
                    other.type_str()
                )));
            }
        };
        out.push((name, text));
    }
    Ok(out)
}
