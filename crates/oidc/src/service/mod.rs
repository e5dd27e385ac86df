//! The provider's request services: each takes an already-parsed request (and
//! the signed-in person where there is one), reads and writes through the
//! directory's services, and returns an outcome for the HTTP layer to render.
//! Every path that issues a credential asks the one gate
//! (`gatehouse_core::access`): authorize, code exchange, refresh, device
//! confirmation and device poll; introspection and userinfo ask it again
//! before they call a token live.
//!
//! [`Provider`] is the per-process state: the directory and the caches of
//! parsed clients and discovery documents, which follow the change feed.

mod authorize;
mod device;
mod discovery;
mod end_session;
mod introspect;
mod liveness;
mod revoke;
mod token;
mod userinfo;

use std::sync::Arc;

use gatehouse_core::cache::{FeedMap, NO_DEADLINE};
use gatehouse_core::{Actor, Application, Audit, Directory, User};

use crate::client::{self as oidc_client, AuthCheck, Client};
use crate::error::OAuthError;
use crate::params::Params;

pub use authorize::{AuthorizeOutcome, ConsentAnswer, ConsentPrompt};
pub use device::{DeviceOutcome, DevicePrompt};
pub use end_session::{EndSessionOutcome, LogoutPrompt};
pub use liveness::{Live, Subject};

/// Entries kept at most per cache ("not found" is kept too, so unknown ids
/// cannot grow it without end).
const CACHE_MAX: usize = 4096;

/// A request the provider could not serve: a protocol error to answer with,
/// or a failure of the directory (answered as `server_error`, logged).
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    #[error(transparent)]
    Protocol(#[from] OAuthError),
    #[error(transparent)]
    Internal(#[from] gatehouse_core::Error),
}

/// The OIDC provider of one process.
pub struct Provider {
    dir: Directory,
    external_url: String,
    by_client_id: FeedMap<String, Option<Arc<Client>>>,
    by_slug: FeedMap<String, Option<Arc<Client>>>,
    discovery: FeedMap<String, Arc<str>>,
}

impl Provider {
    pub fn new(dir: Directory, external_url: &str) -> Self {
        Provider {
            dir,
            external_url: external_url.to_string(),
            by_client_id: FeedMap::new(CACHE_MAX),
            by_slug: FeedMap::new(CACHE_MAX),
            discovery: FeedMap::new(CACHE_MAX),
        }
    }

    pub fn directory(&self) -> &Directory {
        &self.dir
    }

    pub fn issuer(&self, client: &Client) -> String {
        client.issuer(&self.external_url)
    }

    /// The OIDC client with this id (parsed once per change of the directory).
    pub async fn client(&self, client_id: &str) -> gatehouse_core::Result<Option<Arc<Client>>> {
        let generation = self.dir.feed().directory_generation();
        if let Some(hit) = self.by_client_id.get(&client_id.to_string(), generation, 0) {
            return Ok((*hit).clone());
        }
        let client = self.dir.oauth().client(client_id).await?.and_then(parse);
        self.by_client_id
            .insert(client_id.to_string(), generation, NO_DEADLINE, client.clone());
        Ok(client)
    }

    /// The OIDC client of the application `slug`.
    pub async fn client_by_slug(&self, slug: &str) -> gatehouse_core::Result<Option<Arc<Client>>> {
        let generation = self.dir.feed().directory_generation();
        if let Some(hit) = self.by_slug.get(&slug.to_string(), generation, 0) {
            return Ok((*hit).clone());
        }
        let client = self.dir.oauth().by_slug(slug).await?.and_then(parse);
        self.by_slug
            .insert(slug.to_string(), generation, NO_DEADLINE, client.clone());
        Ok(client)
    }

    /// The OIDC client of an application found by id (device codes name one).
    async fn client_of_app(&self, app: &Application) -> gatehouse_core::Result<Option<Arc<Client>>> {
        match &app.provider_key {
            Some(id) => Ok(self.client(id).await?.filter(|c| c.app.id == app.id)),
            None => Ok(None),
        }
    }

    /// Authenticates the calling client (RFC 6749 §2.3): Basic, post or none.
    pub async fn authenticate(&self, authorization: Option<&str>, form: &Params) -> Result<Arc<Client>, Failure> {
        let presented = oidc_client::presented(authorization, form)?;
        let client = self
            .client(&presented.client_id)
            .await?
            .ok_or_else(oidc_client::failed)?;
        match oidc_client::check(&client, &presented)? {
            AuthCheck::Public => {}
            AuthCheck::Secret { presented, stored } => {
                if !self.dir.oauth().client_secret_matches(presented, stored).await? {
                    return Err(oidc_client::failed().into());
                }
            }
        }
        Ok(client)
    }
}

fn parse(app: Application) -> Option<Arc<Client>> {
    Client::from_application(Arc::new(app)).map(Arc::new)
}

/// The caller's audit context, acting as `user`.
fn acting(audit: &Audit, user: &User) -> Audit {
    Audit {
        actor: Actor::User(user.username.clone()),
        ..audit.clone()
    }
}
