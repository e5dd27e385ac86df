//! Reading the requests a service provider sends: `AuthnRequest` and
//! `LogoutRequest`, from their XML (already decoded from the binding).

use roxmltree::{Document, Node};

use crate::Error;
use crate::dsig::{self, Verifier};
use crate::time::parse_instant;
use crate::xml::{self, Limits};

pub const PROTOCOL_NS: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
pub const ASSERTION_NS: &str = "urn:oasis:names:tc:SAML:2.0:assertion";

/// An `AuthnRequest`, as far as an IdP acts on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthnRequest {
    pub id: String,
    /// Milliseconds since the epoch.
    pub issue_instant: i64,
    pub destination: Option<String>,
    pub issuer: Option<String>,
    pub acs_url: Option<String>,
    pub acs_index: Option<u32>,
    pub protocol_binding: Option<String>,
    pub force_authn: bool,
    pub is_passive: bool,
    pub name_id_format: Option<String>,
}

/// A `LogoutRequest`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogoutRequest {
    pub id: String,
    pub issue_instant: i64,
    pub destination: Option<String>,
    pub issuer: Option<String>,
    pub name_id: Option<String>,
    pub session_indexes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    Authn(AuthnRequest),
    Logout(LogoutRequest),
}

impl Request {
    pub fn id(&self) -> &str {
        match self {
            Request::Authn(r) => &r.id,
            Request::Logout(r) => &r.id,
        }
    }
    pub fn issue_instant(&self) -> i64 {
        match self {
            Request::Authn(r) => r.issue_instant,
            Request::Logout(r) => r.issue_instant,
        }
    }
    pub fn destination(&self) -> Option<&str> {
        match self {
            Request::Authn(r) => r.destination.as_deref(),
            Request::Logout(r) => r.destination.as_deref(),
        }
    }
    pub fn issuer(&self) -> Option<&str> {
        match self {
            Request::Authn(r) => r.issuer.as_deref(),
            Request::Logout(r) => r.issuer.as_deref(),
        }
    }
}

/// How the embedded signature of a request came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Embedded {
    /// No signature in the document.
    None,
    /// Signed, and verified with a configured certificate.
    Verified,
}

fn child<'a, 'i>(n: Node<'a, 'i>, ns: &str, local: &str) -> Option<Node<'a, 'i>> {
    n.children()
        .find(|c| c.is_element() && c.tag_name().namespace() == Some(ns) && c.tag_name().name() == local)
}

fn opt(n: Node, name: &str) -> Option<String> {
    n.attribute(name).map(str::to_string)
}

fn boolean(n: Node, name: &str) -> bool {
    matches!(n.attribute(name), Some("true" | "1"))
}

/// Parses and, when `certs` is given and the document is signed, verifies a
/// request. A signed document whose signature fails is refused whatever
/// `certs` is; with no certificates a signature cannot be checked, and the
/// request counts as unsigned.
pub fn read_request(text: &str, limits: Limits, certs: Option<&dyn Verifier>) -> Result<(Request, Embedded), Error> {
    let doc = xml::parse(text, limits)?;
    let embedded = match certs {
        Some(c) if dsig::has_signature(&doc) => {
            dsig::verify_root(&doc, c)?;
            Embedded::Verified
        }
        _ => Embedded::None,
    };
    Ok((parse_root(&doc)?, embedded))
}

fn parse_root(doc: &Document) -> Result<Request, Error> {
    let root = doc.root_element();
    if root.tag_name().namespace() != Some(PROTOCOL_NS) {
        return Err(Error::Malformed("not a SAML 2.0 protocol message".into()));
    }
    if root.attribute("Version") != Some("2.0") {
        return Err(Error::Malformed("Version must be 2.0".into()));
    }
    let id = root
        .attribute("ID")
        .filter(|s| !s.is_empty() && s.len() <= 256)
        .ok_or_else(|| Error::Malformed("missing ID".into()))?
        .to_string();
    let issue_instant = parse_instant(root.attribute("IssueInstant").unwrap_or(""))
        .ok_or_else(|| Error::Malformed("missing or bad IssueInstant".into()))?;
    let destination = opt(root, "Destination");
    let issuer = child(root, ASSERTION_NS, "Issuer").map(|n| xml::text_of(n).trim().to_string());
    match root.tag_name().name() {
        "AuthnRequest" => {
            let acs_index = match root.attribute("AssertionConsumerServiceIndex") {
                Some(v) => Some(
                    v.parse::<u32>()
                        .map_err(|_| Error::Malformed("bad AssertionConsumerServiceIndex".into()))?,
                ),
                None => None,
            };
            let name_id_format = child(root, PROTOCOL_NS, "NameIDPolicy").and_then(|n| opt(n, "Format"));
            Ok(Request::Authn(AuthnRequest {
                id,
                issue_instant,
                destination,
                issuer,
                acs_url: opt(root, "AssertionConsumerServiceURL"),
                acs_index,
                protocol_binding: opt(root, "ProtocolBinding"),
                force_authn: boolean(root, "ForceAuthn"),
                is_passive: boolean(root, "IsPassive"),
                name_id_format,
            }))
        }
        "LogoutRequest" => Ok(Request::Logout(LogoutRequest {
            id,
            issue_instant,
            destination,
            issuer,
            name_id: child(root, ASSERTION_NS, "NameID").map(|n| xml::text_of(n).trim().to_string()),
            session_indexes: root
                .children()
                .filter(|c| c.is_element() && c.tag_name().name() == "SessionIndex")
                .map(|n| xml::text_of(n).trim().to_string())
                .collect(),
        })),
        other => Err(Error::Malformed(format!("unexpected message {other}"))),
    }
}
