//! `core/groups/`: list (filters `name`, `is_superuser`, `members_by_username`,
//! `search`; `include_users` default true, `include_children`,
//! `include_parents`), create, retrieve, update, delete, `add_user/`,
//! `remove_user/`. One parent per group (authentik allows several).

use axum::Json;
use axum::extract::Path;
use axum::http::StatusCode;
use gatehouse_core::groups::GroupChange;
use gatehouse_core::listing::GroupQuery;
use gatehouse_core::pages::GroupRow;
use serde::Deserialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::{Admin, Caller};
use crate::error::{ApiError, ApiResult};
use crate::input::{Body, Params};
use crate::models::{Group, GroupIncludes};
use crate::paging::{PageParams, paginated};

paginated!(PaginatedGroupList, Group);

/// authentik's `GroupRequest` / `PatchedGroupRequest`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct GroupRequest {
    pub name: Option<String>,
    pub is_superuser: Option<bool>,
    /// At most one parent group, by UUID.
    pub parents: Option<Vec<Uuid>>,
    /// Direct members by user `pk`: the group ends up with exactly these.
    pub users: Option<Vec<i64>>,
    pub attributes: Option<Map<String, Value>>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct UserAccountRequest {
    pub pk: i64,
}

fn includes(params: &Params) -> ApiResult<GroupIncludes> {
    Ok(GroupIncludes {
        users: params.flag("include_users", true)?,
        children: params.flag("include_children", false)?,
        parents: params.flag("include_parents", false)?,
    })
}

#[utoipa::path(get, path = "/core/groups/", operation_id = "core_groups_list", tag = "core",
    params(("page" = Option<i64>, Query), ("page_size" = Option<i64>, Query), ("ordering" = Option<String>, Query),
        ("search" = Option<String>, Query), ("name" = Option<String>, Query), ("is_superuser" = Option<bool>, Query),
        ("members_by_username" = Option<Vec<String>>, Query), ("include_users" = Option<bool>, Query),
        ("include_children" = Option<bool>, Query), ("include_parents" = Option<bool>, Query)),
    responses((status = 200, body = PaginatedGroupList), (status = 400), (status = 403), (status = 404)))]
pub async fn list(Admin(c): Admin, params: Params) -> ApiResult<Json<PaginatedGroupList>> {
    let page = PageParams::from(&params)?;
    let inc = includes(&params)?;
    let with_member = match params.get("members_by_username") {
        Some(name) => match c.dir.users().get(name).await {
            Ok(u) => Some(u.id),
            Err(gatehouse_core::Error::NotFound { .. }) => {
                return Ok(Json(PaginatedGroupList::new(&page, 0, Vec::new())?));
            }
            Err(e) => return Err(e.into()),
        },
        None => None,
    };
    let q = GroupQuery {
        name: params.text("name"),
        search: page.search.clone(),
        is_superuser: params.bool("is_superuser")?,
        with_member,
        descending: page.ordering.as_ref().is_some_and(|(f, d)| f == "name" && *d),
        window: page.window(),
    };
    let rows = c.dir.groups().page(&q, true).await?;
    let results = rows.items.iter().map(|r| Group::from(r, inc)).collect();
    Ok(Json(PaginatedGroupList::new(&page, rows.count, results)?))
}

/// One group with its members, parent and children.
async fn row(c: &Caller, id: Uuid) -> ApiResult<GroupRow> {
    let group = c.dir.groups().by_id(id).await?;
    let q = GroupQuery {
        name: Some(group.name),
        ..GroupQuery::default()
    };
    let mut page = c.dir.groups().page(&q, true).await?;
    page.items.pop().ok_or(ApiError::NotFound)
}

