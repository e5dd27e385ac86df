//! Search filters (RFC 4511 §4.5.1.7) evaluated over an entry, with the
//! three-valued logic the RFC asks for: an assertion on an attribute type the
//! schema does not know, or with a value the rule cannot read, is *undefined*,
//! and `!` of undefined stays undefined. Values compare by each attribute's
//! matching rule (see [`crate::entry::matching_of`]); approximate match is
//! equality.

use ldap3_proto::proto::{LdapFilter, LdapMatchingRuleAssertion, LdapSubstringFilter};

use crate::entry::{Entry, Matching, attribute_key, is_schema_attribute, matching_of, normalize};

/// AD's LDAP_MATCHING_RULE_IN_CHAIN: `memberOf` here already holds the groups
/// a user is in through nesting, so it is plain equality.
const IN_CHAIN: &str = "1.2.840.113556.1.4.1941";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Truth {
    True,
    False,
    Undefined,
}

impl Truth {
    fn from_bool(b: bool) -> Truth {
        if b { Truth::True } else { Truth::False }
    }

    pub fn is_true(self) -> bool {
        self == Truth::True
    }
}

pub fn matches(filter: &LdapFilter, entry: &Entry) -> bool {
    evaluate(filter, entry).is_true()
}

pub fn evaluate(filter: &LdapFilter, entry: &Entry) -> Truth {
    Compiled::new(filter).evaluate(entry)
}

/// Whether `entry` has `attr` equal to `value` (compare, RFC 4511 §4.10).
pub fn equality(entry: &Entry, attr: &str, value: &str) -> Truth {
    Compiled::equality(attr, value).evaluate(entry)
}

/// A filter with its attribute names resolved and its values normalised by
/// each attribute's rule once, so evaluating it over many entries allocates
/// nothing.
#[derive(Debug, Clone)]
pub enum Compiled {
    And(Vec<Compiled>),
    Or(Vec<Compiled>),
    Not(Box<Compiled>),
    /// `value: None`: the rule cannot read the asserted value.
    Equality {
        key: String,
        value: Option<String>,
    },
    Present {
        key: String,
    },
    Substring {
        key: String,
        pieces: Option<Pieces>,
    },
    /// `>=` (`greater`) or `<=`.
    Ordering {
        key: String,
        value: Option<String>,
        greater: bool,
    },
    /// An assertion no rule here can decide.
    Undefined,
}

/// The parts of a substring assertion, as the attribute's rule compares them.
#[derive(Debug, Clone)]
pub struct Pieces {
    initial: Option<String>,
    any: Vec<String>,
    final_: Option<String>,
}

impl Compiled {
    pub fn new(filter: &LdapFilter) -> Compiled {
        match filter {
            LdapFilter::And(parts) => Compiled::And(parts.iter().map(Compiled::new).collect()),
            LdapFilter::Or(parts) => Compiled::Or(parts.iter().map(Compiled::new).collect()),
            LdapFilter::Not(inner) => Compiled::Not(Box::new(Compiled::new(inner))),
            LdapFilter::Equality(attr, value) | LdapFilter::Approx(attr, value) => Compiled::equality(attr, value),
            LdapFilter::Present(attr) => Compiled::Present {
                key: attribute_key(attr),
            },
            LdapFilter::Substring(attr, sub) => Compiled::substring(attr, sub),
            LdapFilter::GreaterOrEqual(attr, value) => Compiled::ordering(attr, value, true),
            LdapFilter::LessOrEqual(attr, value) => Compiled::ordering(attr, value, false),
            LdapFilter::Extensible(rule) => Compiled::extensible(rule),
        }
    }

    fn equality(attr: &str, value: &str) -> Compiled {
        let key = attribute_key(attr);
        let value = normalize(matching_of(&key), value);
        Compiled::Equality { key, value }
    }

    fn substring(attr: &str, sub: &LdapSubstringFilter) -> Compiled {
        let key = attribute_key(attr);
        let matching = matching_of(&key);
        // Pieces are normalised like values, but their edges keep their spaces.
        let piece = |s: &str| match matching {
            Matching::CaseIgnore | Matching::Dn => s.to_lowercase(),
            _ => s.to_string(),
        };
        let pieces = (matching != Matching::Integer).then(|| Pieces {
            initial: sub.initial.as_deref().map(piece),
            any: sub.any.iter().map(|s| piece(s)).collect(),
            final_: sub.final_.as_deref().map(piece),
        });
        Compiled::Substring { key, pieces }
    }

