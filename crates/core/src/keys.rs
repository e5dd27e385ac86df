//! Signing keys shared by every protocol (OIDC tokens, forward-auth's JWT,
//! later SAML): one current key per algorithm, kept in the database so every
//! node signs with the same key.
//!
//! Rotation publishes before it signs: `rotate_signing_keys` adds a key that
//! activates `activate_in` seconds later (it is in JWKS at once), and the keys
//! it replaces stay published until [`MAX_SIGNED_TOKEN_LIFETIME_SECS`] after
//! the new key took over, so no token signed by them outlives their
//! publication. Which key signs is a function of the stored keys and the time,
//! so every node picks the same one without coordination.
//!
//! Private keys are stored in the clear (PKCS#8, base64) in `signing_keys`;
//! encrypting them under a key from the environment is a later improvement.
//! They never reach an event, a log line or `Debug` output.

use std::collections::HashMap;
use std::sync::Arc;

use gatehouse_crypto::signing::{SigningAlg, SigningError, SigningKey};
use serde_json::{Value, json};

use crate::audit::Audit;
use crate::clock::Timestamp;
use crate::context::Keys;
use crate::error::{Error, Result, StoreError};
use crate::events::action;
use crate::oauth::model::SigningKeyRecord;

/// No token signed by a Gatehouse key may live longer than this (protocols
/// cap their token lifetimes here); retired keys stay published this long.
pub const MAX_SIGNED_TOKEN_LIFETIME_SECS: i64 = 24 * 3600;
/// A little slack for clocks of verifiers.
const PUBLISH_SLACK_SECS: i64 = 300;

impl From<SigningError> for Error {
    fn from(e: SigningError) -> Self {
        Error::Refused(format!("signing key: {e}"))
    }
}

/// The parsed keys as of one load, with what depends on time precomputed.
pub struct KeyRing {
    keys: Vec<(SigningKeyRecord, Arc<SigningKey>)>,
    /// The next moment the choice of signer or the published set changes by
    /// time alone (an activation or an end of publication).
    changes_at: Option<Timestamp>,
    jwks: Value,
    jwks_json: Arc<str>,
}

impl KeyRing {
    fn build(keys: Vec<(SigningKeyRecord, Arc<SigningKey>)>, now: Timestamp) -> KeyRing {
        let published: Vec<Value> = keys
            .iter()
            .filter(|(r, _)| r.is_published(now))
            .map(|(_, k)| k.public_jwk().clone())
            .collect();
        let changes_at = keys
            .iter()
            .flat_map(|(r, _)| [Some(r.activates_at), r.publish_until])
            .flatten()
            .filter(|t| *t > now)
            .min();
        let jwks = json!({ "keys": published });
        let jwks_json: Arc<str> = Arc::from(jwks.to_string());
        KeyRing {
            keys,
            changes_at,
            jwks,
            jwks_json,
        }
    }

    #[cfg(test)]
    fn fresh_at(&self, now: Timestamp) -> bool {
        self.changes_at.is_none_or(|t| now < t)
    }

    /// The key that signs for `alg` at `now`: the newest active one; before any
    /// is active, the oldest published one.
    pub fn signer(&self, alg: SigningAlg, now: Timestamp) -> Option<&Arc<SigningKey>> {
        let of_alg = || self.keys.iter().filter(move |(r, _)| r.alg == alg);
        of_alg()
            .filter(|(r, _)| r.activates_at <= now && r.is_published(now))
            .max_by_key(|(r, _)| r.generation)
            .or_else(|| {
                of_alg()
                    .filter(|(r, _)| r.is_published(now))
                    .min_by_key(|(r, _)| r.generation)
            })
            .map(|(_, k)| k)
    }

    /// A published key by id (to verify tokens Gatehouse issued).
    pub fn by_kid(&self, kid: &str, now: Timestamp) -> Option<&Arc<SigningKey>> {
        self.keys
            .iter()
            .find(|(r, _)| r.kid == kid && r.is_published(now))
            .map(|(_, k)| k)
    }

