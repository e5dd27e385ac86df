//! Forward-auth's request service: the check reverse proxies make before
//! every request to a protected service, and the view the outpost pages
//! resolve hosts in. Web handlers parse HTTP, call [`ForwardAuthService::check`]
//! and render the [`Answer`] (see `outcome` for how each endpoint answers).
//!
//! This is the hottest path in Gatehouse: on a hit it parses a few headers,
//! hashes the cookie, reads the decision cache and clones the prebuilt
//! headers: no database, no lock. The view (applications by host, and the
//! access snapshot with the MFA policy) and every decision follow the
//! directory's change feed (`gatehouse_core::cache`), so a change on any node
//! reaches every check within the feed's delay; a decision also ends with its
//! parent session's idle or absolute end, and after [`DECISION_TTL_MS`].

mod decide;

use std::sync::Arc;

use gatehouse_core::Directory;
use gatehouse_core::access::AccessSnapshot;
use gatehouse_core::cache::{FeedCell, FeedMap};
use http::HeaderMap;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::{AppTable, Endpoint, ProxyApp, Target, Verdict, cookie, redirect};

/// How long a decision is reused at most. Changes (sign-out, revocation,
/// bindings, users) end it sooner through the change feed.
pub const DECISION_TTL_MS: i64 = 5_000;
/// A view is reloaded at least this often, even if the feed stood still.
const VIEW_MAX_AGE_MS: i64 = 60_000;
/// Past this many decisions the cache starts over (bounds memory against
/// floods of made-up cookies).
const MAX_DECISIONS: usize = 100_000;

/// The applications and the access rule as of one generation of the feed.
pub struct View {
    pub apps: AppTable,
    pub access: AccessSnapshot,
}

/// A decision for one (application, proxy cookie), as cached.
#[derive(Debug)]
pub enum Decision {
    /// With the identity headers to send.
    Allow(HeaderMap),
    Forbidden,
    SignIn,
}

/// Where an answer came from (for the checks' metrics).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The decision cache.
    Hit,
    /// Decided now, from the database.
    Miss,
    /// Without a session: unknown host, skipped path, no cookie.
    Direct,
}

/// What a check answers; `outcome::Outcome::of(endpoint, verdict)` says how.
#[derive(Debug)]
pub struct Answer {
    pub verdict: Verdict,
    /// The headers to pass on with `Allow`.
    pub headers: Option<HeaderMap>,
    /// Where `/start` is, for endpoints that redirect a sign-in.
    pub start_url: Option<String>,
    pub source: Source,
}

#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error("the proxy did not say which URL was requested")]
    NoTarget,
    #[error(transparent)]
    Core(#[from] gatehouse_core::Error),
}

pub struct ForwardAuthService {
    dir: Directory,
    /// Gatehouse's public URL, without a trailing slash.
    gatehouse_url: String,
    view: FeedCell<View>,
    reload: tokio::sync::Mutex<()>,
    decisions: FeedMap<[u8; 32], Decision>,
}

impl ForwardAuthService {
    pub fn new(dir: Directory, gatehouse_url: &str) -> Self {
        ForwardAuthService {
            dir,
            gatehouse_url: gatehouse_url.trim_end_matches('/').to_string(),
            view: FeedCell::default(),
            reload: tokio::sync::Mutex::new(()),
            decisions: FeedMap::new(MAX_DECISIONS),
        }
    }

    pub fn directory(&self) -> &Directory {
        &self.dir
    }

    pub fn gatehouse_url(&self) -> &str {
        &self.gatehouse_url
    }

