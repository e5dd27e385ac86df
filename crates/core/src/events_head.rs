//! Signed chain heads: what makes the audit log's hash chain hold against
//! someone who can write to the database.
//!
//! The chain alone detects an edit only by someone who does not also recompute
//! every later hash and the head row (see [`crate::events`]). A *signed head*
//! records the head (sequence number and hash, the anchor, the head event's
//! time) signed with an Ed25519 key that is derived from `GATEHOUSE_SECRET_KEY`
//! (HKDF-SHA256), i.e. that never lives in the database. An operator ships
//! heads off the machine (`gatehouse events head`, or the worker on a
//! schedule); `gatehouse events verify --head FILE` then checks the database
//! against each: the event a head names must still have the hash it signed, and
//! the anchor may only have moved forward past events the retention removes.
//!
//! Why derived rather than a key file: every node and the CLI already hold the
//! secret key (it seals TOTP seeds), so there is no second secret to generate,
//! copy between nodes and back up, and a database dump alone never carries it.
//! The public key (printed with every head) suffices to check a head's
//! signature; the verifier re-derives the key, so a head signed by any other
//! key is refused.

use aws_lc_rs::hkdf;
use aws_lc_rs::signature::{ED25519, Ed25519KeyPair, KeyPair, UnparsedPublicKey};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

use crate::context::Events;
use crate::error::{Error, Result};
use crate::events::ChainReport;

const INFO: &[u8] = b"gatehouse audit head v1";
const FORMAT: &str = "gatehouse-audit-head-v1";
/// Clock differences between the node that pruned and the one verifying.
const PRUNE_SLACK_MS: i64 = 5 * 60 * 1000;

/// The key that signs chain heads. Holds key material: no `Debug` of it.
pub struct HeadKey {
    pair: Ed25519KeyPair,
    key_id: String,
}

impl std::fmt::Debug for HeadKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HeadKey({})", self.key_id)
    }
}

struct Len(usize);
impl hkdf::KeyType for Len {
    fn len(&self) -> usize {
        self.0
    }
}

impl HeadKey {
    /// Derives the signing key from the configured secret key.
    pub fn from_secret_key(secret_key: &str) -> Result<HeadKey> {
        if secret_key.trim().len() < 16 {
            return Err(Error::invalid("GATEHOUSE_SECRET_KEY", "must be at least 16 characters"));
        }
        let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, b"gatehouse").extract(secret_key.as_bytes());
        let mut seed = [0u8; 32];
        prk.expand(&[INFO], Len(32))
            .and_then(|okm| okm.fill(&mut seed))
            .map_err(|_| Error::invalid("GATEHOUSE_SECRET_KEY", "key derivation failed"))?;
        let pair = Ed25519KeyPair::from_seed_unchecked(&seed)
            .map_err(|_| Error::invalid("GATEHOUSE_SECRET_KEY", "key derivation failed"))?;
        seed.fill(0);
        let key_id = gatehouse_crypto::sha256_hex(pair.public_key().as_ref())[..16].to_string();
        Ok(HeadKey { pair, key_id })
    }

    /// The public key, base64url: enough to check a head's signature.
    pub fn public_key(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.pair.public_key().as_ref())
    }

    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    fn verifies(&self, head: &SignedHead) -> bool {
        let Ok(sig) = URL_SAFE_NO_PAD.decode(head.signature.as_bytes()) else {
            return false;
        };
        head.key_id == self.key_id
            && UnparsedPublicKey::new(&ED25519, self.pair.public_key().as_ref())
                .verify(head.signed_text().as_bytes(), &sig)
                .is_ok()
    }
}

/// A chain head as signed: one JSON line per head in files and syslog.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedHead {
    pub format: String,
    pub head_seq: i64,
    pub head_hash: String,
    /// When the head event was written (ms); judges later pruning.
    pub head_at: Option<i64>,
    pub anchor_seq: i64,
    pub anchor_hash: String,
    /// When this head was signed (ms).
    pub signed_at: i64,
    pub key_id: String,
    pub public_key: String,
    pub signature: String,
}

impl SignedHead {
    /// The exact text the signature covers.
    fn signed_text(&self) -> String {
        format!(
            "{}\n{}\n{}\n{}\n{}\n{}\n{}\n{}",
            self.format,
            self.head_seq,
            self.head_hash,
            self.head_at.map_or_else(|| "-".to_string(), |t| t.to_string()),
            self.anchor_seq,
            self.anchor_hash,
            self.signed_at,
            self.key_id
        )
    }

