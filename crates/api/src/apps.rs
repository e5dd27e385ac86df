//! `core/applications/` (lookup by slug; `check_access/` asks the one access
//! rule through `dir.access()`). A non-superuser lists the applications they
//! may use, as authentik's library does. `provider: pk` attaches a provider
//! made with `providers/<kind>/` (the one used before is detached, not
//! deleted), `provider: null` detaches it; deleting an application leaves its
//! provider, unattached, as authentik does.

use axum::Json;
use axum::extract::Path;
use axum::http::StatusCode;
use gatehouse_core::apps::AppChange;
use gatehouse_core::{AppSummary, Application as CoreApp};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::{Admin, Caller};
use crate::error::{ApiError, ApiResult};
use crate::input::{Body, Params};
use crate::paging::{PageParams, paginated};
use crate::providers::{Provider, provider_base};

paginated!(PaginatedApplicationList, Application);

#[derive(Debug, Serialize, ToSchema)]
pub struct Application {
    pub pk: Uuid,
    pub pbm_uuid: Uuid,
    pub name: String,
    pub slug: String,
    pub provider: Option<i64>,
    pub provider_obj: Option<Provider>,
    pub backchannel_providers: Vec<i64>,
    pub backchannel_providers_obj: Vec<Provider>,
    pub launch_url: Option<String>,
    pub open_in_new_tab: bool,
    pub meta_launch_url: String,
    pub meta_icon: Option<String>,
    pub meta_icon_url: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub meta_icon_themed_urls: Option<Value>,
    pub meta_description: String,
    pub meta_publisher: String,
    pub policy_engine_mode: String,
    pub group: String,
    pub meta_hide: bool,
    /// Gatehouse: the groups bound to the application (empty: open to every active user).
    pub bound_groups: Vec<String>,
}

impl Application {
    pub fn from(a: &CoreApp, bound_groups: Vec<String>) -> Self {
        let provider = provider_base(a);
        Application {
            pk: a.id,
            pbm_uuid: a.id,
            name: a.name.clone(),
            slug: a.slug.clone(),
            provider: provider.as_ref().map(|p| p.pk),
            provider_obj: provider,
            backchannel_providers: Vec::new(),
            backchannel_providers_obj: Vec::new(),
            launch_url: a.launch_url.clone(),
            open_in_new_tab: false,
            meta_launch_url: a.launch_url.clone().unwrap_or_default(),
            meta_icon: None,
            meta_icon_url: None,
            meta_icon_themed_urls: None,
            meta_description: String::new(),
            meta_publisher: String::new(),
            policy_engine_mode: "any".into(),
            group: String::new(),
            meta_hide: false,
            bound_groups,
        }
    }
}

/// authentik's `ApplicationRequest`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ApplicationRequest {
    pub name: Option<String>,
    pub slug: Option<String>,
    /// A provider's pk; null: none. Absent: unchanged.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<i64>)]
    pub provider: Option<Option<i64>>,
    pub meta_launch_url: Option<String>,
}

/// A field that was given, even as null (`Some(None)`), apart from one left out (`None`).
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<i64>>, D::Error> {
    Option::<i64>::deserialize(d).map(Some)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PolicyTestResult {
    pub passing: bool,
    pub messages: Vec<String>,
    pub log_messages: Vec<Value>,
}

#[utoipa::path(get, path = "/core/applications/", operation_id = "core_applications_list", tag = "core",
    params(("page" = Option<i64>, Query), ("page_size" = Option<i64>, Query), ("search" = Option<String>, Query),
        ("name" = Option<String>, Query), ("slug" = Option<String>, Query), ("ordering" = Option<String>, Query),
        ("superuser_full_list" = Option<bool>, Query)),
    responses((status = 200, body = PaginatedApplicationList), (status = 400), (status = 403), (status = 404)))]
pub async fn list(c: Caller, params: Params) -> ApiResult<Json<PaginatedApplicationList>> {
    let page = PageParams::from(&params)?;
    let mut apps: Vec<AppSummary> = c.dir.apps().list().await?;
    if !c.is_superuser {
        let mine = c.dir.access().applications_for(&c.user).await?;
        apps.retain(|a| mine.iter().any(|m| m.id == a.app.id));
    }
    let search = page.search.as_deref().map(str::to_lowercase);
    apps.retain(|a| {
        params.get("name").is_none_or(|n| n == a.app.name)
            && params.get("slug").is_none_or(|s| s == a.app.slug)
            && search
                .as_deref()
                .is_none_or(|s| a.app.name.to_lowercase().contains(s) || a.app.slug.to_lowercase().contains(s))
    });
    if page.ordering.as_ref().is_some_and(|(f, _)| f == "name") {
        apps.sort_by_cached_key(|a| a.app.name.to_lowercase());
    }
    if page.ordering.as_ref().is_some_and(|(_, desc)| *desc) {
        apps.reverse();
    }
    let slice = page.slice(apps);
    let results = slice
        .items
        .into_iter()
        .map(|a| Application::from(&a.app, a.bound_groups))
        .collect();
    Ok(Json(PaginatedApplicationList::new(&page, slice.count, results)?))
}

