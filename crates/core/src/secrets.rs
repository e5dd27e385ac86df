//! Server-wide random secrets (an HMAC key for client secrets, the key of
//! SAML's persistent pseudonyms): made once at first use, the same on every
//! node, never changed. Their values never reach an event or a log line.

use serde_json::json;

use crate::audit::Audit;
use crate::context::Secrets;
use crate::error::{Error, Result};
use crate::events::action;

impl Secrets<'_> {
    /// The secret `name`, if it was made.
    pub async fn get(self, name: &str) -> Result<Option<String>> {
        Ok(self.store().server_secret(name).await?)
    }

    /// The secret `name`, made with `fresh` at first use. Race-free: whoever
    /// wins the insert, the stored value is the one every caller gets.
    pub async fn get_or_create(self, name: &str, fresh: impl FnOnce() -> String) -> Result<String> {
        if let Some(v) = self.store().server_secret(name).await? {
            return Ok(v);
        }
        let mut tx = self.write(&Audit::system()).await?;
        let now = tx.now();
        if tx.raw().insert_server_secret(name, &fresh(), now).await? {
            tx.record(
                action::MODEL_CREATED,
                None,
                json!({"model": "server_secret", "name": name}),
            )
            .await?;
        }
        tx.commit().await?;
        self.store()
            .server_secret(name)
            .await?
            .ok_or_else(|| Error::Refused(format!("the server secret {name} could not be created")))
    }
}