    fn ordering(attr: &str, value: &str, greater: bool) -> Compiled {
        let key = attribute_key(attr);
        let matching = matching_of(&key);
        let value = (matching != Matching::Dn).then(|| normalize(matching, value)).flatten();
        Compiled::Ordering { key, value, greater }
    }

    fn extensible(rule: &LdapMatchingRuleAssertion) -> Compiled {
        let Some(attr) = rule.type_.as_deref() else {
            return Compiled::Undefined;
        };
        let equality_rule = match rule.matching_rule.as_deref() {
            None => true,
            Some(r) => {
                let r = r.to_ascii_lowercase();
                r == IN_CHAIN
                    || matches!(
                        (r.as_str(), matching_of(&attribute_key(attr))),
                        ("caseignorematch" | "2.5.13.2", Matching::CaseIgnore)
                            | ("caseexactmatch" | "2.5.13.5", Matching::CaseExact)
                            | ("integermatch" | "2.5.13.14", Matching::Integer)
                            | ("distinguishednamematch" | "2.5.13.1", Matching::Dn)
                    )
            }
        };
        if equality_rule {
            Compiled::equality(attr, &rule.match_value)
        } else {
            Compiled::Undefined
        }
    }

    pub fn matches(&self, entry: &Entry) -> bool {
        self.evaluate(entry).is_true()
    }

    pub fn evaluate(&self, entry: &Entry) -> Truth {
        match self {
            Compiled::And(parts) => {
                let mut out = Truth::True;
                for p in parts {
                    match p.evaluate(entry) {
                        Truth::False => return Truth::False,
                        Truth::Undefined => out = Truth::Undefined,
                        Truth::True => {}
                    }
                }
                out
            }
            Compiled::Or(parts) => {
                let mut out = Truth::False;
                for p in parts {
                    match p.evaluate(entry) {
                        Truth::True => return Truth::True,
                        Truth::Undefined => out = Truth::Undefined,
                        Truth::False => {}
                    }
                }
                out
            }
            Compiled::Not(inner) => match inner.evaluate(entry) {
                Truth::True => Truth::False,
                Truth::False => Truth::True,
                Truth::Undefined => Truth::Undefined,
            },
            Compiled::Present { key } => Truth::from_bool(key == "objectclass" || entry.has(key)),
            Compiled::Equality { key, value } => match (values(entry, key), value) {
                (Err(t), _) => t,
                (Ok(_), None) => Truth::Undefined,
                (Ok(vals), Some(wanted)) => Truth::from_bool(vals.iter().any(|v| **v == **wanted)),
            },
            Compiled::Substring { key, pieces } => match (values(entry, key), pieces) {
                (Err(t), _) => t,
                (Ok(_), None) => Truth::Undefined,
                (Ok(vals), Some(p)) => Truth::from_bool(vals.iter().any(|v| p.matches(v))),
            },
            Compiled::Ordering { key, value, greater } => match (values(entry, key), value) {
                (Err(t), _) => t,
                (Ok(_), None) => Truth::Undefined,
                (Ok(vals), Some(wanted)) => {
                    let integer = matching_of(key) == Matching::Integer;
                    Truth::from_bool(vals.iter().any(|v| {
                        let order = if integer {
                            match (v.parse::<i64>(), wanted.parse::<i64>()) {
                                (Ok(a), Ok(b)) => a.cmp(&b),
                                _ => return false,
                            }
                        } else {
                            (**v).cmp(wanted.as_str())
                        };
                        order == std::cmp::Ordering::Equal || (order == std::cmp::Ordering::Greater) == *greater
                    }))
                }
            },
            Compiled::Undefined => Truth::Undefined,
        }
    }
}

impl Pieces {
    fn matches(&self, value: &str) -> bool {
        let mut rest = value;
        if let Some(i) = &self.initial {
            match rest.strip_prefix(i.as_str()) {
                Some(r) => rest = r,
                None => return false,
            }
        }
        for a in &self.any {
            match rest.find(a.as_str()) {
                Some(at) => rest = &rest[at + a.len()..],
                None => return false,
            }
        }
        self.final_.as_deref().is_none_or(|f| rest.ends_with(f))
    }
}

