//! authentik's OAuth2 provider fields (`authentik_providers_oauth2.oauth2provider`,
//! the REST API's `OAuth2ProviderRequest`) onto an [`OidcConfig`]: the one
//! translation blueprints and the API share. References to other objects
//! (flows, key pairs, scope mappings) and the client secret are left to the
//! door: a blueprint names them with `!Find`, the API with UUIDs.

use std::collections::BTreeMap;

use gatehouse_core::fields::{FieldError, Fields, parse_duration};
use gatehouse_crypto::signing::SigningAlg;
use serde_json::Value;

use crate::config::{ClientType, ConsentMode, MatchingMode, OidcConfig, RedirectUri, SubMode, parse_redirect_uri};

/// authentik's name of a [`SubMode`].
pub fn sub_mode_name(m: SubMode) -> &'static str {
    match m {
        SubMode::Hashed => "hashed_user_id",
        SubMode::Uuid => "user_uuid",
        SubMode::Username => "user_username",
        SubMode::Email => "user_email",
    }
}

/// Applies every plain field `f` gives to `cfg` (not validated: the caller
/// settles the secret first, then calls [`OidcConfig::validate`]).
pub fn apply(cfg: &mut OidcConfig, f: &dyn Fields) -> Result<(), FieldError> {
    if let Some(v) = f.text("client_id")? {
        cfg.client_id = v;
    }
    if let Some(t) = f.text("client_type")? {
        cfg.client_type = match t.as_str() {
            "confidential" => ClientType::Confidential,
            "public" => ClientType::Public,
            _ => return Err(FieldError::new("client_type", "client_type: confidential or public")),
        };
    }
    apply_uris(cfg, f)?;
    apply_tokens(cfg, f)?;
    if let Some(v) = f.text("consent")? {
        cfg.consent = match v.as_str() {
            "implicit" => ConsentMode::Implicit,
            "explicit" => ConsentMode::Explicit,
            _ => return Err(FieldError::new("consent", "consent: implicit or explicit")),
        };
    }
    if let Some(v) = f.text("signing_alg")? {
        cfg.signing_alg = SigningAlg::parse(&v)
            .ok_or_else(|| FieldError::new("signing_alg", "signing_alg: RS256, ES256 or EdDSA"))?;
    }
    if let Some(v) = f.value("role_mapping") {
        let m = v
            .as_object()
            .ok_or_else(|| FieldError::new("role_mapping", "role_mapping: a mapping GROUP: ROLE"))?;
        cfg.role_mapping = m
            .iter()
            .map(|(g, r)| (g.clone(), r.as_str().unwrap_or_default().to_string()))
            .collect::<BTreeMap<_, _>>();
    }
    if let Some(v) = f.flag("allow_plain_pkce")? {
        cfg.allow_plain_pkce = v;
    }
    if let Some(v) = f.flag("device_flow")? {
        cfg.device_flow = v;
    }
    Ok(())
}

fn apply_uris(cfg: &mut OidcConfig, f: &dyn Fields) -> Result<(), FieldError> {
    if let Some(v) = f.value("redirect_uris") {
        cfg.redirect_uris = redirect_uris(v).ok_or_else(|| {
            FieldError::new("redirect_uris", "redirect_uris: a list of {matching_mode, url}")
                .hint("- {matching_mode: strict, url: https://app.example.com/callback}")
        })?;
    }
    if let Some(v) = f.value("post_logout_redirect_uris") {
        cfg.post_logout_redirect_uris = v
            .as_array()
            .and_then(|a| a.iter().map(|u| u.as_str().map(str::to_string)).collect())
            .ok_or_else(|| FieldError::new("post_logout_redirect_uris", "expected a list of URLs"))?;
    }
    Ok(())
}

