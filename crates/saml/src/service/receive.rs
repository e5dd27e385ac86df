//! Receiving a request from an SP (HTTP-Redirect or HTTP-POST binding) and
//! the IdP-initiated start: every check a message must pass, then it is
//! parked and the browser continues locally.

use gatehouse_core::{Directory, Timestamp};

use super::parked::ParkedRequest;
use super::{SamlApp, SamlIdp};
use crate::binding::{self, RawQuery};
use crate::dsig::Verifier;
use crate::metadata::BINDING_POST;
use crate::request::{Embedded, Request, read_request};
use crate::xml::Limits;

/// Largest XML message accepted (after base64 and inflation).
pub const MAX_XML_BYTES: usize = 64 * 1024;
/// A request older than this is refused as expired.
pub const MAX_AGE_MS: i64 = 5 * 60 * 1000;
/// A request this far in the future is accepted (clock skew).
pub const MAX_SKEW_MS: i64 = 90 * 1000;
/// RelayState longer than this is refused (SAML bindings cap it at 80 bytes; SPs exceed that).
pub const MAX_RELAY_STATE: usize = 2048;

/// Which endpoint a message arrived at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    Sso,
    Slo,
    /// The bare application path, which takes both.
    Any,
}

/// A message as the HTTP layer found it.
#[derive(Debug, Clone)]
pub enum Incoming {
    /// HTTP-Redirect: the raw query string (its signature covers the raw bytes).
    Redirect { query: String },
    /// HTTP-POST: the form's fields.
    Post {
        saml_request: Option<String>,
        /// A `SAMLResponse` field was posted (an SP answering a logout).
        has_response: bool,
        relay_state: Option<String>,
    },
}

/// What becomes of a received message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Received {
    /// No SAML application at this address.
    NotFound,
    /// Refused, with the reason (safe to show and log).
    Refused(String),
    /// A LogoutResponse: the SP answered a logout; nothing to do.
    SignedOut,
    /// Parked: the browser continues at this local URL.
    Continue(String),
}

/// A decoded request and what is known of it.
struct Message {
    request: Request,
    relay_state: Option<String>,
    /// By the query signature (Redirect) or an embedded one (POST).
    signed: bool,
}

type Checked<T> = Result<T, String>;

impl SamlIdp {
    /// Decodes, verifies and checks a request, then parks it.
    pub async fn receive(
        &self,
        dir: &Directory,
        slug: &str,
        endpoint: Endpoint,
        incoming: &Incoming,
    ) -> gatehouse_core::Result<Received> {
        let Some(sp) = self.application(dir, slug).await? else {
            return Ok(Received::NotFound);
        };
        let message = match decode(&sp, endpoint, incoming) {
            Ok(Some(m)) => m,
            Ok(None) => return Ok(Received::SignedOut),
            Err(why) => return Ok(Received::Refused(why)),
        };
        let now = dir.now();
        if let Err(why) = check(&sp, endpoint, &message, now) {
            return Ok(Received::Refused(why));
        }
        let req = &message.request;
        // Shared by every node: a request ID is answered once per SP and application.
        let until = Timestamp(req.issue_instant() + MAX_AGE_MS + MAX_SKEW_MS);
        let claim = format!("{}\n{}\n{}", sp.app.id, req.issuer().unwrap_or(""), req.id());
        if !dir.replay().claim(&claim, until).await? {
            return Ok(Received::Refused(
                "this request was already used (replayed request ID)".into(),
            ));
        }
        let (parked, which) = match to_parked(&sp, message, now) {
            Ok(p) => p,
            Err(why) => return Ok(Received::Refused(why)),
        };
        let token = parked.park(dir).await?;
        Ok(Received::Continue(sp.continue_path(which, &token)))
    }

    /// IdP-initiated sign-in: an unsolicited response to the default ACS URL
    /// (a RelayState too long is dropped).
    pub async fn start_unsolicited(
        &self,
        dir: &Directory,
        slug: &str,
        relay_state: Option<String>,
    ) -> gatehouse_core::Result<Received> {
        let Some(sp) = self.application(dir, slug).await? else {
            return Ok(Received::NotFound);
        };
        let parked = ParkedRequest {
            app_id: sp.app.id,
            acs_url: sp.cfg.acs_urls.first().cloned().unwrap_or_default(),
            request_id: None,
            relay_state: relay_state.filter(|r| r.len() <= MAX_RELAY_STATE),
            not_before: None,
            logout: false,
        };
        let token = parked.park(dir).await?;
        Ok(Received::Continue(sp.continue_path("sso", &token)))
    }
}

