//! Change notification for in-process caches (see `SqlStore::watch_changes`).

use std::time::Duration;

use sqlx::postgres::PgListener;
use tokio::sync::watch;

use crate::url::Backend;
use crate::{SqlStore, read};

const SQLITE_POLL: Duration = Duration::from_millis(250);
const POSTGRES_POLL: Duration = Duration::from_secs(1);
/// Longest wait for a read or a listener connection: while the database is
/// away the loop must keep its rhythm (and pick the database up again when
/// it is back), not hang on a connection attempt.
const ATTEMPT: Duration = Duration::from_secs(2);

pub(crate) fn watch(store: SqlStore) -> watch::Receiver<i64> {
    let (tx, rx) = watch::channel(0);
    tokio::spawn(async move {
        let mut listener = match store.backend() {
            Backend::Postgres => connect_listener(store.url()).await,
            Backend::Sqlite => None,
        };
        let poll = if listener.is_some() { POSTGRES_POLL } else { SQLITE_POLL };
        loop {
            if let Ok(Ok(head)) = tokio::time::timeout(ATTEMPT, read::chain_head(store.pool(), false)).await {
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
    let mut l = match tokio::time::timeout(ATTEMPT, PgListener::connect(url)).await {
        Ok(Ok(l)) => l,
        Err(_) => {
            tracing::warn!("cannot listen for changes (the database does not answer); polling instead");
            return None;
        }
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "cannot listen for changes; polling instead");
            return None;
        }
    };
    match tokio::time::timeout(ATTEMPT, l.listen("gatehouse_changes")).await {
        Ok(Ok(())) => Some(l),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "cannot listen for changes; polling instead");
            None
        }
        Err(_) => None,
    }
}

/// A [`tokio::sync::Notify`] poked whenever a job is enqueued (PostgreSQL
/// `LISTEN gatehouse_jobs`); never poked on SQLite, where workers poll.
pub(crate) fn watch_jobs(store: SqlStore) -> std::sync::Arc<tokio::sync::Notify> {
    let notify = std::sync::Arc::new(tokio::sync::Notify::new());
    if store.backend() != Backend::Postgres {
        return notify;
    }
    let weak = std::sync::Arc::downgrade(&notify);
    tokio::spawn(async move {
        let mut listener: Option<PgListener> = None;
        loop {
            let Some(notify) = weak.upgrade() else { return };
            match listener.as_mut() {
                None => {
                    listener = connect_channel(store.url(), crate::jobs::JOBS_CHANNEL).await;
                    if listener.is_none() {
                        drop(notify);
                        tokio::time::sleep(POSTGRES_POLL).await;
                    } else {
                        // Jobs enqueued while we were not listening: let the worker look.
                        notify.notify_one();
                    }
                }
                Some(l) => match tokio::time::timeout(POSTGRES_POLL, l.recv()).await {
                    Ok(Ok(_)) => notify.notify_one(),
                    Ok(Err(e)) => {
                        tracing::warn!(error = %e, "job listener lost its connection; reconnecting");
                        listener = None;
                    }
                    Err(_) => {}
                },
            }
        }
    });
    notify
}

async fn connect_channel(url: &str, channel: &str) -> Option<PgListener> {
    let mut l = match tokio::time::timeout(ATTEMPT, PgListener::connect(url)).await {
        Ok(Ok(l)) => l,
        Err(_) => return None,
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "cannot listen for jobs; polling instead");
            return None;
        }
    };
    match tokio::time::timeout(ATTEMPT, l.listen(channel)).await {
        Ok(Ok(())) => Some(l),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "cannot listen for jobs; polling instead");
            None
        }
        Err(_) => None,
    }
}
