//! Writes the fuzz seed corpus: signed and unsigned AuthnRequest and
//! LogoutRequest documents, a signed Redirect-binding query, and the
//! certificate the fuzz target trusts.
//! `cargo run -p gatehouse-saml --example saml_fuzz_seeds -- crates/saml/fuzz`

use gatehouse_saml::binding::{encode_post, signed_redirect_query};
use gatehouse_saml::dsig::sign_element;
use gatehouse_saml::{KeyFamily, SamlKey, SignatureAlg};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args().nth(1).unwrap_or_else(|| "crates/saml/fuzz".into());
    let corpus = format!("{dir}/corpus/saml_messages");
    std::fs::create_dir_all(&corpus)?;
    let key = SamlKey::generate(KeyFamily::Rsa, "fuzz seed", 1_800_000_000)?.key;
    std::fs::write(format!("{dir}/seed_cert.pem"), key.cert_pem())?;
    let authn = "<samlp:AuthnRequest xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\" \
        xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\" ID=\"_a1\" Version=\"2.0\" \
        IssueInstant=\"2026-11-29T05:00:00Z\" Destination=\"https://idp/application/saml/x/sso/binding/post/\" \
        AssertionConsumerServiceURL=\"https://sp/acs\" ProtocolBinding=\"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST\">\
        <saml:Issuer>https://sp</saml:Issuer><samlp:NameIDPolicy Format=\"urn:oasis:names:tc:SAML:2.0:nameid-format:persistent\" \
        AllowCreate=\"true\"/></samlp:AuthnRequest>";
    let logout = "<samlp:LogoutRequest xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\" \
        xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\" ID=\"_l1\" Version=\"2.0\" \
        IssueInstant=\"2026-11-29T05:00:00Z\"><saml:Issuer>https://sp</saml:Issuer>\
        <saml:NameID Format=\"urn:oasis:names:tc:SAML:2.0:nameid-format:transient\">_n</saml:NameID>\
        <samlp:SessionIndex>_s</samlp:SessionIndex></samlp:LogoutRequest>";
    let signed_authn = sign_element(authn, "_a1", &key, SignatureAlg::RsaSha256)?;
    let signed_logout = sign_element(logout, "_l1", &key, SignatureAlg::RsaSha512)?;
    let files = [
        ("authn.xml", authn.to_string()),
        ("logout.xml", logout.to_string()),
        ("authn_signed.xml", signed_authn.clone()),
        ("logout_signed.xml", signed_logout),
        ("authn_post.b64", encode_post(&signed_authn)),
        (
            "authn_redirect.query",
            signed_redirect_query("SAMLRequest", authn, Some("rs"), &key, SignatureAlg::RsaSha256)?,
        ),
    ];
    for (name, body) in files {
        std::fs::write(format!("{corpus}/{name}"), body)?;
    }
    Ok(())
}
