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
use crate::jobs::{Job, JobEffect, JobFilter, NewJob, WorkerRecord};
use crate::keys::SigningKeyRecord;
use crate::listing::{EventQuery, GroupQuery, Page, UserQuery};
use crate::model::*;
use crate::oauth::model::{AuthCode, Consent, DeviceCode, Grant, Redeemed, RefreshToken};

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
    /// Providers no application uses, by pk.
    async fn unattached_providers(&self) -> StoreResult<Vec<crate::UnattachedProvider>>;
    async fn application_by_provider_key(&self, kind: ProviderKind, key: &str) -> StoreResult<Option<Application>>;
    async fn bindings(&self) -> StoreResult<Vec<Binding>>;

    async fn recovery_keys(&self) -> StoreResult<Vec<RecoveryKey>>;
    async fn api_tokens(&self) -> StoreResult<Vec<ApiToken>>;
    async fn api_token_by_hash(&self, token_hash: &str) -> StoreResult<Option<ApiToken>>;
    /// Records a token's use. Not audited and outside any transaction: it
    /// runs at most once a minute per token.
    async fn touch_api_token(&self, id: Uuid, at: Timestamp) -> StoreResult<()>;

    /// One page of users matching `q`, and how many match in all.
    async fn user_page(&self, q: &UserQuery) -> StoreResult<Page<User>>;
    /// The same page with the ids of each user's direct groups, read with
    /// the page (one statement besides the count).
    async fn user_page_with_groups(&self, q: &UserQuery) -> StoreResult<Page<(User, Vec<Uuid>)>>;
    async fn user_by_pk(&self, pk: i64) -> StoreResult<Option<User>>;
    async fn users_by_ids(&self, ids: &[Uuid]) -> StoreResult<Vec<User>>;
    /// The direct memberships of these users.
    async fn memberships_of_users(&self, users: &[Uuid]) -> StoreResult<Vec<Membership>>;
    /// One page of groups matching `q`, and how many match in all.
    async fn group_page(&self, q: &GroupQuery) -> StoreResult<Page<Group>>;
    /// The direct memberships of these groups.
    async fn memberships_of_groups(&self, groups: &[Uuid]) -> StoreResult<Vec<Membership>>;
    /// One page of events matching `q`, and how many match in all.
    async fn event_page(&self, q: &EventQuery) -> StoreResult<Page<Event>>;

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

    /// The key ring: every signing key, of every purpose, oldest generation first.
    async fn signing_keys(&self) -> StoreResult<Vec<SigningKeyRecord>>;
    async fn server_secret(&self, name: &str) -> StoreResult<Option<String>>;
    async fn oauth_grant(&self, id: Uuid) -> StoreResult<Option<Grant>>;
    async fn refresh_token_by_hash(&self, token_hash: &str) -> StoreResult<Option<RefreshToken>>;
    /// `user_code` as normalised by the caller.
    async fn device_code_by_user_code(&self, user_code: &str) -> StoreResult<Option<DeviceCode>>;
    /// Whether this access-token id is on the revocation list.
    async fn is_token_revoked(&self, jti: &str) -> StoreResult<bool>;
    /// One user's remembered consents.
    async fn oauth_consents(&self, user_id: Uuid) -> StoreResult<Vec<Consent>>;
    /// Claims the next due job (queued and due, or running with an expired
    /// lease) for `worker_id` until `now + lease_ms`, counting an attempt.
    /// Atomic: two workers never claim one job (PostgreSQL `FOR UPDATE SKIP
    /// LOCKED`; SQLite's single writer).
    async fn claim_job(&self, worker_id: &str, now: Timestamp, lease_ms: i64) -> StoreResult<Option<Job>>;
    /// Extends the leases of the jobs `worker_id` holds; returns how many.
    async fn extend_job_leases(&self, worker_id: &str, until: Timestamp) -> StoreResult<u64>;
    /// Marks a claimed job done, if this worker's claim (`attempts`) still holds it.
    async fn finish_job(&self, id: Uuid, worker_id: &str, attempts: i64, now: Timestamp) -> StoreResult<bool>;
    /// Records a failed attempt: back to the queue at `retry_at`, or dead when
    /// `retry_at` is `None`. Only while this worker's claim holds the job.
    async fn fail_job(
        &self,
        id: Uuid,
        worker_id: &str,
        attempts: i64,
        error: &str,
        retry_at: Option<Timestamp>,
        now: Timestamp,
    ) -> StoreResult<bool>;
    /// Newest first, at most `filter.limit`.
    async fn jobs(&self, filter: &JobFilter) -> StoreResult<Vec<Job>>;
    async fn job(&self, id: Uuid) -> StoreResult<Option<Job>>;
    async fn job_effect(&self, effect_key: &str) -> StoreResult<Option<JobEffect>>;
    /// Inserts or updates a worker's heartbeat row.
    async fn put_worker(&self, worker: &WorkerRecord) -> StoreResult<()>;
    /// Every worker row, latest heartbeat first.
    async fn workers(&self) -> StoreResult<Vec<WorkerRecord>>;
    /// One user's authenticators, oldest first.
    async fn mfa_authenticators(&self, user_id: Uuid) -> StoreResult<Vec<crate::mfa::Authenticator>>;
    /// The WebAuthn authenticator with this credential id (base64url).
    async fn mfa_authenticator_by_credential(
        &self,
        credential_id: &str,
    ) -> StoreResult<Option<crate::mfa::Authenticator>>;
    /// How many unused recovery codes a user has.
    async fn mfa_recovery_codes_left(&self, user_id: Uuid) -> StoreResult<i64>;
    /// The stored MFA policy (JSON), if one was ever set.
    async fn mfa_policy(&self) -> StoreResult<Option<String>>;
    /// When `user_id` may enrol a first authenticator (see `mfa::enrolment`).
    async fn mfa_enrolment(&self, user_id: Uuid) -> StoreResult<Option<crate::mfa::enrolment::EnrolmentRecord>>;
    /// The applied state of every blueprint file, by path.
    async fn blueprint_instances(&self) -> StoreResult<Vec<crate::blueprints::BlueprintInstance>>;
    /// Every invitation, in no particular order.
    async fn invitations(&self) -> StoreResult<Vec<crate::invitations::Invitation>>;
    async fn invitation(&self, id: Uuid) -> StoreResult<Option<crate::invitations::Invitation>>;

    /// Which of `ids` have at least one authenticator.
    async fn users_with_mfa(&self, ids: &[Uuid]) -> StoreResult<Vec<Uuid>>;
    /// Events of `actions` since `since`, counted in SQL per action and per
    /// bucket of `bucket_ms` (bucket 0 starts at `since`).
    async fn event_counts(
        &self,
        actions: &[String],
        since: Timestamp,
        bucket_ms: i64,
    ) -> StoreResult<Vec<crate::audit::EventCount>>;
    /// Throttle records locked beyond `now`.
    async fn active_locks(&self, now: Timestamp) -> StoreResult<Vec<ThrottleRecord>>;
    /// One user's direct memberships.
    async fn user_memberships(&self, user_id: Uuid) -> StoreResult<Vec<Membership>>;
    /// The number of direct members of each group that has any, counted in SQL.
    async fn member_counts(&self) -> StoreResult<Vec<(Uuid, i64)>>;
    /// The direct members of these groups, each with the group it is in
    /// (a user in two of them comes twice): one join, no other user read.
    async fn members_of_groups(&self, groups: &[Uuid]) -> StoreResult<Vec<(Uuid, User)>>;
    /// One user's grants that were not revoked, newest first.
    async fn user_grants(&self, user_id: Uuid) -> StoreResult<Vec<Grant>>;
    /// Sessions neither past their end at `now` nor idle since `idle_before`.
    async fn live_session_count(&self, now: Timestamp, idle_before: Timestamp) -> StoreResult<i64>;
}

