//! The access rule and the MFA policy over one read of the directory, for
//! callers that decide on every request and keep the snapshot until the
//! change feed moves. [`AccessSnapshot::gate`] is the one gate.

use std::collections::{HashMap, HashSet};

use uuid::Uuid;

use super::rule::{self, GroupSet, GroupTree};
use crate::mfa::{MfaMode, MfaPolicy};
use crate::model::{Application, Binding, Group, Membership, User};

/// Groups, memberships, applications and bindings as of one moment, with the
/// group tree and the bindings indexed. Answers with [`rule::may_access`],
/// the same rule as the portal and the access matrix.
#[derive(Debug)]
pub struct AccessSnapshot {
    groups: Vec<Group>,
    tree: GroupTree,
    memberships: HashMap<Uuid, Vec<Membership>>,
    applications: Vec<Application>,
    /// Bound group indices per application (empty: open to every active user).
    bound: HashMap<Uuid, Vec<usize>>,
    /// Applications the MFA policy requires a second factor for.
    mfa_apps: HashSet<Uuid>,
    mfa_mode: MfaMode,
    /// The policy's groups (indices), for mode `groups`.
    mfa_groups: Vec<usize>,
}

impl AccessSnapshot {
    pub fn new(
        groups: Vec<Group>,
        memberships: Vec<Membership>,
        applications: Vec<Application>,
        bindings: &[Binding],
    ) -> Self {
        let tree = GroupTree::new(&groups);
        let bound = applications
            .iter()
            .map(|a| a.id)
            .zip(rule::bound_groups(&tree, &applications, bindings))
            .collect();
        let mut by_user: HashMap<Uuid, Vec<Membership>> = HashMap::new();
        for m in memberships {
            by_user.entry(m.user_id).or_default().push(m);
        }
        AccessSnapshot {
            groups,
            tree,
            memberships: by_user,
            applications,
            bound,
            mfa_apps: HashSet::new(),
            mfa_mode: MfaMode::Off,
            mfa_groups: Vec::new(),
        }
    }

    /// Adds the MFA policy: who must use a second factor, and where.
    pub fn with_mfa_policy(mut self, policy: &MfaPolicy) -> Self {
        self.mfa_apps = self
            .applications
            .iter()
            .filter(|a| policy.requires_for_app(&a.slug))
            .map(|a| a.id)
            .collect();
        self.mfa_mode = policy.mode;
        self.mfa_groups = self
            .groups
            .iter()
            .enumerate()
            .filter(|(_, g)| policy.groups.iter().any(|n| n.eq_ignore_ascii_case(&g.name)))
            .map(|(i, _)| i)
            .collect();
        self
    }

    /// Whether the MFA policy (as of the snapshot) requires MFA for `app_id`.
    pub fn app_requires_mfa(&self, app_id: Uuid) -> bool {
        self.mfa_apps.contains(&app_id)
    }

    /// Whether the MFA policy requires `user` to use a second factor anywhere.
    pub fn user_requires_mfa(&self, user: &User) -> bool {
        match self.mfa_mode {
            MfaMode::Off => false,
            MfaMode::Everyone => true,
            MfaMode::Groups => {
                let set = self.effective(user);
                self.mfa_groups.iter().any(|&g| set.contains(g))
            }
        }
    }

    /// The application with this id, as of the snapshot.
    pub fn application(&self, app_id: Uuid) -> Option<&Application> {
        self.applications.iter().find(|a| a.id == app_id)
    }

    fn effective(&self, user: &User) -> GroupSet {
        let none = Vec::new();
        let mine = self.memberships.get(&user.id).unwrap_or(&none);
        rule::effective_groups(&self.tree, std::slice::from_ref(user), mine)
            .remove(&user.id)
            .unwrap_or_default()
    }

    /// Whether `user` is in a superuser group, directly or through nesting.
    pub fn is_superuser(&self, user: &User) -> bool {
        let set = self.effective(user);
        self.groups
            .iter()
            .enumerate()
            .any(|(i, g)| g.is_superuser && set.contains(i))
    }

    /// The groups `app_id` is bound to (none: open to every active user).
    pub fn bound_groups(&self, app_id: Uuid) -> impl Iterator<Item = &Group> {
        self.bound
            .get(&app_id)
            .into_iter()
            .flatten()
            .filter_map(|&i| self.groups.get(i))
    }

