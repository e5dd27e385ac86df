//! The HTTP bindings: base64 (POST), DEFLATE + base64 (Redirect), and the
//! Redirect binding's detached signature over the raw query octets.

use std::io::Read;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use flate2::Compression;
use flate2::read::{DeflateDecoder, DeflateEncoder};

use crate::Error;
use crate::dsig::{Signer, Verifier};
use crate::keys::SignatureAlg;

fn b64(s: &str) -> Result<Vec<u8>, Error> {
    let clean: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    STANDARD
        .decode(clean.as_bytes())
        .map_err(|_| Error::Malformed("not base64".into()))
}

/// HTTP-POST: the form field's base64, capped at `max` bytes of XML.
pub fn decode_post(value: &str, max: usize) -> Result<String, Error> {
    if value.len() > max.saturating_mul(4) / 3 + 8 {
        return Err(Error::TooLarge);
    }
    String::from_utf8(b64(value)?).map_err(|_| Error::Malformed("not UTF-8".into()))
}

/// HTTP-Redirect: the (already URL-decoded) parameter, inflated with a cap
/// (a deflate bomb stops at `max` bytes).
pub fn decode_redirect(value: &str, max: usize) -> Result<String, Error> {
    if value.len() > max {
        return Err(Error::TooLarge);
    }
    let raw = b64(value)?;
    let mut out = Vec::new();
    DeflateDecoder::new(raw.as_slice())
        .take(max as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|_| Error::Malformed("not DEFLATE".into()))?;
    if out.len() > max {
        return Err(Error::TooLarge);
    }
    String::from_utf8(out).map_err(|_| Error::Malformed("not UTF-8".into()))
}

/// DEFLATE + base64 (for a Redirect-binding message we send).
pub fn encode_redirect(xml: &str) -> String {
    let mut out = Vec::new();
    let _ = DeflateEncoder::new(xml.as_bytes(), Compression::default()).read_to_end(&mut out);
    STANDARD.encode(out)
}

pub fn encode_post(xml: &str) -> String {
    STANDARD.encode(xml.as_bytes())
}

/// The raw (still URL-encoded) parameters of a query string, refusing duplicates
/// of the SAML parameters.
pub struct RawQuery<'a> {
    pairs: Vec<(&'a str, &'a str)>,
}

const SAML_PARAMS: [&str; 5] = ["SAMLRequest", "SAMLResponse", "RelayState", "SigAlg", "Signature"];

impl<'a> RawQuery<'a> {
    pub fn parse(query: &'a str) -> Result<RawQuery<'a>, Error> {
        let mut pairs = Vec::new();
        for part in query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = part.split_once('=').unwrap_or((part, ""));
            if SAML_PARAMS.contains(&k) && pairs.iter().any(|(k2, _)| *k2 == k) {
                return Err(Error::Malformed(format!("{k} given twice")));
            }
            pairs.push((k, v));
        }
        Ok(RawQuery { pairs })
    }

    pub fn raw(&self, name: &str) -> Option<&'a str> {
        self.pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| *v)
    }

    /// URL-decoded value.
    pub fn get(&self, name: &str) -> Option<String> {
        self.raw(name).map(|v| {
            url::form_urlencoded::parse(format!("x={v}").as_bytes())
                .next()
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default()
        })
    }

    /// Whether the query carries a detached signature.
    pub fn is_signed(&self) -> bool {
        self.raw("Signature").is_some()
    }

    /// Verifies the detached signature over `param=…&RelayState=…&SigAlg=…`
    /// exactly as received (SAML bindings 3.4.4.1).
    pub fn verify(&self, param: &str, certs: &dyn Verifier) -> Result<(), Error> {
        let (Some(msg), Some(sig_alg), Some(_)) = (self.raw(param), self.raw("SigAlg"), self.raw("Signature")) else {
            return Err(Error::Unsigned);
        };
        let alg_uri = self.get("SigAlg").unwrap_or_default();
        let alg = SignatureAlg::from_uri(&alg_uri)
            .ok_or_else(|| Error::BadSignature(format!("signature algorithm {alg_uri} not accepted")))?;
        let mut signed = format!("{param}={msg}");
        if let Some(rs) = self.raw("RelayState") {
            signed.push_str("&RelayState=");
            signed.push_str(rs);
        }
        signed.push_str("&SigAlg=");
        signed.push_str(sig_alg);
        let sig = b64(&self.get("Signature").unwrap_or_default())
            .map_err(|_| Error::BadSignature("signature is not base64".into()))?;
        if certs.verify_octets(alg, signed.as_bytes(), &sig) {
            Ok(())
        } else {
            Err(Error::BadSignature("signature value does not verify".into()))
        }
    }
}

fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// A signed Redirect-binding query (`param` is `SAMLRequest` or `SAMLResponse`).
pub fn signed_redirect_query(
    param: &str,
    xml: &str,
    relay_state: Option<&str>,
    key: &dyn Signer,
    alg: SignatureAlg,
) -> Result<String, Error> {
    let mut q = format!("{param}={}", enc(&encode_redirect(xml)));
    if let Some(rs) = relay_state {
        q.push_str("&RelayState=");
        q.push_str(&enc(rs));
    }
    q.push_str("&SigAlg=");
    q.push_str(&enc(alg.uri()));
    let sig = key.sign_octets(alg, q.as_bytes())?;
    q.push_str("&Signature=");
    q.push_str(&enc(&STANDARD.encode(sig)));
    Ok(q)
}
