//! What the provider models (OAuth2, proxy, SAML, LDAP) share. A provider is
//! a record of the plan's state of its own until an application entry picks
//! it up; Gatehouse then stores it inside that application.

use serde_json::Value;
use uuid::Uuid;

use super::{Attrs, Cx, pk, pk_uuid};
use crate::error::At;
use crate::state::{ProviderDraft, ProviderRec, State};

/// How a provider model applies an entry's fields to provider `i`.
pub(super) type SetFields = fn(&mut Cx<'_>, usize, &Attrs<'_>) -> Result<(), At>;

/// When the identifiers give a `pk`: the live provider it names, if any.
pub(super) fn by_pk(st: &State, q: &Attrs<'_>) -> Option<Option<usize>> {
    q.get("pk").and_then(pk_uuid).map(|id| st.provider(id))
}

/// The live provider with `name` (when given) whose settings `matches`.
pub(super) fn position(st: &State, name: Option<&str>, matches: impl Fn(&ProviderDraft) -> bool) -> Option<usize> {
    st.providers
        .iter()
        .position(|p| p.live && matches(&p.draft) && name.is_none_or(|n| n == p.name))
}

pub(super) fn pk_of(st: &State, i: Option<usize>) -> Option<Value> {
    i.map(|i| pk(st.providers[i].id))
}

/// The name a new provider needs.
pub(super) fn new_name(a: &Attrs<'_>) -> Result<String, At> {
    a.required("name", "a new provider")
}

/// Adds a provider named `name` with `draft` settings, then applies the
/// entry's fields with `set`.
pub(super) fn create(
    cx: &mut Cx<'_>,
    a: &Attrs<'_>,
    name: String,
    draft: ProviderDraft,
    set: SetFields,
) -> Result<Value, At> {
    let id = Uuid::new_v4();
    cx.st.providers.push(ProviderRec {
        id,
        name,
        draft,
        live: true,
    });
    let i = cx.st.providers.len() - 1;
    set(cx, i, a)?;
    Ok(pk(id))
}

/// Applies the entry's fields to the provider `pkv` names.
pub(super) fn update(cx: &mut Cx<'_>, pkv: &Value, a: &Attrs<'_>, set: SetFields) -> Result<(), At> {
    let i = pk_uuid(pkv)
        .and_then(|id| cx.st.provider(id))
        .ok_or_else(|| a.err("name", "the provider no longer exists"))?;
    set(cx, i, a)
}

/// Deleting a provider detaches it: its application stays, without provider.
pub(super) fn delete(cx: &mut Cx<'_>, pkv: &Value, a: &Attrs<'_>) -> Result<(), At> {
    let id = pk_uuid(pkv).ok_or_else(|| a.err("name", "bad provider reference"))?;
    if let Some(i) = cx.st.provider(id) {
        cx.st.providers[i].live = false;
    }
    for app in &mut cx.st.apps {
        if app.provider == Some(id) {
            app.provider = None;
        }
    }
    Ok(())
}

/// The entry's `name`, when given, renames the provider.
pub(super) fn set_name(cx: &mut Cx<'_>, i: usize, a: &Attrs<'_>) -> Result<(), At> {
    if let Some(n) = a.str("name")? {
        cx.st.providers[i].name = n;
    }
    Ok(())
}