    /// May `user` use each of `apps` (in order), by the access rule.
    pub fn row(&self, user: &User, apps: &[&Application]) -> Vec<bool> {
        let set = self.effective(user);
        apps.iter()
            .map(|a| {
                self.bound
                    .get(&a.id)
                    .is_some_and(|bound| rule::may_access(user.is_active, &set, bound))
            })
            .collect()
    }

    /// Whether `user` is in the group named `group`, directly or through nesting.
    pub fn in_group(&self, user: &User, group: &str) -> bool {
        let set = self.effective(user);
        self.groups
            .iter()
            .enumerate()
            .any(|(i, g)| g.name.eq_ignore_ascii_case(group) && set.contains(i))
    }

    pub fn applications(&self) -> &[Application] {
        &self.applications
    }

    /// The user's effective groups (direct, and every group those are nested
    /// in), ordered by name, and whether the user may use `app_id`.
    pub fn decide(&self, user: &User, app_id: Uuid) -> (Vec<&Group>, bool) {
        let set = self.effective(user);
        let mut groups: Vec<&Group> = (0..self.groups.len())
            .filter(|&i| set.contains(i))
            .map(|i| &self.groups[i])
            .collect();
        groups.sort_by(|a, b| a.name.cmp(&b.name));
        let allowed = self
            .bound
            .get(&app_id)
            .is_some_and(|bound| rule::may_access(user.is_active, &set, bound));
        (groups, allowed)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::Timestamp;

    fn group(name: &str, parent: Option<&Group>) -> Group {
        Group {
            id: Uuid::new_v4(),
            pk: 0,
            name: name.into(),
            is_superuser: false,
            parent_id: parent.map(|p| p.id),
            attributes: json!({}),
            created_at: Timestamp(0),
        }
    }

    fn app(slug: &str) -> Application {
        Application {
            id: Uuid::new_v4(),
            slug: slug.into(),
            name: slug.into(),
            launch_url: None,
            provider: None,
            provider_config: json!({}),
            provider_key: None,
            provider_pk: None,
            provider_name: None,
            created_at: Timestamp(0),
        }
    }

    fn user(active: bool) -> User {
        User {
            id: Uuid::new_v4(),
            pk: 0,
            username: "alice".into(),
            email: String::new(),
            name: String::new(),
            is_active: active,
            password_hash: None,
            attributes: json!({}),
            created_at: Timestamp(0),
            last_login: None,
            password_changed_at: None,
        }
    }

    #[test]
    fn nested_groups_open_bound_applications_and_name_every_group() {
        let staff = group("staff", None);
        let ops = group("ops", Some(&staff));
        let other = group("other", None);
        let (open, bound, foreign) = (app("open"), app("bound"), app("foreign"));
        let alice = user(true);
        let snap = AccessSnapshot::new(
            vec![staff.clone(), ops.clone(), other.clone()],
            vec![Membership {
                user_id: alice.id,
                group_id: ops.id,
            }],
            vec![open.clone(), bound.clone(), foreign.clone()],
            &[
                Binding {
                    application_id: bound.id,
                    group_id: staff.id,
                },
                Binding {
                    application_id: foreign.id,
                    group_id: other.id,
                },
            ],
        );
        let (groups, allowed) = snap.decide(&alice, bound.id);
        assert_eq!(
            groups.iter().map(|g| g.name.as_str()).collect::<Vec<_>>(),
            ["ops", "staff"]
        );
        assert!(allowed, "a member of a nested group reaches the parent's applications");
        assert!(snap.decide(&alice, open.id).1);
        assert!(!snap.decide(&alice, foreign.id).1);
        assert!(!snap.decide(&alice, Uuid::new_v4()).1, "unknown application");
        let disabled = User {
            is_active: false,
            ..alice.clone()
        };
        assert!(!snap.decide(&disabled, open.id).1);
        let stranger = user(true);
        let (groups, allowed) = snap.decide(&stranger, open.id);
        assert!(groups.is_empty() && allowed);
        assert!(!snap.app_requires_mfa(bound.id), "no policy: nothing requires MFA");
        let snap = snap.with_mfa_policy(&MfaPolicy {
            mode: MfaMode::Off,
            groups: vec![],
            apps: vec!["bound".to_string(), "gone".to_string()],
        });
        assert!(snap.app_requires_mfa(bound.id));
        assert!(!snap.app_requires_mfa(open.id));
    }
}
