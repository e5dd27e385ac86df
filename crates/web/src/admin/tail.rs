//! The live tail of the audit log: server-sent events, one per new audit
//! event, read in order of the chain after the sequence number the page
//! started from. The server wakes on the change feed (every committed
//! change moves it); a slow reader simply catches up on the next batch.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Query, State};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use futures_util::stream::{self, Stream};
use gatehouse_core::Directory;
use serde::Deserialize;
use serde_json::json;

use super::guard::Admin;
use crate::errors::PageError;
use crate::state::AppState;

/// Events sent per batch at most.
const BATCH: u32 = 100;
/// How long to wait for the change feed before looking anyway.
const POLL: Duration = Duration::from_secs(2);

#[derive(Deserialize, Default)]
pub struct TailQuery {
    /// The last sequence number the page shows.
    #[serde(default)]
    after: i64,
}

struct Follow {
    dir: Directory,
    changes: Option<tokio::sync::watch::Receiver<i64>>,
    after: i64,
}

async fn next_batch(mut f: Follow) -> Option<(Vec<SseEvent>, Follow)> {
    loop {
        let batch = match f.dir.events().after(f.after, BATCH).await {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!(error = %e, "event tail stopped");
                return None;
            }
        };
        if let Some(last) = batch.last() {
            f.after = last.seq;
            let out = batch
                .into_iter()
                .map(|e| {
                    let data = json!({
                        "seq": e.seq, "at": e.at.to_rfc3339(), "action": e.action, "actor": e.actor,
                        "user": e.user, "client_ip": e.client_ip,
                    });
                    SseEvent::default()
                        .event("audit")
                        .id(e.seq.to_string())
                        .data(data.to_string())
                })
                .collect();
            return Some((out, f));
        }
        match f.changes.as_mut() {
            Some(rx) => {
                let _ = tokio::time::timeout(POLL, rx.changed()).await;
            }
            None => tokio::time::sleep(POLL).await,
        }
    }
}

/// GET /if/admin/events/stream?after=SEQ
pub async fn tail_get(
    State(state): State<AppState>,
    admin: Admin,
    Query(q): Query<TailQuery>,
) -> Result<Response, PageError> {
    let start = Follow {
        dir: admin.directory.clone(),
        changes: state.changes(),
        after: q.after.max(0),
    };
    let events = stream::unfold(start, next_batch).flat_map(|batch| stream::iter(batch.into_iter().map(Ok)));
    Ok(sse(events))
}

fn sse(events: impl Stream<Item = Result<SseEvent, Infallible>> + Send + 'static) -> Response {
    Sse::new(events).keep_alive(KeepAlive::default()).into_response()
}
