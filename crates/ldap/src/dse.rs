//! The entries that are not users or groups: the root DSE clients probe
//! before anything else (RFC 4512 §5.1), the subschema subentry (§4.2), each
//! tree's base entry and its `ou=users` / `ou=groups` containers.

use crate::dn::{Dn, Tree};
use crate::entry::Entry;

pub const OID_PAGED_RESULTS: &str = "1.2.840.113556.1.4.319";
pub const OID_WHOAMI: &str = "1.3.6.1.4.1.4203.1.11.3";
pub const OID_START_TLS: &str = "1.3.6.1.4.1.1466.20037";
/// RFC 4511 §4.4.1: the unsolicited notice that ends a connection.
pub const OID_NOTICE_OF_DISCONNECTION: &str = "1.3.6.1.4.1.1466.20036";
pub const SUBSCHEMA_DN: &str = "cn=subschema";

pub fn root_dse(naming_contexts: &[String]) -> Entry {
    let mut e = Entry::new(String::new());
    e.put("objectClass", ["top", "extensibleObject"]);
    e.put("namingContexts", naming_contexts.iter().cloned());
    e.put("supportedLDAPVersion", ["3"]);
    e.put("supportedControl", [OID_PAGED_RESULTS]);
    e.put("supportedExtension", [OID_WHOAMI, OID_START_TLS]);
    e.put(
        "supportedFeatures",
        ["1.3.6.1.4.1.4203.1.5.1", "1.3.6.1.4.1.4203.1.5.3"],
    );
    e.put("supportedSASLMechanisms", std::iter::empty::<String>());
    e.put("vendorName", ["Gatehouse"]);
    e.put("vendorVersion", [concat!("gatehouse/", env!("CARGO_PKG_VERSION"))]);
    // The root DSE's attributes are all returned for `*`: clients ask for it.
    e.put("subschemaSubentry", [SUBSCHEMA_DN]);
    e
}

/// The schema of what Gatehouse serves, in RFC 4512 notation.
const ATTRIBUTE_TYPES: &[&str] = &[
    "( 2.5.4.0 NAME 'objectClass' EQUALITY objectIdentifierMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.38 )",
    "( 2.5.4.3 NAME ( 'cn' 'commonName' ) EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 )",
    "( 0.9.2342.19200300.100.1.1 NAME ( 'uid' 'userid' ) EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 )",
    "( 0.9.2342.19200300.100.1.3 NAME ( 'mail' 'rfc822Mailbox' ) EQUALITY caseIgnoreIA5Match SUBSTR caseIgnoreIA5SubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.26 )",
    "( 2.5.4.4 NAME ( 'sn' 'surname' ) EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 )",
    "( 2.5.4.42 NAME ( 'givenName' 'gn' ) EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 )",
    "( 2.16.840.1.113730.3.1.241 NAME 'displayName' EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE )",
    "( 1.2.840.113556.1.4.1 NAME 'name' EQUALITY caseIgnoreMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE )",
    "( 1.2.840.113556.1.4.221 NAME 'sAMAccountName' EQUALITY caseIgnoreMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE )",
    "( 1.2.840.113556.1.2.102 NAME 'memberOf' EQUALITY distinguishedNameMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.12 )",
    "( 2.5.4.31 NAME 'member' EQUALITY distinguishedNameMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.12 )",
    "( 1.3.6.1.1.1.1.12 NAME 'memberUid' EQUALITY caseExactIA5Match SYNTAX 1.3.6.1.4.1.1466.115.121.1.26 )",
    "( 1.3.6.1.1.1.1.0 NAME 'uidNumber' EQUALITY integerMatch ORDERING integerOrderingMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.27 SINGLE-VALUE )",
    "( 1.3.6.1.1.1.1.1 NAME 'gidNumber' EQUALITY integerMatch ORDERING integerOrderingMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.27 SINGLE-VALUE )",
    "( 1.3.6.1.1.1.1.3 NAME 'homeDirectory' EQUALITY caseExactIA5Match SYNTAX 1.3.6.1.4.1.1466.115.121.1.26 SINGLE-VALUE )",
    "( 1.3.6.1.1.1.1.4 NAME 'loginShell' EQUALITY caseExactIA5Match SYNTAX 1.3.6.1.4.1.1466.115.121.1.26 SINGLE-VALUE )",
    "( 1.3.6.1.4.1.62230.1.1 NAME 'ak-active' EQUALITY caseIgnoreMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE )",
    "( 1.3.6.1.4.1.62230.1.2 NAME 'ak-superuser' EQUALITY caseIgnoreMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE )",
    "( 1.3.6.1.1.16.4 NAME 'entryUUID' EQUALITY UUIDMatch SYNTAX 1.3.6.1.1.16.1 SINGLE-VALUE NO-USER-MODIFICATION USAGE directoryOperation )",
    "( 1.3.6.1.1.20 NAME 'entryDN' EQUALITY distinguishedNameMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.12 SINGLE-VALUE NO-USER-MODIFICATION USAGE directoryOperation )",
];

