//! Blueprints and SSO drift in the admin interface: who gets in, CSRF, a
//! broken blueprint changing nothing, the plan as a diff, apply (planned
//! again, confirmed, audited with the admin as actor), the drift of each
//! service of a stack manifest and the repair of one.

use std::path::Path;

use axum::http::StatusCode;
use gatehouse_core::{Event, EventFilter};
use gatehouse_web::WebConfig;
use gatehouse_web::config::BlueprintPaths;

use crate::access::{world, world_with};
use crate::harness::{Browser, PASSWORD, World};
use crate::pages::assert_labelled;

const GETS: &[&str] = &["/if/admin/blueprints/", "/if/admin/drift/"];
const POSTS: &[&str] = &[
    "/if/admin/blueprints/plan",
    "/if/admin/blueprints/apply",
    "/if/admin/drift/fix",
];

/// A new group and person, a new application bound to the group, and a
/// changed name for alice (who exists).
const TEAM: &str = r#"
version: 1
metadata: {name: team}
entries:
  - model: authentik_core.group
    id: editors
    identifiers: {name: editors}
  - model: authentik_core.user
    identifiers: {username: carol}
    attrs: {name: Carol Jones, email: carol@example.com, groups: [!KeyOf editors]}
  - model: authentik_core.user
    identifiers: {username: alice}
    attrs: {name: Alice Liddell}
  - model: authentik_core.group
    identifiers: {name: staff}
  - model: authentik_core.application
    id: notes
    identifiers: {slug: notes}
    attrs: {name: Notes}
  - model: authentik_policies.policybinding
    identifiers: {target: !KeyOf notes, group: !KeyOf editors}
    attrs: {order: 0}
"#;

/// A stack of two services: `wiki` (proxy; its application has no provider
/// yet) and `notes` (OIDC; its env file is a directory Gatehouse cannot read).
fn stack(root: &Path) -> BlueprintPaths {
    std::fs::create_dir_all(root.join("notes.env")).unwrap();
    let manifest = r#"
version: 1
services:
  - name: wiki
    sso: {type: proxy, external_host: "https://wiki.example.test"}
  - name: notes
    sso:
      type: oidc
      redirect_uris: ["https://notes.example.test/cb"]
      client: {env_file: notes.env, client_id_key: CLIENT_ID}
"#;
    std::fs::write(root.join("stack.yaml"), manifest).unwrap();
    BlueprintPaths {
        stack_file: Some(root.join("stack.yaml")),
        ..Default::default()
    }
}

async fn configured(paths: BlueprintPaths) -> World {
    let mut config = WebConfig::for_tests("http://auth.test");
    config.blueprints = paths;
    world_with(false, config).await
}

async fn admin(w: &World) -> (Browser, String) {
    let mut b = w.browser();
    let r = b.sign_in("/if/admin/", "root", PASSWORD).await;
    assert_eq!(r.location(), Some("/if/admin/"), "{}", r.body);
    let csrf = b.get("/if/admin/").await.csrf();
    (b, csrf)
}

async fn events(w: &World) -> Vec<Event> {
    let filter = EventFilter {
        limit: 1000,
        ..Default::default()
    };
    w.dir.events().list(&filter).await.unwrap()
}

/// The value of the hidden field `name` on the page.
fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker).unwrap_or_else(|| panic!("no {name} in {html}")) + marker.len();
    let end = html[start..].find('"').unwrap() + start;
    html[start..end].to_string()
}

#[tokio::test]
async fn a_person_gets_403_and_a_form_without_csrf_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let w = configured(stack(tmp.path())).await;
    let mut alice = w.browser();
    alice.sign_in("/if/user/", "alice", PASSWORD).await;
    let csrf = alice.get("/if/user/").await.csrf();
    let before = events(&w).await.len();
    for path in GETS {
        let page = alice.get(path).await;
        assert_eq!(page.status, StatusCode::FORBIDDEN, "GET {path}");
    }
    for path in POSTS {
        let form = [
            ("csrf_token", csrf.as_str()),
            ("content", TEAM),
            ("service", "wiki"),
            ("confirm", "yes"),
        ];
        assert_eq!(
            alice.post(path, &form).await.status,
            StatusCode::FORBIDDEN,
            "POST {path}"
        );
    }
    let (mut root, _) = admin(&w).await;
    let before_root = events(&w).await.len();
    for path in POSTS {
        for form in [
            vec![("content", TEAM), ("service", "wiki"), ("confirm", "yes")],
            vec![
                ("csrf_token", "forged"),
                ("content", TEAM),
                ("service", "wiki"),
                ("confirm", "yes"),
            ],
        ] {
            let page = root.post(path, &form).await;
            assert_eq!(page.status, StatusCode::FORBIDDEN, "POST {path}");
            assert!(page.body.contains("not sent from this page"), "POST {path}");
        }
    }
    assert!(before_root > before, "the admin's sign-in");
    assert_eq!(events(&w).await.len(), before_root, "nothing changed");
    assert!(w.dir.users().get("carol").await.is_err());
}

