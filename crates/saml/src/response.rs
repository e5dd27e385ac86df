//! What Gatehouse sends: the `Response` with one `Assertion`, and `LogoutResponse`.

use crate::Error;
use crate::dsig::{Signer, sign_element};
use crate::keys::SignatureAlg;
use crate::request::{ASSERTION_NS, PROTOCOL_NS};
use crate::time::format_instant;
use crate::xml::{attr, text};

pub const STATUS_SUCCESS: &str = "urn:oasis:names:tc:SAML:2.0:status:Success";
pub const STATUS_REQUESTER: &str = "urn:oasis:names:tc:SAML:2.0:status:Requester";
pub const BEARER: &str = "urn:oasis:names:tc:SAML:2.0:cm:bearer";
pub const CLASS_PASSWORD_PROTECTED: &str = "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport";
pub const CLASS_PASSWORD: &str = "urn:oasis:names:tc:SAML:2.0:ac:classes:Password";
/// REFEDS MFA profile: the common multi-factor class SPs look for.
pub const CLASS_MFA: &str = "https://refeds.org/profile/mfa";
pub const CLASS_UNSPECIFIED: &str = "urn:oasis:names:tc:SAML:2.0:ac:classes:unspecified";
pub const ATTR_NAME_FORMAT_URI: &str = "urn:oasis:names:tc:SAML:2.0:attrname-format:uri";
pub const ATTR_NAME_FORMAT_BASIC: &str = "urn:oasis:names:tc:SAML:2.0:attrname-format:basic";

/// What to sign.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignMode {
    Assertion,
    Response,
    Both,
}

impl SignMode {
    pub fn as_str(self) -> &'static str {
        match self {
            SignMode::Assertion => "assertion",
            SignMode::Response => "response",
            SignMode::Both => "both",
        }
    }
    fn assertion(self) -> bool {
        matches!(self, SignMode::Assertion | SignMode::Both)
    }
    fn response(self) -> bool {
        matches!(self, SignMode::Response | SignMode::Both)
    }
}

/// The authentication context class for the methods a session was opened
/// with (RFC 8176 `amr` names): any second factor → multi-factor, a password
/// alone → PasswordProtectedTransport (or Password over plain HTTP).
pub fn authn_context_class(amr: &[String], https: bool) -> &'static str {
    let mfa = amr
        .iter()
        .any(|m| matches!(m.as_str(), "mfa" | "otp" | "hwk" | "swk" | "totp" | "webauthn"));
    if mfa {
        CLASS_MFA
    } else if amr.iter().any(|m| m == "pwd") {
        if https {
            CLASS_PASSWORD_PROTECTED
        } else {
            CLASS_PASSWORD
        }
    } else {
        CLASS_UNSPECIFIED
    }
}

/// One attribute: its name, optional friendly name, name format and values.
#[derive(Debug, Clone)]
pub struct Attribute {
    pub name: String,
    pub friendly_name: Option<String>,
    pub name_format: &'static str,
    pub values: Vec<String>,
}

/// Everything in a successful response.
#[derive(Debug, Clone)]
pub struct Assertion<'a> {
    pub response_id: &'a str,
    pub assertion_id: &'a str,
    pub issuer: &'a str,
    /// The ACS URL (Destination and Recipient).
    pub acs_url: &'a str,
    pub in_response_to: Option<&'a str>,
    pub audience: &'a str,
    pub name_id: &'a str,
    pub name_id_format: &'a str,
    pub session_index: &'a str,
    pub authn_instant: i64,
    pub authn_context: &'a str,
    pub session_not_on_or_after: Option<i64>,
    pub attributes: &'a [Attribute],
    pub now: i64,
    /// How long the assertion may be presented, in seconds.
    pub valid_secs: i64,
}

fn in_response_to(v: Option<&str>) -> String {
    v.map(|v| format!(" InResponseTo=\"{}\"", attr(v))).unwrap_or_default()
}

