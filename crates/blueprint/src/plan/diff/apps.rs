//! Applications (with their provider settings), group bindings and API
//! tokens: what the blueprints create, change and remove.

use gatehouse_core::{ApiToken, Application, ProviderKind};
use gatehouse_oidc::config::OidcConfig;
use serde_json::{Map, Value, json};

use super::{Diff, FieldChange, compare, fc};
use crate::state::State;
use crate::steps::Op;

/// The provider settings as people may see them (an OIDC client's secret hash hidden).
fn masked_config(app: &Application) -> Value {
    match app.provider {
        Some(ProviderKind::Oidc) => OidcConfig::from_value(&app.provider_config)
            .map(|c| c.shown())
            .unwrap_or(Value::Null),
        _ => app.provider_config.clone(),
    }
}

/// The provider kind, then each provider setting that differs.
fn config_fields(before: &Application, after: &Application) -> Vec<FieldChange> {
    let mut out = Vec::new();
    if before.provider != after.provider {
        out.push(fc(
            "provider",
            before.provider.map(|p| p.as_str()),
            after.provider.map(|p| p.as_str()),
        ));
    }
    if before.provider.is_some() && after.provider.is_some() && before.provider_name != after.provider_name {
        out.push(fc(
            "provider name",
            before.provider_display_name(),
            after.provider_display_name(),
        ));
    }
    let (b, a) = (masked_config(before), masked_config(after));
    let empty = Map::new();
    let bm = b.as_object().unwrap_or(&empty);
    let am = a.as_object().unwrap_or(&empty);
    let mut keys: Vec<&String> = bm.keys().chain(am.keys()).collect();
    keys.sort();
    keys.dedup();
    for k in keys {
        let (x, y) = (
            bm.get(k).cloned().unwrap_or(Value::Null),
            am.get(k).cloned().unwrap_or(Value::Null),
        );
        if x != y {
            out.push(fc(k, x, y));
        }
    }
    out
}

fn binding_name(st: &State, app: uuid::Uuid, group: uuid::Uuid) -> String {
    format!("{} → {}", st.group_name(group), st.app_slug(app))
}

/// Whether a token must be replaced (its key, owner, intent or expiry changed).
fn token_changed(old: &ApiToken, new: &ApiToken) -> bool {
    old.token_hash != new.token_hash
        || old.user_id != new.user_id
        || old.intent != new.intent
        || old.expires_at != new.expires_at
}

