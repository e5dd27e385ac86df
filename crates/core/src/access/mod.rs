//! Who may reach which application: the rule ([`rule`]), the snapshot it is
//! decided over on hot paths ([`AccessSnapshot`]), the one gate every
//! credential passes ([`gate`]), and the service that reads them.

pub mod admin;
pub mod gate;
mod rule;
mod snapshot;

use std::sync::Arc;

use uuid::Uuid;

pub use admin::{AdminVerdict, MatrixPage, MatrixQuery, Reach};
pub use gate::{Ask, Consent, Denial, Verdict};
pub use rule::{
    AccessMatrix, AccessRow, GroupSet, GroupTree, access_matrix, bound_groups, effective_groups, may_access,
};
pub use snapshot::AccessSnapshot;

use crate::context::Access;
use crate::error::Result;
use crate::model::{Application, Membership, User};

impl Access<'_> {
    /// Asks the one gate, over the cached snapshot.
    pub async fn check(self, user: &User, amr: &[String], app_id: Uuid, consent: Consent) -> Result<Verdict> {
        let snapshot = self.cached_snapshot(app_id).await?;
        Ok(snapshot.gate(&Ask {
            user,
            amr,
            app_id,
            consent,
        }))
    }

    /// May `user` use `app`, bindings only (the portal's tiles; issuing a
    /// credential asks [`Access::check`]).
    pub async fn may_use(self, user: &User, app: &Application) -> Result<bool> {
        Ok(self.applications_for(user).await?.iter().any(|a| a.id == app.id))
    }

    /// The applications `user` may use, by name.
    pub async fn applications_for(self, user: &User) -> Result<Vec<Application>> {
        let groups = self.store().groups().await?;
        let memberships: Vec<Membership> = self
            .store()
            .memberships()
            .await?
            .into_iter()
            .filter(|m| m.user_id == user.id)
            .collect();
        let mut apps: Vec<Application> = self.store().applications().await?;
        let bindings = self.store().bindings().await?;
        let tree = GroupTree::new(&groups);
        let effective = effective_groups(&tree, std::slice::from_ref(user), &memberships);
        let bound = bound_groups(&tree, &apps, &bindings);
        let empty = GroupSet::default();
        let mine = effective.get(&user.id).unwrap_or(&empty);
        let mut allowed = bound.iter().map(|b| may_access(user.is_active, mine, b));
        apps.retain(|_| allowed.next().unwrap_or(false));
        apps.sort_by_cached_key(|a| a.name.to_lowercase());
        Ok(apps)
    }

    /// The user × application matrix, from one snapshot of the directory.
    pub async fn matrix(self) -> Result<AccessMatrix> {
        let (users, groups, memberships, apps, bindings) = (
            self.users().list().await?,
            self.store().groups().await?,
            self.store().memberships().await?,
            self.apps().list().await?,
            self.store().bindings().await?,
        );
        let apps: Vec<Application> = apps.into_iter().map(|a| a.app).collect();
        Ok(access_matrix(&users, &groups, &memberships, &apps, &bindings))
    }

    /// Reads everything [`AccessSnapshot`] needs, the MFA policy included (a
    /// policy change moves the change feed too).
    pub async fn snapshot(self) -> Result<AccessSnapshot> {
        let store = self.store();
        let (groups, memberships, applications, bindings) = (
            store.groups().await?,
            store.memberships().await?,
            store.applications().await?,
            store.bindings().await?,
        );
        let policy = self.mfa().policy().await?;
        Ok(AccessSnapshot::new(groups, memberships, applications, &bindings).with_mfa_policy(&policy))
    }

    /// The snapshot, cached until the directory changes (sign-ins do not
    /// count; read anew on every call without a change feed). A snapshot must know `app_id`: an
    /// application created a moment ago makes it load again.
    pub async fn cached_snapshot(self, app_id: Uuid) -> Result<Arc<AccessSnapshot>> {
        let generation = self.feed().directory_generation();
        let cache = &self.caches().access;
        if let Some(s) = cache.get(generation, 0)
            && s.application(app_id).is_some()
        {
            return Ok(s);
        }
        let snapshot = Arc::new(self.snapshot().await?);
        cache.put(generation, crate::cache::NO_DEADLINE, snapshot.clone());
        Ok(snapshot)
    }
}
