//! One shape for every in-process cache that follows the change feed: the
//! access snapshot, signing key rings, OIDC clients and discovery documents,
//! forward-auth's view and decisions, LDAP's directory snapshot.
//!
//! Every committed change on any node moves the store's change sequence
//! (PostgreSQL `NOTIFY`, SQLite's poll). The server mirrors it into the
//! [`ChangeFeed`] (web's `state::follow`; atomics: the hit path takes no
//! lock); a change
//! made in this process moves it at once ([`ChangeFeed::bump`], at commit). A
//! cached value is stamped with the [`Generation`] read *before* it was loaded
//! and is served only while the generation is unchanged and its own deadline
//! (if any) has not passed, so a change that lands during a load makes the
//! next call load again. Without a live feed (the CLI, most tests) nothing is
//! ever served from a cache.
//!
//! The feed has two generations. [`ChangeFeed::generation`] moves with every
//! change; [`ChangeFeed::directory_generation`] only with changes to what a
//! snapshot of the directory holds (users, groups, applications, bindings,
//! keys, policies), not with sign-ins ([`crate::events::is_sign_in_noise`],
//! decided per notification by `events().directory_changed_since`).
//! Every sign-in writes an event; caches of directory structure (the access
//! snapshot, forward-auth's view, OIDC clients and keys) follow the second,
//! so a stream of sign-ins does not make them reload.

use std::hash::Hash;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};

use arc_swap::ArcSwapOption;

/// The change sequence as this process last saw it, plus a local epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Generation {
    pub seq: i64,
    pub epoch: u64,
}

/// The change feed as seen by this process.
#[derive(Debug, Default)]
pub struct ChangeFeed {
    live: AtomicBool,
    all: Counter,
    directory: Counter,
}

/// One generation: the store's sequence and this process's own changes.
#[derive(Debug, Default)]
struct Counter {
    seq: AtomicI64,
    epoch: AtomicU64,
}

impl Counter {
    fn read(&self) -> Generation {
        Generation {
            seq: self.seq.load(Ordering::Acquire),
            epoch: self.epoch.load(Ordering::Acquire),
        }
    }
}

impl ChangeFeed {
    /// The current generation; `None` until the feed is followed (nothing is cached then).
    pub fn generation(&self) -> Option<Generation> {
        self.live.load(Ordering::Acquire).then(|| self.all.read())
    }

    /// The generation of what a directory snapshot holds: sign-ins do not move it.
    pub fn directory_generation(&self) -> Option<Generation> {
        self.live.load(Ordering::Acquire).then(|| self.directory.read())
    }

    /// The store's change sequence moved to `seq`; `directory`: the changes
    /// up to it include more than sign-ins. The first call makes caching live.
    pub fn observe(&self, seq: i64, directory: bool) {
        self.all.seq.store(seq, Ordering::Release);
        if directory {
            self.directory.seq.store(seq, Ordering::Release);
        }
        self.live.store(true, Ordering::Release);
    }

    /// A change made in this process: what is cached is stale from now on,
    /// before the store's notification comes round (directory caches too
    /// unless `directory` is false: only sign-ins were written).
    pub fn bump(&self, directory: bool) {
        self.all.epoch.fetch_add(1, Ordering::AcqRel);
        if directory {
            self.directory.epoch.fetch_add(1, Ordering::AcqRel);
        }
    }
}

/// "Valid while the generation holds" (no deadline of its own).
pub const NO_DEADLINE: i64 = i64::MAX;

struct Stamped<T> {
    generation: Generation,
    /// Milliseconds since the epoch (by the directory's clock).
    until_ms: i64,
    value: Arc<T>,
}

/// One cached value.
pub struct FeedCell<T> {
    slot: ArcSwapOption<Stamped<T>>,
}

impl<T> Default for FeedCell<T> {
    fn default() -> Self {
        FeedCell {
            slot: ArcSwapOption::empty(),
        }
    }
}

impl<T> FeedCell<T> {
    /// The value, if it was loaded in `generation` and its deadline is after `now_ms`.
    pub fn get(&self, generation: Option<Generation>, now_ms: i64) -> Option<Arc<T>> {
        let generation = generation?;
        let slot = self.slot.load();
        let s = slot.as_ref()?;
        (s.generation == generation && now_ms < s.until_ms).then(|| s.value.clone())
    }

    /// Stores `value`, loaded in `generation` (read before loading), valid until `until_ms`.
    pub fn put(&self, generation: Option<Generation>, until_ms: i64, value: Arc<T>) {
        if let Some(generation) = generation {
            self.slot.store(Some(Arc::new(Stamped {
                generation,
                until_ms,
                value,
            })));
        }
    }

