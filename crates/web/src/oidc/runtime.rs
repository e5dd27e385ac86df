//! The OIDC provider of this process (`gatehouse_oidc::Provider`: the
//! directory and the caches of parsed clients and discovery documents), made
//! once the directory is ready.

use std::sync::OnceLock;

use gatehouse_oidc::Provider;

use crate::state::AppState;

#[derive(Default)]
pub struct OidcRuntime {
    provider: OnceLock<Provider>,
}

impl OidcRuntime {
    /// The provider; `None` while the server starts.
    pub fn provider(&self, state: &AppState) -> Option<&Provider> {
        let dir = state.directory()?;
        Some(
            self.provider
                .get_or_init(|| Provider::new(dir.clone(), &state.config.external_url)),
        )
    }
}
