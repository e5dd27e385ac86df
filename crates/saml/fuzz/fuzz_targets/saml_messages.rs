//! Everything an SP can send reaches these functions: the Redirect binding
//! (query parsing, inflation, detached signature), the POST binding (base64),
//! the hardened XML reader, AuthnRequest/LogoutRequest parsing and the
//! enveloped-signature verifier (with a real key, so signed seeds go deep).
#![no_main]

use std::sync::OnceLock;

use gatehouse_saml::binding::{RawQuery, decode_post, decode_redirect};
use gatehouse_saml::request::read_request;
use gatehouse_saml::xml::Limits;
use gatehouse_saml::{KeyFamily, SamlKey, TrustedCert};
use libfuzzer_sys::fuzz_target;

fn certs() -> &'static Vec<TrustedCert> {
    static C: OnceLock<Vec<TrustedCert>> = OnceLock::new();
    C.get_or_init(|| {
        // The seed corpus is signed with the key in fuzz/seed_key (see docs/saml.md);
        // also trust a fresh key so verification paths run either way.
        let mut v = Vec::new();
        if let Ok(pem) = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/seed_cert.pem"))
            && let Ok(c) = TrustedCert::from_pem_or_b64(&pem)
        {
            v.push(c);
        }
        if let Ok(g) = SamlKey::generate(KeyFamily::EcP256, "fuzz", 1_800_000_000)
            && let Ok(c) = TrustedCert::from_der(g.key.cert_der())
        {
            v.push(c);
        }
        v
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let certs = certs();
    let limits = Limits::default();
    let _ = read_request(text, limits, Some(certs));
    let _ = read_request(text, limits, None);
    if let Ok(q) = RawQuery::parse(text) {
        let _ = q.verify("SAMLRequest", certs);
        if let Some(m) = q.get("SAMLRequest")
            && let Ok(xml) = decode_redirect(&m, 64 * 1024)
        {
            let _ = read_request(&xml, limits, Some(certs));
        }
    }
    if let Ok(xml) = decode_post(text, 64 * 1024) {
        let _ = read_request(&xml, limits, Some(certs));
    }
});
