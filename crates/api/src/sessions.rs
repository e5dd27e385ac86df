//! `core/authenticated_sessions/` and `core/user_consent/`: a user sees and
//! ends their own sessions and withdraws their own consents; a superuser
//! sees everyone's sessions.

use axum::Json;
use axum::extract::Path;
use axum::http::StatusCode;
use gatehouse_core::session::SessionListing;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::apps::Application;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::input::Params;
use crate::models::{User, ts};
use crate::paging::{PageParams, paginated};

#[derive(Debug, Serialize, ToSchema)]
pub struct UserAgentDevice {
    pub brand: Option<String>,
    pub family: String,
    pub model: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UserAgentOs {
    pub family: String,
    pub major: Option<String>,
    pub minor: Option<String>,
    pub patch: Option<String>,
    pub patch_minor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UserAgentBrowser {
    pub family: String,
    pub major: String,
    pub minor: String,
    pub patch: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SessionUserAgent {
    pub device: UserAgentDevice,
    pub os: UserAgentOs,
    pub user_agent: UserAgentBrowser,
    pub string: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuthenticatedSession {
    pub uuid: Uuid,
    pub current: bool,
    pub user_agent: SessionUserAgent,
    #[schema(value_type = Option<Object>)]
    pub geo_ip: Option<serde_json::Value>,
    #[schema(value_type = Option<Object>)]
    pub asn: Option<serde_json::Value>,
    pub user: i64,
    pub last_ip: String,
    pub last_user_agent: String,
    #[schema(format = DateTime)]
    pub last_used: String,
    #[schema(format = DateTime)]
    pub expires: String,
}

paginated!(PaginatedAuthenticatedSessionList, AuthenticatedSession);

fn other() -> String {
    "Other".into()
}

fn render(l: &SessionListing, user_pk: i64, current: Option<Uuid>) -> AuthenticatedSession {
    let s = &l.session;
    let agent = s.user_agent.clone().unwrap_or_default();
    AuthenticatedSession {
        uuid: s.id,
        current: current == Some(s.id),
        // Gatehouse keeps the agent string; it does not parse it into families.
        user_agent: SessionUserAgent {
            device: UserAgentDevice {
                brand: None,
                family: other(),
                model: None,
            },
            os: UserAgentOs {
                family: other(),
                major: None,
                minor: None,
                patch: None,
                patch_minor: None,
            },
            user_agent: UserAgentBrowser {
                family: other(),
                major: String::new(),
                minor: String::new(),
                patch: String::new(),
            },
            string: agent.clone(),
        },
        geo_ip: None,
        asn: None,
        user: user_pk,
        last_ip: s.client_ip.clone().unwrap_or_default(),
        last_user_agent: agent,
        last_used: ts(s.last_seen),
        expires: ts(s.expires_at),
    }
}

#[utoipa::path(get, path = "/core/authenticated_sessions/", operation_id = "core_authenticated_sessions_list",
    tag = "core", params(("page" = Option<i64>, Query), ("page_size" = Option<i64>, Query),
        ("user__username" = Option<String>, Query)),
    responses((status = 200, body = PaginatedAuthenticatedSessionList), (status = 403), (status = 404)))]
pub async fn list(c: Caller, params: Params) -> ApiResult<Json<PaginatedAuthenticatedSessionList>> {
    let page = PageParams::from(&params)?;
    let filter = if c.is_superuser {
        params.text("user__username")
    } else {
        Some(c.user.username.clone())
    };
    let sessions = match c.dir.sessions().list(filter.as_deref()).await {
        Err(gatehouse_core::Error::NotFound { .. }) => Vec::new(),
        other => other?,
    };
    let slice = page.slice(sessions);
    let mut results = Vec::with_capacity(slice.items.len());
    for l in &slice.items {
        let pk = c.dir.users().by_id(l.session.user_id).await?.map_or(0, |u| u.pk);
        results.push(render(l, pk, c.session));
    }
    Ok(Json(PaginatedAuthenticatedSessionList::new(
        &page,
        slice.count,
        results,
    )?))
}

/// End a session: the caller's own, or anyone's for a superuser.
#[utoipa::path(delete, path = "/core/authenticated_sessions/{uuid}/",
    operation_id = "core_authenticated_sessions_destroy", tag = "core", params(("uuid" = Uuid, Path)),
    responses((status = 204), (status = 403), (status = 404)))]
pub async fn destroy(c: Caller, Path(id): Path<String>) -> ApiResult<StatusCode> {
    let id = Uuid::parse_str(&id).map_err(|_| ApiError::NotFound)?;
    c.dir.sessions().revoke(c.audit(), id, c.owner_filter()).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UserConsent {
    pub pk: i64,
    #[schema(format = DateTime)]
    pub expires: Option<String>,
    pub expiring: bool,
    pub user: User,
    pub application: Application,
    pub permissions: String,
}

paginated!(PaginatedUserConsentList, UserConsent);

/// A consent's integer id: from its application's UUID (one consent per
/// user and application, and each user sees only their own).
fn consent_pk(app: Uuid) -> i64 {
    let b = app.as_bytes();
    i64::from(u32::from_be_bytes([b[4], b[5], b[6], b[7]]) & 0x7fff_ffff).max(1)
}

/// The caller's remembered consents.
#[utoipa::path(get, path = "/core/user_consent/", operation_id = "core_user_consent_list", tag = "core",
    params(("page" = Option<i64>, Query), ("page_size" = Option<i64>, Query)),
    responses((status = 200, body = PaginatedUserConsentList), (status = 403), (status = 404)))]
pub async fn consents(c: Caller, params: Params) -> ApiResult<Json<PaginatedUserConsentList>> {
    let page = PageParams::from(&params)?;
    let list = c.dir.oauth().consents_of(&c.user).await?;
    let slice = page.slice(list);
    let row = c.dir.users().row(c.user.clone()).await?;
    let mut results = Vec::new();
    for l in &slice.items {
        let Some(app) = c.dir.apps().by_id(l.consent.application_id).await? else {
            continue;
        };
        results.push(UserConsent {
            pk: consent_pk(app.id),
            expires: None,
            expiring: false,
            user: User::from(&row, true),
            application: Application::from(&app, Vec::new()),
            permissions: l.consent.scopes.join(" "),
        });
    }
    Ok(Json(PaginatedUserConsentList::new(&page, slice.count, results)?))
}

/// Withdraw one of the caller's consents (their grants for the application end too).
#[utoipa::path(delete, path = "/core/user_consent/{id}/", operation_id = "core_user_consent_destroy", tag = "core",
    params(("id" = i64, Path)), responses((status = 204), (status = 403), (status = 404)))]
pub async fn consent_destroy(c: Caller, Path(id): Path<String>) -> ApiResult<StatusCode> {
    let pk: i64 = id.parse().map_err(|_| ApiError::NotFound)?;
    let list = c.dir.oauth().consents_of(&c.user).await?;
    let found = list
        .iter()
        .find(|l| consent_pk(l.consent.application_id) == pk)
        .ok_or(ApiError::NotFound)?;
    c.dir.oauth().withdraw_consent(c.audit(), &c.user, &found.slug).await?;
    Ok(StatusCode::NO_CONTENT)
}
