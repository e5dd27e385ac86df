//! Browser sessions, sign-in flows, throttles and recovery keys.

use async_trait::async_trait;
use gatehouse_core::store::StoreResult;
use gatehouse_core::{FlowRecord, RecoveryKey, Session, ThrottleRecord, Timestamp};
use uuid::Uuid;

use crate::error::Ctx;
use crate::rows::{self, flow_columns, recovery_key_columns, session_columns, throttle_columns};

use gatehouse_core::store::SessionWrites;

use super::{SqlWriteTx, millis, one_row};

#[async_trait]
impl SessionWrites for SqlWriteTx {
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

    async fn delete_expired_recovery_keys(&mut self, before: Timestamp) -> StoreResult<u64> {
        crate::jobs::delete_expired_recovery_keys(&mut self.tx, before).await
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
}
