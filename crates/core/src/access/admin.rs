//! Who may administer the directory, and how a person reaches each
//! application: the decisions behind the admin interface.

use std::sync::Arc;

use super::AccessSnapshot;
use crate::context::Access;
use crate::error::Result;
use crate::model::{Application, User};

/// May this session use the admin interface now?
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdminVerdict {
    /// A superuser whose session satisfies the MFA rule.
    Allow,
    /// A superuser who must confirm a second factor first.
    StepUp,
    /// Not a superuser (or disabled).
    Deny,
}

/// Why a person reaches (or not) one application.
#[derive(Debug, Clone)]
pub struct Reach {
    pub application: Application,
    pub allowed: bool,
    /// The bound groups the person is in (directly or through nesting);
    /// empty with `allowed` when the application is bound to no group.
    pub via: Vec<String>,
    /// Every group the application is bound to.
    pub bound: Vec<String>,
}

impl Access<'_> {
    /// The admin gate: superusers only (through any group, nested or not),
    /// and a session that passed MFA when the policy wants MFA of this person
    /// or they have an authenticator (a password alone must not administer).
    pub async fn admin(self, user: &User, amr: &[String]) -> Result<AdminVerdict> {
        let snapshot = self.current_snapshot().await?;
        if !user.is_active || !snapshot.is_superuser(user) {
            return Ok(AdminVerdict::Deny);
        }
        if amr.iter().any(|a| a == "mfa") {
            return Ok(AdminVerdict::Allow);
        }
        if snapshot.user_requires_mfa(user) || !self.mfa().authenticators(user.id).await?.is_empty() {
            return Ok(AdminVerdict::StepUp);
        }
        Ok(AdminVerdict::Allow)
    }

    /// Every application and whether `user` reaches it, with the bindings
    /// that decide it (the same rule as the gate and the portal).
    pub async fn reach(self, user: &User) -> Result<Vec<Reach>> {
        let snapshot = self.current_snapshot().await?;
        let mut out: Vec<Reach> = snapshot
            .applications()
            .iter()
            .map(|app| {
                let (groups, allowed) = snapshot.decide(user, app.id);
                let bound: Vec<String> = snapshot.bound_groups(app.id).map(|g| g.name.clone()).collect();
                let via = groups
                    .iter()
                    .filter(|g| bound.contains(&g.name))
                    .map(|g| g.name.clone())
                    .collect();
                Reach {
                    application: app.clone(),
                    allowed,
                    via,
                    bound,
                }
            })
            .collect();
        out.sort_by_cached_key(|r| r.application.name.to_lowercase());
        Ok(out)
    }

    /// The snapshot of this generation of the change feed, whatever
    /// applications it knows (read anew without a followed feed).
    async fn current_snapshot(self) -> Result<Arc<AccessSnapshot>> {
        let generation = self.feed().directory_generation();
        let cache = &self.caches().access;
        if let Some(s) = cache.get(generation, 0) {
            return Ok(s);
        }
        let snapshot = Arc::new(self.snapshot().await?);
        cache.put(generation, crate::cache::NO_DEADLINE, snapshot.clone());
        Ok(snapshot)
    }
}

/// One page of the user × application matrix, filtered by group (effective
/// membership) and application.
#[derive(Debug, Clone, Default)]
pub struct MatrixQuery {
    pub group: Option<String>,
    pub application: Option<String>,
    pub offset: u64,
    pub limit: u32,
}

/// The applications (by slug) and one page of users with their access.
#[derive(Debug, Clone)]
pub struct MatrixPage {
    pub applications: Vec<Application>,
    pub rows: Vec<super::AccessRow>,
    /// Users matching the filter, in all pages.
    pub total: u64,
}

impl Access<'_> {
    /// A page of the access matrix. Without a group filter the users are
    /// paged in SQL; with one, every user is read once and filtered by the
    /// snapshot's effective memberships.
    pub async fn matrix_page(self, q: &MatrixQuery) -> Result<MatrixPage> {
        let snapshot = self.current_snapshot().await?;
        let mut apps: Vec<&Application> = snapshot
            .applications()
            .iter()
            .filter(|a| q.application.as_ref().is_none_or(|s| a.slug.eq_ignore_ascii_case(s)))
            .collect();
        apps.sort_by(|a, b| a.slug.cmp(&b.slug));
        let limit = q.limit.clamp(1, crate::users::MAX_PAGE);
        let (users, total) = match &q.group {
            None => {
                let query = crate::listing::UserQuery {
                    window: crate::listing::Window {
                        offset: q.offset,
                        limit,
                    },
                    ..Default::default()
                };
                let page = self.store().user_page(&query).await?;
                (page.items, page.count)
            }
            Some(group) => {
                let all: Vec<User> = self
                    .store()
                    .users()
                    .await?
                    .into_iter()
                    .filter(|u| snapshot.in_group(u, group))
                    .collect();
                let total = all.len() as u64;
                let start = usize::try_from(q.offset).unwrap_or(usize::MAX).min(all.len());
                let page = all.into_iter().skip(start).take(limit as usize).collect();
                (page, total)
            }
        };
        let rows = users
            .iter()
            .map(|u| super::AccessRow {
                username: u.username.clone(),
                is_active: u.is_active,
                access: snapshot.row(u, &apps),
            })
            .collect();
        Ok(MatrixPage {
            applications: apps.into_iter().cloned().collect(),
            rows,
            total,
        })
    }
}
