//! SAML signing keys (with their self-signed certificates) and the SP
//! certificates Gatehouse verifies with. All private-key operations run on
//! aws-lc-rs; keys and certificates are made in `gatehouse-crypto` (the key
//! ring in core creates them), parsed and used here.

use std::fmt;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{self, ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, RsaKeyPair, UnparsedPublicKey};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
pub use gatehouse_crypto::certificate::KeyFamily;
use gatehouse_crypto::certificate::{self, certificate_kid};
use zeroize::Zeroizing;

use crate::Error;

pub const RSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";
pub const RSA_SHA512: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512";
pub const ECDSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256";

/// The signature algorithms Gatehouse signs and accepts (no SHA-1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SignatureAlg {
    RsaSha256,
    RsaSha512,
    EcdsaSha256,
}

impl SignatureAlg {
    pub fn uri(self) -> &'static str {
        match self {
            SignatureAlg::RsaSha256 => RSA_SHA256,
            SignatureAlg::RsaSha512 => RSA_SHA512,
            SignatureAlg::EcdsaSha256 => ECDSA_SHA256,
        }
    }
    pub fn from_uri(s: &str) -> Option<SignatureAlg> {
        [
            SignatureAlg::RsaSha256,
            SignatureAlg::RsaSha512,
            SignatureAlg::EcdsaSha256,
        ]
        .into_iter()
        .find(|a| a.uri() == s)
    }
    pub fn as_str(self) -> &'static str {
        match self {
            SignatureAlg::RsaSha256 => "rsa-sha256",
            SignatureAlg::RsaSha512 => "rsa-sha512",
            SignatureAlg::EcdsaSha256 => "ecdsa-sha256",
        }
    }
    pub fn family(self) -> KeyFamily {
        match self {
            SignatureAlg::RsaSha256 | SignatureAlg::RsaSha512 => KeyFamily::Rsa,
            SignatureAlg::EcdsaSha256 => KeyFamily::EcP256,
        }
    }
}

enum Pair {
    Rsa(RsaKeyPair),
    Ec(EcdsaKeyPair),
}

/// A private key and its certificate.
pub struct SamlKey {
    kid: String,
    family: KeyFamily,
    pair: Pair,
    cert_der: Vec<u8>,
    cert_b64: String,
}

impl fmt::Debug for SamlKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SamlKey")
            .field("kid", &self.kid)
            .field("family", &self.family)
            .finish_non_exhaustive()
    }
}

/// A new key: the key, its PKCS#8 DER (zeroed on drop) and certificate DER.
pub struct GeneratedSamlKey {
    pub key: SamlKey,
    pub pkcs8_der: Zeroizing<Vec<u8>>,
}

impl SamlKey {
    /// A new key with a self-signed certificate valid for ten years from `now_unix`.
    pub fn generate(family: KeyFamily, common_name: &str, now_unix: i64) -> Result<GeneratedSamlKey, Error> {
        let made = certificate::generate(family, common_name, now_unix).map_err(|_| Error::Key)?;
        let key = SamlKey::from_parts(family, &made.pkcs8_der, &made.cert_der)?;
        Ok(GeneratedSamlKey {
            key,
            pkcs8_der: made.pkcs8_der,
        })
    }