async fn visible(c: &Caller, slug: &str) -> ApiResult<AppSummary> {
    let app = c.dir.apps().get(slug).await?;
    if !c.is_superuser && !c.dir.access().may_use(&c.user, &app.app).await? {
        return Err(ApiError::NotFound);
    }
    Ok(app)
}

#[utoipa::path(get, path = "/core/applications/{slug}/", operation_id = "core_applications_retrieve",
    tag = "core", params(("slug" = String, Path)),
    responses((status = 200, body = Application), (status = 403), (status = 404)))]
pub async fn retrieve(c: Caller, Path(slug): Path<String>) -> ApiResult<Json<Application>> {
    let a = visible(&c, &slug).await?;
    Ok(Json(Application::from(&a.app, a.bound_groups)))
}

#[utoipa::path(post, path = "/core/applications/", operation_id = "core_applications_create", tag = "core",
    request_body = ApplicationRequest, responses((status = 201, body = Application), (status = 400), (status = 403)))]
pub async fn create(
    Admin(c): Admin,
    Body(req): Body<ApplicationRequest>,
) -> ApiResult<(StatusCode, Json<Application>)> {
    let name = req
        .name
        .ok_or_else(|| ApiError::field("name", "This field is required."))?;
    let slug = req
        .slug
        .ok_or_else(|| ApiError::field("slug", "This field is required."))?;
    let launch = req.meta_launch_url.filter(|u| !u.is_empty());
    let provider = req.provider.flatten();
    let app = c
        .dir
        .apps()
        .create_using(c.audit(), &slug, &name, launch.as_deref(), provider)
        .await?;
    Ok((StatusCode::CREATED, Json(Application::from(&app, Vec::new()))))
}

#[utoipa::path(patch, path = "/core/applications/{slug}/", operation_id = "core_applications_partial_update",
    tag = "core", params(("slug" = String, Path)), request_body = ApplicationRequest,
    responses((status = 200, body = Application), (status = 400), (status = 403), (status = 404)))]
pub async fn partial_update(
    Admin(c): Admin,
    Path(slug): Path<String>,
    Body(req): Body<ApplicationRequest>,
) -> ApiResult<Json<Application>> {
    let change = AppChange {
        slug: req.slug,
        name: req.name,
        launch_url: req.meta_launch_url.map(|u| Some(u).filter(|u| !u.is_empty())),
        provider: None,
        attach: req.provider,
        provider_name: None,
    };
    let app = c.dir.apps().update(c.audit(), &slug, &change).await?;
    let a = c.dir.apps().get(&app.slug).await?;
    Ok(Json(Application::from(&a.app, a.bound_groups)))
}

#[utoipa::path(put, path = "/core/applications/{slug}/", operation_id = "core_applications_update",
    tag = "core", params(("slug" = String, Path)), request_body = ApplicationRequest,
    responses((status = 200, body = Application), (status = 400), (status = 403), (status = 404)))]
pub async fn update(
    admin: Admin,
    slug: Path<String>,
    Body(req): Body<ApplicationRequest>,
) -> ApiResult<Json<Application>> {
    if req.name.is_none() || req.slug.is_none() {
        let field = if req.name.is_none() { "name" } else { "slug" };
        return Err(ApiError::field(field, "This field is required."));
    }
    partial_update(admin, slug, Body(req)).await
}

#[utoipa::path(delete, path = "/core/applications/{slug}/", operation_id = "core_applications_destroy",
    tag = "core", params(("slug" = String, Path)), responses((status = 204), (status = 403), (status = 404)))]
pub async fn destroy(Admin(c): Admin, Path(slug): Path<String>) -> ApiResult<StatusCode> {
    c.dir.apps().delete_keeping_provider(c.audit(), &slug).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Whether the user `for_user` (a `pk`; default the caller) may use the application.
#[utoipa::path(get, path = "/core/applications/{slug}/check_access/",
    operation_id = "core_applications_check_access_retrieve", tag = "core",
    params(("slug" = String, Path), ("for_user" = Option<i64>, Query)),
    responses((status = 200, body = PolicyTestResult), (status = 400), (status = 403), (status = 404)))]
pub async fn check_access(
    Admin(c): Admin,
    Path(slug): Path<String>,
    params: Params,
) -> ApiResult<Json<PolicyTestResult>> {
    let app = c.dir.apps().get(&slug).await?;
    let user = match params.int("for_user")? {
        Some(pk) => {
            c.dir
                .users()
                .by_pk(pk)
                .await
                .map_err(|_| ApiError::field("for_user", "User does not exist."))?
                .user
        }
        None => c.user.clone(),
    };
    let passing = c.dir.access().may_use(&user, &app.app).await?;
    let messages = if passing {
        Vec::new()
    } else if !user.is_active {
        vec!["The user is inactive.".into()]
    } else {
        vec![format!(
            "{} is in none of the groups bound to {}.",
            user.username, app.app.slug
        )]
    };
    Ok(Json(PolicyTestResult {
        passing,
        messages,
        log_messages: Vec::new(),
    }))
}
