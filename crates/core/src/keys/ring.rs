//! The stored keys and the one rule over them: which key signs for a purpose
//! at a moment, which are published, and how a key is listed.

use std::sync::Arc;

use gatehouse_crypto::certificate::KeyFamily;
use gatehouse_crypto::signing::{SigningAlg, SigningKey};
use serde::ser::SerializeMap;
use serde_json::{Value, json};

use crate::clock::Timestamp;

/// What a key signs: JWTs with one JWS algorithm, or SAML messages with a
/// key of one family (published as a certificate).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum KeyPurpose {
    Jwt(SigningAlg),
    Saml(KeyFamily),
}

/// The two kinds of key, as `gatehouse key --kind` names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    Jwt,
    Saml,
}

impl KeyKind {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyKind::Jwt => "jwt",
            KeyKind::Saml => "saml",
        }
    }

    /// What a rotation of this kind rotates when no key of it exists yet.
    pub fn default_purpose(self) -> KeyPurpose {
        match self {
            KeyKind::Jwt => KeyPurpose::Jwt(SigningAlg::Rs256),
            KeyKind::Saml => KeyPurpose::Saml(KeyFamily::Rsa),
        }
    }
}

impl KeyPurpose {
    pub fn kind(self) -> KeyKind {
        match self {
            KeyPurpose::Jwt(_) => KeyKind::Jwt,
            KeyPurpose::Saml(_) => KeyKind::Saml,
        }
    }

    /// The stored algorithm or family name (`RS256`, `rsa`).
    pub fn alg_name(self) -> &'static str {
        match self {
            KeyPurpose::Jwt(alg) => alg.as_str(),
            KeyPurpose::Saml(family) => family.as_str(),
        }
    }

    /// From the stored `kind` and `alg` columns.
    pub fn parse(kind: &str, alg: &str) -> Option<KeyPurpose> {
        match kind {
            "jwt" => SigningAlg::parse(alg).map(KeyPurpose::Jwt),
            "saml" => KeyFamily::parse(alg).map(KeyPurpose::Saml),
            _ => None,
        }
    }

    /// The field that names the algorithm in listings and events (`alg`, `family`).
    fn alg_field(self) -> &'static str {
        match self {
            KeyPurpose::Jwt(_) => "alg",
            KeyPurpose::Saml(_) => "family",
        }
    }

    /// The model name of its `model_created` events (kept from the two tables
    /// the ring replaced, so audit queries keep working).
    fn event_model(self) -> &'static str {
        match self {
            KeyPurpose::Jwt(_) => "signing_key",
            KeyPurpose::Saml(_) => "saml_key",
        }
    }

    /// The context of the event that records a new key.
    pub(crate) fn created_event(self, kid: &str, generation: i64) -> Value {
        let mut ctx = json!({"model": self.event_model(), "kid": kid, "generation": generation});
        ctx[self.alg_field()] = Value::from(self.alg_name());
        ctx
    }
}

/// Listed as `"alg": "RS256"` or `"family": "rsa"`.
impl serde::Serialize for KeyPurpose {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(1))?;
        m.serialize_entry(self.alg_field(), self.alg_name())?;
        m.end()
    }
}

/// A signing key as stored. It signs from `activates_at` until a newer key of
/// its purpose activates, and is published until `publish_until` (`None`:
/// still current).
#[derive(Clone, PartialEq, Eq)]
pub struct SigningKeyRecord {
    /// JWT: the RFC 7638 thumbprint; SAML: the certificate's fingerprint.
    pub kid: String,
    pub purpose: KeyPurpose,
    /// 1 for the first key of a purpose, +1 per rotation; unique per purpose.
    pub generation: i64,
    /// PKCS#8 DER, standard base64. Secret.
    pub private_key: String,
    /// SAML: the self-signed X.509 certificate, DER in standard base64.
    pub certificate: Option<String>,
    pub created_at: Timestamp,
    pub activates_at: Timestamp,
    pub publish_until: Option<Timestamp>,
}

impl std::fmt::Debug for SigningKeyRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKeyRecord")
            .field("kid", &self.kid)
            .field("purpose", &self.purpose)
            .field("generation", &self.generation)
            .field("activates_at", &self.activates_at)
            .field("publish_until", &self.publish_until)
            .finish_non_exhaustive()
    }
}

impl SigningKeyRecord {
    pub fn is_published(&self, now: Timestamp) -> bool {
        self.publish_until.is_none_or(|t| t > now)
    }
}

/// A key as `gatehouse key list` shows it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct KeyListing {
    pub kid: String,
    #[serde(flatten)]
    pub purpose: KeyPurpose,
    pub generation: i64,
    /// `next` (published, signs later), `signing`, `retiring` (published, no
    /// longer signs), `expired` (no longer published).
    pub status: &'static str,
    pub created_at: Timestamp,
    pub activates_at: Timestamp,
    pub publish_until: Option<Timestamp>,
}

