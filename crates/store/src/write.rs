//! [`WriteTx`]: one database transaction holding a change and its audit event.
//! Dropping it without `commit` rolls back (sqlx queues the rollback on drop).

use async_trait::async_trait;
use gatehouse_core::names::name_key;
use gatehouse_core::store::StoreResult;
use gatehouse_core::{
    ApiToken, Application, Binding, Event, FlowRecord, Group, Membership, NewEvent, RecoveryKey, Session, StoreError,
    ThrottleRecord, Timestamp, User, WriteTx,
};
use sqlx::any::AnyQueryResult;
use sqlx::{Any, Executor, Transaction};
use uuid::Uuid;

use crate::error::Ctx;
use crate::rows::{self, flow_columns, recovery_key_columns, session_columns, throttle_columns};
use crate::url::Backend;
use crate::{events, grants, keys, read};
use gatehouse_core::keys::SigningKeyRecord;
use gatehouse_core::oauth::model as oauth;

pub(crate) struct SqlWriteTx {
    pub(crate) tx: Transaction<'static, Any>,
    pub(crate) backend: Backend,
}

impl SqlWriteTx {
    /// Whether single-row reads should lock (see `read`).
    fn locks_rows(&self) -> bool {
        self.backend == Backend::Postgres
    }
}

/// An update that must hit its row: none means it was deleted meanwhile.
fn one_row(r: AnyQueryResult, what: &str) -> StoreResult<()> {
    if r.rows_affected() == 0 {
        Err(StoreError::Conflict(format!("the {what} no longer exists")))
    } else {
        Ok(())
    }
}

/// Takes the next integer id of `table` (users, groups): one counter row per
/// table, bumped in this transaction (a row lock on PostgreSQL, SQLite's write
/// lock), so concurrent inserts never share a number and none is reused.
async fn next_id(tx: &mut Transaction<'static, Any>, table: &'static str) -> StoreResult<i64> {
    sqlx::query_scalar("UPDATE id_counters SET last = last + 1 WHERE name = $1 RETURNING last")
        .bind(table)
        .fetch_one(&mut **tx)
        .await
        .ctx("take the next id")
}

fn millis(t: Option<Timestamp>) -> Option<i64> {
    t.map(Timestamp::millis)
}

/// Records activity on a session: the one write outside a [`WriteTx`] (not
/// audited). `last_seen` only moves forward, so a late, older touch loses.
pub(crate) async fn touch_session<'c, E>(e: E, id: Uuid, at: Timestamp) -> StoreResult<()>
where
    E: Executor<'c, Database = Any>,
{
    sqlx::query("UPDATE sessions SET last_seen = $2 WHERE id = $1 AND last_seen < $2")
        .bind(id.to_string())
        .bind(at.millis())
        .execute(e)
        .await
        .ctx("touch session")?;
    Ok(())
}

#[async_trait]
impl WriteTx for SqlWriteTx {
    async fn user_by_name(&mut self, username: &str) -> StoreResult<Option<User>> {
        let lock = self.locks_rows();
        read::user_by_name(&mut *self.tx, username, lock).await
    }

    async fn user_by_id(&mut self, id: Uuid) -> StoreResult<Option<User>> {
        let lock = self.locks_rows();
        read::user_by_id(&mut *self.tx, id, lock).await
    }

    async fn group_by_name(&mut self, name: &str) -> StoreResult<Option<Group>> {
        let lock = self.locks_rows();
        read::group_by_name(&mut *self.tx, name, lock).await
    }

    async fn groups(&mut self) -> StoreResult<Vec<Group>> {
        read::groups(&mut *self.tx).await
    }

    async fn application_by_slug(&mut self, slug: &str) -> StoreResult<Option<Application>> {
        let lock = self.locks_rows();
        read::application_by_slug(&mut *self.tx, slug, lock).await
    }

    async fn application_by_id(&mut self, id: Uuid) -> StoreResult<Option<Application>> {
        let lock = self.locks_rows();
        read::application_by_id(&mut *self.tx, id, lock).await
    }

