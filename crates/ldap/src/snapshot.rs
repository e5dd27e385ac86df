//! The in-process directory snapshot searches are answered from: every LDAP
//! application's tree, built once from one read of the directory, with
//! equality indexes on `cn`, `uid`, `mail`, `memberOf` and `objectClass`.
//!
//! [`SnapshotCell`] holds the current one; [`follow`] replaces it when the
//! store's change feed moves *and* the changes can matter to LDAP (sign-in
//! noise such as `login` events does not), or at least every minute. A
//! replaced snapshot stays alive while a paged search still reads it.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use gatehouse_core::access::{self, GroupSet, GroupTree};
use gatehouse_core::{Application, Binding, Group, Membership, User};
use uuid::Uuid;

use crate::backend::{Backend, BackendError, DirectoryData};
use crate::config::LdapConfig;
use crate::dn::{Dn, Tree};
use crate::dse;
use crate::entry::{Entry, attribute_key, normalize};

/// Attributes with an equality index.
pub const INDEXED: [&str; 5] = ["cn", "uid", "mail", "memberof", "objectclass"];

/// Reloaded at least this often, even if nothing seemed to change.
const MAX_AGE: Duration = Duration::from_secs(60);

/// A user as bind and search authorisation see them.
#[derive(Debug, Clone)]
pub struct UserRef {
    pub entry: u32,
    pub id: Uuid,
    pub username: String,
    pub active: bool,
    /// The application's access rule lets the user in (as at bind).
    pub allowed: bool,
    /// Member of the application's search group (or it has none).
    pub may_search: bool,
}

/// One LDAP application's tree.
#[derive(Debug)]
pub struct AppView {
    pub app: Application,
    pub config: LdapConfig,
    pub tree: Tree,
    entries: Vec<Entry>,
    parents: Vec<Option<u32>>,
    by_dn: HashMap<String, u32>,
    users: HashMap<String, UserRef>,
    index: HashMap<&'static str, HashMap<Arc<str>, Vec<u32>>>,
}

impl AppView {
    pub fn entry(&self, id: u32) -> Option<&Entry> {
        self.entries.get(id as usize)
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn by_dn(&self, dn: &Dn) -> Option<u32> {
        self.by_dn.get(dn.normalized()).copied()
    }

    /// The user with this name (case-insensitive).
    pub fn user(&self, username: &str) -> Option<&UserRef> {
        self.users.get(&username.to_lowercase())
    }

    pub fn parent(&self, id: u32) -> Option<u32> {
        self.parents.get(id as usize).copied().flatten()
    }

    /// Entries whose `key` equals `value` (normalised), if `key` is indexed.
    pub fn lookup(&self, key: &str, value: &str) -> Option<&[u32]> {
        let index = self.index.get(key)?;
        let wanted = normalize(crate::entry::matching_of(key), value)?;
        Some(index.get(wanted.as_str()).map(Vec::as_slice).unwrap_or(&[]))
    }

    /// Whether `id` is `ancestor` or below it.
    pub fn is_under(&self, mut id: u32, ancestor: u32) -> bool {
        loop {
            if id == ancestor {
                return true;
            }
            match self.parent(id) {
                Some(p) => id = p,
                None => return false,
            }
        }
    }
}

/// Everything LDAP serves, as of one change-feed sequence.
#[derive(Debug)]
pub struct Snapshot {
    pub seq: i64,
    pub apps: Vec<Arc<AppView>>,
    pub root_dse: Entry,
    pub subschema: Entry,
    /// Groups and direct memberships, for the MFA policy's rule at bind.
    pub groups: Arc<GroupFacts>,
}

/// The groups, and each user's direct memberships.
#[derive(Debug, Default)]
pub struct GroupFacts {
    pub groups: Vec<Group>,
    pub memberships: HashMap<Uuid, Vec<Membership>>,
}

impl Snapshot {
    pub fn empty() -> Snapshot {
        Snapshot::build(DirectoryData::default())
    }

    pub fn build(data: DirectoryData) -> Snapshot {
        let people = People::new(&data.users, &data.groups, &data.memberships);
        let mut apps: Vec<Arc<AppView>> = data
            .apps
            .into_iter()
            .filter_map(|(app, config)| {
                build_app(app, config, &data.users, &data.groups, &data.bindings, &people).map(Arc::new)
            })
            .collect();
        apps.sort_by(|a, b| a.app.slug.cmp(&b.app.slug));
        crate::entry::forget_interned();
        let contexts: Vec<String> = apps.iter().map(|a| a.tree.base_text().to_string()).collect();
        let mut memberships: HashMap<Uuid, Vec<Membership>> = HashMap::new();
        for m in data.memberships {
            memberships.entry(m.user_id).or_default().push(m);
        }
        Snapshot {
            seq: data.seq,
            root_dse: dse::root_dse(&contexts),
            subschema: dse::subschema(),
            apps,
            groups: Arc::new(GroupFacts {
                groups: data.groups,
                memberships,
            }),
        }
    }

