//! Shared state of the HTTP handlers.

use std::sync::{Arc, OnceLock};

use gatehouse_core::Directory;

/// The server answers before its database is migrated (health checks must say
/// "not yet"), so the directory arrives later, exactly once.
#[derive(Clone, Default)]
pub struct AppState {
    directory: Arc<OnceLock<Directory>>,
}

impl AppState {
    pub fn new() -> Self {
        Self::default()
    }

    /// Marks the server ready: migrations ran and bootstrap is done.
    pub fn set_ready(&self, directory: Directory) {
        let _ = self.directory.set(directory);
    }

    /// The directory, once the server is ready.
    pub fn directory(&self) -> Option<&Directory> {
        self.directory.get()
    }
}
