//! The audit log: filters (user, action, since, address) and, on request,
//! a walk of the hash chain.

use axum::extract::{Query, State};
use axum::response::Response;
use gatehouse_core::events::ChainReport;
use gatehouse_core::{EventFilter, Timestamp};
use serde::Deserialize;

use super::guard::Admin;
use super::views::EventsPage;
use super::{chrome, event_rows};
use crate::errors::PageError;
use crate::pages::render;
use crate::state::AppState;

/// Events shown per page.
const EVENT_LIMIT: u32 = 100;

#[derive(Deserialize, Default)]
pub struct EventsQuery {
    #[serde(default)]
    user: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    since: String,
    #[serde(default)]
    address: String,
    #[serde(default)]
    verify: String,
}

fn some(s: &str) -> Option<String> {
    Some(s.trim().to_string()).filter(|s| !s.is_empty())
}

/// GET /if/admin/events/
pub async fn events_get(
    State(state): State<AppState>,
    admin: Admin,
    Query(q): Query<EventsQuery>,
) -> Result<Response, PageError> {
    let dir = &admin.directory;
    let now = dir.now();
    let since = match some(&q.since) {
        Some(text) => Some(Timestamp::parse_since(&text, now).ok_or_else(|| {
            gatehouse_core::Error::invalid(
                "since",
                "use a date (2026-11-29), a time (RFC 3339) or an age (30m, 12h, 7d)",
            )
        })?),
        None => None,
    };
    let filter = EventFilter {
        user: some(&q.user),
        action: some(&q.action),
        since,
        limit: EVENT_LIMIT,
        client_ip: some(&q.address),
    };
    let filtered = filter.user.is_some() || filter.action.is_some() || since.is_some() || filter.client_ip.is_some();
    let rows = event_rows(dir.events().list(&filter).await?, now);
    let latest = rows.first().map_or(0, |r| r.seq);
    // Walking the chain reads every event: only when asked.
    let chain = if q.verify.is_empty() {
        (true, String::new())
    } else {
        match dir.events().verify().await? {
            ChainReport::Intact { events, head_seq, .. } => (
                true,
                format!("The chain is intact: {events} events verified up to number {head_seq}."),
            ),
            ChainReport::Broken { seq, reason } => (false, format!("The chain is broken at event {seq}: {reason}")),
        }
    };
    Ok(render(&EventsPage {
        branding: state.branding(),
        chrome: chrome(&admin, "events"),
        user: q.user,
        action: q.action,
        since: q.since,
        address: q.address,
        rows,
        latest,
        filtered,
        chain,
    }))
}