    async fn insert_user(&mut self, user: &User) -> StoreResult<i64> {
        let pk = next_id(&mut self.tx, "users").await?;
        sqlx::query(
            "INSERT INTO users (id, username, username_key, email, name, is_active, password_hash, \
             attributes, created_at, last_login, password_changed_at, pk) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        )
        .bind(user.id.to_string())
        .bind(user.username.clone())
        .bind(name_key(&user.username))
        .bind(user.email.clone())
        .bind(user.name.clone())
        .bind(rows::flag_value(user.is_active))
        .bind(user.password_hash.clone())
        .bind(rows::json_text(&user.attributes))
        .bind(user.created_at.millis())
        .bind(millis(user.last_login))
        .bind(millis(user.password_changed_at))
        .bind(pk)
        .execute(&mut *self.tx)
        .await
        .ctx("create user")?;
        Ok(pk)
    }

    async fn update_user(&mut self, user: &User) -> StoreResult<()> {
        let r = sqlx::query(
            "UPDATE users SET username = $2, username_key = $3, email = $4, name = $5, \
             is_active = $6, password_hash = $7, attributes = $8, last_login = $9, \
             password_changed_at = $10 WHERE id = $1",
        )
        .bind(user.id.to_string())
        .bind(user.username.clone())
        .bind(name_key(&user.username))
        .bind(user.email.clone())
        .bind(user.name.clone())
        .bind(rows::flag_value(user.is_active))
        .bind(user.password_hash.clone())
        .bind(rows::json_text(&user.attributes))
        .bind(millis(user.last_login))
        .bind(millis(user.password_changed_at))
        .execute(&mut *self.tx)
        .await
        .ctx("update user")?;
        one_row(r, "user")
    }

    async fn delete_user(&mut self, id: Uuid) -> StoreResult<()> {
        sqlx::query("DELETE FROM users WHERE id = $1")
            .bind(id.to_string())
            .execute(&mut *self.tx)
            .await
            .ctx("delete user")?;
        Ok(())
    }

    async fn insert_group(&mut self, group: &Group) -> StoreResult<i64> {
        let pk = next_id(&mut self.tx, "groups").await?;
        sqlx::query(
            "INSERT INTO groups (id, name, name_key, is_superuser, parent_id, attributes, created_at, pk) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(group.id.to_string())
        .bind(group.name.clone())
        .bind(name_key(&group.name))
        .bind(rows::flag_value(group.is_superuser))
        .bind(group.parent_id.map(|p| p.to_string()))
        .bind(rows::json_text(&group.attributes))
        .bind(group.created_at.millis())
        .bind(pk)
        .execute(&mut *self.tx)
        .await
        .ctx("create group")?;
        Ok(pk)
    }

    async fn update_group(&mut self, group: &Group) -> StoreResult<()> {
        let r = sqlx::query(
            "UPDATE groups SET name = $2, name_key = $3, is_superuser = $4, parent_id = $5, \
             attributes = $6 WHERE id = $1",
        )
        .bind(group.id.to_string())
        .bind(group.name.clone())
        .bind(name_key(&group.name))
        .bind(rows::flag_value(group.is_superuser))
        .bind(group.parent_id.map(|p| p.to_string()))
        .bind(rows::json_text(&group.attributes))
        .execute(&mut *self.tx)
        .await
        .ctx("update group")?;
        one_row(r, "group")
    }

    async fn delete_group(&mut self, id: Uuid) -> StoreResult<()> {
        sqlx::query("DELETE FROM groups WHERE id = $1")
            .bind(id.to_string())
            .execute(&mut *self.tx)
            .await
            .ctx("delete group")?;
        Ok(())
    }

    async fn add_membership(&mut self, m: Membership) -> StoreResult<bool> {
        let r = sqlx::query("INSERT INTO memberships (user_id, group_id) VALUES ($1, $2) ON CONFLICT DO NOTHING")
            .bind(m.user_id.to_string())
            .bind(m.group_id.to_string())
            .execute(&mut *self.tx)
            .await
            .ctx("add group member")?;
        Ok(r.rows_affected() == 1)
    }

    async fn remove_membership(&mut self, m: Membership) -> StoreResult<bool> {
        let r = sqlx::query("DELETE FROM memberships WHERE user_id = $1 AND group_id = $2")
            .bind(m.user_id.to_string())
            .bind(m.group_id.to_string())
            .execute(&mut *self.tx)
            .await
            .ctx("remove group member")?;
        Ok(r.rows_affected() == 1)
    }

    async fn insert_application(&mut self, app: &Application) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO applications (id, slug, name, launch_url, provider, provider_config, provider_key, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(app.id.to_string())
        .bind(app.slug.clone())
        .bind(app.name.clone())
        .bind(app.launch_url.clone())
        .bind(app.provider.map(|p| p.as_str().to_string()))
        .bind(rows::json_text(&app.provider_config))
        .bind(app.provider_key.clone())
        .bind(app.created_at.millis())
        .execute(&mut *self.tx)
        .await
        .ctx("create application")?;
        Ok(())
    }

    async fn update_application(&mut self, app: &Application) -> StoreResult<()> {
        let r = sqlx::query(
            "UPDATE applications SET slug = $2, name = $3, launch_url = $4, provider = $5, \
             provider_config = $6, provider_key = $7 WHERE id = $1",
        )
        .bind(app.id.to_string())
        .bind(app.slug.clone())
        .bind(app.name.clone())
        .bind(app.launch_url.clone())
        .bind(app.provider.map(|p| p.as_str().to_string()))
        .bind(rows::json_text(&app.provider_config))
        .bind(app.provider_key.clone())
        .execute(&mut *self.tx)
        .await
        .ctx("update application")?;
        one_row(r, "application")
    }

    async fn delete_application(&mut self, id: Uuid) -> StoreResult<()> {
        sqlx::query("DELETE FROM applications WHERE id = $1")
            .bind(id.to_string())
            .execute(&mut *self.tx)
            .await
            .ctx("delete application")?;
        Ok(())
    }

    async fn add_binding(&mut self, b: Binding) -> StoreResult<bool> {
        let r = sqlx::query("INSERT INTO bindings (application_id, group_id) VALUES ($1, $2) ON CONFLICT DO NOTHING")
            .bind(b.application_id.to_string())
            .bind(b.group_id.to_string())
            .execute(&mut *self.tx)
            .await
            .ctx("bind application")?;
        Ok(r.rows_affected() == 1)
    }

    async fn remove_binding(&mut self, b: Binding) -> StoreResult<bool> {
        let r = sqlx::query("DELETE FROM bindings WHERE application_id = $1 AND group_id = $2")
            .bind(b.application_id.to_string())
            .bind(b.group_id.to_string())
            .execute(&mut *self.tx)
            .await
            .ctx("unbind application")?;
        Ok(r.rows_affected() == 1)
    }

    async fn insert_recovery_key(&mut self, key: &RecoveryKey) -> StoreResult<()> {
        sqlx::query(concat!(
            "INSERT INTO recovery_keys (",
            recovery_key_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6)"
        ))
        .bind(key.id.to_string())
        .bind(key.user_id.to_string())
        .bind(key.token_hash.clone())
        .bind(key.created_at.millis())
        .bind(key.expires_at.millis())
        .bind(millis(key.used_at))
        .execute(&mut *self.tx)
        .await
        .ctx("create recovery key")?;
        Ok(())
    }

    async fn consume_recovery_key(&mut self, token_hash: &str, now: Timestamp) -> StoreResult<Option<RecoveryKey>> {
        // One statement: of two concurrent consumers the second finds used_at set.
        sqlx::query(concat!(
            "UPDATE recovery_keys SET used_at = $1 \
             WHERE token_hash = $2 AND used_at IS NULL AND expires_at > $1 RETURNING ",
            recovery_key_columns!()
        ))
        .bind(now.millis())
        .bind(token_hash.to_string())
        .fetch_optional(&mut *self.tx)
        .await
        .ctx("use recovery key")?
        .as_ref()
        .map(rows::recovery_key)
        .transpose()
    }

    async fn insert_api_token(&mut self, token: &ApiToken) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO api_tokens (id, identifier, user_id, intent, token_hash, created_at, expires_at, description) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(token.id.to_string())
        .bind(token.identifier.clone())
        .bind(token.user_id.to_string())
        .bind(token.intent.clone())
        .bind(token.token_hash.clone())
        .bind(token.created_at.millis())
        .bind(millis(token.expires_at))
        .bind(token.description.clone())
        .execute(&mut *self.tx)
        .await
        .ctx("create API token")?;
        Ok(())
    }

