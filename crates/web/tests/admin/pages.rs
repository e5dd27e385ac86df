use axum::http::StatusCode;
use gatehouse_core::EventFilter;

use crate::access::{GETS, world};
use crate::harness::{Browser, PASSWORD, World};

async fn admin(w: &World) -> (Browser, String) {
    let mut b = w.browser();
    let r = b.sign_in("/if/admin/", "root", PASSWORD).await;
    assert_eq!(r.location(), Some("/if/admin/"), "{}", r.body);
    let csrf = b.get("/if/admin/").await.csrf();
    (b, csrf)
}

/// Every visible input has a label naming it.
pub fn assert_labelled(path: &str, html: &str) {
    for part in html.split("<input").skip(1) {
        let tag = &part[..part.find('>').unwrap()];
        if tag.contains("type=\"hidden\"") {
            continue;
        }
        let id = tag
            .split("id=\"")
            .nth(1)
            .and_then(|s| s.split('"').next())
            .unwrap_or_else(|| panic!("{path}: input without id: {tag}"));
        assert!(html.contains(&format!("for=\"{id}\"")), "{path}: no label for #{id}");
    }
}

#[tokio::test]
async fn every_page_renders_for_an_admin() {
    let w = world(false).await;
    let (mut b, _) = admin(&w).await;
    for path in GETS.iter().filter(|p| !p.ends_with(".csv")) {
        let page = b.get(path).await;
        assert_eq!(page.status, StatusCode::OK, "GET {path}: {}", page.body);
        let lower = page.body.to_ascii_lowercase();
        assert!(
            !lower.contains("style=") && !lower.contains("<style"),
            "{path}: inline style"
        );
        assert!(!lower.contains("<script>"), "{path}: inline script");
        assert!(
            page.body.contains("aria-label=\"Administration\""),
            "{path}: navigation"
        );
        assert_labelled(path, &page.body);
    }
    let dash = b.get("/if/admin/").await.body;
    assert!(dash.contains("Sign-ins, last 24 hours") && dash.contains("<svg class=\"chart-svg\""));
    assert!(dash.contains("<span class=\"stat-value\">2</span> <span class=\"stat-label\">users</span>"));
    let users = b.get("/if/admin/users/?q=ALI").await.body;
    assert!(users.contains("1–1 of 1") && users.contains(">alice</a>") && !users.contains(">root</a>"));
    let alice = b.get("/if/admin/users/alice/").await.body;
    assert!(alice.contains("staff"), "groups");
    let groups = b.get("/if/admin/groups/").await.body;
    let (admins, ops) = (groups.find(">admins</a>").unwrap(), groups.find(">ops</a>").unwrap());
    assert!(admins < ops && groups.contains("depth-1"), "ops nested under admins");
    let ops_page = b.get("/if/admin/groups/admins/").await.body;
    assert!(
        ops_page.contains("through ops"),
        "inherited member shown with its group"
    );
    let chain = b.get("/if/admin/events/?verify=1").await.body;
    assert!(chain.contains("The chain is intact"), "{chain}");
}

