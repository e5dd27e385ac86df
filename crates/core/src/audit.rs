//! Who asks for a change ([`Audit`]), and the audit log's service: listing,
//! verifying and pruning the hash chain (the chain itself is [`crate::events`]).

use serde_json::{Value, json};

use crate::clock::Timestamp;
use crate::context::Events;
use crate::error::Result;
use crate::events::{ChainReport, ChainVerifier, action};
use crate::model::{Actor, Event, EventFilter, NewEvent};

/// Who is asking, for the audit log.
#[derive(Debug, Clone)]
pub struct Audit {
    pub actor: Actor,
    pub client_ip: Option<String>,
    /// The blueprint a change comes from (recorded in its events).
    pub blueprint: Option<String>,
}

impl Audit {
    pub fn cli(os_user: impl Into<String>) -> Self {
        Audit::new(Actor::Cli(os_user.into()), None)
    }

    pub fn system() -> Self {
        Audit::new(Actor::System, None)
    }

    pub fn new(actor: Actor, client_ip: Option<String>) -> Self {
        Audit {
            actor,
            client_ip,
            blueprint: None,
        }
    }

    /// The same asker, applying the blueprint `name`.
    pub fn from_blueprint(&self, name: &str) -> Self {
        Audit {
            blueprint: (!name.is_empty()).then(|| name.to_string()),
            ..self.clone()
        }
    }

    pub(crate) fn event(&self, action: &str, user: Option<&str>, mut context: Value) -> NewEvent {
        if let (Some(name), Some(map)) = (&self.blueprint, context.as_object_mut()) {
            map.insert("blueprint".into(), Value::from(name.as_str()));
        }
        NewEvent {
            action: action.to_string(),
            actor: self.actor.to_string(),
            user: user.map(str::to_string),
            client_ip: self.client_ip.clone(),
            context,
        }
    }
}

/// How many events of one action fell into one bucket of time (a row of
/// [`Events::histogram`]'s SQL grouping).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventCount {
    pub action: String,
    pub bucket: i64,
    pub count: i64,
}

/// Counts of some actions per bucket of time, oldest bucket first.
#[derive(Debug, Clone)]
pub struct Histogram {
    /// Start of the first bucket.
    pub start: Timestamp,
    pub bucket_secs: i64,
    /// One series per action asked for, in that order, `buckets` long.
    pub series: Vec<(String, Vec<i64>)>,
}

impl Events<'_> {
    /// Newest first, at most `filter.limit`.
    pub async fn list(self, filter: &EventFilter) -> Result<Vec<Event>> {
        Ok(self.store().events(filter).await?)
    }

    /// `buckets` buckets of `bucket_secs` ending with the one that holds now
    /// (aligned to whole buckets since the epoch, so hours and UTC days), with
    /// the count of each of `actions` in each, grouped in SQL.
    pub async fn histogram(self, actions: &[&str], buckets: usize, bucket_secs: i64) -> Result<Histogram> {
        let bucket_ms = bucket_secs.max(1) * 1000;
        let now = self.now().millis();
        let end = (now.div_euclid(bucket_ms) + 1) * bucket_ms;
        let start = Timestamp(end - bucket_ms * buckets as i64);
        let names: Vec<String> = actions.iter().map(|a| a.to_string()).collect();
        let counts = self.store().event_counts(&names, start, bucket_ms).await?;
        let series = names
            .into_iter()
            .map(|name| {
                let mut values = vec![0; buckets];
                for c in counts.iter().filter(|c| c.action == name) {
                    if let Some(v) = usize::try_from(c.bucket).ok().and_then(|b| values.get_mut(b)) {
                        *v += c.count;
                    }
                }
                (name, values)
            })
            .collect();
        Ok(Histogram {
            start,
            bucket_secs,
            series,
        })
    }

    /// Events with `seq > after`, oldest first, at most `limit` (for readers
    /// that follow what changed, such as the LDAP snapshot).
    pub async fn after(self, after: i64, limit: u32) -> Result<Vec<Event>> {
        Ok(self.store().events_after(after, limit).await?)
    }

    /// Whether the events after `seq` hold more than sign-ins: the change
    /// feed's directory generation moves then. Reads at most a few hundred;
    /// a longer list counts as a change.
    pub async fn directory_changed_since(self, seq: i64) -> Result<bool> {
        const LOOK_AT: u32 = 256;
        let events = self.store().events_after(seq, LOOK_AT).await?;
        Ok(events.len() >= LOOK_AT as usize || events.iter().any(|e| !crate::events::is_sign_in_noise(&e.action)))
    }

    /// Records an event for a change made outside the database (a service's
    /// env or trust file written by the SSO repair), in its own transaction.
    pub async fn record(self, audit: &Audit, action: &str, user: Option<&str>, context: Value) -> Result<Event> {
        let mut tx = self.write(audit).await?;
        let event = tx.record(action, user, context).await?;
        tx.commit().await?;
        Ok(event)
    }

    /// Walks the whole chain in batches and names the first broken link.
    /// Events appended while it runs are past the head it read, and ignored.
    pub async fn verify(self) -> Result<ChainReport> {
        let head = self.store().chain_head().await?;
        let mut verifier = ChainVerifier::new(&head);
        let mut after = head.anchor_seq;
        'walk: loop {
            let batch = self.store().events_after(after, 2000).await?;
            let Some(last) = batch.last() else { break };
            after = last.seq;
            for e in batch.iter().take_while(|e| e.seq <= head.head_seq) {
                if !verifier.feed(e) {
                    break 'walk;
                }
            }
            if after >= head.head_seq {
                break;
            }
        }
        Ok(verifier.finish(&head))
    }

    /// Deletes events older than `keep_seconds`, keeping the chain verifiable.
    pub async fn prune(self, audit: &Audit, keep_seconds: i64) -> Result<u64> {
        let before = self.now().minus_seconds(keep_seconds);
        let mut tx = self.write(audit).await?;
        let pruned = tx.raw().prune_events(before).await?;
        if pruned > 0 {
            tx.record(
                action::EVENTS_PRUNED,
                None,
                json!({"count": pruned, "before": before.millis()}),
            )
            .await?;
        }
        tx.commit().await?;
        Ok(pruned)
    }
}
