//! In-process caches for the protocol hot paths (token endpoint, discovery,
//! JWKS), dropped when the store's change sequence moves.
//!
//! The server hands the Directory a [`ChangeFeed`] (the store's change watcher);
//! without one (the CLI, tests) nothing is cached and every call reads the
//! store. A value is stored with the sequence read *before* it was loaded, so a
//! change that lands during the load makes the next call load again.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock, RwLock};

use crate::access::AccessSnapshot;
use crate::keys::KeyRing;
use crate::model::Application;

/// The store's change sequence as this process last saw it (cheap, in memory).
pub trait ChangeFeed: Send + Sync {
    fn current(&self) -> i64;
}

/// One cached value and the change sequence it was loaded at.
pub struct Cached<T> {
    slot: RwLock<Option<(i64, Arc<T>)>>,
}

impl<T> Default for Cached<T> {
    fn default() -> Self {
        Cached {
            slot: RwLock::new(None),
        }
    }
}

impl<T> Cached<T> {
    /// The value, if it was loaded at `seq`.
    pub fn get(&self, seq: Option<i64>) -> Option<Arc<T>> {
        let seq = seq?;
        let slot = self.slot.read().ok()?;
        slot.as_ref().filter(|(s, _)| *s == seq).map(|(_, v)| v.clone())
    }

    pub fn put(&self, seq: Option<i64>, value: Arc<T>) {
        let Some(seq) = seq else { return };
        if let Ok(mut slot) = self.slot.write() {
            *slot = Some((seq, value));
        }
    }

    /// The value whatever its sequence (to reuse parts of it when reloading).
    pub fn peek(&self) -> Option<Arc<T>> {
        self.slot.read().ok()?.as_ref().map(|(_, v)| v.clone())
    }

    pub fn clear(&self) {
        if let Ok(mut slot) = self.slot.write() {
            *slot = None;
        }
    }
}

/// Lookups by key (client id, slug), all dropped together when the sequence moves.
/// Entries at one change sequence: "not found" is cached too.
type Entries<V> = (i64, HashMap<String, Option<Arc<V>>>);

pub struct KeyedCache<V> {
    map: RwLock<Entries<V>>,
}

/// Entries a keyed cache holds at most; past it, it starts over (bounds the
/// memory an attacker can fill with unknown client ids).
const KEYED_CACHE_MAX: usize = 4096;

impl<V> Default for KeyedCache<V> {
    fn default() -> Self {
        KeyedCache {
            map: RwLock::new((i64::MIN, HashMap::new())),
        }
    }
}

impl<V> KeyedCache<V> {
    /// `Some(entry)` when cached at `seq` (the entry itself may be "not found").
    pub fn get(&self, seq: Option<i64>, key: &str) -> Option<Option<Arc<V>>> {
        let seq = seq?;
        let map = self.map.read().ok()?;
        if map.0 != seq {
            return None;
        }
        map.1.get(key).cloned()
    }

    pub fn put(&self, seq: Option<i64>, key: &str, value: Option<Arc<V>>) {
        let Some(seq) = seq else { return };
        if let Ok(mut map) = self.map.write() {
            if map.0 != seq || map.1.len() >= KEYED_CACHE_MAX {
                map.0 = seq;
                map.1.clear();
            }
            map.1.insert(key.to_string(), value);
        }
    }
}

/// The caches a Directory carries (shared by its clones).
#[derive(Default)]
pub struct OAuthCaches {
    pub(crate) feed: OnceLock<Arc<dyn ChangeFeed>>,
    pub(crate) keys: Cached<KeyRing>,
    pub(crate) server_key: OnceLock<Arc<[u8; 32]>>,
    pub(crate) clients: KeyedCache<Application>,
    pub(crate) slugs: KeyedCache<Application>,
    pub(crate) access: Cached<AccessSnapshot>,
}

impl OAuthCaches {
    /// The current change sequence, or `None` when nothing may be cached.
    pub(crate) fn seq(&self) -> Option<i64> {
        self.feed.get().map(|f| f.current())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_live_until_the_sequence_moves() {
        let c: Cached<u32> = Cached::default();
        c.put(Some(1), Arc::new(7));
        assert_eq!(c.get(Some(1)).as_deref(), Some(&7));
        assert!(c.get(Some(2)).is_none());
        assert!(c.get(None).is_none(), "no feed: never cached");
        let k: KeyedCache<u32> = KeyedCache::default();
        k.put(Some(1), "a", Some(Arc::new(1)));
        k.put(Some(1), "b", None);
        assert_eq!(k.get(Some(1), "a").flatten().as_deref(), Some(&1));
        assert_eq!(k.get(Some(1), "b"), Some(None));
        assert_eq!(k.get(Some(2), "a"), None);
        k.put(Some(2), "c", None);
        assert_eq!(k.get(Some(2), "a"), None, "a new sequence starts over");
    }
}
