//! The directory as a plan sees it: a snapshot, changed entry by entry in
//! memory. Comparing the final state with the snapshot gives the steps.

use std::collections::{BTreeSet, HashMap, HashSet};

use gatehouse_core::names::name_key;
use gatehouse_core::{ApiToken, Application, Contents, Group, ProviderKind, User};
use gatehouse_oidc::config::OidcConfig;
use gatehouse_proxy::ProxyConfig;
use gatehouse_saml::SamlConfig;
use uuid::Uuid;

/// A provider: Gatehouse stores it inside its application; a blueprint
/// handles it as its own object until the application entry picks it up.
#[derive(Debug, Clone)]
pub struct ProviderRec {
    pub id: Uuid,
    pub name: String,
    pub draft: ProviderDraft,
    pub live: bool,
}

#[derive(Clone)]
pub enum ProviderDraft {
    Oidc {
        cfg: OidcConfig,
        /// A client secret given in plain text, compared or hashed at apply.
        secret: Option<String>,
    },
    Proxy(ProxyConfig),
    Saml(SamlConfig),
    Ldap(gatehouse_ldap::LdapConfig),
}

impl std::fmt::Debug for ProviderDraft {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ProviderDraft::Oidc { cfg, secret } => f
                .debug_struct("Oidc")
                .field("client_id", &cfg.client_id)
                .field("secret", &secret.as_ref().map(|_| "<redacted>"))
                .finish(),
            ProviderDraft::Proxy(p) => f.debug_tuple("Proxy").field(&p.external_host).finish(),
            ProviderDraft::Saml(c) => f.debug_tuple("Saml").field(&c.audience).finish(),
            ProviderDraft::Ldap(c) => f.debug_tuple("Ldap").field(&c.base_dn).finish(),
        }
    }
}

impl ProviderDraft {
    pub fn kind(&self) -> ProviderKind {
        match self {
            ProviderDraft::Oidc { .. } => ProviderKind::Oidc,
            ProviderDraft::Proxy(_) => ProviderKind::Proxy,
            ProviderDraft::Saml(_) => ProviderKind::Saml,
            ProviderDraft::Ldap(_) => ProviderKind::Ldap,
        }
    }
}

#[derive(Debug, Clone)]
pub struct AppRec {
    pub app: Application,
    pub provider: Option<Uuid>,
    pub live: bool,
    /// A provider blueprints do not model yet (LDAP): left as it is
    /// unless an entry sets `provider`.
    pub foreign_provider: bool,
}

#[derive(Clone)]
pub struct UserRec {
    pub user: User,
    pub live: bool,
    /// A password given in plain text (compared or hashed at apply).
    pub password: Option<String>,
}

#[derive(Debug, Clone)]
pub struct GroupRec {
    pub group: Group,
    pub live: bool,
}

#[derive(Clone)]
pub struct TokenRec {
    pub token: ApiToken,
    pub live: bool,
}

/// Everything a blueprint can touch.
#[derive(Clone, Default)]
pub struct State {
    pub users: Vec<UserRec>,
    pub user_by_name: HashMap<String, usize>,
    pub user_by_id: HashMap<Uuid, usize>,
    pub groups: Vec<GroupRec>,
    pub group_by_name: HashMap<String, usize>,
    pub group_by_id: HashMap<Uuid, usize>,
    /// (user, group)
    pub memberships: BTreeSet<(Uuid, Uuid)>,
    pub apps: Vec<AppRec>,
    pub app_by_slug: HashMap<String, usize>,
    pub app_by_id: HashMap<Uuid, usize>,
    /// (application, group)
    pub bindings: BTreeSet<(Uuid, Uuid)>,
    pub tokens: Vec<TokenRec>,
    pub providers: Vec<ProviderRec>,
}

