//! SAML signing keys: one signing key per family (RSA, P-256), in the
//! database so every node signs with the same key, with self-signed
//! certificates. Rotation adds a key that is published in metadata at once
//! and signs `activate_in` later; the keys it replaces stay published for a
//! day after that, so SPs that refresh metadata learn the new certificate
//! before it is used and keep the old one while assertions made with it live.

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use gatehouse_saml::{KeyFamily, SamlKey};
use serde_json::json;

use super::model::SamlKeyRecord;
use crate::audit::Audit;
use crate::clock::Timestamp;
use crate::context::Saml;
use crate::error::{Error, Result, StoreError};
use crate::events::action;

/// Retired keys stay published this long after their successor signs.
pub const RETIRED_PUBLISH_SECS: i64 = 24 * 3600 + 300;

/// Parsed keys as of one load.
pub struct SamlKeyRing {
    keys: Vec<(SamlKeyRecord, Arc<SamlKey>)>,
    changes_at: Option<Timestamp>,
}

impl SamlKeyRing {
    fn build(keys: Vec<(SamlKeyRecord, Arc<SamlKey>)>, now: Timestamp) -> SamlKeyRing {
        let changes_at = keys
            .iter()
            .flat_map(|(r, _)| [Some(r.activates_at), r.publish_until])
            .flatten()
            .filter(|t| *t > now)
            .min();
        SamlKeyRing { keys, changes_at }
    }

    /// The newest active key of `family`; before any is active, the oldest published one.
    pub fn signer(&self, family: KeyFamily, now: Timestamp) -> Option<&Arc<SamlKey>> {
        let of = || {
            self.keys
                .iter()
                .filter(move |(r, _)| r.family == family.as_str() && r.is_published(now))
        };
        of().filter(|(r, _)| r.activates_at <= now)
            .max_by_key(|(r, _)| r.generation)
            .or_else(|| of().min_by_key(|(r, _)| r.generation))
            .map(|(_, k)| k)
    }

    /// Every published certificate of `family` (base64 DER), the signer's first.
    pub fn published_certs(&self, family: KeyFamily, now: Timestamp) -> Vec<String> {
        let signer = self.signer(family, now).map(|k| k.kid().to_string());
        let mut out: Vec<(bool, i64, String)> = self
            .keys
            .iter()
            .filter(|(r, _)| r.family == family.as_str() && r.is_published(now))
            .map(|(r, k)| {
                (
                    Some(k.kid()) != signer.as_deref(),
                    -r.generation,
                    k.cert_b64().to_string(),
                )
            })
            .collect();
        out.sort();
        out.into_iter().map(|(_, _, c)| c).collect()
    }
}

/// The process's parsed keys (held by the web layer; reloaded when anything
/// changed or a key's time came).
#[derive(Default)]
pub struct SamlKeys {
    cell: crate::cache::FeedCell<SamlKeyRing>,
}

/// A key as `gatehouse key list --kind saml` shows it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SamlKeyListing {
    pub kid: String,
    pub family: String,
    pub generation: i64,
    /// `next`, `signing`, `retiring` or `expired`.
    pub status: &'static str,
    pub created_at: Timestamp,
    pub activates_at: Timestamp,
    pub publish_until: Option<Timestamp>,
}

fn corrupt(r: &SamlKeyRecord) -> Error {
    Error::Store(StoreError::Corrupt(format!(
        "SAML key {} ({}) does not parse or does not match its id",
        r.kid, r.family
    )))
}

fn parse(r: &SamlKeyRecord) -> Result<SamlKey> {
    let family = KeyFamily::parse(&r.family).ok_or_else(|| corrupt(r))?;
    let pk = zeroize::Zeroizing::new(STANDARD.decode(r.private_key.as_bytes()).map_err(|_| corrupt(r))?);
    let cert = STANDARD.decode(r.certificate.as_bytes()).map_err(|_| corrupt(r))?;
    let key = SamlKey::from_parts(family, &pk, &cert).map_err(|_| corrupt(r))?;
    if key.kid() != r.kid {
        return Err(corrupt(r));
    }
    Ok(key)
}

fn record(
    g: &gatehouse_saml::keys::GeneratedSamlKey,
    generation: i64,
    now: Timestamp,
    activates_at: Timestamp,
) -> SamlKeyRecord {
    SamlKeyRecord {
        kid: g.key.kid().to_string(),
        family: g.key.family().as_str().to_string(),
        generation,
        private_key: STANDARD.encode(g.pkcs8_der.as_slice()),
        certificate: g.key.cert_b64().to_string(),
        created_at: now,
        activates_at,
        publish_until: None,
    }
}

