//! `authentik_providers_ldap.ldapprovider` / `gatehouse.ldapprovider`: the
//! tree an LDAP application serves (`base_dn`), who may search it
//! (`search_group`), whether binds need a code (`mfa_support` / `mfa`) and
//! the POSIX id offsets.

use gatehouse_ldap::config::{DEFAULT_BASE_DN, LdapConfig};
use serde_json::Value;

use super::{Attrs, Cx, Model, pk_uuid, provider};
use crate::error::At;
use crate::state::{ProviderDraft, State};

pub struct LdapModel;

fn find_rec(st: &State, q: &Attrs<'_>) -> Result<Option<usize>, At> {
    if let Some(found) = provider::by_pk(st, q) {
        return Ok(found);
    }
    let name = q.str("name")?;
    let base = q
        .str("base_dn")?
        .and_then(|b| LdapConfig::new(&b).ok()?.provider_key().ok());
    if name.is_none() && base.is_none() {
        return Err(q.err("name", "a provider is identified by its name or base_dn"));
    }
    Ok(provider::position(st, name.as_deref(), |d| {
        matches!(d, ProviderDraft::Ldap(c)
            if base.as_ref().is_none_or(|b| c.provider_key().ok().as_ref() == Some(b)))
    }))
}

/// The search group: a reference (`!KeyOf`, `!Find`) or a group name.
fn search_group(st: &State, a: &Attrs<'_>) -> Result<Option<String>, At> {
    let Some(v) = a.get("search_group") else {
        return Ok(None);
    };
    let i = match pk_uuid(v) {
        Some(id) => st.group_id(id),
        None => v.as_str().and_then(|name| st.group(name)),
    };
    i.map(|i| Some(st.groups[i].group.name.clone()))
        .ok_or_else(|| a.err("search_group", "search_group: the referenced group does not exist"))
}

fn set(cx: &mut Cx<'_>, i: usize, a: &Attrs<'_>) -> Result<(), At> {
    provider::set_name(cx, i, a)?;
    let group = if a.has("search_group") {
        Some(search_group(cx.st, a)?)
    } else {
        None
    };
    let ProviderDraft::Ldap(c) = &mut cx.st.providers[i].draft else {
        return Err(a.err("name", "this provider is not an LDAP provider"));
    };
    let mut c2 = gatehouse_ldap::authentik::apply(c, a).map_err(|e| a.refused(e))?;
    if let Some(g) = group {
        c2.search_group = g;
    }
    *c = c2;
    Ok(())
}

impl Model for LdapModel {
    fn name(&self) -> &'static str {
        "authentik_providers_ldap.ldapprovider"
    }
    fn gatehouse_name(&self) -> &'static str {
        "gatehouse.ldapprovider"
    }
    fn is_provider(&self) -> bool {
        true
    }
    fn fields(&self) -> &'static [&'static str] {
        &[
            "name",
            "base_dn",
            "search_group",
            "mfa",
            "mfa_support",
            "uid_start_number",
            "gid_start_number",
            "authorization_flow",
            "authentication_flow",
            "invalidation_flow",
            "bind_mode",
            "search_mode",
            "tls_server_name",
        ]
    }
    fn unsupported(&self) -> &'static [(&'static str, &'static str)] {
        &[
            (
                "certificate",
                "set GATEHOUSE_LDAP_TLS_CERT/KEY, or use the generated certificate (`gatehouse ldap cert`)",
            ),
            (
                "property_mappings",
                "LDAP attributes come from user and group attributes",
            ),
        ]
    }
    fn find(&self, st: &State, q: &Attrs<'_>) -> Result<Option<Value>, At> {
        Ok(provider::pk_of(st, find_rec(st, q)?))
    }
    fn create(&self, cx: &mut Cx<'_>, a: &Attrs<'_>) -> Result<Value, At> {
        let name = provider::new_name(a)?;
        let draft = LdapConfig::new(DEFAULT_BASE_DN).map_err(|e| a.err("base_dn", e.to_string()))?;
        provider::create(cx, a, name, ProviderDraft::Ldap(draft), set)
    }
    fn update(&self, cx: &mut Cx<'_>, pkv: &Value, a: &Attrs<'_>) -> Result<(), At> {
        provider::update(cx, pkv, a, set)
    }
    fn delete(&self, cx: &mut Cx<'_>, pkv: &Value, a: &Attrs<'_>) -> Result<(), At> {
        provider::delete(cx, pkv, a)
    }
}
