//! Blueprints against a real database: SQLite always, PostgreSQL when
//! GATEHOUSE_TEST_DATABASE_URL is set (the export round trip runs on both).

use std::collections::HashMap;
use std::sync::Arc;

use gatehouse_blueprint::plan::{Options, Source, plan};
use gatehouse_blueprint::{apply, export};
use gatehouse_core::password_policy::PasswordPolicy;
use gatehouse_core::{Audit, Directory, FixedClock, ProviderKind, Store, Timestamp};
use gatehouse_crypto::{HashParams, PasswordHasher};
use gatehouse_store::{ConnectOptions, SqlStore};
use serde_json::{Map, Value, json};
use sqlx::{AssertSqlSafe, Connection};

struct Db {
    /// The storage itself, for assertions on what was written.
    store: Arc<SqlStore>,
    dir: Directory,
    _tmp: Option<tempfile::TempDir>,
}

fn hasher() -> PasswordHasher {
    PasswordHasher::new(
        HashParams {
            m_cost_kib: 64,
            t_cost: 1,
            p_cost: 1,
        },
        2,
    )
    .unwrap()
}

async fn on(url: &str, tmp: Option<tempfile::TempDir>) -> Db {
    let store = SqlStore::connect(url, ConnectOptions::default()).await.unwrap();
    store.migrate().await.unwrap();
    let store = Arc::new(store);
    let dir = Directory::new(
        store.clone(),
        Arc::new(FixedClock::new(Timestamp(1_790_000_000_000))),
        hasher(),
        PasswordPolicy::default(),
    );
    Db { store, dir, _tmp: tmp }
}

async fn sqlite() -> Db {
    sqlx::any::install_default_drivers();
    let tmp = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", tmp.path().join("gh.db").display());
    on(&url, Some(tmp)).await
}

/// A fresh PostgreSQL database, or None when none is configured.
async fn postgres() -> Option<Db> {
    sqlx::any::install_default_drivers();
    let admin = std::env::var("GATEHOUSE_TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty())?;
    let name = format!("gh_bp_{}", uuid::Uuid::new_v4().simple());
    let mut conn = sqlx::AnyConnection::connect(&admin).await.unwrap();
    sqlx::raw_sql(AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut conn)
        .await
        .unwrap();
    let base = admin.rsplit_once('/').map(|(b, _)| b).unwrap_or(&admin);
    Some(on(&format!("{base}/{name}"), None).await)
}

fn opts<'a>(env: &'a (dyn Fn(&str) -> Option<String> + Sync), context: Value) -> Options<'a> {
    Options {
        allow_unsupported: false,
        context: context.as_object().cloned().unwrap_or_default(),
        env,
    }
}

fn no_env(_: &str) -> Option<String> {
    None
}

fn audit() -> Audit {
    Audit::cli("tester")
}

async fn apply_text(db: &Db, text: &str, o: &Options<'_>) -> Result<gatehouse_blueprint::Applied, String> {
    let p = plan(&db.dir, &[Source::from_text("test.yaml", text)], o)
        .await
        .map_err(|e| e.to_string())?;
    apply(&db.dir, &audit(), &p).await.map_err(|e| e.to_string())
}

const LDAP_BP: &str = r#"
version: 1
entries:
  - model: authentik_providers_ldap.ldapprovider
    id: ldap-provider
    identifiers: {name: Directory}
    attrs:
      base_dn: DC=ldap,DC=example,DC=com
      search_group: !Find [authentik_core.group, [name, staff]]
      mfa: required
      uid_start_number: 10000
      bind_mode: cached
      search_mode: cached
  - model: authentik_core.application
    identifiers: {slug: directory}
    attrs: {name: Directory, provider: !KeyOf ldap-provider}
"#;