    async fn claim_bootstrap(&mut self, now: Timestamp) -> StoreResult<bool> {
        // PostgreSQL: a concurrent claimer blocks on the key until the first
        // commits, then inserts nothing. SQLite: write transactions are serial.
        let r = sqlx::query("INSERT INTO bootstrap (id, done_at) VALUES (1, $1) ON CONFLICT DO NOTHING")
            .bind(now.millis())
            .execute(&mut *self.tx)
            .await
            .ctx("claim bootstrap")?;
        Ok(r.rows_affected() == 1)
    }

    async fn append_event(&mut self, event: NewEvent, at: Timestamp) -> StoreResult<Event> {
        events::append(&mut self.tx, self.backend, event, at).await
    }

    async fn prune_events(&mut self, before: Timestamp) -> StoreResult<u64> {
        events::prune(&mut self.tx, self.backend, before).await
    }

    async fn insert_session(&mut self, session: &Session) -> StoreResult<()> {
        sqlx::query(concat!(
            "INSERT INTO sessions (",
            session_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
        ))
        .bind(session.id.to_string())
        .bind(session.user_id.to_string())
        .bind(session.token_hash.clone())
        .bind(session.csrf_token.clone())
        .bind(session.created_at.millis())
        .bind(session.last_seen.millis())
        .bind(session.expires_at.millis())
        .bind(session.client_ip.clone())
        .bind(session.user_agent.clone())
        .bind(rows::json_list_text(&session.amr))
        .execute(&mut *self.tx)
        .await
        .ctx("create session")?;
        Ok(())
    }

