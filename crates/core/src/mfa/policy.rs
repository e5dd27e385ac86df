//! Who must use MFA. Stored as one JSON row (changes are audited); without a
//! row the default applies: members of `admins` (direct or through nested
//! groups). Applications listed in `apps` require MFA of everyone who opens
//! them, whatever the mode: a session without MFA is stepped up there.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::access::GroupTree;
use crate::groups::ADMIN_GROUP;
use crate::model::{Group, Membership};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MfaMode {
    /// Nobody must (applications in `apps` still do).
    Off,
    /// Members of `groups`, direct or nested.
    Groups,
    /// Every user.
    Everyone,
}

impl MfaMode {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "off" => MfaMode::Off,
            "groups" => MfaMode::Groups,
            "everyone" => MfaMode::Everyone,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            MfaMode::Off => "off",
            MfaMode::Groups => "groups",
            MfaMode::Everyone => "everyone",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MfaPolicy {
    pub mode: MfaMode,
    /// Group names (for mode `groups`).
    #[serde(default)]
    pub groups: Vec<String>,
    /// Application slugs that require MFA of everyone.
    #[serde(default)]
    pub apps: Vec<String>,
}

impl Default for MfaPolicy {
    fn default() -> Self {
        MfaPolicy {
            mode: MfaMode::Groups,
            groups: vec![ADMIN_GROUP.to_string()],
            apps: Vec::new(),
        }
    }
}

impl MfaPolicy {
    /// Whether `user_id` must use MFA to sign in at all (mode and groups).
    pub fn requires_for_user(&self, user_id: Uuid, groups: &[Group], memberships: &[Membership]) -> bool {
        match self.mode {
            MfaMode::Off => false,
            MfaMode::Everyone => true,
            MfaMode::Groups => {
                let tree = GroupTree::new(groups);
                let wanted: Vec<usize> = groups
                    .iter()
                    .enumerate()
                    .filter(|(_, g)| self.groups.iter().any(|n| n.eq_ignore_ascii_case(&g.name)))
                    .map(|(i, _)| i)
                    .collect();
                memberships
                    .iter()
                    .filter(|m| m.user_id == user_id)
                    .filter_map(|m| tree.index_of(m.group_id))
                    .any(|g| tree.self_and_ancestors(g).iter().any(|a| wanted.contains(a)))
            }
        }
    }

    /// Whether opening this application needs MFA (besides the user's own requirement).
    pub fn requires_for_app(&self, slug: &str) -> bool {
        self.apps.iter().any(|a| a == slug)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::Timestamp;

    fn group(name: &str, parent: Option<Uuid>) -> Group {
        Group {
            id: Uuid::new_v4(),
            pk: 0,
            name: name.into(),
            is_superuser: false,
            parent_id: parent,
            attributes: serde_json::json!({}),
            created_at: Timestamp(0),
        }
    }

    #[test]
    fn resolution_follows_nested_groups() {
        let admins = group("admins", None);
        let ops = group("ops", Some(admins.id)); // members of ops count as admins
        let staff = group("staff", None);
        let groups = vec![admins.clone(), ops.clone(), staff.clone()];
        let (root, nested, other, nobody) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
        let memberships = vec![
            Membership {
                user_id: root,
                group_id: admins.id,
            },
            Membership {
                user_id: nested,
                group_id: ops.id,
            },
            Membership {
                user_id: other,
                group_id: staff.id,
            },
        ];
        let default = MfaPolicy::default();
        assert!(default.requires_for_user(root, &groups, &memberships));
        assert!(default.requires_for_user(nested, &groups, &memberships));
        assert!(!default.requires_for_user(other, &groups, &memberships));
        assert!(!default.requires_for_user(nobody, &groups, &memberships));

        let everyone = MfaPolicy {
            mode: MfaMode::Everyone,
            ..MfaPolicy::default()
        };
        assert!(everyone.requires_for_user(nobody, &groups, &memberships));
        let off = MfaPolicy {
            mode: MfaMode::Off,
            apps: vec!["grafana".into()],
            ..MfaPolicy::default()
        };
        assert!(!off.requires_for_user(root, &groups, &memberships));
        assert!(off.requires_for_app("grafana"));
        assert!(!off.requires_for_app("wiki"));
        // A policy naming the child group does not reach the parent's members.
        let ops_only = MfaPolicy {
            mode: MfaMode::Groups,
            groups: vec!["ops".into()],
            apps: vec![],
        };
        assert!(ops_only.requires_for_user(nested, &groups, &memberships));
        assert!(!ops_only.requires_for_user(root, &groups, &memberships));
        assert!(!ops_only.requires_for_user(other, &groups, &memberships));
    }

    #[test]
    fn parses_modes() {
        for m in [MfaMode::Off, MfaMode::Groups, MfaMode::Everyone] {
            assert_eq!(MfaMode::parse(m.as_str()), Some(m));
        }
        assert_eq!(MfaMode::parse("all"), None);
    }
}
