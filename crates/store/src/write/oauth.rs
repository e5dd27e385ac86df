//! OAuth grants, codes, refresh tokens, device codes, revocations and consents.

use async_trait::async_trait;
use gatehouse_core::Timestamp;
use gatehouse_core::store::StoreResult;
use uuid::Uuid;

use crate::grants;
use gatehouse_core::oauth::model as oauth;

use gatehouse_core::store::OAuthWrites;

use super::SqlWriteTx;

#[async_trait]
impl OAuthWrites for SqlWriteTx {
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
}