/// The values of `key`, or the truth an absent attribute has: false for one
/// the schema defines, undefined for one it does not.
fn values<'e>(entry: &'e Entry, key: &str) -> Result<&'e [std::sync::Arc<str>], Truth> {
    match entry.get(key) {
        Some(a) => Ok(a.normalized()),
        None if is_schema_attribute(key) => Err(Truth::False),
        None => Err(Truth::Undefined),
    }
}

/// A filter string (RFC 4515) that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not an LDAP filter (RFC 4515), like (&(objectClass=user)(uid=alice))")]
pub struct FilterSyntax;

/// Parses a filter string (RFC 4515), for the CLI and the load generator:
/// `ldap3_proto`'s own parser refuses values holding `=` or spaces, which
/// every `memberOf` filter has.
pub fn parse(text: &str) -> Result<LdapFilter, FilterSyntax> {
    let mut rest = text.trim().as_bytes();
    let f = parse_filter(&mut rest, 0)?;
    if rest.is_empty() { Ok(f) } else { Err(FilterSyntax) }
}

fn parse_filter(rest: &mut &[u8], depth: usize) -> Result<LdapFilter, FilterSyntax> {
    if depth > 32 {
        return Err(FilterSyntax);
    }
    let (&open, tail) = rest.split_first().ok_or(FilterSyntax)?;
    if open != b'(' {
        return Err(FilterSyntax);
    }
    *rest = tail;
    let f = match rest.first() {
        Some(b'&') | Some(b'|') => {
            let and = rest[0] == b'&';
            *rest = &rest[1..];
            let mut parts = Vec::new();
            while rest.first() == Some(&b'(') {
                parts.push(parse_filter(rest, depth + 1)?);
            }
            if and {
                LdapFilter::And(parts)
            } else {
                LdapFilter::Or(parts)
            }
        }
        Some(b'!') => {
            *rest = &rest[1..];
            LdapFilter::Not(Box::new(parse_filter(rest, depth + 1)?))
        }
        _ => parse_item(rest)?,
    };
    match rest.split_first() {
        Some((b')', tail)) => {
            *rest = tail;
            Ok(f)
        }
        _ => Err(FilterSyntax),
    }
}

