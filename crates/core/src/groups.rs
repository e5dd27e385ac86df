//! Groups, nesting and membership: the service, and the single-object
//! writes it and blueprint apply are built from.

use serde_json::{Map, Value, json};
use uuid::Uuid;

use crate::access::GroupTree;
use crate::audit::Audit;
use crate::context::Groups;
use crate::error::{Error, Result, StoreError};
use crate::events::action;
use crate::model::{Group, Membership, Named};
use crate::names;
use crate::tx::Tx;

/// The superuser group of the stack Gatehouse serves.
pub const ADMIN_GROUP: &str = "admins";

/// A group member and how they are one.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Member {
    pub username: String,
    pub name: String,
    pub is_active: bool,
    /// `None` for a direct member; else the nested group they are a member of.
    pub via: Option<String>,
}

/// A group with the names a listing needs.
#[derive(Debug, Clone, serde::Serialize)]
pub struct GroupSummary {
    #[serde(flatten)]
    pub group: Group,
    pub parent: Option<String>,
    pub direct_members: usize,
}

/// A change to a group's fields; `None` leaves a field as it is
/// (`parent: Some(None)` makes the group top-level).
#[derive(Debug, Clone, Default)]
pub struct GroupChange {
    pub name: Option<String>,
    pub is_superuser: Option<bool>,
    pub parent: Option<Option<Uuid>>,
    pub attributes: Option<Value>,
}

impl Groups<'_> {
    /// Every group, by name, with its parent's name and direct member count.
    pub async fn list(self) -> Result<Vec<GroupSummary>> {
        let groups = self.store().groups().await?;
        // Counted in SQL: a listing must not read every membership.
        let counts: std::collections::HashMap<Uuid, i64> = self.store().member_counts().await?.into_iter().collect();
        let mut out: Vec<GroupSummary> = groups
            .iter()
            .map(|g| GroupSummary {
                group: g.clone(),
                parent: g
                    .parent_id
                    .and_then(|p| groups.iter().find(|x| x.id == p))
                    .map(|p| p.name.clone()),
                direct_members: counts.get(&g.id).map_or(0, |&n| usize::try_from(n).unwrap_or(0)),
            })
            .collect();
        out.sort_by_cached_key(|g| g.group.name.to_lowercase());
        Ok(out)
    }

    pub async fn by_name(self, name: &str) -> Result<Option<Group>> {
        Ok(self.store().group_by_name(name).await?)
    }

    pub async fn get(self, name: &str) -> Result<Group> {
        self.store()
            .group_by_name(name)
            .await?
            .ok_or_else(|| Error::not_found("group", name))
    }

    pub async fn create(self, audit: &Audit, name: &str, is_superuser: bool, parent: Option<&str>) -> Result<Group> {
        let mut tx = self.write(audit).await?;
        let parent_id = match parent {
            Some(p) => Some(find(&mut tx, p).await?.id),
            None => None,
        };
        let mut group = Group {
            id: Uuid::new_v4(),
            pk: 0,
            name: name.to_string(),
            is_superuser,
            parent_id,
            attributes: json!({}),
            created_at: self.now(),
        };
        group.pk = insert(&mut tx, &group).await?;
        tx.commit().await?;
        Ok(group)
    }

    /// Changes a group's parent (`None` makes it top-level). Refuses cycles.
    pub async fn set_parent(self, audit: &Audit, name: &str, parent: Option<&str>) -> Result<Group> {
        let mut tx = self.write(audit).await?;
        let group = find(&mut tx, name).await?;
        let parent_id = match parent {
            Some(p) => Some(find(&mut tx, p).await?.id),
            None => None,
        };
        let change = GroupChange {
            parent: Some(parent_id),
            ..GroupChange::default()
        };
        let group = update(&mut tx, group.id, &change).await?;
        tx.commit().await?;
        Ok(group)
    }

    pub async fn delete(self, audit: &Audit, name: &str) -> Result<()> {
        let mut tx = self.write(audit).await?;
        let group = find(&mut tx, name).await?;
        delete(&mut tx, group.id).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Grants or takes away superuser status from a group's members.
    pub async fn set_superuser(self, audit: &Audit, name: &str, is_superuser: bool) -> Result<Group> {
        let mut tx = self.write(audit).await?;
        let group = find(&mut tx, name).await?;
        let change = GroupChange {
            is_superuser: Some(is_superuser),
            ..GroupChange::default()
        };
        let group = update(&mut tx, group.id, &change).await?;
        tx.commit().await?;
        Ok(group)
    }

    /// Adds a user to a group. Returns false (and writes nothing) when they already were.
    pub async fn add_member(self, audit: &Audit, group: &str, username: &str) -> Result<bool> {
        let mut tx = self.write(audit).await?;
        let (g, u) = (
            find(&mut tx, group).await?,
            crate::users::find(&mut tx, username).await?,
        );
        let added = add_member(&mut tx, g.named(), u.named(), false).await?;
        tx.commit().await?;
        Ok(added)
    }

    /// Removes a user from a group. Returns false when they were not a direct member.
    pub async fn remove_member(self, audit: &Audit, group: &str, username: &str) -> Result<bool> {
        let mut tx = self.write(audit).await?;
        let (g, u) = (
            find(&mut tx, group).await?,
            crate::users::find(&mut tx, username).await?,
        );
        let removed = remove_member(&mut tx, g.named(), u.named()).await?;
        tx.commit().await?;
        Ok(removed)
    }

    /// Direct members, then members of nested groups (with the group they are in).
    pub async fn members(self, group: &str) -> Result<Vec<Member>> {
        let target = self.get(group).await?;
        let groups = self.store().groups().await?;
        let tree = GroupTree::new(&groups);
        let Some(target_idx) = tree.index_of(target.id) else {
            return Ok(vec![]);
        };
        // The group and every group nested in it; only their members are read.
        let subtree: Vec<Uuid> = (0..groups.len())
            .filter(|&g| tree.self_and_ancestors(g).contains(&target_idx))
            .map(|g| groups[g].id)
            .collect();
        let mut out: Vec<Member> = Vec::new();
        let mut seen: std::collections::HashMap<Uuid, usize> = std::collections::HashMap::new();
        for (group_id, u) in self.store().members_of_groups(&subtree).await? {
            let via = (group_id != target.id)
                .then(|| tree.index_of(group_id).map(|g| groups[g].name.clone()))
                .flatten();
            if let Some(existing) = seen.get(&u.id).and_then(|&i| out.get_mut(i)) {
                // A direct membership wins over an inherited one.
                if via.is_none() {
                    existing.via = None;
                }
                continue;
            }
            seen.insert(u.id, out.len());
            out.push(Member {
                username: u.username,
                name: u.name,
                is_active: u.is_active,
                via,
            });
        }
        out.sort_by(|a, b| {
            (a.via.is_some(), a.username.to_lowercase()).cmp(&(b.via.is_some(), b.username.to_lowercase()))
        });
        Ok(out)
    }
}

