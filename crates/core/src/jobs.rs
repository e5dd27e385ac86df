//! The durable job queue's model and the services around it: enqueueing,
//! listing, retrying dead jobs, worker health, and the self-service password
//! reset request (which only enqueues: the mail is built and sent by the
//! worker, so the web answer costs the same whether or not an account matched).
//!
//! Delivery is at least once. A job is *claimed* with a lease (`lease_until`);
//! a worker that dies leaves its lease to run out and another worker claims the
//! job again. Side effects that must not repeat (a mail accepted by SMTP) write
//! an *effect record* keyed by the job's idempotency key right after they
//! happen; a re-run finds it and skips the effect. See `docs/ARCHITECTURE.md`
//! ("Worker") for the crash windows.

use serde::Serialize;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::audit::Audit;
use crate::clock::Timestamp;
use crate::context::Jobs;
use crate::error::{Error, Result};
use crate::model::User;
use crate::store::WriteTx;
use crate::throttle::{Limits, ThrottlePolicy, Verdict, unknown_account_key};

/// Audit actions of this feature.
pub mod action {
    /// An operator put a dead job back in the queue.
    pub const JOB_RETRIED: &str = "job_retried";
    /// A recovery mail was queued (self-service or by an admin).
    pub const RECOVERY_MAIL_QUEUED: &str = "recovery_mail_queued";
}

/// Job kinds known today. Later features add theirs as constants of their own
/// and register a handler with the worker (see `gatehouse_worker::JobHandler`).
pub mod kinds {
    /// A mail with rendered content: payload [`super::MailPayload`].
    pub const SEND_MAIL: &str = "mail.send";
    /// A password recovery mail: payload [`super::RecoveryMailPayload`]; the
    /// one-time link is created when the job runs, so no token sits in the queue.
    pub const RECOVERY_MAIL: &str = "mail.recovery";
    /// Housekeeping: expired sessions, flows, throttles, OAuth records, recovery
    /// keys, finished jobs.
    pub const PURGE_EXPIRED: &str = "housekeeping.purge";
    /// Housekeeping: audit events past the retention.
    pub const PRUNE_EVENTS: &str = "housekeeping.prune_events";
}

/// Where a job is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum JobState {
    /// Waiting for `run_at`.
    Queued,
    /// Claimed by a worker until `lease_until`.
    Running,
    Done,
    /// Failed `max_attempts` times (or could never succeed): kept for operators.
    Dead,
}

impl JobState {
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Running => "running",
            JobState::Done => "done",
            JobState::Dead => "dead",
        }
    }

    pub fn parse(s: &str) -> Option<JobState> {
        Some(match s {
            "queued" => JobState::Queued,
            "running" => JobState::Running,
            "done" => JobState::Done,
            "dead" => JobState::Dead,
            _ => return None,
        })
    }
}

/// A job as stored.
#[derive(Debug, Clone, Serialize)]
pub struct Job {
    pub id: Uuid,
    pub kind: String,
    /// Unique across the queue: enqueueing the same key twice keeps one job.
    pub idem_key: String,
    /// JSON. Never holds a secret (tokens, passwords).
    pub payload: Value,
    pub state: JobState,
    /// Claims so far (a claim whose worker died counts).
    pub attempts: i64,
    pub max_attempts: i64,
    pub run_at: Timestamp,
    pub lease_until: Option<Timestamp>,
    pub worker_id: Option<String>,
    pub last_error: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub finished_at: Option<Timestamp>,
}

/// A job to enqueue.
#[derive(Debug, Clone)]
pub struct NewJob {
    pub kind: String,
    pub idem_key: String,
    pub payload: Value,
    pub max_attempts: i64,
    pub run_at: Timestamp,
}

impl NewJob {
    /// A job with a fresh idempotency key, due now.
    pub fn new(kind: &str, payload: Value, now: Timestamp) -> NewJob {
        NewJob {
            kind: kind.to_string(),
            idem_key: format!("{kind}:{}", Uuid::new_v4()),
            payload,
            max_attempts: DEFAULT_MAX_ATTEMPTS,
            run_at: now,
        }
    }
}

/// A job's own attempt cap when its producer sets none: effectively "as the
/// worker says" (`GATEHOUSE_WORKER__MAX_ATTEMPTS`, default 8, applies below it).
pub const DEFAULT_MAX_ATTEMPTS: i64 = 1000;

/// What a listing asks for.
#[derive(Debug, Clone, Default)]
pub struct JobFilter {
    pub state: Option<JobState>,
    pub kind: Option<String>,
    pub limit: u32,
}