const OBJECT_CLASSES: &[&str] = &[
    "( 2.5.6.0 NAME 'top' ABSTRACT MUST objectClass )",
    "( 2.5.6.6 NAME 'person' SUP top STRUCTURAL MUST ( sn $ cn ) )",
    "( 2.5.6.7 NAME 'organizationalPerson' SUP person STRUCTURAL )",
    "( 2.16.840.1.113730.3.2.2 NAME 'inetOrgPerson' SUP organizationalPerson STRUCTURAL MAY ( mail $ uid $ givenName $ displayName ) )",
    "( 1.2.840.113556.1.5.9 NAME 'user' SUP organizationalPerson STRUCTURAL MAY ( sAMAccountName $ name $ memberOf ) )",
    "( 1.3.6.1.1.1.2.0 NAME 'posixAccount' SUP top AUXILIARY MUST ( cn $ uid $ uidNumber $ gidNumber $ homeDirectory ) MAY loginShell )",
    "( 2.5.6.9 NAME 'groupOfNames' SUP top STRUCTURAL MUST cn MAY member )",
    "( 1.3.6.1.1.1.2.2 NAME 'posixGroup' SUP top AUXILIARY MUST ( cn $ gidNumber ) MAY memberUid )",
    "( 1.3.6.1.4.1.62230.2.1 NAME 'goauthentik.io/ldap/user' SUP top AUXILIARY MAY ( ak-active $ ak-superuser ) )",
    "( 1.3.6.1.4.1.62230.2.2 NAME 'goauthentik.io/ldap/group' SUP top AUXILIARY MAY ak-superuser )",
    "( 2.5.6.5 NAME 'organizationalUnit' SUP top STRUCTURAL MUST ou )",
    "( 1.3.6.1.4.1.1466.344 NAME 'dcObject' SUP top AUXILIARY MUST dc )",
];

pub fn subschema() -> Entry {
    let mut e = Entry::new(SUBSCHEMA_DN.to_string());
    e.put("objectClass", ["top", "subentry", "subschema", "extensibleObject"]);
    e.put("cn", ["subschema"]);
    e.put("attributeTypes", ATTRIBUTE_TYPES.iter().copied());
    e.put("objectClasses", OBJECT_CLASSES.iter().copied());
    e
}

/// The entry at the base DN: a `dcObject` or `organizationalUnit` named
/// after its leaf.
pub fn base_entry(tree: &Tree) -> Entry {
    let mut e = Entry::new(tree.base_text().to_string());
    let leaf = Dn::parse(tree.base_text()).ok().and_then(|d| d.leaf().cloned());
    match leaf {
        Some(ava) if ava.attr == "dc" => {
            e.put("objectClass", ["top", "dcObject", "organization"]);
            e.put("dc", [ava.value.clone()]);
            e.put("o", [ava.value]);
        }
        Some(ava) if ava.attr == "ou" => {
            e.put("objectClass", ["top", "organizationalUnit"]);
            e.put("ou", [ava.value]);
        }
        Some(ava) => {
            e.put("objectClass", ["top", "extensibleObject"]);
            e.put(&ava.attr, [ava.value]);
        }
        None => e.put("objectClass", ["top"]),
    }
    e.put_operational("hasSubordinates", ["TRUE"]);
    e
}

pub fn container(dn: &str, ou: &str) -> Entry {
    let mut e = Entry::new(dn.to_string());
    e.put("objectClass", ["top", "organizationalUnit"]);
    e.put("ou", [ou]);
    e.put_operational("hasSubordinates", ["TRUE"]);
    e
}
