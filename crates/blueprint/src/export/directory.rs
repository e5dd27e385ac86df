//! Groups (parents first), users (with their groups, and secrets as the
//! export allows), group bindings and API tokens.

use std::collections::{BTreeMap, HashSet};

use gatehouse_core::{ProviderKind, User};
use gatehouse_proxy::ProxyConfig;

use super::Exporter;
use super::writer::{Y, entry, env, env_name, from_json, ident, keyof, s};
use crate::state::parents_first;

impl Exporter {
    pub(super) fn groups(&mut self) {
        let names = &self.group_names;
        let ordered = parents_first(
            self.c.groups.iter().collect(),
            |g| (g.id, g.parent_id),
            |parent| !names.contains_key(&parent),
        );
        for g in ordered {
            let parent = g
                .parent_id
                .and_then(|p| names.get(&p))
                .map(|p| keyof(ident("group", p)))
                .unwrap_or(Y::Null);
            let mut attrs = vec![
                ("is_superuser".to_string(), Y::Bool(g.is_superuser)),
                ("parent".into(), parent),
            ];
            if g.attributes.as_object().is_some_and(|m| !m.is_empty()) {
                attrs.push(("attributes".into(), from_json(&g.attributes)));
            }
            self.entries.push(entry(
                "authentik_core.group",
                Some(ident("group", &g.name)),
                vec![("name".into(), s(g.name.clone()))],
                attrs,
            ));
        }
    }

    /// User attributes that proxies send upstream as basic-auth passwords:
    /// secrets, exported as `!Env` references unless `include_secrets`.
    fn secret_attributes(&self) -> HashSet<String> {
        self.c
            .applications
            .iter()
            .filter(|a| a.provider == Some(ProviderKind::Proxy))
            .filter_map(|a| ProxyConfig::from_value(&a.provider_config).ok())
            .map(|c| c.basic_auth_password_attribute)
            .filter(|a| !a.is_empty())
            .collect()
    }

    pub(super) fn users(&mut self) {
        let secret_attributes = self.secret_attributes();
        let users = std::mem::take(&mut self.c.users);
        for u in &users {
            let mut groups: Vec<&String> = self
                .c
                .memberships
                .iter()
                .filter(|m| m.user_id == u.id)
                .filter_map(|m| self.group_names.get(&m.group_id))
                .collect();
            groups.sort();
            let mut attrs = vec![
                ("name".to_string(), s(u.name.clone())),
                ("email".into(), s(u.email.clone())),
                ("is_active".into(), Y::Bool(u.is_active)),
                (
                    "groups".into(),
                    Y::List(groups.iter().map(|g| keyof(ident("group", g))).collect()),
                ),
            ];
            if u.attributes.as_object().is_some_and(|m| !m.is_empty()) {
                attrs.push(("attributes".into(), self.user_attributes(u, &secret_attributes)));
            }
            if self.include_secrets
                && let Some(h) = &u.password_hash
            {
                attrs.push(("password_hash".into(), s(h.clone())));
            }
            self.entries.push(entry(
                "authentik_core.user",
                Some(ident("user", &u.username)),
                vec![("username".into(), s(u.username.clone()))],
                attrs,
            ));
        }
        self.c.users = users;
    }

    /// The user's attributes, secret ones as `!Env` references unless `include_secrets`.
    fn user_attributes(&mut self, u: &User, secret: &HashSet<String>) -> Y {
        let mut a = from_json(&u.attributes);
        if self.include_secrets {
            return a;
        }
        if let Y::Map(fields) = &mut a {
            for (k, v) in fields.iter_mut().filter(|(k, _)| secret.contains(k)) {
                let var = env_name(&u.username, &env_name(k, "ATTR"));
                self.needs_env(
                    &var,
                    format!("user {}'s {k} (an upstream basic-auth password)", u.username),
                );
                *v = env(var);
            }
        }
        a
    }

    pub(super) fn bindings(&mut self) {
        let slugs: BTreeMap<_, _> = self.c.applications.iter().map(|a| (a.id, a.slug.clone())).collect();
        let mut pairs: Vec<(&String, &String)> = self
            .c
            .bindings
            .iter()
            .filter_map(|b| Some((slugs.get(&b.application_id)?, self.group_names.get(&b.group_id)?)))
            .collect();
        pairs.sort();
        for (app, group) in pairs {
            self.entries.push(entry(
                "authentik_policies.policybinding",
                None,
                vec![
                    ("target".into(), keyof(ident("app", app))),
                    ("group".into(), keyof(ident("group", group))),
                ],
                vec![("order".into(), Y::Int(0))],
            ));
        }
    }

    pub(super) fn tokens(&mut self) {
        let usernames: BTreeMap<_, _> = self.c.users.iter().map(|u| (u.id, u.username.clone())).collect();
        let tokens = std::mem::take(&mut self.c.api_tokens);
        for t in &tokens {
            let Some(user) = usernames.get(&t.user_id) else {
                continue;
            };
            let var = env_name(&t.identifier, "TOKEN");
            self.needs_env(&var, format!("the key of API token {}", t.identifier));
            if self.include_secrets {
                self.notes.push(format!(
                    "API token {}: only its SHA-256 is stored; the key cannot be exported (set {var})",
                    t.identifier
                ));
            }
            let mut attrs = vec![
                ("user".to_string(), keyof(ident("user", user))),
                ("intent".into(), s(t.intent.clone())),
                ("key".into(), env(var)),
                ("expiring".into(), Y::Bool(t.expires_at.is_some())),
            ];
            if let Some(e) = t.expires_at {
                attrs.push(("expires".into(), s(e.to_rfc3339())));
            }
            self.entries.push(entry(
                "authentik_core.token",
                None,
                vec![("identifier".into(), s(t.identifier.clone()))],
                attrs,
            ));
        }
        self.c.api_tokens = tokens;
    }
}