/// A worker's heartbeat row.
#[derive(Debug, Clone, Serialize)]
pub struct WorkerRecord {
    pub id: String,
    pub host: String,
    pub pid: i64,
    pub version: String,
    pub started_at: Timestamp,
    pub heartbeat_at: Timestamp,
    pub stopped_at: Option<Timestamp>,
}

/// A side effect done on behalf of a job (a mail accepted by SMTP).
#[derive(Debug, Clone, Serialize)]
pub struct JobEffect {
    pub effect_key: String,
    pub job_id: Uuid,
    pub done_at: Timestamp,
    pub detail: String,
}

/// Payload of [`kinds::SEND_MAIL`].
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct MailPayload {
    pub to: String,
    pub subject: String,
    pub text: String,
    #[serde(default)]
    pub html: Option<String>,
}

/// Payload of [`kinds::RECOVERY_MAIL`].
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct RecoveryMailPayload {
    pub user_id: Uuid,
    /// Validity of the link, counted from when the job runs.
    pub minutes: i64,
    /// `self-service` (forgot password page) or `admin` (`user password --link`).
    pub reason: String,
}

/// How a self-service reset request ended (the page shows the same either way).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResetRequest {
    /// A mail was queued, or nothing matched, or the account's throttle dropped
    /// it: indistinguishable on purpose.
    Accepted,
    /// The client address asked too often; wait this many seconds.
    TooMany { retry_after_secs: i64 },
}

/// Limits on reset requests: per account (known or not, under a hashed key)
/// and per client address. Delays only, never locks, so nothing is announced.
pub fn reset_throttle(login: &ThrottlePolicy) -> ThrottlePolicy {
    ThrottlePolicy {
        window_secs: login.window_secs,
        account: Limits {
            delay_after: 3,
            lock_after: i64::MAX,
        },
        client: Limits {
            delay_after: 10,
            lock_after: i64::MAX,
        },
        device: login.device,
        lock_secs: login.lock_secs,
        max_delay_secs: login.window_secs,
        known_device_secs: 0,
    }
}

fn reset_account_key(user: Option<&User>, identifier: &str) -> String {
    match user {
        Some(u) => format!("acct:reset:{}", u.id),
        None => format!("acct:reset:{}", unknown_account_key(identifier)),
    }
}

fn reset_client_key(ip: &str) -> String {
    // Starts with `ip:` so the client limits apply; never equals a login key.
    format!("ip:reset:{ip}")
}

