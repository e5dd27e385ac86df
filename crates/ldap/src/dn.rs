//! Distinguished names (RFC 4514): parsing with escapes, the normalised form
//! they are compared by (attribute types and values case-insensitively, as
//! `cn`, `uid`, `ou`, `dc` and `o` match), and the outpost's tree under a
//! base DN: `ou=users` and `ou=groups`, one entry per user and group.

use std::fmt;

/// One attribute-value assertion of an RDN, unescaped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ava {
    /// Lower-cased attribute type.
    pub attr: String,
    pub value: String,
}

/// A parsed DN: RDNs from the leaf up, and the normalised text. Two DNs are
/// equal when their normalised texts are.
#[derive(Debug, Clone)]
pub struct Dn {
    rdns: Vec<Vec<Ava>>,
    normalized: String,
}

impl PartialEq for Dn {
    fn eq(&self, other: &Dn) -> bool {
        self.normalized == other.normalized
    }
}

impl Eq for Dn {}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid DN syntax")]
pub struct DnError;

impl Dn {
    /// The empty DN (the root DSE).
    pub fn root() -> Dn {
        Dn {
            rdns: Vec::new(),
            normalized: String::new(),
        }
    }

    pub fn parse(text: &str) -> Result<Dn, DnError> {
        let text = text.trim();
        if text.is_empty() {
            return Ok(Dn::root());
        }
        let mut rdns = Vec::new();
        let mut chars = text.chars().peekable();
        loop {
            let mut rdn = Vec::new();
            loop {
                let attr = parse_type(&mut chars)?;
                let value = parse_value(&mut chars)?;
                rdn.push(Ava { attr, value });
                match chars.next() {
                    Some('+') => continue,
                    Some(',') | Some(';') => break,
                    None => {
                        rdns.push(rdn);
                        return Ok(Dn::from_rdns(rdns));
                    }
                    Some(_) => return Err(DnError),
                }
            }
            rdns.push(rdn);
        }
    }

    fn from_rdns(mut rdns: Vec<Vec<Ava>>) -> Dn {
        for rdn in &mut rdns {
            rdn.sort_by(|a, b| (&a.attr, a.value.to_lowercase()).cmp(&(&b.attr, b.value.to_lowercase())));
        }
        let normalized = rdns
            .iter()
            .map(|rdn| {
                rdn.iter()
                    .map(|a| format!("{}={}", a.attr, escape_value(&a.value.to_lowercase())))
                    .collect::<Vec<_>>()
                    .join("+")
            })
            .collect::<Vec<_>>()
            .join(",");
        Dn { rdns, normalized }
    }

    pub fn is_root(&self) -> bool {
        self.rdns.is_empty()
    }

    /// The form DNs are compared by: lower case, canonical escapes, no spaces.
    pub fn normalized(&self) -> &str {
        &self.normalized
    }

    pub fn len(&self) -> usize {
        self.rdns.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rdns.is_empty()
    }

    /// The leaf RDN when it is a single assertion.
    pub fn leaf(&self) -> Option<&Ava> {
        match self.rdns.first().map(Vec::as_slice) {
            Some([ava]) => Some(ava),
            _ => None,
        }
    }

    /// The DN without its leaf RDN.
    pub fn parent(&self) -> Dn {
        Dn::from_rdns(self.rdns.iter().skip(1).cloned().collect())
    }

    /// Whether `self` is `other` or lies below it.
    pub fn is_within(&self, other: &Dn) -> bool {
        let (mine, theirs) = (self.normalized.as_str(), other.normalized.as_str());
        theirs.is_empty()
            || mine == theirs
            || (mine.len() > theirs.len() && mine.ends_with(theirs) && mine[..mine.len() - theirs.len()].ends_with(','))
    }
}

impl fmt::Display for Dn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.normalized)
    }
}

type Chars<'a> = std::iter::Peekable<std::str::Chars<'a>>;

fn skip_spaces(chars: &mut Chars<'_>) {
    while chars.peek() == Some(&' ') {
        chars.next();
    }
}

