//! One-time message ids: a protocol message that must be answered once (a
//! SAML request ID) is claimed here, and a second claim of the same id, on
//! any node, is seen as a replay. Ids are stored as SHA-256 only, until the
//! moment the message could no longer pass its own age check anyway.

use gatehouse_crypto::sha256_hex;

use crate::clock::Timestamp;
use crate::context::Replay;
use crate::error::Result;

impl Replay<'_> {
    /// Claims `id` (text that names the message and its scope, e.g. the
    /// application, the sender and the message id) until `until`. False when
    /// it was claimed before: a replay. Atomic across nodes.
    pub async fn claim(self, id: &str, until: Timestamp) -> Result<bool> {
        let mut tx = self.begin().await?;
        let fresh = tx.claim_replay_id(&sha256_hex(id.as_bytes()), until).await?;
        tx.commit().await?;
        Ok(fresh)
    }

    /// Housekeeping: forgets ids whose time is over.
    pub async fn purge_expired(self) -> Result<u64> {
        let mut tx = self.begin().await?;
        let n = tx.delete_expired_replay_ids(self.now()).await?;
        tx.commit().await?;
        Ok(n)
    }
}
