//! `authentik_core.group` / `gatehouse.group`.

use gatehouse_core::Group;
use serde_json::{Value, json};
use uuid::Uuid;

use super::{Attrs, Cx, Model, find_by_key, pk, pk_uuid};
use crate::error::At;
use crate::state::State;

pub struct GroupModel;

fn index(st: &State, pk: &Value, a: &Attrs<'_>) -> Result<usize, At> {
    pk_uuid(pk)
        .and_then(|id| st.group_id(id))
        .ok_or_else(|| a.err("name", "the group no longer exists"))
}

fn set_fields(cx: &mut Cx<'_>, i: usize, a: &Attrs<'_>) -> Result<(), At> {
    if let Some(name) = a.str("name")?
        && name != cx.st.groups[i].group.name
    {
        if cx.st.group(&name).is_some() {
            return Err(a.err("name", format!("group '{name}' already exists")));
        }
        cx.st.rename_group(i, &name);
    }
    let gid = cx.st.groups[i].group.id;
    if let Some(v) = a.bool("is_superuser")? {
        cx.st.groups[i].group.is_superuser = v;
    }
    if a.has("parent") {
        let parent = a.uuid("parent")?;
        if let Some(p) = parent {
            if cx.st.group_id(p).is_none() {
                return Err(a.err("parent", "parent: the referenced group does not exist"));
            }
            // No cycles: walk up from the new parent.
            let mut cur = Some(p);
            while let Some(c) = cur {
                if c == gid {
                    return Err(a.err("parent", "parent: groups cannot be nested in themselves"));
                }
                cur = cx.st.group_id(c).and_then(|j| cx.st.groups[j].group.parent_id);
            }
        }
        cx.st.groups[i].group.parent_id = parent;
    }
    if let Some(v) = a.get("attributes") {
        if !v.is_object() {
            return Err(a.err("attributes", "attributes: expected a mapping"));
        }
        cx.st.groups[i].group.attributes = v.clone();
    }
    if let Some(users) = a.uuids("users")? {
        for u in &users {
            if cx.st.user_id(*u).is_none() {
                return Err(a.err("users", "users: a referenced user does not exist"));
            }
        }
        cx.st.memberships.retain(|(_, g)| *g != gid);
        for u in users {
            cx.st.memberships.insert((u, gid));
        }
    }
    Ok(())
}

impl Model for GroupModel {
    fn name(&self) -> &'static str {
        "authentik_core.group"
    }
    fn gatehouse_name(&self) -> &'static str {
        "gatehouse.group"
    }
    fn fields(&self) -> &'static [&'static str] {
        &["name", "is_superuser", "parent", "attributes", "users"]
    }
    fn unsupported(&self) -> &'static [(&'static str, &'static str)] {
        &[
            ("roles", "Gatehouse has no RBAC roles; bind groups to applications"),
            ("parents", "a Gatehouse group has one parent: use `parent`"),
        ]
    }

    fn find(&self, st: &State, q: &Attrs<'_>) -> Result<Option<Value>, At> {
        let id = |i: usize| st.groups[i].group.id;
        find_by_key(
            q,
            "name",
            "a group",
            |g| st.group_id(g).map(id),
            |n| st.group(n).map(id),
        )
    }

    fn create(&self, cx: &mut Cx<'_>, a: &Attrs<'_>) -> Result<Value, At> {
        let name = a.required("name", "a new group")?;
        let group = Group {
            id: Uuid::new_v4(),
            pk: 0,
            name,
            is_superuser: false,
            parent_id: None,
            attributes: json!({}),
            created_at: cx.now,
        };
        let id = group.id;
        let i = cx.st.add_group(group);
        set_fields(cx, i, a)?;
        Ok(pk(id))
    }

    fn update(&self, cx: &mut Cx<'_>, pk: &Value, a: &Attrs<'_>) -> Result<(), At> {
        let i = index(cx.st, pk, a)?;
        set_fields(cx, i, a)
    }

    fn delete(&self, cx: &mut Cx<'_>, pk: &Value, a: &Attrs<'_>) -> Result<(), At> {
        let i = index(cx.st, pk, a)?;
        let g = &cx.st.groups[i].group;
        if g.name == gatehouse_core::ADMIN_GROUP {
            return Err(a.err("name", "the superuser group admins cannot be deleted"));
        }
        let id = g.id;
        if let Some(child) = cx.st.groups.iter().find(|c| c.live && c.group.parent_id == Some(id)) {
            return Err(a.err(
                "name",
                format!("group '{}' is nested in it: delete or move it first", child.group.name),
            ));
        }
        cx.st.delete_group(i);
        Ok(())
    }
}
