//! The access rule over one read of the directory, for callers that decide on
//! every request and keep the snapshot until the change feed moves.

use std::collections::{HashMap, HashSet};

use uuid::Uuid;

use crate::access::{self, GroupTree};
use crate::directory::Directory;
use crate::error::Result;
use crate::model::{Application, Binding, Group, Membership, User};

/// Groups, memberships, applications and bindings as of one moment, with the
/// group tree and the bindings indexed. Answers with [`access::may_access`],
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
    mfa_required: HashSet<Uuid>,
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
            .zip(access::bound_groups(&tree, &applications, bindings))
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
            mfa_required: HashSet::new(),
        }
    }

    /// Marks the applications (by slug) that the MFA policy requires MFA for.
    pub fn requiring_mfa(mut self, slugs: &[String]) -> Self {
        self.mfa_required = self
            .applications
            .iter()
            .filter(|a| slugs.contains(&a.slug))
            .map(|a| a.id)
            .collect();
        self
    }

    /// Whether the MFA policy (as of the snapshot) requires MFA for `app_id`.
    pub fn app_requires_mfa(&self, app_id: Uuid) -> bool {
        self.mfa_required.contains(&app_id)
    }

    pub fn applications(&self) -> &[Application] {
        &self.applications
    }

    /// The user's effective groups (direct, and every group those are nested
    /// in), ordered by name, and whether the user may use `app_id`.
    pub fn decide(&self, user: &User, app_id: Uuid) -> (Vec<&Group>, bool) {
        let none = Vec::new();
        let mine = self.memberships.get(&user.id).unwrap_or(&none);
        let effective = access::effective_groups(&self.tree, std::slice::from_ref(user), mine);
        let Some(set) = effective.get(&user.id) else {
            return (Vec::new(), false);
        };
        let mut groups: Vec<&Group> = (0..self.groups.len())
            .filter(|&i| set.contains(i))
            .map(|i| &self.groups[i])
            .collect();
        groups.sort_by(|a, b| a.name.cmp(&b.name));
        let allowed = self
            .bound
            .get(&app_id)
            .is_some_and(|bound| access::may_access(user.is_active, set, bound));
        (groups, allowed)
    }
}

impl Directory {
    /// Reads everything [`AccessSnapshot`] needs, the MFA policy's
    /// applications included (a policy change moves the change feed too).
    pub async fn access_snapshot(&self) -> Result<AccessSnapshot> {
        let store = self.store();
        let (groups, memberships, applications, bindings) = (
            store.groups().await?,
            store.memberships().await?,
            store.applications().await?,
            store.bindings().await?,
        );
        let policy = self.mfa_policy().await?;
        Ok(AccessSnapshot::new(groups, memberships, applications, &bindings).requiring_mfa(&policy.apps))
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
        let snap = snap.requiring_mfa(&["bound".to_string(), "gone".to_string()]);
        assert!(snap.app_requires_mfa(bound.id));
        assert!(!snap.app_requires_mfa(open.id));
    }
}
