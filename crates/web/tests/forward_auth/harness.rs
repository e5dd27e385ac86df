use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode, header};
use gatehouse_core::NewUser;
use gatehouse_core::{Audit, Directory, FixedClock, Timestamp};
use gatehouse_crypto::{HashParams, PasswordHasher};
use gatehouse_store::SqlStore;
use gatehouse_web::{AppState, WebConfig};
use tower::ServiceExt;

pub const PASSWORD: &str = "Correct-Horse-42";
/// Gatehouse's own host.
pub const AUTH: &str = "auth.test";
pub const AUTH_URL: &str = "http://auth.test";

pub struct World {
    pub dir: Directory,
    /// Another node on the same database (or the CLI): its changes reach the
    /// server only through the change feed.
    pub elsewhere: Directory,
    pub clock: Arc<FixedClock>,
    pub router: Router,
    feed: tokio::sync::watch::Sender<i64>,
    _tmp: tempfile::TempDir,
}

impl World {
    /// Users alice (in staff) and bob; `wiki` (http://wiki.test, staff only,
    /// `/health` public) and `corp` (every host under corp.test, signing in on
    /// auth.corp.test).
    pub async fn new() -> World {
        let tmp = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", tmp.path().join("gh.db").display());
        let store = SqlStore::open(&url).await.unwrap();
        let clock = Arc::new(FixedClock::new(Timestamp(1_800_000_000_000)));
        let params = HashParams {
            m_cost_kib: 64,
            t_cost: 1,
            p_cost: 1,
        };
        let store = Arc::new(store);
        let dir = Directory::new(
            store.clone(),
            clock.clone(),
            PasswordHasher::new(params, 2).unwrap(),
            Default::default(),
        );
        let elsewhere = Directory::new(
            store,
            clock.clone(),
            PasswordHasher::new(params, 2).unwrap(),
            Default::default(),
        );
        let (feed, changes) = tokio::sync::watch::channel(0);
        let state = AppState::new(WebConfig::for_tests(AUTH_URL));
        state.set_ready(dir.clone(), changes);
        let w = World {
            dir,
            elsewhere,
            clock,
            router: gatehouse_web::router(state),
            feed,
            _tmp: tmp,
        };
        w.user("alice").await;
        w.user("bob").await;
        let a = audit();
        w.dir.groups().create(&a, "staff", false, None).await.unwrap();
        w.dir.groups().add_member(&a, "staff", "alice").await.unwrap();
        w.proxy_app("wiki", "forward_single", "http://wiki.test", None, &["^/health$"])
            .await;
        w.dir.apps().bind(&a, "wiki", "staff").await.unwrap();
        w.proxy_app(
            "corp",
            "forward_domain",
            "http://auth.corp.test",
            Some("corp.test"),
            &[],
        )
        .await;
        w.changed().await;
        w
    }

    pub async fn user(&self, name: &str) {
        self.dir
            .users()
            .create(
                &audit(),
                NewUser {
                    username: name.into(),
                    email: format!("{name}@example.com"),
                    name: format!("{} Example", name.to_uppercase()),
                },
            )
            .await
            .unwrap();
        self.dir.users().set_password(&audit(), name, PASSWORD).await.unwrap();
    }

    pub async fn proxy_app(&self, slug: &str, mode: &str, host: &str, domain: Option<&str>, skip: &[&str]) {
        let config = gatehouse_proxy::ProxyConfig::from_settings(gatehouse_proxy::ProxySettings {
            mode: if mode == "forward_domain" {
                gatehouse_proxy::ProxyMode::ForwardDomain
            } else {
                gatehouse_proxy::ProxyMode::ForwardSingle
            },
            external_host: host.into(),
            cookie_domain: domain.map(str::to_string),
            skip_paths: skip.iter().map(|s| s.to_string()).collect(),
            basic_auth_user_attribute: None,
            basic_auth_password_attribute: None,
        })
        .unwrap();
        self.dir
            .apps()
            .create_with(&audit(), slug, slug, None, Some(config.provider_spec().unwrap()))
            .await
            .unwrap();
    }