/// One stored key, with its JWT signer parsed (SAML keys are parsed by the
/// SAML crate, into its own signer type).
#[derive(Clone)]
pub(crate) struct Entry {
    pub(crate) record: SigningKeyRecord,
    pub(crate) jwt: Option<Arc<SigningKey>>,
}

/// The keys as of one load, with what depends on time precomputed.
pub struct KeyRing {
    entries: Vec<Entry>,
    /// The next moment the choice of signer or the published set changes by
    /// time alone (an activation or an end of publication).
    pub(crate) changes_at: Option<Timestamp>,
    jwks: Value,
    jwks_json: Arc<str>,
}

impl KeyRing {
    pub(crate) fn build(entries: Vec<Entry>, now: Timestamp) -> KeyRing {
        let published: Vec<Value> = entries
            .iter()
            .filter(|e| e.record.is_published(now))
            .filter_map(|e| e.jwt.as_ref().map(|k| k.public_jwk().clone()))
            .collect();
        let changes_at = entries
            .iter()
            .flat_map(|e| [Some(e.record.activates_at), e.record.publish_until])
            .flatten()
            .filter(|t| *t > now)
            .min();
        let jwks = json!({ "keys": published });
        let jwks_json: Arc<str> = Arc::from(jwks.to_string());
        KeyRing {
            entries,
            changes_at,
            jwks,
            jwks_json,
        }
    }

    pub(crate) fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// Every stored key, published or not.
    pub fn records(&self) -> impl Iterator<Item = &SigningKeyRecord> {
        self.entries.iter().map(|e| &e.record)
    }

    #[cfg(test)]
    fn fresh_at(&self, now: Timestamp) -> bool {
        self.changes_at.is_none_or(|t| now < t)
    }

    /// The key that signs for `purpose` at `now`: the newest active one;
    /// before any is active, the oldest published one.
    pub fn current(&self, purpose: KeyPurpose, now: Timestamp) -> Option<&SigningKeyRecord> {
        self.current_entry(purpose, now).map(|e| &e.record)
    }

    fn current_entry(&self, purpose: KeyPurpose, now: Timestamp) -> Option<&Entry> {
        let of = || {
            self.entries
                .iter()
                .filter(move |e| e.record.purpose == purpose && e.record.is_published(now))
        };
        of().filter(|e| e.record.activates_at <= now)
            .max_by_key(|e| e.record.generation)
            .or_else(|| of().min_by_key(|e| e.record.generation))
    }

    /// Every published key of `purpose`: the current one first, then the
    /// newest first (what SAML metadata lists).
    pub fn published(&self, purpose: KeyPurpose, now: Timestamp) -> Vec<&SigningKeyRecord> {
        let current = self.current(purpose, now).map(|r| r.kid.as_str());
        let mut out: Vec<&SigningKeyRecord> = self
            .entries
            .iter()
            .map(|e| &e.record)
            .filter(|r| r.purpose == purpose && r.is_published(now))
            .collect();
        out.sort_by_key(|r| (Some(r.kid.as_str()) != current, -r.generation));
        out
    }

    /// The JWT key that signs for `alg` at `now`.
    pub fn signer(&self, alg: SigningAlg, now: Timestamp) -> Option<&Arc<SigningKey>> {
        self.current_entry(KeyPurpose::Jwt(alg), now)
            .and_then(|e| e.jwt.as_ref())
    }

    /// A published JWT key by id (to verify tokens Gatehouse issued).
    pub fn by_kid(&self, kid: &str, now: Timestamp) -> Option<&Arc<SigningKey>> {
        self.entries
            .iter()
            .find(|e| e.record.kid == kid && e.record.is_published(now))
            .and_then(|e| e.jwt.as_ref())
    }

    /// `{"keys": [...]}`: every published JWT key.
    pub fn jwks(&self) -> &Value {
        &self.jwks
    }

    pub fn jwks_json(&self) -> &Arc<str> {
        &self.jwks_json
    }