/// The group with this name, read in the change.
pub(crate) async fn find(tx: &mut Tx<'_>, name: &str) -> Result<Group> {
    tx.raw()
        .group_by_name(name)
        .await?
        .ok_or_else(|| Error::not_found("group", name))
}

/// The superuser group as the bootstrap and `recovery admin` create it.
pub(crate) fn admin_group(now: crate::Timestamp) -> Group {
    Group {
        id: Uuid::new_v4(),
        pk: 0,
        name: ADMIN_GROUP.into(),
        is_superuser: true,
        parent_id: None,
        attributes: json!({}),
        created_at: now,
    }
}

/// Creates `group` as given (its id and parent chosen by the caller; `pk` is
/// ignored). Returns the stable integer id the group was given.
pub async fn insert(tx: &mut Tx<'_>, group: &Group) -> Result<i64> {
    names::check_group_name(&group.name)?;
    if tx.raw().group_by_name(&group.name).await?.is_some() {
        return Err(exists(&group.name));
    }
    let parent = match group.parent_id {
        Some(p) => Some(parent_name(tx, p).await?),
        None => None,
    };
    let pk = tx
        .raw()
        .insert_group(group)
        .await
        .map_err(|e| conflict(e, &group.name))?;
    tx.record(
        action::MODEL_CREATED,
        None,
        json!({"model": "group", "pk": group.id, "name": group.name, "is_superuser": group.is_superuser, "parent": parent}),
    )
    .await?;
    Ok(pk)
}

async fn parent_name(tx: &mut Tx<'_>, id: Uuid) -> Result<String> {
    let groups = tx.raw().groups().await?;
    groups
        .into_iter()
        .find(|g| g.id == id)
        .map(|g| g.name)
        .ok_or_else(|| Error::not_found("group", id.to_string()))
}