/// One write transaction. Dropping it without `commit` rolls everything back.
/// One write transaction: every domain's writes, then `commit`. The domains
/// are separate traits so that each backend implements them in separate files.
#[async_trait]
pub trait WriteTx: DirectoryWrites + SessionWrites + OAuthWrites + SecurityWrites + OpsWrites + Send {
    async fn commit(self: Box<Self>) -> StoreResult<()>;
}

/// Users, groups, applications, memberships, bindings and API tokens.
#[async_trait]
pub trait DirectoryWrites: Send {
    async fn user_by_name(&mut self, username: &str) -> StoreResult<Option<User>>;
    async fn user_by_id(&mut self, id: Uuid) -> StoreResult<Option<User>>;
    async fn group_by_name(&mut self, name: &str) -> StoreResult<Option<Group>>;
    async fn groups(&mut self) -> StoreResult<Vec<Group>>;
    async fn application_by_slug(&mut self, slug: &str) -> StoreResult<Option<Application>>;
    async fn application_by_id(&mut self, id: Uuid) -> StoreResult<Option<Application>>;
    /// Fails with [`StoreError::Conflict`] when the username is taken. Returns
    /// the integer id given to the user (`user.pk` is ignored).
    async fn insert_user(&mut self, user: &User) -> StoreResult<i64>;
    async fn update_user(&mut self, user: &User) -> StoreResult<()>;
    /// Sets `last_login` of an active user whose password hash is still
    /// `password_hash`; false when that no longer describes the account.
    async fn stamp_login(&mut self, id: Uuid, password_hash: &str, at: Timestamp) -> StoreResult<bool>;
    async fn delete_user(&mut self, id: Uuid) -> StoreResult<()>;
    /// Returns the integer id given to the group (`group.pk` is ignored).
    async fn insert_group(&mut self, group: &Group) -> StoreResult<i64>;
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
    async fn insert_api_token(&mut self, token: &ApiToken) -> StoreResult<()>;
    /// Claims the one-time bootstrap. True for exactly one caller per database,
    /// even when several servers start at once.
    async fn claim_bootstrap(&mut self, now: Timestamp) -> StoreResult<bool>;
    async fn api_tokens(&mut self) -> StoreResult<Vec<ApiToken>>;
    /// Returns false when there was no such token.
    async fn delete_api_token(&mut self, id: Uuid) -> StoreResult<bool>;
    /// `Conflict` when the name is taken.
    async fn insert_invitation(&mut self, invitation: &crate::invitations::Invitation) -> StoreResult<()>;
    /// Returns false when there was no such invitation.
    async fn delete_invitation(&mut self, id: Uuid) -> StoreResult<bool>;
    /// Counts one use of an invitation if it is usable at `now` (unexpired,
    /// and unused if single-use); false otherwise. Atomic: of two concurrent
    /// spends of a single-use invitation, exactly one succeeds.
    async fn spend_invitation(&mut self, id: Uuid, now: Timestamp) -> StoreResult<bool>;
    /// The next provider pk (attached or not, never given out twice).
    async fn next_provider_pk(&mut self) -> StoreResult<i64>;
    async fn unattached_provider(&mut self, pk: i64) -> StoreResult<Option<crate::UnattachedProvider>>;
    async fn application_by_provider_pk(&mut self, pk: i64) -> StoreResult<Option<Application>>;
    async fn application_by_provider_key(&mut self, kind: ProviderKind, key: &str) -> StoreResult<Option<Application>>;
    /// Inserts or replaces the unattached provider with this pk; `Conflict`
    /// when another unattached provider of its kind has its key.
    async fn put_unattached_provider(&mut self, provider: &crate::UnattachedProvider) -> StoreResult<()>;
    /// Returns false when there was no such provider.
    async fn delete_unattached_provider(&mut self, pk: i64) -> StoreResult<bool>;
}

