//! Shared state of the HTTP handlers.

use std::sync::{Arc, OnceLock};

use gatehouse_core::Directory;
use tokio::sync::watch;

use crate::config::WebConfig;
use crate::pages::Branding;

/// The server answers before its database is migrated (health checks must say
/// "not yet"), so the directory arrives later, exactly once.
#[derive(Clone)]
pub struct AppState {
    directory: Arc<OnceLock<Directory>>,
    changes: Arc<OnceLock<watch::Receiver<i64>>>,
    pub config: Arc<WebConfig>,
    /// The last SSO drift check, for the admin dashboard.
    pub(crate) drift: Arc<crate::admin::drift::LastCheck>,
}

impl AppState {
    pub fn new(config: WebConfig) -> Self {
        AppState {
            directory: Arc::new(OnceLock::new()),
            changes: Arc::new(OnceLock::new()),
            config: Arc::new(config),
            drift: Arc::default(),
        }
    }

    /// Marks the server ready: migrations ran and bootstrap is done. `changes`
    /// follows the store's change sequence (see `SqlStore::watch_changes`);
    /// in-process caches drop what they hold when it moves.
    /// Every in-process cache follows the directory's change feed from here on.
    pub fn set_ready(&self, directory: Directory, changes: watch::Receiver<i64>) {
        directory.feed().observe(*changes.borrow(), true);
        tokio::spawn(follow(directory.clone(), changes.clone()));
        let _ = self.changes.set(changes);
        let _ = self.directory.set(directory);
    }

    /// The change sequence receiver, once ready.
    pub fn changes(&self) -> Option<watch::Receiver<i64>> {
        self.changes.get().cloned()
    }

    /// The directory, once the server is ready.
    pub fn directory(&self) -> Option<&Directory> {
        self.directory.get()
    }

    pub fn branding(&self) -> Branding {
        Branding {
            title: self.config.branding_title.clone(),
            logo_url: self.config.branding_logo.as_ref().map(|_| crate::LOGO_PATH.to_string()),
        }
    }
}

/// Mirrors the store's change sequence into the directory's change feed. Per
/// notification (not per request) it reads the new events' actions once, so
/// directory caches keep what they hold through a stream of sign-ins.
async fn follow(directory: Directory, mut changes: watch::Receiver<i64>) {
    let mut seen = *changes.borrow_and_update();
    while changes.changed().await.is_ok() {
        let seq = *changes.borrow_and_update();
        // Cannot tell: assume it did.
        let moved = directory.events().directory_changed_since(seen).await.unwrap_or(true);
        directory.feed().observe(seq, moved);
        seen = seq;
    }
}