    /// The check of `endpoint` for the request whose headers the proxy sent.
    pub async fn check(&self, endpoint: Endpoint, headers: &HeaderMap) -> Result<Answer, CheckError> {
        let target = match endpoint {
            Endpoint::Nginx => Target::for_nginx(headers),
            Endpoint::Traefik | Endpoint::Caddy => Target::for_forwarded(headers),
        }
        .ok_or(CheckError::NoTarget)?;
        let view = self.view().await?;
        let Some(app) = view.apps.resolve(&target.authority) else {
            return Ok(direct(Verdict::UnknownHost, None));
        };
        if app.skips(&target) {
            return Ok(direct(Verdict::Allow, Some(blank().clone())));
        }
        let Some(token) = cookie::read(headers, &app.cookie_name) else {
            return Ok(sign_in(app, &target, Source::Direct));
        };
        let key = decision_key(app.id, token);
        let generation = self.dir.feed().generation();
        let now_ms = self.dir.now().millis();
        if let Some(answer) = self
            .decisions
            .with(&key, generation, now_ms, |d| answer(d, app, &target, Source::Hit))
        {
            return Ok(answer);
        }
        let (decision, until_ms) = decide::decide(self, &view, app, token, now_ms).await?;
        let answer = answer(&decision, app, &target, Source::Miss);
        self.decisions.insert(key, generation, until_ms, decision);
        Ok(answer)
    }

    /// The current view, loading it (once, however many requests wait) when
    /// the feed moved or it is a minute old.
    pub async fn view(&self) -> gatehouse_core::Result<Arc<View>> {
        let now_ms = self.dir.now().millis();
        if let Some(v) = self.view.get(self.dir.feed().directory_generation(), now_ms) {
            return Ok(v);
        }
        let _one_at_a_time = self.reload.lock().await;
        // Read before loading: a change committed while we load leaves this
        // view stale at once, never the reverse.
        let generation = self.dir.feed().directory_generation();
        if let Some(v) = self.view.get(generation, now_ms) {
            return Ok(v);
        }
        let access = self.dir.access().snapshot().await?;
        let (apps, skipped) = AppTable::new(access.applications());
        for (slug, error) in skipped {
            tracing::warn!(application = %slug, %error, "proxy provider settings are not valid; the application is not served");
        }
        let view = Arc::new(View { apps, access });
        self.decisions.clear();
        self.view.put(generation, now_ms + VIEW_MAX_AGE_MS, view.clone());
        Ok(view)
    }
}

/// The cache key: SHA-256 of the application id and the cookie token, so
/// neither the token nor its stored digest sits in memory as a key.
fn decision_key(app_id: Uuid, token: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(app_id.as_bytes());
    h.update(token.as_bytes());
    h.finalize().into()
}

/// The headers of a pass without identity (a skipped path), built once.
fn blank() -> &'static HeaderMap {
    static BLANK: std::sync::OnceLock<HeaderMap> = std::sync::OnceLock::new();
    BLANK.get_or_init(crate::headers::blank_identity_headers)
}

fn direct(verdict: Verdict, headers: Option<HeaderMap>) -> Answer {
    Answer {
        verdict,
        headers,
        start_url: None,
        source: Source::Direct,
    }
}

fn sign_in(app: &ProxyApp, target: &Target<'_>, source: Source) -> Answer {
    Answer {
        verdict: Verdict::SignIn,
        headers: None,
        start_url: Some(redirect::start_url(app, target)),
        source,
    }
}

fn answer(decision: &Decision, app: &ProxyApp, target: &Target<'_>, source: Source) -> Answer {
    match decision {
        Decision::Allow(headers) => Answer {
            verdict: Verdict::Allow,
            headers: Some(headers.clone()),
            start_url: None,
            source,
        },
        Decision::Forbidden => Answer {
            verdict: Verdict::Forbidden,
            headers: None,
            start_url: None,
            source,
        },
        Decision::SignIn => sign_in(app, target, source),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decision_keys_are_per_application_and_token() {
        let app = Uuid::new_v4();
        assert_eq!(decision_key(app, "tok"), decision_key(app, "tok"));
        assert_ne!(decision_key(app, "tok"), decision_key(Uuid::new_v4(), "tok"));
        assert_ne!(decision_key(app, "tok"), decision_key(app, "tok2"));
    }
}