    pub fn jwks(&self) -> &Value {
        &self.jwks
    }

    pub fn jwks_json(&self) -> &Arc<str> {
        &self.jwks_json
    }
}

/// A key as `gatehouse key list` shows it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct KeyListing {
    pub kid: String,
    pub alg: String,
    pub generation: i64,
    /// `next` (published, signs later), `signing`, `retiring` (published, no
    /// longer signs), `expired` (no longer published).
    pub status: &'static str,
    pub created_at: Timestamp,
    pub activates_at: Timestamp,
    pub publish_until: Option<Timestamp>,
}

impl Keys<'_> {
    /// The parsed keys, from the cache while the change sequence and the time
    /// allow, else from the store (reusing keys already parsed).
    pub async fn ring(self) -> Result<Arc<KeyRing>> {
        let generation = self.feed().generation();
        let cache = &self.caches().keys;
        let now = self.now();
        if let Some(ring) = cache.get(generation, now.millis()) {
            return Ok(ring);
        }
        // The previous ring, whatever its generation: only to reuse parsed keys.
        let previous = cache.peek();
        let records = self.store().signing_keys().await?;
        let ring = Arc::new(self.parse_ring(records, previous.as_deref(), now)?);
        let until = ring.changes_at.map_or(crate::cache::NO_DEADLINE, |t| t.millis());
        cache.put(generation, until, ring.clone());
        Ok(ring)
    }

    fn parse_ring(self, records: Vec<SigningKeyRecord>, previous: Option<&KeyRing>, now: Timestamp) -> Result<KeyRing> {
        let known: HashMap<&str, &Arc<SigningKey>> = previous
            .map(|p| p.keys.iter().map(|(r, k)| (r.kid.as_str(), k)).collect())
            .unwrap_or_default();
        let mut keys = Vec::with_capacity(records.len());
        for r in records {
            let key = match known.get(r.kid.as_str()) {
                Some(k) => (*k).clone(),
                None => match SigningKey::from_pkcs8_b64(r.alg, &r.private_key) {
                    Ok(k) if k.kid() == r.kid => Arc::new(k),
                    _ => {
                        return Err(Error::Store(StoreError::Corrupt(format!(
                            "signing key {} ({}) does not parse or does not match its id",
                            r.kid, r.alg
                        ))));
                    }
                },
            };
            keys.push((r, key));
        }
        Ok(KeyRing::build(keys, now))
    }

    /// The key that signs now for `alg`; the first one is created on first use
    /// (race-free across nodes: the loser of two creations re-reads the winner's).
    pub async fn signing_key(self, alg: SigningAlg) -> Result<Arc<SigningKey>> {
        let now = self.now();
        if let Some(k) = self.ring().await?.signer(alg, now) {
            return Ok(k.clone());
        }
        self.create_first_key(alg).await?;
        self.caches().keys.clear();
        self.ring()
            .await?
            .signer(alg, self.now())
            .cloned()
            .ok_or_else(|| Error::Refused(format!("no {alg} signing key could be created")))
    }

    /// `{"keys": [...]}`: every published public key (all algorithms).
    pub async fn published_jwks(self) -> Result<Value> {
        Ok(self.ring().await?.jwks().clone())
    }

    /// A published key by `kid`, to verify a token Gatehouse signed.
    pub async fn verifying_key(self, kid: &str) -> Result<Option<Arc<SigningKey>>> {
        Ok(self.ring().await?.by_kid(kid, self.now()).cloned())
    }

    async fn create_first_key(self, alg: SigningAlg) -> Result<()> {
        let generated = SigningKey::generate(alg)?;
        let now = self.now();
        let record = SigningKeyRecord {
            kid: generated.key.kid().to_string(),
            alg,
            generation: 1,
            private_key: SigningKey::pkcs8_b64(&generated.pkcs8_der).to_string(),
            public_jwk: generated.key.public_jwk().clone(),
            created_at: now,
            activates_at: now,
            publish_until: None,
        };
        let mut tx = self.store().begin().await?;
        if tx.signing_keys().await?.iter().any(|k| k.alg == alg) {
            return Ok(());
        }
        match tx.insert_signing_key(&record).await {
            Ok(()) => {}
            // Another node created it first: use theirs.
            Err(StoreError::Conflict(_)) => return Ok(()),
            Err(e) => return Err(e.into()),
        }
        tx.append_event(
            Audit::system().event(
                action::MODEL_CREATED,
                None,
                json!({"model": "signing_key", "kid": record.kid, "alg": alg.as_str(), "generation": 1}),
            ),
            now,
        )
        .await?;
        match tx.commit().await {
            Ok(()) | Err(StoreError::Conflict(_)) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Adds a new key for each of `algs`, published now and signing from
    /// `activate_in_secs` on; the keys it replaces stay published until every
    /// token they can have signed has expired. Returns the new keys.
    pub async fn rotate(self, audit: &Audit, algs: &[SigningAlg], activate_in_secs: i64) -> Result<Vec<KeyListing>> {
        if !(0..=30 * 86_400).contains(&activate_in_secs) {
            return Err(Error::invalid("activation delay", "must be between 0 and 30 days"));
        }
        let mut generated = Vec::new();
        for &alg in algs {
            generated.push((alg, SigningKey::generate(alg)?));
        }
        let now = self.now();
        let activates_at = now.plus_seconds(activate_in_secs);
        let retire_at = activates_at.plus_seconds(MAX_SIGNED_TOKEN_LIFETIME_SECS + PUBLISH_SLACK_SECS);
        let mut tx = self.store().begin().await?;
        let existing = tx.signing_keys().await?;
        let mut created = Vec::new();
        for (alg, g) in generated {
            let generation = existing
                .iter()
                .filter(|k| k.alg == alg)
                .map(|k| k.generation)
                .max()
                .unwrap_or(0)
                + 1;
            let mut retired = Vec::new();
            for old in existing.iter().filter(|k| k.alg == alg && k.publish_until.is_none()) {
                tx.set_signing_key_publish_until(&old.kid, Some(retire_at)).await?;
                retired.push(old.kid.clone());
            }
            let record = SigningKeyRecord {
                kid: g.key.kid().to_string(),
                alg,
                generation,
                private_key: SigningKey::pkcs8_b64(&g.pkcs8_der).to_string(),
                public_jwk: g.key.public_jwk().clone(),
                created_at: now,
                activates_at,
                publish_until: None,
            };
            tx.insert_signing_key(&record).await.map_err(|e| match e {
                StoreError::Conflict(_) => {
                    Error::Refused("another key rotation ran at the same time; try again".into())
                }
                other => other.into(),
            })?;
            tx.append_event(
                audit.event(
                    action::MODEL_CREATED,
                    None,
                    json!({"model": "signing_key", "kid": record.kid, "alg": alg.as_str(), "generation": generation,
                           "activates_at": activates_at.millis(), "retired": retired, "published_until": retire_at.millis()}),
                ),
                now,
            )
            .await?;
            created.push(listing(&record, now));
        }
        tx.commit().await?;
        self.caches().keys.clear();
        Ok(created)
    }

    /// The algorithms that have keys (what a rotation without `--alg` rotates).
    pub async fn algorithms(self) -> Result<Vec<SigningAlg>> {
        let mut algs: Vec<SigningAlg> = self.store().signing_keys().await?.into_iter().map(|k| k.alg).collect();
        algs.sort();
        algs.dedup();
        Ok(algs)
    }

    /// Every stored key with its status.
    pub async fn list(self) -> Result<Vec<KeyListing>> {
        let now = self.now();
        let records = self.store().signing_keys().await?;
        // The signer of each algorithm: the newest active, published key.
        let signers: Vec<&str> = SigningAlg::ALL
            .iter()
            .filter_map(|alg| {
                records
                    .iter()
                    .filter(|r| r.alg == *alg && r.activates_at <= now && r.is_published(now))
                    .max_by_key(|r| r.generation)
                    .map(|r| r.kid.as_str())
            })
            .collect();
        Ok(records
            .iter()
            .map(|r| {
                let mut l = listing(r, now);
                if l.status == "signing" && !signers.contains(&r.kid.as_str()) {
                    l.status = "retiring";
                }
                if l.status == "retiring" && signers.contains(&r.kid.as_str()) {
                    l.status = "signing";
                }
                l
            })
            .collect())
    }

    /// Housekeeping: deletes keys whose publication ended.
    pub async fn purge_retired(self) -> Result<u64> {
        let mut tx = self.store().begin().await?;
        let n = tx.delete_unpublished_signing_keys(self.now()).await?;
        tx.commit().await?;
        Ok(n)
    }
}

fn listing(r: &SigningKeyRecord, now: Timestamp) -> KeyListing {
    let status = if !r.is_published(now) {
        "expired"
    } else if r.activates_at > now {
        "next"
    } else if r.publish_until.is_some() {
        "retiring"
    } else {
        "signing"
    };
    KeyListing {
        kid: r.kid.clone(),
        alg: r.alg.as_str().to_string(),
        generation: r.generation,
        status,
        created_at: r.created_at,
        activates_at: r.activates_at,
        publish_until: r.publish_until,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(
        key: SigningKey,
        generation: i64,
        activates: i64,
        until: Option<i64>,
    ) -> (SigningKeyRecord, Arc<SigningKey>) {
        (
            SigningKeyRecord {
                kid: key.kid().to_string(),
                alg: key.alg(),
                generation,
                private_key: String::new(),
                public_jwk: key.public_jwk().clone(),
                created_at: Timestamp(0),
                activates_at: Timestamp(activates),
                publish_until: until.map(Timestamp),
            },
            Arc::new(key),
        )
    }

    #[test]
    fn the_newest_active_key_signs_and_retired_keys_stay_published() {
        let a = SigningKey::generate(SigningAlg::EdDsa).unwrap().key;
        let b = SigningKey::generate(SigningAlg::EdDsa).unwrap().key;
        let keys = vec![record(a, 1, 0, Some(5000)), record(b, 2, 1000, None)];
        let kids: Vec<String> = keys.iter().map(|(r, _)| r.kid.clone()).collect();
        // Before b activates: a signs, both published.
        let ring = KeyRing::build(keys.clone(), Timestamp(500));
        let signer = ring.signer(SigningAlg::EdDsa, Timestamp(500)).unwrap();
        assert!(Arc::ptr_eq(signer, &keys[0].1));
        assert_eq!(ring.jwks()["keys"].as_array().unwrap().len(), 2);
        assert_eq!(ring.changes_at, Some(Timestamp(1000)));
        assert!(ring.fresh_at(Timestamp(999)) && !ring.fresh_at(Timestamp(1000)));
        // After: b signs, a still published until 5000, then gone.
        let ring = KeyRing::build(keys.clone(), Timestamp(2000));
        assert!(Arc::ptr_eq(
            ring.signer(SigningAlg::EdDsa, Timestamp(2000)).unwrap(),
            &keys[1].1
        ));
        assert!(ring.by_kid(&kids[0], Timestamp(2000)).is_some());
        let ring = KeyRing::build(keys, Timestamp(6000));
        assert_eq!(ring.jwks()["keys"].as_array().unwrap().len(), 1);
        assert!(ring.by_kid(&kids[0], Timestamp(6000)).is_none());
        assert!(ring.signer(SigningAlg::Rs256, Timestamp(6000)).is_none());
    }
}