    /// The application whose tree holds `dn`.
    pub fn app_for(&self, dn: &Dn) -> Option<&Arc<AppView>> {
        self.apps
            .iter()
            .filter(|a| dn.is_within(a.tree.base()))
            .max_by_key(|a| a.tree.base().len())
    }

    pub fn app_by_id(&self, id: Uuid) -> Option<&Arc<AppView>> {
        self.apps.iter().find(|a| a.app.id == id)
    }
}

/// Effective group membership, computed once for all applications with
/// core's access rule (a member of a nested group is a member of its parents).
struct People {
    tree: GroupTree,
    /// Per user index: effective groups as core's set.
    sets: Vec<GroupSet>,
    /// Per user index: effective group indices, ascending.
    groups_of: Vec<Vec<usize>>,
    /// Per group index: user indices that are effective members.
    members_of: Vec<Vec<usize>>,
    /// Per group index: the groups it is nested in (not itself).
    ancestors: Vec<Vec<usize>>,
}

impl People {
    fn new(users: &[User], groups: &[Group], memberships: &[Membership]) -> People {
        let tree = GroupTree::new(groups);
        let mut effective = access::effective_groups(&tree, users, memberships);
        let sets: Vec<GroupSet> = users
            .iter()
            .map(|u| effective.remove(&u.id).unwrap_or_default())
            .collect();
        let mut members_of = vec![Vec::new(); groups.len()];
        let groups_of = sets
            .iter()
            .enumerate()
            .map(|(u, set)| {
                let mine: Vec<usize> = (0..groups.len()).filter(|&g| set.contains(g)).collect();
                for &g in &mine {
                    members_of[g].push(u);
                }
                mine
            })
            .collect();
        let ancestors = (0..groups.len())
            .map(|g| tree.self_and_ancestors(g).iter().skip(1).copied().collect())
            .collect();
        People {
            tree,
            sets,
            groups_of,
            members_of,
            ancestors,
        }
    }
}

fn build_app(
    app: Application,
    config: LdapConfig,
    users: &[User],
    groups: &[Group],
    bindings: &[Binding],
    people: &People,
) -> Option<AppView> {
    let base = match config.base() {
        Ok(b) => b,
        Err(e) => {
            tracing::warn!(app = %app.slug, error = %e, "LDAP application skipped");
            return None;
        }
    };
    let tree = Tree::new(base, &config.base_dn);
    let search_group = config
        .search_group
        .as_deref()
        .map(|name| groups.iter().position(|g| g.name.eq_ignore_ascii_case(name)));
    let bound = access::bound_groups(&people.tree, std::slice::from_ref(&app), bindings)
        .pop()
        .unwrap_or_default();
    let mut b = Builder::default();
    let base_id = b.push(dse::base_entry(&tree), None);
    let users_ou = b.push(dse::container(&tree.users_dn(), "users"), Some(base_id));
    let groups_ou = b.push(dse::container(&tree.groups_dn(), "groups"), Some(base_id));
    let group_dns: Vec<String> = groups.iter().map(|g| tree.group_dn(&g.name)).collect();
    let mut user_refs = HashMap::with_capacity(users.len());
    for (i, user) in users.iter().enumerate() {
        let mine = &people.groups_of[i];
        let superuser = mine.iter().any(|&g| groups[g].is_superuser);
        let memberof = mine.iter().map(|&g| group_dns[g].clone());
        let entry = crate::entry::user_entry(&tree, &config, user, superuser, memberof);
        let id = b.push(entry, Some(users_ou));
        let may_search = match search_group {
            None => true,
            Some(None) => false,
            Some(Some(g)) => mine.contains(&g),
        };
        user_refs.insert(
            user.username.to_lowercase(),
            UserRef {
                entry: id,
                id: user.id,
                username: user.username.clone(),
                active: user.is_active,
                allowed: access::may_access(user.is_active, &people.sets[i], &bound),
                may_search,
            },
        );
    }
    for (g, group) in groups.iter().enumerate() {
        let members = people.members_of[g].iter().map(|&u| &users[u]);
        let parents = people.ancestors[g].iter().map(|&p| group_dns[p].clone());
        let entry = crate::entry::group_entry(&tree, &config, group, members, parents);
        b.push(entry, Some(groups_ou));
    }
    Some(AppView {
        app,
        config,
        tree,
        entries: b.entries,
        parents: b.parents,
        by_dn: b.by_dn,
        users: user_refs,
        index: b.index,
    })
}

#[derive(Default)]
struct Builder {
    entries: Vec<Entry>,
    parents: Vec<Option<u32>>,
    by_dn: HashMap<String, u32>,
    index: HashMap<&'static str, HashMap<Arc<str>, Vec<u32>>>,
}

impl Builder {
    fn push(&mut self, entry: Entry, parent: Option<u32>) -> u32 {
        let id = u32::try_from(self.entries.len()).unwrap_or(u32::MAX);
        for key in INDEXED {
            if let Some(attr) = entry.get(key) {
                let index = self.index.entry(key).or_default();
                for v in attr.normalized() {
                    let ids = index.entry(v.clone()).or_default();
                    if ids.last() != Some(&id) {
                        ids.push(id);
                    }
                }
            }
        }
        self.by_dn.insert(entry.dn_normalized.clone(), id);
        self.entries.push(entry);
        self.parents.push(parent);
        id
    }
}

/// Holds the current snapshot; readers take it without locking.
pub struct SnapshotCell {
    current: ArcSwap<Snapshot>,
}

impl Default for SnapshotCell {
    fn default() -> Self {
        SnapshotCell {
            current: ArcSwap::from_pointee(Snapshot::empty()),
        }
    }
}

impl SnapshotCell {
    pub fn load(&self) -> Arc<Snapshot> {
        self.current.load_full()
    }

