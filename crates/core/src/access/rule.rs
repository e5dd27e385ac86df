//! Who may reach which application, computed from groups, memberships and
//! bindings. Pure functions over in-memory snapshots: the same rule answers the
//! portal's tiles, the authorize endpoints and the `access` compliance matrix.

use std::collections::HashMap;

use uuid::Uuid;

use crate::model::{Application, Binding, Group, Membership, User};

/// The group forest, with each group's ancestors resolved once.
#[derive(Debug)]
pub struct GroupTree {
    index: HashMap<Uuid, usize>,
    /// For each group (by index): itself and all its ancestors, as indices.
    closure: Vec<Vec<usize>>,
}

impl GroupTree {
    pub fn new(groups: &[Group]) -> Self {
        let index: HashMap<Uuid, usize> = groups.iter().enumerate().map(|(i, g)| (g.id, i)).collect();
        let closure = (0..groups.len())
            .map(|start| {
                let mut chain = vec![start];
                let mut cur = start;
                // Parent links are checked for cycles on write; the length bound
                // keeps a corrupted database from looping here.
                while let Some(p) = groups[cur].parent_id.and_then(|p| index.get(&p).copied()) {
                    if chain.contains(&p) || chain.len() > groups.len() {
                        break;
                    }
                    chain.push(p);
                    cur = p;
                }
                chain
            })
            .collect();
        GroupTree { index, closure }
    }

    pub fn index_of(&self, id: Uuid) -> Option<usize> {
        self.index.get(&id).copied()
    }

    /// The group and its ancestors, nearest first.
    pub fn self_and_ancestors(&self, idx: usize) -> &[usize] {
        &self.closure[idx]
    }

    pub fn len(&self) -> usize {
        self.closure.len()
    }

    pub fn is_empty(&self) -> bool {
        self.closure.is_empty()
    }

    /// Would setting `child`'s parent to `parent` create a cycle?
    pub fn would_cycle(&self, child: Uuid, parent: Uuid) -> bool {
        child == parent
            || match (self.index_of(parent), self.index_of(child)) {
                (Some(p), Some(c)) => self.closure[p].contains(&c),
                _ => false,
            }
    }
}

/// A fixed-size bit set over group indices.
#[derive(Debug, Clone, Default)]
pub struct GroupSet(Vec<u64>);

impl GroupSet {
    fn with_capacity(n: usize) -> Self {
        GroupSet(vec![0; n.div_ceil(64)])
    }
    fn insert(&mut self, i: usize) {
        self.0[i / 64] |= 1 << (i % 64);
    }
    pub fn contains(&self, i: usize) -> bool {
        self.0.get(i / 64).is_some_and(|w| w & (1 << (i % 64)) != 0)
    }
}

/// Each user's effective groups (direct, plus every ancestor of those).
pub fn effective_groups(tree: &GroupTree, users: &[User], memberships: &[Membership]) -> HashMap<Uuid, GroupSet> {
    let mut out: HashMap<Uuid, GroupSet> = users
        .iter()
        .map(|u| (u.id, GroupSet::with_capacity(tree.len())))
        .collect();
    for m in memberships {
        let (Some(set), Some(g)) = (out.get_mut(&m.user_id), tree.index_of(m.group_id)) else {
            continue;
        };
        for &a in tree.self_and_ancestors(g) {
            set.insert(a);
        }
    }
    out
}

/// Which groups each application is bound to (group indices); empty = open.
pub fn bound_groups(tree: &GroupTree, apps: &[Application], bindings: &[Binding]) -> Vec<Vec<usize>> {
    let app_index: HashMap<Uuid, usize> = apps.iter().enumerate().map(|(i, a)| (a.id, i)).collect();
    let mut out = vec![Vec::new(); apps.len()];
    for b in bindings {
        if let (Some(&a), Some(g)) = (app_index.get(&b.application_id), tree.index_of(b.group_id)) {
            out[a].push(g);
        }
    }
    out
}

/// The access rule: inactive users reach nothing; an application without
/// bindings is open to every active user; otherwise the user must be an
/// effective member of one bound group.
pub fn may_access(user_active: bool, groups: &GroupSet, bound: &[usize]) -> bool {
    user_active && (bound.is_empty() || bound.iter().any(|&g| groups.contains(g)))
}

/// The user × application matrix.
#[derive(Debug, Clone, serde::Serialize)]
pub struct AccessMatrix {
    pub applications: Vec<String>,
    pub rows: Vec<AccessRow>,
}

