#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic))]
//! The SAML 2.0 identity provider. The protocol modules do no I/O: hardened
//! XML reading, exclusive canonicalisation, enveloped XML-DSig (sign and
//! verify), the HTTP-Redirect and HTTP-POST bindings, `AuthnRequest` and
//! `LogoutRequest` parsing, and the `Response`, `LogoutResponse` and metadata
//! Gatehouse sends. [`service`] holds the request services over the directory
//! (receive and park, SSO through the one gate, SLO, metadata); the web layer
//! parses HTTP, calls one of them and renders its outcome.

pub mod authentik;
pub mod binding;
pub mod c14n;
pub mod config;
pub mod dsig;
pub mod keys;
pub mod metadata;
pub mod paths;
pub mod request;
pub mod response;
pub mod service;
pub mod time;
pub mod xml;

pub use config::{NameIdKind, SamlConfig};
pub use keys::{KeyFamily, SamlKey, SignatureAlg, TrustedCert};
pub use request::{AuthnRequest, Embedded, LogoutRequest, Request};
pub use response::SignMode;

/// Why a message was refused. The text is safe to show and log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("the document is too large")]
    TooLarge,
    #[error("the document nests too deeply")]
    TooDeep,
    #[error("documents with a DTD or entities are refused")]
    Dtd,
    #[error("documents with processing instructions are refused")]
    ProcessingInstruction,
    #[error("malformed message: {0}")]
    Malformed(String),
    #[error("the message is not signed")]
    Unsigned,
    #[error("signature refused: {0}")]
    BadSignature(String),
    #[error("signature refused (wrapping): {0}")]
    Wrapping(&'static str),
    #[error("the ACS URL {0} is not registered for this application")]
    UnknownAcs(String),
    #[error("key or certificate error")]
    Key,
    #[error("the certificate does not parse (RSA or P-256 X.509 expected)")]
    Certificate,
    #[error("{0}")]
    Config(String),
}

/// Constant-time equality.
pub(crate) fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A random message id (an NCName): `_` and 40 hex digits.
pub fn new_id() -> String {
    let mut b = [0u8; 20];
    let _ = aws_lc_rs::rand::fill(&mut b);
    let mut s = String::with_capacity(41);
    s.push('_');
    for x in b {
        s.push_str(&format!("{x:02x}"));
    }
    s
}

#[cfg(test)]
mod tests;
