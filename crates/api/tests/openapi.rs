//! The committed OpenAPI document (`docs/openapi.json`) is the one the code
//! generates and the server serves at `/api/v3/schema/`. Regenerate it with
//! `GATEHOUSE_UPDATE_OPENAPI=1 cargo test -p gatehouse-api --test openapi`.

use std::path::PathBuf;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use gatehouse_core::Directory;
use tower::ServiceExt;

struct NoHost;

impl gatehouse_api::Host for NoHost {
    fn directory(&self) -> Option<Directory> {
        None
    }
    fn client_ip(&self, _: &axum::http::request::Parts) -> Option<String> {
        None
    }
    fn session_token(&self, _: &HeaderMap) -> Option<String> {
        None
    }
    fn external_url(&self) -> String {
        "http://localhost".into()
    }
}

fn committed() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/openapi.json")
}

#[test]
fn the_committed_document_is_the_generated_one() {
    let generated = gatehouse_api::openapi_json();
    if std::env::var_os("GATEHOUSE_UPDATE_OPENAPI").is_some() {
        std::fs::write(committed(), &generated).unwrap();
    }
    let on_disk = std::fs::read_to_string(committed()).unwrap_or_default();
    assert!(
        on_disk == generated,
        "docs/openapi.json differs from the code's document; regenerate it with \
         GATEHOUSE_UPDATE_OPENAPI=1 cargo test -p gatehouse-api --test openapi"
    );
}

#[tokio::test]
async fn the_server_serves_the_generated_document_and_refuses_strangers() {
    let app = gatehouse_api::router(Arc::new(NoHost));
    let res = app
        .clone()
        .oneshot(Request::get("/schema/").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let body = axum::body::to_bytes(res.into_body(), 1 << 22).await.unwrap();
    assert_eq!(String::from_utf8(body.to_vec()).unwrap(), gatehouse_api::openapi_json());
    let doc: serde_json::Value = serde_json::from_str(&gatehouse_api::openapi_json()).unwrap();
    for path in [
        "/core/users/",
        "/core/groups/{group_uuid}/add_user/",
        "/events/events/",
        "/core/tokens/",
    ] {
        assert!(doc["paths"].get(path).is_some(), "{path} is not documented");
    }
    let res = app
        .oneshot(Request::get("/nope/").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}
