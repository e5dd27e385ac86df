//! Shared state of the HTTP handlers.

use std::sync::{Arc, OnceLock};

use gatehouse_core::Directory;
use gatehouse_core::cache::ChangeFeed;
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
}

impl AppState {
    pub fn new(config: WebConfig) -> Self {
        AppState {
            directory: Arc::new(OnceLock::new()),
            changes: Arc::new(OnceLock::new()),
            config: Arc::new(config),
        }
    }

    /// Marks the server ready: migrations ran and bootstrap is done. `changes`
    /// follows the store's change sequence (see `SqlStore::watch_changes`);
    /// in-process caches drop what they hold when it moves.
    /// Every in-process cache follows the directory's change feed from here on.
    pub fn set_ready(&self, directory: Directory, changes: watch::Receiver<i64>) {
        directory.feed().observe(*changes.borrow());
        tokio::spawn(follow(changes.clone(), directory.feed().clone()));
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

/// Copies the store's change sequence into the directory's change feed.
async fn follow(mut changes: watch::Receiver<i64>, feed: Arc<ChangeFeed>) {
    loop {
        feed.observe(*changes.borrow_and_update());
        if changes.changed().await.is_err() {
            return;
        }
    }
}
