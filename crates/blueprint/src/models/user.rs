//! `authentik_core.user` / `gatehouse.user`.

use gatehouse_core::User;
use serde_json::{Value, json};
use uuid::Uuid;

use super::{Attrs, Cx, Model, find_by_key, pk, pk_uuid};
use crate::error::At;
use crate::state::State;

pub struct UserModel;

fn index(st: &State, pk: &Value, a: &Attrs<'_>) -> Result<usize, At> {
    pk_uuid(pk)
        .and_then(|id| st.user_id(id))
        .ok_or_else(|| a.err("username", "the user no longer exists"))
}

/// `groups`: the user's direct groups, replacing the current set.
fn set_groups(cx: &mut Cx<'_>, i: usize, a: &Attrs<'_>) -> Result<(), At> {
    let Some(groups) = a.uuids("groups")? else {
        return Ok(());
    };
    let uid = cx.st.users[i].user.id;
    for g in &groups {
        if cx.st.group_id(*g).is_none() {
            return Err(a.err("groups", "groups: a referenced group does not exist"));
        }
    }
    cx.st.clear_user_groups(uid);
    for g in groups {
        cx.st.memberships.insert((uid, g));
    }
    Ok(())
}

fn set_fields(cx: &mut Cx<'_>, i: usize, a: &Attrs<'_>) -> Result<(), At> {
    if let Some(name) = a.str("username")?
        && name != cx.st.users[i].user.username
    {
        if cx.st.user(&name).is_some() {
            return Err(a.err("username", format!("user '{name}' already exists")));
        }
        cx.st.rename_user(i, &name);
    }
    let u = &mut cx.st.users[i];
    if let Some(v) = a.str("name")? {
        u.user.name = v;
    }
    if let Some(v) = a.str("email")? {
        u.user.email = v;
    }
    if let Some(v) = a.bool("is_active")? {
        u.user.is_active = v;
    }
    if let Some(v) = a.get("attributes") {
        if !v.is_object() {
            return Err(a.err("attributes", "attributes: expected a mapping"));
        }
        u.user.attributes = v.clone();
    }
    if let Some(t) = a.str("type")?
        && t != "internal"
    {
        return Err(a
            .err("type", format!("type '{t}' is not supported"))
            .hint("Gatehouse users are all `internal`; use an API token for a service"));
    }
    if let Some(p) = a.str("password")? {
        u.password = Some(p);
    }
    if let Some(h) = a.str("password_hash")? {
        // Gatehouse's argon2id or a Django hash as authentik stores it (users
        // imported with their passwords); the same rule as `user set-password-hash`.
        if let Err(e) = gatehouse_core::users::check_password_hash(&h) {
            return Err(a
                .err("password_hash", format!("password_hash: {e}"))
                .hint("give `password` in plain text (with !Env) instead"));
        }
        u.user.password_hash = Some(h);
    }
    set_groups(cx, i, a)
}

impl Model for UserModel {
    fn name(&self) -> &'static str {
        "authentik_core.user"
    }
    fn gatehouse_name(&self) -> &'static str {
        "gatehouse.user"
    }
    fn fields(&self) -> &'static [&'static str] {
        &[
            "username",
            "name",
            "email",
            "is_active",
            "groups",
            "password",
            "password_hash",
            "attributes",
            "type",
            "path",
        ]
    }
    fn unsupported(&self) -> &'static [(&'static str, &'static str)] {
        &[
            ("roles", "Gatehouse has groups only; put the user in groups"),
            ("is_staff", "superuser status comes from a group with is_superuser"),
            ("is_superuser", "superuser status comes from a group with is_superuser"),
        ]
    }

    fn find(&self, st: &State, q: &Attrs<'_>) -> Result<Option<Value>, At> {
        let id = |i: usize| st.users[i].user.id;
        find_by_key(
            q,
            "username",
            "a user",
            |u| st.user_id(u).map(id),
            |n| st.user(n).map(id),
        )
    }

    fn create(&self, cx: &mut Cx<'_>, a: &Attrs<'_>) -> Result<Value, At> {
        let username = a.required("username", "a new user")?;
        if let Some(p) = a.str("path")?
            && p != "users"
        {
            return Err(a.err("path", "path: only `users` is supported"));
        }
        let user = User {
            id: Uuid::new_v4(),
            pk: 0,
            username: username.clone(),
            email: String::new(),
            name: String::new(),
            is_active: true,
            password_hash: None,
            attributes: json!({}),
            created_at: cx.now,
            last_login: None,
            password_changed_at: None,
        };
        let id = user.id;
        let i = cx.st.add_user(user);
        set_fields(cx, i, a)?;
        Ok(pk(id))
    }

    fn update(&self, cx: &mut Cx<'_>, pk: &Value, a: &Attrs<'_>) -> Result<(), At> {
        let i = index(cx.st, pk, a)?;
        set_fields(cx, i, a)
    }

    fn delete(&self, cx: &mut Cx<'_>, pk: &Value, a: &Attrs<'_>) -> Result<(), At> {
        let i = index(cx.st, pk, a)?;
        if cx.st.users[i].user.username == gatehouse_core::RECOVERY_ADMIN {
            return Err(a
                .err(
                    "username",
                    "the recovery admin akadmin cannot be deleted by a blueprint",
                )
                .hint("`gatehouse user delete akadmin --force`"));
        }
        cx.st.delete_user(i);
        Ok(())
    }
}
