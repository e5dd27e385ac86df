//! Enveloped XML-DSig over SAML messages: signing what Gatehouse builds, and
//! verifying what service providers send.
//!
//! Verification is deliberately narrow, which is what defeats signature
//! wrapping: the document has exactly one `Signature`, a direct child of the
//! root element; its one `Reference` points (by `URI="#id"`) at the root
//! element, and no other element of the document carries that id; the only
//! transforms are enveloped-signature then exclusive c14n; canonicalisation is
//! exclusive c14n; digest SHA-256/512; signature RSA-SHA256/512 or
//! ECDSA-SHA256 with a key configured for the SP (never the document's
//! `KeyInfo`). Callers then read the root element, i.e. exactly what was signed.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use roxmltree::{Document, Node};
use sha2::{Digest, Sha256, Sha512};

use crate::Error;
use crate::c14n::canonicalize;
use crate::keys::{SamlKey, SignatureAlg, TrustedCert};
use crate::xml::{self, Limits};

pub const DSIG_NS: &str = "http://www.w3.org/2000/09/xmldsig#";
pub const EXC_C14N: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";
pub const ENVELOPED: &str = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";
pub const SHA256: &str = "http://www.w3.org/2001/04/xmlenc#sha256";
pub const SHA512: &str = "http://www.w3.org/2001/04/xmlenc#sha512";

/// Signs a detached octet string (HTTP-Redirect binding), returning base64.
pub trait Signer {
    fn sign_octets(&self, alg: SignatureAlg, msg: &[u8]) -> Result<Vec<u8>, Error>;
    fn cert_b64(&self) -> &str;
}

impl Signer for SamlKey {
    fn sign_octets(&self, alg: SignatureAlg, msg: &[u8]) -> Result<Vec<u8>, Error> {
        self.sign(alg, msg)
    }
    fn cert_b64(&self) -> &str {
        SamlKey::cert_b64(self)
    }
}

/// Checks signatures with the SP's configured certificates.
pub trait Verifier {
    fn verify_octets(&self, alg: SignatureAlg, msg: &[u8], sig: &[u8]) -> bool;
}

impl Verifier for Vec<TrustedCert> {
    fn verify_octets(&self, alg: SignatureAlg, msg: &[u8], sig: &[u8]) -> bool {
        self.iter().any(|c| c.verify(alg, msg, sig))
    }
}

fn is_ds(n: &Node, local: &str) -> bool {
    n.is_element() && n.tag_name().namespace() == Some(DSIG_NS) && n.tag_name().name() == local
}

/// The value of an element's id attribute (`ID`, `Id` or `id`).
fn id_of<'a>(n: &Node<'a, '_>) -> Option<&'a str> {
    n.attributes()
        .find(|a| a.namespace().is_none() && matches!(a.name(), "ID" | "Id" | "id"))
        .map(|a| a.value())
}

/// Signs the element with `ID="id"` of our own document `xml`: inserts an
/// enveloped signature right after the element's `Issuer` child.
pub fn sign_element(xml: &str, id: &str, key: &dyn Signer, alg: SignatureAlg) -> Result<String, Error> {
    let limits = Limits {
        max_bytes: 16 * 1024 * 1024,
        max_depth: 64,
        max_nodes: u32::MAX,
    };
    let doc = xml::parse(xml, limits)?;
    let target = doc
        .descendants()
        .find(|n| n.is_element() && id_of(n) == Some(id))
        .ok_or_else(|| Error::Malformed(format!("no element with ID {id}")))?;
    let issuer = target
        .children()
        .find(|c| c.is_element() && c.tag_name().name() == "Issuer")
        .ok_or_else(|| Error::Malformed("signed element without Issuer".into()))?;
    let insert_at = issuer.range().end;
    let digest = STANDARD.encode(Sha256::digest(canonicalize(target, None, &[])?.as_bytes()));
    let signed_info = format!(
        "<ds:SignedInfo xmlns:ds=\"{DSIG_NS}\"><ds:CanonicalizationMethod Algorithm=\"{EXC_C14N}\"/>\
         <ds:SignatureMethod Algorithm=\"{}\"/><ds:Reference URI=\"#{}\"><ds:Transforms>\
         <ds:Transform Algorithm=\"{ENVELOPED}\"/><ds:Transform Algorithm=\"{EXC_C14N}\"/></ds:Transforms>\
         <ds:DigestMethod Algorithm=\"{SHA256}\"/><ds:DigestValue>{digest}</ds:DigestValue></ds:Reference>\
         </ds:SignedInfo>",
        alg.uri(),
        xml::attr(id),
    );
    let si_doc = xml::parse(&signed_info, limits)?;
    let si_c14n = canonicalize(si_doc.root_element(), None, &[])?;
    let sig = STANDARD.encode(key.sign_octets(alg, si_c14n.as_bytes())?);
    let signature = format!(
        "<ds:Signature xmlns:ds=\"{DSIG_NS}\">{signed_info}<ds:SignatureValue>{sig}</ds:SignatureValue>\
         <ds:KeyInfo><ds:X509Data><ds:X509Certificate>{}</ds:X509Certificate></ds:X509Data></ds:KeyInfo>\
         </ds:Signature>",
        key.cert_b64()
    );
    let mut out = String::with_capacity(xml.len() + signature.len());
    out.push_str(&xml[..insert_at]);
    out.push_str(&signature);
    out.push_str(&xml[insert_at..]);
    Ok(out)
}

/// Whether the document carries any XML signature.
pub fn has_signature(doc: &Document) -> bool {
    doc.descendants().any(|n| is_ds(&n, "Signature"))
}