    /// A stored key: PKCS#8 DER and certificate DER.
    pub fn from_parts(family: KeyFamily, pkcs8: &[u8], cert_der: &[u8]) -> Result<SamlKey, Error> {
        let pair = match family {
            KeyFamily::Rsa => Pair::Rsa(RsaKeyPair::from_pkcs8(pkcs8).map_err(|_| Error::Key)?),
            KeyFamily::EcP256 => {
                Pair::Ec(EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8).map_err(|_| Error::Key)?)
            }
        };
        // The certificate must be for this key.
        let cert = TrustedCert::from_der(cert_der)?;
        let public = match &pair {
            Pair::Rsa(p) => signature::KeyPair::public_key(p).as_ref().to_vec(),
            Pair::Ec(p) => signature::KeyPair::public_key(p).as_ref().to_vec(),
        };
        if cert.public_key != public {
            return Err(Error::Key);
        }
        Ok(SamlKey {
            kid: certificate_kid(cert_der),
            family,
            pair,
            cert_b64: STANDARD.encode(cert_der),
            cert_der: cert_der.to_vec(),
        })
    }

    /// The certificate's SHA-256 fingerprint (hex, first 32 digits).
    pub fn kid(&self) -> &str {
        &self.kid
    }
    pub fn family(&self) -> KeyFamily {
        self.family
    }
    pub fn cert_der(&self) -> &[u8] {
        &self.cert_der
    }
    /// The certificate, base64 (as in `<ds:X509Certificate>`).
    pub fn cert_b64(&self) -> &str {
        &self.cert_b64
    }
    pub fn cert_pem(&self) -> String {
        pem_of(&self.cert_b64)
    }

    /// Signs `msg` with `alg`, which must fit the key's family.
    pub fn sign(&self, alg: SignatureAlg, msg: &[u8]) -> Result<Vec<u8>, Error> {
        let rng = SystemRandom::new();
        match (&self.pair, alg) {
            (Pair::Rsa(p), SignatureAlg::RsaSha256 | SignatureAlg::RsaSha512) => {
                let pad = if alg == SignatureAlg::RsaSha256 {
                    &signature::RSA_PKCS1_SHA256
                } else {
                    &signature::RSA_PKCS1_SHA512
                };
                let mut sig = vec![0u8; p.public_modulus_len()];
                p.sign(pad, &rng, msg, &mut sig).map_err(|_| Error::Key)?;
                Ok(sig)
            }
            (Pair::Ec(p), SignatureAlg::EcdsaSha256) => {
                Ok(p.sign(&rng, msg).map_err(|_| Error::Key)?.as_ref().to_vec())
            }
            _ => Err(Error::Key),
        }
    }
}

/// PEM text of a base64 certificate.
pub fn pem_of(b64: &str) -> String {
    let mut s = String::from("-----BEGIN CERTIFICATE-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        s.push_str(std::str::from_utf8(chunk).unwrap_or(""));
        s.push('\n');
    }
    s.push_str("-----END CERTIFICATE-----\n");
    s
}

/// A certificate Gatehouse trusts (an SP's): only its public key matters.
#[derive(Clone, PartialEq, Eq)]
pub struct TrustedCert {
    family: KeyFamily,
    /// RSAPublicKey DER, or the uncompressed P-256 point.
    public_key: Vec<u8>,
    der: Vec<u8>,
}

impl fmt::Debug for TrustedCert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TrustedCert")
            .field("family", &self.family)
            .finish_non_exhaustive()
    }
}

const OID_RSA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
const OID_EC: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
const OID_P256: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];

/// One DER TLV: (tag, contents, rest).
fn tlv(input: &[u8]) -> Result<(u8, &[u8], &[u8]), Error> {
    let bad = || Error::Certificate;
    let (&tag, rest) = input.split_first().ok_or_else(bad)?;
    let (&first, rest) = rest.split_first().ok_or_else(bad)?;
    let (len, rest) = if first < 0x80 {
        (first as usize, rest)
    } else {
        let n = (first & 0x7f) as usize;
        if n == 0 || n > 3 || rest.len() < n {
            return Err(bad());
        }
        let len = rest[..n].iter().fold(0usize, |a, b| (a << 8) | *b as usize);
        (len, &rest[n..])
    };
    if rest.len() < len {
        return Err(bad());
    }
    Ok((tag, &rest[..len], &rest[len..]))
}

