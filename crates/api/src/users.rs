//! `core/users/`: list with authentik's filters, create, retrieve, update,
//! delete, `me/`, and the password and recovery actions. Every write is one
//! core service call with the caller as actor.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use gatehouse_core::listing::{UserOrder, UserQuery};
use gatehouse_core::users::{NewUser, UserChange};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::ApiState;
use crate::auth::{Admin, Caller};
use crate::error::{ApiError, ApiResult};
use crate::input::{Body, Params};
use crate::models::{DEFAULT_AVATAR, User};
use crate::paging::{PageParams, paginated};

paginated!(PaginatedUserList, User);

/// authentik's `UserRequest` (create, full update) and `PatchedUserRequest`
/// (partial update): absent fields stay as they are on update.
#[derive(Debug, Deserialize, ToSchema)]
pub struct UserRequest {
    pub username: Option<String>,
    pub name: Option<String>,
    pub is_active: Option<bool>,
    pub email: Option<String>,
    /// Direct groups, by UUID: the user ends up in exactly these.
    pub groups: Option<Vec<Uuid>>,
    pub attributes: Option<Map<String, Value>>,
    pub path: Option<String>,
    #[serde(rename = "type")]
    pub type_: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct UserPasswordSetRequest {
    pub password: String,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct UserRecoveryLinkRequest {
    /// How long the link lives, as authentik writes it (`minutes=30`, `hours=1;minutes=30`).
    pub token_duration: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Link {
    pub link: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UserSelfGroups {
    pub name: String,
    pub pk: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UserSelf {
    pub pk: i64,
    pub username: String,
    pub name: String,
    pub is_active: bool,
    pub is_superuser: bool,
    /// The account this session is signed in as (authentik's multi-account switcher).
    pub is_current: bool,
    pub groups: Vec<UserSelfGroups>,
    pub roles: Vec<UserSelfGroups>,
    pub email: String,
    pub avatar: String,
    pub uid: String,
    pub settings: Map<String, Value>,
    #[serde(rename = "type")]
    pub type_: String,
    pub system_permissions: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SessionUser {
    pub user: UserSelf,
    pub original: Option<UserSelf>,
    pub users: Vec<UserSelf>,
}

fn query(params: &Params, page: &PageParams) -> ApiResult<UserQuery> {
    let mut q = UserQuery {
        username: params.text("username"),
        email: params.text("email"),
        name: params.text("name"),
        is_active: params.bool("is_active")?,
        uuid: params.uuid("uuid")?,
        search: page.search.clone(),
        window: page.window(),
        ..UserQuery::default()
    };
    if let Some((field, descending)) = &page.ordering
        && let Some(order) = UserOrder::parse(field)
    {
        q.order = order;
        q.descending = *descending;
    }
    Ok(q)
}

/// List users (filters `username`, `email`, `name`, `is_active`, `is_superuser`,
/// `uuid`, `groups_by_name`, `search`; `include_groups`, default true).
#[utoipa::path(get, path = "/core/users/", operation_id = "core_users_list", tag = "core",
    params(("page" = Option<i64>, Query), ("page_size" = Option<i64>, Query), ("ordering" = Option<String>, Query),
        ("search" = Option<String>, Query), ("username" = Option<String>, Query), ("email" = Option<String>, Query),
        ("name" = Option<String>, Query), ("is_active" = Option<bool>, Query), ("is_superuser" = Option<bool>, Query),
        ("uuid" = Option<String>, Query), ("groups_by_name" = Option<Vec<String>>, Query),
        ("include_groups" = Option<bool>, Query)),
    responses((status = 200, body = PaginatedUserList), (status = 400), (status = 403), (status = 404)))]
pub async fn list(Admin(c): Admin, params: Params) -> ApiResult<Json<PaginatedUserList>> {
    let page = PageParams::from(&params)?;
    let mut q = query(&params, &page)?;
    let names = params.all("groups_by_name");
    if !names.is_empty() {
        let mut ids = Vec::new();
        for name in &names {
            if let Some(g) = c.dir.groups().by_name(name).await? {
                ids.push(g.id);
            }
        }
        q.member_of_any.push(ids);
    }
    let with_groups = params.flag("include_groups", true)?;
    let rows = c.dir.users().page(&q, params.bool("is_superuser")?).await?;
    let results = rows.items.iter().map(|r| User::from(r, with_groups)).collect();
    Ok(Json(PaginatedUserList::new(&page, rows.count, results)?))
}

#[utoipa::path(get, path = "/core/users/{id}/", operation_id = "core_users_retrieve", tag = "core",
    params(("id" = i64, Path)), responses((status = 200, body = User), (status = 403), (status = 404)))]
pub async fn retrieve(Admin(c): Admin, Path(id): Path<String>) -> ApiResult<Json<User>> {
    let row = c.dir.users().by_pk(pk(&id)?).await?;
    Ok(Json(User::from(&row, true)))
}

#[utoipa::path(post, path = "/core/users/", operation_id = "core_users_create", tag = "core",
    request_body = UserRequest, responses((status = 201, body = User), (status = 400), (status = 403)))]