    async fn delete_session(&mut self, id: Uuid) -> StoreResult<bool> {
        let r = sqlx::query("DELETE FROM sessions WHERE id = $1")
            .bind(id.to_string())
            .execute(&mut *self.tx)
            .await
            .ctx("end session")?;
        Ok(r.rows_affected() > 0)
    }

    async fn delete_user_sessions(&mut self, user_id: Uuid, keep: Option<Uuid>) -> StoreResult<u64> {
        let r = match keep {
            Some(keep) => {
                sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND id <> $2")
                    .bind(user_id.to_string())
                    .bind(keep.to_string())
                    .execute(&mut *self.tx)
                    .await
            }
            None => {
                sqlx::query("DELETE FROM sessions WHERE user_id = $1")
                    .bind(user_id.to_string())
                    .execute(&mut *self.tx)
                    .await
            }
        }
        .ctx("end user sessions")?;
        Ok(r.rows_affected())
    }

    async fn insert_flow(&mut self, flow: &FlowRecord) -> StoreResult<()> {
        sqlx::query(concat!(
            "INSERT INTO flows (",
            flow_columns!(),
            ") VALUES ($1, $2, $3, $4, $5)"
        ))
        .bind(flow.id.to_string())
        .bind(flow.token_hash.clone())
        .bind(rows::json_text(&flow.state))
        .bind(flow.created_at.millis())
        .bind(flow.expires_at.millis())
        .execute(&mut *self.tx)
        .await
        .ctx("create flow")?;
        Ok(())
    }

    async fn update_flow(&mut self, flow: &FlowRecord) -> StoreResult<()> {
        let r = sqlx::query("UPDATE flows SET token_hash = $2, state = $3, expires_at = $4 WHERE id = $1")
            .bind(flow.id.to_string())
            .bind(flow.token_hash.clone())
            .bind(rows::json_text(&flow.state))
            .bind(flow.expires_at.millis())
            .execute(&mut *self.tx)
            .await
            .ctx("update flow")?;
        one_row(r, "flow")
    }

    async fn delete_flow(&mut self, id: Uuid) -> StoreResult<()> {
        sqlx::query("DELETE FROM flows WHERE id = $1")
            .bind(id.to_string())
            .execute(&mut *self.tx)
            .await
            .ctx("end flow")?;
        Ok(())
    }

