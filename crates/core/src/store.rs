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
    async fn application_by_provider_key(&self, kind: ProviderKind, key: &str) -> StoreResult<Option<Application>>;
    async fn bindings(&self) -> StoreResult<Vec<Binding>>;

    async fn recovery_keys(&self) -> StoreResult<Vec<RecoveryKey>>;
    async fn api_tokens(&self) -> StoreResult<Vec<ApiToken>>;

    /// Newest first, at most `filter.limit`.
    async fn events(&self, filter: &EventFilter) -> StoreResult<Vec<Event>>;
    /// Events with `seq > after`, oldest first, at most `limit` (for chain walks).
    async fn events_after(&self, after: i64, limit: u32) -> StoreResult<Vec<Event>>;
    async fn chain_head(&self) -> StoreResult<ChainHead>;

    async fn is_bootstrapped(&self) -> StoreResult<bool>;

    /// A number that grows with every committed change (every change writes an
    /// event, so this is the event chain's head). Caches compare it to know
    /// whether anything changed, on this node or another.
    async fn change_seq(&self) -> StoreResult<i64>;

    /// The recovery key with this hash, used or not.
    async fn recovery_key_by_hash(&self, token_hash: &str) -> StoreResult<Option<RecoveryKey>>;

    async fn session_by_hash(&self, token_hash: &str) -> StoreResult<Option<Session>>;
    /// All sessions, or one user's; newest first.
    async fn sessions(&self, user_id: Option<Uuid>) -> StoreResult<Vec<Session>>;
    /// Records activity on a session. Not audited and outside any transaction:
    /// it runs at most once a minute per session.
    async fn touch_session(&self, id: Uuid, at: Timestamp) -> StoreResult<()>;

    async fn flow_by_hash(&self, token_hash: &str) -> StoreResult<Option<FlowRecord>>;
    async fn throttle_records(&self, keys: &[String]) -> StoreResult<Vec<ThrottleRecord>>;
    /// Records whose lock ended at or before `now` (their end is still to be announced).
    async fn ended_locks(&self, now: Timestamp) -> StoreResult<Vec<ThrottleRecord>>;
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
    async fn consume_recovery_key(&mut self, token_hash: &str, now: Timestamp) -> StoreResult<Option<RecoveryKey>>;
    async fn insert_api_token(&mut self, token: &ApiToken) -> StoreResult<()>;

    /// Claims the one-time bootstrap. True for exactly one caller per database,
    /// even when several servers start at once.
    async fn claim_bootstrap(&mut self, now: Timestamp) -> StoreResult<bool>;

    /// Appends an event to the chain (see [`crate::events::seal`]).
    async fn append_event(&mut self, event: NewEvent, at: Timestamp) -> StoreResult<Event>;
    /// Deletes events older than `before`, recording the last deleted link as the
    /// chain's anchor. Returns how many were deleted.
    async fn prune_events(&mut self, before: Timestamp) -> StoreResult<u64>;

    async fn insert_session(&mut self, session: &Session) -> StoreResult<()>;
    /// Returns false when there was no such session.
    async fn delete_session(&mut self, id: Uuid) -> StoreResult<bool>;
    /// Ends every session of a user but `keep`; returns how many ended.
    async fn delete_user_sessions(&mut self, user_id: Uuid, keep: Option<Uuid>) -> StoreResult<u64>;

    async fn insert_flow(&mut self, flow: &FlowRecord) -> StoreResult<()>;
    async fn update_flow(&mut self, flow: &FlowRecord) -> StoreResult<()>;
    async fn delete_flow(&mut self, id: Uuid) -> StoreResult<()>;

    /// Inserts or replaces the record with this key.
    async fn put_throttle(&mut self, record: &ThrottleRecord) -> StoreResult<()>;
    /// Returns false when there was no such record (someone else cleared it).
    async fn delete_throttle(&mut self, key: &str) -> StoreResult<bool>;

    /// Housekeeping: deletes sessions past their absolute end or idle since
    /// `idle_before`, and flows past their end. Returns (sessions, flows).
    async fn delete_expired(&mut self, now: Timestamp, idle_before: Timestamp) -> StoreResult<(u64, u64)>;
    /// Deletes throttle records whose window started before `before` and that hold no lock.
    async fn delete_stale_throttles(&mut self, before: Timestamp) -> StoreResult<u64>;

    async fn commit(self: Box<Self>) -> StoreResult<()>;
}
