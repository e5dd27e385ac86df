//! Signing keys for JWTs (OIDC ID and access tokens, forward-auth's
//! `X-authentik-jwt`, later SAML): generation, PKCS#8 import/export, compact JWS
//! signing and verification, and JWK export.
//!
//! Every private-key operation runs on aws-lc-rs (the pure-Rust `rsa` crate has
//! an open timing advisory, RUSTSEC-2023-0071). Three algorithms (RFC 7518 and
//! RFC 8037): RS256 (RSA 2048, the compatible default), ES256 (P-256) and EdDSA
//! (Ed25519). The key id is the key's RFC 7638 JWK thumbprint, so the same key
//! has the same `kid` on every node and in every export.
//!
//! Private key material never reaches `Debug` output or an error message.

use std::fmt;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{
    self, ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair, RsaKeyPair, UnparsedPublicKey,
};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use sha2::{Digest, Sha256, Sha512};
use zeroize::Zeroizing;

/// The JWS algorithms Gatehouse signs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SigningAlg {
    Rs256,
    Es256,
    EdDsa,
}

impl SigningAlg {
    pub const ALL: [SigningAlg; 3] = [SigningAlg::Rs256, SigningAlg::Es256, SigningAlg::EdDsa];

    /// The JOSE name (`RS256`, `ES256`, `EdDSA`).
    pub fn as_str(self) -> &'static str {
        match self {
            SigningAlg::Rs256 => "RS256",
            SigningAlg::Es256 => "ES256",
            SigningAlg::EdDsa => "EdDSA",
        }
    }

    /// Parses the JOSE name, case-insensitively.
    pub fn parse(s: &str) -> Option<SigningAlg> {
        SigningAlg::ALL.into_iter().find(|a| a.as_str().eq_ignore_ascii_case(s))
    }

    /// OIDC's `at_hash`/`c_hash`: the left half of the hash that goes with the
    /// algorithm, base64url (OIDC Core 3.1.3.6). Ed25519 pairs with SHA-512.
    pub fn half_hash(self, data: &[u8]) -> String {
        match self {
            SigningAlg::Rs256 | SigningAlg::Es256 => {
                let d = Sha256::digest(data);
                URL_SAFE_NO_PAD.encode(&d[..16])
            }
            SigningAlg::EdDsa => {
                let d = Sha512::digest(data);
                URL_SAFE_NO_PAD.encode(&d[..32])
            }
        }
    }
}

impl fmt::Display for SigningAlg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SigningError {
    #[error("key generation failed")]
    Generate,
    #[error("the stored {0} key is not valid")]
    BadKey(SigningAlg),
    #[error("signing failed")]
    Sign,
    #[error("claims are not a JSON object")]
    NotAnObject,
}

/// Why a JWT was not accepted.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum JwtError {
    #[error("malformed token")]
    Malformed,
    #[error("unknown signing key")]
    UnknownKey,
    #[error("bad signature")]
    BadSignature,
}

enum Pair {
    Rsa(RsaKeyPair),
    Ec(EcdsaKeyPair),
    Ed(Ed25519KeyPair),
}

/// A parsed private key, ready to sign.
pub struct SigningKey {
    kid: String,
    alg: SigningAlg,
    pair: Pair,
    jwk: Value,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

/// A new key and its PKCS#8 DER encoding (to store; zeroed when dropped).
pub struct GeneratedKey {
    pub key: SigningKey,
    pub pkcs8_der: Zeroizing<Vec<u8>>,
}

impl SigningKey {
    /// Generates a key: RSA 2048, P-256 or Ed25519.
    pub fn generate(alg: SigningAlg) -> Result<GeneratedKey, SigningError> {
        let der: Vec<u8> = match alg {
            SigningAlg::Rs256 => {
                let pair = RsaKeyPair::generate(KeySize::Rsa2048).map_err(|_| SigningError::Generate)?;
                pair.as_der().map_err(|_| SigningError::Generate)?.as_ref().to_vec()
            }
            SigningAlg::Es256 => {
                let pair =
                    EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).map_err(|_| SigningError::Generate)?;
                pair.to_pkcs8v1().map_err(|_| SigningError::Generate)?.as_ref().to_vec()
            }
            SigningAlg::EdDsa => {
                let pair = Ed25519KeyPair::generate().map_err(|_| SigningError::Generate)?;
                pair.to_pkcs8v1().map_err(|_| SigningError::Generate)?.as_ref().to_vec()
            }
        };
        let pkcs8_der = Zeroizing::new(der);
        let key = SigningKey::from_pkcs8(alg, &pkcs8_der)?;
        Ok(GeneratedKey { key, pkcs8_der })
    }