    /// What the change listener does when any node commits: the feed moves.
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

    pub fn browser(&self) -> Browser {
        Browser {
            router: self.router.clone(),
            jar: Vec::new(),
        }
    }

    pub async fn actions(&self) -> Vec<String> {
        let filter = gatehouse_core::EventFilter {
            limit: 1000,
            ..Default::default()
        };
        let events = self.dir.events().list(&filter).await.unwrap();
        events.into_iter().map(|e| e.action).collect()
    }
}

pub fn audit() -> Audit {
    Audit::cli("test")
}

#[derive(Debug, Clone)]
struct Cookie {
    name: String,
    value: String,
    /// Host-only cookies: the host; domain cookies: the domain.
    scope: String,
    domain: bool,
}

/// A cookie-keeping client that knows about hosts.
pub struct Browser {
    router: Router,
    jar: Vec<Cookie>,
}

#[derive(Debug)]
pub struct Page {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Page {
    pub fn location(&self) -> &str {
        self.headers
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_else(|| panic!("no Location: {self:?}"))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn set_cookies(&self) -> Vec<String> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap().to_string())
            .collect()
    }

    pub fn csrf(&self) -> String {
        let marker = "name=\"csrf_token\" value=\"";
        let start = self.body.find(marker).unwrap() + marker.len();
        let end = self.body[start..].find('"').unwrap() + start;
        self.body[start..end].to_string()
    }
}

/// `http://host/path?q` → (host, path?q).
pub fn split_url(url: &str) -> (String, String) {
    let rest = url.strip_prefix("http://").unwrap_or_else(|| panic!("not http: {url}"));
    let slash = rest.find('/').unwrap_or(rest.len());
    let path = if slash == rest.len() { "/" } else { &rest[slash..] };
    (rest[..slash].to_string(), path.to_string())
}

impl Browser {
    fn cookie_header(&self, host: &str) -> String {
        let bare = host.split(':').next().unwrap_or(host);
        self.jar
            .iter()
            .filter(|c| {
                if c.domain {
                    bare == c.scope || bare.ends_with(&format!(".{}", c.scope))
                } else {
                    host == c.scope
                }
            })
            .map(|c| format!("{}={}", c.name, c.value))
            .collect::<Vec<_>>()
            .join("; ")
    }

    pub fn cookie(&self, name: &str) -> Option<String> {
        self.jar.iter().find(|c| c.name == name).map(|c| c.value.clone())
    }

    pub fn set(&mut self, host: &str, name: &str, value: &str) {
        self.jar.push(Cookie {
            name: name.into(),
            value: value.into(),
            scope: host.into(),
            domain: false,
        });
    }

    /// Sends `req` to `host` with the cookies that host gets; keeps the ones it sets.
    pub async fn send(&mut self, host: &str, mut req: Request<Body>) -> Page {
        req.headers_mut().insert(header::HOST, host.parse().unwrap());
        let cookies = self.cookie_header(host);
        if !cookies.is_empty() {
            req.headers_mut().insert(header::COOKIE, cookies.parse().unwrap());
        }
        let res = self.router.clone().oneshot(req).await.unwrap();
        let (parts, body) = res.into_parts();
        let bytes = axum::body::to_bytes(body, 1 << 20).await.unwrap();
        for v in parts.headers.get_all(header::SET_COOKIE) {
            self.keep(host, v.to_str().unwrap());
        }
        Page {
            status: parts.status,
            headers: parts.headers,
            body: String::from_utf8_lossy(&bytes).into_owned(),
        }
    }

    fn keep(&mut self, host: &str, set_cookie: &str) {
        let mut parts = set_cookie.split(';').map(str::trim);
        let (name, value) = parts.next().unwrap().split_once('=').unwrap();
        let mut domain = None;
        let mut delete = false;
        for attr in parts {
            if let Some(d) = attr.strip_prefix("Domain=") {
                domain = Some(d.to_string());
            }
            if attr == "Max-Age=0" {
                delete = true;
            }
        }
        let (scope, is_domain) = match domain {
            Some(d) => (d, true),
            None => (host.to_string(), false),
        };
        self.jar
            .retain(|c| !(c.name == name && c.scope == scope && c.domain == is_domain));
        if !delete {
            self.jar.push(Cookie {
                name: name.into(),
                value: value.into(),
                scope,
                domain: is_domain,
            });
        }
    }

