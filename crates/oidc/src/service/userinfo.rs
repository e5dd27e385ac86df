//! GET/POST /application/o/userinfo/ (OIDC Core §5.3, RFC 6750): the claims
//! of a live access token's person (the liveness check is introspection's).

use serde_json::Value;

use super::{Failure, Provider};
use crate::error::{ErrorCode, OAuthError};
use crate::{claims, userinfo};

impl Provider {
    /// The claims for a bearer token, or why not (`invalid_token`,
    /// `insufficient_scope`).
    pub async fn userinfo(&self, bearer: &str) -> Result<Value, Failure> {
        let live = self.live_access_token(bearer).await??;
        userinfo::check_scope(&live.token)?;
        let subject = live
            .subject
            .ok_or_else(|| OAuthError::new(ErrorCode::InvalidToken, "the token does not speak for a user"))?;
        Ok(claims::userinfo(
            &live.client.config,
            &subject.user,
            &subject.groups,
            &live.token.scopes,
        ))
    }
}
