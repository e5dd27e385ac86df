//! The key ring: every signing key Gatehouse holds, in one table, whatever it
//! signs (OIDC and forward-auth JWTs per JWS algorithm, SAML messages per key
//! family with a self-signed certificate). Keys live in the database so every
//! node signs with the same key, and which key signs is a function of the
//! stored keys and the time, so every node picks the same one without
//! coordination.
//!
//! Rotation publishes before it signs: [`Keys::rotate`] adds a key that
//! activates `activate_in` seconds later (it is in JWKS and SAML metadata at
//! once), and the keys it replaces stay published until
//! [`MAX_SIGNED_TOKEN_LIFETIME_SECS`] after the new key took over, so nothing
//! they signed outlives their publication. The first key of a purpose is made
//! at first use, race-free across nodes.
//!
//! Private keys are stored in the clear (PKCS#8, base64); encrypting them
//! under a key from the environment is a later improvement. They never reach
//! an event, a log line or `Debug` output.

mod ring;

use std::collections::HashMap;
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use gatehouse_crypto::certificate::{self, certificate_kid};
use gatehouse_crypto::signing::{SigningAlg, SigningError, SigningKey};
use serde_json::Value;

use ring::Entry;
pub use ring::{KeyKind, KeyListing, KeyPurpose, KeyRing, SigningKeyRecord};

use crate::audit::Audit;
use crate::clock::Timestamp;
use crate::context::Keys;
use crate::error::{Error, Result, StoreError};
use crate::events::action;

/// No token or assertion signed by a Gatehouse key may live longer than this
/// (protocols cap their lifetimes here); retired keys stay published this long.
pub const MAX_SIGNED_TOKEN_LIFETIME_SECS: i64 = 24 * 3600;
/// A little slack for clocks of verifiers.
const PUBLISH_SLACK_SECS: i64 = 300;
/// The longest a rotation may wait before the new key signs.
const MAX_ACTIVATION_DELAY_SECS: i64 = 30 * 86_400;
/// The subject of generated SAML certificates.
const CERTIFICATE_NAME: &str = "Gatehouse SAML";

impl From<SigningError> for Error {
    fn from(e: SigningError) -> Self {
        Error::Refused(format!("signing key: {e}"))
    }
}

impl From<certificate::CertificateError> for Error {
    fn from(e: certificate::CertificateError) -> Self {
        Error::Refused(format!("signing key: {e}"))
    }
}

fn corrupt(r: &SigningKeyRecord) -> Error {
    Error::Store(StoreError::Corrupt(format!(
        "signing key {} ({} {}) does not parse or does not match its id",
        r.kid,
        r.purpose.kind().as_str(),
        r.purpose.alg_name()
    )))
}

/// Checks a stored key and parses what core signs with (JWT keys).
fn entry(record: SigningKeyRecord, known: Option<&Arc<SigningKey>>) -> Result<Entry> {
    let jwt = match record.purpose {
        KeyPurpose::Jwt(alg) => Some(match known {
            Some(k) => k.clone(),
            None => match SigningKey::from_pkcs8_b64(alg, &record.private_key) {
                Ok(k) if k.kid() == record.kid => Arc::new(k),
                _ => return Err(corrupt(&record)),
            },
        }),
        KeyPurpose::Saml(_) if record.certificate.is_none() => return Err(corrupt(&record)),
        KeyPurpose::Saml(_) => None,
    };
    Ok(Entry { record, jwt })
}

/// A new key for `purpose` (not yet stored).
fn generate(purpose: KeyPurpose, generation: i64, now: Timestamp, activates_at: Timestamp) -> Result<SigningKeyRecord> {
    let (kid, private_key, certificate) = match purpose {
        KeyPurpose::Jwt(alg) => {
            let g = SigningKey::generate(alg)?;
            (
                g.key.kid().to_string(),
                SigningKey::pkcs8_b64(&g.pkcs8_der).to_string(),
                None,
            )
        }
        KeyPurpose::Saml(family) => {
            let c = certificate::generate(family, CERTIFICATE_NAME, now.millis() / 1000)?;
            (
                certificate_kid(&c.cert_der),
                SigningKey::pkcs8_b64(&c.pkcs8_der).to_string(),
                Some(STANDARD.encode(&c.cert_der)),
            )
        }
    };
    Ok(SigningKeyRecord {
        kid,
        purpose,
        generation,
        private_key,
        certificate,
        created_at: now,
        activates_at,
        publish_until: None,
    })
}

