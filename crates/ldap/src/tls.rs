//! The certificate LDAPS and StartTLS present: from PEM files the operator
//! names, or generated once (ECDSA P-256, self-signed, ten years) and kept in
//! the database so every node presents the same one. rustls on aws-lc-rs.

use std::sync::Arc;

use rustls::ServerConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("no certificate in the PEM text")]
    NoCertificate,
    #[error("no private key in the PEM text")]
    NoKey,
    #[error("certificate and key do not fit together: {0}")]
    Config(String),
    #[error("cannot generate a certificate: {0}")]
    Generate(String),
}

/// A new self-signed certificate for `names` (DNS names or IP addresses),
/// as one PEM text: the certificate, then the PKCS#8 key.
pub fn generate_pem(names: &[String]) -> Result<String, TlsError> {
    let key = rcgen::KeyPair::generate().map_err(|e| TlsError::Generate(e.to_string()))?;
    let mut params = rcgen::CertificateParams::new(names.to_vec()).map_err(|e| TlsError::Generate(e.to_string()))?;
    let mut dn = rcgen::DistinguishedName::new();
    dn.push(
        rcgen::DnType::CommonName,
        names.first().map_or("gatehouse-ldap", String::as_str),
    );
    dn.push(rcgen::DnType::OrganizationName, "Gatehouse LDAP");
    params.distinguished_name = dn;
    let now = std::time::SystemTime::now();
    params.not_before = (now - std::time::Duration::from_secs(3600)).into();
    params.not_after = (now + std::time::Duration::from_secs(10 * 365 * 86_400)).into();
    let cert = params
        .self_signed(&key)
        .map_err(|e| TlsError::Generate(e.to_string()))?;
    Ok(format!("{}{}", cert.pem(), key.serialize_pem()))
}

/// Only the certificates of a PEM text (what `gatehouse ldap cert` prints).
pub fn certificates_pem(pem: &str) -> String {
    let mut out = String::new();
    let mut inside = false;
    for line in pem.lines() {
        if line.starts_with("-----BEGIN CERTIFICATE-----") {
            inside = true;
        }
        if inside {
            out.push_str(line);
            out.push('\n');
        }
        if line.starts_with("-----END CERTIFICATE-----") {
            inside = false;
        }
    }
    out
}

/// A rustls server configuration from PEM certificate chain and key.
pub fn server_config(cert_pem: &str, key_pem: &str) -> Result<Arc<ServerConfig>, TlsError> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert_pem.as_bytes())
        .filter_map(Result::ok)
        .collect();
    if certs.is_empty() {
        return Err(TlsError::NoCertificate);
    }
    let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).map_err(|_| TlsError::NoKey)?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Config(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| TlsError::Config(e.to_string()))?;
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_certificates_load() {
        let pem = generate_pem(&["localhost".into(), "127.0.0.1".into()]).unwrap();
        assert!(server_config(&pem, &pem).is_ok());
        let certs = certificates_pem(&pem);
        assert!(certs.starts_with("-----BEGIN CERTIFICATE-----") && !certs.contains("PRIVATE KEY"));
        assert!(matches!(server_config("", &pem), Err(TlsError::NoCertificate)));
        assert!(matches!(server_config(&certs, &certs), Err(TlsError::NoKey)));
    }
}
