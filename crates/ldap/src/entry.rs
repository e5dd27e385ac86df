//! Directory entries as LDAP serves them, built once per snapshot: each
//! attribute keeps its wire form (ready to send) and its values normalised by
//! the attribute's matching rule (what filters and compare use).

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use ldap3_proto::proto::{LdapPartialAttribute, LdapSearchResultEntry};
use serde_json::Value;

use crate::dn::Dn;

/// How an attribute's values compare (the schema's equality rule).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Matching {
    /// caseIgnoreMatch: case and insignificant spaces ignored.
    CaseIgnore,
    /// caseExactMatch / caseExactIA5Match: insignificant spaces ignored.
    CaseExact,
    /// integerMatch, with numeric ordering.
    Integer,
    /// distinguishedNameMatch.
    Dn,
}

/// The attribute a name (or alias, or OID) stands for: its lower-case key.
/// Options (`cn;lang-en`) are dropped.
pub fn attribute_key(name: &str) -> String {
    let base = name.split(';').next().unwrap_or(name).trim().to_ascii_lowercase();
    let canonical = match base.as_str() {
        "commonname" | "2.5.4.3" => "cn",
        "userid" | "0.9.2342.19200300.100.1.1" => "uid",
        "rfc822mailbox" | "0.9.2342.19200300.100.1.3" => "mail",
        "surname" | "2.5.4.4" => "sn",
        "gn" | "2.5.4.42" => "givenname",
        "2.5.4.0" => "objectclass",
        "2.5.4.31" => "member",
        "1.2.840.113556.1.2.102" => "memberof",
        _ => return base,
    };
    canonical.to_string()
}

/// The matching rule of an attribute, by key.
pub fn matching_of(key: &str) -> Matching {
    match key {
        "uidnumber" | "gidnumber" => Matching::Integer,
        "memberof" | "member" | "entrydn" | "subschemasubentry" | "namingcontexts" => Matching::Dn,
        "homedirectory" | "loginshell" | "memberuid" => Matching::CaseExact,
        _ => Matching::CaseIgnore,
    }
}

/// Whether filters may name this attribute without it being undefined on
/// entries that lack it (the attributes Gatehouse's schema defines).
pub fn is_schema_attribute(key: &str) -> bool {
    matches!(
        key,
        "objectclass"
            | "cn"
            | "uid"
            | "name"
            | "displayname"
            | "givenname"
            | "sn"
            | "mail"
            | "samaccountname"
            | "memberof"
            | "member"
            | "memberuid"
            | "uidnumber"
            | "gidnumber"
            | "homedirectory"
            | "loginshell"
            | "ak-active"
            | "ak-superuser"
            | "entryuuid"
            | "entrydn"
            | "ou"
            | "dc"
            | "description"
    )
}