impl AccessMatrix {
    /// The matrix as CSV: `username,active,<slug>…`, then `yes`/`no` cells
    /// (what `gatehouse access --format csv` prints and the admin interface
    /// downloads).
    pub fn write_csv(&self, out: &mut impl std::io::Write) -> std::io::Result<()> {
        write!(out, "username,active")?;
        for app in &self.applications {
            write!(out, ",{}", csv_field(app))?;
        }
        writeln!(out)?;
        for row in &self.rows {
            write!(
                out,
                "{},{}",
                csv_field(&row.username),
                if row.is_active { "yes" } else { "no" }
            )?;
            for allowed in &row.access {
                out.write_all(if *allowed { b",yes" } else { b",no" })?;
            }
            writeln!(out)?;
        }
        Ok(())
    }
}

/// Quotes a field when CSV needs it, and defuses spreadsheet formulas.
fn csv_field(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@']) {
        format!("'{s}")
    } else {
        s.to_string()
    };
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct AccessRow {
    pub username: String,
    pub is_active: bool,
    /// One entry per application, in `applications` order.
    pub access: Vec<bool>,
}

pub fn access_matrix(
    users: &[User],
    groups: &[Group],
    memberships: &[Membership],
    apps: &[Application],
    bindings: &[Binding],
) -> AccessMatrix {
    let tree = GroupTree::new(groups);
    let effective = effective_groups(&tree, users, memberships);
    let bound = bound_groups(&tree, apps, bindings);
    let empty = GroupSet::default();
    let rows = users
        .iter()
        .map(|u| {
            let set = effective.get(&u.id).unwrap_or(&empty);
            AccessRow {
                username: u.username.clone(),
                is_active: u.is_active,
                access: bound.iter().map(|b| may_access(u.is_active, set, b)).collect(),
            }
        })
        .collect();
    AccessMatrix {
        applications: apps.iter().map(|a| a.slug.clone()).collect(),
        rows,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::Timestamp;
    use serde_json::json;

    fn group(name: &str, parent: Option<Uuid>) -> Group {
        Group {
            id: Uuid::new_v4(),
            pk: 0,
            name: name.into(),
            is_superuser: false,
            parent_id: parent,
            attributes: json!({}),
            created_at: Timestamp(0),
        }
    }
    fn user(name: &str, active: bool) -> User {
        User {
            id: Uuid::new_v4(),
            pk: 0,
            username: name.into(),
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
    fn app(slug: &str) -> Application {
        Application {
            id: Uuid::new_v4(),
            slug: slug.into(),
            name: slug.into(),
            launch_url: None,
            provider: None,
            provider_config: serde_json::json!({}),
            provider_key: None,
            provider_pk: None,
            provider_name: None,
            created_at: Timestamp(0),
        }
    }

    #[test]
    fn bindings_nesting_and_inactive_users() {
        let staff = group("staff", None);
        let devs = group("devs", Some(staff.id));
        let ops = group("ops", None);
        let alice = user("alice", true); // in devs → staff by nesting
        let bob = user("bob", true); // in ops
        let carol = user("carol", false); // disabled, in staff
        let wiki = app("wiki"); // open
        let grafana = app("grafana"); // bound to staff
        let pager = app("pager"); // bound to ops
        let m = |u: &User, g: &Group| Membership {
            user_id: u.id,
            group_id: g.id,
        };
        let b = |a: &Application, g: &Group| Binding {
            application_id: a.id,
            group_id: g.id,
        };
        let matrix = access_matrix(
            &[alice.clone(), bob.clone(), carol.clone()],
            &[staff.clone(), devs.clone(), ops.clone()],
            &[m(&alice, &devs), m(&bob, &ops), m(&carol, &staff)],
            &[wiki.clone(), grafana.clone(), pager.clone()],
            &[b(&grafana, &staff), b(&pager, &ops)],
        );
        let row = |n: &str| matrix.rows.iter().find(|r| r.username == n).map(|r| r.access.clone());
        assert_eq!(row("alice"), Some(vec![true, true, false]));
        assert_eq!(row("bob"), Some(vec![true, false, true]));
        assert_eq!(row("carol"), Some(vec![false, false, false]));
    }

    #[test]
    fn cycles_are_detected_and_survived() {
        let mut a = group("a", None);
        let b = group("b", Some(a.id));
        let c = group("c", Some(b.id));
        let tree = GroupTree::new(&[a.clone(), b.clone(), c.clone()]);
        assert!(tree.would_cycle(a.id, c.id));
        assert!(tree.would_cycle(a.id, a.id));
        assert!(!tree.would_cycle(c.id, a.id));
        // A cycle that slipped into storage must not hang the computation.
        a.parent_id = Some(c.id);
        let tree = GroupTree::new(&[a, b, c]);
        assert_eq!(tree.self_and_ancestors(0).len(), 3);
    }
}