    pub async fn get(&mut self, url: &str) -> Page {
        let (host, path) = split_url(url);
        self.send(&host, Request::get(path).body(Body::empty()).unwrap()).await
    }

    /// What nginx's `auth_request` asks for `original`.
    pub async fn nginx_check(&mut self, original: &str) -> Page {
        let (host, _) = split_url(original);
        let req = Request::get("/outpost.goauthentik.io/auth/nginx")
            .header("x-original-url", original)
            .body(Body::empty())
            .unwrap();
        self.send(&host, req).await
    }

    /// What Traefik's `forwardAuth` asks for `original` (Caddy's is the same).
    pub async fn forwarded_check(&mut self, endpoint: &str, original: &str) -> Page {
        let (host, uri) = split_url(original);
        let req = Request::get(format!("/outpost.goauthentik.io/auth/{endpoint}"))
            .header("x-forwarded-proto", "http")
            .header("x-forwarded-host", host.as_str())
            .header("x-forwarded-uri", uri.as_str())
            .header("x-forwarded-method", "GET")
            .body(Body::empty())
            .unwrap();
        // The proxy calls from its own connection; the browser's cookies come along.
        self.send(&host, req).await
    }

    /// Signs in on Gatehouse's own pages.
    pub async fn sign_in(&mut self, username: &str) {
        let page = self.get(&format!("{AUTH_URL}/login")).await;
        let r = self
            .post(
                AUTH,
                "/login",
                &[("identifier", username), ("csrf_token", &page.csrf())],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        let page = self.get(&format!("{AUTH_URL}/login")).await;
        let r = self
            .post(
                AUTH,
                "/login/password",
                &[("password", PASSWORD), ("csrf_token", &page.csrf())],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    }

    pub async fn post(&mut self, host: &str, path: &str, form: &[(&str, &str)]) -> Page {
        let body = form
            .iter()
            .map(|(k, v)| {
                format!(
                    "{}={}",
                    gatehouse_proxy::url::encode_component(k),
                    gatehouse_proxy::url::encode_component(v)
                )
            })
            .collect::<Vec<_>>()
            .join("&");
        let req = Request::post(path)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(body))
            .unwrap();
        self.send(host, req).await
    }

    /// Follows redirects from `url` until a page that does not redirect,
    /// returning every hop's URL and the last page.
    pub async fn follow(&mut self, url: &str) -> (Vec<String>, Page) {
        let mut url = url.to_string();
        let mut hops = vec![url.clone()];
        for _ in 0..10 {
            let (host, path) = split_url(&url);
            if host != AUTH && !path.starts_with("/outpost.goauthentik.io/") {
                // The protected service itself: behind the proxy, not Gatehouse.
                let page = Page {
                    status: StatusCode::OK,
                    headers: HeaderMap::new(),
                    body: "upstream".into(),
                };
                return (hops, page);
            }
            let page = self.get(&url).await;
            if !page.status.is_redirection() {
                return (hops, page);
            }
            let loc = page.location().to_string();
            url = if loc.starts_with('/') {
                let (host, _) = split_url(&url);
                format!("http://{host}{loc}")
            } else {
                loc
            };
            hops.push(url.clone());
        }
        panic!("redirect loop: {hops:?}");
    }

    /// The whole dance for `original` as nginx runs it: the check says 401,
    /// nginx sends the browser to `/start`, sign-in if needed, the callback,
    /// back to `original`. Returns the hops and the final page.
    pub async fn nginx_dance(&mut self, original: &str) -> (Vec<String>, Page) {
        let check = self.nginx_check(original).await;
        assert_eq!(check.status, StatusCode::UNAUTHORIZED);
        let (host, _) = split_url(original);
        let start = format!(
            "http://{host}/outpost.goauthentik.io/start?rd={}",
            gatehouse_proxy::url::encode_component(original)
        );
        self.follow(&start).await
    }
}
