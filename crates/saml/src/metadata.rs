//! IdP metadata (what Gatehouse publishes) and SP metadata (what an operator imports).

use crate::Error;
use crate::keys::TrustedCert;
use crate::xml::{self, Limits, attr, text};

pub const MD_NS: &str = "urn:oasis:names:tc:SAML:2.0:metadata";
pub const BINDING_REDIRECT: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect";
pub const BINDING_POST: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST";

/// The IdP's endpoints and certificates.
#[derive(Debug, Clone)]
pub struct IdpMetadata<'a> {
    pub entity_id: &'a str,
    pub sso_redirect: &'a str,
    pub sso_post: &'a str,
    pub slo_redirect: &'a str,
    pub slo_post: &'a str,
    /// Base64 DER certificates, the signing one first, then the next and retiring ones.
    pub certs: &'a [String],
    pub name_id_formats: &'a [&'a str],
    pub want_authn_requests_signed: bool,
}

pub fn idp_metadata(m: &IdpMetadata) -> String {
    let mut x = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<md:EntityDescriptor xmlns:md=\"{MD_NS}\" \
         xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\" entityID=\"{}\"><md:IDPSSODescriptor \
         WantAuthnRequestsSigned=\"{}\" protocolSupportEnumeration=\"urn:oasis:names:tc:SAML:2.0:protocol\">",
        attr(m.entity_id),
        m.want_authn_requests_signed
    );
    for c in m.certs {
        x.push_str(&format!(
            "<md:KeyDescriptor use=\"signing\"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{}\
             </ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>",
            text(c)
        ));
    }
    x.push_str(&format!(
        "<md:SingleLogoutService Binding=\"{BINDING_REDIRECT}\" Location=\"{}\"/>\
         <md:SingleLogoutService Binding=\"{BINDING_POST}\" Location=\"{}\"/>",
        attr(m.slo_redirect),
        attr(m.slo_post)
    ));
    for f in m.name_id_formats {
        x.push_str(&format!("<md:NameIDFormat>{}</md:NameIDFormat>", text(f)));
    }
    x.push_str(&format!(
        "<md:SingleSignOnService Binding=\"{BINDING_REDIRECT}\" Location=\"{}\"/>\
         <md:SingleSignOnService Binding=\"{BINDING_POST}\" Location=\"{}\"/>\
         </md:IDPSSODescriptor></md:EntityDescriptor>\n",
        attr(m.sso_redirect),
        attr(m.sso_post)
    ));
    x
}

/// What an SP's metadata says.
#[derive(Debug, Clone, Default)]
pub struct SpMetadata {
    pub entity_id: String,
    /// ACS URLs (HTTP-POST binding), the default one first.
    pub acs_urls: Vec<String>,
    pub certs: Vec<TrustedCert>,
    pub authn_requests_signed: bool,
    pub want_assertions_signed: bool,
    /// Single logout: (binding, location), the first one.
    pub slo: Option<(String, String)>,
}

pub fn parse_sp_metadata(text_in: &str) -> Result<SpMetadata, Error> {
    let limits = Limits {
        max_bytes: 1024 * 1024,
        max_depth: 32,
        max_nodes: 200_000,
    };
    let doc = xml::parse(text_in, limits)?;
    let ed = doc
        .descendants()
        .find(|n| {
            n.is_element() && n.tag_name().namespace() == Some(MD_NS) && n.tag_name().name() == "EntityDescriptor"
        })
        .ok_or_else(|| Error::Malformed("no EntityDescriptor".into()))?;
    let sp = ed
        .children()
        .find(|n| n.is_element() && n.tag_name().namespace() == Some(MD_NS) && n.tag_name().name() == "SPSSODescriptor")
        .ok_or_else(|| Error::Malformed("no SPSSODescriptor".into()))?;
    let mut out = SpMetadata {
        entity_id: ed.attribute("entityID").unwrap_or("").to_string(),
        authn_requests_signed: sp.attribute("AuthnRequestsSigned") == Some("true"),
        want_assertions_signed: sp.attribute("WantAssertionsSigned") == Some("true"),
        ..SpMetadata::default()
    };
    if out.entity_id.is_empty() {
        return Err(Error::Malformed("EntityDescriptor without entityID".into()));
    }
    let mut acs: Vec<(bool, u32, String)> = Vec::new();
    for n in sp.children().filter(|n| n.is_element()) {
        match n.tag_name().name() {
            "AssertionConsumerService" if n.attribute("Binding") == Some(BINDING_POST) => {
                if let Some(loc) = n.attribute("Location") {
                    acs.push((
                        n.attribute("isDefault") == Some("true"),
                        n.attribute("index").and_then(|i| i.parse().ok()).unwrap_or(u32::MAX),
                        loc.to_string(),
                    ));
                }
            }
            "SingleLogoutService" if out.slo.is_none() => {
                if let (Some(b), Some(l)) = (n.attribute("Binding"), n.attribute("Location")) {
                    out.slo = Some((b.to_string(), l.to_string()));
                }
            }
            "KeyDescriptor" if n.attribute("use").is_none_or(|u| u == "signing") => {
                for c in n
                    .descendants()
                    .filter(|c| c.is_element() && c.tag_name().name() == "X509Certificate")
                {
                    out.certs.push(TrustedCert::from_pem_or_b64(&xml::text_of(c))?);
                }
            }
            _ => {}
        }
    }
    acs.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    out.acs_urls = acs.into_iter().map(|(_, _, l)| l).collect();
    Ok(out)
}