/// Unescapes `\XX` in a value (RFC 4515 §3).
fn unescape(raw: &[u8]) -> Result<String, FilterSyntax> {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        if raw[i] == b'\\' {
            let hex = raw.get(i + 1..i + 3).ok_or(FilterSyntax)?;
            let text = std::str::from_utf8(hex).map_err(|_| FilterSyntax)?;
            out.push(u8::from_str_radix(text, 16).map_err(|_| FilterSyntax)?);
            i += 3;
        } else {
            out.push(raw[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| FilterSyntax)
}

fn parse_item(rest: &mut &[u8]) -> Result<LdapFilter, FilterSyntax> {
    let end = rest.iter().position(|&b| b == b')').ok_or(FilterSyntax)?;
    let item = &rest[..end];
    *rest = &rest[end..];
    let eq = item.iter().position(|&b| b == b'=').ok_or(FilterSyntax)?;
    let (left, value) = (&item[..eq], &item[eq + 1..]);
    let text = |b: &[u8]| std::str::from_utf8(b).map(str::to_string).map_err(|_| FilterSyntax);
    let attr_ok = |a: &[u8]| !a.is_empty() && a.iter().all(|&c| c.is_ascii_alphanumeric() || b"-.;".contains(&c));
    match left.last() {
        Some(b'~') | Some(b'>') | Some(b'<') => {
            let attr = &left[..left.len() - 1];
            if !attr_ok(attr) {
                return Err(FilterSyntax);
            }
            let (attr, value) = (text(attr)?, unescape(value)?);
            Ok(match left[left.len() - 1] {
                b'~' => LdapFilter::Approx(attr, value),
                b'>' => LdapFilter::GreaterOrEqual(attr, value),
                _ => LdapFilter::LessOrEqual(attr, value),
            })
        }
        Some(b':') => {
            let spec = text(&left[..left.len() - 1])?;
            let mut parts = spec.split(':');
            let type_ = parts.next().filter(|t| !t.is_empty()).map(str::to_string);
            let mut dn_attributes = false;
            let mut matching_rule = None;
            for p in parts {
                if p.eq_ignore_ascii_case("dn") {
                    dn_attributes = true;
                } else {
                    matching_rule = Some(p.to_string());
                }
            }
            if type_.is_none() && matching_rule.is_none() {
                return Err(FilterSyntax);
            }
            Ok(LdapFilter::Extensible(LdapMatchingRuleAssertion {
                matching_rule,
                type_,
                match_value: unescape(value)?,
                dn_attributes,
            }))
        }
        _ if attr_ok(left) => {
            let attr = text(left)?;
            if value == b"*" {
                return Ok(LdapFilter::Present(attr));
            }
            if !value.contains(&b'*') {
                return Ok(LdapFilter::Equality(attr, unescape(value)?));
            }
            let pieces: Vec<&[u8]> = value.split(|&b| b == b'*').collect();
            let last = pieces.len() - 1;
            let mut sub = LdapSubstringFilter::default();
            for (i, piece) in pieces.into_iter().enumerate() {
                if piece.is_empty() {
                    continue;
                }
                let piece = unescape(piece)?;
                match i {
                    0 => sub.initial = Some(piece),
                    i if i == last => sub.final_ = Some(piece),
                    _ => sub.any.push(piece),
                }
            }
            Ok(LdapFilter::Substring(attr, sub))
        }
        _ => Err(FilterSyntax),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ldap3_proto::parse_ldap_filter_str;

    fn entry() -> Entry {
        let mut e = Entry::new("cn=alice,ou=users,dc=x".into());
        e.put("objectClass", ["top", "person", "inetOrgPerson", "posixAccount"]);
        e.put("cn", ["alice"]);
        e.put("uid", ["alice"]);
        e.put("displayName", ["Alice  Smith"]);
        e.put("mail", ["Alice@Example.com"]);
        e.put("uidNumber", ["2005"]);
        e.put("homeDirectory", ["/home/alice"]);
        e.put("memberOf", ["cn=staff,ou=groups,dc=x", "CN=Ops,OU=groups,DC=x"]);
        e.put("department", ["Ops"]);
        e
    }

    fn check(filter: &str) -> Truth {
        let f = parse_ldap_filter_str(filter).unwrap_or_else(|e| panic!("{filter}: {e:?}"));
        evaluate(&f, &entry())
    }

    #[test]
    fn equality_is_case_insensitive_by_schema() {
        assert_eq!(check("(uid=ALICE)"), Truth::True);
        assert_eq!(check("(UID=alice)"), Truth::True);
        assert_eq!(check("(userid=alice)"), Truth::True);
        assert_eq!(check("(mail=alice@example.COM)"), Truth::True);
        let spaced = LdapFilter::Equality("displayName".into(), "alice   smith ".into());
        assert_eq!(evaluate(&spaced, &entry()), Truth::True);
        assert_eq!(check("(objectclass=INETORGPERSON)"), Truth::True);
        assert_eq!(check("(homeDirectory=/HOME/alice)"), Truth::False);
        let member_of = |v: &str| evaluate(&LdapFilter::Equality("memberOf".into(), v.into()), &entry());
        assert_eq!(member_of("cn=ops,ou=Groups,dc=X"), Truth::True);
        assert_eq!(member_of("cn=ops , ou=groups, dc=x"), Truth::True);
        assert_eq!(member_of("cn=dev,ou=groups,dc=x"), Truth::False);
        assert_eq!(check("(uidNumber=02005)"), Truth::True);
        assert_eq!(check("(cn~=ALICE)"), Truth::True);
    }

    #[test]
    fn presence_substrings_and_ordering() {
        assert_eq!(check("(objectClass=*)"), Truth::True);
        assert_eq!(check("(mail=*)"), Truth::True);
        assert_eq!(check("(sn=*)"), Truth::False);
        assert_eq!(check("(cn=al*)"), Truth::True);
        assert_eq!(check("(cn=*LIC*)"), Truth::True);
        assert_eq!(check("(cn=a*i*e)"), Truth::True);
        assert_eq!(check("(cn=a*e*i)"), Truth::False);
        assert_eq!(check("(mail=*@example.com)"), Truth::True);
        assert_eq!(check("(uidNumber>=2000)"), Truth::True);
        assert_eq!(check("(uidNumber>=10000)"), Truth::False);
        assert_eq!(check("(uidNumber<=2005)"), Truth::True);
        assert_eq!(check("(uidNumber<=999)"), Truth::False, "numeric, not lexical");
        assert_eq!(check("(cn>=b)"), Truth::False);
        assert_eq!(check("(cn<=b)"), Truth::True);
        assert_eq!(check("(uidNumber=20*)"), Truth::Undefined);
    }

    #[test]
    fn three_valued_logic() {
        assert_eq!(check("(nosuchattr=x)"), Truth::Undefined);
        assert_eq!(check("(!(nosuchattr=x))"), Truth::Undefined);
        assert_eq!(
            check("(!(sn=x))"),
            Truth::True,
            "a known attribute the entry lacks is false"
        );
        assert_eq!(check("(|(nosuchattr=x)(cn=alice))"), Truth::True);
        assert_eq!(check("(&(nosuchattr=x)(cn=alice))"), Truth::Undefined);
        assert_eq!(check("(&(nosuchattr=x)(cn=bob))"), Truth::False);
        assert_eq!(check("(uidNumber=abc)"), Truth::Undefined);
        assert_eq!(check("(department=ops)"), Truth::True, "custom attributes match too");
        assert_eq!(
            check("(&(objectClass=person)(|(uid=bob)(uid=alice))(!(cn=bob)))"),
            Truth::True
        );
        assert_eq!(evaluate(&LdapFilter::And(vec![]), &entry()), Truth::True);
        assert_eq!(evaluate(&LdapFilter::Or(vec![]), &entry()), Truth::False);
    }

    #[test]
    fn filter_strings_parse_as_rfc_4515_says() {
        let f = parse("(&(objectClass=user)(memberOf=cn=devs,ou=groups,dc=x)(!(cn=a b*c\\2a*)))").unwrap();
        let LdapFilter::And(parts) = &f else { panic!("{f:?}") };
        assert_eq!(
            parts[1],
            LdapFilter::Equality("memberOf".into(), "cn=devs,ou=groups,dc=x".into())
        );
        let LdapFilter::Not(inner) = &parts[2] else { panic!() };
        let LdapFilter::Substring(_, sub) = &**inner else {
            panic!()
        };
        assert_eq!(
            (sub.initial.as_deref(), sub.any.as_slice(), sub.final_.as_deref()),
            (Some("a b"), &["c*".to_string()][..], None)
        );
        assert_eq!(parse("(uid=*)").unwrap(), LdapFilter::Present("uid".into()));
        assert_eq!(
            parse("(uidNumber>=5)").unwrap(),
            LdapFilter::GreaterOrEqual("uidNumber".into(), "5".into())
        );
        assert!(matches!(
            parse("(memberOf:1.2.840.113556.1.4.1941:=cn=x)").unwrap(),
            LdapFilter::Extensible(_)
        ));
        for bad in [
            "",
            "uid=a",
            "(uid=a",
            "(uid=a))",
            "(=a)",
            "(&(uid=a)",
            "(u id=a)",
            "(uid=\\zz)",
            "(!)",
        ] {
            assert_eq!(parse(bad), Err(FilterSyntax), "{bad}");
        }
        let deep = format!("{}(uid=a){}", "(!".repeat(40), ")".repeat(40));
        assert_eq!(parse(&deep), Err(FilterSyntax));
    }

    #[test]
    fn extensible_equality_and_in_chain() {
        let in_chain = LdapFilter::Extensible(LdapMatchingRuleAssertion {
            matching_rule: Some(IN_CHAIN.into()),
            type_: Some("memberOf".into()),
            match_value: "cn=staff,ou=groups,dc=x".into(),
            dn_attributes: false,
        });
        assert_eq!(evaluate(&in_chain, &entry()), Truth::True);
        assert_eq!(check("(cn:caseIgnoreMatch:=ALICE)"), Truth::True);
        assert_eq!(check("(cn:=alice)"), Truth::True);
        assert_eq!(check("(cn:1.2.3.4:=alice)"), Truth::Undefined);
    }
}
