//! POST /application/o/revoke/ (RFC 7009). 200 whatever the token was (§2.2);
//! a client can revoke only its own tokens. Revoking a refresh token revokes
//! its grant, and with it every access token of the grant (§2.1).

use gatehouse_core::Timestamp;
use gatehouse_crypto::sha256_hex;
use gatehouse_crypto::signing::UnverifiedJwt;

use super::{Failure, Provider};
use crate::client::Client;
use crate::params::Params;
use crate::revoke;

impl Provider {
    pub async fn revoke(&self, authorization: Option<&str>, form: &Params) -> Result<(), Failure> {
        let client = self.authenticate(authorization, form).await?;
        let (token_text, _hint) = revoke::parse(form)?;
        if revoke::looks_like_jwt(&token_text) {
            return Ok(self.revoke_access_token(&client, &token_text).await?);
        }
        let oauth = self.dir.oauth();
        if let Some(r) = oauth.refresh_token(&sha256_hex(token_text.as_bytes())).await?
            && let Some(grant) = oauth.grant(r.grant_id).await?
            && grant.application_id == client.app.id
        {
            oauth.revoke_grant(grant.id).await?;
        }
        Ok(())
    }

    /// Puts a JWT access token of `client` on the revocation list until it
    /// expires. The signature is checked, the expiry not: an expired token
    /// needs nothing.
    async fn revoke_access_token(&self, client: &Client, text: &str) -> gatehouse_core::Result<()> {
        let ring = self.dir.keys().ring().await?;
        let now = self.dir.now();
        let Ok(jwt) = UnverifiedJwt::parse(text) else {
            return Ok(());
        };
        let Some(key) = jwt.kid().and_then(|k| ring.by_kid(k, now)) else {
            return Ok(());
        };
        if jwt.verify_with(text, key).is_err() {
            return Ok(());
        }
        let claim = |k: &str| jwt.claims.get(k).and_then(serde_json::Value::as_str);
        if claim("client_id") != Some(client.client_id()) {
            return Ok(());
        }
        if let (Some(jti), Some(exp)) = (claim("jti"), jwt.claims.get("exp").and_then(serde_json::Value::as_i64)) {
            let exp = Timestamp(exp.saturating_mul(1000));
            if exp > now {
                self.dir.oauth().revoke_access_token(jti, exp).await?;
            }
        }
        Ok(())
    }
}
