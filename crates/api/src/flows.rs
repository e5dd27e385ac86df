//! `flows/instances/`: the flows Gatehouse has, in authentik's `Flow` shape.
//! Gatehouse's flows are built in (the sign-in and sign-up pages), so this is
//! read-only: the list an invitation's `flow` is chosen from.

use axum::Json;
use axum::extract::Path;
use gatehouse_core::invitations::{BuiltInFlow, FLOWS};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::input::Params;
use crate::paging::{PageParams, paginated};

paginated!(PaginatedFlowList, Flow);

#[derive(Debug, Serialize, ToSchema)]
pub struct Flow {
    pub pk: Uuid,
    pub policybindingmodel_ptr_id: Uuid,
    pub name: String,
    pub slug: String,
    pub title: String,
    pub designation: String,
    pub background: Option<String>,
    pub background_url: String,
    pub background_themed_urls: Option<serde_json::Value>,
    pub stages: Vec<Uuid>,
    pub policies: Vec<Uuid>,
    pub cache_count: i64,
    pub policy_engine_mode: String,
    pub compatibility_mode: bool,
    pub export_url: String,
    pub layout: String,
    pub denied_action: String,
    pub authentication: String,
}

impl Flow {
    pub fn from(f: &BuiltInFlow) -> Self {
        Flow {
            pk: f.pk,
            policybindingmodel_ptr_id: f.pk,
            name: f.name.into(),
            slug: f.slug.into(),
            title: f.title.into(),
            designation: f.designation.into(),
            background: None,
            background_url: String::new(),
            background_themed_urls: None,
            stages: Vec::new(),
            policies: Vec::new(),
            cache_count: 0,
            policy_engine_mode: "any".into(),
            compatibility_mode: false,
            export_url: format!("/api/v3/flows/instances/{}/export/", f.slug),
            layout: "stacked".into(),
            denied_action: "message_continue".into(),
            authentication: if f.designation == "enrollment" {
                "require_unauthenticated".into()
            } else {
                "none".into()
            },
        }
    }
}

#[utoipa::path(get, path = "/flows/instances/", operation_id = "flows_instances_list", tag = "flows",
    params(("page" = Option<i64>, Query), ("page_size" = Option<i64>, Query), ("search" = Option<String>, Query),
        ("slug" = Option<String>, Query), ("designation" = Option<String>, Query), ("name" = Option<String>, Query),
        ("flow_uuid" = Option<Uuid>, Query)),
    responses((status = 200, body = PaginatedFlowList), (status = 403)))]
pub async fn list(_c: Caller, params: Params) -> ApiResult<Json<PaginatedFlowList>> {
    let page = PageParams::from(&params)?;
    let flow_uuid = params.uuid("flow_uuid")?;
    let search = page.search.as_deref().map(str::to_lowercase);
    let flows: Vec<&BuiltInFlow> = FLOWS
        .iter()
        .filter(|f| {
            params.get("slug").is_none_or(|s| s == f.slug)
                && params.get("designation").is_none_or(|d| d == f.designation)
                && params.get("name").is_none_or(|n| n == f.name)
                && flow_uuid.is_none_or(|u| u == f.pk)
                && search
                    .as_deref()
                    .is_none_or(|s| f.slug.contains(s) || f.name.to_lowercase().contains(s))
        })
        .collect();
    let slice = page.slice(flows);
    let results = slice.items.iter().map(|f| Flow::from(f)).collect();
    Ok(Json(PaginatedFlowList::new(&page, slice.count, results)?))
}

#[utoipa::path(get, path = "/flows/instances/{slug}/", operation_id = "flows_instances_retrieve", tag = "flows",
    params(("slug" = String, Path)), responses((status = 200, body = Flow), (status = 403), (status = 404)))]
pub async fn retrieve(_c: Caller, Path(slug): Path<String>) -> ApiResult<Json<Flow>> {
    let flow = FLOWS.iter().find(|f| f.slug == slug).ok_or(ApiError::NotFound)?;
    Ok(Json(Flow::from(flow)))
}
