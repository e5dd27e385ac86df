//! The decision cache: (application, session cookie) → allow with prebuilt
//! headers, forbidden, or sign in; read on every forward-auth check.
//!
//! A lock-free map (papaya: readers never block and never write shared
//! memory), keyed by SHA-256 of the application id and the cookie token, so
//! neither the token nor its stored digest sits in memory as a key. Each entry
//! carries the generation it was computed in and an end time: a hit counts
//! only in the current generation (see `runtime`) and before its end.

use axum::http::HeaderMap;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::runtime::Generation;

/// How long a decision is reused at most. Changes (sign-out, revocation,
/// bindings, users) end it sooner through the generation.
pub(crate) const DECISION_TTL_MS: i64 = 5_000;
/// Past this many entries the cache starts over (bounds memory against
/// floods of made-up cookies).
const MAX_ENTRIES: usize = 100_000;

pub(crate) type Key = [u8; 32];

#[derive(Debug)]
pub(crate) enum Decision {
    /// With the identity headers to send.
    Allow(HeaderMap),
    Forbidden,
    SignIn,
}

#[derive(Debug)]
pub(crate) struct Entry {
    pub generation: Generation,
    /// Milliseconds since the epoch, by the directory's clock.
    pub until_ms: i64,
    pub decision: Decision,
}

#[derive(Default)]
pub(crate) struct DecisionCache {
    map: papaya::HashMap<Key, Entry>,
}

impl DecisionCache {
    pub fn key(app_id: Uuid, token: &str) -> Key {
        let mut h = Sha256::new();
        h.update(app_id.as_bytes());
        h.update(token.as_bytes());
        h.finalize().into()
    }

    /// Calls `f` with the decision if there is a current one.
    pub fn get<R>(&self, key: &Key, generation: Generation, now_ms: i64, f: impl FnOnce(&Decision) -> R) -> Option<R> {
        let map = self.map.pin();
        let entry = map.get(key)?;
        (entry.generation == generation && now_ms < entry.until_ms).then(|| f(&entry.decision))
    }

    pub fn insert(&self, key: Key, entry: Entry) {
        let map = self.map.pin();
        if map.len() >= MAX_ENTRIES {
            map.clear();
        }
        map.insert(key, entry);
    }

    pub fn clear(&self) {
        self.map.pin().clear();
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.map.pin().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hits_need_the_same_generation_and_time_left() {
        let c = DecisionCache::default();
        let app = Uuid::new_v4();
        let k = DecisionCache::key(app, "tok");
        assert_ne!(k, DecisionCache::key(Uuid::new_v4(), "tok"), "per application");
        let generation = Generation { feed: 7, epoch: 0 };
        c.insert(
            k,
            Entry {
                generation,
                until_ms: 1000,
                decision: Decision::Forbidden,
            },
        );
        assert_eq!(
            c.get(&k, generation, 999, |d| matches!(d, Decision::Forbidden)),
            Some(true)
        );
        assert_eq!(c.get(&k, generation, 1000, |_| ()), None, "expired");
        assert_eq!(c.get(&k, Generation { feed: 8, epoch: 0 }, 0, |_| ()), None);
        assert_eq!(c.get(&k, Generation { feed: 7, epoch: 1 }, 0, |_| ()), None);
        c.clear();
        assert_eq!(c.len(), 0);
    }

    #[test]
    fn the_cache_is_bounded() {
        let c = DecisionCache::default();
        let generation = Generation { feed: 0, epoch: 0 };
        for i in 0..(MAX_ENTRIES + 10) {
            c.insert(
                DecisionCache::key(Uuid::nil(), &i.to_string()),
                Entry {
                    generation,
                    until_ms: 1,
                    decision: Decision::SignIn,
                },
            );
        }
        assert!(c.len() <= MAX_ENTRIES);
    }
}