    async fn consume_flow(&mut self, token_hash: &str, now: Timestamp) -> StoreResult<Option<FlowRecord>> {
        // One statement: of two concurrent consumers the second deletes nothing.
        sqlx::query(concat!(
            "DELETE FROM flows WHERE token_hash = $1 AND expires_at > $2 RETURNING ",
            flow_columns!()
        ))
        .bind(token_hash.to_string())
        .bind(now.millis())
        .fetch_optional(&mut *self.tx)
        .await
        .ctx("consume flow")?
        .as_ref()
        .map(rows::flow)
        .transpose()
    }

    async fn put_throttle(&mut self, record: &ThrottleRecord) -> StoreResult<()> {
        sqlx::query(concat!(
            "INSERT INTO login_throttle (",
            throttle_columns!(),
            ") VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (key) DO UPDATE SET failures = excluded.failures, \
             window_start = excluded.window_start, last_failure = excluded.last_failure, \
             locked_until = excluded.locked_until"
        ))
        .bind(record.key.clone())
        .bind(record.failures)
        .bind(record.window_start.millis())
        .bind(record.last_failure.millis())
        .bind(millis(record.locked_until))
        .execute(&mut *self.tx)
        .await
        .ctx("record sign-in failure")?;
        Ok(())
    }

    async fn delete_throttle(&mut self, key: &str) -> StoreResult<bool> {
        let r = sqlx::query("DELETE FROM login_throttle WHERE key = $1")
            .bind(key.to_string())
            .execute(&mut *self.tx)
            .await
            .ctx("clear sign-in throttle")?;
        Ok(r.rows_affected() > 0)
    }

    async fn delete_expired(&mut self, now: Timestamp, idle_before: Timestamp) -> StoreResult<(u64, u64)> {
        let sessions = sqlx::query("DELETE FROM sessions WHERE expires_at <= $1 OR last_seen <= $2")
            .bind(now.millis())
            .bind(idle_before.millis())
            .execute(&mut *self.tx)
            .await
            .ctx("delete expired sessions")?
            .rows_affected();
        let flows = sqlx::query("DELETE FROM flows WHERE expires_at <= $1")
            .bind(now.millis())
            .execute(&mut *self.tx)
            .await
            .ctx("delete expired flows")?
            .rows_affected();
        Ok((sessions, flows))
    }

    async fn delete_stale_throttles(&mut self, before: Timestamp) -> StoreResult<u64> {
        let r = sqlx::query("DELETE FROM login_throttle WHERE window_start < $1 AND locked_until IS NULL")
            .bind(before.millis())
            .execute(&mut *self.tx)
            .await
            .ctx("delete stale sign-in throttles")?;
        Ok(r.rows_affected())
    }

    // The key ring and one-time ids (SQL in `keys`).
    async fn signing_keys(&mut self) -> StoreResult<Vec<SigningKeyRecord>> {
        keys::signing_keys(&mut *self.tx).await
    }

    async fn insert_signing_key(&mut self, key: &SigningKeyRecord) -> StoreResult<()> {
        keys::insert_signing_key(&mut self.tx, key).await
    }

    async fn set_signing_key_publish_until(&mut self, kid: &str, until: Option<Timestamp>) -> StoreResult<()> {
        keys::set_signing_key_publish_until(&mut self.tx, kid, until).await
    }

    async fn delete_unpublished_signing_keys(&mut self, now: Timestamp) -> StoreResult<u64> {
        keys::delete_unpublished_signing_keys(&mut self.tx, now).await
    }

    async fn claim_replay_id(&mut self, id_hash: &str, expires_at: Timestamp) -> StoreResult<bool> {
        keys::claim_replay_id(&mut self.tx, id_hash, expires_at).await
    }

    async fn delete_expired_replay_ids(&mut self, now: Timestamp) -> StoreResult<u64> {
        keys::delete_expired_replay_ids(&mut self.tx, now).await
    }

    // OAuth grants (SQL in `grants`).

    async fn insert_server_secret(&mut self, name: &str, value: &str, now: Timestamp) -> StoreResult<bool> {
        grants::insert_server_secret(&mut self.tx, name, value, now).await
    }

    async fn insert_grant(&mut self, grant: &oauth::Grant) -> StoreResult<()> {
        grants::insert_grant(&mut self.tx, grant).await
    }

    async fn oauth_grant(&mut self, id: Uuid) -> StoreResult<Option<oauth::Grant>> {
        let lock = self.locks_rows();
        grants::grant(&mut *self.tx, id, lock).await
    }

