//! Records parked under a one-time token: a protocol request waits here while
//! the person signs in (the browser carries only the token, in a local URL),
//! and is taken exactly once when they come back. Stored as flow records
//! (hashed token, JSON, an end), so every node sees them; a record's own type
//! tag keeps it apart from the other kinds in that table.

use gatehouse_crypto::{random_token, sha256_hex};
use serde::Serialize;
use serde::de::DeserializeOwned;
use uuid::Uuid;

use crate::context::Parking;
use crate::error::{Error, Result};
use crate::model::FlowRecord;

/// Tokens longer than this are not ours (ours are 43 characters).
const MAX_TOKEN_LEN: usize = 128;

impl Parking<'_> {
    /// Parks `record` for `lifetime_secs`; returns its token.
    pub async fn park<T: Serialize>(self, record: &T, lifetime_secs: i64) -> Result<String> {
        let token = random_token(32);
        let now = self.now();
        let flow = FlowRecord {
            id: Uuid::new_v4(),
            token_hash: sha256_hex(token.as_bytes()),
            state: serde_json::to_value(record).map_err(|e| Error::invalid("parked record", e.to_string()))?,
            created_at: now,
            expires_at: now.plus_seconds(lifetime_secs),
        };
        let mut tx = self.begin().await?;
        tx.insert_flow(&flow).await?;
        tx.commit().await?;
        Ok(token)
    }

    /// The record under `token`, left in place (the person may still be
    /// signing in); `None` when unknown, expired or of another type.
    pub async fn peek<T: DeserializeOwned>(self, token: &str) -> Result<Option<T>> {
        if !plausible(token) {
            return Ok(None);
        }
        let Some(flow) = self.store().flow_by_hash(&sha256_hex(token.as_bytes())).await? else {
            return Ok(None);
        };
        if flow.expires_at <= self.now() {
            return Ok(None);
        }
        Ok(serde_json::from_value(flow.state).ok())
    }

    /// Takes the record under `token` (single use: of two takers one gets it).
    pub async fn take<T: DeserializeOwned>(self, token: &str) -> Result<Option<T>> {
        if !plausible(token) {
            return Ok(None);
        }
        let mut tx = self.begin().await?;
        let flow = tx.consume_flow(&sha256_hex(token.as_bytes()), self.now()).await?;
        tx.commit().await?;
        Ok(flow.and_then(|f| serde_json::from_value(f.state).ok()))
    }
}

fn plausible(token: &str) -> bool {
    !token.is_empty() && token.len() <= MAX_TOKEN_LEN
}
