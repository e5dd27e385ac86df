//! Signing and verification end to end, and the refusals: tampering, the
//! classic XML signature wrapping permutations, DTDs, size.

use crate::binding::{RawQuery, decode_redirect, encode_redirect, signed_redirect_query};
use crate::dsig::{self, sign_element};
use crate::keys::{KeyFamily, SamlKey, SignatureAlg, TrustedCert};
use crate::request::{Embedded, Request, read_request};
use crate::response::{self, Assertion, Attribute, SignMode};
use crate::xml::Limits;
use crate::{Error, xml};

fn sp_key(family: KeyFamily) -> (SamlKey, Vec<TrustedCert>) {
    let g = SamlKey::generate(family, "sp", 1_800_000_000).unwrap();
    let cert = TrustedCert::from_der(g.key.cert_der()).unwrap();
    (g.key, vec![cert])
}

fn authn_request(id: &str) -> String {
    format!(
        "<samlp:AuthnRequest xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\" \
         xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\" ID=\"{id}\" Version=\"2.0\" \
         IssueInstant=\"2026-11-29T05:00:00Z\" Destination=\"https://idp/sso\" \
         AssertionConsumerServiceURL=\"https://sp/acs\">\n  <saml:Issuer>https://sp</saml:Issuer>\n  \
         <samlp:NameIDPolicy Format=\"urn:oasis:names:tc:SAML:2.0:nameid-format:persistent\" AllowCreate=\"true\"/>\n\
         </samlp:AuthnRequest>"
    )
}

fn signed_request(key: &SamlKey, id: &str) -> String {
    sign_element(&authn_request(id), id, key, SignatureAlg::RsaSha256).unwrap()
}

fn read(x: &str, certs: &Vec<TrustedCert>) -> Result<(Request, Embedded), Error> {
    read_request(x, Limits::default(), Some(certs))
}

#[test]
fn a_signed_request_verifies_and_parses() {
    let (key, certs) = sp_key(KeyFamily::Rsa);
    let x = signed_request(&key, "_req1");
    let (req, emb) = read(&x, &certs).unwrap();
    assert_eq!(emb, Embedded::Verified);
    let Request::Authn(a) = req else { panic!() };
    assert_eq!(a.id, "_req1");
    assert_eq!(a.acs_url.as_deref(), Some("https://sp/acs"));
    assert_eq!(a.issuer.as_deref(), Some("https://sp"));
    // ECDSA too.
    let (ec, ec_certs) = sp_key(KeyFamily::EcP256);
    let x = sign_element(&authn_request("_e"), "_e", &ec, SignatureAlg::EcdsaSha256).unwrap();
    assert_eq!(read(&x, &ec_certs).unwrap().1, Embedded::Verified);
    // The wrong key fails.
    assert!(matches!(read(&x, &certs), Err(Error::BadSignature(_))));
}

#[test]
fn unsigned_requests_are_reported_unsigned() {
    let (_, certs) = sp_key(KeyFamily::Rsa);
    assert_eq!(read(&authn_request("_u"), &certs).unwrap().1, Embedded::None);
    let text = authn_request("_u");
    let doc = xml::parse(&text, Limits::default()).unwrap();
    assert_eq!(dsig::verify_root(&doc, &certs), Err(Error::Unsigned));
}

#[test]
fn tampering_breaks_the_signature() {
    let (key, certs) = sp_key(KeyFamily::Rsa);
    let x = signed_request(&key, "_t");
    let changed = x.replace("https://sp/acs", "https://evil/acs");
    assert!(matches!(read(&changed, &certs), Err(Error::BadSignature(_))));
    // Flip one character of the signature value.
    let start = x.find("<ds:SignatureValue>").unwrap() + "<ds:SignatureValue>".len();
    let mut bytes = x.clone().into_bytes();
    bytes[start + 5] = if bytes[start + 5] == b'A' { b'B' } else { b'A' };
    let bad = String::from_utf8(bytes).unwrap();
    assert!(matches!(read(&bad, &certs), Err(Error::BadSignature(_))));
    // Swap the algorithm for one we do not accept.
    let sha1 = x.replace(
        "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
        "http://www.w3.org/2000/09/xmldsig#rsa-sha1",
    );
    assert!(matches!(read(&sha1, &certs), Err(Error::BadSignature(_))));
    let incl = x.replacen(
        "<ds:CanonicalizationMethod Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/>",
        "<ds:CanonicalizationMethod Algorithm=\"http://www.w3.org/TR/2001/REC-xml-c14n-20010315\"/>",
        1,
    );
    assert!(matches!(read(&incl, &certs), Err(Error::BadSignature(_))));
}

