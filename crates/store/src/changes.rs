//! Change notification for in-process caches (see `SqlStore::watch_changes`).

use std::time::Duration;

use sqlx::postgres::PgListener;
use tokio::sync::watch;

use crate::url::Backend;
use crate::{SqlStore, read};

const SQLITE_POLL: Duration = Duration::from_millis(250);
const POSTGRES_POLL: Duration = Duration::from_secs(1);

pub(crate) fn watch(store: SqlStore) -> watch::Receiver<i64> {
    let (tx, rx) = watch::channel(0);
    tokio::spawn(async move {
        let mut listener = match store.backend() {
            Backend::Postgres => connect_listener(store.url()).await,
            Backend::Sqlite => None,
        };
        let poll = if listener.is_some() { POSTGRES_POLL } else { SQLITE_POLL };
        loop {
            if let Ok(head) = read::chain_head(store.pool(), false).await {
                tx.send_if_modified(|seen| {
                    let changed = *seen != head.head_seq;
                    *seen = head.head_seq;
                    changed
                });
            }
            if tx.is_closed() {
                return;
            }
            match listener.as_mut() {
                // Wake on a notification or after the poll interval, whichever comes first.
                Some(l) => {
                    if let Ok(Err(e)) = tokio::time::timeout(poll, l.recv()).await {
                        tracing::warn!(error = %e, "change listener lost its connection; reconnecting");
                        listener = connect_listener(store.url()).await;
                    }
                }
                None => {
                    tokio::time::sleep(poll).await;
                    if store.backend() == Backend::Postgres {
                        listener = connect_listener(store.url()).await;
                    }
                }
            }
        }
    });
    rx
}

async fn connect_listener(url: &str) -> Option<PgListener> {
    let mut l = match PgListener::connect(url).await {
        Ok(l) => l,
        Err(e) => {
            tracing::warn!(error = %e, "cannot listen for changes; polling instead");
            return None;
        }
    };
    match l.listen("gatehouse_changes").await {
        Ok(()) => Some(l),
        Err(e) => {
            tracing::warn!(error = %e, "cannot listen for changes; polling instead");
            None
        }
    }
}
