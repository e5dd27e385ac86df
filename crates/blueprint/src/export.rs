//! `gatehouse blueprint export`: the current configuration as a blueprint in
//! authentik's format.
//!
//! Secrets: client secrets are stored as keyed hashes and API tokens as
//! SHA-256, so neither can be recovered; the export references them as
//! `!Env NAME` (listed in [`Export::env`]) and applying it elsewhere needs
//! those variables set to the services' copies. `include_secrets` adds what
//! can be exported: users' password hashes (`password_hash`, argon2 PHC) and the
//! user attributes proxies send upstream as basic-auth passwords (otherwise
//! `!Env` references too).
//! Round trip: an export applied to an empty database and exported again
//! gives the same text.

use std::collections::{BTreeMap, HashSet};

use gatehouse_core::{Contents, Directory, ProviderKind};
use gatehouse_oidc::config::{ClientType, ConsentMode, MatchingMode, OidcConfig};
use gatehouse_proxy::ProxyConfig;
use gatehouse_saml::{NameIdKind, SamlConfig, SignMode};
use serde_json::Value;

use crate::models::oauth2::{format_duration, sub_mode_name};
use crate::models::saml::{DIGEST_SHA256, mapping_of_name_id};
use crate::yaml::quote;

/// A YAML value to write.
#[derive(Debug, Clone)]
enum Y {
    Null,
    Bool(bool),
    Int(i64),
    Str(String),
    Tag(&'static str, Vec<Y>),
    List(Vec<Y>),
    Map(Vec<(String, Y)>),
}

fn s(v: impl Into<String>) -> Y {
    Y::Str(v.into())
}

fn from_json(v: &Value) -> Y {
    match v {
        Value::Null => Y::Null,
        Value::Bool(b) => Y::Bool(*b),
        Value::Number(n) => n.as_i64().map(Y::Int).unwrap_or_else(|| Y::Str(n.to_string())),
        Value::String(t) => s(t.clone()),
        Value::Array(a) => Y::List(a.iter().map(from_json).collect()),
        Value::Object(m) => Y::Map(m.iter().map(|(k, v)| (k.clone(), from_json(v))).collect()),
    }
}

fn inline(y: &Y) -> String {
    match y {
        Y::Null => "null".into(),
        Y::Bool(b) => b.to_string(),
        Y::Int(i) => i.to_string(),
        Y::Str(t) => quote(t),
        Y::Tag(tag, args) if args.len() == 1 && !matches!(args[0], Y::List(_) | Y::Map(_)) => {
            format!("!{tag} {}", inline(&args[0]))
        }
        Y::Tag(tag, args) => format!("!{tag} [{}]", args.iter().map(inline).collect::<Vec<_>>().join(", ")),
        Y::List(items) => format!("[{}]", items.iter().map(inline).collect::<Vec<_>>().join(", ")),
        Y::Map(pairs) => format!(
            "{{{}}}",
            pairs
                .iter()
                .map(|(k, v)| format!("{}: {}", quote(k), inline(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

fn write(out: &mut String, y: &Y, indent: usize) {
    let pad = " ".repeat(indent);
    match y {
        Y::Map(pairs) if !pairs.is_empty() => {
            for (k, v) in pairs {
                match v {
                    Y::Map(p) if !p.is_empty() => {
                        out.push_str(&format!("{pad}{}:\n", quote(k)));
                        write(out, v, indent + 2);
                    }
                    Y::List(l) if !l.is_empty() => {
                        out.push_str(&format!("{pad}{}:\n", quote(k)));
                        write(out, v, indent + 2);
                    }
                    _ => out.push_str(&format!("{pad}{}: {}\n", quote(k), inline(v))),
                }
            }
        }
        Y::List(items) if !items.is_empty() => {
            for item in items {
                match item {
                    Y::Map(p) if !p.is_empty() => {
                        let mut inner = String::new();
                        write(&mut inner, item, indent + 2);
                        let trimmed = inner.trim_start_matches(' ');
                        out.push_str(&format!("{pad}- {trimmed}"));
                    }
                    _ => out.push_str(&format!("{pad}- {}\n", inline(item))),
                }
            }
        }
        other => out.push_str(&format!("{pad}{}\n", inline(other))),
    }
}

/// An export: the YAML and the environment variables it references.
#[derive(Debug, Clone)]
pub struct Export {
    pub yaml: String,
    /// `!Env` names the export references, with what each must hold.
    pub env: Vec<(String, String)>,
    /// Secrets that could not be exported.
    pub notes: Vec<String>,
}

/// An identifier usable as an `id:` and an environment variable part.
fn ident(prefix: &str, name: &str) -> String {
    let cleaned: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    format!("{prefix}-{cleaned}")
}

fn env_name(name: &str, suffix: &str) -> String {
    let cleaned: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    format!("{cleaned}_{suffix}")
}

fn entry(model: &str, id: Option<String>, identifiers: Vec<(String, Y)>, attrs: Vec<(String, Y)>) -> Y {
    let mut m = vec![("model".to_string(), s(model))];
    if let Some(id) = id {
        m.push(("id".into(), s(id)));
    }
    m.push(("identifiers".into(), Y::Map(identifiers)));
    if !attrs.is_empty() {
        m.push(("attrs".into(), Y::Map(attrs)));
    }
    Y::Map(m)
}

fn keyof(id: String) -> Y {
    Y::Tag("KeyOf", vec![s(id)])
}

pub async fn export(dir: &Directory, include_secrets: bool) -> gatehouse_core::Result<Export> {
    let Contents {
        mut users,
        mut groups,
        memberships,
        applications: mut apps,
        bindings,
        api_tokens: tokens,
    } = dir.contents().await?;
    users.sort_by(|a, b| a.username.cmp(&b.username));
    groups.sort_by(|a, b| a.name.cmp(&b.name));
    apps.sort_by(|a, b| a.slug.cmp(&b.slug));
    let gname: BTreeMap<_, _> = groups.iter().map(|g| (g.id, g.name.clone())).collect();
    let uname: BTreeMap<_, _> = users.iter().map(|u| (u.id, u.username.clone())).collect();
    // User attributes that proxies send upstream as basic-auth passwords are
    // secrets: exported as `!Env` references unless `include_secrets`.
    let secret_attributes: HashSet<String> = apps
        .iter()
        .filter(|a| a.provider == Some(ProviderKind::Proxy))
        .filter_map(|a| ProxyConfig::from_value(&a.provider_config).ok())
        .map(|c| c.basic_auth_password_attribute)
        .filter(|a| !a.is_empty())
        .collect();
    let mut entries = Vec::new();
    let mut env = Vec::new();
    let mut notes = Vec::new();
    // Groups, parents first.
    let mut done: HashSet<uuid::Uuid> = HashSet::new();
    let mut pending: Vec<_> = groups.iter().collect();
    while !pending.is_empty() {
        let n = pending.len();
        let mut rest = Vec::new();
        for g in pending {
            if g.parent_id
                .is_some_and(|p| !done.contains(&p) && gname.contains_key(&p))
            {
                rest.push(g);
                continue;
            }
            done.insert(g.id);
            let mut attrs = vec![("is_superuser".to_string(), Y::Bool(g.is_superuser))];
            attrs.push((
                "parent".into(),
                g.parent_id
                    .and_then(|p| gname.get(&p))
                    .map(|p| keyof(ident("group", p)))
                    .unwrap_or(Y::Null),
            ));
            if g.attributes.as_object().is_some_and(|m| !m.is_empty()) {
                attrs.push(("attributes".into(), from_json(&g.attributes)));
            }
            entries.push(entry(
                "authentik_core.group",
                Some(ident("group", &g.name)),
                vec![("name".into(), s(g.name.clone()))],
                attrs,
            ));
        }
        if rest.len() == n {
            break;
        }
        pending = rest;
    }
    for u in &users {
        let mut gs: Vec<&String> = memberships
            .iter()
            .filter(|m| m.user_id == u.id)
            .filter_map(|m| gname.get(&m.group_id))
            .collect();
        gs.sort();
        let mut attrs = vec![
            ("name".to_string(), s(u.name.clone())),
            ("email".into(), s(u.email.clone())),
            ("is_active".into(), Y::Bool(u.is_active)),
            (
                "groups".into(),
                Y::List(gs.iter().map(|g| keyof(ident("group", g))).collect()),
            ),
        ];
        if u.attributes.as_object().is_some_and(|m| !m.is_empty()) {
            let mut a = from_json(&u.attributes);
            if !include_secrets && let Y::Map(fields) = &mut a {
                for (k, v) in fields.iter_mut().filter(|(k, _)| secret_attributes.contains(k)) {
                    let var = env_name(&u.username, &env_name(k, "ATTR"));
                    env.push((
                        var.clone(),
                        format!("user {}'s {k} (an upstream basic-auth password)", u.username),
                    ));
                    *v = Y::Tag("Env", vec![s(var)]);
                }
            }
            attrs.push(("attributes".into(), a));
        }
        if include_secrets && let Some(h) = &u.password_hash {
            attrs.push(("password_hash".into(), s(h.clone())));
        }
        entries.push(entry(
            "authentik_core.user",
            Some(ident("user", &u.username)),
            vec![("username".into(), s(u.username.clone()))],
            attrs,
        ));
    }
    for app in &apps {
        let pid = ident("provider", &app.slug);
        let mut has_provider = false;
        match app.provider {
            Some(ProviderKind::Oidc) => {
                if let Ok(cfg) = OidcConfig::from_value(&app.provider_config) {
                    has_provider = true;
                    entries.push(oidc_entry(app, &cfg, &pid, &mut env, &mut notes, include_secrets));
                }
            }
            Some(ProviderKind::Proxy) => {
                if let Ok(c) = ProxyConfig::from_value(&app.provider_config) {
                    has_provider = true;
                    entries.push(proxy_entry(app, &c, &pid));
                }
            }
            Some(ProviderKind::Saml) => {
                if let Ok(c) = SamlConfig::from_value(&app.provider_config) {
                    has_provider = true;
                    entries.push(saml_entry(app, &c, &pid));
                }
            }
            Some(ProviderKind::Ldap) => {
                if let Ok(c) = gatehouse_ldap::LdapConfig::from_value(&app.provider_config) {
                    has_provider = true;
                    entries.push(ldap_entry(app, &c, &pid));
                }
            }
            None => {}
        }
        let mut attrs = vec![("name".to_string(), s(app.name.clone()))];
        attrs.push((
            "meta_launch_url".into(),
            app.launch_url.clone().map(Y::Str).unwrap_or(Y::Null),
        ));
        // A provider the export cannot write (LDAP) is left out, so that
        // applying the export leaves it as it is.
        if has_provider {
            attrs.push(("provider".into(), keyof(pid)));
        } else if app.provider.is_none() {
            attrs.push(("provider".into(), Y::Null));
        }
        entries.push(entry(
            "authentik_core.application",
            Some(ident("app", &app.slug)),
            vec![("slug".into(), s(app.slug.clone()))],
            attrs,
        ));
    }
    let slug: BTreeMap<_, _> = apps.iter().map(|a| (a.id, a.slug.clone())).collect();
    let mut bs: Vec<(&String, &String)> = bindings
        .iter()
        .filter_map(|b| Some((slug.get(&b.application_id)?, gname.get(&b.group_id)?)))
        .collect();
    bs.sort();
    for (app, group) in bs {
        entries.push(entry(
            "authentik_policies.policybinding",
            None,
            vec![
                ("target".into(), keyof(ident("app", app))),
                ("group".into(), keyof(ident("group", group))),
            ],
            vec![("order".into(), Y::Int(0))],
        ));
    }
    for t in &tokens {
        let Some(user) = uname.get(&t.user_id) else { continue };
        let var = env_name(&t.identifier, "TOKEN");
        env.push((var.clone(), format!("the key of API token {}", t.identifier)));
        if include_secrets {
            notes.push(format!(
                "API token {}: only its SHA-256 is stored; the key cannot be exported (set {var})",
                t.identifier
            ));
        }
        let mut attrs = vec![
            ("user".to_string(), keyof(ident("user", user))),
            ("intent".into(), s(t.intent.clone())),
            ("key".into(), Y::Tag("Env", vec![s(var)])),
            ("expiring".into(), Y::Bool(t.expires_at.is_some())),
        ];
        if let Some(e) = t.expires_at {
            attrs.push(("expires".into(), s(e.to_rfc3339())));
        }
        entries.push(entry(
            "authentik_core.token",
            None,
            vec![("identifier".into(), s(t.identifier.clone()))],
            attrs,
        ));
    }
    let doc = Y::Map(vec![
        ("version".into(), Y::Int(1)),
        ("metadata".into(), Y::Map(vec![("name".into(), s("gatehouse-export"))])),
        ("entries".into(), Y::List(entries)),
    ]);
    let mut yaml = String::from("# Exported by gatehouse blueprint export.\n");
    for (k, why) in &env {
        yaml.push_str(&format!("# needs {k}: {why}\n"));
    }
    write(&mut yaml, &doc, 0);
    Ok(Export { yaml, env, notes })
}

fn oidc_entry(
    app: &gatehouse_core::Application,
    cfg: &OidcConfig,
    pid: &str,
    env: &mut Vec<(String, String)>,
    notes: &mut Vec<String>,
    include_secrets: bool,
) -> Y {
    let mut attrs = vec![
        ("client_id".to_string(), s(cfg.client_id.clone())),
        (
            "client_type".into(),
            s(match cfg.client_type {
                ClientType::Confidential => "confidential",
                ClientType::Public => "public",
            }),
        ),
    ];
    if !cfg.is_public() {
        let var = env_name(&app.slug, "CLIENT_SECRET");
        env.push((var.clone(), format!("the client secret of {}", app.slug)));
        if include_secrets {
            notes.push(format!(
                "application {}: the client secret is stored as a keyed hash and cannot be exported (set {var}, or rotate it)",
                app.slug
            ));
        }
        attrs.push(("client_secret".into(), Y::Tag("Env", vec![s(var)])));
    }
    attrs.push((
        "redirect_uris".into(),
        Y::List(
            cfg.redirect_uris
                .iter()
                .map(|r| {
                    Y::Map(vec![
                        (
                            "matching_mode".into(),
                            s(match r.matching_mode {
                                MatchingMode::Strict => "strict",
                                MatchingMode::Regex => "regex",
                            }),
                        ),
                        ("url".into(), s(r.url.clone())),
                    ])
                })
                .collect(),
        ),
    ));
    if !cfg.post_logout_redirect_uris.is_empty() {
        attrs.push((
            "post_logout_redirect_uris".into(),
            Y::List(cfg.post_logout_redirect_uris.iter().map(|u| s(u.clone())).collect()),
        ));
    }
    let flow = match cfg.consent {
        ConsentMode::Implicit => "default-provider-authorization-implicit-consent",
        ConsentMode::Explicit => "default-provider-authorization-explicit-consent",
    };
    attrs.push((
        "authorization_flow".into(),
        Y::Tag(
            "Find",
            vec![s("authentik_flows.flow"), Y::List(vec![s("slug"), s(flow)])],
        ),
    ));
    attrs.push((
        "access_token_validity".into(),
        s(format_duration(cfg.access_token_validity_secs)),
    ));
    attrs.push((
        "refresh_token_validity".into(),
        s(format_duration(cfg.refresh_token_validity_secs)),
    ));
    attrs.push(("sub_mode".into(), s(sub_mode_name(cfg.sub_mode))));
    attrs.push((
        "include_claims_in_id_token".into(),
        Y::Bool(cfg.include_claims_in_id_token),
    ));
    attrs.push(("signing_alg".into(), s(cfg.signing_alg.as_str())));
    if !cfg.role_mapping.is_empty() {
        attrs.push((
            "role_mapping".into(),
            Y::Map(
                cfg.role_mapping
                    .iter()
                    .map(|(g, r)| (g.clone(), s(r.clone())))
                    .collect(),
            ),
        ));
    }
    if cfg.allow_plain_pkce {
        attrs.push(("allow_plain_pkce".into(), Y::Bool(true)));
    }
    if cfg.device_flow {
        attrs.push(("device_flow".into(), Y::Bool(true)));
    }
    entry(
        "authentik_providers_oauth2.oauth2provider",
        Some(pid.to_string()),
        vec![("name".into(), s(app.name.clone()))],
        attrs,
    )
}

fn ldap_entry(app: &gatehouse_core::Application, c: &gatehouse_ldap::LdapConfig, pid: &str) -> Y {
    let mut attrs = vec![
        ("base_dn".to_string(), s(c.base_dn.clone())),
        ("mfa".into(), s(c.mfa.as_str())),
        ("uid_start_number".into(), Y::Int(c.uid_start_number)),
        ("gid_start_number".into(), Y::Int(c.gid_start_number)),
    ];
    if let Some(g) = &c.search_group {
        attrs.push(("search_group".into(), s(g.clone())));
    }
    entry(
        "authentik_providers_ldap.ldapprovider",
        Some(pid.to_string()),
        vec![("name".into(), s(app.name.clone()))],
        attrs,
    )
}

fn proxy_entry(app: &gatehouse_core::Application, c: &ProxyConfig, pid: &str) -> Y {
    let mut attrs = vec![
        ("mode".to_string(), s(c.mode.as_str())),
        ("external_host".into(), s(c.external_host.clone())),
    ];
    if !c.cookie_domain.is_empty() {
        attrs.push(("cookie_domain".into(), s(c.cookie_domain.clone())));
    }
    if !c.skip_path_regex.is_empty() {
        attrs.push(("skip_path_regex".into(), s(c.skip_path_regex.clone())));
    }
    if c.basic_auth_enabled {
        attrs.push(("basic_auth_enabled".into(), Y::Bool(true)));
        attrs.push((
            "basic_auth_user_attribute".into(),
            s(c.basic_auth_user_attribute.clone()),
        ));
        attrs.push((
            "basic_auth_password_attribute".into(),
            s(c.basic_auth_password_attribute.clone()),
        ));
    }
    entry(
        "authentik_providers_proxy.proxyprovider",
        Some(pid.to_string()),
        vec![("name".into(), s(app.name.clone()))],
        attrs,
    )
}

fn saml_entry(app: &gatehouse_core::Application, c: &SamlConfig, pid: &str) -> Y {
    let mut attrs = vec![];
    if let [one] = c.acs_urls.as_slice() {
        attrs.push(("acs_url".to_string(), s(one.clone())));
    } else {
        attrs.push((
            "acs_urls".to_string(),
            Y::List(c.acs_urls.iter().map(|u| s(u.clone())).collect()),
        ));
    }
    attrs.push(("audience".into(), s(c.audience.clone())));
    attrs.push(("sp_binding".into(), s("post")));
    match (c.name_id, mapping_of_name_id(c.name_id)) {
        (NameIdKind::Persistent, _) => attrs.push(("name_id_mapping".into(), Y::Null)),
        (NameIdKind::Email | NameIdKind::Username, Some(m)) => attrs.push((
            "name_id_mapping".into(),
            Y::Tag(
                "Find",
                vec![
                    s("authentik_providers_saml.samlpropertymapping"),
                    Y::List(vec![s("managed"), s(m)]),
                ],
            ),
        )),
        (other, _) => attrs.push(("name_id".into(), s(other.as_str()))),
    }
    let (sa, sr) = match c.sign {
        SignMode::Assertion => (true, false),
        SignMode::Response => (false, true),
        SignMode::Both => (true, true),
    };
    attrs.push(("sign_assertion".into(), Y::Bool(sa)));
    attrs.push(("sign_response".into(), Y::Bool(sr)));
    attrs.push(("signature_algorithm".into(), s(c.signing_alg.uri())));
    attrs.push(("digest_algorithm".into(), s(DIGEST_SHA256)));
    attrs.push((
        "assertion_valid_not_on_or_after".into(),
        s(format_duration(c.assertion_valid_secs)),
    ));
    if !c.sp_certs.is_empty() {
        attrs.push((
            "sp_certs".into(),
            Y::List(c.sp_certs.iter().map(|x| s(x.clone())).collect()),
        ));
    }
    if c.want_authn_requests_signed {
        attrs.push(("want_authn_requests_signed".into(), Y::Bool(true)));
    }
    if c.allow_unsigned_logout {
        attrs.push(("allow_unsigned_logout".into(), Y::Bool(true)));
    }
    if let Some(u) = &c.slo_url {
        attrs.push(("sls_url".into(), s(u.clone())));
        if let Some(b) = &c.slo_binding {
            attrs.push(("sls_binding".into(), s(b.clone())));
        }
    }
    entry(
        "authentik_providers_saml.samlprovider",
        Some(pid.to_string()),
        vec![("name".into(), s(app.name.clone()))],
        attrs,
    )
}
