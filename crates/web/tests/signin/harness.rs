use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, Response, StatusCode, header};
use gatehouse_core::NewUser;
use gatehouse_core::{Audit, Directory, FixedClock, Timestamp};
use gatehouse_crypto::{HashParams, PasswordHasher};
use gatehouse_store::SqlStore;
use gatehouse_web::{AppState, WebConfig};
use tower::ServiceExt;

pub struct World {
    pub dir: Directory,
    pub clock: Arc<FixedClock>,
    pub router: Router,
    feed: tokio::sync::watch::Sender<i64>,
    _tmp: tempfile::TempDir,
}

pub const PASSWORD: &str = "Correct-Horse-42";

impl World {
    pub async fn new() -> World {
        Self::with_params(
            HashParams {
                m_cost_kib: 64,
                t_cost: 1,
                p_cost: 1,
            },
            "http://auth.test",
        )
        .await
    }

    pub async fn with_params(params: HashParams, external_url: &str) -> World {
        Self::with_config(params, WebConfig::for_tests(external_url)).await
    }

    pub async fn with_config(params: HashParams, config: WebConfig) -> World {
        let tmp = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", tmp.path().join("gh.db").display());
        let store = SqlStore::open(&url).await.unwrap();
        let clock = Arc::new(FixedClock::new(Timestamp(1_800_000_000_000)));
        let dir = Directory::new(
            Arc::new(store),
            clock.clone(),
            PasswordHasher::new(params, 2).unwrap(),
            Default::default(),
        );
        let state = AppState::new(config);
        let (feed, changes) = tokio::sync::watch::channel(0);
        state.set_ready(dir.clone(), changes);
        World {
            dir,
            clock,
            router: gatehouse_web::router(state),
            feed,
            _tmp: tmp,
        }
    }

    /// What the change listener does when any node commits: the feed moves,
    /// and the caches that follow it load again. (Used by the OIDC tests,
    /// which share this harness.)
    #[allow(dead_code)]
    pub async fn changed(&self) {
        let seq = self.dir.change_seq().await.unwrap();
        self.feed.send_replace(seq);
        // The server's mirror task reads the new events before it moves the
        // feed: wait until it has.
        for _ in 0..2000 {
            if self.dir.feed().generation().is_some_and(|g| g.seq == seq) {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        }
        panic!("the change feed did not reach {seq}");
    }

    pub async fn user(&self, name: &str) {
        let audit = Audit::cli("test");
        self.dir
            .users()
            .create(
                &audit,
                NewUser {
                    username: name.into(),
                    email: format!("{name}@example.com"),
                    name: format!("{name} Example"),
                },
            )
            .await
            .unwrap();
        self.dir.users().set_password(&audit, name, PASSWORD).await.unwrap();
    }

    pub fn browser(&self) -> Browser {
        Browser {
            router: self.router.clone(),
            cookies: BTreeMap::new(),
            ip: "192.0.2.10".into(),
            forwarded_for: None,
        }
    }

    pub fn fast_params() -> HashParams {
        HashParams {
            m_cost_kib: 64,
            t_cost: 1,
            p_cost: 1,
        }
    }

    pub async fn actions(&self) -> Vec<String> {
        let filter = gatehouse_core::EventFilter {
            limit: 1000,
            ..Default::default()
        };
        self.dir
            .events()
            .list(&filter)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.action)
            .collect()
    }
}

/// A cookie-keeping client for the router.
pub struct Browser {
    router: Router,
    pub cookies: BTreeMap<String, String>,
    pub ip: String,
    /// An `X-Forwarded-For` header to send (as a proxy, or as someone forging one).
    pub forwarded_for: Option<String>,
}

pub struct Page {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub body: String,
}

impl Page {
    pub fn location(&self) -> Option<&str> {
        self.headers.get(header::LOCATION).and_then(|v| v.to_str().ok())
    }

    /// The CSRF token of the (first) form on the page.
    pub fn csrf(&self) -> String {
        let marker = "name=\"csrf_token\" value=\"";
        let start = self
            .body
            .find(marker)
            .unwrap_or_else(|| panic!("no csrf field in {}", self.body))
            + marker.len();
        let end = self.body[start..].find('"').unwrap() + start;
        self.body[start..end].to_string()
    }

    pub fn set_cookies(&self) -> Vec<String> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap().to_string())
            .collect()
    }
}

impl Browser {
    pub async fn send(&mut self, req: Request<Body>) -> Page {
        let mut req = req;
        let cookie = self
            .cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ");
        if !cookie.is_empty() {
            req.headers_mut().insert(header::COOKIE, cookie.parse().unwrap());
        }
        req.headers_mut().insert(
            header::USER_AGENT,
            "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0".parse().unwrap(),
        );
        if let Some(xff) = &self.forwarded_for {
            req.headers_mut().insert("x-forwarded-for", xff.parse().unwrap());
        }
        let addr: SocketAddr = std::net::SocketAddr::new(self.ip.parse().unwrap(), 40000);
        req.extensions_mut().insert(ConnectInfo(addr));
        let res: Response<Body> = self.router.clone().oneshot(req).await.unwrap();
        let (parts, body) = res.into_parts();
        let bytes = axum::body::to_bytes(body, 1 << 20).await.unwrap();
        for v in parts.headers.get_all(header::SET_COOKIE) {
            let v = v.to_str().unwrap();
            let (pair, attrs) = v.split_once(';').unwrap_or((v, ""));
            let (k, val) = pair.split_once('=').unwrap();
            if attrs.contains("Max-Age=0") {
                self.cookies.remove(k);
            } else {
                self.cookies.insert(k.to_string(), val.to_string());
            }
        }
        Page {
            status: parts.status,
            headers: parts.headers,
            body: String::from_utf8_lossy(&bytes).into_owned(),
        }
    }

    pub async fn get(&mut self, path: &str) -> Page {
        self.send(Request::get(path).body(Body::empty()).unwrap()).await
    }

    pub async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        let body = form
            .iter()
            .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
            .collect::<Vec<_>>()
            .join("&");
        let req = Request::post(path)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(body))
            .unwrap();
        self.send(req).await
    }

    /// The whole sign-in: identify, then password. Returns the final response.
    pub async fn sign_in(&mut self, next: &str, identifier: &str, password: &str) -> Page {
        let page = self.get(&format!("/login?next={}", enc(next))).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        let r = self
            .post("/login", &[("identifier", identifier), ("csrf_token", &page.csrf())])
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        let page = self.get("/login").await;
        assert!(page.body.contains("name=\"password\""), "{}", page.body);
        self.post(
            "/login/password",
            &[("password", password), ("csrf_token", &page.csrf())],
        )
        .await
    }
}

pub fn enc(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}
