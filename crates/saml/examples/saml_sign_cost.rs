//! The cost of signing one SAML response (build, canonicalise, digest, sign),
//! per algorithm and mode, on one core: `saml_sign_cost [ITERATIONS]`.
//! Prints `alg mode microseconds-per-response` lines.

use std::time::Instant;

use gatehouse_saml::response::{self, Assertion, SignMode};
use gatehouse_saml::{SamlKey, SignatureAlg};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n: u32 = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(500);
    let groups = vec!["staff".to_string(), "engineering".to_string()];
    let attrs = response::standard_attributes("alice", "alice@example.com", "Alice", &"a".repeat(64), &groups);
    for alg in [
        SignatureAlg::RsaSha256,
        SignatureAlg::RsaSha512,
        SignatureAlg::EcdsaSha256,
    ] {
        let key = SamlKey::generate(alg.family(), "bench", 1_800_000_000)?.key;
        for mode in [SignMode::Assertion, SignMode::Both] {
            let a = Assertion {
                response_id: "_r0123456789abcdef0123456789abcdef01234567",
                assertion_id: "_a0123456789abcdef0123456789abcdef01234567",
                issuer: "https://auth.example.com/application/saml/app/metadata/",
                acs_url: "https://sp.example.com/saml/acs",
                in_response_to: Some("_req0123456789"),
                audience: "https://sp.example.com/metadata",
                name_id: "_0123456789abcdef0123456789abcdef01234567",
                name_id_format: gatehouse_saml::config::NAMEID_PERSISTENT,
                session_index: "_s0123456789abcdef",
                authn_instant: 1_800_000_000_000,
                authn_context: response::CLASS_PASSWORD_PROTECTED,
                session_not_on_or_after: Some(1_800_086_400_000),
                attributes: &attrs,
                now: 1_800_000_000_000,
                valid_secs: 300,
            };
            // Warm-up.
            for _ in 0..10 {
                response::signed_response(&a, mode, &key, alg)?;
            }
            let t = Instant::now();
            for _ in 0..n {
                std::hint::black_box(response::signed_response(&a, mode, &key, alg)?);
            }
            let us = t.elapsed().as_secs_f64() * 1e6 / f64::from(n);
            println!("{} {} {:.0}", alg.as_str(), mode.as_str(), us);
        }
    }
    Ok(())
}
