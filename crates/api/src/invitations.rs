//! `stages/invitation/invitations/`: invitations in authentik's shape,
//! through the same core service as `gatehouse invite`. authentik deletes a
//! single-use invitation once used; Gatehouse keeps it (so its link can say
//! "already used") but no longer lists or returns it here.

use axum::Json;
use axum::extract::Path;
use axum::http::StatusCode;
use gatehouse_core::clock::Timestamp;
use gatehouse_core::invitations::{Invitation as CoreInvitation, InvitationState, NewInvitation, flow};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::Admin;
use crate::error::{ApiError, ApiResult};
use crate::flows::Flow;
use crate::input::{Body, Params};
use crate::models::{PartialUser, object, ts};
use crate::paging::{PageParams, paginated};

paginated!(PaginatedInvitationList, Invitation);

#[derive(Debug, Serialize, ToSchema)]
pub struct Invitation {
    pub pk: Uuid,
    pub name: String,
    #[schema(format = DateTime)]
    pub expires: Option<String>,
    pub fixed_data: Map<String, Value>,
    pub created_by: PartialUser,
    pub single_use: bool,
    pub flow: Option<Uuid>,
    pub flow_obj: Flow,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct InvitationRequest {
    pub name: String,
    #[schema(format = DateTime)]
    pub expires: Option<String>,
    pub fixed_data: Option<Map<String, Value>>,
    pub single_use: Option<bool>,
    pub flow: Option<Uuid>,
}

/// The creator as a user: the signed-in user or token owner who made it;
/// for one made on the command line, a stand-in naming the operator.
async fn creator(c: &Admin, i: &CoreInvitation) -> PartialUser {
    if let Some(name) = i.created_by.strip_prefix("user:")
        && let Ok(u) = c.0.dir.users().get(name).await
    {
        return PartialUser::from(&u);
    }
    // authentik's clients check usernames against /^[\w.@+-]+$/.
    let username = i
        .created_by
        .chars()
        .map(|ch| {
            if ch.is_alphanumeric() || "_.@+-".contains(ch) {
                ch
            } else {
                '-'
            }
        })
        .collect();
    PartialUser {
        pk: 0,
        username,
        name: i.created_by.clone(),
        is_active: true,
        last_login: None,
        email: String::new(),
        attributes: Map::new(),
        uid: String::new(),
    }
}

async fn render(c: &Admin, i: &CoreInvitation) -> ApiResult<Invitation> {
    let f = flow(&i.flow).ok_or(ApiError::NotFound)?;
    Ok(Invitation {
        pk: i.id,
        name: i.name.clone(),
        expires: i.expires.map(ts),
        fixed_data: object(&i.fixed_data),
        created_by: creator(c, i).await,
        single_use: i.single_use,
        flow: Some(f.pk),
        flow_obj: Flow::from(f),
    })
}

#[utoipa::path(get, path = "/stages/invitation/invitations/", operation_id = "stages_invitation_invitations_list",
    tag = "stages", params(("page" = Option<i64>, Query), ("page_size" = Option<i64>, Query),
        ("search" = Option<String>, Query), ("name" = Option<String>, Query),
        ("created_by__username" = Option<String>, Query), ("flow__slug" = Option<String>, Query)),
    responses((status = 200, body = PaginatedInvitationList), (status = 403)))]
pub async fn list(c: Admin, params: Params) -> ApiResult<Json<PaginatedInvitationList>> {
    let page = PageParams::from(&params)?;
    let now = c.0.dir.now();
    let search = page.search.as_deref().map(str::to_lowercase);
    let mut all = c.0.dir.invitations().list().await?;
    all.retain(|i| {
        i.state(now) != InvitationState::Spent
            && params.get("name").is_none_or(|n| n == i.name)
            && params.get("flow__slug").is_none_or(|s| s == i.flow)
            && params
                .get("created_by__username")
                .is_none_or(|u| i.created_by.strip_prefix("user:") == Some(u))
            && search.as_deref().is_none_or(|s| i.name.to_lowercase().contains(s))
    });
    let slice = page.slice(all);
    let mut results = Vec::with_capacity(slice.items.len());
    for i in &slice.items {
        results.push(render(&c, i).await?);
    }
    Ok(Json(PaginatedInvitationList::new(&page, slice.count, results)?))
}

async fn find(c: &Admin, id: &str) -> ApiResult<CoreInvitation> {
    let id = Uuid::parse_str(id).map_err(|_| ApiError::NotFound)?;
    let i = c.0.dir.invitations().get(&id.to_string()).await?;
    if i.state(c.0.dir.now()) == InvitationState::Spent {
        return Err(ApiError::NotFound);
    }
    Ok(i)
}

#[utoipa::path(get, path = "/stages/invitation/invitations/{invite_uuid}/",
    operation_id = "stages_invitation_invitations_retrieve", tag = "stages", params(("invite_uuid" = Uuid, Path)),
    responses((status = 200, body = Invitation), (status = 403), (status = 404)))]
pub async fn retrieve(c: Admin, Path(id): Path<String>) -> ApiResult<Json<Invitation>> {
    let i = find(&c, &id).await?;
    Ok(Json(render(&c, &i).await?))
}

#[utoipa::path(post, path = "/stages/invitation/invitations/", operation_id = "stages_invitation_invitations_create",
    tag = "stages", request_body = InvitationRequest,
    responses((status = 201, body = Invitation), (status = 400), (status = 403)))]
pub async fn create(c: Admin, Body(req): Body<InvitationRequest>) -> ApiResult<(StatusCode, Json<Invitation>)> {
    if req.name.trim().is_empty() {
        return Err(ApiError::field("name", "This field may not be blank."));
    }
    let expires = match req.expires.as_deref() {
        None => None,
        Some(text) => Some(
            Timestamp::parse_since(text, c.0.dir.now())
                .filter(|_| text.contains('T'))
                .ok_or_else(|| ApiError::field("expires", "Datetime has wrong format. Use RFC 3339."))?,
        ),
    };
    let flow_slug = match req.flow {
        None => String::new(),
        Some(pk) => flow(&pk.to_string())
            .filter(|f| f.designation == "enrollment")
            .map(|f| f.slug.to_string())
            .ok_or_else(|| ApiError::field("flow", format!("Invalid pk \"{pk}\" - object does not exist.")))?,
    };
    let new = NewInvitation {
        name: req.name,
        expires,
        single_use: req.single_use.unwrap_or(false),
        fixed_data: Value::Object(req.fixed_data.unwrap_or_default()),
        flow: flow_slug,
    };
    let created = c.0.dir.invitations().create(c.0.audit(), new).await?;
    Ok((StatusCode::CREATED, Json(render(&c, &created).await?)))
}

#[utoipa::path(delete, path = "/stages/invitation/invitations/{invite_uuid}/",
    operation_id = "stages_invitation_invitations_destroy", tag = "stages", params(("invite_uuid" = Uuid, Path)),
    responses((status = 204), (status = 403), (status = 404)))]
pub async fn destroy(c: Admin, Path(id): Path<String>) -> ApiResult<StatusCode> {
    let i = find(&c, &id).await?;
    c.0.dir.invitations().delete(c.0.audit(), &i.id.to_string()).await?;
    Ok(StatusCode::NO_CONTENT)
}