    /// Parses a PKCS#8 DER private key of `alg`.
    pub fn from_pkcs8(alg: SigningAlg, der: &[u8]) -> Result<SigningKey, SigningError> {
        let bad = |_| SigningError::BadKey(alg);
        let pair = match alg {
            SigningAlg::Rs256 => Pair::Rsa(RsaKeyPair::from_pkcs8(der).map_err(bad)?),
            SigningAlg::Es256 => {
                Pair::Ec(EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der).map_err(bad)?)
            }
            SigningAlg::EdDsa => Pair::Ed(Ed25519KeyPair::from_pkcs8(der).map_err(bad)?),
        };
        let public = public_members(&pair).ok_or(SigningError::BadKey(alg))?;
        let kid = thumbprint(&public);
        let mut jwk = public;
        if let Value::Object(m) = &mut jwk {
            m.insert("kid".into(), Value::from(kid.clone()));
            m.insert("alg".into(), Value::from(alg.as_str()));
            m.insert("use".into(), Value::from("sig"));
        }
        Ok(SigningKey { kid, alg, pair, jwk })
    }

    /// Decodes the base64 PKCS#8 form [`SigningKey::pkcs8_b64`] produced.
    pub fn from_pkcs8_b64(alg: SigningAlg, b64: &str) -> Result<SigningKey, SigningError> {
        let der = Zeroizing::new(
            base64::engine::general_purpose::STANDARD
                .decode(b64.trim())
                .map_err(|_| SigningError::BadKey(alg))?,
        );
        SigningKey::from_pkcs8(alg, &der)
    }

    /// The storable text form of a PKCS#8 DER key (standard base64).
    pub fn pkcs8_b64(der: &[u8]) -> Zeroizing<String> {
        Zeroizing::new(base64::engine::general_purpose::STANDARD.encode(der))
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    pub fn alg(&self) -> SigningAlg {
        self.alg
    }

    /// The public JWK (`kty`, key members, `kid`, `alg`, `use`).
    pub fn public_jwk(&self) -> &Value {
        &self.jwk
    }

    /// Signs `msg` with the key's algorithm (raw JWS signature bytes).
    pub fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, SigningError> {
        match &self.pair {
            Pair::Rsa(k) => {
                let mut sig = vec![0u8; k.public_modulus_len()];
                k.sign(&signature::RSA_PKCS1_SHA256, &SystemRandom::new(), msg, &mut sig)
                    .map_err(|_| SigningError::Sign)?;
                Ok(sig)
            }
            Pair::Ec(k) => Ok(k
                .sign(&SystemRandom::new(), msg)
                .map_err(|_| SigningError::Sign)?
                .as_ref()
                .to_vec()),
            Pair::Ed(k) => Ok(k.sign(msg).as_ref().to_vec()),
        }
    }

    /// Checks a signature made by this key.
    pub fn verify(&self, msg: &[u8], sig: &[u8]) -> bool {
        match &self.pair {
            Pair::Rsa(k) => UnparsedPublicKey::new(&signature::RSA_PKCS1_2048_8192_SHA256, k.public_key().as_ref())
                .verify(msg, sig)
                .is_ok(),
            Pair::Ec(k) => UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, k.public_key().as_ref())
                .verify(msg, sig)
                .is_ok(),
            Pair::Ed(k) => UnparsedPublicKey::new(&signature::ED25519, k.public_key().as_ref())
                .verify(msg, sig)
                .is_ok(),
        }
    }

    /// A compact JWS with header `{"alg", "kid", "typ": "JWT"}` over `claims`.
    pub fn sign_jwt(&self, claims: &Value) -> Result<String, SigningError> {
        self.sign_jwt_typed("JWT", claims)
    }

    /// As [`SigningKey::sign_jwt`] with another `typ` (`at+jwt` for RFC 9068
    /// access tokens).
    pub fn sign_jwt_typed(&self, typ: &str, claims: &Value) -> Result<String, SigningError> {
        if !claims.is_object() {
            return Err(SigningError::NotAnObject);
        }
        let header = json!({"alg": self.alg.as_str(), "kid": self.kid, "typ": typ});
        let mut out = String::with_capacity(512);
        URL_SAFE_NO_PAD.encode_string(header.to_string(), &mut out);
        out.push('.');
        URL_SAFE_NO_PAD.encode_string(claims.to_string(), &mut out);
        let sig = self.sign(out.as_bytes())?;
        out.push('.');
        URL_SAFE_NO_PAD.encode_string(sig, &mut out);
        Ok(out)
    }
}