/// Collapses runs of spaces and trims (insignificant space handling, RFC 4518).
fn squeeze(value: &str) -> String {
    value.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A value in the normalised form of `matching`; `None` when it cannot be one
/// (a non-number for an integer attribute, a malformed DN).
pub fn normalize(matching: Matching, value: &str) -> Option<String> {
    match matching {
        Matching::CaseIgnore => Some(squeeze(value).to_lowercase()),
        Matching::CaseExact => Some(squeeze(value)),
        Matching::Integer => value.trim().parse::<i64>().ok().map(|n| n.to_string()),
        Matching::Dn => Dn::parse(value).ok().map(|dn| dn.normalized().to_string()),
    }
}

thread_local! {
    /// Strings shared while a snapshot is built: a group's DN is stored once
    /// however many `memberOf` and `member` values name it, a username once
    /// for `cn`, `uid` and `sAMAccountName`, a name once for every entry.
    static INTERNED: RefCell<HashSet<Arc<str>>> = RefCell::new(HashSet::new());
    /// Normalised DNs by their text, so each distinct DN is parsed once.
    static NORMALIZED_DNS: RefCell<HashMap<Arc<str>, Option<Arc<str>>>> = RefCell::new(HashMap::new());
}

/// The shared copy of `s` on this thread.
pub fn intern(s: &str) -> Arc<str> {
    INTERNED.with(|set| {
        let mut set = set.borrow_mut();
        if let Some(a) = set.get(s) {
            return a.clone();
        }
        let a: Arc<str> = Arc::from(s);
        set.insert(a.clone());
        a
    })
}

/// Drops this thread's shared strings (the entries keep theirs).
pub fn forget_interned() {
    INTERNED.with(|set| *set.borrow_mut() = HashSet::new());
    NORMALIZED_DNS.with(|map| *map.borrow_mut() = HashMap::new());
}

fn normalize_interned(matching: Matching, value: &Arc<str>) -> Option<Arc<str>> {
    if matching != Matching::Dn {
        return normalize(matching, value).map(|n| if *n == **value { value.clone() } else { intern(&n) });
    }
    if let Some(done) = NORMALIZED_DNS.with(|map| map.borrow().get(value).cloned()) {
        return done;
    }
    let done = normalize(matching, value).map(|n| intern(&n));
    NORMALIZED_DNS.with(|map| map.borrow_mut().insert(value.clone(), done.clone()));
    done
}

#[derive(Debug, Clone)]
pub struct Attribute {
    key: Arc<str>,
    /// The name as sent.
    name: Arc<str>,
    operational: bool,
    matching: Matching,
    values: Vec<Arc<str>>,
    normalized: Vec<Arc<str>>,
}

impl Attribute {
    pub fn key(&self) -> &str {
        &self.key
    }

    pub fn matching(&self) -> Matching {
        self.matching
    }

    pub fn normalized(&self) -> &[Arc<str>] {
        &self.normalized
    }

    pub fn is_operational(&self) -> bool {
        self.operational
    }

    /// The attribute as a search result carries it.
    fn to_partial(&self, types_only: bool) -> LdapPartialAttribute {
        LdapPartialAttribute {
            atype: self.name.to_string(),
            vals: if types_only {
                Vec::new()
            } else {
                self.values.iter().map(|v| v.as_bytes().to_vec()).collect()
            },
        }
    }
}

/// One entry: its DN (as handed out, and normalised) and its attributes.
#[derive(Debug, Clone)]
pub struct Entry {
    pub dn: String,
    pub dn_normalized: String,
    attrs: Vec<Attribute>,
}

impl Entry {
    pub fn new(dn: String) -> Entry {
        let dn_normalized = Dn::parse(&dn).map(|d| d.normalized().to_string()).unwrap_or_default();
        let mut entry = Entry {
            dn,
            dn_normalized,
            attrs: Vec::new(),
        };
        let dn = entry.dn.clone();
        entry.put_operational("entryDN", [dn]);
        entry.put_operational("subschemaSubentry", ["cn=subschema"]);
        entry
    }

    fn put_with<I, S>(&mut self, name: &str, values: I, operational: bool)
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let key = intern(&attribute_key(name));
        let matching = matching_of(&key);
        let values: Vec<Arc<str>> = values.into_iter().map(|v| intern(&v.into())).collect();
        if values.is_empty() {
            return;
        }
        let normalized = values.iter().filter_map(|v| normalize_interned(matching, v)).collect();
        let attr = Attribute {
            key,
            name: intern(name),
            operational,
            matching,
            values,
            normalized,
        };
        match self.attrs.iter_mut().find(|a| a.key == attr.key) {
            Some(existing) => *existing = attr,
            None => self.attrs.push(attr),
        }
    }

    /// Sets a user attribute (replacing one of the same key); no values: nothing.
    pub fn put<I, S>(&mut self, name: &str, values: I)
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.put_with(name, values, false);
    }

    pub fn put_operational<I, S>(&mut self, name: &str, values: I)
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.put_with(name, values, true);
    }

    /// The attribute with this key (see [`attribute_key`]).
    pub fn get(&self, key: &str) -> Option<&Attribute> {
        self.attrs.iter().find(|a| &*a.key == key)
    }

    pub fn has(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    pub fn attributes(&self) -> &[Attribute] {
        &self.attrs
    }

    /// Adds the scalar values of `attributes` (strings, numbers, booleans)
    /// under names that are valid attribute descriptors and not computed.
    pub fn put_custom(&mut self, attributes: &Value, overridable: &[&str]) {
        let Some(map) = attributes.as_object() else {
            return;
        };
        for (name, value) in map {
            let valid = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
                && name.len() <= 64
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
            let key = attribute_key(name);
            if !valid || (self.has(&key) && !overridable.contains(&key.as_str())) {
                continue;
            }
            let text = match value {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                Value::Bool(b) => b.to_string(),
                _ => continue,
            };
            self.put(name, [text]);
        }
    }

    /// The entry as a search result: all of it, or only the selected attributes.
    pub fn to_result(&self, selection: &Selection) -> LdapSearchResultEntry {
        let attributes = self
            .attrs
            .iter()
            .filter(|a| selection.wants(a))
            .map(|a| a.to_partial(selection.types_only))
            .collect();
        LdapSearchResultEntry {
            dn: self.dn.clone(),
            attributes,
        }
    }
}