/// The unsigned XML of the response.
pub fn response_xml(a: &Assertion) -> String {
    let now = format_instant(a.now);
    let until = format_instant(a.now + a.valid_secs * 1000);
    let not_before = format_instant(a.now - 30_000);
    let irt = in_response_to(a.in_response_to);
    let mut x = String::with_capacity(4096);
    x.push_str(&format!(
        "<samlp:Response xmlns:samlp=\"{PROTOCOL_NS}\" xmlns:saml=\"{ASSERTION_NS}\" ID=\"{}\" Version=\"2.0\" \
         IssueInstant=\"{now}\" Destination=\"{}\"{irt}><saml:Issuer>{}</saml:Issuer><samlp:Status>\
         <samlp:StatusCode Value=\"{STATUS_SUCCESS}\"/></samlp:Status>",
        attr(a.response_id),
        attr(a.acs_url),
        text(a.issuer)
    ));
    x.push_str(&format!(
        "<saml:Assertion xmlns:saml=\"{ASSERTION_NS}\" ID=\"{}\" Version=\"2.0\" IssueInstant=\"{now}\">\
         <saml:Issuer>{}</saml:Issuer><saml:Subject><saml:NameID Format=\"{}\">{}</saml:NameID>\
         <saml:SubjectConfirmation Method=\"{BEARER}\"><saml:SubjectConfirmationData{irt} \
         NotOnOrAfter=\"{until}\" Recipient=\"{}\"/></saml:SubjectConfirmation></saml:Subject>\
         <saml:Conditions NotBefore=\"{not_before}\" NotOnOrAfter=\"{until}\"><saml:AudienceRestriction>\
         <saml:Audience>{}</saml:Audience></saml:AudienceRestriction></saml:Conditions>",
        attr(a.assertion_id),
        text(a.issuer),
        attr(a.name_id_format),
        text(a.name_id),
        attr(a.acs_url),
        text(a.audience),
    ));
    let snooa = a
        .session_not_on_or_after
        .map(|t| format!(" SessionNotOnOrAfter=\"{}\"", format_instant(t)))
        .unwrap_or_default();
    x.push_str(&format!(
        "<saml:AuthnStatement AuthnInstant=\"{}\" SessionIndex=\"{}\"{snooa}><saml:AuthnContext>\
         <saml:AuthnContextClassRef>{}</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>",
        format_instant(a.authn_instant),
        attr(a.session_index),
        text(a.authn_context)
    ));
    if !a.attributes.is_empty() {
        x.push_str("<saml:AttributeStatement>");
        for at in a.attributes {
            x.push_str(&format!("<saml:Attribute Name=\"{}\"", attr(&at.name)));
            if let Some(f) = &at.friendly_name {
                x.push_str(&format!(" FriendlyName=\"{}\"", attr(f)));
            }
            x.push_str(&format!(" NameFormat=\"{}\">", at.name_format));
            for v in &at.values {
                x.push_str(&format!("<saml:AttributeValue>{}</saml:AttributeValue>", text(v)));
            }
            x.push_str("</saml:Attribute>");
        }
        x.push_str("</saml:AttributeStatement>");
    }
    x.push_str("</saml:Assertion></samlp:Response>");
    x
}

/// The signed response.
pub fn signed_response(a: &Assertion, mode: SignMode, key: &dyn Signer, alg: SignatureAlg) -> Result<String, Error> {
    let mut x = response_xml(a);
    if mode.assertion() {
        x = sign_element(&x, a.assertion_id, key, alg)?;
    }
    if mode.response() {
        x = sign_element(&x, a.response_id, key, alg)?;
    }
    Ok(x)
}