/// The signed original, its Signature element and the rest.
fn parts(x: &str) -> (String, String) {
    let s = x.find("<ds:Signature ").unwrap();
    let e = x.find("</ds:Signature>").unwrap() + "</ds:Signature>".len();
    (x[s..e].to_string(), format!("{}{}", &x[..s], &x[e..]))
}

#[test]
fn signature_wrapping_permutations_all_fail() {
    let (key, certs) = sp_key(KeyFamily::Rsa);
    let orig = signed_request(&key, "_orig");
    let (sig, unsigned_orig) = parts(&orig);
    let evil = |id: &str, inner: &str| {
        format!(
            "<samlp:AuthnRequest xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\" \
             xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\" ID=\"{id}\" Version=\"2.0\" \
             IssueInstant=\"2026-11-29T05:00:00Z\" AssertionConsumerServiceURL=\"https://evil/acs\">\
             <saml:Issuer>https://sp</saml:Issuer>{inner}</samlp:AuthnRequest>"
        )
    };
    let cases: Vec<(&str, String)> = vec![
        // 1. Evil root, the original (signed) request wrapped in Extensions.
        (
            "original wrapped in Extensions",
            evil("_evil", &format!("<samlp:Extensions>{orig}</samlp:Extensions>")),
        ),
        // 2. Evil root carrying the original signature; the original moved into Extensions.
        (
            "signature moved to the evil root",
            evil("_evil", &format!("{sig}<samlp:Extensions>{unsigned_orig}</samlp:Extensions>")),
        ),
        // 3. Evil root reusing the signed ID, the original inside (duplicate IDs).
        (
            "duplicate ID, original inside",
            evil("_orig", &format!("{sig}<samlp:Extensions>{unsigned_orig}</samlp:Extensions>")),
        ),
        // 4. Evil root reusing the signed ID, the original after the signature as a sibling child.
        ("duplicate ID, original as child", evil("_orig", &format!("{sig}{unsigned_orig}"))),
        // 5. Evil root with the signed ID, the original's signature alone (content differs).
        ("same ID, changed content", evil("_orig", &sig)),
        // 6. Two signatures: the original plus a second one.
        (
            "two signatures",
            orig.replacen("</samlp:AuthnRequest>", &format!("{sig}</samlp:AuthnRequest>"), 1),
        ),
        // 7. Signature nested deeper than the root's children.
        (
            "signature inside Extensions",
            unsigned_orig.replacen(
                "</samlp:AuthnRequest>",
                &format!("<samlp:Extensions>{sig}</samlp:Extensions></samlp:AuthnRequest>"),
                1,
            ),
        ),
        // 8. Reference to the whole document.
        ("empty reference URI", orig.replace("URI=\"#_orig\"", "URI=\"\"")),
        // 9. An extra (XPath) transform.
        (
            "extra transform",
            orig.replace(
                "</ds:Transforms>",
                "<ds:Transform Algorithm=\"http://www.w3.org/TR/1999/REC-xpath-19991116\"/></ds:Transforms>",
            ),
        ),
        // 10. A second Reference.
        (
            "two references",
            orig.replacen(
                "</ds:SignedInfo>",
                "<ds:Reference URI=\"#_x\"><ds:Transforms/><ds:DigestMethod Algorithm=\"x\"/><ds:DigestValue>AA==</ds:DigestValue></ds:Reference></ds:SignedInfo>",
                1,
            ),
        ),
        // 11. The signed element's ID attribute duplicated under another name (Id) elsewhere.
        (
            "Id attribute elsewhere",
            orig.replacen(
                "<samlp:NameIDPolicy ",
                "<samlp:Extensions Id=\"_orig\"/><samlp:NameIDPolicy ",
                1,
            ),
        ),
    ];
    for (name, doc) in cases {
        let r = read(&doc, &certs);
        assert!(
            matches!(r, Err(Error::Wrapping(_) | Error::BadSignature(_))),
            "{name}: {r:?}"
        );
    }
}