/// Browser sessions, sign-in flows, throttles and recovery keys.
#[async_trait]
pub trait SessionWrites: Send {
    async fn insert_recovery_key(&mut self, key: &RecoveryKey) -> StoreResult<()>;
    /// Marks the key with this hash used, if it is unused and not expired at `now`,
    /// and returns it; `None` otherwise. Atomic: of two concurrent consumers only
    /// one gets the key.
    async fn consume_recovery_key(&mut self, token_hash: &str, now: Timestamp) -> StoreResult<Option<RecoveryKey>>;
    async fn insert_session(&mut self, session: &Session) -> StoreResult<()>;
    /// Returns false when there was no such session.
    async fn delete_session(&mut self, id: Uuid) -> StoreResult<bool>;
    /// Ends every session of a user but `keep`; returns how many ended.
    async fn delete_user_sessions(&mut self, user_id: Uuid, keep: Option<Uuid>) -> StoreResult<u64>;
    async fn insert_flow(&mut self, flow: &FlowRecord) -> StoreResult<()>;
    async fn update_flow(&mut self, flow: &FlowRecord) -> StoreResult<()>;
    async fn delete_flow(&mut self, id: Uuid) -> StoreResult<()>;
    /// Deletes the unexpired flow record with this hash and returns it; `None`
    /// when there is none (never was, expired, or already consumed). Atomic: of
    /// two concurrent consumers only one gets the record.
    async fn consume_flow(&mut self, token_hash: &str, now: Timestamp) -> StoreResult<Option<FlowRecord>>;
    /// Inserts or replaces the record with this key.
    async fn put_throttle(&mut self, record: &ThrottleRecord) -> StoreResult<()>;
    /// Returns false when there was no such record (someone else cleared it).
    async fn delete_throttle(&mut self, key: &str) -> StoreResult<bool>;
    /// Housekeeping: deletes sessions past their absolute end or idle since
    /// `idle_before`, and flows past their end. Returns (sessions, flows).
    async fn delete_expired(&mut self, now: Timestamp, idle_before: Timestamp) -> StoreResult<(u64, u64)>;
    /// Deletes throttle records whose window started before `before` and that hold no lock.
    async fn delete_stale_throttles(&mut self, before: Timestamp) -> StoreResult<u64>;
    /// Deletes recovery keys that expired before `before`.
    async fn delete_expired_recovery_keys(&mut self, before: Timestamp) -> StoreResult<u64>;
    /// One more failure under `key`, counted atomically in SQL (concurrent
    /// failures all count; see `ThrottlePolicy::bump_args`). Returns the record.
    async fn bump_throttle(
        &mut self,
        key: &str,
        now: Timestamp,
        window_floor: Timestamp,
        lock_after: i64,
        locked_until: Timestamp,
    ) -> StoreResult<crate::model::ThrottleRecord>;
}