    async fn revoke_grant(&mut self, id: Uuid, now: Timestamp) -> StoreResult<bool> {
        grants::revoke_grant(&mut self.tx, id, now).await
    }

    async fn revoke_user_grants(
        &mut self,
        user_id: Uuid,
        application_id: Option<Uuid>,
        now: Timestamp,
    ) -> StoreResult<u64> {
        grants::revoke_user_grants(&mut self.tx, user_id, application_id, now).await
    }

    async fn insert_auth_code(&mut self, code: &oauth::AuthCode) -> StoreResult<()> {
        grants::insert_auth_code(&mut self.tx, code).await
    }

    async fn consume_auth_code(
        &mut self,
        code_hash: &str,
        now: Timestamp,
    ) -> StoreResult<Option<oauth::Redeemed<oauth::AuthCode>>> {
        grants::consume_auth_code(&mut self.tx, code_hash, now).await
    }

    async fn insert_refresh_token(&mut self, token: &oauth::RefreshToken) -> StoreResult<()> {
        grants::insert_refresh_token(&mut self.tx, token).await
    }

    async fn consume_refresh_token(
        &mut self,
        token_hash: &str,
        now: Timestamp,
    ) -> StoreResult<Option<oauth::Redeemed<oauth::RefreshToken>>> {
        grants::consume_refresh_token(&mut self.tx, token_hash, now).await
    }

    async fn insert_device_code(&mut self, code: &oauth::DeviceCode) -> StoreResult<()> {
        grants::insert_device_code(&mut self.tx, code).await
    }

    async fn device_code_by_hash(&mut self, device_code_hash: &str) -> StoreResult<Option<oauth::DeviceCode>> {
        let lock = self.locks_rows();
        grants::device_code_by_hash(&mut *self.tx, device_code_hash, lock).await
    }

    async fn device_code_by_user_code(&mut self, user_code: &str) -> StoreResult<Option<oauth::DeviceCode>> {
        let lock = self.locks_rows();
        grants::device_code_by_user_code(&mut *self.tx, user_code, lock).await
    }

    async fn update_device_code(&mut self, code: &oauth::DeviceCode) -> StoreResult<()> {
        grants::update_device_code(&mut self.tx, code).await
    }

    async fn consume_device_code(&mut self, device_code_hash: &str) -> StoreResult<bool> {
        grants::consume_device_code(&mut self.tx, device_code_hash).await
    }

    async fn revoke_token(&mut self, jti: &str, expires_at: Timestamp) -> StoreResult<()> {
        grants::revoke_token(&mut self.tx, jti, expires_at).await
    }

    async fn put_consent(&mut self, consent: &oauth::Consent) -> StoreResult<()> {
        grants::put_consent(&mut self.tx, consent).await
    }

    async fn delete_consent(&mut self, user_id: Uuid, application_id: Uuid) -> StoreResult<bool> {
        grants::delete_consent(&mut self.tx, user_id, application_id).await
    }

    async fn delete_expired_oauth(&mut self, now: Timestamp) -> StoreResult<u64> {
        grants::delete_expired(&mut self.tx, now).await
    }
    async fn enqueue_job(&mut self, job: &gatehouse_core::jobs::NewJob, now: Timestamp) -> StoreResult<Option<Uuid>> {
        crate::jobs::enqueue(&mut self.tx, self.backend, job, now).await
    }

    async fn requeue_job(&mut self, id: Uuid, now: Timestamp) -> StoreResult<Option<gatehouse_core::jobs::Job>> {
        crate::jobs::requeue(&mut self.tx, self.backend, id, now).await
    }

    async fn record_job_effect(
        &mut self,
        effect_key: &str,
        job_id: Uuid,
        detail: &str,
        now: Timestamp,
    ) -> StoreResult<bool> {
        crate::jobs::record_effect(&mut self.tx, effect_key, job_id, detail, now).await
    }

    async fn delete_finished_jobs(&mut self, before: Timestamp) -> StoreResult<u64> {
        crate::jobs::delete_finished(&mut self.tx, before).await
    }