fn parse_type(chars: &mut Chars<'_>) -> Result<String, DnError> {
    skip_spaces(chars);
    let mut attr = String::new();
    while let Some(&c) = chars.peek() {
        if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
            attr.push(c.to_ascii_lowercase());
            chars.next();
        } else {
            break;
        }
    }
    skip_spaces(chars);
    let first = attr.chars().next().ok_or(DnError)?;
    // A descriptor starts with a letter; a numeric OID is digits and dots.
    let valid = if first.is_ascii_alphabetic() {
        !attr.contains('.')
    } else {
        attr.chars().all(|c| c.is_ascii_digit() || c == '.') && !attr.ends_with('.')
    };
    if !valid || chars.next() != Some('=') {
        return Err(DnError);
    }
    Ok(attr)
}

fn hex(c: char) -> Option<u8> {
    c.to_digit(16).and_then(|d| u8::try_from(d).ok())
}

fn parse_value(chars: &mut Chars<'_>) -> Result<String, DnError> {
    skip_spaces(chars);
    let mut bytes: Vec<u8> = Vec::new();
    // Spaces after the last character that was not a plain space are trailing.
    let mut keep = 0;
    while let Some(&c) = chars.peek() {
        match c {
            ',' | '+' | ';' => break,
            '\\' => {
                chars.next();
                let next = chars.next().ok_or(DnError)?;
                if let Some(high) = hex(next) {
                    let low = chars.next().and_then(hex).ok_or(DnError)?;
                    bytes.push(high << 4 | low);
                } else if " \"#+,;<=>\\".contains(next) {
                    let mut buf = [0u8; 4];
                    bytes.extend_from_slice(next.encode_utf8(&mut buf).as_bytes());
                } else {
                    return Err(DnError);
                }
                keep = bytes.len();
            }
            '"' | '<' | '>' | '\0' => return Err(DnError),
            _ => {
                chars.next();
                let mut buf = [0u8; 4];
                bytes.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                if c != ' ' {
                    keep = bytes.len();
                }
            }
        }
    }
    bytes.truncate(keep);
    String::from_utf8(bytes).map_err(|_| DnError)
}

/// Escapes an attribute value for a DN string (RFC 4514 §2.4).
pub fn escape_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let last = value.chars().count().saturating_sub(1);
    for (i, c) in value.chars().enumerate() {
        match c {
            '"' | '+' | ',' | ';' | '<' | '>' | '\\' | '=' => {
                out.push('\\');
                out.push(c);
            }
            '#' if i == 0 => out.push_str("\\#"),
            ' ' if i == 0 || i == last => out.push_str("\\ "),
            '\0' => out.push_str("\\00"),
            c => out.push(c),
        }
    }
    out
}

/// Where a DN falls in one application's tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    Base,
    Users,
    Groups,
    /// `cn=<name>,ou=users,<base>` (the name as written in the DN).
    User(String),
    Group(String),
    /// Under the base, but not a place the tree has.
    Missing,
    /// Not under the base at all.
    Outside,
}

/// One application's tree: the base DN as configured and its two branches.
#[derive(Debug, Clone)]
pub struct Tree {
    base: Dn,
    /// The base DN as the operator wrote it, for the DNs we hand out.
    base_text: String,
    users: Dn,
    groups: Dn,
}

impl Tree {
    pub fn new(base: Dn, base_text: &str) -> Tree {
        let join = |ou: &str| Dn::parse(&format!("{ou},{}", base.normalized())).unwrap_or_else(|_| Dn::root());
        Tree {
            users: join("ou=users"),
            groups: join("ou=groups"),
            base,
            base_text: base_text.trim().to_string(),
        }
    }

    pub fn base(&self) -> &Dn {
        &self.base
    }

    pub fn base_text(&self) -> &str {
        &self.base_text
    }

    pub fn users_dn(&self) -> String {
        format!("ou=users,{}", self.base_text)
    }

    pub fn groups_dn(&self) -> String {
        format!("ou=groups,{}", self.base_text)
    }

    pub fn user_dn(&self, username: &str) -> String {
        format!("cn={},ou=users,{}", escape_value(username), self.base_text)
    }

    pub fn group_dn(&self, name: &str) -> String {
        format!("cn={},ou=groups,{}", escape_value(name), self.base_text)
    }