    /// Reads heads from the lines of a file: one JSON object per line, also
    /// inside a syslog line (from its first `{`). Other lines are errors.
    pub fn parse_lines(text: &str) -> std::result::Result<Vec<SignedHead>, String> {
        let mut out = Vec::new();
        for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
            let json = line
                .find('{')
                .map(|at| &line[at..])
                .ok_or_else(|| format!("line {}: no signed head", i + 1))?;
            let head: SignedHead =
                serde_json::from_str(json.trim()).map_err(|e| format!("line {}: not a signed head: {e}", i + 1))?;
            out.push(head);
        }
        if out.is_empty() {
            return Err("no signed head in the file".into());
        }
        Ok(out)
    }
}

/// What `events verify --head` found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum HeadReport {
    /// The chain is intact and agrees with every head that can still be
    /// checked; `unverifiable` counts heads whose event the retention pruned.
    Consistent {
        heads: usize,
        unverifiable: usize,
        newest_seq: i64,
        chain: ChainReport,
    },
    /// The first disagreement.
    Broken { seq: i64, reason: String },
}

impl Events<'_> {
    /// The current chain head, signed.
    pub async fn signed_chain_head(self, key: &HeadKey) -> Result<SignedHead> {
        let head = self.store().chain_head().await?;
        let head_at = self
            .store()
            .events_after(head.head_seq - 1, 1)
            .await?
            .into_iter()
            .find(|e| e.seq == head.head_seq)
            .map(|e| e.at.millis());
        let mut signed = SignedHead {
            format: FORMAT.into(),
            head_seq: head.head_seq,
            head_hash: head.head_hash,
            head_at,
            anchor_seq: head.anchor_seq,
            anchor_hash: head.anchor_hash,
            signed_at: self.now().millis(),
            key_id: key.key_id.clone(),
            public_key: key.public_key(),
            signature: String::new(),
        };
        signed.signature = URL_SAFE_NO_PAD.encode(key.pair.sign(signed.signed_text().as_bytes()).as_ref());
        Ok(signed)
    }

    /// Checks the chain, then the database against each signed head.
    /// `retention_secs` (0: keep forever) tells a legitimate prune from an
    /// anchor moved to hide events.
    pub async fn verify_against_heads(
        self,
        key: &HeadKey,
        heads: &[SignedHead],
        retention_secs: i64,
    ) -> Result<HeadReport> {
        let chain = self.verify().await?;
        if let ChainReport::Broken { seq, reason } = chain {
            return Ok(HeadReport::Broken { seq, reason });
        }
        let current = self.store().chain_head().await?;
        let mut unverifiable = 0;
        for h in heads {
            match self.check_head(key, h, heads, &current, retention_secs).await? {
                Ok(true) => {}
                Ok(false) => unverifiable += 1,
                Err(reason) => {
                    return Ok(HeadReport::Broken {
                        seq: h.head_seq,
                        reason,
                    });
                }
            }
        }
        Ok(HeadReport::Consistent {
            heads: heads.len(),
            unverifiable,
            newest_seq: heads.iter().map(|h| h.head_seq).max().unwrap_or(0),
            chain,
        })
    }

    /// `Ok(true)`: agrees; `Ok(false)`: its event was pruned legitimately;
    /// `Err(reason)`: the database disagrees with the head.
    async fn check_head(
        self,
        key: &HeadKey,
        h: &SignedHead,
        all: &[SignedHead],
        current: &crate::model::ChainHead,
        retention_secs: i64,
    ) -> Result<std::result::Result<bool, String>> {
        let n = h.head_seq;
        if h.format != FORMAT || !key.verifies(h) {
            return Ok(Err(format!(
                "the head for event {n} is not signed by this installation's key (key id {})",
                key.key_id
            )));
        }
        if current.head_seq < n {
            return Ok(Err(format!(
                "a signed head records event {n}, but the log ends at event {}: events were removed from the end, or an older database was restored",
                current.head_seq
            )));
        }
        if current.anchor_seq < h.anchor_seq
            || (current.anchor_seq == h.anchor_seq && current.anchor_hash != h.anchor_hash)
        {
            return Ok(Err(format!(
                "the chain's anchor was moved back or rewritten (it is event {}, a signed head says {})",
                current.anchor_seq, h.anchor_seq
            )));
        }
        if n > current.anchor_seq {
            let stored = self.store().events_after(n - 1, 1).await?;
            return Ok(match stored.first().filter(|e| e.seq == n) {
                Some(e) if e.hash == h.head_hash => Ok(true),
                Some(_) => Err(format!(
                    "event {n} is not the one that was signed: the chain was recomputed after an edit at or before it"
                )),
                None => Err(format!("event {n}, which a signed head records, is missing")),
            });
        }
        if n == current.anchor_seq && current.anchor_hash != h.head_hash {
            return Ok(Err(format!("the anchor (event {n}) is not the event that was signed")));
        }
        // Pruned: legitimate when a later signed head already starts past this
        // event (it was signed after the prune), or when the retention lets the
        // event go; anything else is a start of the log removed to hide events.
        let attested = all
            .iter()
            .any(|later| later.anchor_seq >= n && later.format == FORMAT && key.verifies(later));
        let retention_lets_go = retention_secs > 0
            && h.head_at
                .is_some_and(|at| at + PRUNE_SLACK_MS <= self.now().millis() - retention_secs.saturating_mul(1000));
        Ok(if attested || retention_lets_go {
            Ok(false)
        } else {
            Err(format!(
                "the anchor moved past event {n}, which the retention still keeps and no later signed head accepts: events were removed from the start"
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_is_derived_and_stable() {
        let a = HeadKey::from_secret_key("a-secret-key-of-some-length").unwrap();
        let b = HeadKey::from_secret_key("a-secret-key-of-some-length").unwrap();
        let c = HeadKey::from_secret_key("another-secret-key-entirely").unwrap();
        assert_eq!(a.public_key(), b.public_key());
        assert_ne!(a.public_key(), c.public_key());
        assert!(HeadKey::from_secret_key("short").is_err());
        assert_eq!(format!("{a:?}"), format!("HeadKey({})", a.key_id()));
    }

    fn head(key: &HeadKey) -> SignedHead {
        let mut h = SignedHead {
            format: FORMAT.into(),
            head_seq: 7,
            head_hash: "ab".repeat(32),
            head_at: Some(1_000),
            anchor_seq: 0,
            anchor_hash: "00".repeat(32),
            signed_at: 2_000,
            key_id: key.key_id.clone(),
            public_key: key.public_key(),
            signature: String::new(),
        };
        h.signature = URL_SAFE_NO_PAD.encode(key.pair.sign(h.signed_text().as_bytes()).as_ref());
        h
    }

    #[test]
    fn signatures_cover_every_field_and_only_our_key() {
        let key = HeadKey::from_secret_key("a-secret-key-of-some-length").unwrap();
        let h = head(&key);
        assert!(key.verifies(&h));
        let other = HeadKey::from_secret_key("another-secret-key-entirely").unwrap();
        assert!(!other.verifies(&h), "a head signed by another key");
        assert!(!key.verifies(&head(&other)));
        for forged in [
            SignedHead {
                head_seq: 8,
                ..h.clone()
            },
            SignedHead {
                head_hash: "cd".repeat(32),
                ..h.clone()
            },
            SignedHead {
                anchor_seq: 3,
                ..h.clone()
            },
            SignedHead {
                head_at: None,
                ..h.clone()
            },
            SignedHead {
                signature: "AAAA".into(),
                ..h.clone()
            },
        ] {
            assert!(!key.verifies(&forged), "{forged:?}");
        }
    }

    #[test]
    fn heads_parse_from_json_lines_and_syslog_lines() {
        let key = HeadKey::from_secret_key("a-secret-key-of-some-length").unwrap();
        let line = serde_json::to_string(&head(&key)).unwrap();
        let text = format!("{line}\n\n<134>Nov 29 10:00:00 host gatehouse[42]: audit-head {line}\n");
        let heads = SignedHead::parse_lines(&text).unwrap();
        assert_eq!(heads.len(), 2);
        assert!(heads.iter().all(|h| key.verifies(h)));
        assert!(SignedHead::parse_lines("").is_err());
        assert!(SignedHead::parse_lines("nonsense\n").is_err());
    }
}