    /// The last value whatever its generation (to reuse parts of it when reloading).
    pub fn peek(&self) -> Option<Arc<T>> {
        self.slot.load().as_ref().map(|s| s.value.clone())
    }

    pub fn clear(&self) {
        self.slot.store(None);
    }
}

/// Cached values by key. Lock-free reads (papaya: readers never block and
/// never write shared memory); bounded, so a flood of unknown keys cannot
/// grow it without end.
pub struct FeedMap<K, V> {
    map: papaya::HashMap<K, Stamped<V>>,
    max_entries: usize,
}

impl<K: Hash + Eq, V> FeedMap<K, V> {
    pub fn new(max_entries: usize) -> Self {
        FeedMap {
            map: papaya::HashMap::new(),
            max_entries,
        }
    }

    /// Calls `f` with the value for `key` if one is current.
    pub fn with<R>(&self, key: &K, generation: Option<Generation>, now_ms: i64, f: impl FnOnce(&V) -> R) -> Option<R> {
        let generation = generation?;
        let map = self.map.pin();
        let s = map.get(key)?;
        (s.generation == generation && now_ms < s.until_ms).then(|| f(&s.value))
    }

    /// The value for `key` if one is current.
    pub fn get(&self, key: &K, generation: Option<Generation>, now_ms: i64) -> Option<Arc<V>> {
        let generation = generation?;
        let map = self.map.pin();
        let s = map.get(key)?;
        (s.generation == generation && now_ms < s.until_ms).then(|| s.value.clone())
    }

    pub fn insert(&self, key: K, generation: Option<Generation>, until_ms: i64, value: V) -> Arc<V> {
        let value = Arc::new(value);
        if let Some(generation) = generation {
            let map = self.map.pin();
            if map.len() >= self.max_entries {
                map.clear();
            }
            map.insert(
                key,
                Stamped {
                    generation,
                    until_ms,
                    value: value.clone(),
                },
            );
        }
        value
    }

    pub fn clear(&self) {
        self.map.pin().clear();
    }

    pub fn len(&self) -> usize {
        self.map.pin().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_is_cached_until_the_feed_is_followed() {
        let feed = ChangeFeed::default();
        let cell: FeedCell<u32> = FeedCell::default();
        cell.put(feed.generation(), NO_DEADLINE, Arc::new(1));
        assert!(cell.get(feed.generation(), 0).is_none());
        feed.observe(7, true);
        cell.put(feed.generation(), NO_DEADLINE, Arc::new(2));
        assert_eq!(cell.get(feed.generation(), 0).as_deref(), Some(&2));
    }

    #[test]
    fn values_live_until_the_generation_moves_or_their_deadline() {
        let feed = ChangeFeed::default();
        feed.observe(1, true);
        let cell: FeedCell<u32> = FeedCell::default();
        cell.put(feed.generation(), 100, Arc::new(7));
        assert_eq!(cell.get(feed.generation(), 99).as_deref(), Some(&7));
        assert!(cell.get(feed.generation(), 100).is_none(), "past its deadline");
        feed.bump(true);
        assert!(cell.get(feed.generation(), 0).is_none(), "a local change");
        cell.put(feed.generation(), NO_DEADLINE, Arc::new(8));
        feed.observe(2, true);
        assert!(cell.get(feed.generation(), 0).is_none(), "a change anywhere");
        assert_eq!(cell.peek().as_deref(), Some(&8));
    }

    #[test]
    fn maps_are_per_generation_and_bounded() {
        let feed = ChangeFeed::default();
        feed.observe(1, true);
        let map: FeedMap<u32, &str> = FeedMap::new(10);
        map.insert(1, feed.generation(), NO_DEADLINE, "a");
        assert_eq!(map.with(&1, feed.generation(), 0, |v| *v), Some("a"));
        assert_eq!(map.get(&2, feed.generation(), 0), None);
        feed.observe(2, true);
        assert_eq!(map.with(&1, feed.generation(), 0, |v| *v), None);
        for i in 0..25 {
            map.insert(i, feed.generation(), NO_DEADLINE, "x");
        }
        assert!(map.len() <= 10);
    }

    #[test]
    fn sign_ins_leave_the_directory_generation() {
        let feed = ChangeFeed::default();
        feed.observe(1, true);
        let directory = feed.directory_generation();
        feed.observe(2, false);
        feed.bump(false);
        assert_ne!(
            feed.generation().map(|g| g.seq),
            Some(1),
            "every change moves the first"
        );
        assert_eq!(feed.directory_generation(), directory, "sign-ins leave the second");
        feed.bump(true);
        assert_ne!(feed.directory_generation(), directory, "a local directory change");
        let before = feed.directory_generation();
        feed.observe(3, true);
        assert_ne!(feed.directory_generation(), before, "a directory change anywhere");
    }
}
