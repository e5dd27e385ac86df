//! The ring's SAML keys parsed into signers. Which key signs and which
//! certificates are published is the key ring's rule (core); parsing a key
//! into [`SamlKey`] is this crate's, cached on the change feed so a key is
//! parsed once per process (a reload reuses the keys it already has).

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use gatehouse_core::cache::{FeedCell, NO_DEADLINE};
use gatehouse_core::keys::{KeyPurpose, KeyRing, SigningKeyRecord};
use gatehouse_core::{Directory, Error, StoreError, Timestamp};
use zeroize::Zeroizing;

use crate::keys::{KeyFamily, SamlKey};

/// Parsed SAML keys, by kid.
#[derive(Default)]
pub(crate) struct Signers {
    cell: FeedCell<Vec<Arc<SamlKey>>>,
}

fn corrupt(r: &SigningKeyRecord) -> Error {
    Error::Store(StoreError::Corrupt(format!(
        "SAML key {} ({}) does not parse or does not match its id",
        r.kid,
        r.purpose.alg_name()
    )))
}

fn parse(r: &SigningKeyRecord, family: KeyFamily) -> gatehouse_core::Result<SamlKey> {
    let pk = Zeroizing::new(STANDARD.decode(r.private_key.as_bytes()).map_err(|_| corrupt(r))?);
    let cert = r.certificate.as_deref().ok_or_else(|| corrupt(r))?;
    let cert = STANDARD.decode(cert.as_bytes()).map_err(|_| corrupt(r))?;
    let key = SamlKey::from_parts(family, &pk, &cert).map_err(|_| corrupt(r))?;
    if key.kid() != r.kid {
        return Err(corrupt(r));
    }
    Ok(key)
}

/// Every certificate the ring publishes for `family` (base64 DER), the signer's first.
fn certificates(ring: &KeyRing, family: KeyFamily, now: Timestamp) -> Vec<String> {
    ring.published(KeyPurpose::Saml(family), now)
        .into_iter()
        .filter_map(|r| r.certificate.clone())
        .collect()
}

/// Every certificate published for `family` (what SAML metadata lists, the
/// signer's first); `create`: make the first key if there is none yet.
pub async fn published_certificates(
    dir: &Directory,
    family: KeyFamily,
    create: bool,
) -> gatehouse_core::Result<Vec<String>> {
    let ring = if create {
        dir.keys().ring_with(KeyPurpose::Saml(family)).await?
    } else {
        dir.keys().ring().await?
    };
    Ok(certificates(&ring, family, dir.now()))
}

impl Signers {
    /// The key that signs now for `family` (the first one is made at first
    /// use), and every certificate published for it, the signer's first.
    pub(crate) async fn current(
        &self,
        dir: &Directory,
        family: KeyFamily,
    ) -> gatehouse_core::Result<(Arc<SamlKey>, Vec<String>)> {
        let purpose = KeyPurpose::Saml(family);
        let ring = dir.keys().ring_with(purpose).await?;
        let now = dir.now();
        let record = ring
            .current(purpose, now)
            .ok_or_else(|| Error::Refused(format!("no SAML {family} signing key")))?;
        let key = self.parsed(dir, &ring, record, family)?;
        Ok((key, certificates(&ring, family, now)))
    }

    fn parsed(
        &self,
        dir: &Directory,
        ring: &KeyRing,
        record: &SigningKeyRecord,
        family: KeyFamily,
    ) -> gatehouse_core::Result<Arc<SamlKey>> {
        let generation = dir.feed().directory_generation();
        let find = |keys: &[Arc<SamlKey>]| keys.iter().find(|k| k.kid() == record.kid).cloned();
        if let Some(k) = self
            .cell
            .get(generation, dir.now().millis())
            .and_then(|keys| find(&keys))
        {
            return Ok(k);
        }
        // Keep the parsed keys the ring still holds, add this one.
        let mut keys: Vec<Arc<SamlKey>> = self.cell.peek().map(|v| v.to_vec()).unwrap_or_default();
        keys.retain(|k| ring.records().any(|r| r.kid == k.kid()));
        let key = match find(&keys) {
            Some(k) => k,
            None => {
                let k = Arc::new(parse(record, family)?);
                keys.push(k.clone());
                k
            }
        };
        self.cell.put(generation, NO_DEADLINE, Arc::new(keys));
        Ok(key)
    }
}