pub async fn create(Admin(c): Admin, Body(req): Body<UserRequest>) -> ApiResult<(StatusCode, Json<User>)> {
    let (Some(username), Some(name)) = (req.username.clone(), req.name.clone()) else {
        let field = if req.username.is_none() { "username" } else { "name" };
        return Err(ApiError::field(field, "This field is required."));
    };
    let new = NewUser {
        username,
        email: req.email.clone().unwrap_or_default(),
        name,
    };
    let user = c.dir.users().create(c.audit(), new).await?;
    apply(&c, &user.username, &req).await?;
    let row = c.dir.users().by_pk(user.pk).await?;
    Ok((StatusCode::CREATED, Json(User::from(&row, true))))
}

#[utoipa::path(put, path = "/core/users/{id}/", operation_id = "core_users_update", tag = "core",
    params(("id" = i64, Path)), request_body = UserRequest,
    responses((status = 200, body = User), (status = 400), (status = 403), (status = 404)))]
pub async fn update(Admin(c): Admin, Path(id): Path<String>, Body(req): Body<UserRequest>) -> ApiResult<Json<User>> {
    if req.username.is_none() || req.name.is_none() {
        let field = if req.username.is_none() { "username" } else { "name" };
        return Err(ApiError::field(field, "This field is required."));
    }
    change(c, &id, req).await
}

#[utoipa::path(patch, path = "/core/users/{id}/", operation_id = "core_users_partial_update", tag = "core",
    params(("id" = i64, Path)), request_body = UserRequest,
    responses((status = 200, body = User), (status = 400), (status = 403), (status = 404)))]
pub async fn partial_update(
    Admin(c): Admin,
    Path(id): Path<String>,
    Body(req): Body<UserRequest>,
) -> ApiResult<Json<User>> {
    change(c, &id, req).await
}

async fn change(c: Caller, id: &str, req: UserRequest) -> ApiResult<Json<User>> {
    let row = c.dir.users().by_pk(pk(id)?).await?;
    let fields = UserChange {
        username: req.username.clone(),
        email: req.email.clone(),
        name: req.name.clone(),
        ..UserChange::default()
    };
    let user = c.dir.users().update(c.audit(), &row.user.username, &fields).await?;
    apply(&c, &user.username, &req).await?;
    Ok(Json(User::from(&c.dir.users().by_pk(user.pk).await?, true)))
}

/// The fields a create or update sets beyond name and email: activation,
/// attributes and direct groups (added and removed one by one).
async fn apply(c: &Caller, username: &str, req: &UserRequest) -> ApiResult<()> {
    let fields = UserChange {
        is_active: req.is_active,
        attributes: req.attributes.clone().map(Value::Object),
        ..UserChange::default()
    };
    if fields.is_active.is_some() || fields.attributes.is_some() {
        c.dir.users().update(c.audit(), username, &fields).await?;
    }
    let Some(wanted) = &req.groups else {
        return Ok(());
    };
    let current = c.dir.users().row(c.dir.users().get(username).await?).await?.groups;
    let mut targets = Vec::new();
    for id in wanted {
        let group = c
            .dir
            .groups()
            .by_id(*id)
            .await
            .map_err(|_| ApiError::field("groups", format!("Invalid pk \"{id}\" - object does not exist.")))?;
        targets.push(group);
    }
    for g in targets.iter().filter(|g| !current.iter().any(|x| x.id == g.id)) {
        c.dir.groups().add_member(c.audit(), &g.name, username).await?;
    }
    for g in current.iter().filter(|g| !targets.iter().any(|x| x.id == g.id)) {
        c.dir.groups().remove_member(c.audit(), &g.name, username).await?;
    }
    Ok(())
}

/// Delete a user; the recovery account `akadmin` is refused, as on the command line.
#[utoipa::path(delete, path = "/core/users/{id}/", operation_id = "core_users_destroy", tag = "core",
    params(("id" = i64, Path)), responses((status = 204), (status = 400), (status = 403), (status = 404)))]
pub async fn destroy(Admin(c): Admin, Path(id): Path<String>) -> ApiResult<StatusCode> {
    let row = c.dir.users().by_pk(pk(&id)?).await?;
    c.dir.users().delete(c.audit(), &row.user.username, false).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The calling user.
#[utoipa::path(get, path = "/core/users/me/", operation_id = "core_users_me_retrieve", tag = "core",
    responses((status = 200, body = SessionUser), (status = 403)))]