#[tokio::test]
async fn ldap_provider_from_authentik_blueprint() {
    let db = sqlite().await;
    let o = opts(&no_env, json!({}));
    apply_text(
        &db,
        "version: 1\nentries:\n  - model: authentik_core.group\n    identifiers: {name: staff}\n",
        &o,
    )
    .await
    .unwrap();
    apply_text(&db, LDAP_BP, &o).await.unwrap();
    let app = db.store.application_by_slug("directory").await.unwrap().unwrap();
    assert_eq!(app.provider, Some(ProviderKind::Ldap));
    assert_eq!(app.provider_key.as_deref(), Some("dc=ldap,dc=example,dc=com"));
    let cfg = gatehouse_ldap::LdapConfig::from_value(&app.provider_config).unwrap();
    assert_eq!(cfg.search_group.as_deref(), Some("staff"));
    assert_eq!(
        (cfg.mfa, cfg.uid_start_number, cfg.gid_start_number),
        (gatehouse_ldap::MfaMode::Required, 10000, 4000)
    );
    // Applying again changes nothing; a missing search group is an error at its line.
    let again = apply_text(&db, LDAP_BP, &o).await.unwrap();
    assert!(again.changes.is_empty(), "{:#?}", again.changes);
    let bad = LDAP_BP.replace("!Find [authentik_core.group, [name, staff]]", "nobody");
    let e = apply_text(&db, &bad, &o).await.unwrap_err();
    assert!(e.contains("search_group"), "{e}");
    let bad = LDAP_BP.replace("DC=ldap,DC=example,DC=com", "not a dn");
    assert!(apply_text(&db, &bad, &o).await.unwrap_err().contains("base DN"));
}

const STACK: &str = r#"
version: 1
metadata:
  name: example-stack
  labels:
    blueprints.goauthentik.io/description: "A stack"
context:
  domain: example.com
  with_wiki: true
entries:
  - model: authentik_core.group
    id: staff
    identifiers:
      name: staff
  - model: authentik_core.group
    id: grafana-admins
    identifiers:
      name: !Format ["%s-admins", grafana]
    attrs:
      parent: !KeyOf staff
  - model: authentik_core.user
    id: alice
    identifiers:
      username: alice
    attrs:
      name: Alice Example
      email: !Format ["alice@%s", !Context domain]
      groups:
        - !KeyOf grafana-admins
      password: !Env ALICE_PASSWORD
  - model: authentik_core.user
    identifiers:
      username: bob
    attrs:
      email: bob@example.com
      is_active: !If [!Condition [AND, !Context with_wiki, true], true, false]
      groups: [!Find [authentik_core.group, [name, staff]]]
  - model: authentik_providers_oauth2.oauth2provider
    id: grafana-provider
    identifiers:
      name: Grafana
    attrs:
      client_id: grafana
      client_secret: !Env GRAFANA_SECRET
      authorization_flow: !Find [authentik_flows.flow, [slug, default-provider-authorization-explicit-consent]]
      redirect_uris:
        - matching_mode: strict
          url: !Format ["https://grafana.%s/login/generic_oauth", !Context domain]
      access_token_validity: minutes=5
      property_mappings:
        - !Find [authentik_providers_oauth2.scopemapping, [managed, goauthentik.io/providers/oauth2/scope-email]]
  - model: authentik_core.application
    id: grafana
    identifiers:
      slug: grafana
    attrs:
      name: Grafana
      provider: !KeyOf grafana-provider
  - model: authentik_providers_proxy.proxyprovider
    id: wiki-provider
    conditions:
      - !Context with_wiki
    identifiers:
      name: Wiki
    attrs:
      mode: forward_single
      external_host: https://wiki.example.com
      skip_path_regex: !File wiki-skip.txt
  - model: authentik_core.application
    id: wiki
    conditions: [!Context with_wiki]
    identifiers:
      slug: wiki
    attrs:
      name: Wiki
      provider: !KeyOf wiki-provider
  - model: authentik_policies.policybinding
    identifiers:
      target: !KeyOf grafana
      group: !KeyOf grafana-admins
    attrs:
      order: 0
  - model: authentik_core.application
    identifiers:
      slug: skipped
    conditions:
      - !Condition [NOT_A_MODE]
    attrs:
      name: never
"#;

fn stack_env(name: &str) -> Option<String> {
    match name {
        "ALICE_PASSWORD" => Some("correct horse battery staple".into()),
        "GRAFANA_SECRET" => Some("grafana-client-secret-0123456789".into()),
        _ => None,
    }
}