/// The request of a message, with its RelayState and whether it is signed;
/// `None` for a LogoutResponse at a logout-taking endpoint.
fn decode(sp: &SamlApp, endpoint: Endpoint, incoming: &Incoming) -> Checked<Option<Message>> {
    let certs = sp.cfg.certs();
    let verifier: Option<&dyn Verifier> = if certs.is_empty() { None } else { Some(&certs) };
    let (xml, relay_state, query_signed) = match incoming {
        Incoming::Redirect { query } => {
            let raw = RawQuery::parse(query).map_err(|e| e.to_string())?;
            if raw.raw("SAMLResponse").is_some() && endpoint != Endpoint::Sso {
                return Ok(None);
            }
            let msg = raw.get("SAMLRequest").ok_or("no SAMLRequest parameter")?;
            let xml = binding::decode_redirect(&msg, MAX_XML_BYTES).map_err(|e| e.to_string())?;
            let signed = match (raw.is_signed(), verifier) {
                (true, Some(v)) => raw.verify("SAMLRequest", v).map(|()| true).map_err(|e| e.to_string())?,
                _ => false,
            };
            (xml, raw.get("RelayState"), signed)
        }
        Incoming::Post {
            saml_request,
            has_response,
            relay_state,
        } => {
            if *has_response && endpoint != Endpoint::Sso {
                return Ok(None);
            }
            let msg = saml_request.as_deref().ok_or("no SAMLRequest field")?;
            let xml = binding::decode_post(msg, MAX_XML_BYTES).map_err(|e| e.to_string())?;
            (xml, relay_state.clone(), false)
        }
    };
    if relay_state.as_ref().is_some_and(|r| r.len() > MAX_RELAY_STATE) {
        return Err("RelayState is too long".into());
    }
    let limits = Limits {
        max_bytes: MAX_XML_BYTES,
        ..Limits::default()
    };
    let (request, embedded) = read_request(&xml, limits, verifier).map_err(|e| e.to_string())?;
    Ok(Some(Message {
        request,
        relay_state,
        signed: query_signed || embedded == Embedded::Verified,
    }))
}

/// Signature policy, issuer, endpoint, destination and age.
fn check(sp: &SamlApp, endpoint: Endpoint, m: &Message, now: Timestamp) -> Checked<()> {
    let req = &m.request;
    if sp.cfg.requests_must_be_signed() && !m.signed {
        return Err("the request is not signed, and this application's requests must be".into());
    }
    // Anyone can build an unsigned LogoutRequest: only an SP allowed to may sign people out with one.
    if matches!(req, Request::Logout(_)) && !m.signed && !sp.cfg.allow_unsigned_logout {
        return Err("the logout request is not signed, and this application may not send unsigned ones".into());
    }
    if req.issuer().is_some_and(|issuer| issuer != sp.cfg.audience) {
        return Err("the request's Issuer is not this application's service provider".into());
    }
    let paths = match (req, endpoint) {
        (Request::Authn(_), Endpoint::Sso | Endpoint::Any) => ["sso/binding/redirect/", "sso/binding/post/", ""],
        (Request::Logout(_), Endpoint::Slo | Endpoint::Any) => ["slo/binding/redirect/", "slo/binding/post/", ""],
        _ => return Err("this endpoint does not take that kind of message".into()),
    };
    // A signed message must name where it is going (SAML bindings 3.4.5.2,
    // 3.5.5.2): else a request signed for another IdP endpoint could be replayed here.
    match req.destination() {
        Some(dest) if !paths.iter().any(|p| dest == sp.endpoint(p)) => {
            return Err("the request's Destination is not this endpoint".into());
        }
        None if m.signed => return Err("the request is signed but has no Destination".into()),
        _ => {}
    }
    let instant = req.issue_instant();
    if instant < now.millis() - MAX_AGE_MS {
        return Err("the request has expired (IssueInstant too old)".into());
    }
    if instant > now.millis() + MAX_SKEW_MS {
        return Err("the request's IssueInstant is in the future".into());
    }
    Ok(())
}

/// The parked form of a checked request, and which continue URL it takes.
fn to_parked(sp: &SamlApp, m: Message, now: Timestamp) -> Checked<(ParkedRequest, &'static str)> {
    Ok(match m.request {
        Request::Authn(a) => {
            if a.protocol_binding.as_deref().is_some_and(|b| b != BINDING_POST) {
                return Err("only the HTTP-POST binding is supported for responses".into());
            }
            let acs = sp
                .cfg
                .acs_for(a.acs_url.as_deref(), a.acs_index)
                .map_err(|e| e.to_string())?;
            let parked = ParkedRequest {
                app_id: sp.app.id,
                acs_url: acs.to_string(),
                request_id: Some(a.id),
                relay_state: m.relay_state,
                not_before: a.force_authn.then_some(now),
                logout: false,
            };
            (parked, "sso")
        }
        Request::Logout(l) => {
            let parked = ParkedRequest {
                app_id: sp.app.id,
                acs_url: sp.cfg.slo_url.clone().unwrap_or_default(),
                request_id: Some(l.id),
                relay_state: m.relay_state,
                not_before: None,
                logout: true,
            };
            (parked, "slo")
        }
    })
}
