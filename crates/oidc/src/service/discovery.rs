//! Discovery and JWKS documents, served from memory on a cache hit.

use std::sync::Arc;

use gatehouse_core::ProviderKind;
use gatehouse_core::cache::NO_DEADLINE;
use gatehouse_crypto::signing::SigningAlg;

use super::Provider;
use crate::discovery;

impl Provider {
    /// The serialized discovery document of the application `slug`, if it is an OIDC client.
    pub async fn discovery(&self, slug: &str) -> gatehouse_core::Result<Option<Arc<str>>> {
        let generation = self.dir.feed().directory_generation();
        if let Some(doc) = self.discovery.get(&slug.to_string(), generation, 0) {
            return Ok(Some((*doc).clone()));
        }
        let Some(client) = self.client_by_slug(slug).await? else {
            return Ok(None);
        };
        let doc: Arc<str> = Arc::from(discovery::document(&self.external_url, &client).to_string());
        self.discovery
            .insert(slug.to_string(), generation, NO_DEADLINE, doc.clone());
        Ok(Some(doc))
    }

    /// The published keys for the application `slug`. OIDC applications sign
    /// with their configured algorithm; forward-auth applications point
    /// `X-authentik-meta-jwks` here for their ES256 identity JWT. The key must
    /// exist before anyone verifies with it, so it is made on first ask.
    pub async fn jwks(&self, slug: &str) -> gatehouse_core::Result<Option<Arc<str>>> {
        let alg = match self.client_by_slug(slug).await? {
            Some(client) => client.config.signing_alg,
            None => match self.dir.apps().by_slug(slug).await? {
                Some(app) if app.provider == Some(ProviderKind::Proxy) => SigningAlg::Es256,
                _ => return Ok(None),
            },
        };
        let mut ring = self.dir.keys().ring().await?;
        if ring.signer(alg, self.dir.now()).is_none() {
            self.dir.keys().signing_key(alg).await?;
            ring = self.dir.keys().ring().await?;
        }
        Ok(Some(ring.jwks_json().clone()))
    }
}