#[utoipa::path(get, path = "/core/groups/{group_uuid}/", operation_id = "core_groups_retrieve", tag = "core",
    params(("group_uuid" = Uuid, Path), ("include_users" = Option<bool>, Query),
        ("include_children" = Option<bool>, Query), ("include_parents" = Option<bool>, Query)),
    responses((status = 200, body = Group), (status = 400), (status = 403), (status = 404)))]
pub async fn retrieve(Admin(c): Admin, Path(id): Path<String>, params: Params) -> ApiResult<Json<Group>> {
    let r = row(&c, uuid(&id)?).await?;
    Ok(Json(Group::from(&r, includes(&params)?)))
}

#[utoipa::path(post, path = "/core/groups/", operation_id = "core_groups_create", tag = "core",
    request_body = GroupRequest, responses((status = 201, body = Group), (status = 400), (status = 403)))]
pub async fn create(Admin(c): Admin, Body(req): Body<GroupRequest>) -> ApiResult<(StatusCode, Json<Group>)> {
    let name = req
        .name
        .clone()
        .ok_or_else(|| ApiError::field("name", "This field is required."))?;
    let parent = parent_name(&c, &req).await?;
    let group = c
        .dir
        .groups()
        .create(c.audit(), &name, req.is_superuser.unwrap_or(false), parent.as_deref())
        .await?;
    apply(&c, group.id, &req, false).await?;
    let r = row(&c, group.id).await?;
    Ok((
        StatusCode::CREATED,
        Json(Group::from(&r, includes(&Params::default())?)),
    ))
}

#[utoipa::path(put, path = "/core/groups/{group_uuid}/", operation_id = "core_groups_update", tag = "core",
    params(("group_uuid" = Uuid, Path)), request_body = GroupRequest,
    responses((status = 200, body = Group), (status = 400), (status = 403), (status = 404)))]
pub async fn update(Admin(c): Admin, Path(id): Path<String>, Body(req): Body<GroupRequest>) -> ApiResult<Json<Group>> {
    if req.name.is_none() {
        return Err(ApiError::field("name", "This field is required."));
    }
    change(c, &id, req).await
}

#[utoipa::path(patch, path = "/core/groups/{group_uuid}/", operation_id = "core_groups_partial_update",
    tag = "core", params(("group_uuid" = Uuid, Path)), request_body = GroupRequest,
    responses((status = 200, body = Group), (status = 400), (status = 403), (status = 404)))]
pub async fn partial_update(
    Admin(c): Admin,
    Path(id): Path<String>,
    Body(req): Body<GroupRequest>,
) -> ApiResult<Json<Group>> {
    change(c, &id, req).await
}

async fn change(c: Caller, id: &str, req: GroupRequest) -> ApiResult<Json<Group>> {
    let id = uuid(id)?;
    c.dir.groups().by_id(id).await?;
    apply(&c, id, &req, true).await?;
    let r = row(&c, id).await?;
    Ok(Json(Group::from(&r, includes(&Params::default())?)))
}

async fn parent_name(c: &Caller, req: &GroupRequest) -> ApiResult<Option<String>> {
    match req.parents.as_deref() {
        None | Some([]) => Ok(None),
        Some([one]) => Ok(Some(
            c.dir.groups().by_id(*one).await.map_err(|_| bad_parent(one))?.name,
        )),
        Some(_) => Err(ApiError::field("parents", "Gatehouse groups have at most one parent.")),
    }
}

fn bad_parent(id: &Uuid) -> ApiError {
    ApiError::field("parents", format!("Invalid pk \"{id}\" - object does not exist."))
}