#[tokio::test]
async fn authentik_blueprint_plans_and_applies() {
    let db = sqlite().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("wiki-skip.txt"), "^/public/\n").unwrap();
    let path = dir.path().join("stack.yaml");
    // The last entry's condition uses a bad !Condition mode: an error with its line.
    std::fs::write(&path, STACK).unwrap();
    let o = opts(&stack_env, json!({}));
    let err = plan(&db.dir, &[Source::read(&path).unwrap()], &o)
        .await
        .err()
        .expect("bad condition mode");
    assert!(err.to_string().contains("unknown mode 'NOT_A_MODE'"), "{err}");
    assert_eq!(err.line, 87, "{err}");
    assert!(
        err.to_string().contains("entry 10 (authentik_core.application)"),
        "{err}"
    );

    let good = STACK.replace("!Condition [NOT_A_MODE]", "!Condition [NOR, true]");
    std::fs::write(&path, &good).unwrap();
    let p = plan(&db.dir, &[Source::read(&path).unwrap()], &o).await.unwrap();
    let secrets = gatehouse_blueprint::plan::prepare(&db.dir, &p, false).await.unwrap();
    let (_, changes) = p.steps(&secrets);
    let summary: Vec<String> = changes
        .iter()
        .map(|c| format!("{} {} {}", c.action, c.model, c.name))
        .collect();
    for want in [
        "create group staff",
        "create group grafana-admins",
        "create user alice",
        "create user bob",
        "create membership alice in grafana-admins",
        "create membership bob in staff",
        "create application grafana",
        "create application wiki",
        "create binding grafana-admins → grafana",
    ] {
        assert!(summary.contains(&want.to_string()), "missing {want} in {summary:#?}");
    }
    assert!(!summary.iter().any(|s| s.contains("skipped")));
    // Secrets never appear in a plan.
    let shown = serde_json::to_string(&changes).unwrap();
    assert!(!shown.contains("grafana-client-secret"));
    assert!(!shown.contains("correct horse"));
    // Planning changed nothing.
    assert!(db.store.users().await.unwrap().is_empty());

    let applied = apply(&db.dir, &audit(), &p).await.unwrap();
    assert_eq!(applied.changes.len(), changes.len());
    let alice = db.store.user_by_name("alice").await.unwrap().unwrap();
    assert_eq!(alice.email, "alice@example.com");
    assert!(alice.has_password());
    let grafana = db.store.application_by_slug("grafana").await.unwrap().unwrap();
    assert_eq!(grafana.provider, Some(ProviderKind::Oidc));
    let cfg = gatehouse_oidc::config::OidcConfig::from_value(&grafana.provider_config).unwrap();
    assert_eq!(
        cfg.redirect_uris[0].url,
        "https://grafana.example.com/login/generic_oauth"
    );
    assert_eq!(cfg.access_token_validity_secs, 300);
    assert_eq!(cfg.consent, gatehouse_oidc::config::ConsentMode::Explicit);
    assert!(
        db.dir
            .oauth()
            .client_secret_matches(
                "grafana-client-secret-0123456789",
                cfg.client_secret_hash.as_deref().unwrap()
            )
            .await
            .unwrap()
    );
    let wiki = db.store.application_by_slug("wiki").await.unwrap().unwrap();
    assert_eq!(wiki.provider, Some(ProviderKind::Proxy));
    assert_eq!(wiki.provider_config["skip_path_regex"], "^/public/");
    // Access: alice (grafana-admins) may use Grafana, bob (staff only) may not.
    let bob = db.store.user_by_name("bob").await.unwrap().unwrap();
    assert!(db.dir.access().may_use(&alice, &grafana).await.unwrap());
    assert!(!db.dir.access().may_use(&bob, &grafana).await.unwrap());
    // The applied state is recorded.
    let inst = db.store.blueprint_instances().await.unwrap();
    assert_eq!(inst.len(), 1);
    assert_eq!(
        (inst[0].name.as_str(), inst[0].result.as_str()),
        ("example-stack", "applied")
    );

    // A second apply changes nothing (secrets compared, not rehashed).
    let p2 = plan(&db.dir, &[Source::read(&path).unwrap()], &o).await.unwrap();
    let again = apply(&db.dir, &audit(), &p2).await.unwrap();
    assert!(again.changes.is_empty(), "{:#?}", again.changes);

    // A changed attribute shows field by field.
    let changed = good.replace("minutes=5", "minutes=15");
    std::fs::write(&path, &changed).unwrap();
    let p3 = plan(&db.dir, &[Source::read(&path).unwrap()], &o).await.unwrap();
    let (_, c3) = p3.steps(&gatehouse_blueprint::plan::prepare(&db.dir, &p3, false).await.unwrap());
    assert_eq!(c3.len(), 1, "{c3:#?}");
    assert_eq!(c3[0].action, "update");
    assert_eq!(c3[0].fields[0].field, "access_token_validity_secs");
    assert_eq!(
        (c3[0].fields[0].from.clone(), c3[0].fields[0].to.clone()),
        (json!(300), json!(900))
    );
}