impl Diff<'_> {
    pub(super) fn applications(&mut self) {
        let (b, a) = (self.before, self.after);
        for r in a.apps.iter().filter(|r| r.live) {
            let mut app = r.app.clone();
            if let Some(Some(h)) = self.secrets.client_secrets.get(&app.id)
                && let Ok(mut cfg) = OidcConfig::from_value(&app.provider_config)
            {
                cfg.client_secret_hash = Some(h.clone());
                app.provider_config = cfg.to_value();
            }
            match b.app_id(app.id) {
                None => self.create_application(app),
                Some(bi) => self.update_application(&b.apps[bi].app, app),
            }
        }
    }

    fn create_application(&mut self, app: Application) {
        let mut fields = vec![
            fc("name", Value::Null, app.name.as_str()),
            fc("launch_url", Value::Null, app.launch_url.clone()),
        ];
        let without_provider = Application {
            provider: None,
            provider_config: json!({}),
            ..app.clone()
        };
        fields.extend(config_fields(&without_provider, &app));
        let (name, key) = (app.slug.clone(), app.id.to_string());
        let op = Op::CreateApplication {
            shown: masked_config(&app),
            app,
        };
        self.push(op, "create", "application", name, fields, &key);
    }

    fn update_application(&mut self, old: &Application, mut app: Application) {
        let new_secret = self.secrets.client_secrets.get(&app.id);
        // An unchanged secret keeps its stored hash.
        if let Some(None) = new_secret
            && let (Ok(mut cfg), Ok(oldc)) = (
                OidcConfig::from_value(&app.provider_config),
                OidcConfig::from_value(&old.provider_config),
            )
        {
            cfg.client_secret_hash = oldc.client_secret_hash;
            app.provider_config = cfg.to_value();
        }
        let mut f = Vec::new();
        compare(&mut f, "slug", &old.slug, &app.slug);
        compare(&mut f, "name", &old.name, &app.name);
        compare(&mut f, "launch_url", &old.launch_url, &app.launch_url);
        f.extend(config_fields(old, &app));
        if let Some(Some(_)) = new_secret {
            f.retain(|x| x.field != "client_secret_hash");
            f.push(fc("client_secret", "(hidden)", "(new)"));
        }
        if !f.is_empty() {
            let (name, key) = (app.slug.clone(), app.id.to_string());
            let op = Op::UpdateApplication {
                shown: masked_config(&app),
                app,
            };
            self.push(op, "update", "application", name, f, &key);
        }
    }

    pub(super) fn removed_applications(&mut self) {
        let (b, a) = (self.before, self.after);
        for r in b.apps.iter().filter(|r| r.live) {
            if a.app_id(r.app.id).is_none() {
                let op = Op::DeleteApplication(r.app.clone());
                self.push(
                    op,
                    "delete",
                    "application",
                    r.app.slug.clone(),
                    vec![],
                    &r.app.id.to_string(),
                );
            }
        }
    }

    pub(super) fn added_bindings(&mut self) {
        let (b, a) = (self.before, self.after);
        for &(app_id, group_id) in a.bindings.difference(&b.bindings) {
            let op = Op::AddBinding {
                app_id,
                group_id,
                slug: a.app_slug(app_id),
                group: a.group_name(group_id),
            };
            let name = binding_name(a, app_id, group_id);
            self.push(op, "create", "binding", name, vec![], &format!("{app_id}:{group_id}"));
        }
    }

    pub(super) fn removed_bindings(&mut self) {
        let (b, a) = (self.before, self.after);
        for &(app_id, group_id) in b.bindings.difference(&a.bindings) {
            let op = Op::RemoveBinding {
                app_id,
                group_id,
                slug: b.app_slug(app_id),
                group: b.group_name(group_id),
            };
            let name = binding_name(b, app_id, group_id);
            self.push(op, "delete", "binding", name, vec![], &format!("{app_id}:{group_id}"));
        }
    }

    /// New tokens, and changed ones (deleted, then created again).
    pub(super) fn tokens(&mut self) {
        let (b, a) = (self.before, self.after);
        for t in a.tokens.iter().filter(|t| t.live) {
            let old = b.tokens.iter().find(|o| o.live && o.token.id == t.token.id);
            let changed = old.is_some_and(|o| token_changed(&o.token, &t.token));
            if changed && let Some(o) = old {
                self.delete_token(&o.token, &t.token.id.to_string());
            }
            if old.is_none() || changed {
                let fields = vec![
                    fc("user", Value::Null, a.user_name(t.token.user_id)),
                    fc("key", Value::Null, "(set)"),
                ];
                let op = Op::CreateToken(t.token.clone());
                self.push(
                    op,
                    "create",
                    "token",
                    t.token.identifier.clone(),
                    fields,
                    &t.token.id.to_string(),
                );
            }
        }
    }

    pub(super) fn removed_tokens(&mut self) {
        let (b, a) = (self.before, self.after);
        for t in b.tokens.iter().filter(|t| t.live) {
            if !a.tokens.iter().any(|x| x.live && x.token.id == t.token.id) {
                self.delete_token(&t.token, &t.token.id.to_string());
            }
        }
    }

    fn delete_token(&mut self, token: &ApiToken, origin: &str) {
        let op = Op::DeleteToken(token.clone());
        self.push(op, "delete", "token", token.identifier.clone(), vec![], origin);
    }
}
