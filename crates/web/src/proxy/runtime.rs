//! Forward-auth's state in this process: the change feed mirrored into an
//! atomic, the current *view* (applications indexed by host, plus the access
//! rule's snapshot), and the decision cache.
//!
//! A *generation* is the change feed's sequence (every committed change on any
//! node moves it: PostgreSQL NOTIFY, or SQLite's poll) plus a local epoch that
//! this node's own sign-outs bump at once (`AppState::note_sign_out`). The view and
//! every cached decision belong to one generation; when it moves, the next
//! request loads a new view (once, whoever asks first) and the cache starts
//! over. The hit path reads two atomics and takes no lock.

use std::ops::Deref;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use arc_swap::{ArcSwap, Guard};
use gatehouse_core::Directory;
use gatehouse_core::access::AccessSnapshot;
use gatehouse_proxy::AppTable;
use tokio::sync::{Mutex, watch};

use super::cache::DecisionCache;
use crate::state::AppState;

/// A view is reloaded at least this often, even if the feed stood still.
const VIEW_MAX_AGE_MS: i64 = 60_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Generation {
    pub feed: i64,
    pub epoch: u64,
}

/// What the handlers need once the server is ready.
pub(crate) struct Live {
    pub directory: Directory,
    /// Gatehouse's public URL, without a trailing slash.
    pub gatehouse_url: String,
}

/// The applications and the access rule of one generation.
pub(crate) struct View {
    pub generation: Generation,
    pub loaded_ms: i64,
    pub apps: AppTable,
    pub access: AccessSnapshot,
}

impl View {
    fn fresh(&self, generation: Generation, now_ms: i64) -> bool {
        self.generation == generation && now_ms.saturating_sub(self.loaded_ms) < VIEW_MAX_AGE_MS
    }
}

/// A view borrowed from the swap cell (no reference count on the hit path),
/// or owned after a reload.
pub(crate) enum ViewRef {
    Borrowed(Guard<Arc<View>>),
    Owned(Arc<View>),
}

impl ViewRef {
    pub fn into_arc(self) -> Arc<View> {
        match self {
            ViewRef::Borrowed(g) => Guard::into_inner(g),
            ViewRef::Owned(a) => a,
        }
    }
}

impl Deref for ViewRef {
    type Target = View;
    fn deref(&self) -> &View {
        match self {
            ViewRef::Borrowed(g) => g,
            ViewRef::Owned(a) => a,
        }
    }
}

pub(crate) struct ProxyRuntime {
    live: OnceLock<Live>,
    feed: Arc<AtomicI64>,
    epoch: Arc<AtomicU64>,
    view: ArcSwap<View>,
    reload: Mutex<()>,
    pub cache: DecisionCache,
}

impl ProxyRuntime {
    /// `sign_outs`: this node's sign-out counter (see `AppState::note_sign_out`).
    pub fn new(sign_outs: Arc<AtomicU64>) -> Self {
        ProxyRuntime {
            live: OnceLock::new(),
            feed: Arc::new(AtomicI64::new(0)),
            epoch: sign_outs,
            // Never fresh: the first request loads a real one.
            view: ArcSwap::from_pointee(View {
                generation: Generation {
                    feed: i64::MIN,
                    epoch: u64::MAX,
                },
                loaded_ms: i64::MIN,
                apps: AppTable::default(),
                access: AccessSnapshot::new(Vec::new(), Vec::new(), Vec::new(), &[]),
            }),
            reload: Mutex::new(()),
            cache: DecisionCache::default(),
        }
    }

    /// The directory and settings, once the server is ready. The first call
    /// starts mirroring the change feed.
    pub fn live(&self, state: &AppState) -> Option<&Live> {
        if let Some(live) = self.live.get() {
            return Some(live);
        }
        let directory = state.directory()?.clone();
        let changes = state.changes()?;
        let live = Live {
            directory,
            gatehouse_url: state.config.external_url.trim_end_matches('/').to_string(),
        };
        if self.live.set(live).is_ok() {
            tokio::spawn(mirror(changes, self.feed.clone()));
        }
        self.live.get()
    }

    pub fn generation(&self) -> Generation {
        Generation {
            feed: self.feed.load(Ordering::Acquire),
            epoch: self.epoch.load(Ordering::Acquire),
        }
    }

    /// The view of generation `generation`, loading it if needed.
    pub async fn view(&self, live: &Live, generation: Generation, now_ms: i64) -> gatehouse_core::Result<ViewRef> {
        let current = self.view.load();
        if current.fresh(generation, now_ms) {
            return Ok(ViewRef::Borrowed(current));
        }
        drop(current);
        self.reload(live).await.map(ViewRef::Owned)
    }

    /// Loads the view once, however many requests are waiting for it.
    async fn reload(&self, live: &Live) -> gatehouse_core::Result<Arc<View>> {
        let _one_at_a_time = self.reload.lock().await;
        // Read before loading: a change committed while we load leaves this
        // view stale at once, never the reverse.
        let generation = self.generation();
        let now_ms = live.directory.now().millis();
        let current = self.view.load_full();
        if current.fresh(generation, now_ms) {
            return Ok(current);
        }
        let access = live.directory.access().snapshot().await?;
        let (apps, skipped) = AppTable::new(access.applications());
        for (slug, error) in skipped {
            tracing::warn!(application = %slug, %error, "proxy provider settings are not valid; the application is not served");
        }
        let view = Arc::new(View {
            generation,
            loaded_ms: now_ms,
            apps,
            access,
        });
        self.cache.clear();
        self.view.store(view.clone());
        Ok(view)
    }
}

/// Copies the change feed into an atomic the hit path reads without a lock.
async fn mirror(mut changes: watch::Receiver<i64>, feed: Arc<AtomicI64>) {
    loop {
        let seq = *changes.borrow_and_update();
        feed.store(seq, Ordering::Release);
        if changes.changed().await.is_err() {
            return;
        }
    }
}