impl Jobs<'_> {
    /// Enqueues a job in its own transaction; returns its id, or `None` when a
    /// job with the same idempotency key exists.
    pub async fn enqueue(self, job: &NewJob) -> Result<Option<Uuid>> {
        let mut tx = self.begin().await?;
        let id = tx.enqueue_job(job, self.now()).await?;
        tx.commit().await?;
        Ok(id)
    }

    pub async fn list(self, filter: &JobFilter) -> Result<Vec<Job>> {
        Ok(self.store().jobs(filter).await?)
    }

    pub async fn get(self, id: Uuid) -> Result<Job> {
        self.store()
            .job(id)
            .await?
            .ok_or_else(|| Error::not_found("job", id.to_string()))
    }

    /// Puts a dead (or queued) job back in the queue with a fresh attempt count.
    pub async fn retry(self, audit: &Audit, id: Uuid) -> Result<Job> {
        let now = self.now();
        let mut tx = self.begin().await?;
        let Some(job) = tx.requeue_job(id, now).await? else {
            return match self.store().job(id).await? {
                None => Err(Error::not_found("job", id.to_string())),
                Some(j) => Err(Error::Refused(format!(
                    "job {id} is {}; only dead or queued jobs can be retried",
                    j.state.as_str()
                ))),
            };
        };
        tx.append_event(
            audit.event(action::JOB_RETRIED, None, json!({"pk": job.id, "kind": job.kind})),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(job)
    }

    pub async fn workers(self) -> Result<Vec<WorkerRecord>> {
        Ok(self.store().workers().await?)
    }

    /// Queues a recovery mail for `username` (admin-driven reset). Fails when the
    /// user has no email address or is disabled.
    pub async fn queue_recovery_mail(self, audit: &Audit, username: &str, minutes: i64) -> Result<(Uuid, User)> {
        if !(1..=60 * 24 * 30).contains(&minutes) {
            return Err(Error::invalid("minutes", "must be between 1 and 43200 (30 days)"));
        }
        let user = self
            .store()
            .user_by_name(username)
            .await?
            .ok_or_else(|| Error::not_found("user", username))?;
        if !user.is_active {
            return Err(Error::Refused(format!("user '{}' is disabled", user.username)));
        }
        if user.email.trim().is_empty() {
            return Err(Error::Refused(format!("user '{}' has no email address", user.username)));
        }
        let now = self.now();
        let job = recovery_job(&user, minutes, "admin", now);
        let mut tx = self.begin().await?;
        let id = tx
            .enqueue_job(&job, now)
            .await?
            .ok_or_else(|| Error::Refused("the recovery mail is already queued".into()))?;
        tx.append_event(
            audit.event(
                action::RECOVERY_MAIL_QUEUED,
                Some(&user.username),
                json!({"job": id, "reason": "admin"}),
            ),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok((id, user))
    }

    /// The forgot-password page: if `identifier` (username or email) names an
    /// active user with an email address, queue a recovery mail valid for
    /// `minutes`. Throttled per account (known or not) and per client address.
    /// Every request writes its throttle records, so matched and unmatched
    /// requests do the same kind of work; only the match adds a job row.
    pub async fn request_password_reset(self, audit: &Audit, identifier: &str, minutes: i64) -> Result<ResetRequest> {
        let identifier = identifier.trim();
        if identifier.is_empty() || identifier.chars().count() > 254 {
            return Ok(ResetRequest::Accepted);
        }
        let policy = reset_throttle(self.throttle_policy());
        let user = self.sign_in().find_user(identifier).await?;
        let acct = reset_account_key(user.as_ref(), identifier);
        let ip = audit.client_ip.as_deref().map(reset_client_key);
        let mut keys = vec![acct.clone()];
        keys.extend(ip.clone());
        let now = self.now();
        let records = self.store().throttle_records(&keys).await?;
        let ip_record = ip.as_ref().and_then(|k| records.iter().find(|r| &r.key == k));
        if let Some(r) = ip_record
            && let Verdict::Wait(secs) = policy.verdict(r, now)
        {
            return Ok(ResetRequest::TooMany { retry_after_secs: secs });
        }
        let acct_record = records.iter().find(|r| r.key == acct);
        let account_allowed = acct_record.is_none_or(|r| policy.verdict(r, now) == Verdict::Allowed);

        let mut tx = self.begin().await?;
        for key in &keys {
            let existing = records.iter().find(|r| &r.key == key);
            let (record, _) = policy.after_failure(key, existing, now);
            tx.put_throttle(&record).await?;
        }
        let target = user.filter(|u| u.is_active && !u.email.trim().is_empty());
        match (&target, account_allowed) {
            (Some(u), true) => {
                let id = tx
                    .enqueue_job(&recovery_job(u, minutes, "self-service", now), now)
                    .await?;
                tx.append_event(
                    audit.event(
                        action::RECOVERY_MAIL_QUEUED,
                        Some(&u.username),
                        json!({"job": id, "reason": "self-service"}),
                    ),
                    now,
                )
                .await?;
            }
            (Some(u), false) => {
                tracing::info!(user = %u.username, "password reset request dropped by the account throttle");
            }
            (None, _) => {}
        }
        tx.commit().await?;
        Ok(ResetRequest::Accepted)
    }

    /// Worker side of [`kinds::RECOVERY_MAIL`]: creates the one-time key (stored
    /// hashed, with its event) for an active user with an email address. `None`
    /// when the user is gone, disabled or without email (the job then ends).
    pub async fn create_mailed_recovery_key(
        self,
        user_id: Uuid,
        minutes: i64,
        job_id: Uuid,
    ) -> Result<Option<(String, User, Timestamp)>> {
        let Some(user) = self.store().user_by_id(user_id).await? else {
            return Ok(None);
        };
        if !user.is_active || user.email.trim().is_empty() {
            return Ok(None);
        }
        let key = gatehouse_crypto::random_token(32);
        let now = self.now();
        let record = crate::model::RecoveryKey {
            id: Uuid::new_v4(),
            user_id: user.id,
            token_hash: gatehouse_crypto::sha256_hex(key.as_bytes()),
            created_at: now,
            expires_at: now.plus_seconds(minutes * 60),
            used_at: None,
        };
        let mut tx = self.begin().await?;
        tx.insert_recovery_key(&record).await?;
        tx.append_event(
            Audit::system().event(
                crate::events::action::RECOVERY_KEY_CREATED,
                Some(&user.username),
                json!({"pk": record.id, "expires": record.expires_at.millis(), "via": "email", "job": job_id}),
            ),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(Some((key, user, record.expires_at)))
    }

    /// Side effects already done for this key (see [`JobEffect`]).
    /// Claims the next due job for `worker_id` until `now + lease_ms` (atomic:
    /// two workers never claim one job).
    pub async fn claim(self, worker_id: &str, lease_ms: i64) -> Result<Option<Job>> {
        Ok(self.store().claim_job(worker_id, self.now(), lease_ms).await?)
    }

    /// Extends the leases of the jobs `worker_id` holds; returns how many.
    pub async fn extend_leases(self, worker_id: &str, until: Timestamp) -> Result<u64> {
        Ok(self.store().extend_job_leases(worker_id, until).await?)
    }

    /// Marks a claimed job done, if this worker's claim (`attempts`) still holds it.
    pub async fn finish(self, id: Uuid, worker_id: &str, attempts: i64) -> Result<bool> {
        Ok(self.store().finish_job(id, worker_id, attempts, self.now()).await?)
    }

    /// Records a failed attempt: back to the queue at `retry_at`, or dead when `None`.
    pub async fn fail(
        self,
        id: Uuid,
        worker_id: &str,
        attempts: i64,
        error: &str,
        retry_at: Option<Timestamp>,
    ) -> Result<bool> {
        Ok(self
            .store()
            .fail_job(id, worker_id, attempts, error, retry_at, self.now())
            .await?)
    }

    /// Inserts or updates a worker's heartbeat row.
    pub async fn heartbeat(self, worker: &WorkerRecord) -> Result<()> {
        Ok(self.store().put_worker(worker).await?)
    }

    pub async fn effect(self, effect_key: &str) -> Result<Option<JobEffect>> {
        Ok(self.store().job_effect(effect_key).await?)
    }

    /// Records that a job's side effect happened (right after it happened).
    /// False when it was already recorded.
    pub async fn record_effect(self, effect_key: &str, job_id: Uuid, detail: &str) -> Result<bool> {
        let mut tx = self.begin().await?;
        let fresh = tx.record_job_effect(effect_key, job_id, detail, self.now()).await?;
        tx.commit().await?;
        Ok(fresh)
    }

    /// Housekeeping for this feature: finished jobs and effect records older
    /// than `keep_secs`, recovery keys expired more than a day ago.
    pub async fn purge_finished(self, keep_secs: i64) -> Result<(u64, u64)> {
        let now = self.now();
        let mut tx = self.begin().await?;
        let jobs = tx.delete_finished_jobs(now.minus_seconds(keep_secs)).await?;
        let keys = tx.delete_expired_recovery_keys(now.minus_seconds(86_400)).await?;
        tx.commit().await?;
        Ok((jobs, keys))
    }
}

fn recovery_job(user: &User, minutes: i64, reason: &str, now: Timestamp) -> NewJob {
    NewJob::new(
        kinds::RECOVERY_MAIL,
        json!(RecoveryMailPayload {
            user_id: user.id,
            minutes,
            reason: reason.into(),
        }),
        now,
    )
}

/// Enqueues inside a caller's transaction (for services that change something
/// and want a job to follow only if the change commits).
pub async fn enqueue_in(tx: &mut dyn WriteTx, job: &NewJob, now: Timestamp) -> Result<Option<Uuid>> {
    Ok(tx.enqueue_job(job, now).await?)
}

/// The next attempt's delay: `base` doubled per attempt already made, capped.
pub fn backoff_ms(base_ms: i64, max_ms: i64, attempts: i64) -> i64 {
    let shift = (attempts - 1).clamp(0, 30) as u32;
    base_ms.saturating_mul(1i64 << shift).min(max_ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_caps() {
        assert_eq!(backoff_ms(100, 10_000, 1), 100);
        assert_eq!(backoff_ms(100, 10_000, 2), 200);
        assert_eq!(backoff_ms(100, 10_000, 4), 800);
        assert_eq!(backoff_ms(100, 10_000, 30), 10_000);
        assert_eq!(backoff_ms(100, 10_000, 0), 100);
    }

    #[test]
    fn states_round_trip() {
        for s in [JobState::Queued, JobState::Running, JobState::Done, JobState::Dead] {
            assert_eq!(JobState::parse(s.as_str()), Some(s));
        }
        assert_eq!(JobState::parse("nope"), None);
    }

    #[test]
    fn reset_keys_never_meet_login_keys() {
        assert!(reset_client_key("192.0.2.1").starts_with("ip:"));
        assert_ne!(reset_client_key("192.0.2.1"), crate::throttle::client_key("192.0.2.1"));
        assert!(reset_account_key(None, "x").starts_with("acct:reset:"));
    }
}