/// A compact JWS taken apart, signature not yet checked.
#[derive(Debug, Clone)]
pub struct UnverifiedJwt {
    pub header: Value,
    pub claims: Value,
    signing_input_len: usize,
    signature: Vec<u8>,
}

impl UnverifiedJwt {
    /// Splits and decodes a compact JWS (at most 16 KiB).
    pub fn parse(token: &str) -> Result<UnverifiedJwt, JwtError> {
        if token.len() > 16 * 1024 {
            return Err(JwtError::Malformed);
        }
        let mut parts = token.split('.');
        let (Some(h), Some(c), Some(s), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
            return Err(JwtError::Malformed);
        };
        let decode = |p: &str| URL_SAFE_NO_PAD.decode(p).map_err(|_| JwtError::Malformed);
        let header: Value = serde_json::from_slice(&decode(h)?).map_err(|_| JwtError::Malformed)?;
        let claims: Value = serde_json::from_slice(&decode(c)?).map_err(|_| JwtError::Malformed)?;
        if !header.is_object() || !claims.is_object() {
            return Err(JwtError::Malformed);
        }
        Ok(UnverifiedJwt {
            header,
            claims,
            signing_input_len: h.len() + 1 + c.len(),
            signature: decode(s)?,
        })
    }

    pub fn kid(&self) -> Option<&str> {
        self.header.get("kid").and_then(Value::as_str)
    }

    pub fn typ(&self) -> Option<&str> {
        self.header.get("typ").and_then(Value::as_str)
    }