/// OAuth grants, codes, refresh tokens, device codes, revocations and consents.
#[async_trait]
pub trait OAuthWrites: Send {
    async fn insert_grant(&mut self, grant: &Grant) -> StoreResult<()>;
    async fn oauth_grant(&mut self, id: Uuid) -> StoreResult<Option<Grant>>;
    /// Marks the grant revoked (if it was not); false when nothing changed.
    async fn revoke_grant(&mut self, id: Uuid, now: Timestamp) -> StoreResult<bool>;
    /// Revokes every live grant of a user, for one application or all of
    /// them; returns how many.
    async fn revoke_user_grants(
        &mut self,
        user_id: Uuid,
        application_id: Option<Uuid>,
        now: Timestamp,
    ) -> StoreResult<u64>;
    async fn insert_auth_code(&mut self, code: &AuthCode) -> StoreResult<()>;
    /// Spends the code with this hash. Atomic: of two concurrent callers one
    /// gets `Fresh`, the other `AlreadyUsed`. `None`: no such code.
    async fn consume_auth_code(&mut self, code_hash: &str, now: Timestamp) -> StoreResult<Option<Redeemed<AuthCode>>>;
    async fn insert_refresh_token(&mut self, token: &RefreshToken) -> StoreResult<()>;
    /// As [`WriteTx::consume_auth_code`], for refresh tokens.
    async fn consume_refresh_token(
        &mut self,
        token_hash: &str,
        now: Timestamp,
    ) -> StoreResult<Option<Redeemed<RefreshToken>>>;
    async fn insert_device_code(&mut self, code: &DeviceCode) -> StoreResult<()>;
    async fn device_code_by_hash(&mut self, device_code_hash: &str) -> StoreResult<Option<DeviceCode>>;
    async fn device_code_by_user_code(&mut self, user_code: &str) -> StoreResult<Option<DeviceCode>>;
    /// Writes status, last poll and grant of an existing device code.
    async fn update_device_code(&mut self, code: &DeviceCode) -> StoreResult<()>;
    /// Moves an approved device code to consumed; false when it was not approved
    /// (someone else consumed it).
    async fn consume_device_code(&mut self, device_code_hash: &str) -> StoreResult<bool>;
    /// Puts an access-token id on the revocation list until `expires_at`.
    async fn revoke_token(&mut self, jti: &str, expires_at: Timestamp) -> StoreResult<()>;
    async fn put_consent(&mut self, consent: &Consent) -> StoreResult<()>;
    async fn delete_consent(&mut self, user_id: Uuid, application_id: Uuid) -> StoreResult<bool>;
    /// Housekeeping: deletes expired codes, refresh tokens, device codes,
    /// revocation entries and grants. Returns how many rows went.
    async fn delete_expired_oauth(&mut self, now: Timestamp) -> StoreResult<u64>;
}

