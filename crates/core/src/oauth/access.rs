//! The access rule on the token path: forward-auth's [`AccessSnapshot`] (the
//! same rule as the portal and the access matrix), cached until the change
//! sequence moves, so a refresh or a userinfo call does not read the whole
//! directory.

use std::sync::Arc;

use crate::context::Access;
use crate::error::Result;
pub use crate::forward_auth::AccessSnapshot;

impl Access<'_> {
    /// The access snapshot, cached until the change sequence moves (read anew
    /// on every call without a change feed).
    /// A snapshot that knows `app_id` (an application newer than the cached
    /// snapshot, created a moment ago, makes it load again).
    pub async fn cached_snapshot(self, app_id: uuid::Uuid) -> Result<Arc<AccessSnapshot>> {
        let caches = self.oauth_caches();
        let seq = caches.seq();
        if let Some(s) = caches.access.get(seq)
            && s.applications().iter().any(|a| a.id == app_id)
        {
            return Ok(s);
        }
        let snapshot = Arc::new(self.snapshot().await?);
        caches.access.put(seq, snapshot.clone());
        Ok(snapshot)
    }
}