    async fn delete_expired_recovery_keys(&mut self, before: Timestamp) -> StoreResult<u64> {
        crate::jobs::delete_expired_recovery_keys(&mut self.tx, before).await
    }
    async fn mfa_authenticators(&mut self, user_id: Uuid) -> StoreResult<Vec<gatehouse_core::mfa::Authenticator>> {
        crate::mfa::authenticators(&mut *self.tx, user_id).await
    }

    async fn insert_mfa_authenticator(&mut self, auth: &gatehouse_core::mfa::Authenticator) -> StoreResult<()> {
        crate::mfa::insert_authenticator(&mut self.tx, auth).await
    }

    async fn delete_mfa_authenticator(&mut self, user_id: Uuid, id: Uuid) -> StoreResult<bool> {
        crate::mfa::delete_authenticator(&mut self.tx, user_id, id).await
    }

    async fn use_totp_step(&mut self, id: Uuid, step: i64, at: Timestamp) -> StoreResult<bool> {
        crate::mfa::use_totp_step(&mut self.tx, id, step, at).await
    }

    async fn update_mfa_authenticator_secret(&mut self, id: Uuid, secret: &str, at: Timestamp) -> StoreResult<()> {
        crate::mfa::update_secret(&mut self.tx, id, secret, at).await
    }

    async fn delete_user_mfa(&mut self, user_id: Uuid) -> StoreResult<u64> {
        crate::mfa::delete_user_mfa(&mut self.tx, user_id).await
    }

    async fn replace_mfa_recovery_codes(
        &mut self,
        user_id: Uuid,
        hashes: &[String],
        now: Timestamp,
    ) -> StoreResult<()> {
        crate::mfa::replace_recovery_codes(&mut self.tx, user_id, hashes, now).await
    }

    async fn consume_mfa_recovery_code(&mut self, user_id: Uuid, hash: &str, now: Timestamp) -> StoreResult<bool> {
        crate::mfa::consume_recovery_code(&mut self.tx, user_id, hash, now).await
    }

    async fn put_mfa_policy(&mut self, policy: &str, now: Timestamp) -> StoreResult<()> {
        crate::mfa::put_policy(&mut self.tx, policy, now).await
    }

    async fn mfa_enrolment(
        &mut self,
        user_id: Uuid,
    ) -> StoreResult<Option<gatehouse_core::mfa::enrolment::EnrolmentRecord>> {
        let lock = self.locks_rows();
        crate::mfa_enrolment::read(&mut *self.tx, user_id, lock).await
    }

    async fn put_mfa_enrolment(&mut self, record: &gatehouse_core::mfa::enrolment::EnrolmentRecord) -> StoreResult<()> {
        crate::mfa_enrolment::put(&mut self.tx, record).await
    }

    async fn bump_throttle(
        &mut self,
        key: &str,
        now: Timestamp,
        window_floor: Timestamp,
        lock_after: i64,
        locked_until: Timestamp,
    ) -> StoreResult<ThrottleRecord> {
        crate::mfa::bump_throttle(&mut self.tx, key, now, window_floor, lock_after, locked_until).await
    }
    async fn api_tokens(&mut self) -> StoreResult<Vec<ApiToken>> {
        read::api_tokens(&mut *self.tx).await
    }

    async fn delete_api_token(&mut self, id: Uuid) -> StoreResult<bool> {
        crate::blueprints::delete_api_token(&mut self.tx, id).await
    }

    async fn put_blueprint_instance(
        &mut self,
        instance: &gatehouse_core::blueprints::BlueprintInstance,
    ) -> StoreResult<()> {
        crate::blueprints::put_instance(&mut self.tx, instance).await
    }

    async fn insert_invitation(&mut self, invitation: &gatehouse_core::invitations::Invitation) -> StoreResult<()> {
        crate::invitations::insert(&mut self.tx, invitation).await
    }

    async fn delete_invitation(&mut self, id: Uuid) -> StoreResult<bool> {
        crate::invitations::delete(&mut self.tx, id).await
    }

    async fn spend_invitation(&mut self, id: Uuid, now: Timestamp) -> StoreResult<bool> {
        crate::invitations::spend(&mut self.tx, id, now).await
    }

    async fn commit(self: Box<Self>) -> StoreResult<()> {
        self.tx.commit().await.ctx("commit")
    }
}