#[test]
fn dtd_entities_and_size_are_refused_before_any_signature_work() {
    let (_, certs) = sp_key(KeyFamily::Rsa);
    let dtd = format!("<!DOCTYPE x [<!ENTITY e \"boom\">]>{}", authn_request("_d"));
    assert_eq!(read(&dtd, &certs).unwrap_err(), Error::Dtd);
    let xxe = format!(
        "<!DOCTYPE x [<!ENTITY e SYSTEM \"file:///etc/passwd\">]>{}",
        authn_request("_d")
    );
    assert_eq!(read(&xxe, &certs).unwrap_err(), Error::Dtd);
    let big = authn_request("_b").replace(
        "</samlp:AuthnRequest>",
        &format!("<!--{}--></samlp:AuthnRequest>", "x".repeat(70_000)),
    );
    assert_eq!(read(&big, &certs).unwrap_err(), Error::TooLarge);
    // A deflate bomb stops at the cap.
    let bomb = encode_redirect(&" ".repeat(5_000_000));
    assert_eq!(decode_redirect(&bomb, 64 * 1024), Err(Error::TooLarge));
}

#[test]
fn redirect_binding_signatures() {
    let (key, certs) = sp_key(KeyFamily::Rsa);
    let q = signed_redirect_query(
        "SAMLRequest",
        &authn_request("_r"),
        Some("state 1"),
        &key,
        SignatureAlg::RsaSha256,
    )
    .unwrap();
    let raw = RawQuery::parse(&q).unwrap();
    raw.verify("SAMLRequest", &certs).unwrap();
    let xml_back = decode_redirect(&raw.get("SAMLRequest").unwrap(), 64 * 1024).unwrap();
    assert!(xml_back.contains("_r"));
    assert_eq!(raw.get("RelayState").as_deref(), Some("state 1"));
    let changed = q.replace("RelayState=state", "RelayState=other");
    assert!(matches!(
        RawQuery::parse(&changed).unwrap().verify("SAMLRequest", &certs),
        Err(Error::BadSignature(_))
    ));
    let unsigned = q.split("&SigAlg").next().unwrap();
    assert_eq!(
        RawQuery::parse(unsigned).unwrap().verify("SAMLRequest", &certs),
        Err(Error::Unsigned)
    );
    assert!(RawQuery::parse(&format!("{q}&SAMLRequest=x")).is_err());
}

#[test]
fn signed_responses_verify_with_the_published_certificate() {
    let idp = SamlKey::generate(KeyFamily::Rsa, "idp", 1_800_000_000).unwrap().key;
    let certs = vec![TrustedCert::from_der(idp.cert_der()).unwrap()];
    let attrs = vec![Attribute {
        name: "groups".into(),
        friendly_name: None,
        name_format: response::ATTR_NAME_FORMAT_BASIC,
        values: vec!["a & b".into(), "<c>".into()],
    }];
    let a = Assertion {
        response_id: "_resp",
        assertion_id: "_assn",
        issuer: "https://idp/m/",
        acs_url: "https://sp/acs?x=1&y=2",
        in_response_to: Some("_req"),
        audience: "https://sp",
        name_id: "alice",
        name_id_format: crate::config::NAMEID_UNSPECIFIED,
        session_index: "_s",
        authn_instant: 1_800_000_000_000,
        authn_context: response::CLASS_PASSWORD_PROTECTED,
        session_not_on_or_after: None,
        attributes: &attrs,
        now: 1_800_000_000_000,
        valid_secs: 300,
    };
    let x = response::signed_response(&a, SignMode::Response, &idp, SignatureAlg::RsaSha256).unwrap();
    let doc = xml::parse(&x, Limits::default()).unwrap();
    dsig::verify_root(&doc, &certs).unwrap();
    let tampered = x.replace("alice", "admin");
    let doc = xml::parse(&tampered, Limits::default()).unwrap();
    assert!(dsig::verify_root(&doc, &certs).is_err());
    // Both: the assertion's signature sits right after its Issuer, the response's after its own.
    let both = response::signed_response(&a, SignMode::Both, &idp, SignatureAlg::RsaSha512).unwrap();
    assert_eq!(both.matches("<ds:Signature ").count(), 2);
    assert!(both.contains("</saml:Issuer><ds:Signature "));
}
