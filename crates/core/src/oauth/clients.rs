//! OAuth clients: applications looked up by client id or slug, and client
//! secrets.
//!
//! Secrets are 256-bit random tokens, stored as HMAC-SHA256 under a server key
//! (`server_secrets.client_secret_hmac`, 32 random bytes created at first use):
//! fast enough for the token endpoint, and a copy of the applications table
//! alone does not let anyone test guesses offline.

use std::sync::Arc;

use gatehouse_crypto::mac::{keyed_hash, keyed_hash_matches};
use gatehouse_crypto::{random_bytes, random_token};

use crate::context::OAuth;
use crate::error::{Error, Result};
use crate::model::{Application, ProviderKind};

const SECRET_KEY_NAME: &str = "client_secret_hmac";

impl OAuth<'_> {
    /// The application whose OIDC client id is `client_id` (the OIDC
    /// provider caches what it parses from it).
    pub async fn client(self, client_id: &str) -> Result<Option<Application>> {
        if client_id.is_empty() || client_id.len() > 255 {
            return Ok(None);
        }
        Ok(self
            .store()
            .application_by_provider_key(ProviderKind::Oidc, client_id)
            .await?)
    }

    /// An application by slug (discovery, JWKS, end-session; the OIDC
    /// provider caches what it parses from it).
    pub async fn by_slug(self, slug: &str) -> Result<Option<Application>> {
        if slug.is_empty() || slug.len() > 255 {
            return Ok(None);
        }
        Ok(self.store().application_by_slug(slug).await?)
    }

    /// A new client secret: 256 random bits, URL-safe.
    pub fn generate_client_secret(self) -> String {
        random_token(32)
    }

    /// The stored form of a client secret.
    pub async fn hash_client_secret(self, secret: &str) -> Result<String> {
        let key = self.client_secret_key().await?;
        Ok(keyed_hash(&key[..], secret))
    }

    /// Whether `secret` is the one stored as `stored` (constant time).
    pub async fn client_secret_matches(self, secret: &str, stored: &str) -> Result<bool> {
        let key = self.client_secret_key().await?;
        Ok(keyed_hash_matches(&key[..], secret, stored))
    }

    /// The server's HMAC key for client secrets, created at first use. It never
    /// changes, so once read it is kept for the life of the process.
    pub(crate) async fn client_secret_key(self) -> Result<Arc<[u8; 32]>> {
        let caches = self.caches();
        if let Some(k) = caches.server_key.get() {
            return Ok(k.clone());
        }
        let stored = self
            .secrets()
            .get_or_create(SECRET_KEY_NAME, || hex::encode(random_bytes()))
            .await?;
        let bytes = hex::decode(stored.trim())
            .ok()
            .and_then(|b| <[u8; 32]>::try_from(b).ok())
            .ok_or_else(|| {
                Error::Store(crate::error::StoreError::Corrupt(
                    "the client-secret key is malformed".into(),
                ))
            })?;
        let key = Arc::new(bytes);
        let _ = caches.server_key.set(key.clone());
        Ok(key)
    }
}