    pub fn classify(&self, dn: &Dn) -> Node {
        if !dn.is_within(&self.base) {
            return Node::Outside;
        }
        let depth = dn.len() - self.base.len();
        let parent = dn.parent();
        match (depth, dn.leaf()) {
            (0, _) => Node::Base,
            (1, _) if dn.normalized() == self.users.normalized() => Node::Users,
            (1, _) if dn.normalized() == self.groups.normalized() => Node::Groups,
            (2, Some(ava)) if ava.attr == "cn" && parent.normalized() == self.users.normalized() => {
                Node::User(ava.value.clone())
            }
            (2, Some(ava)) if ava.attr == "cn" && parent.normalized() == self.groups.normalized() => {
                Node::Group(ava.value.clone())
            }
            _ => Node::Missing,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_escapes_spaces_and_case() {
        let dn = Dn::parse("CN=Alice\\, Jr.,OU=Users , DC=ldap,dc=goauthentik,DC=io").unwrap();
        assert_eq!(dn.normalized(), "cn=alice\\, jr.,ou=users,dc=ldap,dc=goauthentik,dc=io");
        assert_eq!(dn.leaf().unwrap().value, "Alice, Jr.");
        let hexed = Dn::parse("cn=Alice\\2C Jr.,ou=users,dc=ldap,dc=goauthentik,dc=io").unwrap();
        assert_eq!(hexed, dn);
        assert_eq!(Dn::parse("cn=a\\ ,dc=x").unwrap().leaf().unwrap().value, "a ");
        assert_eq!(Dn::parse("cn=a  ,dc=x").unwrap().leaf().unwrap().value, "a");
        assert!(Dn::parse("").unwrap().is_root());
        assert_eq!(
            Dn::parse("cn=b+uid=a,dc=x").unwrap(),
            Dn::parse("uid=A+cn=B,dc=X").unwrap()
        );
        assert_eq!(Dn::parse("2.5.4.3=x,dc=y").unwrap().leaf().unwrap().attr, "2.5.4.3");
    }

    #[test]
    fn refuses_malformed() {
        for bad in [
            "cn",
            "=x",
            "cn=a,",
            "cn=a\\",
            "cn=a\\zz",
            "cn=a\\4",
            "1cn=a",
            "c n=a",
            "cn=a<b",
            "cn=a,,dc=x",
            "cn=\"q\"",
            "cn=\\ff\\fe",
        ] {
            assert_eq!(Dn::parse(bad), Err(DnError), "{bad}");
        }
    }

    #[test]
    fn escaping_round_trips() {
        for v in [
            "a,b",
            " lead",
            "trail ",
            "#hash",
            "x+y=z",
            "back\\slash",
            "<>;\"",
            "ünï",
        ] {
            let dn = Dn::parse(&format!("cn={},dc=x", escape_value(v))).unwrap();
            assert_eq!(dn.leaf().unwrap().value, v);
        }
    }

    #[test]
    fn tree_places() {
        let base = Dn::parse("DC=ldap,DC=goauthentik,DC=io").unwrap();
        let tree = Tree::new(base, "DC=ldap,DC=goauthentik,DC=io");
        let at = |s: &str| tree.classify(&Dn::parse(s).unwrap());
        assert_eq!(at("dc=LDAP,dc=goauthentik,dc=io"), Node::Base);
        assert_eq!(at("ou=Users,dc=ldap,dc=goauthentik,dc=io"), Node::Users);
        assert_eq!(at("ou=groups,dc=ldap,dc=goauthentik,dc=io"), Node::Groups);
        assert_eq!(
            at("cn=Bob,ou=users,dc=ldap,dc=goauthentik,dc=io"),
            Node::User("Bob".into())
        );
        assert_eq!(
            at("CN=ops,OU=groups,dc=ldap,dc=goauthentik,dc=io"),
            Node::Group("ops".into())
        );
        assert_eq!(at("uid=bob,ou=users,dc=ldap,dc=goauthentik,dc=io"), Node::Missing);
        assert_eq!(at("cn=x,cn=bob,ou=users,dc=ldap,dc=goauthentik,dc=io"), Node::Missing);
        assert_eq!(at("dc=goauthentik,dc=io"), Node::Outside);
        assert_eq!(at("dc=xldap,dc=goauthentik,dc=io"), Node::Outside);
        assert_eq!(tree.user_dn("a,b"), "cn=a\\,b,ou=users,DC=ldap,DC=goauthentik,DC=io");
    }
}
