//! `authentik_providers_oauth2.scopemapping`: Gatehouse's claims are fixed, so
//! only authentik's built-in scope mappings (openid, email, profile,
//! offline_access) map; they evaluate to a reference the OAuth2 provider's
//! `property_mappings` accepts. Custom expressions are unsupported.

use serde_json::Value;

use super::{Attrs, Cx, Model};
use crate::error::At;
use crate::eval::marker;
use crate::state::State;

pub struct ScopeModel;

pub const BUILTIN: &[&str] = &["openid", "email", "profile", "offline_access"];

fn scope_of(a: &Attrs<'_>) -> Result<String, At> {
    let name = if let Some(m) = a.str("managed")? {
        m.strip_prefix("goauthentik.io/providers/oauth2/scope-")
            .map(str::to_string)
            .unwrap_or(m)
    } else if let Some(s) = a.str("scope_name")? {
        s
    } else {
        return Err(a.err("scope_name", "a scope mapping is identified by scope_name or managed"));
    };
    if !BUILTIN.contains(&name.as_str()) {
        return Err(a
            .err("scope_name", format!("scope '{name}' is not one of Gatehouse's claims"))
            .hint("Gatehouse maps openid, email, profile and offline_access; groups and roles come with profile"));
    }
    if a.has("expression") {
        return Err(a
            .err("expression", "custom claim expressions are not supported")
            .hint("Gatehouse's claims are fixed; reference the built-in mappings with !Find"));
    }
    Ok(name)
}

impl Model for ScopeModel {
    fn name(&self) -> &'static str {
        "authentik_providers_oauth2.scopemapping"
    }
    fn gatehouse_name(&self) -> &'static str {
        "gatehouse.scope"
    }
    fn fields(&self) -> &'static [&'static str] {
        &["managed", "scope_name", "name", "description", "expression"]
    }
    fn find(&self, _st: &State, q: &Attrs<'_>) -> Result<Option<Value>, At> {
        Ok(Some(marker("scope", &scope_of(q)?)))
    }
    fn create(&self, _cx: &mut Cx<'_>, a: &Attrs<'_>) -> Result<Value, At> {
        Ok(marker("scope", &scope_of(a)?))
    }
    fn update(&self, _cx: &mut Cx<'_>, _pk: &Value, a: &Attrs<'_>) -> Result<(), At> {
        scope_of(a).map(|_| ())
    }
    fn delete(&self, _cx: &mut Cx<'_>, _pk: &Value, a: &Attrs<'_>) -> Result<(), At> {
        Err(a.err("scope_name", "built-in scope mappings cannot be deleted"))
    }
}