impl Saml<'_> {
    /// The parsed SAML keys, from `cache` while nothing changed.
    pub async fn key_ring(self, cache: &SamlKeys) -> Result<Arc<SamlKeyRing>> {
        let generation = self.feed().generation();
        let now = self.now();
        if let Some(ring) = cache.cell.get(generation, now.millis()) {
            return Ok(ring);
        }
        let previous = cache.cell.peek();
        let mut keys = Vec::new();
        for r in self.store().saml_keys().await? {
            let known = previous
                .as_ref()
                .and_then(|p| p.keys.iter().find(|(pr, _)| pr.kid == r.kid).map(|(_, k)| k.clone()));
            let key = match known {
                Some(k) => k,
                None => Arc::new(parse(&r)?),
            };
            keys.push((r, key));
        }
        let ring = Arc::new(SamlKeyRing::build(keys, now));
        let until = ring.changes_at.map_or(crate::cache::NO_DEADLINE, |t| t.millis());
        cache.cell.put(generation, until, ring.clone());
        Ok(ring)
    }

    /// The key that signs now for `family`, created on first use (race-free:
    /// the loser of two creations uses the winner's).
    pub async fn signer(self, cache: &SamlKeys, family: KeyFamily) -> Result<(Arc<SamlKey>, Vec<String>)> {
        let ring = self.key_ring(cache).await?;
        let now = self.now();
        if let Some(k) = ring.signer(family, now) {
            return Ok((k.clone(), ring.published_certs(family, now)));
        }
        self.create_first_saml_key(family).await?;
        cache.cell.clear();
        let ring = self.key_ring(cache).await?;
        let now = self.now();
        let k = ring
            .signer(family, now)
            .cloned()
            .ok_or_else(|| Error::Refused("no SAML signing key could be created".into()))?;
        Ok((k, ring.published_certs(family, now)))
    }

    async fn create_first_saml_key(self, family: KeyFamily) -> Result<()> {
        let now = self.now();
        let g = SamlKey::generate(family, "Gatehouse SAML", now.millis() / 1000)
            .map_err(|e| Error::Refused(format!("SAML key: {e}")))?;
        let rec = record(&g, 1, now, now);
        let mut tx = self.store().begin().await?;
        if tx.saml_keys().await?.iter().any(|k| k.family == family.as_str()) {
            return Ok(());
        }
        match tx.insert_saml_key(&rec).await {
            Ok(()) => {}
            Err(StoreError::Conflict(_)) => return Ok(()),
            Err(e) => return Err(e.into()),
        }
        tx.append_event(
            Audit::system().event(
                action::MODEL_CREATED,
                None,
                json!({"model": "saml_key", "kid": rec.kid, "family": rec.family, "generation": 1}),
            ),
            now,
        )
        .await?;
        match tx.commit().await {
            Ok(()) | Err(StoreError::Conflict(_)) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Adds a new key for each family (all families that have keys, or RSA
    /// when none has), published now and signing from `activate_in_secs` on.
    pub async fn rotate_keys(
        self,
        audit: &Audit,
        families: &[KeyFamily],
        activate_in_secs: i64,
    ) -> Result<Vec<SamlKeyListing>> {
        if !(0..=30 * 86_400).contains(&activate_in_secs) {
            return Err(Error::invalid("activation delay", "must be between 0 and 30 days"));
        }
        let now = self.now();
        let activates_at = now.plus_seconds(activate_in_secs);
        let retire_at = activates_at.plus_seconds(RETIRED_PUBLISH_SECS);
        let mut generated = Vec::new();
        for &f in families {
            generated.push(
                SamlKey::generate(f, "Gatehouse SAML", now.millis() / 1000)
                    .map_err(|e| Error::Refused(format!("SAML key: {e}")))?,
            );
        }
        let mut tx = self.store().begin().await?;
        let existing = tx.saml_keys().await?;
        let mut created = Vec::new();
        for g in generated {
            let fam = g.key.family().as_str();
            let generation = existing
                .iter()
                .filter(|k| k.family == fam)
                .map(|k| k.generation)
                .max()
                .unwrap_or(0)
                + 1;
            let mut retired = Vec::new();
            for old in existing.iter().filter(|k| k.family == fam && k.publish_until.is_none()) {
                tx.set_saml_key_publish_until(&old.kid, Some(retire_at)).await?;
                retired.push(old.kid.clone());
            }
            let rec = record(&g, generation, now, activates_at);
            tx.insert_saml_key(&rec).await.map_err(|e| match e {
                StoreError::Conflict(_) => {
                    Error::Refused("another key rotation ran at the same time; try again".into())
                }
                other => other.into(),
            })?;
            tx.append_event(
                audit.event(
                    action::MODEL_CREATED,
                    None,
                    json!({"model": "saml_key", "kid": rec.kid, "family": fam, "generation": generation,
                           "activates_at": activates_at.millis(), "retired": retired, "published_until": retire_at.millis()}),
                ),
                now,
            )
            .await?;
            created.push(listing(&rec, now, &[]));
        }
        tx.commit().await?;
        Ok(created)
    }

    /// The families that have keys (RSA when none has).
    pub async fn key_families(self) -> Result<Vec<KeyFamily>> {
        let mut have: Vec<KeyFamily> = self
            .store()
            .saml_keys()
            .await?
            .iter()
            .filter_map(|k| KeyFamily::parse(&k.family))
            .collect();
        have.sort();
        have.dedup();
        if have.is_empty() {
            have.push(KeyFamily::Rsa);
        }
        Ok(have)
    }

    pub async fn key_list(self) -> Result<Vec<SamlKeyListing>> {
        let now = self.now();
        let records = self.store().saml_keys().await?;
        let signers: Vec<&str> = KeyFamily::ALL
            .iter()
            .filter_map(|f| {
                records
                    .iter()
                    .filter(|r| r.family == f.as_str() && r.activates_at <= now && r.is_published(now))
                    .max_by_key(|r| r.generation)
                    .map(|r| r.kid.as_str())
            })
            .collect();
        Ok(records.iter().map(|r| listing(r, now, &signers)).collect())
    }
}

fn listing(r: &SamlKeyRecord, now: Timestamp, signers: &[&str]) -> SamlKeyListing {
    let status = if !r.is_published(now) {
        "expired"
    } else if r.activates_at > now {
        "next"
    } else if signers.contains(&r.kid.as_str()) {
        "signing"
    } else if r.publish_until.is_some() || !signers.is_empty() {
        "retiring"
    } else {
        "signing"
    };
    SamlKeyListing {
        kid: r.kid.clone(),
        family: r.family.clone(),
        generation: r.generation,
        status,
        created_at: r.created_at,
        activates_at: r.activates_at,
        publish_until: r.publish_until,
    }
}