#[tokio::test]
async fn a_failing_entry_applies_nothing_and_is_named() {
    let db = sqlite().await;
    // Two applications with the same OIDC client id: only the database notices.
    let text = r#"
version: 1
metadata: {name: clash}
entries:
  - model: authentik_core.user
    identifiers: {username: carol}
  - model: authentik_providers_oauth2.oauth2provider
    id: p1
    identifiers: {name: One}
    attrs: {client_id: same, client_type: public, redirect_uris: [{matching_mode: strict, url: "https://one.example.com/cb"}]}
  - model: authentik_core.application
    identifiers: {slug: one}
    attrs: {name: One, provider: !KeyOf p1}
  - model: authentik_providers_oauth2.oauth2provider
    id: p2
    identifiers: {name: Two}
    attrs: {client_id: same, client_type: public, redirect_uris: [{matching_mode: strict, url: "https://two.example.com/cb"}]}
  - model: authentik_core.application
    identifiers: {slug: two}
    attrs: {name: Two, provider: !KeyOf p2}
"#;
    let err = apply_text(&db, text, &opts(&no_env, json!({}))).await.unwrap_err();
    assert!(
        err.contains("test.yaml:18: entry 5 (authentik_core.application)"),
        "{err}"
    );
    assert!(err.contains("nothing was applied"), "{err}");
    assert!(err.contains("same"), "{err}");
    assert!(db.store.user_by_name("carol").await.unwrap().is_none());
    assert!(db.store.applications().await.unwrap().is_empty());
}

#[tokio::test]
async fn state_semantics() {
    let db = sqlite().await;
    let o = opts(&no_env, json!({}));
    let doc = |state: &str, name: &str| {
        format!(
            "version: 1\nentries:\n  - model: authentik_core.user\n    state: {state}\n    identifiers: {{username: dave}}\n    attrs: {{name: {name}}}\n"
        )
    };
    // must_created on a new object creates it.
    apply_text(&db, &doc("must_created", "One"), &o).await.unwrap();
    assert_eq!(db.store.user_by_name("dave").await.unwrap().unwrap().name, "One");
    // must_created on an existing one fails.
    let e = apply_text(&db, &doc("must_created", "Two"), &o).await.unwrap_err();
    assert!(e.contains("must_created: the object already exists"), "{e}");
    assert!(e.contains("test.yaml:3:5"), "{e}");
    // created never updates.
    let r = apply_text(&db, &doc("created", "Three"), &o).await.unwrap();
    assert!(r.changes.is_empty());
    assert_eq!(db.store.user_by_name("dave").await.unwrap().unwrap().name, "One");
    // present updates only the attrs given.
    apply_text(&db, &doc("present", "Four"), &o).await.unwrap();
    let d = db.store.user_by_name("dave").await.unwrap().unwrap();
    assert_eq!(d.name, "Four");
    assert!(d.is_active);
    // absent deletes, and is a no-op when already gone.
    let r = apply_text(&db, &doc("absent", "x"), &o).await.unwrap();
    assert_eq!(r.changes[0].action, "delete");
    assert!(db.store.user_by_name("dave").await.unwrap().is_none());
    assert!(
        apply_text(&db, &doc("absent", "x"), &o)
            .await
            .unwrap()
            .changes
            .is_empty()
    );
    // An unknown state is refused.
    let e = apply_text(&db, &doc("sometimes", "x"), &o).await.unwrap_err();
    assert!(e.contains("unknown state 'sometimes'"), "{e}");
}