    pub fn store(&self, snapshot: Snapshot) {
        self.current.store(Arc::new(snapshot));
    }
}

/// Reads the directory and builds a snapshot (the build runs off the async
/// workers: it is a few milliseconds of CPU per thousand users).
pub async fn reload(backend: &dyn Backend, cell: &SnapshotCell) -> Result<(), BackendError> {
    let data = backend.load().await?;
    let snapshot = tokio::task::spawn_blocking(move || Snapshot::build(data))
        .await
        .map_err(|e| BackendError::Internal(format!("snapshot build failed: {e}")))?;
    tracing::debug!(seq = snapshot.seq, "LDAP snapshot reloaded");
    cell.store(snapshot);
    Ok(())
}

/// Keeps `cell` current: on every move of `feed` (and at least every
/// minute), reloads if the changes matter. Ends when `shutdown` turns true.
/// `after_reload` runs once the previous snapshot is gone (the server hands
/// the freed memory back to the system there).
pub async fn follow(
    backend: Arc<dyn Backend>,
    cell: Arc<SnapshotCell>,
    mut feed: tokio::sync::watch::Receiver<i64>,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
    after_reload: fn(),
) {
    let mut last_load = tokio::time::Instant::now();
    loop {
        let timed_out = tokio::select! {
            changed = feed.changed() => {
                if changed.is_err() {
                    return;
                }
                false
            }
            _ = tokio::time::sleep_until(last_load + MAX_AGE) => true,
            _ = shutdown.changed() => return,
        };
        // Read before asking: every event up to it is among those examined.
        let upto = *feed.borrow();
        let unchanged = !timed_out
            && match backend.directory_changed_since(cell.load().seq).await {
                Ok(changed) => !changed,
                Err(e) => {
                    tracing::warn!(error = %e, "LDAP: cannot read the change feed's events; reloading");
                    false
                }
            };
        if unchanged {
            // Sign-ins only: the snapshot is as good as a new one.
            cell.advance(upto);
        } else {
            match reload(backend.as_ref(), &cell).await {
                Ok(()) => {
                    last_load = tokio::time::Instant::now();
                    after_reload();
                }
                Err(e) => {
                    tracing::warn!(error = %e, "LDAP snapshot reload failed; serving the previous one");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    }
}

impl SnapshotCell {
    /// Marks the current snapshot current as of `seq` (nothing relevant changed).
    fn advance(&self, seq: i64) {
        let current = self.current.load_full();
        if current.seq >= seq {
            return;
        }
        // Cheap: the views are shared, only the sequence moves.
        self.current.store(Arc::new(Snapshot {
            seq,
            apps: current.apps.clone(),
            root_dse: current.root_dse.clone(),
            subschema: current.subschema.clone(),
            groups: current.groups.clone(),
        }));
    }
}

/// The key an attribute name is indexed under, if it is.
pub fn indexed_key(name: &str) -> Option<&'static str> {
    let key = attribute_key(name);
    INDEXED.iter().copied().find(|k| *k == key)
}