/// Applies `change` to the group with this id. Refuses a parent that would
/// nest the group inside itself. Writes nothing when nothing changes.
pub async fn update(tx: &mut Tx<'_>, id: Uuid, change: &GroupChange) -> Result<Group> {
    let groups = tx.raw().groups().await?;
    let mut group = groups
        .iter()
        .find(|g| g.id == id)
        .cloned()
        .ok_or_else(|| Error::not_found("group", id.to_string()))?;
    let name_of = |id: Option<Uuid>| {
        id.and_then(|i| groups.iter().find(|g| g.id == i))
            .map(|g| g.name.clone())
    };
    let mut changes = Map::new();
    if let Some(v) = &change.name
        && *v != group.name
    {
        changes.insert("name".into(), json!([group.name, v]));
        group.name = v.clone();
    }
    if let Some(v) = change.is_superuser
        && v != group.is_superuser
    {
        changes.insert("is_superuser".into(), json!([group.is_superuser, v]));
        group.is_superuser = v;
    }
    if let Some(parent) = change.parent
        && parent != group.parent_id
    {
        if let Some(p) = parent
            && GroupTree::new(&groups).would_cycle(group.id, p)
        {
            return Err(Error::Refused(format!(
                "making '{}' the parent of '{}' would nest the group inside itself",
                name_of(Some(p)).unwrap_or_default(),
                group.name
            )));
        }
        changes.insert("parent".into(), json!([name_of(group.parent_id), name_of(parent)]));
        group.parent_id = parent;
    }
    if let Some(v) = &change.attributes
        && *v != group.attributes
    {
        changes.insert("attributes".into(), json!("changed"));
        group.attributes = v.clone();
    }
    if changes.is_empty() {
        return Ok(group);
    }
    names::check_group_name(&group.name)?;
    tx.raw()
        .update_group(&group)
        .await
        .map_err(|e| conflict(e, &group.name))?;
    tx.record(
        action::MODEL_UPDATED,
        None,
        json!({"model": "group", "pk": group.id, "name": group.name, "changes": changes}),
    )
    .await?;
    Ok(group)
}

/// Deletes the group with this id. Refuses the superuser group and a group
/// that still has groups nested in it.
pub async fn delete(tx: &mut Tx<'_>, id: Uuid) -> Result<Group> {
    let groups = tx.raw().groups().await?;
    let group = groups
        .iter()
        .find(|g| g.id == id)
        .cloned()
        .ok_or_else(|| Error::not_found("group", id.to_string()))?;
    if group.name == ADMIN_GROUP {
        return Err(Error::Refused(format!(
            "'{ADMIN_GROUP}' is the superuser group the recovery account depends on; refusing to delete it"
        )));
    }
    if let Some(child) = groups.iter().find(|g| g.parent_id == Some(group.id)) {
        return Err(Error::Refused(format!(
            "group '{}' is nested in '{}'; move or delete it first",
            child.name, group.name
        )));
    }
    tx.raw().delete_group(group.id).await?;
    tx.record(
        action::MODEL_DELETED,
        None,
        json!({"model": "group", "pk": group.id, "name": group.name}),
    )
    .await?;
    Ok(group)
}

/// Makes `user` a direct member of `group`. False when they already were.
/// `announced`: the user's creation event already names the group (no event).
pub async fn add_member(tx: &mut Tx<'_>, group: Named<'_>, user: Named<'_>, announced: bool) -> Result<bool> {
    let added = tx
        .raw()
        .add_membership(Membership {
            user_id: user.id,
            group_id: group.id,
        })
        .await?;
    if added && !announced {
        membership_event(tx, group, user, "added").await?;
    }
    Ok(added)
}

/// Ends `user`'s direct membership of `group`. False when there was none.
pub async fn remove_member(tx: &mut Tx<'_>, group: Named<'_>, user: Named<'_>) -> Result<bool> {
    let removed = tx
        .raw()
        .remove_membership(Membership {
            user_id: user.id,
            group_id: group.id,
        })
        .await?;
    if removed {
        membership_event(tx, group, user, "removed").await?;
    }
    Ok(removed)
}

async fn membership_event(tx: &mut Tx<'_>, group: Named<'_>, user: Named<'_>, change: &str) -> Result<()> {
    tx.record(
        action::MODEL_UPDATED,
        Some(user.name),
        json!({"model": "group", "pk": group.id, "name": group.name, "member": {change: user.name}}),
    )
    .await?;
    Ok(())
}

fn exists(name: &str) -> Error {
    Error::AlreadyExists {
        kind: "group",
        name: name.to_string(),
    }
}

fn conflict(e: StoreError, name: &str) -> Error {
    match e {
        StoreError::Conflict(_) => exists(name),
        other => Error::Store(other),
    }
}
