//! The audit log's hash chain.
//!
//! Each event stores the hash of its predecessor and the SHA-256 of its own
//! canonical content (a JSON object with sorted keys, including `prev_hash`).
//! Editing a row changes its hash; deleting one breaks the next link or the
//! chain head. Pruning old events records the last pruned hash as the anchor
//! the remaining chain starts from, so it stays verifiable.

use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::clock::Timestamp;
use crate::model::{ChainHead, Event, NewEvent};

/// Action names, authentik's where one exists.
pub mod action {
    pub const MODEL_CREATED: &str = "model_created";
    pub const MODEL_UPDATED: &str = "model_updated";
    pub const MODEL_DELETED: &str = "model_deleted";
    pub const PASSWORD_SET: &str = "password_set";
    pub const LOGIN: &str = "login";
    pub const LOGIN_FAILED: &str = "login_failed";
    pub const LOGOUT: &str = "logout";
    pub const LOGIN_LOCKED: &str = "login_locked";
    pub const LOGIN_UNLOCKED: &str = "login_unlocked";
    pub const SESSION_REVOKED: &str = "session_revoked";
    pub const SECRET_ROTATE: &str = "secret_rotate";
    pub const SECRET_VIEW: &str = "secret_view";
    pub const RECOVERY_KEY_CREATED: &str = "recovery_key_created";
    pub const RECOVERY_KEY_USED: &str = "recovery_key_used";
    pub const EVENTS_PRUNED: &str = "events_pruned";
    pub const BOOTSTRAP: &str = "bootstrap";
}

/// The hash the first event links to.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The exact bytes an event's hash covers.
pub fn canonical_content(e: &Event) -> String {
    // serde_json's default map is ordered by key, so this is canonical as long as
    // `context` round-trips through serde_json::Value, which the store guarantees.
    let v = json!({
        "seq": e.seq,
        "id": e.id.to_string(),
        "at": e.at.millis(),
        "action": e.action,
        "actor": e.actor,
        "user": e.user,
        "client_ip": e.client_ip,
        "context": canonicalize(&e.context),
        "prev_hash": e.prev_hash,
    });
    v.to_string()
}

fn canonicalize(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(m.iter().map(|(k, v)| (k.clone(), canonicalize(v))).collect()),
        Value::Array(a) => Value::Array(a.iter().map(canonicalize).collect()),
        other => other.clone(),
    }
}

pub fn content_hash(e: &Event) -> String {
    hex::encode(Sha256::digest(canonical_content(e).as_bytes()))
}

/// Audit actions that change nothing a directory snapshot holds (sign-ins
/// and their throttling): the change feed moves on each, and every LDAP bind
/// or web sign-in writes one, so caches that follow the feed skip them.
const SIGN_IN_NOISE: &[&str] = &[
    "login",
    "login_failed",
    "login_locked",
    "login_unlocked",
    "logout",
    "session_revoked",
    "mfa_failed",
    "mfa_recovery_code_used",
    "password_set",
    "authorize_application",
    "authorize_application_denied",
];

/// Whether `action` changes nothing a directory snapshot holds.
pub fn is_sign_in_noise(action: &str) -> bool {
    SIGN_IN_NOISE.contains(&action)
}

/// Turns a new event into the next link after `head`.
pub fn seal(head: &ChainHead, new: NewEvent, at: Timestamp) -> Event {
    let mut e = Event {
        seq: head.head_seq + 1,
        id: Uuid::new_v4(),
        at,
        action: new.action,
        actor: new.actor,
        user: new.user,
        client_ip: new.client_ip,
        context: new.context,
        prev_hash: head.head_hash.clone(),
        hash: String::new(),
    };
    e.hash = content_hash(&e);
    e
}

/// Result of walking the chain.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub enum ChainReport {
    /// Every link checks out.
    Intact {
        events: u64,
        head_seq: i64,
        head_hash: String,
    },
    /// The first broken link, and why.
    Broken { seq: i64, reason: String },
}

/// Walks the chain incrementally: feed events oldest first, then `finish`.
#[derive(Debug)]
pub struct ChainVerifier {
    expected_seq: i64,
    prev_hash: String,
    checked: u64,
    broken: Option<(i64, String)>,
}

impl ChainVerifier {
    pub fn new(head: &ChainHead) -> Self {
        ChainVerifier {
            expected_seq: head.anchor_seq + 1,
            prev_hash: head.anchor_hash.clone(),
            checked: 0,
            broken: None,
        }
    }

