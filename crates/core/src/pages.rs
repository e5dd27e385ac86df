//! The REST API's listings as services: a page of users with their direct
//! groups and superuser status, a page of groups with their members, parent
//! and children, a page of events. A page of users is one statement besides
//! the count (group ids ride along with each row); groups (a few dozen) are
//! read whole and cached, because superuser status follows nesting. Pages
//! of users are cached until the next change (the API's hot list).

use std::sync::Arc;

use uuid::Uuid;

use crate::access::GroupTree;
use crate::audit::Audit;
use crate::context::{Events, Groups, Users};
use crate::error::{Error, Result};
use crate::groups::GroupChange;
use crate::listing::{EventQuery, GroupQuery, Page, UserQuery};
use crate::model::{Event, Group, User};

/// A user with their direct groups and whether any group (through nesting)
/// makes them a superuser.
#[derive(Debug, Clone)]
pub struct UserRow {
    pub user: User,
    pub groups: Vec<Group>,
    pub is_superuser: bool,
}

/// A group with its parent, children and direct members.
#[derive(Debug, Clone)]
pub struct GroupRow {
    pub group: Group,
    pub parent: Option<Group>,
    pub children: Vec<Group>,
    pub members: Vec<User>,
}

/// Groups whose members are superusers: flagged ones and every group nested below them.
fn superuser_groups(groups: &[Group]) -> Vec<Uuid> {
    let tree = GroupTree::new(groups);
    groups
        .iter()
        .enumerate()
        .filter(|(i, _)| tree.self_and_ancestors(*i).iter().any(|&a| groups[a].is_superuser))
        .map(|(_, g)| g.id)
        .collect()
}

impl crate::Context {
    /// Every group, cached on a server until the directory changes (every
    /// group write moves the directory generation; no deadline needed).
    pub(crate) async fn all_groups(&self) -> Result<std::sync::Arc<Vec<Group>>> {
        let generation = self.feed().directory_generation();
        if let Some(groups) = self.caches().groups.get(generation, 0) {
            return Ok(groups);
        }
        let groups = std::sync::Arc::new(self.store().groups().await?);
        self.caches()
            .groups
            .put(generation, crate::cache::NO_DEADLINE, groups.clone());
        Ok(groups)
    }
}

impl Users<'_> {
    /// One page of users; `is_superuser` is resolved through nesting. Two
    /// statements: the count, and the page with each user's group ids.
    pub async fn page(self, q: &UserQuery, is_superuser: Option<bool>) -> Result<Arc<Page<UserRow>>> {
        // Any change may show on a page (a sign-in moves `last_login`), so
        // pages follow the all-changes generation.
        let generation = self.feed().generation();
        let key = (q.clone(), is_superuser);
        if let Some(page) = self.caches().user_pages.get(&key, generation, 0) {
            return Ok(page);
        }
        let groups = self.all_groups().await?;
        let superuser = superuser_groups(&groups);
        let mut q = q.clone();
        match is_superuser {
            Some(true) => q.member_of_any.push(superuser.clone()),
            Some(false) => q.member_of_none.extend(superuser.iter().copied()),
            None => {}
        }
        let page = self.store().user_page_with_groups(&q).await?;
        let items = page
            .items
            .into_iter()
            .map(|(user, ids)| row(user, &ids, &groups, &superuser))
            .collect();
        let page = Page {
            count: page.count,
            items,
        };
        Ok(self
            .caches()
            .user_pages
            .insert(key, generation, crate::cache::NO_DEADLINE, page))
    }

    /// The user with this integer id, with their groups.
    pub async fn by_pk(self, pk: i64) -> Result<UserRow> {
        let user = self
            .store()
            .user_by_pk(pk)
            .await?
            .ok_or_else(|| Error::not_found("user", pk.to_string()))?;
        self.row(user).await
    }

    /// `user` with their groups and superuser status.
    pub async fn row(self, user: User) -> Result<UserRow> {
        let groups = self.all_groups().await?;
        let ids: Vec<Uuid> = self
            .store()
            .memberships_of_users(&[user.id])
            .await?
            .into_iter()
            .map(|m| m.group_id)
            .collect();
        Ok(row(user, &ids, &groups, &superuser_groups(&groups)))
    }

    /// Whether `user` is a superuser, cached per user until the directory
    /// changes (the REST API asks on every request).
    pub async fn is_superuser(self, user: &User) -> Result<bool> {
        let generation = self.feed().directory_generation();
        let now = self.now().millis();
        if let Some(hit) = self.caches().superusers.get(&user.id, generation, now) {
            return Ok(*hit);
        }
        let answer = self.row(user.clone()).await?.is_superuser;
        self.caches()
            .superusers
            .insert(user.id, generation, crate::cache::NO_DEADLINE, answer);
        Ok(answer)
    }
}

/// `user` with the groups of `ids` (direct memberships), ordered by `pk`.
fn row(user: User, ids: &[Uuid], groups: &[Group], superuser: &[Uuid]) -> UserRow {
    let mut mine: Vec<Group> = groups.iter().filter(|g| ids.contains(&g.id)).cloned().collect();
    mine.sort_by_key(|g| g.pk);
    let is_superuser = mine.iter().any(|g| superuser.contains(&g.id));
    UserRow {
        user,
        groups: mine,
        is_superuser,
    }
}

impl Groups<'_> {
    /// One page of groups; members only when `with_members` (they can be many).
    pub async fn page(self, q: &GroupQuery, with_members: bool) -> Result<Page<GroupRow>> {
        let page = self.store().group_page(q).await?;
        let all = self.store().groups().await?;
        let ids: Vec<Uuid> = page.items.iter().map(|g| g.id).collect();
        let (memberships, users) = if with_members {
            let m = self.store().memberships_of_groups(&ids).await?;
            let mut user_ids: Vec<Uuid> = m.iter().map(|m| m.user_id).collect();
            user_ids.sort_unstable();
            user_ids.dedup();
            let users = self.store().users_by_ids(&user_ids).await?;
            (m, users)
        } else {
            (Vec::new(), Vec::new())
        };
        let items = page
            .items
            .into_iter()
            .map(|group| GroupRow {
                parent: group.parent_id.and_then(|p| all.iter().find(|g| g.id == p).cloned()),
                children: all.iter().filter(|g| g.parent_id == Some(group.id)).cloned().collect(),
                members: memberships
                    .iter()
                    .filter(|m| m.group_id == group.id)
                    .filter_map(|m| users.iter().find(|u| u.id == m.user_id).cloned())
                    .collect(),
                group,
            })
            .collect();
        Ok(Page {
            count: page.count,
            items,
        })
    }

    pub async fn by_id(self, id: Uuid) -> Result<Group> {
        self.store()
            .groups()
            .await?
            .into_iter()
            .find(|g| g.id == id)
            .ok_or_else(|| Error::not_found("group", id.to_string()))
    }

    /// Changes the given fields of a group (`parent` refuses cycles).
    pub async fn update(self, audit: &Audit, id: Uuid, change: &GroupChange) -> Result<Group> {
        let mut tx = self.write(audit).await?;
        let group = crate::groups::update(&mut tx, id, change).await?;
        tx.commit().await?;
        Ok(group)
    }
}

impl Events<'_> {
    pub async fn page(self, q: &EventQuery) -> Result<Page<Event>> {
        Ok(self.store().event_page(q).await?)
    }
}
