//! The storage contract. `gatehouse-store` implements it for SQLite and
//! PostgreSQL; the same conformance suite runs against both.
//!
//! Reads go through [`Store`]. Every change goes through a [`WriteTx`]: one
//! database transaction in which the change and its audit event are written
//! together, so a crash can never keep one without the other.

use async_trait::async_trait;
use uuid::Uuid;

use crate::clock::Timestamp;
use crate::error::StoreError;
use crate::model::*;

pub type StoreResult<T> = Result<T, StoreError>;

/// Facts about the database for `gatehouse status`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct StoreInfo {
    pub backend: &'static str,
    pub schema_version: i64,
    pub known_schema_version: i64,
    pub pool_size: u32,
}

#[async_trait]
pub trait Store: Send + Sync {
    async fn info(&self) -> StoreResult<StoreInfo>;
    /// Cheap round trip to the database (readiness).
    async fn ping(&self) -> StoreResult<()>;

    /// Opens a write transaction.
    async fn begin(&self) -> StoreResult<Box<dyn WriteTx>>;

    async fn user_by_name(&self, username: &str) -> StoreResult<Option<User>>;
    async fn user_by_id(&self, id: Uuid) -> StoreResult<Option<User>>;
    async fn users(&self) -> StoreResult<Vec<User>>;

    async fn group_by_name(&self, name: &str) -> StoreResult<Option<Group>>;
    async fn groups(&self) -> StoreResult<Vec<Group>>;
    async fn memberships(&self) -> StoreResult<Vec<Membership>>;

    async fn application_by_slug(&self, slug: &str) -> StoreResult<Option<Application>>;
    async fn applications(&self) -> StoreResult<Vec<Application>>;
    async fn bindings(&self) -> StoreResult<Vec<Binding>>;

    async fn recovery_keys(&self) -> StoreResult<Vec<RecoveryKey>>;
    async fn api_tokens(&self) -> StoreResult<Vec<ApiToken>>;

    /// Newest first, at most `filter.limit`.
    async fn events(&self, filter: &EventFilter) -> StoreResult<Vec<Event>>;
    /// Events with `seq > after`, oldest first, at most `limit` (for chain walks).
    async fn events_after(&self, after: i64, limit: u32) -> StoreResult<Vec<Event>>;
    async fn chain_head(&self) -> StoreResult<ChainHead>;

    async fn is_bootstrapped(&self) -> StoreResult<bool>;
}

/// One write transaction. Dropping it without `commit` rolls everything back.
#[async_trait]
pub trait WriteTx: Send {
    async fn user_by_name(&mut self, username: &str) -> StoreResult<Option<User>>;
    async fn user_by_id(&mut self, id: Uuid) -> StoreResult<Option<User>>;
    async fn group_by_name(&mut self, name: &str) -> StoreResult<Option<Group>>;
    async fn groups(&mut self) -> StoreResult<Vec<Group>>;
    async fn application_by_slug(&mut self, slug: &str) -> StoreResult<Option<Application>>;

    /// Fails with [`StoreError::Conflict`] when the username is taken.
    async fn insert_user(&mut self, user: &User) -> StoreResult<()>;
    async fn update_user(&mut self, user: &User) -> StoreResult<()>;
    async fn delete_user(&mut self, id: Uuid) -> StoreResult<()>;

    async fn insert_group(&mut self, group: &Group) -> StoreResult<()>;
    async fn update_group(&mut self, group: &Group) -> StoreResult<()>;
    async fn delete_group(&mut self, id: Uuid) -> StoreResult<()>;
    /// Returns false when the membership already existed.
    async fn add_membership(&mut self, m: Membership) -> StoreResult<bool>;
    /// Returns false when there was no such membership.
    async fn remove_membership(&mut self, m: Membership) -> StoreResult<bool>;

    async fn insert_application(&mut self, app: &Application) -> StoreResult<()>;
    async fn update_application(&mut self, app: &Application) -> StoreResult<()>;
    async fn delete_application(&mut self, id: Uuid) -> StoreResult<()>;
    async fn add_binding(&mut self, b: Binding) -> StoreResult<bool>;
    async fn remove_binding(&mut self, b: Binding) -> StoreResult<bool>;

    async fn insert_recovery_key(&mut self, key: &RecoveryKey) -> StoreResult<()>;
    /// Marks the key with this hash used, if it is unused and not expired at `now`,
    /// and returns it; `None` otherwise. Atomic: of two concurrent consumers only
    /// one gets the key.
    async fn consume_recovery_key(
        &mut self,
        token_hash: &str,
        now: Timestamp,
    ) -> StoreResult<Option<RecoveryKey>>;
    async fn insert_api_token(&mut self, token: &ApiToken) -> StoreResult<()>;

    /// Claims the one-time bootstrap. True for exactly one caller per database,
    /// even when several servers start at once.
    async fn claim_bootstrap(&mut self, now: Timestamp) -> StoreResult<bool>;

    /// Appends an event to the chain (see [`crate::events::seal`]).
    async fn append_event(&mut self, event: NewEvent, at: Timestamp) -> StoreResult<Event>;
    /// Deletes events older than `before`, recording the last deleted link as the
    /// chain's anchor. Returns how many were deleted.
    async fn prune_events(&mut self, before: Timestamp) -> StoreResult<u64>;

    async fn commit(self: Box<Self>) -> StoreResult<()>;
}