fn single_child<'a, 'i>(n: Node<'a, 'i>, local: &str) -> Result<Node<'a, 'i>, Error> {
    let mut it = n.children().filter(|c| is_ds(c, local));
    let first = it.next().ok_or_else(|| Error::BadSignature(format!("no {local}")))?;
    if it.next().is_some() {
        return Err(Error::BadSignature(format!("more than one {local}")));
    }
    Ok(first)
}

fn alg_attr<'a>(n: Node<'a, '_>) -> &'a str {
    n.attribute("Algorithm").unwrap_or("")
}

fn prefix_list<'a>(transform: Node<'a, '_>) -> Vec<&'a str> {
    transform
        .children()
        .find(|c| c.is_element() && c.tag_name().name() == "InclusiveNamespaces")
        .and_then(|c| c.attribute("PrefixList"))
        .map(|l| l.split_whitespace().collect())
        .unwrap_or_default()
}

fn b64_decode(text: &str) -> Result<Vec<u8>, Error> {
    let clean: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    STANDARD
        .decode(clean.as_bytes())
        .map_err(|_| Error::BadSignature("not base64".into()))
}

/// Verifies the enveloped signature of the document's root element (see the
/// module documentation for every rule). `Err(Error::Unsigned)` when the
/// document has no signature at all.
pub fn verify_root(doc: &Document, certs: &dyn Verifier) -> Result<(), Error> {
    let root = doc.root_element();
    let sigs: Vec<Node> = doc.descendants().filter(|n| is_ds(n, "Signature")).collect();
    let sig = match sigs.as_slice() {
        [] => return Err(Error::Unsigned),
        [one] => *one,
        _ => return Err(Error::Wrapping("more than one Signature")),
    };
    if sig.parent() != Some(root) {
        return Err(Error::Wrapping("the Signature is not a child of the message"));
    }
    let root_id = id_of(&root).ok_or(Error::Wrapping("the message has no ID"))?;
    let holders = doc
        .descendants()
        .filter(|n| n.is_element() && id_of(n) == Some(root_id))
        .count();
    if holders != 1 {
        return Err(Error::Wrapping("more than one element with the signed ID"));
    }
    let signed_info = single_child(sig, "SignedInfo")?;
    if sig.first_element_child() != Some(signed_info) {
        return Err(Error::BadSignature("SignedInfo is not first".into()));
    }
    let mut parts = signed_info.children().filter(|c| c.is_element());
    let (Some(cm), Some(sm), Some(reference), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(Error::BadSignature(
            "SignedInfo must hold one method pair and one Reference".into(),
        ));
    };
    if !is_ds(&cm, "CanonicalizationMethod") || alg_attr(cm) != EXC_C14N {
        return Err(Error::BadSignature("canonicalisation must be exclusive c14n".into()));
    }
    if !is_ds(&sm, "SignatureMethod") {
        return Err(Error::BadSignature("no SignatureMethod".into()));
    }
    let alg = SignatureAlg::from_uri(alg_attr(sm))
        .ok_or_else(|| Error::BadSignature(format!("signature algorithm {} not accepted", alg_attr(sm))))?;
    if !is_ds(&reference, "Reference") {
        return Err(Error::BadSignature("no Reference".into()));
    }
    let uri = reference.attribute("URI").unwrap_or("");
    if uri.strip_prefix('#') != Some(root_id) {
        return Err(Error::Wrapping("the Reference does not point at the message"));
    }
    let mut rparts = reference.children().filter(|c| c.is_element());
    let (Some(transforms), Some(dm), Some(dv), None) = (rparts.next(), rparts.next(), rparts.next(), rparts.next())
    else {
        return Err(Error::BadSignature(
            "Reference must hold Transforms, DigestMethod, DigestValue".into(),
        ));
    };
    if !is_ds(&transforms, "Transforms") || !is_ds(&dm, "DigestMethod") || !is_ds(&dv, "DigestValue") {
        return Err(Error::BadSignature(
            "Reference must hold Transforms, DigestMethod, DigestValue".into(),
        ));
    }
    let ts: Vec<Node> = transforms.children().filter(|c| c.is_element()).collect();
    let [t1, t2] = ts.as_slice() else {
        return Err(Error::BadSignature(
            "transforms must be enveloped-signature then exclusive c14n".into(),
        ));
    };
    if !is_ds(t1, "Transform") || alg_attr(*t1) != ENVELOPED || !is_ds(t2, "Transform") || alg_attr(*t2) != EXC_C14N {
        return Err(Error::BadSignature(
            "transforms must be enveloped-signature then exclusive c14n".into(),
        ));
    }
    let canonical = canonicalize(root, Some(sig.id()), &prefix_list(*t2))?;
    let computed: Vec<u8> = match alg_attr(dm) {
        SHA256 => Sha256::digest(canonical.as_bytes()).to_vec(),
        SHA512 => Sha512::digest(canonical.as_bytes()).to_vec(),
        other => return Err(Error::BadSignature(format!("digest {other} not accepted"))),
    };
    let expected = b64_decode(&xml::text_of(dv))?;
    if !crate::ct_eq(&computed, &expected) {
        return Err(Error::BadSignature("digest mismatch".into()));
    }
    let sv = single_child(sig, "SignatureValue")?;
    let sig_bytes = b64_decode(&xml::text_of(sv))?;
    let si = canonicalize(signed_info, None, &prefix_list(cm))?;
    if !certs.verify_octets(alg, si.as_bytes(), &sig_bytes) {
        return Err(Error::BadSignature("signature value does not verify".into()));
    }
    Ok(())
}