    /// Every key with its status at `now`.
    pub fn listing(&self, now: Timestamp) -> Vec<KeyListing> {
        self.entries
            .iter()
            .map(|e| {
                let r = &e.record;
                let status = if !r.is_published(now) {
                    "expired"
                } else if r.activates_at > now {
                    "next"
                } else if self.current(r.purpose, now).is_some_and(|c| c.kid == r.kid) {
                    "signing"
                } else {
                    "retiring"
                };
                KeyListing {
                    kid: r.kid.clone(),
                    purpose: r.purpose,
                    generation: r.generation,
                    status,
                    created_at: r.created_at,
                    activates_at: r.activates_at,
                    publish_until: r.publish_until,
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(key: SigningKey, generation: i64, activates: i64, until: Option<i64>) -> Entry {
        Entry {
            record: SigningKeyRecord {
                kid: key.kid().to_string(),
                purpose: KeyPurpose::Jwt(key.alg()),
                generation,
                private_key: String::new(),
                certificate: None,
                created_at: Timestamp(0),
                activates_at: Timestamp(activates),
                publish_until: until.map(Timestamp),
            },
            jwt: Some(Arc::new(key)),
        }
    }

    fn saml(kid: &str, generation: i64, activates: i64, until: Option<i64>) -> Entry {
        Entry {
            record: SigningKeyRecord {
                kid: kid.into(),
                purpose: KeyPurpose::Saml(KeyFamily::Rsa),
                generation,
                private_key: String::new(),
                certificate: Some(String::new()),
                created_at: Timestamp(0),
                activates_at: Timestamp(activates),
                publish_until: until.map(Timestamp),
            },
            jwt: None,
        }
    }

    #[test]
    fn the_newest_active_key_signs_and_retired_keys_stay_published() {
        let a = SigningKey::generate(SigningAlg::EdDsa).unwrap().key;
        let b = SigningKey::generate(SigningAlg::EdDsa).unwrap().key;
        let keys = vec![entry(a, 1, 0, Some(5000)), entry(b, 2, 1000, None)];
        let kids: Vec<String> = keys.iter().map(|e| e.record.kid.clone()).collect();
        // Before b activates: a signs, both published.
        let ring = KeyRing::build(keys.clone(), Timestamp(500));
        let signer = ring.signer(SigningAlg::EdDsa, Timestamp(500)).unwrap();
        assert_eq!(signer.kid(), kids[0]);
        assert_eq!(ring.jwks()["keys"].as_array().unwrap().len(), 2);
        assert_eq!(ring.changes_at, Some(Timestamp(1000)));
        assert!(ring.fresh_at(Timestamp(999)) && !ring.fresh_at(Timestamp(1000)));
        let status: Vec<&str> = ring.listing(Timestamp(500)).iter().map(|l| l.status).collect();
        assert_eq!(status, ["signing", "next"]);
        // After: b signs, a still published until 5000, then gone.
        let ring = KeyRing::build(keys.clone(), Timestamp(2000));
        assert_eq!(ring.signer(SigningAlg::EdDsa, Timestamp(2000)).unwrap().kid(), kids[1]);
        assert!(ring.by_kid(&kids[0], Timestamp(2000)).is_some());
        let status: Vec<&str> = ring.listing(Timestamp(2000)).iter().map(|l| l.status).collect();
        assert_eq!(status, ["retiring", "signing"]);
        let ring = KeyRing::build(keys, Timestamp(6000));
        assert_eq!(ring.jwks()["keys"].as_array().unwrap().len(), 1);
        assert!(ring.by_kid(&kids[0], Timestamp(6000)).is_none());
        assert!(ring.signer(SigningAlg::Rs256, Timestamp(6000)).is_none());
    }

    #[test]
    fn saml_keys_follow_the_same_rule_and_stay_out_of_jwks() {
        let rsa = KeyPurpose::Saml(KeyFamily::Rsa);
        let ring = KeyRing::build(
            vec![
                saml("old", 1, 0, Some(5000)),
                saml("new", 2, 1000, None),
                saml("gone", 0, 0, Some(10)),
            ],
            Timestamp(500),
        );
        assert_eq!(ring.current(rsa, Timestamp(500)).unwrap().kid, "old");
        let published: Vec<&str> = ring
            .published(rsa, Timestamp(500))
            .iter()
            .map(|r| r.kid.as_str())
            .collect();
        assert_eq!(published, ["old", "new"], "the signer first, then the newest");
        let published: Vec<&str> = ring
            .published(rsa, Timestamp(2000))
            .iter()
            .map(|r| r.kid.as_str())
            .collect();
        assert_eq!(published, ["new", "old"]);
        assert!(ring.jwks()["keys"].as_array().unwrap().is_empty());
        assert!(
            ring.current(KeyPurpose::Saml(KeyFamily::EcP256), Timestamp(500))
                .is_none()
        );
    }

    #[test]
    fn purposes_round_trip_and_list_under_their_own_field() {
        for p in [KeyPurpose::Jwt(SigningAlg::EdDsa), KeyPurpose::Saml(KeyFamily::EcP256)] {
            let (kind, alg) = (p.kind().as_str(), p.alg_name());
            assert_eq!(KeyPurpose::parse(kind, alg), Some(p));
        }
        assert_eq!(KeyPurpose::parse("jwt", "rsa"), None);
        let v = serde_json::to_value(KeyPurpose::Saml(KeyFamily::Rsa)).unwrap();
        assert_eq!(v, json!({"family": "rsa"}));
        let e = KeyPurpose::Jwt(SigningAlg::Rs256).created_event("k", 1);
        assert_eq!(
            e,
            json!({"model": "signing_key", "kid": "k", "generation": 1, "alg": "RS256"})
        );
    }
}
