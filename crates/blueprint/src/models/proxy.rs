//! `authentik_providers_proxy.proxyprovider` / `gatehouse.proxyprovider`, in
//! authentik's forward-auth modes (`forward_single`, `forward_domain`).

use serde_json::Value;

use super::{Attrs, Cx, Model, provider};
use crate::error::At;
use crate::state::{ProviderDraft, State};

pub struct ProxyModel;

fn find_rec(st: &State, q: &Attrs<'_>) -> Result<Option<usize>, At> {
    if let Some(found) = provider::by_pk(st, q) {
        return Ok(found);
    }
    let host = q.str("external_host")?;
    let name = q.str("name")?;
    if host.is_none() && name.is_none() {
        return Err(q.err("name", "a provider is identified by its name or external_host"));
    }
    Ok(provider::position(st, name.as_deref(), |d| {
        matches!(d, ProviderDraft::Proxy(c)
            if host.as_ref().is_none_or(|h| h.trim_end_matches('/') == c.external_host))
    }))
}

fn set(cx: &mut Cx<'_>, i: usize, a: &Attrs<'_>) -> Result<(), At> {
    provider::set_name(cx, i, a)?;
    let ProviderDraft::Proxy(c) = &mut cx.st.providers[i].draft else {
        return Err(a.err("name", "this provider is not a proxy provider"));
    };
    *c = gatehouse_proxy::authentik::apply(c, a).map_err(|e| a.refused(e))?;
    Ok(())
}

impl Model for ProxyModel {
    fn name(&self) -> &'static str {
        "authentik_providers_proxy.proxyprovider"
    }
    fn gatehouse_name(&self) -> &'static str {
        "gatehouse.proxyprovider"
    }
    fn is_provider(&self) -> bool {
        true
    }
    fn fields(&self) -> &'static [&'static str] {
        &[
            "name",
            "mode",
            "external_host",
            "internal_host",
            "cookie_domain",
            "skip_path_regex",
            "basic_auth_enabled",
            "basic_auth_user_attribute",
            "basic_auth_password_attribute",
            "authorization_flow",
            "invalidation_flow",
            "intercept_header_auth",
        ]
    }
    fn unsupported(&self) -> &'static [(&'static str, &'static str)] {
        &[
            ("internal_host_ssl_validation", "mode 'proxy' is not supported"),
            (
                "access_token_validity",
                "forward-auth sessions follow the Gatehouse session lifetime",
            ),
            ("jwks_sources", "Gatehouse does not accept federated JWTs"),
            ("certificate", "TLS is terminated by your reverse proxy"),
        ]
    }
    fn find(&self, st: &State, q: &Attrs<'_>) -> Result<Option<Value>, At> {
        Ok(provider::pk_of(st, find_rec(st, q)?))
    }
    fn create(&self, cx: &mut Cx<'_>, a: &Attrs<'_>) -> Result<Value, At> {
        let name = provider::new_name(a)?;
        if a.str("external_host")?.is_none() {
            return Err(a.err("external_host", "a proxy provider needs external_host"));
        }
        let draft = gatehouse_proxy::authentik::blank();
        provider::create(cx, a, name, ProviderDraft::Proxy(draft), set)
    }
    fn update(&self, cx: &mut Cx<'_>, pkv: &Value, a: &Attrs<'_>) -> Result<(), At> {
        provider::update(cx, pkv, a, set)
    }
    fn delete(&self, cx: &mut Cx<'_>, pkv: &Value, a: &Attrs<'_>) -> Result<(), At> {
        provider::delete(cx, pkv, a)
    }
}