    /// Checks the signature with `key` (whose algorithm must be the header's);
    /// `token` is the same string that was parsed.
    pub fn verify_with(&self, token: &str, key: &SigningKey) -> Result<(), JwtError> {
        let alg = self.header.get("alg").and_then(Value::as_str);
        if alg != Some(key.alg().as_str()) {
            return Err(JwtError::BadSignature);
        }
        let input = token.get(..self.signing_input_len).ok_or(JwtError::Malformed)?;
        if key.verify(input.as_bytes(), &self.signature) {
            Ok(())
        } else {
            Err(JwtError::BadSignature)
        }
    }
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The required public members of the key's JWK (RFC 7518 §6, RFC 8037 §2),
/// in the lexicographic order RFC 7638 hashes them in.
fn public_members(pair: &Pair) -> Option<Value> {
    Some(match pair {
        Pair::Rsa(k) => {
            let p = k.public_key();
            json!({
                "e": b64(p.exponent().big_endian_without_leading_zero()),
                "kty": "RSA",
                "n": b64(p.modulus().big_endian_without_leading_zero()),
            })
        }
        Pair::Ec(k) => {
            let point = k.public_key().as_ref();
            // Uncompressed SEC1 point: 0x04 || X (32) || Y (32).
            if point.len() != 65 || point[0] != 4 {
                return None;
            }
            json!({"crv": "P-256", "kty": "EC", "x": b64(&point[1..33]), "y": b64(&point[33..65])})
        }
        Pair::Ed(k) => json!({"crv": "Ed25519", "kty": "OKP", "x": b64(k.public_key().as_ref())}),
    })
}

/// RFC 7638 thumbprint: SHA-256 of the required members, sorted, no spaces.
fn thumbprint(members: &Value) -> String {
    // serde_json's map is sorted by key and `to_string` writes no whitespace.
    b64(&Sha256::digest(members.to_string().as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_algorithm_signs_and_verifies_round_trip() {
        for alg in SigningAlg::ALL {
            let generated = SigningKey::generate(alg).unwrap();
            let key = generated.key;
            let token = key.sign_jwt(&json!({"sub": "alice", "n": 1})).unwrap();
            let jwt = UnverifiedJwt::parse(&token).unwrap();
            assert_eq!(jwt.kid(), Some(key.kid()));
            assert_eq!(jwt.header["alg"], alg.as_str());
            assert_eq!(jwt.claims["sub"], "alice");
            jwt.verify_with(&token, &key).unwrap();
            // Reloaded from its stored form: same kid, verifies the same token.
            let stored = SigningKey::pkcs8_b64(&generated.pkcs8_der);
            let again = SigningKey::from_pkcs8_b64(alg, &stored).unwrap();
            assert_eq!(again.kid(), key.kid());
            assert_eq!(again.public_jwk(), key.public_jwk());
            jwt.verify_with(&token, &again).unwrap();
            // A changed payload fails.
            let mut parts: Vec<&str> = token.split('.').collect();
            let forged = URL_SAFE_NO_PAD.encode(br#"{"sub":"mallory","n":1}"#);
            parts[1] = &forged;
            let forged_token = parts.join(".");
            let f = UnverifiedJwt::parse(&forged_token).unwrap();
            assert_eq!(f.verify_with(&forged_token, &key), Err(JwtError::BadSignature));
        }
    }

    #[test]
    fn jwk_has_the_public_members_only() {
        let rsa = SigningKey::generate(SigningAlg::Rs256).unwrap().key;
        let jwk = rsa.public_jwk();
        assert_eq!(jwk["kty"], "RSA");
        assert_eq!(jwk["e"], "AQAB");
        assert!(jwk.get("d").is_none() && jwk.get("p").is_none());
        let ec = SigningKey::generate(SigningAlg::Es256).unwrap().key;
        assert_eq!(ec.public_jwk()["crv"], "P-256");
        let ed = SigningKey::generate(SigningAlg::EdDsa).unwrap().key;
        assert_eq!(ed.public_jwk()["kty"], "OKP");
        assert_eq!(ed.public_jwk()["alg"], "EdDSA");
        assert!(!format!("{ed:?}").contains("pair"));
    }

    #[test]
    fn thumbprint_matches_rfc_7638_example() {
        // RFC 7638 §3.1.
        let members = json!({
            "e": "AQAB",
            "kty": "RSA",
            "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"
        });
        assert_eq!(thumbprint(&members), "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
    }

    #[test]
    fn half_hash_is_the_left_half() {
        // base64url(SHA-256(x)[..16]), as computed by Python's hashlib.
        assert_eq!(
            SigningAlg::Rs256.half_hash(b"jHkWEdUXMU1BwAsC4vtUsZwnNgY"),
            "LMQiUU-y9cjxM_rS44CeRA"
        );
        assert_eq!(SigningAlg::EdDsa.half_hash(b"x").len(), 43);
    }

    #[test]
    fn malformed_tokens_are_refused() {
        for bad in ["", "a.b", "a.b.c.d", "!!!.e30.x", "e30.e30.***", "W10.e30.AA"] {
            assert!(UnverifiedJwt::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(SigningAlg::parse("rs256"), Some(SigningAlg::Rs256));
        assert_eq!(SigningAlg::parse("HS256"), None);
    }
}