impl Keys<'_> {
    /// The parsed keys, from the cache while the change feed and the time
    /// allow, else from the store (reusing keys already parsed).
    pub async fn ring(self) -> Result<Arc<KeyRing>> {
        let generation = self.feed().directory_generation();
        let cache = &self.caches().keys;
        let now = self.now();
        if let Some(ring) = cache.get(generation, now.millis()) {
            return Ok(ring);
        }
        // The previous ring, whatever its generation: only to reuse parsed keys.
        let previous = cache.peek();
        let known: HashMap<&str, &Arc<SigningKey>> = previous
            .iter()
            .flat_map(|p| p.entries())
            .filter_map(|e| e.jwt.as_ref().map(|k| (e.record.kid.as_str(), k)))
            .collect();
        let mut entries = Vec::new();
        for r in self.store().signing_keys().await? {
            let k = known.get(r.kid.as_str()).copied();
            entries.push(entry(r, k)?);
        }
        let ring = Arc::new(KeyRing::build(entries, now));
        let until = ring.changes_at.map_or(crate::cache::NO_DEADLINE, |t| t.millis());
        cache.put(generation, until, ring.clone());
        Ok(ring)
    }

    /// The ring, with a key for `purpose` made first if there is none yet
    /// (race-free across nodes: the loser of two creations uses the winner's).
    pub async fn ring_with(self, purpose: KeyPurpose) -> Result<Arc<KeyRing>> {
        let ring = self.ring().await?;
        if ring.current(purpose, self.now()).is_some() {
            return Ok(ring);
        }
        self.create_first(purpose).await?;
        self.caches().keys.clear();
        let ring = self.ring().await?;
        match ring.current(purpose, self.now()) {
            Some(_) => Ok(ring),
            None => Err(Error::Refused(format!(
                "no {} {} signing key could be created",
                purpose.kind().as_str(),
                purpose.alg_name()
            ))),
        }
    }

    /// The JWT key that signs now for `alg` (made at first use).
    pub async fn signing_key(self, alg: SigningAlg) -> Result<Arc<SigningKey>> {
        let ring = self.ring_with(KeyPurpose::Jwt(alg)).await?;
        ring.signer(alg, self.now())
            .cloned()
            .ok_or_else(|| Error::Refused(format!("no {alg} signing key")))
    }

    /// `{"keys": [...]}`: every published JWT key (all algorithms).
    pub async fn published_jwks(self) -> Result<Value> {
        Ok(self.ring().await?.jwks().clone())
    }

    /// A published JWT key by `kid`, to verify a token Gatehouse signed.
    pub async fn verifying_key(self, kid: &str) -> Result<Option<Arc<SigningKey>>> {
        Ok(self.ring().await?.by_kid(kid, self.now()).cloned())
    }

    async fn create_first(self, purpose: KeyPurpose) -> Result<()> {
        let now = self.now();
        let record = generate(purpose, 1, now, now)?;
        let mut tx = self.write(&Audit::system()).await?;
        if tx.raw().signing_keys().await?.iter().any(|k| k.purpose == purpose) {
            return Ok(());
        }
        match tx.raw().insert_signing_key(&record).await {
            Ok(()) => {}
            // Another node created it first: use theirs.
            Err(StoreError::Conflict(_)) => return Ok(()),
            Err(e) => return Err(e.into()),
        }
        tx.record(action::MODEL_CREATED, None, purpose.created_event(&record.kid, 1))
            .await?;
        match tx.commit().await {
            Ok(()) | Err(Error::Store(StoreError::Conflict(_))) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Adds a new key for each of `purposes`, published now and signing from
    /// `activate_in_secs` on; the keys it replaces stay published until
    /// everything they can have signed has expired. Returns the new keys.
    pub async fn rotate(
        self,
        audit: &Audit,
        purposes: &[KeyPurpose],
        activate_in_secs: i64,
    ) -> Result<Vec<KeyListing>> {
        if !(0..=MAX_ACTIVATION_DELAY_SECS).contains(&activate_in_secs) {
            return Err(Error::invalid("activation delay", "must be between 0 and 30 days"));
        }
        let now = self.now();
        let activates_at = now.plus_seconds(activate_in_secs);
        let retire_at = activates_at.plus_seconds(MAX_SIGNED_TOKEN_LIFETIME_SECS + PUBLISH_SLACK_SECS);
        let mut fresh = Vec::new();
        for &purpose in purposes {
            fresh.push(generate(purpose, 0, now, activates_at)?);
        }
        let mut tx = self.write(audit).await?;
        let existing = tx.raw().signing_keys().await?;
        let mut created = Vec::new();
        for mut record in fresh {
            let same = || existing.iter().filter(|k| k.purpose == record.purpose);
            record.generation = same().map(|k| k.generation).max().unwrap_or(0) + 1;
            let mut retired = Vec::new();
            for old in same().filter(|k| k.publish_until.is_none()) {
                tx.raw()
                    .set_signing_key_publish_until(&old.kid, Some(retire_at))
                    .await?;
                retired.push(old.kid.clone());
            }
            tx.raw().insert_signing_key(&record).await.map_err(|e| match e {
                StoreError::Conflict(_) => {
                    Error::Refused("another key rotation ran at the same time; try again".into())
                }
                other => other.into(),
            })?;
            let mut ctx = record.purpose.created_event(&record.kid, record.generation);
            ctx["activates_at"] = activates_at.millis().into();
            ctx["retired"] = retired.into();
            ctx["published_until"] = retire_at.millis().into();
            tx.record(action::MODEL_CREATED, None, ctx).await?;
            created.push(record);
        }
        tx.commit().await?;
        self.caches().keys.clear();
        let listed = self.ring().await?.listing(self.now());
        Ok(listed
            .into_iter()
            .filter(|l| created.iter().any(|c| c.kid == l.kid))
            .collect())
    }

    /// What a rotation of `kind` without a choice rotates: every purpose that
    /// has a key, or the kind's default when none has.
    pub async fn in_use(self, kind: KeyKind) -> Result<Vec<KeyPurpose>> {
        let mut have: Vec<KeyPurpose> = self
            .store()
            .signing_keys()
            .await?
            .into_iter()
            .map(|k| k.purpose)
            .filter(|p| p.kind() == kind)
            .collect();
        have.sort();
        have.dedup();
        if have.is_empty() {
            have.push(kind.default_purpose());
        }
        Ok(have)
    }

    /// Every stored key of `kind` with its status.
    pub async fn list(self, kind: KeyKind) -> Result<Vec<KeyListing>> {
        let mut listed = self.ring().await?.listing(self.now());
        listed.retain(|l| l.purpose.kind() == kind);
        Ok(listed)
    }

    /// Housekeeping: deletes keys whose publication ended.
    pub async fn purge_retired(self) -> Result<u64> {
        let mut tx = self.store().begin().await?;
        let n = tx.delete_unpublished_signing_keys(self.now()).await?;
        tx.commit().await?;
        Ok(n)
    }
}