impl State {
    /// The directory as `contents` holds it.
    pub fn load(contents: Contents) -> State {
        let mut st = State::default();
        for u in contents.users {
            st.add_user(u);
        }
        for g in contents.groups {
            st.add_group(g);
        }
        st.memberships = contents
            .memberships
            .into_iter()
            .map(|m| (m.user_id, m.group_id))
            .collect();
        for a in contents.applications {
            let provider = match a.provider {
                Some(ProviderKind::Oidc) => OidcConfig::from_value(&a.provider_config)
                    .ok()
                    .map(|cfg| ProviderDraft::Oidc { cfg, secret: None }),
                Some(ProviderKind::Proxy) => ProxyConfig::from_value(&a.provider_config)
                    .ok()
                    .map(ProviderDraft::Proxy),
                Some(ProviderKind::Saml) => SamlConfig::from_value(&a.provider_config).ok().map(ProviderDraft::Saml),
                Some(ProviderKind::Ldap) => gatehouse_ldap::LdapConfig::from_value(&a.provider_config)
                    .ok()
                    .map(ProviderDraft::Ldap),
                _ => None,
            };
            let pid = provider.map(|draft| {
                let id = Uuid::new_v4();
                st.providers.push(ProviderRec {
                    id,
                    name: a.provider_name.clone().unwrap_or_else(|| a.name.clone()),
                    draft,
                    live: true,
                });
                id
            });
            let foreign_provider = a.provider.is_some() && pid.is_none();
            st.add_app(AppRec {
                app: a,
                provider: pid,
                live: true,
                foreign_provider,
            });
        }
        st.bindings = contents
            .bindings
            .into_iter()
            .map(|b| (b.application_id, b.group_id))
            .collect();
        st.tokens = contents
            .api_tokens
            .into_iter()
            .map(|token| TokenRec { token, live: true })
            .collect();
        st
    }

    pub fn add_user(&mut self, user: User) -> usize {
        let i = self.users.len();
        self.user_by_name.insert(name_key(&user.username), i);
        self.user_by_id.insert(user.id, i);
        self.users.push(UserRec {
            user,
            live: true,
            password: None,
        });
        i
    }

    pub fn add_group(&mut self, group: Group) -> usize {
        let i = self.groups.len();
        self.group_by_name.insert(name_key(&group.name), i);
        self.group_by_id.insert(group.id, i);
        self.groups.push(GroupRec { group, live: true });
        i
    }

    pub fn add_app(&mut self, rec: AppRec) -> usize {
        let i = self.apps.len();
        self.app_by_slug.insert(rec.app.slug.clone(), i);
        self.app_by_id.insert(rec.app.id, i);
        self.apps.push(rec);
        i
    }

    pub fn user(&self, name: &str) -> Option<usize> {
        self.user_by_name
            .get(&name_key(name))
            .copied()
            .filter(|i| self.users[*i].live)
    }

    pub fn group(&self, name: &str) -> Option<usize> {
        self.group_by_name
            .get(&name_key(name))
            .copied()
            .filter(|i| self.groups[*i].live)
    }

    pub fn app(&self, slug: &str) -> Option<usize> {
        self.app_by_slug.get(slug).copied().filter(|i| self.apps[*i].live)
    }

    pub fn user_id(&self, id: Uuid) -> Option<usize> {
        self.user_by_id.get(&id).copied().filter(|i| self.users[*i].live)
    }

    pub fn group_id(&self, id: Uuid) -> Option<usize> {
        self.group_by_id.get(&id).copied().filter(|i| self.groups[*i].live)
    }

    pub fn app_id(&self, id: Uuid) -> Option<usize> {
        self.app_by_id.get(&id).copied().filter(|i| self.apps[*i].live)
    }

    /// Removes every membership of a user (a range of the ordered set).
    pub fn clear_user_groups(&mut self, user: Uuid) {
        let gone: Vec<(Uuid, Uuid)> = self
            .memberships
            .range((user, Uuid::nil())..=(user, Uuid::max()))
            .copied()
            .collect();
        for m in gone {
            self.memberships.remove(&m);
        }
    }

    pub fn rename_user(&mut self, i: usize, new: &str) {
        self.user_by_name.remove(&name_key(&self.users[i].user.username));
        self.users[i].user.username = new.to_string();
        self.user_by_name.insert(name_key(new), i);
    }

    pub fn rename_group(&mut self, i: usize, new: &str) {
        self.group_by_name.remove(&name_key(&self.groups[i].group.name));
        self.groups[i].group.name = new.to_string();
        self.group_by_name.insert(name_key(new), i);
    }

