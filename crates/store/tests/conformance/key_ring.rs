//! The key ring (JWT and SAML keys in one table since schema version 10) and
//! the one-time primitives the SAML service parks requests and claims
//! request IDs with.

use std::sync::Arc;

use gatehouse_core::events::action;
use gatehouse_core::keys::{KeyKind, KeyPurpose, SigningKeyRecord};
use gatehouse_core::{EventFilter, FixedClock, Store, Timestamp};
use gatehouse_crypto::certificate::{self, KeyFamily, certificate_kid};
use gatehouse_crypto::sha256_hex;
use gatehouse_crypto::signing::{SigningAlg, SigningKey};
use gatehouse_saml::TrustedCert;
use gatehouse_saml::service::{ParkedRequest, published_certificates};
use gatehouse_store::{KNOWN_SCHEMA_VERSION, MigrationReport};
use serde_json::json;
use uuid::Uuid;

use super::{DAY, Kind, T0, TestDb, directory, env};

const RSA: KeyPurpose = KeyPurpose::Saml(KeyFamily::Rsa);
const EC: KeyPurpose = KeyPurpose::Saml(KeyFamily::EcP256);

pub(crate) async fn check_saml_keys(db: &TestDb) {
    let env = env(db).await;
    let other_store = Arc::new(db.second_store().await);
    let other = directory(&other_store, &env.clock);
    // Two nodes making the first key at once end up with the same key.
    let (a, b) = tokio::join!(env.dir.keys().ring_with(EC), other.keys().ring_with(EC));
    let (a, b) = (a.unwrap(), b.unwrap());
    let first = a.current(EC, T0).unwrap().clone();
    assert_eq!(first.kid, b.current(EC, T0).unwrap().kid);
    assert_eq!(env.store.signing_keys().await.unwrap().len(), 1);
    let cert = first.certificate.clone().unwrap();
    let der = TrustedCert::from_pem_or_b64(&cert).unwrap().der().to_vec();
    assert_eq!(
        first.kid,
        certificate_kid(&der),
        "a SAML key is known by its certificate"
    );
    let certs = |dir: gatehouse_core::Directory| async move {
        published_certificates(&dir, KeyFamily::EcP256, false).await.unwrap()
    };
    assert_eq!(certs(env.dir.clone()).await, vec![cert.clone()]);

    // Rotation publishes the next certificate at once, signs with it later.
    let rotated = env.dir.keys().rotate(&env.audit, &[EC], 600).await.unwrap();
    assert_eq!((rotated[0].generation, rotated[0].status), (2, "next"));
    let published = certs(env.dir.clone()).await;
    assert_eq!(published.len(), 2);
    assert_eq!(published[0], cert, "the signing certificate comes first");
    env.clock.advance_seconds(601);
    let ring = env.dir.keys().ring().await.unwrap();
    let now = env.dir.now();
    assert_eq!(ring.current(EC, now).unwrap().kid, rotated[0].kid);
    assert_eq!(
        ring.published(EC, now).len(),
        2,
        "the old certificate stays published for a while"
    );
    let list = env.dir.keys().list(KeyKind::Saml).await.unwrap();
    let status: Vec<&str> = list.iter().map(|k| k.status).collect();
    assert_eq!(status, vec!["retiring", "signing"]);
    // A day later the old one is gone from metadata, and purged.
    env.clock.advance_seconds(2 * DAY);
    let published = certs(env.dir.clone()).await;
    assert_eq!(published.len(), 1);
    assert_ne!(published[0], cert);
    assert_eq!(env.dir.keys().purge_retired().await.unwrap(), 1);
    assert_eq!(env.store.signing_keys().await.unwrap().len(), 1);
    let events = env
        .dir
        .events()
        .list(&EventFilter {
            action: Some(action::MODEL_CREATED.into()),
            ..EventFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(events.iter().filter(|e| e.context["model"] == "saml_key").count(), 2);
    other_store.close().await;
}

pub(crate) async fn check_key_ring_holds_both_kinds(db: &TestDb) {
    let env = env(db).await;
    let jwt = env.dir.keys().signing_key(SigningAlg::Rs256).await.unwrap();
    let ring = env.dir.keys().ring_with(RSA).await.unwrap();
    let saml = ring.current(RSA, T0).unwrap().clone();
    assert_ne!(jwt.kid(), saml.kid);
    assert_eq!(env.store.signing_keys().await.unwrap().len(), 2);
    // Each kind is published where it belongs.
    let jwks = env.dir.keys().published_jwks().await.unwrap();
    assert_eq!(jwks["keys"].as_array().unwrap().len(), 1);
    assert_eq!(jwks["keys"][0]["kid"], jwt.kid());
    assert!(ring.by_kid(&saml.kid, T0).is_none(), "a SAML key verifies no JWT");
    assert_eq!(env.dir.keys().in_use(KeyKind::Saml).await.unwrap(), vec![RSA]);
    assert_eq!(
        env.dir.keys().in_use(KeyKind::Jwt).await.unwrap(),
        vec![KeyPurpose::Jwt(SigningAlg::Rs256)]
    );
    // Rotating one kind leaves the other alone.
    env.dir.keys().rotate(&env.audit, &[RSA], 0).await.unwrap();
    let jwt_keys = env.dir.keys().list(KeyKind::Jwt).await.unwrap();
    assert_eq!(jwt_keys.len(), 1);
    assert_eq!((jwt_keys[0].status, jwt_keys[0].publish_until), ("signing", None));
    let saml_keys = env.dir.keys().list(KeyKind::Saml).await.unwrap();
    let status: Vec<&str> = saml_keys.iter().map(|k| k.status).collect();
    assert_eq!(status, vec!["retiring", "signing"]);
    assert!(env.dir.keys().rotate(&env.audit, &[RSA], 31 * DAY).await.is_err());
    // A SAML key without its certificate is reported, not used.
    db.exec("UPDATE key_ring SET certificate = NULL WHERE kind = 'saml'")
        .await;
    assert!(env.dir.keys().ring().await.is_err());
}

const SQLITE_TO_8: [&str; 8] = [
    include_str!("../../migrations/sqlite/0001_directory.sql"),
    include_str!("../../migrations/sqlite/0002_sessions.sql"),
    include_str!("../../migrations/sqlite/0003_providers.sql"),
    include_str!("../../migrations/sqlite/0004_oidc.sql"),
    include_str!("../../migrations/sqlite/0005_saml.sql"),
    include_str!("../../migrations/sqlite/0006_jobs.sql"),
    include_str!("../../migrations/sqlite/0007_mfa.sql"),
    include_str!("../../migrations/sqlite/0008_blueprints.sql"),
];
const POSTGRES_TO_8: [&str; 8] = [
    include_str!("../../migrations/postgres/0001_directory.sql"),
    include_str!("../../migrations/postgres/0002_sessions.sql"),
    include_str!("../../migrations/postgres/0003_providers.sql"),
    include_str!("../../migrations/postgres/0004_oidc.sql"),
    include_str!("../../migrations/postgres/0005_saml.sql"),
    include_str!("../../migrations/postgres/0006_jobs.sql"),
    include_str!("../../migrations/postgres/0007_mfa.sql"),
    include_str!("../../migrations/postgres/0008_blueprints.sql"),
];

/// A database as a schema-8 binary left it, holding `keys` in its two key tables.
async fn schema_8_with(db: &TestDb, keys: &[SigningKeyRecord]) {
    db.exec(
        "CREATE TABLE schema_migrations (version BIGINT NOT NULL PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)",
    )
    .await;
    let scripts = if db.kind == Kind::Sqlite {
        SQLITE_TO_8
    } else {
        POSTGRES_TO_8
    };
    for (i, sql) in scripts.iter().enumerate() {
        db.exec(sql).await;
        db.exec(&format!(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES ({}, 'v{}', 0)",
            i + 1,
            i + 1
        ))
        .await;
    }
    let until = |k: &SigningKeyRecord| k.publish_until.map_or("NULL".into(), |t| t.millis().to_string());
    for k in keys {
        let sql = match k.purpose {
            KeyPurpose::Jwt(alg) => {
                let jwk = SigningKey::from_pkcs8_b64(alg, &k.private_key)
                    .unwrap()
                    .public_jwk()
                    .to_string();
                format!(
                    "INSERT INTO signing_keys (kid, alg, generation, private_key, public_jwk, created_at, \
                     activates_at, publish_until) VALUES ('{}', '{}', {}, '{}', '{jwk}', {}, {}, {})",
                    k.kid,
                    alg.as_str(),
                    k.generation,
                    k.private_key,
                    k.created_at.millis(),
                    k.activates_at.millis(),
                    until(k)
                )
            }
            KeyPurpose::Saml(family) => format!(
                "INSERT INTO saml_keys (kid, family, generation, private_key, certificate, created_at, \
                 activates_at, publish_until) VALUES ('{}', '{}', {}, '{}', '{}', {}, {}, {})",
                k.kid,
                family.as_str(),
                k.generation,
                k.private_key,
                k.certificate.as_deref().unwrap_or_default(),
                k.created_at.millis(),
                k.activates_at.millis(),
                until(k)
            ),
        };
        db.exec(&sql).await;
    }
}

fn stored_key(purpose: KeyPurpose, generation: i64, activates: i64, publish_until: Option<i64>) -> SigningKeyRecord {
    let (kid, private_key, certificate) = match purpose {
        KeyPurpose::Jwt(alg) => {
            let g = SigningKey::generate(alg).unwrap();
            (
                g.key.kid().to_string(),
                SigningKey::pkcs8_b64(&g.pkcs8_der).to_string(),
                None,
            )
        }
        KeyPurpose::Saml(family) => {
            let c = certificate::generate(family, "old", T0.millis() / 1000).unwrap();
            let cert = TrustedCert::from_der(&c.cert_der).unwrap().b64();
            (
                certificate_kid(&c.cert_der),
                SigningKey::pkcs8_b64(&c.pkcs8_der).to_string(),
                Some(cert),
            )
        }
    };
    SigningKeyRecord {
        kid,
        purpose,
        generation,
        private_key,
        certificate,
        created_at: T0.plus_seconds(-30 * DAY + generation),
        activates_at: T0.plus_seconds(activates),
        publish_until: publish_until.map(|s| T0.plus_seconds(s)),
    }
}

pub(crate) async fn check_key_ring_migration_keeps_keys(db: &TestDb) {
    let rs256 = KeyPurpose::Jwt(SigningAlg::Rs256);
    let keys = vec![
        stored_key(rs256, 1, -20 * DAY, Some(DAY)),
        stored_key(rs256, 2, -3600, None),
        stored_key(KeyPurpose::Jwt(SigningAlg::Es256), 1, 3600, None),
        stored_key(RSA, 1, -DAY, None),
        stored_key(EC, 3, 600, None),
    ];
    schema_8_with(db, &keys).await;
    let replayed = format!("{}\nsp\n_r1", Uuid::nil());
    db.exec(&format!(
        "INSERT INTO saml_request_ids (key_hash, expires_at) VALUES ('{}', {})",
        sha256_hex(replayed.as_bytes()),
        T0.plus_seconds(600).millis()
    ))
    .await;
    assert_eq!(db.store.schema_version().await.unwrap(), 8);

    let report = db.store.migrate().await.unwrap();
    assert_eq!(
        report,
        MigrationReport {
            from: 8,
            to: KNOWN_SCHEMA_VERSION
        }
    );
    assert!(db.count("SELECT COUNT(*) FROM signing_keys").await.is_err());
    assert!(db.count("SELECT COUNT(*) FROM saml_keys").await.is_err());
    // Every key, with its kid, generation, state and dates.
    let mut migrated = db.store.signing_keys().await.unwrap();
    let mut want = keys.clone();
    migrated.sort_by(|a, b| a.kid.cmp(&b.kid));
    want.sort_by(|a, b| a.kid.cmp(&b.kid));
    assert_eq!(migrated, want);

    // And they work: the same keys sign, are published and list as before.
    let store = Arc::new(db.store.clone());
    let clock = Arc::new(FixedClock::new(T0));
    let dir = directory(&store, &clock);
    let signer = dir.keys().signing_key(SigningAlg::Rs256).await.unwrap();
    assert_eq!(signer.kid(), keys[1].kid);
    assert!(dir.keys().verifying_key(&keys[0].kid).await.unwrap().is_some());
    assert_eq!(
        dir.keys().published_jwks().await.unwrap()["keys"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    let ring = dir.keys().ring().await.unwrap();
    assert_eq!(ring.current(RSA, T0).unwrap().kid, keys[3].kid);
    assert_eq!(
        published_certificates(&dir, KeyFamily::Rsa, false).await.unwrap(),
        vec![keys[3].certificate.clone().unwrap()]
    );
    let status = |kind| {
        let dir = dir.clone();
        async move {
            let list = dir.keys().list(kind).await.unwrap();
            list.iter().map(|k| (k.kid.clone(), k.status)).collect::<Vec<_>>()
        }
    };
    let jwt = status(KeyKind::Jwt).await;
    assert!(jwt.contains(&(keys[0].kid.clone(), "retiring")) && jwt.contains(&(keys[1].kid.clone(), "signing")));
    assert!(jwt.contains(&(keys[2].kid.clone(), "next")));
    let saml = status(KeyKind::Saml).await;
    assert!(saml.contains(&(keys[3].kid.clone(), "signing")) && saml.contains(&(keys[4].kid.clone(), "next")));
    // Generations go on from the migrated ones.
    let rotated = dir
        .keys()
        .rotate(&gatehouse_core::Audit::cli("tester"), &[EC], 0)
        .await
        .unwrap();
    assert_eq!(rotated[0].generation, 4);
    // A request ID answered before the migration is still a replay after it.
    assert!(!dir.replay().claim(&replayed, T0.plus_seconds(600)).await.unwrap());
    assert!(dir.replay().claim("another", T0.plus_seconds(600)).await.unwrap());
}

pub(crate) async fn check_replay_ids(db: &TestDb) {
    let env = env(db).await;
    let other_store = Arc::new(db.second_store().await);
    let other = directory(&other_store, &env.clock);
    let until = T0.plus_seconds(600);
    // Of two nodes seeing the same id at once, exactly one claims it.
    let (a, b) = tokio::join!(
        env.dir.replay().claim("app\nsp\n_r1", until),
        other.replay().claim("app\nsp\n_r1", until)
    );
    assert!(a.unwrap() ^ b.unwrap());
    assert!(!env.dir.replay().claim("app\nsp\n_r1", until).await.unwrap());
    assert!(env.dir.replay().claim("app\nsp2\n_r1", until).await.unwrap());
    assert!(env.dir.replay().claim("app2\nsp\n_r1", until).await.unwrap());
    // Housekeeping forgets ids whose time is over, and only those.
    assert_eq!(env.dir.replay().purge_expired().await.unwrap(), 0);
    env.clock.advance_seconds(601);
    assert_eq!(env.dir.replay().purge_expired().await.unwrap(), 3);
    other_store.close().await;
}

pub(crate) async fn check_parked_records(db: &TestDb) {
    let env = env(db).await;
    let other_store = Arc::new(db.second_store().await);
    let other = directory(&other_store, &env.clock);
    let app = Uuid::new_v4();
    let parked = ParkedRequest {
        app_id: app,
        acs_url: "https://sp/acs".into(),
        request_id: Some("_r2".into()),
        relay_state: Some("rs".into()),
        not_before: Some(Timestamp(T0.millis() - 1)),
        logout: false,
    };
    // Readable on every node while waiting, for its own application only; taken once.
    let token = parked.park(&env.dir).await.unwrap();
    assert_eq!(
        ParkedRequest::peek(&other, &token, app).await.unwrap(),
        Some(parked.clone())
    );
    assert_eq!(ParkedRequest::peek(&other, &token, Uuid::new_v4()).await.unwrap(), None);
    let (x, y) = tokio::join!(
        ParkedRequest::take(&env.dir, &token, app),
        ParkedRequest::take(&other, &token, app)
    );
    let (x, y) = (x.unwrap(), y.unwrap());
    assert!(x.is_some() ^ y.is_some());
    assert_eq!(ParkedRequest::peek(&env.dir, &token, app).await.unwrap(), None);
    // A record of another kind is not a parked request.
    let foreign = env
        .dir
        .parking()
        .park(&json!({"kind": "other", "app_id": app}), 60)
        .await
        .unwrap();
    assert_eq!(ParkedRequest::peek(&env.dir, &foreign, app).await.unwrap(), None);
    assert_eq!(env.dir.parking().peek::<ParkedRequest>("").await.unwrap(), None);
    // Expired parked requests are gone.
    let token = parked.park(&env.dir).await.unwrap();
    env.clock.advance_seconds(16 * 60);
    assert_eq!(ParkedRequest::peek(&env.dir, &token, app).await.unwrap(), None);
    assert_eq!(ParkedRequest::take(&env.dir, &token, app).await.unwrap(), None);
    other_store.close().await;
}
