//! `authentik_policies.policybinding` / `gatehouse.binding`: a group bound to
//! an application (`target`). Gatehouse binds groups only: policy and user
//! bindings are unsupported.

use serde_json::Value;
use uuid::Uuid;

use super::{Attrs, Cx, Model};
use crate::error::At;
use crate::state::State;

pub struct BindingModel;

fn pair(st: &State, a: &Attrs<'_>) -> Result<(Uuid, Uuid), At> {
    let app = a
        .uuid("target")?
        .ok_or_else(|| a.err("target", "a binding needs a target application"))?;
    let group = a.uuid("group")?.ok_or_else(|| {
        a.err("group", "a binding needs a group")
            .hint("Gatehouse binds groups to applications")
    })?;
    if st.app_id(app).is_none() {
        return Err(a
            .err("target", "target: the referenced application does not exist")
            .hint("Gatehouse binds to applications only"));
    }
    if st.group_id(group).is_none() {
        return Err(a.err("group", "group: the referenced group does not exist"));
    }
    Ok((app, group))
}

fn key(p: (Uuid, Uuid)) -> Value {
    Value::from(format!("{}:{}", p.0, p.1))
}

fn check(a: &Attrs<'_>) -> Result<(), At> {
    if a.bool("negate")? == Some(true) {
        return Err(a
            .err("negate", "negated bindings are not supported")
            .hint("bind the groups that may use the application"));
    }
    Ok(())
}

impl Model for BindingModel {
    fn name(&self) -> &'static str {
        "authentik_policies.policybinding"
    }
    fn gatehouse_name(&self) -> &'static str {
        "gatehouse.binding"
    }
    fn fields(&self) -> &'static [&'static str] {
        &[
            "target",
            "group",
            "order",
            "enabled",
            "negate",
            "timeout",
            "failure_result",
        ]
    }
    fn unsupported(&self) -> &'static [(&'static str, &'static str)] {
        &[
            ("policy", "Gatehouse has no policies; bind a group instead"),
            ("user", "Gatehouse binds groups, not users; put the user in a group"),
        ]
    }
    fn find(&self, st: &State, q: &Attrs<'_>) -> Result<Option<Value>, At> {
        let p = pair(st, q)?;
        Ok(st.bindings.contains(&p).then(|| key(p)))
    }
    fn create(&self, cx: &mut Cx<'_>, a: &Attrs<'_>) -> Result<Value, At> {
        check(a)?;
        let p = pair(cx.st, a)?;
        if a.bool("enabled")? != Some(false) {
            cx.st.bindings.insert(p);
        }
        Ok(key(p))
    }
    fn update(&self, cx: &mut Cx<'_>, _pk: &Value, a: &Attrs<'_>) -> Result<(), At> {
        check(a)?;
        let p = pair(cx.st, a)?;
        if a.bool("enabled")? == Some(false) {
            cx.st.bindings.remove(&p);
        }
        Ok(())
    }
    fn delete(&self, cx: &mut Cx<'_>, _pk: &Value, a: &Attrs<'_>) -> Result<(), At> {
        let p = pair(cx.st, a)?;
        cx.st.bindings.remove(&p);
        Ok(())
    }
}