impl TrustedCert {
    /// From DER: the subject public key (RSA or P-256) of an X.509 certificate.
    pub fn from_der(der: &[u8]) -> Result<TrustedCert, Error> {
        let (t, cert, _) = tlv(der)?;
        if t != 0x30 {
            return Err(Error::Certificate);
        }
        let (t, mut tbs, _) = tlv(cert)?;
        if t != 0x30 {
            return Err(Error::Certificate);
        }
        // [0] version (optional), serial, signature, issuer, validity, subject, spki
        let (t, _, rest) = tlv(tbs)?;
        // After [0] version: serial, signature, issuer, validity, subject.
        let skip = if t == 0xa0 { 5 } else { 4 };
        tbs = rest;
        for _ in 0..skip {
            let (_, _, rest) = tlv(tbs)?;
            tbs = rest;
        }
        let (t, spki, _) = tlv(tbs)?;
        if t != 0x30 {
            return Err(Error::Certificate);
        }
        let (_, alg, rest) = tlv(spki)?;
        let (t, bits, _) = tlv(rest)?;
        if t != 0x03 || bits.first() != Some(&0) {
            return Err(Error::Certificate);
        }
        let (t, oid, params) = tlv(alg)?;
        if t != 0x06 {
            return Err(Error::Certificate);
        }
        let family = if oid == OID_RSA {
            KeyFamily::Rsa
        } else if oid == OID_EC {
            let (_, curve, _) = tlv(params)?;
            if curve != OID_P256 {
                return Err(Error::Certificate);
            }
            KeyFamily::EcP256
        } else {
            return Err(Error::Certificate);
        };
        Ok(TrustedCert {
            family,
            public_key: bits[1..].to_vec(),
            der: der.to_vec(),
        })
    }

    /// From PEM text or bare base64 (as in metadata), whitespace ignored.
    pub fn from_pem_or_b64(text: &str) -> Result<TrustedCert, Error> {
        let body: String = text
            .lines()
            .filter(|l| !l.starts_with("-----"))
            .flat_map(|l| l.chars())
            .filter(|c| !c.is_whitespace())
            .collect();
        let der = STANDARD.decode(body.as_bytes()).map_err(|_| Error::Certificate)?;
        TrustedCert::from_der(&der)
    }

    pub fn der(&self) -> &[u8] {
        &self.der
    }

    pub fn b64(&self) -> String {
        STANDARD.encode(&self.der)
    }

    /// Whether `sig` is `alg`'s signature of `msg` by this certificate's key.
    pub fn verify(&self, alg: SignatureAlg, msg: &[u8], sig: &[u8]) -> bool {
        let a: &dyn signature::VerificationAlgorithm = match (self.family, alg) {
            (KeyFamily::Rsa, SignatureAlg::RsaSha256) => &signature::RSA_PKCS1_2048_8192_SHA256,
            (KeyFamily::Rsa, SignatureAlg::RsaSha512) => &signature::RSA_PKCS1_2048_8192_SHA512,
            (KeyFamily::EcP256, SignatureAlg::EcdsaSha256) => &signature::ECDSA_P256_SHA256_FIXED,
            _ => return false,
        };
        UnparsedPublicKey::new(a, &self.public_key).verify(msg, sig).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_sign_and_their_certificates_verify() {
        for (fam, alg) in [
            (KeyFamily::Rsa, SignatureAlg::RsaSha256),
            (KeyFamily::Rsa, SignatureAlg::RsaSha512),
            (KeyFamily::EcP256, SignatureAlg::EcdsaSha256),
        ] {
            let g = SamlKey::generate(fam, "test", 1_800_000_000).unwrap();
            let sig = g.key.sign(alg, b"hello").unwrap();
            let cert = TrustedCert::from_pem_or_b64(&g.key.cert_pem()).unwrap();
            assert!(cert.verify(alg, b"hello", &sig));
            assert!(!cert.verify(alg, b"hellO", &sig));
            let again = SamlKey::from_parts(fam, &g.pkcs8_der, g.key.cert_der()).unwrap();
            assert_eq!(again.kid(), g.key.kid());
        }
    }
}