/// Which attributes a search asked for (RFC 4511 §4.5.1.8).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selection {
    all_user: bool,
    all_operational: bool,
    named: Vec<String>,
    pub types_only: bool,
}

impl Selection {
    /// From the request's list: empty or `*` means every user attribute, `+`
    /// every operational one, `1.1` (alone) none.
    pub fn new(requested: &[String], types_only: bool) -> Selection {
        let mut s = Selection {
            types_only,
            ..Selection::default()
        };
        let meaningful: Vec<&String> = requested.iter().filter(|a| a.trim() != "1.1").collect();
        if requested.is_empty() {
            s.all_user = true;
        }
        for name in meaningful {
            match name.trim() {
                "*" => s.all_user = true,
                "+" => s.all_operational = true,
                other => s.named.push(attribute_key(other)),
            }
        }
        s
    }

    fn wants(&self, a: &Attribute) -> bool {
        (if a.operational {
            self.all_operational
        } else {
            self.all_user
        }) || self.named.iter().any(|n| **n == *a.key)
    }
}

/// Object classes of a user entry (authentik's, plus POSIX and inetOrgPerson).
pub const USER_CLASSES: [&str; 7] = [
    "top",
    "person",
    "organizationalPerson",
    "inetOrgPerson",
    "user",
    "posixAccount",
    "goauthentik.io/ldap/user",
];
pub const GROUP_CLASSES: [&str; 4] = ["top", "groupOfNames", "posixGroup", "goauthentik.io/ldap/group"];

/// User attributes a user's own `attributes` may set (others are computed).
const USER_OVERRIDABLE: [&str; 5] = ["homedirectory", "loginshell", "givenname", "sn", "displayname"];

/// LDAP's generalized time (`20260101120000Z`) of a timestamp.
fn generalized_time(t: gatehouse_core::Timestamp) -> String {
    t.to_rfc3339()
        .chars()
        .filter(char::is_ascii_digit)
        .take(14)
        .chain(std::iter::once('Z'))
        .collect()
}

fn flag(b: bool) -> &'static str {
    if b { "true" } else { "false" }
}

/// A user's entry: `cn=<username>,ou=users,<base>`.
pub fn user_entry(
    tree: &crate::dn::Tree,
    config: &crate::config::LdapConfig,
    user: &gatehouse_core::User,
    superuser: bool,
    member_of: impl Iterator<Item = String>,
) -> Entry {
    let mut e = Entry::new(tree.user_dn(&user.username));
    let display = user.display_name();
    // inetOrgPerson wants a surname: the last word of the name, the rest given.
    let words: Vec<&str> = display.split_whitespace().collect();
    let (given, surname) = match words.split_last() {
        Some((last, rest)) if !rest.is_empty() => (Some(rest.join(" ")), last.to_string()),
        _ => (None, display.clone()),
    };
    let number = (config.uid_start_number + user.pk).to_string();
    e.put("objectClass", USER_CLASSES);
    e.put("cn", [user.username.as_str()]);
    e.put("uid", [user.username.as_str()]);
    e.put("sAMAccountName", [user.username.as_str()]);
    e.put("name", [display.as_str()]);
    e.put("displayName", [display.as_str()]);
    e.put("givenName", given);
    e.put("sn", [surname]);
    e.put("mail", Some(user.email.as_str()).filter(|m| !m.is_empty()));
    e.put("memberOf", member_of);
    e.put("uidNumber", [number.as_str()]);
    // Each user's primary group is its own (authentik's virtual group).
    e.put("gidNumber", [number.as_str()]);
    e.put("homeDirectory", [format!("/home/{}", user.username)]);
    e.put("loginShell", ["/bin/bash"]);
    e.put("ak-active", [flag(user.is_active)]);
    e.put("ak-superuser", [flag(superuser)]);
    e.put_custom(&user.attributes, &USER_OVERRIDABLE);
    e.put_operational("entryUUID", [user.id.to_string()]);
    e.put_operational("structuralObjectClass", ["inetOrgPerson"]);
    e.put_operational("createTimestamp", [generalized_time(user.created_at)]);
    e.put_operational("hasSubordinates", ["FALSE"]);
    e
}

