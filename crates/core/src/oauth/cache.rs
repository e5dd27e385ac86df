//! The caches the core services keep for the protocol hot paths (token
//! endpoint, JWKS, the access rule, API tokens, user pages), all on the one change-feed
//! cache shape of [`crate::cache`].

use std::sync::{Arc, OnceLock};

use crate::access::AccessSnapshot;
use crate::cache::{FeedCell, FeedMap};
use crate::keys::KeyRing;
use crate::listing::{Page, UserQuery};
use crate::model::{ApiToken, Group, User};
use crate::pages::UserRow;

/// Lookups by key hold at most this many entries, so unknown keys cannot
/// grow a map without end.
const KEYED_CACHE_MAX: usize = 4096;
/// Pages are large (a hundred users each): keep fewer.
const USER_PAGES_MAX: usize = 64;

/// The caches a Directory carries (shared by its clones).
pub struct CoreCaches {
    pub(crate) keys: FeedCell<KeyRing>,
    /// The client-secret HMAC key: created once, never changes.
    pub(crate) server_key: OnceLock<Arc<[u8; 32]>>,
    pub(crate) access: FeedCell<AccessSnapshot>,
    /// API tokens that authenticated, by key hash, with their user (REST API).
    pub(crate) api_tokens: FeedMap<String, (ApiToken, User)>,
    /// Every group (a few dozen): superuser status and group names of users.
    pub(crate) groups: FeedCell<Vec<Group>>,
    /// Whether a user is a superuser, by user id (the REST API's every request).
    pub(crate) superusers: FeedMap<uuid::Uuid, bool>,
    /// Pages of users by query (the REST API's and admin's user lists).
    pub(crate) user_pages: FeedMap<(UserQuery, Option<bool>), Page<UserRow>>,
}

impl Default for CoreCaches {
    fn default() -> Self {
        CoreCaches {
            keys: FeedCell::default(),
            server_key: OnceLock::new(),
            access: FeedCell::default(),
            api_tokens: FeedMap::new(KEYED_CACHE_MAX),
            groups: FeedCell::default(),
            superusers: FeedMap::new(KEYED_CACHE_MAX),
            user_pages: FeedMap::new(USER_PAGES_MAX),
        }
    }
}
