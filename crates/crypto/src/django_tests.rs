use super::*;

/// Made by Django 5.2.19's own hashers with their default costs
/// (`tests/e2e/django_support.py`): algorithm, password, hash.
const VECTORS: &[(&str, &str, &str)] = &[
    (
        "pbkdf2_sha256",
        "Imported-Pass-0-é",
        "pbkdf2_sha256$1000000$pS0IFSnALDGQHqPuPzuNwg$RYmy0xR3Y2tntawTUYIW6s3T9NMwqOsyNlROtiRfXn8=",
    ),
    (
        "pbkdf2_sha1",
        "Imported-Pass-5-é",
        "pbkdf2_sha1$1000000$od0EkJdaSCmCYXAuVt2E6P$3rtrHAi/6M0vGyAgjYPRZAaallw=",
    ),
    (
        "argon2",
        "Imported-Pass-1-é",
        "argon2$argon2id$v=19$m=102400,t=2,p=8$dWVPM1lQeDl1eXV2ajZBS2FJZ09CRw$h2AdeA9Qu9jinH/riF8fFSnxeFi1HVqKsnloO/ENgQk",
    ),
    (
        "bcrypt_sha256",
        "Imported-Pass-2-é",
        "bcrypt_sha256$$2b$12$jhmOMljOqDkQmddwaO5enO1WMQ5.QLp9VD8O8m6qi7Siu1hLKy566",
    ),
    (
        "bcrypt",
        "Imported-Pass-3-é",
        "bcrypt$$2b$12$htdwnZ3S8HXUwfNCUDw.1.fuSql5zDnHBdAQLOPOo4OBPhomaIcUy",
    ),
    (
        "scrypt",
        "Imported-Pass-4-é",
        "scrypt$16384$dgrE6GXHffyBapjWY0ZH53$8$5$hFVVo8hhPgxQLQCShmMxma8rxuW977IPHhg+8dmwPeNuEklpKjdWvAeIJUycAnHq57COOBjww6wOMeYoYQNaGA==",
    ),
];

#[test]
fn django_vectors_verify_and_wrong_passwords_do_not() {
    for (alg, password, stored) in VECTORS {
        assert!(is_django(stored), "{alg}");
        let hash = DjangoHash::parse(stored).unwrap_or_else(|e| panic!("{alg}: {e}"));
        assert!(hash.verify(password.as_bytes()), "{alg}: right password refused");
        assert!(!hash.verify(b"Imported-Pass-9-x"), "{alg}: wrong password accepted");
        assert!(!hash.verify(b""), "{alg}: empty password accepted");
    }
}

#[test]
fn bcrypt_sha256_hashes_the_hex_digest_not_the_password() {
    let (_, password, stored) = VECTORS[3];
    let DjangoHash::Bcrypt { bcrypt, .. } = DjangoHash::parse(stored).unwrap() else {
        panic!("not bcrypt");
    };
    let plain = DjangoHash::Bcrypt { prehash: false, bcrypt };
    assert!(!plain.verify(password.as_bytes()));
}

#[test]
fn one_changed_character_breaks_each_vector() {
    for (alg, password, stored) in VECTORS {
        let mut tampered = stored.to_string();
        let last = tampered.pop().unwrap();
        let at = tampered.len() - 3;
        let mid = &tampered[at..at + 1];
        let swap = if mid == "A" { "B" } else { "A" };
        tampered.replace_range(at..at + 1, swap);
        tampered.push(last);
        let ok = DjangoHash::parse(&tampered).is_ok_and(|h| h.verify(password.as_bytes()));
        assert!(!ok, "{alg}: tampered hash still matches");
    }
}

#[test]
fn malformed_and_unknown_hashes_are_refused_with_a_reason() {
    for bad in [
        "md5$salt$abcdef",
        "sha1$salt$abcdef",
        "pbkdf2_sha256$0$salt$AAAAAAAAAAAAAAAAAAAAAA==",
        "pbkdf2_sha256$99999999999$salt$AAAAAAAAAAAAAAAAAAAAAA==",
        "pbkdf2_sha256$1000$salt",
        "pbkdf2_sha256$1000$salt$not base64!",
        "argon2$argon2id$v=19$m=99999999,t=2,p=8$c2FsdHNhbHQ$AAAAAAAAAAAAAAAAAAAAAA",
        "argon2$argon2x$v=19$m=1024,t=2,p=1$c2FsdHNhbHQ$AAAAAAAAAAAAAAAAAAAAAA",
        "bcrypt_sha256$$2b$31$jhmOMljOqDkQmddwaO5enO1WMQ5.QLp9VD8O8m6qi7Siu1hLKy566",
        "bcrypt_sha256$$2x$12$jhmOMljOqDkQmddwaO5enO1WMQ5.QLp9VD8O8m6qi7Siu1hLKy566",
        "bcrypt_sha256$2b$12$short",
        "scrypt$1000$salt$8$1$AAAAAAAAAAAAAAAAAAAAAA==",
        "scrypt$16384$salt$8$1",
        "!unusable-password",
        "",
    ] {
        assert!(DjangoHash::parse(bad).is_err(), "{bad}");
        assert!(crate::check_stored_hash(bad).is_err(), "{bad}");
    }
    let err = crate::check_stored_hash("md5$salt$abcdef").unwrap_err().to_string();
    assert!(err.contains("'md5'") && err.contains("pbkdf2_sha256"), "{err}");
}

#[test]
fn every_vector_and_our_own_phc_are_accepted_for_import() {
    for (alg, _, stored) in VECTORS {
        crate::check_stored_hash(stored).unwrap_or_else(|e| panic!("{alg}: {e}"));
    }
    let ours = crate::PasswordHasher::new(
        crate::HashParams {
            m_cost_kib: 64,
            t_cost: 1,
            p_cost: 1,
        },
        1,
    )
    .unwrap()
    .hash_now("x")
    .unwrap();
    crate::check_stored_hash(&ours).unwrap();
}

#[tokio::test]
async fn the_hasher_verifies_django_hashes_and_asks_for_a_rehash() {
    let h = crate::PasswordHasher::new(
        crate::HashParams {
            m_cost_kib: 64,
            t_cost: 1,
            p_cost: 1,
        },
        2,
    )
    .unwrap();
    for (alg, password, stored) in VECTORS {
        assert_eq!(
            h.verify(password, stored).await.unwrap(),
            crate::PasswordVerdict::MatchNeedsRehash,
            "{alg}"
        );
        assert_eq!(
            h.verify("wrong", stored).await.unwrap(),
            crate::PasswordVerdict::Mismatch,
            "{alg}"
        );
    }
}