/// A group's entry: `cn=<name>,ou=groups,<base>`, listing every effective
/// member (direct, or through a group nested in it), as `memberOf` does.
pub fn group_entry<'u>(
    tree: &crate::dn::Tree,
    config: &crate::config::LdapConfig,
    group: &gatehouse_core::Group,
    members: impl Iterator<Item = &'u gatehouse_core::User>,
    parents: impl Iterator<Item = String>,
) -> Entry {
    let mut e = Entry::new(tree.group_dn(&group.name));
    let members: Vec<&gatehouse_core::User> = members.collect();
    e.put("objectClass", GROUP_CLASSES);
    e.put("cn", [group.name.as_str()]);
    e.put("member", members.iter().map(|u| tree.user_dn(&u.username)));
    e.put("memberUid", members.iter().map(|u| u.username.as_str()));
    e.put("memberOf", parents);
    e.put("gidNumber", [(config.gid_start_number + group.pk).to_string()]);
    e.put("ak-superuser", [flag(group.is_superuser)]);
    e.put_custom(&group.attributes, &[]);
    e.put_operational("entryUUID", [group.id.to_string()]);
    e.put_operational("structuralObjectClass", ["groupOfNames"]);
    e.put_operational("createTimestamp", [generalized_time(group.created_at)]);
    e.put_operational("hasSubordinates", ["FALSE"]);
    e
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Entry {
        let mut e = Entry::new("cn=alice,ou=users,dc=x".into());
        e.put("objectClass", ["top", "person"]);
        e.put("cn", ["alice"]);
        e.put("uidNumber", ["2001"]);
        e.put_operational("entryUUID", ["6f0c…"]);
        e
    }

    fn names(e: &Entry, requested: &[&str]) -> Vec<String> {
        let req: Vec<String> = requested.iter().map(|s| s.to_string()).collect();
        e.to_result(&Selection::new(&req, false))
            .attributes
            .into_iter()
            .map(|a| a.atype)
            .collect()
    }

    #[test]
    fn selection_star_plus_and_one_one() {
        let e = sample();
        assert_eq!(names(&e, &[]), ["objectClass", "cn", "uidNumber"]);
        assert_eq!(names(&e, &["*"]), ["objectClass", "cn", "uidNumber"]);
        assert_eq!(names(&e, &["+"]), ["entryDN", "subschemaSubentry", "entryUUID"]);
        assert!(names(&e, &["1.1"]).is_empty());
        assert_eq!(names(&e, &["1.1", "CN"]), ["cn"]);
        assert_eq!(names(&e, &["commonName", "entryuuid"]), ["cn", "entryUUID"]);
        assert_eq!(
            names(&e, &["*", "entryUUID"]),
            ["objectClass", "cn", "uidNumber", "entryUUID"]
        );
        let typed = e.to_result(&Selection::new(&["cn".into()], true));
        assert!(typed.attributes[0].vals.is_empty());
    }

    #[test]
    fn normalisation_by_rule() {
        assert_eq!(
            normalize(Matching::CaseIgnore, "  Alice   Smith ").as_deref(),
            Some("alice smith")
        );
        assert_eq!(normalize(Matching::CaseExact, " /Home/A ").as_deref(), Some("/Home/A"));
        assert_eq!(normalize(Matching::Integer, " 007 ").as_deref(), Some("7"));
        assert_eq!(normalize(Matching::Integer, "x"), None);
        assert_eq!(normalize(Matching::Dn, "CN=A, DC=X").as_deref(), Some("cn=a,dc=x"));
    }

    #[test]
    fn custom_attributes_are_scalar_and_never_shadow_computed_ones() {
        let mut e = sample();
        e.put_custom(
            &serde_json::json!({"department": "ops", "cn": "mallory", "level": 3, "list": ["a"], "bad/name": "x", "loginShell": "/bin/zsh"}),
            &["loginshell"],
        );
        let norm = |k: &str| -> Vec<String> { e.get(k).unwrap().normalized().iter().map(|v| v.to_string()).collect() };
        assert_eq!(norm("department"), ["ops"]);
        assert_eq!(norm("cn"), ["alice"]);
        assert_eq!(norm("level"), ["3"]);
        assert!(e.get("list").is_none() && e.get("bad/name").is_none());
        assert_eq!(norm("loginshell"), ["/bin/zsh"]);
    }
}
