//! Writes a signed sample response and its certificate (for `xmlsec1 --verify`
//! by hand): `cargo run -p gatehouse-saml --example sign_sample -- DIR [both|assertion|response] [alg]`.

use gatehouse_saml::response::{self, Assertion, Attribute, SignMode};
use gatehouse_saml::{SamlKey, SignatureAlg};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let dir = args.get(1).map(String::as_str).unwrap_or(".");
    let mode = match args.get(2).map(String::as_str) {
        Some("assertion") => SignMode::Assertion,
        Some("response") => SignMode::Response,
        _ => SignMode::Both,
    };
    let alg = match args.get(3).map(String::as_str) {
        Some("rsa-sha512") => SignatureAlg::RsaSha512,
        Some("ecdsa-sha256") => SignatureAlg::EcdsaSha256,
        _ => SignatureAlg::RsaSha256,
    };
    let key = SamlKey::generate(alg.family(), "sample", 1_800_000_000)?.key;
    let attrs = vec![Attribute {
        name: "http://schemas.xmlsoap.org/claims/Group".into(),
        friendly_name: Some("groups".into()),
        name_format: response::ATTR_NAME_FORMAT_URI,
        values: vec!["a & b".into(), "<c> \"d\"\r\n".into()],
    }];
    let a = Assertion {
        response_id: "_resp",
        assertion_id: "_assn",
        issuer: "https://idp/m/",
        acs_url: "https://sp/acs?x=1&y=2",
        in_response_to: Some("_req"),
        audience: "https://sp",
        name_id: "alice",
        name_id_format: gatehouse_saml::config::NAMEID_UNSPECIFIED,
        session_index: "_s",
        authn_instant: 1_800_000_000_000,
        authn_context: response::CLASS_PASSWORD_PROTECTED,
        session_not_on_or_after: None,
        attributes: &attrs,
        now: 1_800_000_000_000,
        valid_secs: 300,
    };
    let x = response::signed_response(&a, mode, &key, alg)?;
    std::fs::write(format!("{dir}/response.xml"), x)?;
    std::fs::write(format!("{dir}/cert.pem"), key.cert_pem())?;
    Ok(())
}
