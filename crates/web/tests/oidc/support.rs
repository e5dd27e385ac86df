//! OIDC helpers over the sign-in harness: applications, the MFA policy, the
//! browser's side of the code and device flows, and the JSON endpoints.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use base64::Engine;
use gatehouse_core::mfa::MfaPolicy;
use gatehouse_core::{Audit, ProviderKind, ProviderSpec};
use gatehouse_oidc::config::{ClientType, OidcConfig, parse_redirect_uri};
use serde_json::{Value, json};

use crate::harness::{Browser, PASSWORD, Page, World, enc};

pub const REDIRECT: &str = "https://app.example/cb";

pub fn audit() -> Audit {
    Audit::cli("test")
}

/// A confidential client.
pub struct Client {
    pub id: String,
    pub secret: String,
}

/// An OIDC application `slug` (client id = slug), with the device grant on or
/// off; `refresh_secs` sets its refresh token validity.
pub async fn oidc_app(w: &World, slug: &str, device_flow: bool, refresh_secs: Option<i64>) -> Client {
    let mut cfg = OidcConfig::new(slug.into(), ClientType::Confidential);
    cfg.redirect_uris = vec![parse_redirect_uri(REDIRECT)];
    if let Some(s) = refresh_secs {
        cfg.refresh_token_validity_secs = s;
    }
    let secret = w.dir.oauth().generate_client_secret();
    cfg.client_secret_hash = Some(w.dir.oauth().hash_client_secret(&secret).await.unwrap());
    let mut config = cfg.to_value();
    // Set as stored JSON: the same test then builds against a tree without the setting.
    config["device_flow"] = json!(device_flow);
    let spec = ProviderSpec {
        kind: ProviderKind::Oidc,
        key: Some(slug.into()),
        config,
        shown: json!({}),
    };
    w.dir
        .apps()
        .create_with(&audit(), slug, &slug.to_uppercase(), None, Some(spec))
        .await
        .unwrap();
    w.changed().await;
    Client {
        id: slug.into(),
        secret,
    }
}

/// `gatehouse policy mfa require-app SLUG`.
pub async fn require_mfa_for(w: &World, slug: &str) {
    let mut policy: MfaPolicy = w.dir.mfa().policy().await.unwrap();
    policy.apps.push(slug.into());
    w.dir.mfa().set_policy(&audit(), policy).await.unwrap();
    w.changed().await;
}

/// Alice (in `staff`) and bob; `app` bound to `staff`.
pub async fn staff_world(app: &str, device_flow: bool) -> (World, Client) {
    let w = World::new().await;
    w.user("alice").await;
    w.user("bob").await;
    w.dir.groups().create(&audit(), "staff", false, None).await.unwrap();
    w.dir.groups().add_member(&audit(), "staff", "alice").await.unwrap();
    let client = oidc_app(&w, app, device_flow, None).await;
    w.dir.apps().bind(&audit(), app, "staff").await.unwrap();
    w.changed().await;
    (w, client)
}

pub async fn signed_in(w: &World, username: &str) -> Browser {
    let mut b = w.browser();
    let r = b.sign_in("/if/user/", username, PASSWORD).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    b
}

/// A token-style endpoint with the client's Basic credentials: (status, JSON).
pub async fn post_json(w: &World, path: &str, client: &Client, form: &[(&str, &str)]) -> (StatusCode, Value) {
    let body = form
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&");
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", client.id, client.secret));
    let req = Request::post(path)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::AUTHORIZATION, format!("Basic {basic}"))
        .body(Body::from(body))
        .unwrap();
    let page = w.browser().send(req).await;
    let json = serde_json::from_str(&page.body).unwrap_or(Value::Null);
    (page.status, json)
}

pub async fn token(w: &World, client: &Client, form: &[(&str, &str)]) -> (StatusCode, Value) {
    post_json(w, "/application/o/token/", client, form).await
}

/// GET /application/o/authorize/ for `client` in `b`'s session.
pub async fn authorize(b: &mut Browser, client: &Client, scope: &str) -> Page {
    b.get(&format!(
        "/application/o/authorize/?client_id={}&redirect_uri={}&response_type=code&scope={}&state=s1",
        client.id,
        enc(REDIRECT),
        enc(scope)
    ))
    .await
}

/// The code in a redirect back to the client.
pub fn code_of(page: &Page) -> Option<String> {
    let loc = page.location()?;
    let query = loc.strip_prefix(REDIRECT)?.strip_prefix('?')?;
    query
        .split('&')
        .find_map(|kv| kv.strip_prefix("code="))
        .map(str::to_string)
}

pub async fn exchange(w: &World, client: &Client, code: &str) -> (StatusCode, Value) {
    token(
        w,
        client,
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
        ],
    )
    .await
}

/// Signs in to `client` in `b` and exchanges the code: the token response.
pub async fn code_flow(w: &World, b: &mut Browser, client: &Client, scope: &str) -> Value {
    let page = authorize(b, client, scope).await;
    let code = code_of(&page).unwrap_or_else(|| panic!("no code: {:?} {}", page.location(), page.body));
    let (status, body) = exchange(w, client, &code).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

pub async fn refresh(w: &World, client: &Client, refresh_token: &str) -> (StatusCode, Value) {
    token(
        w,
        client,
        &[("grant_type", "refresh_token"), ("refresh_token", refresh_token)],
    )
    .await
}

/// A device authorization for `client`: (device_code, user_code).
pub async fn start_device(w: &World, client: &Client) -> (String, String) {
    let (status, body) = post_json(
        w,
        "/application/o/device/",
        client,
        &[("scope", "openid profile offline_access")],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    (
        body["device_code"].as_str().unwrap().to_string(),
        body["user_code"].as_str().unwrap().to_string(),
    )
}

pub async fn poll(w: &World, client: &Client, device_code: &str) -> (StatusCode, Value) {
    token(
        w,
        client,
        &[
            ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
            ("device_code", device_code),
        ],
    )
    .await
}

/// POST /device with `user_code` (the code form).
pub async fn enter_code(b: &mut Browser, user_code: &str) -> Page {
    let form = b.get("/device").await;
    assert_eq!(form.status, StatusCode::OK, "{}", form.body);
    b.post("/device", &[("user_code", user_code), ("csrf_token", &form.csrf())])
        .await
}

/// POST /device/confirm from the confirmation page `page`.
pub async fn decide(b: &mut Browser, page: &Page, user_code: &str, decision: &str) -> Page {
    b.post(
        "/device/confirm",
        &[
            ("user_code", user_code),
            ("decision", decision),
            ("csrf_token", &page.csrf()),
        ],
    )
    .await
}

/// Whether `page` sends the browser to the MFA step-up.
pub fn is_step_up(page: &Page) -> bool {
    page.status == StatusCode::SEE_OTHER
        && page
            .location()
            .is_some_and(|l| l.starts_with("/login/mfa/step-up?next="))
}