    pub fn reslug_app(&mut self, i: usize, new: &str) {
        self.app_by_slug.remove(&self.apps[i].app.slug);
        self.apps[i].app.slug = new.to_string();
        self.app_by_slug.insert(new.to_string(), i);
    }

    pub fn delete_user(&mut self, i: usize) {
        let id = self.users[i].user.id;
        self.users[i].live = false;
        self.user_by_name.remove(&name_key(&self.users[i].user.username));
        self.clear_user_groups(id);
        for t in &mut self.tokens {
            if t.token.user_id == id {
                t.live = false;
            }
        }
    }

    pub fn delete_group(&mut self, i: usize) {
        let id = self.groups[i].group.id;
        self.groups[i].live = false;
        self.group_by_name.remove(&name_key(&self.groups[i].group.name));
        self.memberships.retain(|(_, g)| *g != id);
        self.bindings.retain(|(_, g)| *g != id);
    }

    pub fn delete_app(&mut self, i: usize) {
        let id = self.apps[i].app.id;
        self.apps[i].live = false;
        self.app_by_slug.remove(&self.apps[i].app.slug);
        self.bindings.retain(|(a, _)| *a != id);
        if let Some(pid) = self.apps[i].provider
            && let Some(p) = self.providers.iter_mut().find(|p| p.id == pid)
        {
            p.live = false;
        }
    }

    pub fn provider(&self, id: Uuid) -> Option<usize> {
        self.providers.iter().position(|p| p.id == id && p.live)
    }

    /// The application a provider is attached to.
    pub fn app_of_provider(&self, id: Uuid) -> Option<usize> {
        self.apps.iter().position(|a| a.live && a.provider == Some(id))
    }

    /// A user's name ("" when unknown), deleted users included.
    pub fn user_name(&self, id: Uuid) -> String {
        self.user_by_id
            .get(&id)
            .map(|i| self.users[*i].user.username.clone())
            .unwrap_or_default()
    }

    /// A group's name ("" when unknown), deleted groups included.
    pub fn group_name(&self, id: Uuid) -> String {
        self.group_by_id
            .get(&id)
            .map(|i| self.groups[*i].group.name.clone())
            .unwrap_or_default()
    }

    /// An application's slug ("" when unknown), deleted applications included.
    pub fn app_slug(&self, id: Uuid) -> String {
        self.app_by_id
            .get(&id)
            .map(|i| self.apps[*i].app.slug.clone())
            .unwrap_or_default()
    }

    /// The names of a user's groups, sorted.
    pub fn group_names_of(&self, user: Uuid) -> Vec<String> {
        let mut names: Vec<String> = self
            .memberships
            .range((user, Uuid::nil())..=(user, Uuid::max()))
            .map(|(_, g)| self.group_name(*g))
            .collect();
        names.sort();
        names
    }

    /// How many ancestors a group has (at most 101: a cycle stops there).
    pub fn group_depth(&self, group: &Group) -> usize {
        let mut depth = 0;
        let mut cur = group.parent_id;
        while let Some(p) = cur {
            depth += 1;
            cur = self.group_by_id.get(&p).and_then(|i| self.groups[*i].group.parent_id);
            if depth > 100 {
                break;
            }
        }
        depth
    }
}

/// `items` (each `(id, parent)` by `ids`) ordered so that each comes after
/// its parent, unless the parent is placed elsewhere (`placed`): repeated
/// passes in order, until one takes nothing (what is left is in a cycle and
/// left out).
pub fn parents_first<T>(
    mut pending: Vec<&T>,
    ids: impl Fn(&T) -> (Uuid, Option<Uuid>),
    placed: impl Fn(Uuid) -> bool,
) -> Vec<&T> {
    let mut taken = HashSet::new();
    let mut out = Vec::new();
    while !pending.is_empty() {
        let before = pending.len();
        pending.retain(|item| {
            let (id, parent) = ids(item);
            let ready = parent.is_none_or(|p| placed(p) || taken.contains(&p));
            if ready {
                taken.insert(id);
                out.push(*item);
            }
            !ready
        });
        if pending.len() == before {
            break;
        }
    }
    out
}
