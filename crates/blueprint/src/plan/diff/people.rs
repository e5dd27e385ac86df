//! Groups, users and memberships: what the blueprints create, change and
//! remove.

use gatehouse_core::User;
use serde_json::Value;

use super::{Diff, compare, fc, field_names};
use crate::state::{State, UserRec, parents_first};
use crate::steps::Op;

fn membership_name(st: &State, user: uuid::Uuid, group: uuid::Uuid) -> String {
    format!("{} in {}", st.user_name(user), st.group_name(group))
}

impl Diff<'_> {
    /// New groups, each after its parent.
    pub(super) fn created_groups(&mut self) {
        let (b, a) = (self.before, self.after);
        let new: Vec<_> = a
            .groups
            .iter()
            .filter(|g| g.live && b.group_id(g.group.id).is_none())
            .collect();
        let ordered = parents_first(
            new,
            |g| (g.group.id, g.group.parent_id),
            |parent| b.group_id(parent).is_some(),
        );
        for g in ordered {
            let mut fields = vec![fc("is_superuser", Value::Null, g.group.is_superuser)];
            if let Some(p) = g.group.parent_id {
                fields.push(fc("parent", Value::Null, a.group_name(p)));
            }
            let op = Op::CreateGroup { group: g.group.clone() };
            self.push(
                op,
                "create",
                "group",
                g.group.name.clone(),
                fields,
                &g.group.id.to_string(),
            );
        }
    }

    pub(super) fn updated_groups(&mut self) {
        let (b, a) = (self.before, self.after);
        for g in a.groups.iter().filter(|g| g.live) {
            let Some(bi) = b.group_id(g.group.id) else { continue };
            let (old, new) = (&b.groups[bi].group, &g.group);
            let mut f = Vec::new();
            compare(&mut f, "name", &old.name, &new.name);
            compare(&mut f, "is_superuser", &old.is_superuser, &new.is_superuser);
            if old.parent_id != new.parent_id {
                f.push(fc(
                    "parent",
                    old.parent_id.map(|p| b.group_name(p)),
                    new.parent_id.map(|p| a.group_name(p)),
                ));
            }
            compare(&mut f, "attributes", &old.attributes, &new.attributes);
            if !f.is_empty() {
                let op = Op::UpdateGroup {
                    group: new.clone(),
                    fields: field_names(&f),
                };
                self.push(op, "update", "group", new.name.clone(), f, &new.id.to_string());
            }
        }
    }

    /// Removed groups, children before parents.
    pub(super) fn removed_groups(&mut self) {
        let (b, a) = (self.before, self.after);
        let mut gone: Vec<_> = b
            .groups
            .iter()
            .filter(|g| g.live && a.group_id(g.group.id).is_none())
            .collect();
        gone.sort_by_key(|g| std::cmp::Reverse(b.group_depth(&g.group)));
        for g in gone {
            let op = Op::DeleteGroup(g.group.clone());
            self.push(
                op,
                "delete",
                "group",
                g.group.name.clone(),
                vec![],
                &g.group.id.to_string(),
            );
        }
    }

    pub(super) fn users(&mut self) {
        let (b, a) = (self.before, self.after);
        for u in a.users.iter().filter(|u| u.live) {
            match b.user_id(u.user.id) {
                None => self.create_user(u),
                Some(bi) => self.update_user(&b.users[bi].user, &u.user),
            }
        }
    }

    fn create_user(&mut self, u: &UserRec) {
        let mut user = u.user.clone();
        let new_hash = self.secrets.passwords.get(&user.id).cloned().flatten();
        let mut fields = vec![
            fc("email", Value::Null, user.email.as_str()),
            fc("name", Value::Null, user.name.as_str()),
            fc("is_active", Value::Null, user.is_active),
        ];
        if user.password_hash.is_some() || new_hash.is_some() {
            fields.push(fc("password", Value::Null, "(set)"));
        }
        if let Some(h) = new_hash {
            user.password_hash = Some(h);
        }
        if user.password_hash.is_some() {
            user.password_changed_at = Some(self.now);
        }
        let groups = self.after.group_names_of(user.id);
        let (name, key) = (user.username.clone(), user.id.to_string());
        self.push(Op::CreateUser { user, groups }, "create", "user", name, fields, &key);
    }

    /// The changed fields, then a new password (given in plain text and
    /// different, or a new `password_hash`).
    fn update_user(&mut self, old: &User, new: &User) {
        let key = new.id.to_string();
        let mut f = Vec::new();
        compare(&mut f, "username", &old.username, &new.username);
        compare(&mut f, "email", &old.email, &new.email);
        compare(&mut f, "name", &old.name, &new.name);
        compare(&mut f, "is_active", &old.is_active, &new.is_active);
        compare(&mut f, "attributes", &old.attributes, &new.attributes);
        if !f.is_empty() {
            let mut user = new.clone();
            user.password_hash = old.password_hash.clone();
            let op = Op::UpdateUser {
                user,
                fields: field_names(&f),
            };
            self.push(op, "update", "user", new.username.clone(), f, &key);
        }
        let new_hash = if old.password_hash != new.password_hash {
            new.password_hash.clone()
        } else {
            self.secrets.passwords.get(&new.id).cloned().flatten()
        };
        if let Some(hash) = new_hash {
            let op = Op::SetPassword { user_id: new.id, hash };
            let fields = vec![fc("password", "(hidden)", "(new)")];
            self.push(op, "update", "user", new.username.clone(), fields, &key);
        }
    }

    pub(super) fn removed_users(&mut self) {
        let (b, a) = (self.before, self.after);
        for u in b.users.iter().filter(|u| u.live) {
            if a.user_id(u.user.id).is_none() {
                let op = Op::DeleteUser(u.user.clone());
                self.push(
                    op,
                    "delete",
                    "user",
                    u.user.username.clone(),
                    vec![],
                    &u.user.id.to_string(),
                );
            }
        }
    }

    pub(super) fn added_memberships(&mut self) {
        let (b, a) = (self.before, self.after);
        for &(user_id, group_id) in a.memberships.difference(&b.memberships) {
            let op = Op::AddMembership {
                user_id,
                group_id,
                username: a.user_name(user_id),
                group: a.group_name(group_id),
                announced: b.user_id(user_id).is_none(),
            };
            let name = membership_name(a, user_id, group_id);
            self.push(op, "create", "membership", name, vec![], &user_id.to_string());
        }
    }

    pub(super) fn removed_memberships(&mut self) {
        let (b, a) = (self.before, self.after);
        for &(user_id, group_id) in b.memberships.difference(&a.memberships) {
            let op = Op::RemoveMembership {
                user_id,
                group_id,
                username: b.user_name(user_id),
                group: b.group_name(group_id),
            };
            let name = membership_name(b, user_id, group_id);
            self.push(op, "delete", "membership", name, vec![], &user_id.to_string());
        }
    }
}