#[tokio::test]
async fn unsupported_models_and_fields_name_file_and_line() {
    let db = sqlite().await;
    let text = "version: 1\nentries:\n  - model: authentik_core.group\n    identifiers: {name: g}\n  - model: authentik_policies_expression.expressionpolicy\n    identifiers: {name: s}\n  - model: authentik_core.user\n    identifiers: {username: u}\n    attrs:\n      nmae: typo\n";
    let o = opts(&no_env, json!({}));
    let e = apply_text(&db, text, &o).await.unwrap_err();
    assert!(e.starts_with("test.yaml:5:12: entry 2 (authentik_policies_expression.expressionpolicy): model authentik_policies_expression.expressionpolicy is not supported (hint: Gatehouse has no expression policies"), "{e}");
    let fixed = text.replace("authentik_policies_expression.expressionpolicy", "authentik_core.group");
    let e = apply_text(&db, &fixed, &o).await.unwrap_err();
    assert!(
        e.starts_with("test.yaml:10:7: entry 3 (authentik_core.user): unknown field nmae"),
        "{e}"
    );
    assert!(e.contains("did you mean name?"), "{e}");
    let e = apply_text(&db, "version: 1\nentries:\n  - model: authentik_core.usr\n", &o)
        .await
        .unwrap_err();
    assert!(e.contains("did you mean authentik_core.user?"), "{e}");
    // --allow-unsupported: warnings, listed; the rest applies.
    let lenient = Options {
        allow_unsupported: true,
        ..opts(&no_env, json!({}))
    };
    let r = apply_text(&db, text, &lenient).await.unwrap();
    assert_eq!(r.warnings.len(), 2, "{:?}", r.warnings);
    assert!(r.warnings[0].contains("test.yaml:5:12"));
    assert!(r.warnings[1].contains("test.yaml:10:7"));
    assert!(db.store.user_by_name("u").await.unwrap().is_some());
    // Nothing was applied by the failed attempts before: only this one.
    assert_eq!(db.store.groups().await.unwrap().len(), 1);
}

