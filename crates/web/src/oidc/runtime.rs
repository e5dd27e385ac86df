//! Per-process state of the OIDC handlers: parsed clients and serialized
//! discovery documents, each valid while the Directory's cache hands out the
//! very same application (`Arc::ptr_eq`), so they follow the change feed too.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use gatehouse_core::{Application, Directory};
use gatehouse_oidc::Client;

/// Entries kept at most per map (unknown ids are not kept at all).
const MAX_ENTRIES: usize = 4096;

/// Values derived from an application, by key, with the application they came from.
type Derived<V> = RwLock<HashMap<String, (Arc<Application>, V)>>;

#[derive(Default)]
pub struct OidcRuntime {
    clients: Derived<Arc<Client>>,
    discovery: Derived<Arc<str>>,
}

fn lookup<V: Clone>(map: &Derived<V>, key: &str, app: &Arc<Application>) -> Option<V> {
    let map = map.read().ok()?;
    map.get(key)
        .filter(|(a, _)| Arc::ptr_eq(a, app))
        .map(|(_, v)| v.clone())
}

fn store<V>(map: &Derived<V>, key: &str, app: &Arc<Application>, v: V) {
    if let Ok(mut map) = map.write() {
        if map.len() >= MAX_ENTRIES {
            map.clear();
        }
        map.insert(key.to_string(), (app.clone(), v));
    }
}

impl OidcRuntime {
    /// The OIDC client with this id.
    pub async fn client(&self, dir: &Directory, client_id: &str) -> gatehouse_core::Result<Option<Arc<Client>>> {
        let Some(app) = dir.oauth().client(client_id).await? else {
            return Ok(None);
        };
        Ok(self.parsed(client_id, app))
    }

    /// The OIDC client of the application `slug`.
    pub async fn client_by_slug(&self, dir: &Directory, slug: &str) -> gatehouse_core::Result<Option<Arc<Client>>> {
        let Some(app) = dir.oauth().by_slug_cached(slug).await? else {
            return Ok(None);
        };
        let Some(id) = app.provider_key.clone() else {
            return Ok(None);
        };
        Ok(self.parsed(&id, app))
    }

    fn parsed(&self, client_id: &str, app: Arc<Application>) -> Option<Arc<Client>> {
        if let Some(c) = lookup(&self.clients, client_id, &app) {
            return Some(c);
        }
        let client = Arc::new(Client::from_application(app.clone())?);
        store(&self.clients, client_id, &app, client.clone());
        Some(client)
    }

    /// The serialized discovery document of `client`.
    pub fn discovery(&self, external_url: &str, client: &Client) -> Arc<str> {
        let slug = client.app.slug.as_str();
        if let Some(doc) = lookup(&self.discovery, slug, &client.app) {
            return doc;
        }
        let doc: Arc<str> = Arc::from(gatehouse_oidc::discovery::document(external_url, client).to_string());
        store(&self.discovery, slug, &client.app, doc.clone());
        doc
    }
}