/// A `LogoutResponse` (unsigned XML; sign with [`sign_element`] for POST or
/// with a Redirect query signature).
pub fn logout_response_xml(
    id: &str,
    issuer: &str,
    destination: &str,
    in_response_to: &str,
    status: &str,
    now: i64,
) -> String {
    format!(
        "<samlp:LogoutResponse xmlns:samlp=\"{PROTOCOL_NS}\" xmlns:saml=\"{ASSERTION_NS}\" ID=\"{}\" Version=\"2.0\" \
         IssueInstant=\"{}\" Destination=\"{}\" InResponseTo=\"{}\"><saml:Issuer>{}</saml:Issuer>\
         <samlp:Status><samlp:StatusCode Value=\"{}\"/></samlp:Status></samlp:LogoutResponse>",
        attr(id),
        format_instant(now),
        attr(destination),
        attr(in_response_to),
        text(issuer),
        attr(status)
    )
}

/// An error `Response` (no assertion), e.g. for a passive request without a session.
pub fn error_response_xml(
    id: &str,
    issuer: &str,
    destination: &str,
    irt: Option<&str>,
    status: &str,
    now: i64,
) -> String {
    format!(
        "<samlp:Response xmlns:samlp=\"{PROTOCOL_NS}\" xmlns:saml=\"{ASSERTION_NS}\" ID=\"{}\" Version=\"2.0\" \
         IssueInstant=\"{}\" Destination=\"{}\"{}><saml:Issuer>{}</saml:Issuer><samlp:Status>\
         <samlp:StatusCode Value=\"{}\"/></samlp:Status></samlp:Response>",
        attr(id),
        format_instant(now),
        attr(destination),
        in_response_to(irt),
        text(issuer),
        attr(status)
    )
}

/// The attributes Gatehouse sends, each under its URI name (with a friendly
/// name, as authentik names them) and under its plain name (basic format),
/// so SPs that key on either find them.
pub fn standard_attributes(username: &str, email: &str, name: &str, uid: &str, groups: &[String]) -> Vec<Attribute> {
    let one = |v: &str| vec![v.to_string()];
    let uri: [(&str, &str, Vec<String>); 5] = [
        (
            "http://schemas.goauthentik.io/2021/02/saml/username",
            "username",
            one(username),
        ),
        (
            "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress",
            "email",
            one(email),
        ),
        (
            "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name",
            "name",
            one(name),
        ),
        ("http://schemas.goauthentik.io/2021/02/saml/uid", "uid", one(uid)),
        ("http://schemas.xmlsoap.org/claims/Group", "groups", groups.to_vec()),
    ];
    let mut out = Vec::with_capacity(10);
    for (n, f, v) in &uri {
        out.push(Attribute {
            name: (*n).to_string(),
            friendly_name: Some((*f).to_string()),
            name_format: ATTR_NAME_FORMAT_URI,
            values: v.clone(),
        });
    }
    for (_, f, v) in uri {
        out.push(Attribute {
            name: f.to_string(),
            friendly_name: None,
            name_format: ATTR_NAME_FORMAT_BASIC,
            values: v,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authn_context_follows_the_session_methods() {
        let amr = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(authn_context_class(&amr(&["pwd"]), true), CLASS_PASSWORD_PROTECTED);
        assert_eq!(authn_context_class(&amr(&["pwd"]), false), CLASS_PASSWORD);
        for second in ["mfa", "otp", "hwk", "swk"] {
            assert_eq!(authn_context_class(&amr(&["pwd", second]), true), CLASS_MFA);
        }
        assert_eq!(authn_context_class(&amr(&["hwk"]), true), CLASS_MFA);
        assert_eq!(authn_context_class(&[], true), CLASS_UNSPECIFIED);
    }

    #[test]
    fn attributes_come_under_both_names() {
        let a = standard_attributes("u", "e@x", "N", "id", &["g1".into(), "g2".into()]);
        assert_eq!(a.len(), 10);
        let groups: Vec<_> = a.iter().filter(|x| x.values == ["g1", "g2"]).collect();
        assert_eq!(groups.len(), 2);
        assert!(groups.iter().any(|g| g.name == "groups" && g.friendly_name.is_none()));
        assert!(groups.iter().any(
            |g| g.name == "http://schemas.xmlsoap.org/claims/Group" && g.friendly_name.as_deref() == Some("groups")
        ));
    }
}
