//! Writes the fuzz seed corpus: a bind followed by each kind of request the
//! server answers (searches with every filter form, paging, compare, the
//! extended operations, unbind, abandon, a write), as real encodings.
//! `cargo run -p gatehouse-ldap --example ldap_fuzz_seeds -- crates/ldap/fuzz`

use bytes::BytesMut;
use gatehouse_ldap::filter::parse;
use gatehouse_ldap::ldap3_proto::LdapCodec;
use gatehouse_ldap::ldap3_proto::control::LdapControl;
use gatehouse_ldap::ldap3_proto::proto::*;
use tokio_util::codec::Encoder;

const BASE: &str = "DC=ldap,DC=goauthentik,DC=io";

fn search(filter: &str, scope: LdapSearchScope, attrs: &[&str]) -> Result<LdapOp, Box<dyn std::error::Error>> {
    Ok(LdapOp::SearchRequest(LdapSearchRequest {
        base: BASE.into(),
        scope,
        aliases: LdapDerefAliases::Never,
        sizelimit: 0,
        timelimit: 0,
        typesonly: false,
        filter: parse(filter)?,
        attrs: attrs.iter().map(|a| a.to_string()).collect(),
    }))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args().nth(1).unwrap_or_else(|| "crates/ldap/fuzz".into());
    let corpus = format!("{dir}/corpus/ldap_messages");
    std::fs::create_dir_all(&corpus)?;
    let bind = LdapOp::BindRequest(LdapBindRequest {
        version: 3,
        dn: format!("cn=alice,ou=users,{BASE}"),
        cred: LdapBindCred::Simple("pw".into()),
    });
    let paged = vec![LdapControl::SimplePagedResults {
        size: 5,
        cookie: Vec::new(),
    }];
    let requests: Vec<(LdapOp, Vec<LdapControl>)> = vec![
        (search("(uid=user01)", LdapSearchScope::Subtree, &[])?, vec![]),
        (
            search(
                "(&(objectClass=user)(|(cn=user1*)(mail=*@example.com))(!(ak-active=false)))",
                LdapSearchScope::Subtree,
                &["cn", "memberOf"],
            )?,
            vec![],
        ),
        (
            search(
                "(memberOf=cn=group1,ou=groups,DC=ldap,DC=goauthentik,DC=io)",
                LdapSearchScope::Subtree,
                &["1.1"],
            )?,
            vec![],
        ),
        (search("(uidNumber>=2010)", LdapSearchScope::OneLevel, &["+"])?, vec![]),
        (
            search("(objectClass=*)", LdapSearchScope::Subtree, &["*", "entryUUID"])?,
            paged,
        ),
        (
            search(
                "(member:1.2.840.113556.1.4.1941:=cn=alice,ou=users,DC=ldap,DC=goauthentik,DC=io)",
                LdapSearchScope::Base,
                &[],
            )?,
            vec![],
        ),
        (
            LdapOp::CompareRequest(LdapCompareRequest {
                dn: format!("cn=alice,ou=users,{BASE}"),
                atype: "mail".into(),
                val: b"alice@example.com".to_vec(),
            }),
            vec![],
        ),
        (
            LdapOp::ExtendedRequest(LdapExtendedRequest {
                name: "1.3.6.1.4.1.4203.1.11.3".into(),
                value: None,
            }),
            vec![],
        ),
        (
            LdapOp::ExtendedRequest(LdapExtendedRequest {
                name: "1.3.6.1.4.1.1466.20037".into(),
                value: None,
            }),
            vec![],
        ),
        (LdapOp::DelRequest(format!("cn=alice,ou=users,{BASE}")), vec![]),
        (LdapOp::AbandonRequest(2), vec![]),
        (LdapOp::UnbindRequest, vec![]),
    ];
    let mut codec = LdapCodec::default();
    for (i, (op, ctrl)) in requests.into_iter().enumerate() {
        let mut buf = BytesMut::new();
        codec.encode(LdapMsg::new(1, bind.clone()), &mut buf)?;
        codec.encode(LdapMsg::new_with_ctrls(2, op, ctrl), &mut buf)?;
        std::fs::write(format!("{corpus}/seed-{i:02}"), &buf)?;
    }
    Ok(())
}