async fn round_trip(a: Db, b: Db) {
    let o = opts(&stack_env, json!({}));
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("wiki-skip.txt"), "^/public/\n^/api/health$").unwrap();
    let path = tmp.path().join("stack.yaml");
    std::fs::write(&path, STACK.replace("!Condition [NOT_A_MODE]", "false")).unwrap();
    let p = plan(&a.dir, &[Source::read(&path).unwrap()], &o).await.unwrap();
    apply(&a.dir, &audit(), &p).await.unwrap();
    // A token too.
    let tok = "version: 1\nentries:\n  - model: authentik_core.token\n    identifiers: {identifier: ci}\n    attrs: {user: !Find [authentik_core.user, [username, bob]], intent: api, key: !Env CI_TOKEN, expiring: false}\n";
    let env = |n: &str| (n == "CI_TOKEN").then(|| "ci-token-0123456789abcdef".to_string());
    apply_text(&a, tok, &opts(&env, json!({}))).await.unwrap();
    // A SAML application too (two ACS URLs, response and assertion signed, SLO).
    apply_text(&a, SAML_RT, &opts(&no_env, json!({}))).await.unwrap();
    // And an LDAP directory searched by staff.
    apply_text(&a, LDAP_BP, &opts(&no_env, json!({}))).await.unwrap();

    let first = export::export(&a.dir, true).await.unwrap();
    assert!(
        first.yaml.contains("model: authentik_providers_ldap.ldapprovider"),
        "{}",
        first.yaml
    );
    assert!(
        first.yaml.contains("model: authentik_providers_saml.samlprovider"),
        "{}",
        first.yaml
    );
    assert!(first.yaml.contains("provider: !KeyOf provider-wiki"), "{}", first.yaml);
    assert!(
        first.yaml.contains("client_secret: !Env GRAFANA_CLIENT_SECRET"),
        "{}",
        first.yaml
    );
    assert!(first.yaml.contains("key: !Env CI_TOKEN"), "{}", first.yaml);
    assert!(first.yaml.contains("password_hash: $argon2") || first.yaml.contains("password_hash: \"$argon2"));
    assert!(first.notes.iter().any(|n| n.contains("cannot be exported")));
    let secrets: HashMap<&str, &str> = HashMap::from([
        ("GRAFANA_CLIENT_SECRET", "grafana-client-secret-0123456789"),
        ("CI_TOKEN", "ci-token-0123456789abcdef"),
    ]);
    let env2 = move |n: &str| secrets.get(n).map(|s| s.to_string());
    let ob = opts(&env2, json!({}));
    let p = plan(&b.dir, &[Source::from_text("export.yaml", &first.yaml)], &ob)
        .await
        .unwrap();
    apply(&b.dir, &audit(), &p).await.unwrap();
    let second = export::export(&b.dir, true).await.unwrap();
    assert_eq!(first.yaml, second.yaml);
    // The same people can do the same things.
    let alice = b.store.user_by_name("alice").await.unwrap().unwrap();
    let v = b
        .dir
        .hasher()
        .verify("correct horse battery staple", alice.password_hash.as_deref().unwrap())
        .await
        .unwrap();
    assert!(v.is_match());
    let g = b.store.application_by_slug("grafana").await.unwrap().unwrap();
    let cfg = gatehouse_oidc::config::OidcConfig::from_value(&g.provider_config).unwrap();
    assert!(
        b.dir
            .oauth()
            .client_secret_matches(
                "grafana-client-secret-0123456789",
                cfg.client_secret_hash.as_deref().unwrap()
            )
            .await
            .unwrap()
    );
    // Applying the export to the source database changes nothing.
    let pa = plan(&a.dir, &[Source::from_text("export.yaml", &first.yaml)], &ob)
        .await
        .unwrap();
    assert!(apply(&a.dir, &audit(), &pa).await.unwrap().changes.is_empty());
}

const SAML_RT: &str = "version: 1\nentries:\n  - model: authentik_providers_saml.samlprovider\n    id: wiki-sp\n    identifiers: {name: Wiki}\n    attrs:\n      acs_urls: [https://wiki.example.com/saml/acs, https://wiki.example.com/saml/acs2]\n      audience: https://wiki.example.com/saml/metadata\n      sign_response: true\n      name_id: transient\n      sls_url: https://wiki.example.com/saml/sls\n      sls_binding: post\n      assertion_valid_not_on_or_after: minutes=10\n  - model: authentik_core.application\n    identifiers: {slug: wiki}\n    attrs: {name: Wiki, provider: !KeyOf wiki-sp}\n  - model: authentik_providers_saml.samlprovider\n    id: mail-sp\n    identifiers: {name: Mail}\n    attrs:\n      acs_url: https://mail.example.com/acs\n      audience: mail\n      name_id_mapping: !Find [authentik_providers_saml.samlpropertymapping, [managed, goauthentik.io/providers/saml/email]]\n      signature_algorithm: http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256\n  - model: authentik_core.application\n    identifiers: {slug: mail}\n    attrs: {name: Mail, provider: !KeyOf mail-sp}\n";

#[tokio::test]
async fn export_round_trip_sqlite() {
    round_trip(sqlite().await, sqlite().await).await;
}

#[tokio::test]
async fn export_round_trip_postgres() {
    let (Some(a), Some(b)) = (postgres().await, postgres().await) else {
        eprintln!("skipped: GATEHOUSE_TEST_DATABASE_URL is not set");
        return;
    };
    round_trip(a, b).await;
}