/// Token lifetimes and contents, and the issuer they name.
fn apply_tokens(cfg: &mut OidcConfig, f: &dyn Fields) -> Result<(), FieldError> {
    for (field, target) in [
        ("access_token_validity", &mut cfg.access_token_validity_secs),
        ("refresh_token_validity", &mut cfg.refresh_token_validity_secs),
    ] {
        if let Some(v) = f.text(field)? {
            *target = parse_duration(&v).ok_or_else(|| {
                FieldError::new(field, format!("{field}: authentik's duration form, e.g. minutes=10"))
            })?;
        }
    }
    if let Some(v) = f.flag("include_claims_in_id_token")? {
        cfg.include_claims_in_id_token = v;
    }
    if let Some(v) = f.text("sub_mode")? {
        cfg.sub_mode = match v.as_str() {
            "hashed_user_id" | "hashed" => SubMode::Hashed,
            "user_uuid" | "uuid" => SubMode::Uuid,
            "user_username" | "username" => SubMode::Username,
            "user_email" | "email" => SubMode::Email,
            other => {
                return Err(
                    FieldError::new("sub_mode", format!("sub_mode '{other}' is not supported"))
                        .hint("hashed_user_id, user_uuid, user_username or user_email"),
                );
            }
        };
    }
    if let Some(v) = f.text("issuer_mode")?
        && v != "per_provider"
    {
        return Err(
            FieldError::new("issuer_mode", "only per_provider issuers are supported")
                .hint("Gatehouse's issuer is /application/o/<slug>/"),
        );
    }
    Ok(())
}

/// authentik's redirect URIs: a list of `{matching_mode, url}` (since
/// 2024.8), of plain URLs, or one URL per line (before).
fn redirect_uris(v: &Value) -> Option<Vec<RedirectUri>> {
    match v {
        Value::String(s) => Some(
            s.lines()
                .filter(|l| !l.trim().is_empty())
                .map(|l| parse_redirect_uri(l.trim()))
                .collect(),
        ),
        Value::Array(items) => items
            .iter()
            .map(|item| match item {
                Value::String(s) => Some(parse_redirect_uri(s)),
                Value::Object(o) => {
                    let url = o.get("url")?.as_str()?.to_string();
                    let mode = match o.get("matching_mode").and_then(Value::as_str).unwrap_or("strict") {
                        "strict" => MatchingMode::Strict,
                        "regex" => MatchingMode::Regex,
                        _ => return None,
                    };
                    Some(RedirectUri {
                        matching_mode: mode,
                        url,
                    })
                }
                _ => None,
            })
            .collect(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fields(v: Value) -> serde_json::Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn authentik_fields_become_the_config() {
        let mut cfg = OidcConfig::new("x".into(), ClientType::Confidential);
        apply(
            &mut cfg,
            &fields(json!({
                "client_id": "grafana", "client_type": "public",
                "redirect_uris": [{"matching_mode": "strict", "url": "https://g.example.com/cb"}],
                "access_token_validity": "minutes=10", "sub_mode": "user_email",
                "include_claims_in_id_token": false
            })),
        )
        .unwrap();
        assert_eq!(cfg.client_id, "grafana");
        assert!(cfg.is_public());
        assert_eq!(cfg.redirect_uris[0].url, "https://g.example.com/cb");
        assert_eq!(cfg.access_token_validity_secs, 600);
        assert_eq!(cfg.sub_mode, SubMode::Email);
        assert!(!cfg.include_claims_in_id_token);
    }

    #[test]
    fn bad_fields_name_the_field() {
        let mut cfg = OidcConfig::new("x".into(), ClientType::Confidential);
        for (body, field) in [
            (json!({"client_type": "secretive"}), "client_type"),
            (json!({"redirect_uris": 5}), "redirect_uris"),
            (json!({"access_token_validity": "soon"}), "access_token_validity"),
            (json!({"issuer_mode": "global"}), "issuer_mode"),
            (json!({"sub_mode": "nickname"}), "sub_mode"),
        ] {
            assert_eq!(apply(&mut cfg, &fields(body)).unwrap_err().field, field);
        }
    }
}