#[tokio::test]
async fn an_admin_creates_a_user_and_a_group_and_each_change_names_them() {
    let w = world(false).await;
    let (mut b, csrf) = admin(&w).await;
    let form = [
        ("csrf_token", csrf.as_str()),
        ("username", "bob"),
        ("name", "Bob B"),
        ("email", "bob@example.com"),
    ];
    let r = b.post("/if/admin/users/new", &form).await;
    assert_eq!(r.location(), Some("/if/admin/users/bob/?done=created"), "{}", r.body);
    assert!(
        b.get("/if/admin/users/bob/?done=created")
            .await
            .body
            .contains("User created.")
    );
    let r = b
        .post(
            "/if/admin/groups/new",
            &[("csrf_token", &csrf), ("name", "devs"), ("parent", "staff")],
        )
        .await;
    assert_eq!(r.location(), Some("/if/admin/groups/devs/?done=created"));
    let r = b
        .post(
            "/if/admin/groups/devs/add-member",
            &[("csrf_token", &csrf), ("username", "bob")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let staff = b.get("/if/admin/groups/staff/").await.body;
    assert!(staff.contains(">bob</a>") && staff.contains("through devs"));
    // A refused change is shown on the page, not a bare error.
    let dup = b.post("/if/admin/users/new", &form).await;
    assert_eq!(dup.status, StatusCode::OK);
    assert!(dup.body.contains("alert-error"), "{}", dup.body);
    let filter = EventFilter {
        user: Some("bob".into()),
        limit: 10,
        ..Default::default()
    };
    let events = w.dir.events().list(&filter).await.unwrap();
    assert!(events.len() >= 2, "{events:?}");
    for e in events.iter().filter(|e| e.actor.starts_with("user:")) {
        assert_eq!(e.actor, "user:root");
        assert_eq!(e.client_ip.as_deref(), Some("192.0.2.10"));
    }
}

#[tokio::test]
async fn destructive_actions_confirm_first() {
    let w = world(false).await;
    let mut alice = w.browser();
    alice.sign_in("/if/user/", "alice", PASSWORD).await;
    assert_eq!(alice.get("/if/user/").await.status, StatusCode::OK);
    let (mut b, csrf) = admin(&w).await;
    let before = w.actions().await.len();
    let ask = b
        .post("/if/admin/users/alice/revoke-sessions", &[("csrf_token", &csrf)])
        .await;
    assert_eq!(ask.status, StatusCode::OK);
    assert!(ask.body.contains("What will happen") && ask.body.contains("Every browser session of alice ends"));
    assert!(ask.body.contains("name=\"confirm\" value=\"yes\""));
    assert_eq!(w.actions().await.len(), before, "asking changes nothing");
    assert_eq!(alice.get("/if/user/").await.status, StatusCode::OK);
    let done = b
        .post(
            "/if/admin/users/alice/revoke-sessions",
            &[("csrf_token", &csrf), ("confirm", "yes")],
        )
        .await;
    assert_eq!(done.location(), Some("/if/admin/users/alice/?done=revoked"));
    assert_eq!(
        alice.get("/if/user/").await.status,
        StatusCode::SEE_OTHER,
        "alice is signed out"
    );
    let ask = b.post("/if/admin/users/alice/disable", &[("csrf_token", &csrf)]).await;
    assert!(ask.body.contains("Disable alice?"));
    let ask = b
        .post(
            "/if/admin/groups/staff/superuser",
            &[("csrf_token", &csrf), ("superuser", "on")],
        )
        .await;
    assert!(ask.body.contains("becomes an administrator"));
    assert!(!w.dir.groups().get("staff").await.unwrap().is_superuser);
}

#[tokio::test]
async fn a_generated_password_and_a_recovery_link_are_shown_once() {
    let w = world(false).await;
    let (mut b, csrf) = admin(&w).await;
    let page = b
        .post(
            "/if/admin/users/alice/password",
            &[("csrf_token", &csrf), ("password", "")],
        )
        .await;
    assert!(
        page.body.contains("New password for alice (shown once)"),
        "{}",
        page.body
    );
    let page = b
        .post("/if/admin/users/alice/recovery-link", &[("csrf_token", &csrf)])
        .await;
    assert!(
        page.body.contains("http://auth.test/recovery/use-token/"),
        "{}",
        page.body
    );
    assert!(
        !b.get("/if/admin/users/alice/")
            .await
            .body
            .contains("/recovery/use-token/")
    );
}

#[tokio::test]
async fn the_oidc_wizard_ends_on_the_settings_to_paste() {
    let w = world(false).await;
    let (mut b, csrf) = admin(&w).await;
    let form = [
        ("csrf_token", csrf.as_str()),
        ("name", "Grafana"),
        ("slug", "grafana"),
        ("redirect_uris", "https://grafana.example.com/login/generic_oauth\r\n"),
        ("client_type", "confidential"),
        ("group", "staff"),
    ];
    let page = b.post("/if/admin/applications/new/oidc", &form).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    for expected in [
        "http://auth.test/application/o/grafana/",
        "http://auth.test/application/o/grafana/.well-known/openid-configuration",
        "data-setting=\"Client ID\">grafana<",
        "Client secret (shown once)",
        "https://grafana.example.com/login/generic_oauth",
    ] {
        assert!(page.body.contains(expected), "{expected}: {}", page.body);
    }
    let summary = w.dir.apps().get("grafana").await.unwrap();
    assert_eq!(summary.bound_groups, ["staff"]);
    let again = b.get("/if/admin/applications/grafana/settings").await.body;
    assert!(!again.contains("shown once") && again.contains("rotate it to see a new one"));
    // A bad setting comes back on the form, with nothing created.
    let bad = [
        ("csrf_token", csrf.as_str()),
        ("name", "X"),
        ("slug", "x"),
        ("redirect_uris", ""),
    ];
    let page = b.post("/if/admin/applications/new/oidc", &bad).await;
    assert!(page.body.contains("alert-error"), "{}", page.body);
    assert!(w.dir.apps().by_slug("x").await.unwrap().is_none());
    let rotate = b
        .post("/if/admin/applications/grafana/rotate-secret", &[("csrf_token", &csrf)])
        .await;
    assert!(rotate.body.contains("stops working at once"));
    let rotated = b
        .post(
            "/if/admin/applications/grafana/rotate-secret",
            &[("csrf_token", &csrf), ("confirm", "yes")],
        )
        .await;
    assert!(rotated.body.contains("Client secret (shown once)"), "{}", rotated.body);
}

#[tokio::test]
async fn the_access_heat_map_pages_filters_and_downloads() {
    let w = world(false).await;
    let audit = gatehouse_core::Audit::cli("test");
    w.dir.apps().create(&audit, "pager", "Pager", None).await.unwrap();
    w.dir.apps().bind(&audit, "pager", "ops").await.unwrap();
    let (mut b, _) = admin(&w).await;
    let all = b.get("/if/admin/access/").await.body;
    assert!(all.contains("Users 1–2 of 2"), "{all}");
    let root_row = &all[all.find(">root</a>").unwrap()..];
    let root_row = &root_row[..root_row.find("</tr>").unwrap()];
    assert_eq!(
        root_row.matches("hm-y").count(),
        2,
        "root: pager (through ops) and wiki (open)"
    );
    let staff = b.get("/if/admin/access/?group=staff").await.body;
    assert!(staff.contains("Users 1–1 of 1") && staff.contains(">alice</a>") && !staff.contains(">root</a>"));
    let one_app = b.get("/if/admin/access/?app=pager").await.body;
    assert!(one_app.contains(">pager</span>") && !one_app.contains(">wiki</span>"));
    let csv = b.get("/if/admin/access/access.csv").await;
    assert_eq!(csv.headers["content-type"], "text/csv; charset=utf-8");
    assert!(csv.body.starts_with("username,active,pager,wiki\n"), "{}", csv.body);
    assert!(csv.body.contains("alice,yes,no,yes\n") && csv.body.contains("root,yes,yes,yes\n"));
}

#[tokio::test]
async fn keys_rotate_after_a_confirmation_and_sign_later() {
    let w = world(false).await;
    let (mut b, csrf) = admin(&w).await;
    let form = [
        ("csrf_token", csrf.as_str()),
        ("kind", "jwt"),
        ("activate_in_hours", "6"),
    ];
    let ask = b.post("/if/admin/system/rotate-keys", &form).await;
    assert!(ask.body.contains("starts signing in 6 hours"), "{}", ask.body);
    assert!(
        w.dir
            .keys()
            .list(gatehouse_core::keys::KeyKind::Jwt)
            .await
            .unwrap()
            .is_empty()
    );
    let mut confirmed = form.to_vec();
    confirmed.push(("confirm", "yes"));
    let done = b.post("/if/admin/system/rotate-keys", &confirmed).await;
    assert_eq!(done.location(), Some("/if/admin/system/?done=rotated"));
    let keys = w.dir.keys().list(gatehouse_core::keys::KeyKind::Jwt).await.unwrap();
    assert!(keys.iter().any(|k| k.status == "next"), "{keys:?}");
    let page = b.get("/if/admin/system/?done=rotated").await.body;
    assert!(page.contains(">next<") && page.contains(">in 6 hours</time>"), "{page}");
    assert!(
        page.contains("<dd>nobody</dd>"),
        "the policy of this world: off: {page}"
    );
}