#[tokio::test]
async fn context_and_env_defaults() {
    let db = sqlite().await;
    let text = "version: 1\ncontext: {team: ops}\nentries:\n  - model: gatehouse.group\n    identifiers: {name: !Format ['%s-%s', !Context team, !Env [NOPE, fallback]]}\n";
    apply_text(&db, text, &opts(&no_env, json!({}))).await.unwrap();
    assert!(db.store.group_by_name("ops-fallback").await.unwrap().is_some());
    // The caller's context overrides the blueprint's.
    apply_text(&db, text, &opts(&no_env, json!({"team": "dev"})))
        .await
        .unwrap();
    assert!(db.store.group_by_name("dev-fallback").await.unwrap().is_some());
    let _ = Map::<String, Value>::new();
}

#[tokio::test]
async fn watched_directory_is_reapplied_on_change_and_periodically() {
    use gatehouse_blueprint::watch::{WatchSettings, apply_dir, run};
    let db = sqlite().await;
    let bp = tempfile::tempdir().unwrap();
    let file = bp.path().join("groups.yaml");
    let doc = |name: &str| {
        format!(
            "version: 1\nmetadata: {{name: g}}\nentries:\n  - model: authentik_core.group\n    identifiers: {{name: {name}}}\n"
        )
    };
    std::fs::write(&file, doc("one")).unwrap();
    assert_eq!(apply_dir(&db.dir, bp.path(), None).await, (1, true));
    let (tx, rx) = tokio::sync::watch::channel(false);
    let task = tokio::spawn(run(
        db.dir.clone(),
        WatchSettings {
            dir: bp.path().to_path_buf(),
            poll: std::time::Duration::from_millis(50),
            interval: Some(std::time::Duration::from_millis(400)),
            env_file: None,
            start_failed: false,
        },
        rx,
    ));
    // A changed file is re-applied.
    std::fs::write(&file, doc("two")).unwrap();
    let mut seen = false;
    for _ in 0..100 {
        if db.store.group_by_name("two").await.unwrap().is_some() {
            seen = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(seen, "the change was not applied");
    // Drift is repaired by the periodic re-apply, without a file change.
    let g = db.store.group_by_name("two").await.unwrap().unwrap();
    let mut t = db.store.begin().await.unwrap();
    t.delete_group(g.id).await.unwrap();
    t.commit().await.unwrap();
    let mut back = false;
    for _ in 0..100 {
        if db.store.group_by_name("two").await.unwrap().is_some() {
            back = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(back, "the periodic re-apply did not restore the group");
    let inst = db.store.blueprint_instances().await.unwrap();
    assert_eq!(inst[0].result, "applied");
    // A broken file is recorded as failed; the rest keeps applying.
    std::fs::write(bp.path().join("broken.yaml"), "version: 2\n").unwrap();
    let mut failed = false;
    for _ in 0..100 {
        let list = db.store.blueprint_instances().await.unwrap();
        if list
            .iter()
            .any(|i| i.result == "failed" && i.path.ends_with("broken.yaml"))
        {
            failed = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(failed);
    tx.send(true).unwrap();
    task.await.unwrap();
}

#[tokio::test]
async fn providers_blueprints_do_not_model_are_left_alone() {
    let db = sqlite().await;
    // An application with a provider kind blueprints do not map (LDAP).
    db.dir
        .apps()
        .create_with(
            &audit(),
            "nextcloud",
            "Nextcloud",
            None,
            Some(gatehouse_core::ProviderSpec {
                kind: ProviderKind::Ldap,
                key: Some("https://nextcloud.example.com/saml".into()),
                config: json!({"acs_url": "https://nextcloud.example.com/acs"}),
                shown: json!({}),
            }),
        )
        .await
        .unwrap();
    let text = "version: 1\nentries:\n  - model: authentik_core.application\n    identifiers: {slug: nextcloud}\n    attrs: {name: Nextcloud Files}\n";
    let r = apply_text(&db, text, &opts(&no_env, json!({}))).await.unwrap();
    assert_eq!(r.changes.len(), 1);
    assert_eq!(r.changes[0].fields.len(), 1, "{:?}", r.changes[0].fields);
    let app = db.store.application_by_slug("nextcloud").await.unwrap().unwrap();
    assert_eq!(app.provider, Some(ProviderKind::Ldap));
    assert_eq!(app.provider_config["acs_url"], "https://nextcloud.example.com/acs");
}

#[tokio::test]
async fn the_device_flow_is_a_provider_field_and_survives_export() {
    let db = sqlite().await;
    let text = "version: 1\nentries:\n  - model: authentik_providers_oauth2.oauth2provider\n    id: tv-provider\n    identifiers: {name: TV}\n    attrs:\n      client_id: tv\n      client_type: public\n      redirect_uris: [{matching_mode: strict, url: 'https://tv.example.com/cb'}]\n      refresh_token_validity: hours=12\n      device_flow: true\n  - model: authentik_core.application\n    identifiers: {slug: tv}\n    attrs: {name: TV, provider: !KeyOf tv-provider}\n";
    apply_text(&db, text, &opts(&no_env, json!({}))).await.unwrap();
    let tv = db.store.application_by_slug("tv").await.unwrap().unwrap();
    let cfg = gatehouse_oidc::config::OidcConfig::from_value(&tv.provider_config).unwrap();
    assert!(cfg.device_flow);
    assert_eq!(cfg.refresh_token_validity_secs, 12 * 3600);
    exports_and_reapplies_unchanged(&db, "device_flow: true").await;
    let off = text.replace("device_flow: true", "device_flow: false");
    apply_text(&db, &off, &opts(&no_env, json!({}))).await.unwrap();
    let tv = db.store.application_by_slug("tv").await.unwrap().unwrap();
    assert!(
        !gatehouse_oidc::config::OidcConfig::from_value(&tv.provider_config)
            .unwrap()
            .device_flow
    );
}

/// The export holds `expected`, and applying it again changes nothing.
async fn exports_and_reapplies_unchanged(db: &Db, expected: &str) {
    let exported = export::export(&db.dir, false).await.unwrap();
    assert!(exported.yaml.contains(expected), "{}", exported.yaml);
    let again = plan(
        &db.dir,
        &[Source::from_text("export.yaml", &exported.yaml)],
        &opts(&no_env, json!({})),
    )
    .await
    .unwrap();
    assert!(apply(&db.dir, &audit(), &again).await.unwrap().changes.is_empty());
}

/// A provider's own name (authentik's, or one given through the REST API) is
/// stored, exported, found by `!Find`, and changed only when the file says so.
#[tokio::test]
async fn a_provider_keeps_its_own_name() {
    let db = sqlite().await;
    let text = "version: 1\nentries:\n  - model: authentik_providers_oauth2.oauth2provider\n    id: p\n    identifiers: {name: Grafana OIDC}\n    attrs:\n      client_id: grafana\n      client_type: public\n      redirect_uris: [{matching_mode: strict, url: 'https://grafana.example.com/cb'}]\n  - model: authentik_core.application\n    identifiers: {slug: grafana}\n    attrs: {name: Grafana, provider: !KeyOf p}\n";
    apply_text(&db, text, &opts(&no_env, json!({}))).await.unwrap();
    let app = db.store.application_by_slug("grafana").await.unwrap().unwrap();
    assert_eq!(app.provider_name.as_deref(), Some("Grafana OIDC"));
    assert!(app.provider_pk.is_some());
    exports_and_reapplies_unchanged(&db, "name: Grafana OIDC").await;
    // Found by its name, renamed by the file.
    let rename = "version: 1\nentries:\n  - model: authentik_providers_oauth2.oauth2provider\n    identifiers: {name: Grafana OIDC}\n    attrs: {name: Grafana SSO}\n";
    let applied = apply_text(&db, rename, &opts(&no_env, json!({}))).await.unwrap();
    assert_eq!(applied.changes.len(), 1);
    let app = db.store.application_by_slug("grafana").await.unwrap().unwrap();
    assert_eq!(app.provider_name.as_deref(), Some("Grafana SSO"));
    assert_eq!(app.provider_key.as_deref(), Some("grafana"));
}