/// Signing keys, one-time ids, server secrets and MFA.
#[async_trait]
pub trait SecurityWrites: Send {
    async fn signing_keys(&mut self) -> StoreResult<Vec<SigningKeyRecord>>;
    /// Fails with [`StoreError::Conflict`] when the (purpose, generation) exists.
    async fn insert_signing_key(&mut self, key: &SigningKeyRecord) -> StoreResult<()>;
    async fn set_signing_key_publish_until(&mut self, kid: &str, until: Option<Timestamp>) -> StoreResult<()>;
    /// Deletes keys no longer published at `now`; returns how many.
    async fn delete_unpublished_signing_keys(&mut self, now: Timestamp) -> StoreResult<u64>;
    /// Records a one-time id (its hash) until `expires_at`; false when it was
    /// already recorded (a replay). Atomic across nodes.
    async fn claim_replay_id(&mut self, id_hash: &str, expires_at: Timestamp) -> StoreResult<bool>;
    /// Housekeeping: one-time ids whose time is over.
    async fn delete_expired_replay_ids(&mut self, now: Timestamp) -> StoreResult<u64>;
    /// Inserts the secret unless one of that name exists; false when it did.
    async fn insert_server_secret(&mut self, name: &str, value: &str, now: Timestamp) -> StoreResult<bool>;
    async fn mfa_authenticators(&mut self, user_id: Uuid) -> StoreResult<Vec<crate::mfa::Authenticator>>;
    /// Fails with [`StoreError::Conflict`] when the credential id is registered.
    async fn insert_mfa_authenticator(&mut self, auth: &crate::mfa::Authenticator) -> StoreResult<()>;
    /// Returns false when the user had no such authenticator.
    async fn delete_mfa_authenticator(&mut self, user_id: Uuid, id: Uuid) -> StoreResult<bool>;
    /// Records that a TOTP code of `step` was used, only if `step` is later than
    /// the last one used. Atomic: of two uses of one code exactly one gets true.
    async fn use_totp_step(&mut self, id: Uuid, step: i64, at: Timestamp) -> StoreResult<bool>;
    /// Stores a WebAuthn credential's new state (signature counter) and its use.
    async fn update_mfa_authenticator_secret(&mut self, id: Uuid, secret: &str, at: Timestamp) -> StoreResult<()>;
    /// Deletes a user's authenticators and recovery codes; returns how many authenticators.
    async fn delete_user_mfa(&mut self, user_id: Uuid) -> StoreResult<u64>;
    /// Replaces a user's recovery codes with these hashes (none: just deletes).
    async fn replace_mfa_recovery_codes(&mut self, user_id: Uuid, hashes: &[String], now: Timestamp)
    -> StoreResult<()>;
    /// Spends the unused code with this hash. Atomic: one winner.
    async fn consume_mfa_recovery_code(&mut self, user_id: Uuid, hash: &str, now: Timestamp) -> StoreResult<bool>;
    async fn put_mfa_policy(&mut self, policy: &str, now: Timestamp) -> StoreResult<()>;
    /// The enrolment record of `user_id`, read in this transaction.
    async fn mfa_enrolment(&mut self, user_id: Uuid) -> StoreResult<Option<crate::mfa::enrolment::EnrolmentRecord>>;
    /// Creates or replaces an enrolment record.
    async fn put_mfa_enrolment(&mut self, record: &crate::mfa::enrolment::EnrolmentRecord) -> StoreResult<()>;
}

/// The audit chain, the job queue and blueprint state.
#[async_trait]
pub trait OpsWrites: Send {
    /// Appends an event to the chain (see [`crate::events::seal`]).
    async fn append_event(&mut self, event: NewEvent, at: Timestamp) -> StoreResult<Event>;
    /// Deletes events older than `before`, recording the last deleted link as the
    /// chain's anchor. Returns how many were deleted.
    async fn prune_events(&mut self, before: Timestamp) -> StoreResult<u64>;
    /// Enqueues a job (due at `job.run_at`); `None` when a job with the same
    /// idempotency key exists. On PostgreSQL, wakes listening workers at commit.
    async fn enqueue_job(&mut self, job: &NewJob, now: Timestamp) -> StoreResult<Option<Uuid>>;
    /// Puts a dead or queued job back in the queue, due now, attempts reset;
    /// `None` when there is no such job or it is running or done.
    async fn requeue_job(&mut self, id: Uuid, now: Timestamp) -> StoreResult<Option<Job>>;
    /// Records a job's side effect under its key; false when already recorded.
    async fn record_job_effect(
        &mut self,
        effect_key: &str,
        job_id: Uuid,
        detail: &str,
        now: Timestamp,
    ) -> StoreResult<bool>;
    /// Deletes done and dead jobs finished before `before`, and effect records
    /// older than that. Returns how many jobs went.
    async fn delete_finished_jobs(&mut self, before: Timestamp) -> StoreResult<u64>;
    /// Inserts or replaces the applied state of one blueprint file.
    async fn put_blueprint_instance(&mut self, instance: &crate::blueprints::BlueprintInstance) -> StoreResult<()>;
}
