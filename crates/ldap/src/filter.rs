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
    match filter {
        LdapFilter::And(parts) => {
            let mut out = Truth::True;
            for p in parts {
                match evaluate(p, entry) {
                    Truth::False => return Truth::False,
                    Truth::Undefined => out = Truth::Undefined,
                    Truth::True => {}
                }
            }
            out
        }
        LdapFilter::Or(parts) => {
            let mut out = Truth::False;
            for p in parts {
                match evaluate(p, entry) {
                    Truth::True => return Truth::True,
                    Truth::Undefined => out = Truth::Undefined,
                    Truth::False => {}
                }
            }
            out
        }
        LdapFilter::Not(inner) => match evaluate(inner, entry) {
            Truth::True => Truth::False,
            Truth::False => Truth::True,
            Truth::Undefined => Truth::Undefined,
        },
        LdapFilter::Equality(attr, value) | LdapFilter::Approx(attr, value) => equality(entry, attr, value),
        LdapFilter::Present(attr) => {
            let key = attribute_key(attr);
            Truth::from_bool(key == "objectclass" || entry.has(&key))
        }
        LdapFilter::Substring(attr, sub) => substring(entry, attr, sub),
        LdapFilter::GreaterOrEqual(attr, value) => ordering(entry, attr, value, std::cmp::Ordering::Greater),
        LdapFilter::LessOrEqual(attr, value) => ordering(entry, attr, value, std::cmp::Ordering::Less),
        LdapFilter::Extensible(rule) => extensible(entry, rule),
    }
}

/// Looks up the attribute: its values, or the truth an absent one has.
fn values<'e>(entry: &'e Entry, key: &str) -> Result<(&'e [String], Matching), Truth> {
    match entry.get(key) {
        Some(a) => Ok((a.normalized(), a.matching())),
        None if is_schema_attribute(key) => Err(Truth::False),
        None => Err(Truth::Undefined),
    }
}

pub fn equality(entry: &Entry, attr: &str, value: &str) -> Truth {
    let key = attribute_key(attr);
    let (vals, matching) = match values(entry, &key) {
        Ok(v) => v,
        Err(t) => return t,
    };
    match normalize(matching, value) {
        Some(wanted) => Truth::from_bool(vals.contains(&wanted)),
        None => Truth::Undefined,
    }
}

fn substring(entry: &Entry, attr: &str, sub: &LdapSubstringFilter) -> Truth {
    let key = attribute_key(attr);
    let (vals, matching) = match values(entry, &key) {
        Ok(v) => v,
        Err(t) => return t,
    };
    if matching == Matching::Integer {
        return Truth::Undefined;
    }
    // Pieces are normalised like values, but their edges keep their spaces.
    let piece = |s: &str| match matching {
        Matching::CaseIgnore | Matching::Dn => s.to_lowercase(),
        _ => s.to_string(),
    };
    let initial = sub.initial.as_deref().map(piece);
    let any: Vec<String> = sub.any.iter().map(|s| piece(s)).collect();
    let final_ = sub.final_.as_deref().map(piece);
    Truth::from_bool(vals.iter().any(|v| {
        let mut rest = v.as_str();
        if let Some(i) = &initial {
            match rest.strip_prefix(i.as_str()) {
                Some(r) => rest = r,
                None => return false,
            }
        }
        for a in &any {
            match rest.find(a.as_str()) {
                Some(at) => rest = &rest[at + a.len()..],
                None => return false,
            }
        }
        final_.as_deref().is_none_or(|f| rest.ends_with(f))
    }))
}

fn ordering(entry: &Entry, attr: &str, value: &str, direction: std::cmp::Ordering) -> Truth {
    let key = attribute_key(attr);
    let (vals, matching) = match values(entry, &key) {
        Ok(v) => v,
        Err(t) => return t,
    };
    let Some(wanted) = normalize(matching, value) else {
        return Truth::Undefined;
    };
    let cmp = |v: &String| match matching {
        Matching::Integer => match (v.parse::<i64>(), wanted.parse::<i64>()) {
            (Ok(a), Ok(b)) => Some(a.cmp(&b)),
            _ => None,
        },
        Matching::Dn => None,
        Matching::CaseIgnore | Matching::CaseExact => Some(v.as_str().cmp(wanted.as_str())),
    };
    if matching == Matching::Dn {
        return Truth::Undefined;
    }
    Truth::from_bool(
        vals.iter()
            .filter_map(cmp)
            .any(|o| o == direction || o == std::cmp::Ordering::Equal),
    )
}

fn extensible(entry: &Entry, rule: &LdapMatchingRuleAssertion) -> Truth {
    let Some(attr) = rule.type_.as_deref() else {
        return Truth::Undefined;
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
        equality(entry, attr, &rule.match_value)
    } else {
        Truth::Undefined
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
        assert_eq!(check("(!(sn=x))"), Truth::True, "a known attribute the entry lacks is false");
        assert_eq!(check("(|(nosuchattr=x)(cn=alice))"), Truth::True);
        assert_eq!(check("(&(nosuchattr=x)(cn=alice))"), Truth::Undefined);
        assert_eq!(check("(&(nosuchattr=x)(cn=bob))"), Truth::False);
        assert_eq!(check("(uidNumber=abc)"), Truth::Undefined);
        assert_eq!(check("(department=ops)"), Truth::True, "custom attributes match too");
        assert_eq!(check("(&(objectClass=person)(|(uid=bob)(uid=alice))(!(cn=bob)))"), Truth::True);
        assert_eq!(evaluate(&LdapFilter::And(vec![]), &entry()), Truth::True);
        assert_eq!(evaluate(&LdapFilter::Or(vec![]), &entry()), Truth::False);
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
