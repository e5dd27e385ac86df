//! `admin/version/`, `root/config/`, `crypto/certificatekeypairs/` (the
//! signing keys, read-only, never their private parts) and `schema/` (this
//! API's OpenAPI document, generated from the code).

use axum::Json;
use axum::extract::Path;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use gatehouse_core::keys::{KeyKind, KeyListing};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::{Admin, Caller};
use crate::error::{ApiError, ApiResult};
use crate::input::Params;
use crate::models::ts;
use crate::paging::{PageParams, paginated};

#[derive(Debug, Serialize, ToSchema)]
pub struct Version {
    pub version_current: String,
    pub version_latest: String,
    pub version_latest_valid: bool,
    pub build_hash: String,
    pub outdated: bool,
    pub outpost_outdated: bool,
}

#[utoipa::path(get, path = "/admin/version/", operation_id = "admin_version_retrieve", tag = "admin",
    responses((status = 200, body = Version), (status = 403)))]
pub async fn version(_c: Caller) -> Json<Version> {
    let v = env!("CARGO_PKG_VERSION").to_string();
    Json(Version {
        version_current: v.clone(),
        version_latest: v,
        version_latest_valid: false,
        build_hash: String::new(),
        outdated: false,
        outpost_outdated: false,
    })
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorReportingConfig {
    pub enabled: bool,
    pub sentry_dsn: String,
    pub environment: String,
    pub send_pii: bool,
    pub traces_sample_rate: f64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Config {
    pub error_reporting: ErrorReportingConfig,
    pub capabilities: Vec<String>,
    pub cache_timeout: i64,
    pub cache_timeout_flows: i64,
    pub cache_timeout_policies: i64,
}

/// Server settings a client adapts to (no error reporting, no capabilities).
#[utoipa::path(get, path = "/root/config/", operation_id = "root_config_retrieve", tag = "root",
    responses((status = 200, body = Config)))]
pub async fn config() -> Json<Config> {
    Json(Config {
        error_reporting: ErrorReportingConfig {
            enabled: false,
            sentry_dsn: String::new(),
            environment: String::new(),
            send_pii: false,
            traces_sample_rate: 0.0,
        },
        capabilities: Vec::new(),
        cache_timeout: 0,
        cache_timeout_flows: 0,
        cache_timeout_policies: 0,
    })
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CertificateKeyPair {
    pub pk: Uuid,
    pub name: String,
    pub fingerprint_sha256: Option<String>,
    pub fingerprint_sha1: Option<String>,
    #[schema(format = DateTime)]
    pub cert_expiry: Option<String>,
    pub cert_subject: Option<String>,
    pub private_key_available: bool,
    pub key_type: Option<String>,
    pub certificate_download_url: String,
    pub private_key_download_url: String,
    pub managed: Option<String>,
    /// Gatehouse: `next`, `signing`, `retiring` or `expired`.
    pub status: String,
}

paginated!(PaginatedCertificateKeyPairList, CertificateKeyPair);

fn key_pk(kid: &str) -> Uuid {
    let digest = gatehouse_crypto::sha256_hex(kid.as_bytes());
    let mut bytes = [0u8; 16];
    for (i, b) in bytes.iter_mut().enumerate() {
        *b = u8::from_str_radix(&digest[2 * i..2 * i + 2], 16).unwrap_or(0);
    }
    Uuid::from_bytes(bytes)
}

fn render(k: &KeyListing, kind: KeyKind) -> CertificateKeyPair {
    let purpose = format!("{:?}", k.purpose);
    let key_type = if purpose.contains("Ed") {
        "ed25519"
    } else if purpose.contains("ES") || purpose.contains("Ec") {
        "ecdsa"
    } else {
        "rsa"
    };
    CertificateKeyPair {
        pk: key_pk(&k.kid),
        name: format!("{} {} {}", kind.as_str(), purpose, k.kid),
        fingerprint_sha256: None,
        fingerprint_sha1: None,
        cert_expiry: k.publish_until.map(ts),
        cert_subject: None,
        private_key_available: true,
        key_type: Some(key_type.into()),
        certificate_download_url: String::new(),
        private_key_download_url: String::new(),
        managed: Some(format!("gatehouse/keys/{}", k.kid)),
        status: k.status.into(),
    }
}

async fn all_keys(c: &Caller) -> ApiResult<Vec<CertificateKeyPair>> {
    let mut out = Vec::new();
    for kind in [KeyKind::Jwt, KeyKind::Saml] {
        out.extend(c.dir.keys().list(kind).await?.iter().map(|k| render(k, kind)));
    }
    Ok(out)
}

#[utoipa::path(get, path = "/crypto/certificatekeypairs/", operation_id = "crypto_certificatekeypairs_list",
    tag = "crypto", params(("page" = Option<i64>, Query), ("page_size" = Option<i64>, Query)),
    responses((status = 200, body = PaginatedCertificateKeyPairList), (status = 403), (status = 404)))]
pub async fn keys(Admin(c): Admin, params: Params) -> ApiResult<Json<PaginatedCertificateKeyPairList>> {
    let page = PageParams::from(&params)?;
    let slice = page.slice(all_keys(&c).await?);
    Ok(Json(PaginatedCertificateKeyPairList::new(
        &page,
        slice.count,
        slice.items,
    )?))
}

#[utoipa::path(get, path = "/crypto/certificatekeypairs/{kp_uuid}/",
    operation_id = "crypto_certificatekeypairs_retrieve", tag = "crypto", params(("kp_uuid" = Uuid, Path)),
    responses((status = 200, body = CertificateKeyPair), (status = 403), (status = 404)))]
pub async fn key(Admin(c): Admin, Path(id): Path<String>) -> ApiResult<Json<CertificateKeyPair>> {
    let id = Uuid::parse_str(&id).map_err(|_| ApiError::NotFound)?;
    all_keys(&c)
        .await?
        .into_iter()
        .find(|k| k.pk == id)
        .map(Json)
        .ok_or(ApiError::NotFound)
}

/// This API's OpenAPI 3 document (JSON; authentik serves YAML by default,
/// JSON with `?format=json`, which is the only form here).
pub async fn schema() -> Response {
    let body = crate::openapi_json();
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}
