//! `events/events/`: the audit log, read-only (filters `action`, `username`,
//! `client_ip`; ordering `created`, `action`, `user`, `client_ip`). Actions
//! authentik does not know (`login_locked`, `session_revoked`…) are shown as
//! `custom_` with Gatehouse's own name in `context.gatehouse_action`, since
//! authentik's client accepts only its own action names.

use axum::Json;
use axum::extract::Path;
use gatehouse_core::Event as CoreEvent;
use gatehouse_core::listing::{EventOrder, EventQuery};
use serde::Serialize;
use serde_json::{Map, Value, json};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::Admin;
use crate::error::{ApiError, ApiResult};
use crate::input::Params;
use crate::models::{object, ts};
use crate::paging::{PageParams, paginated};

/// authentik's `EventActions`.
const AUTHENTIK_ACTIONS: &[&str] = &[
    "login",
    "login_failed",
    "logout",
    "user_write",
    "suspicious_request",
    "password_set",
    "secret_view",
    "secret_rotate",
    "invitation_used",
    "authorize_application",
    "source_linked",
    "impersonation_started",
    "impersonation_ended",
    "flow_execution",
    "policy_execution",
    "policy_exception",
    "property_mapping_exception",
    "system_task_execution",
    "system_task_exception",
    "system_exception",
    "configuration_error",
    "model_created",
    "model_updated",
    "model_deleted",
    "email_sent",
    "update_available",
];

#[derive(Debug, Serialize, ToSchema)]
pub struct Event {
    pub pk: Uuid,
    /// `{"username": …}` of the user the event is about, or `{}`.
    pub user: Map<String, Value>,
    pub action: String,
    pub app: String,
    pub context: Map<String, Value>,
    pub client_ip: Option<String>,
    #[schema(format = DateTime)]
    pub created: String,
    #[schema(format = DateTime)]
    pub expires: Option<String>,
    pub brand: Map<String, Value>,
}

paginated!(PaginatedEventList, Event);

impl Event {
    fn from(e: &CoreEvent) -> Self {
        let mut context = object(&e.context);
        context.insert("actor".into(), json!(e.actor));
        context.insert("seq".into(), json!(e.seq));
        let action = if AUTHENTIK_ACTIONS.contains(&e.action.as_str()) {
            e.action.clone()
        } else {
            context.insert("gatehouse_action".into(), json!(e.action));
            "custom_".into()
        };
        let mut user = Map::new();
        if let Some(name) = &e.user {
            user.insert("username".into(), json!(name));
        }
        Event {
            pk: e.id,
            user,
            action,
            app: "gatehouse".into(),
            context,
            client_ip: e.client_ip.clone(),
            created: ts(e.at),
            expires: None,
            brand: Map::new(),
        }
    }
}

#[utoipa::path(get, path = "/events/events/", operation_id = "events_events_list", tag = "events",
    params(("page" = Option<i64>, Query), ("page_size" = Option<i64>, Query), ("ordering" = Option<String>, Query),
        ("action" = Option<String>, Query), ("username" = Option<String>, Query),
        ("client_ip" = Option<String>, Query)),
    responses((status = 200, body = PaginatedEventList), (status = 400), (status = 403), (status = 404)))]
pub async fn list(Admin(c): Admin, params: Params) -> ApiResult<Json<PaginatedEventList>> {
    let page = PageParams::from(&params)?;
    let mut q = EventQuery {
        action: params.text("action"),
        username: params.text("username"),
        client_ip: params.text("client_ip"),
        window: page.window(),
        ..EventQuery::default()
    };
    if let Some((field, descending)) = &page.ordering
        && let Some(order) = EventOrder::parse(field)
    {
        q.order = order;
        q.descending = *descending;
    }
    let events = c.dir.events().page(&q).await?;
    let results = events.items.iter().map(Event::from).collect();
    Ok(Json(PaginatedEventList::new(&page, events.count, results)?))
}

#[utoipa::path(get, path = "/events/events/{event_uuid}/", operation_id = "events_events_retrieve",
    tag = "events", params(("event_uuid" = Uuid, Path)),
    responses((status = 200, body = Event), (status = 403), (status = 404)))]
pub async fn retrieve(Admin(c): Admin, Path(id): Path<String>) -> ApiResult<Json<Event>> {
    let q = EventQuery {
        id: Some(Uuid::parse_str(&id).map_err(|_| ApiError::NotFound)?),
        ..EventQuery::default()
    };
    let page = c.dir.events().page(&q).await?;
    page.items
        .first()
        .map(|e| Json(Event::from(e)))
        .ok_or(ApiError::NotFound)
}