pub async fn me(c: Caller) -> ApiResult<Json<SessionUser>> {
    let row = c.dir.users().row(c.user.clone()).await?;
    let u = &row.user;
    let me = || UserSelf {
        pk: u.pk,
        username: u.username.clone(),
        name: u.name.clone(),
        is_active: u.is_active,
        is_superuser: row.is_superuser,
        is_current: true,
        groups: row
            .groups
            .iter()
            .map(|g| UserSelfGroups {
                name: g.name.clone(),
                pk: g.id.to_string(),
            })
            .collect(),
        roles: Vec::new(),
        email: u.email.clone(),
        avatar: DEFAULT_AVATAR.into(),
        uid: u.hashed_uid(),
        settings: Map::new(),
        type_: "internal".into(),
        system_permissions: Vec::new(),
    };
    Ok(Json(SessionUser {
        user: me(),
        original: None,
        users: vec![me()],
    }))
}

/// Set a user's password (checked against the password policy; their
/// sessions and OAuth grants end).
#[utoipa::path(post, path = "/core/users/{id}/set_password/", operation_id = "core_users_set_password_create",
    tag = "core", params(("id" = i64, Path)), request_body = UserPasswordSetRequest,
    responses((status = 204), (status = 400), (status = 403), (status = 404)))]
pub async fn set_password(
    Admin(c): Admin,
    Path(id): Path<String>,
    Body(req): Body<UserPasswordSetRequest>,
) -> ApiResult<StatusCode> {
    let row = c.dir.users().by_pk(pk(&id)?).await?;
    c.dir
        .users()
        .set_password(c.audit(), &row.user.username, &req.password)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Store a password hash as it is (imported users keep their passwords).
#[utoipa::path(post, path = "/core/users/{id}/set_password_hash/",
    operation_id = "core_users_set_password_hash_create", tag = "core", params(("id" = i64, Path)),
    request_body = UserPasswordSetRequest, responses((status = 204), (status = 400), (status = 403), (status = 404)))]
pub async fn set_password_hash(
    Admin(c): Admin,
    Path(id): Path<String>,
    Body(req): Body<UserPasswordSetRequest>,
) -> ApiResult<StatusCode> {
    let row = c.dir.users().by_pk(pk(&id)?).await?;
    c.dir
        .users()
        .set_password_hash(c.audit(), &row.user.username, &req.password)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A one-time recovery link (default 30 minutes).
#[utoipa::path(post, path = "/core/users/{id}/recovery/", operation_id = "core_users_recovery_create", tag = "core",
    params(("id" = i64, Path)), request_body = UserRecoveryLinkRequest,
    responses((status = 200, body = Link), (status = 400), (status = 403), (status = 404)))]
pub async fn recovery(
    State(state): State<ApiState>,
    Admin(c): Admin,
    Path(id): Path<String>,
    Body(req): Body<UserRecoveryLinkRequest>,
) -> ApiResult<Json<Link>> {
    let row = c.dir.users().by_pk(pk(&id)?).await?;
    let minutes = duration_minutes(req.token_duration.as_deref())?;
    let (key, _) = c
        .dir
        .recovery()
        .create_key(c.audit(), &row.user.username, minutes)
        .await?;
    let base = state.host.external_url();
    Ok(Json(Link {
        link: format!("{}/recovery/use-token/{key}/", base.trim_end_matches('/')),
    }))
}

/// Mail the user a recovery link (through the worker's mail queue).
#[utoipa::path(post, path = "/core/users/{id}/recovery_email/", operation_id = "core_users_recovery_email_create",
    tag = "core", params(("id" = i64, Path)), request_body = UserRecoveryLinkRequest,
    responses((status = 204), (status = 400), (status = 403), (status = 404)))]
pub async fn recovery_email(
    Admin(c): Admin,
    Path(id): Path<String>,
    Body(req): Body<UserRecoveryLinkRequest>,
) -> ApiResult<StatusCode> {
    let row = c.dir.users().by_pk(pk(&id)?).await?;
    let minutes = duration_minutes(req.token_duration.as_deref())?;
    c.dir
        .jobs()
        .queue_recovery_mail(c.audit(), &row.user.username, minutes)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A user's integer id from the path; anything else is not found.
fn pk(id: &str) -> ApiResult<i64> {
    id.parse().map_err(|_| ApiError::NotFound)
}

/// `minutes=30`, `hours=1;minutes=30`, `days=1` → minutes (1 minute to 30 days).
fn duration_minutes(text: Option<&str>) -> ApiResult<i64> {
    let Some(text) = text.filter(|t| !t.trim().is_empty()) else {
        return Ok(30);
    };
    let bad = || ApiError::field("token_duration", "Use e.g. minutes=30 or hours=1;minutes=30.");
    let mut total: i64 = 0;
    for part in text.split(';').map(str::trim).filter(|p| !p.is_empty()) {
        let (unit, n) = part.split_once('=').ok_or_else(bad)?;
        let n: f64 = n.trim().parse().map_err(|_| bad())?;
        let per = match unit.trim() {
            "seconds" => 1.0 / 60.0,
            "minutes" => 1.0,
            "hours" => 60.0,
            "days" => 1440.0,
            "weeks" => 10080.0,
            _ => return Err(bad()),
        };
        total = total.saturating_add((n * per).ceil() as i64);
    }
    if (1..=43_200).contains(&total) {
        Ok(total)
    } else {
        Err(bad())
    }
}
