//! `gatehouse.membership`: one user in one group, without touching the
//! user's other groups (authentik sets memberships through `groups`/`users`).

use serde_json::Value;

use super::{Attrs, Cx, Model};
use crate::error::At;
use crate::state::State;

pub struct MembershipModel;

fn pair(st: &State, a: &Attrs<'_>) -> Result<(uuid::Uuid, uuid::Uuid), At> {
    let user = a
        .uuid("user")?
        .ok_or_else(|| a.err("user", "a membership needs a user"))?;
    let group = a
        .uuid("group")?
        .ok_or_else(|| a.err("group", "a membership needs a group"))?;
    if st.user_id(user).is_none() {
        return Err(a.err("user", "user: the referenced user does not exist"));
    }
    if st.group_id(group).is_none() {
        return Err(a.err("group", "group: the referenced group does not exist"));
    }
    Ok((user, group))
}

fn key(p: (uuid::Uuid, uuid::Uuid)) -> Value {
    Value::from(format!("{}:{}", p.0, p.1))
}

impl Model for MembershipModel {
    fn name(&self) -> &'static str {
        "gatehouse.membership"
    }
    fn gatehouse_name(&self) -> &'static str {
        "gatehouse.membership"
    }
    fn fields(&self) -> &'static [&'static str] {
        &["user", "group"]
    }
    fn find(&self, st: &State, q: &Attrs<'_>) -> Result<Option<Value>, At> {
        let p = pair(st, q)?;
        Ok(st.memberships.contains(&p).then(|| key(p)))
    }
    fn create(&self, cx: &mut Cx<'_>, a: &Attrs<'_>) -> Result<Value, At> {
        let p = pair(cx.st, a)?;
        cx.st.memberships.insert(p);
        Ok(key(p))
    }
    fn update(&self, _cx: &mut Cx<'_>, _pk: &Value, _a: &Attrs<'_>) -> Result<(), At> {
        Ok(())
    }
    fn delete(&self, cx: &mut Cx<'_>, _pk: &Value, a: &Attrs<'_>) -> Result<(), At> {
        let p = pair(cx.st, a)?;
        cx.st.memberships.remove(&p);
        Ok(())
    }
}