/// Name, flags, parent and attributes in one change; then membership.
async fn apply(c: &Caller, id: Uuid, req: &GroupRequest, with_fields: bool) -> ApiResult<()> {
    if with_fields {
        let parent = match req.parents.as_deref() {
            None => None,
            Some([]) => Some(None),
            Some([one]) => Some(Some(c.dir.groups().by_id(*one).await.map_err(|_| bad_parent(one))?.id)),
            Some(_) => return Err(ApiError::field("parents", "Gatehouse groups have at most one parent.")),
        };
        let change = GroupChange {
            name: req.name.clone(),
            is_superuser: req.is_superuser,
            parent,
            attributes: req.attributes.clone().map(Value::Object),
        };
        c.dir.groups().update(c.audit(), id, &change).await?;
    } else if let Some(attributes) = &req.attributes {
        let change = GroupChange {
            attributes: Some(Value::Object(attributes.clone())),
            ..GroupChange::default()
        };
        c.dir.groups().update(c.audit(), id, &change).await?;
    }
    let Some(wanted) = &req.users else {
        return Ok(());
    };
    let group = c.dir.groups().by_id(id).await?;
    let current = row(c, id).await?.members;
    let mut targets = Vec::new();
    for pk in wanted {
        let user = c
            .dir
            .users()
            .by_pk(*pk)
            .await
            .map_err(|_| ApiError::field("users", format!("Invalid pk \"{pk}\" - object does not exist.")))?;
        targets.push(user.user);
    }
    for u in targets.iter().filter(|u| !current.iter().any(|x| x.id == u.id)) {
        c.dir.groups().add_member(c.audit(), &group.name, &u.username).await?;
    }
    for u in current.iter().filter(|u| !targets.iter().any(|x| x.id == u.id)) {
        c.dir
            .groups()
            .remove_member(c.audit(), &group.name, &u.username)
            .await?;
    }
    Ok(())
}

#[utoipa::path(delete, path = "/core/groups/{group_uuid}/", operation_id = "core_groups_destroy", tag = "core",
    params(("group_uuid" = Uuid, Path)), responses((status = 204), (status = 400), (status = 403), (status = 404)))]
pub async fn destroy(Admin(c): Admin, Path(id): Path<String>) -> ApiResult<StatusCode> {
    let group = c.dir.groups().by_id(uuid(&id)?).await?;
    c.dir.groups().delete(c.audit(), &group.name).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Add a user (by `pk`) to the group.
#[utoipa::path(post, path = "/core/groups/{group_uuid}/add_user/", operation_id = "core_groups_add_user_create",
    tag = "core", params(("group_uuid" = Uuid, Path)), request_body = UserAccountRequest,
    responses((status = 204), (status = 400), (status = 403), (status = 404)))]
pub async fn add_user(
    Admin(c): Admin,
    Path(id): Path<String>,
    Body(req): Body<UserAccountRequest>,
) -> ApiResult<StatusCode> {
    let (group, user) = member(&c, &id, req.pk).await?;
    c.dir.groups().add_member(c.audit(), &group, &user).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Remove a user (by `pk`) from the group.
#[utoipa::path(post, path = "/core/groups/{group_uuid}/remove_user/",
    operation_id = "core_groups_remove_user_create", tag = "core", params(("group_uuid" = Uuid, Path)),
    request_body = UserAccountRequest, responses((status = 204), (status = 400), (status = 403), (status = 404)))]
pub async fn remove_user(
    Admin(c): Admin,
    Path(id): Path<String>,
    Body(req): Body<UserAccountRequest>,
) -> ApiResult<StatusCode> {
    let (group, user) = member(&c, &id, req.pk).await?;
    c.dir.groups().remove_member(c.audit(), &group, &user).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The group's and the user's names; an unknown user is a 400 on `pk`.
async fn member(c: &Caller, group: &str, pk: i64) -> ApiResult<(String, String)> {
    let group = c.dir.groups().by_id(uuid(group)?).await?;
    let user = c
        .dir
        .users()
        .by_pk(pk)
        .await
        .map_err(|_| ApiError::field("pk", format!("Invalid pk \"{pk}\" - object does not exist.")))?;
    Ok((group.name, user.user.username))
}

fn uuid(id: &str) -> ApiResult<Uuid> {
    Uuid::parse_str(id).map_err(|_| ApiError::NotFound)
}
