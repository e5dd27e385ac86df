//! POST /application/o/introspect/ (RFC 7662). Only confidential clients may
//! ask, and only about their own tokens; everything else, and every token the
//! liveness check refuses, reads `{"active": false}`.

use serde_json::Value;

use super::{Failure, Provider};
use crate::error::OAuthError;
use crate::params::Params;
use crate::{claims, introspect, revoke};

impl Provider {
    pub async fn introspect(&self, authorization: Option<&str>, form: &Params) -> Result<Value, Failure> {
        let client = self.authenticate(authorization, form).await?;
        if client.config.is_public() {
            return Err(OAuthError::invalid_client("public clients cannot introspect tokens").into());
        }
        let (token_text, _hint) = revoke::parse(form)?;
        if revoke::looks_like_jwt(&token_text) {
            return Ok(match self.live_access_token(&token_text).await? {
                Ok(live) if live.client.app.id == client.app.id => {
                    let username = live.subject.as_ref().map(|s| s.user.username.as_str());
                    introspect::access_token(&live.token, username)
                }
                _ => introspect::inactive(),
            });
        }
        let Ok((r, subject)) = self.live_refresh_token(&token_text, &client).await? else {
            return Ok(introspect::inactive());
        };
        Ok(introspect::refresh_token(
            &r.scopes,
            client.client_id(),
            &claims::subject(client.config.sub_mode, &subject.user),
            &subject.user.username,
            &self.issuer(&client),
            r.created_at.millis() / 1000,
            r.expires_at.millis() / 1000,
        ))
    }
}