    /// False once a broken link was found (no need to feed more).
    pub fn feed(&mut self, e: &Event) -> bool {
        if self.broken.is_some() {
            return false;
        }
        let fail = |reason: String| Some((e.seq, reason));
        self.broken = if e.seq != self.expected_seq {
            Some((
                self.expected_seq,
                format!(
                    "event {} is missing (next stored event is {})",
                    self.expected_seq, e.seq
                ),
            ))
        } else if e.prev_hash != self.prev_hash {
            fail(format!(
                "event {} does not link to its predecessor (it was altered or a predecessor was removed)",
                e.seq
            ))
        } else if content_hash(e) != e.hash {
            fail(format!(
                "event {} was altered: its content no longer matches its hash",
                e.seq
            ))
        } else {
            None
        };
        if self.broken.is_some() {
            return false;
        }
        self.expected_seq += 1;
        self.prev_hash = e.hash.clone();
        self.checked += 1;
        true
    }

    pub fn finish(self, head: &ChainHead) -> ChainReport {
        if let Some((seq, reason)) = self.broken {
            return ChainReport::Broken { seq, reason };
        }
        let last_seq = self.expected_seq - 1;
        if last_seq != head.head_seq || self.prev_hash != head.head_hash {
            let seq = last_seq + 1;
            return ChainReport::Broken {
                seq,
                reason: format!(
                    "the chain head records event {} but the log ends at event {last_seq} (events were removed from the end, or the head was altered)",
                    head.head_seq
                ),
            };
        }
        ChainReport::Intact {
            events: self.checked,
            head_seq: head.head_seq,
            head_hash: head.head_hash.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn genesis() -> ChainHead {
        ChainHead {
            head_seq: 0,
            head_hash: GENESIS_HASH.into(),
            anchor_seq: 0,
            anchor_hash: GENESIS_HASH.into(),
        }
    }

    fn chain(n: usize) -> (ChainHead, Vec<Event>) {
        let mut head = genesis();
        let mut out = vec![];
        for i in 0..n {
            let e = seal(
                &head,
                NewEvent {
                    action: "model_created".into(),
                    actor: "cli:root".into(),
                    user: Some(format!("u{i}")),
                    client_ip: None,
                    context: json!({"b": 1, "a": [i]}),
                },
                Timestamp(1000 + i as i64),
            );
            head.head_seq = e.seq;
            head.head_hash = e.hash.clone();
            out.push(e);
        }
        (head, out)
    }

    fn verify(head: &ChainHead, events: &[Event]) -> ChainReport {
        let mut v = ChainVerifier::new(head);
        for e in events {
            if !v.feed(e) {
                break;
            }
        }
        v.finish(head)
    }

    #[test]
    fn intact_chain_verifies() {
        let (head, events) = chain(5);
        assert!(matches!(verify(&head, &events), ChainReport::Intact { events: 5, .. }));
        assert!(matches!(verify(&genesis(), &[]), ChainReport::Intact { events: 0, .. }));
    }

    #[test]
    fn edited_event_is_named() {
        let (head, mut events) = chain(5);
        events[2].actor = "cli:mallory".into();
        assert!(matches!(verify(&head, &events), ChainReport::Broken { seq: 3, .. }));
    }

    #[test]
    fn rehashed_edit_breaks_next_link() {
        let (head, mut events) = chain(5);
        events[1].context = json!({"forged": true});
        events[1].hash = content_hash(&events[1]);
        assert!(matches!(verify(&head, &events), ChainReport::Broken { seq: 3, .. }));
    }

    #[test]
    fn deleted_events_are_found() {
        let (head, mut events) = chain(5);
        events.remove(3);
        assert!(matches!(verify(&head, &events), ChainReport::Broken { seq: 4, .. }));
        let (head, mut events) = chain(5);
        events.pop();
        assert!(matches!(verify(&head, &events), ChainReport::Broken { seq: 5, .. }));
    }

    #[test]
    fn pruned_chain_verifies_from_anchor() {
        let (mut head, events) = chain(5);
        head.anchor_seq = events[1].seq;
        head.anchor_hash = events[1].hash.clone();
        assert!(matches!(
            verify(&head, &events[2..]),
            ChainReport::Intact { events: 3, .. }
        ));
    }

    #[test]
    fn context_key_order_does_not_matter() {
        let (_, events) = chain(1);
        let mut e = events[0].clone();
        e.context = serde_json::from_str(r#"{"a":[0],"b":1}"#).unwrap_or_default();
        assert_eq!(content_hash(&e), events[0].hash);
    }
}