#[tokio::test]
async fn a_broken_blueprint_is_explained_and_changes_nothing() {
    let w = world(false).await;
    let (mut b, csrf) = admin(&w).await;
    let before = events(&w).await.len();
    let cases = [
        ("version: 1\nentries:\n  - model: [unclosed\n", "does not plan"),
        (
            "version: 1\nentries:\n  - model: authentik_core.usr\n    identifiers: {username: x}\n",
            "authentik_core.usr",
        ),
        (
            "version: 1\nentries:\n  - model: authentik_core.user\n    identifiers: {username: x}\n    attrs: {name: !File /etc/hostname}\n",
            "not available in an uploaded blueprint",
        ),
        ("", "paste a blueprint"),
    ];
    for (yaml, expected) in cases {
        for path in ["/if/admin/blueprints/plan", "/if/admin/blueprints/apply"] {
            let form = [("csrf_token", csrf.as_str()), ("content", yaml), ("confirm", "yes")];
            let page = b.post(path, &form).await;
            assert_eq!(page.status, StatusCode::OK, "{path} {yaml}");
            assert!(page.body.contains("alert-error"), "{path} {yaml}: {}", page.body);
            assert!(page.body.contains(expected), "{path} {yaml}: {}", page.body);
        }
    }
    let big = "#".repeat(1024 * 1024 + 1);
    let page = b
        .post("/if/admin/blueprints/plan", &[("csrf_token", &csrf), ("content", &big)])
        .await;
    assert!(page.body.contains("larger than 1 MiB"), "{}", page.status);
    assert_eq!(events(&w).await.len(), before, "nothing written");
    assert!(w.dir.users().get("x").await.is_err());
}

#[tokio::test]
async fn an_upload_cannot_read_gatehouse_settings_through_env() {
    let tmp = tempfile::tempdir().unwrap();
    let env_file = tmp.path().join(".env");
    std::fs::write(&env_file, "GATEHOUSE_SECRET_KEY=hunter2-secret\nTEAM_NAME=from-env\n").unwrap();
    let paths = BlueprintPaths {
        env_file: Some(env_file),
        ..Default::default()
    };
    let w = configured(paths).await;
    let (mut b, csrf) = admin(&w).await;
    let yaml = "version: 1\nentries:\n  - model: authentik_core.group\n    identifiers: {name: !Env [GATEHOUSE_SECRET_KEY, unset-name]}\n  - model: authentik_core.group\n    identifiers: {name: !Env TEAM_NAME}\n";
    let page = b
        .post("/if/admin/blueprints/plan", &[("csrf_token", &csrf), ("content", yaml)])
        .await;
    assert!(
        page.body.contains("unset-name") && page.body.contains("from-env"),
        "{}",
        page.body
    );
    assert!(!page.body.contains("hunter2"));
}

/// Plans `yaml` as an upload and applies it, confirmed.
async fn apply_upload(b: &mut Browser, csrf: &str, yaml: &str) {
    let plan = b
        .post("/if/admin/blueprints/plan", &[("csrf_token", csrf), ("content", yaml)])
        .await;
    let digest = hidden(&plan.body, "digest");
    let form = [
        ("csrf_token", csrf),
        ("content", yaml),
        ("digest", &digest),
        ("confirm", "yes"),
    ];
    let done = b.post("/if/admin/blueprints/apply", &form).await;
    assert!(done.body.contains("Applied:"), "{}", done.body);
}

