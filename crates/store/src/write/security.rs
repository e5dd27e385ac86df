//! Signing keys, one-time ids, server secrets and MFA.

use async_trait::async_trait;
use gatehouse_core::Timestamp;
use gatehouse_core::store::StoreResult;
use uuid::Uuid;

use crate::{grants, keys};
use gatehouse_core::keys::SigningKeyRecord;

use gatehouse_core::store::SecurityWrites;

use super::SqlWriteTx;

#[async_trait]
impl SecurityWrites for SqlWriteTx {
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
}