#[tokio::test]
async fn the_plan_shows_creations_and_updates_and_apply_writes_them_as_the_admin() {
    let w = world(false).await;
    let (mut b, csrf) = admin(&w).await;
    let before = events(&w).await.len();
    let form = [
        ("csrf_token", csrf.as_str()),
        ("content", TEAM),
        ("filename", "C:\\fakepath\\team.yaml"),
    ];
    let plan = b.post("/if/admin/blueprints/plan", &form).await;
    assert_eq!(plan.status, StatusCode::OK, "{}", plan.body);
    let body = &plan.body;
    assert!(body.contains("Plan: <span class=\"break\">team.yaml</span>"), "{body}");
    assert!(
        body.contains("change-create") && body.contains("<strong class=\"break\">carol</strong>"),
        "{body}"
    );
    assert!(
        body.contains("change-update") && body.contains("<del class=\"break\">alice Example</del>"),
        "{body}"
    );
    assert!(body.contains("<ins class=\"break\">Alice Liddell</ins>"), "{body}");
    assert!(body.contains("3 to create") || body.contains("to create"), "{body}");
    assert!(
        body.contains("entry 4 (authentik_core.group)"),
        "staff is unchanged: {body}"
    );
    assert_eq!(events(&w).await.len(), before, "a plan writes nothing");

    // Apply with a plan the admin did not see: shown again, not applied.
    let digest = hidden(body, "digest");
    let stale = [
        ("csrf_token", csrf.as_str()),
        ("content", TEAM),
        ("digest", "0"),
        ("confirm", "yes"),
    ];
    let page = b.post("/if/admin/blueprints/apply", &stale).await;
    assert!(page.body.contains("The plan changed since you saw it"), "{}", page.body);
    assert!(w.dir.users().get("carol").await.is_err());

    // The confirmation first, then the apply.
    let apply = [
        ("csrf_token", csrf.as_str()),
        ("content", TEAM),
        ("filename", "team.yaml"),
        ("digest", &digest),
    ];
    let confirm = b.post("/if/admin/blueprints/apply", &apply).await;
    assert!(
        confirm.body.contains("What will happen") && confirm.body.contains("objects are created"),
        "{}",
        confirm.body
    );
    assert!(w.dir.users().get("carol").await.is_err());
    let mut confirmed = apply.to_vec();
    confirmed.push(("confirm", "yes"));
    let done = b.post("/if/admin/blueprints/apply", &confirmed).await;
    assert!(done.body.contains("Applied:"), "{}", done.body);

    let carol = w.dir.users().get("carol").await.expect("carol created");
    assert_eq!(carol.name, "Carol Jones");
    assert_eq!(w.dir.users().get("alice").await.unwrap().name, "Alice Liddell");
    assert!(w.dir.groups().by_name("editors").await.unwrap().is_some());
    assert!(w.dir.apps().by_slug("notes").await.unwrap().is_some());
    let written: Vec<Event> = events(&w)
        .await
        .into_iter()
        .filter(|e| e.context.get("blueprint").is_some())
        .collect();
    assert!(written.len() >= 4, "{written:?}");
    for e in &written {
        assert_eq!(e.actor, "user:root", "{e:?}");
        assert_eq!(e.client_ip.as_deref(), Some("192.0.2.10"));
    }
    let list = b.get("/if/admin/blueprints/").await.body;
    assert!(
        list.contains("upload:team.yaml") && list.contains("pill-ok\">applied"),
        "{list}"
    );
    for html in [&list, &plan.body] {
        assert_labelled("blueprints", html);
        assert!(
            !html.contains("style=") && !html.contains("<script>"),
            "no inline style or script"
        );
    }
}

#[tokio::test]
async fn a_file_of_the_blueprint_directory_is_picked_by_its_listed_name_only() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("team.yaml"), TEAM).unwrap();
    let paths = BlueprintPaths {
        dir: Some(tmp.path().to_path_buf()),
        ..Default::default()
    };
    let w = configured(paths).await;
    let (mut b, csrf) = admin(&w).await;
    let page = b.get("/if/admin/blueprints/").await.body;
    assert!(page.contains("<code class=\"break\">team.yaml</code>"), "{page}");
    let plan = b
        .post(
            "/if/admin/blueprints/plan",
            &[("csrf_token", &csrf), ("file", "team.yaml")],
        )
        .await;
    assert!(
        plan.body.contains("<strong class=\"break\">carol</strong>"),
        "{}",
        plan.body
    );
    for name in ["../team.yaml", "/etc/passwd", "missing.yaml"] {
        let page = b
            .post("/if/admin/blueprints/plan", &[("csrf_token", &csrf), ("file", name)])
            .await;
        assert!(page.body.contains("There is no blueprint"), "{name}: {}", page.body);
    }
    let digest = hidden(&plan.body, "digest");
    let form = [
        ("csrf_token", csrf.as_str()),
        ("file", "team.yaml"),
        ("digest", &digest),
        ("confirm", "yes"),
    ];
    let done = b.post("/if/admin/blueprints/apply", &form).await;
    assert!(done.body.contains("Applied:"), "{}", done.body);
    assert!(w.dir.users().get("carol").await.is_ok());
}

#[tokio::test]
async fn without_a_manifest_the_drift_page_says_how_to_configure_one() {
    let w = world(false).await;
    let (mut b, _) = admin(&w).await;
    let page = b.get("/if/admin/drift/").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("No stack manifest configured") && page.body.contains("GATEHOUSE_STACK_FILE"));
    assert!(
        !b.get("/if/admin/").await.body.contains("drift-heading"),
        "no card without a manifest"
    );
}

const NOTES_APP: &str = r#"
version: 1
entries:
  - model: authentik_providers_oauth2.oauth2provider
    id: p
    identifiers: {name: Notes}
    attrs:
      client_id: notes
      client_secret: notes-secret-0123456789abcdef
      redirect_uris: [{matching_mode: strict, url: "https://notes.example.test/cb"}]
  - model: authentik_core.application
    identifiers: {slug: notes}
    attrs: {name: Notes, provider: !KeyOf p}
"#;

#[tokio::test]
async fn the_drift_page_lists_each_service_and_fixes_one() {
    let tmp = tempfile::tempdir().unwrap();
    let w = configured(stack(tmp.path())).await;
    let (mut b, csrf) = admin(&w).await;
    apply_upload(&mut b, &csrf, NOTES_APP).await;
    let page = b.get("/if/admin/drift/").await.body;
    assert_labelled("drift", &page);
    assert!(
        page.contains("pill-warn\">drifting") && page.contains("has no provider"),
        "{page}"
    );
    assert!(
        page.contains("badge-muted\">unreachable") && page.contains("cannot read"),
        "{page}"
    );
    assert_eq!(
        page.matches("action=\"/if/admin/drift/fix\"").count(),
        1,
        "Fix only where it repairs"
    );
    let dash = b.get("/if/admin/").await.body;
    assert!(
        dash.contains("0 in sync") && dash.contains("1 drifting") && dash.contains("1 unreachable"),
        "{dash}"
    );

    let last = events(&w).await.iter().map(|e| e.seq).max().unwrap_or(0);
    let ask = b
        .post("/if/admin/drift/fix", &[("csrf_token", &csrf), ("service", "wiki")])
        .await;
    assert!(
        ask.body.contains("Repair wiki?") && ask.body.contains("What will happen"),
        "{}",
        ask.body
    );
    let unknown = b
        .post(
            "/if/admin/drift/fix",
            &[("csrf_token", &csrf), ("service", "nope"), ("confirm", "yes")],
        )
        .await;
    assert!(unknown.body.contains("no service &#39;nope&#39;"), "{}", unknown.body);
    assert!(
        events(&w).await.iter().all(|e| e.seq <= last),
        "the confirmation changes nothing"
    );

    let done = b
        .post(
            "/if/admin/drift/fix",
            &[("csrf_token", &csrf), ("service", "wiki"), ("confirm", "yes")],
        )
        .await;
    assert_eq!(done.location(), Some("/if/admin/drift/?fixed=wiki"));
    let new: Vec<Event> = events(&w).await.into_iter().filter(|e| e.seq > last).collect();
    assert!(!new.is_empty());
    for e in &new {
        assert_eq!(e.actor, "user:root", "{e:?}");
    }
    let page = b.get("/if/admin/drift/?fixed=wiki").await.body;
    assert!(
        page.contains("wiki repaired") && page.contains("pill-ok\">in sync"),
        "{page}"
    );
    let dash = b.get("/if/admin/").await.body;
    assert!(
        dash.contains("1 in sync") && dash.contains("0 drifting"),
        "the page's check feeds the card: {dash}"
    );
}
