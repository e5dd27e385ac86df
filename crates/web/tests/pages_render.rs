//! Renders every page with sample data and checks escaping, the CSP rules (no
//! inline style or script), labels, CSRF fields and accessible error messages.

use std::collections::HashMap;

use askama::Template;
use axum::body::to_bytes;
use axum::extract::Path;
use axum::http::{StatusCode, header};
use gatehouse_web::assets::static_asset;
use gatehouse_web::pages::{
    AccountPage, AppTile, Branding, LoginIdentifyPage, LoginPasswordPage, MessagePage, PortalPage, RecoveryPage,
    SessionRow, TILE_COLORS, render, render_with_status,
};

const EVIL: &str = "<script>alert(1)</script>";
const EVIL_ESCAPED: &str = "&#60;script&#62;alert(1)&#60;/script&#62;";
const CSRF: &str = "csrf-token-123";

fn branding() -> Branding {
    Branding {
        title: "Example Co".into(),
        logo_url: None,
    }
}

fn identify(error: Option<&str>) -> LoginIdentifyPage {
    LoginIdentifyPage {
        branding: branding(),
        csrf: CSRF.into(),
        error: error.map(Into::into),
        identifier: EVIL.into(),
        action: "/login/identify".into(),
        passkey: false,
    }
}

fn password(error: Option<&str>) -> LoginPasswordPage {
    LoginPasswordPage {
        branding: branding(),
        csrf: CSRF.into(),
        error: error.map(Into::into),
        identifier: EVIL.into(),
        restart_url: "/login?restart=1".into(),
        action: "/login/password".into(),
    }
}

fn message(status_class: &'static str) -> MessagePage {
    MessagePage {
        branding: Branding {
            title: EVIL.into(),
            logo_url: Some("/branding/logo.svg".into()),
        },
        title: "No access".into(),
        message: EVIL.into(),
        link: Some(("/".into(), "Back to the portal".into())),
        status_class,
    }
}

fn tile(name: &str, slug: &str, launch_url: Option<&str>) -> AppTile {
    AppTile {
        name: name.into(),
        slug: slug.into(),
        launch_url: launch_url.map(Into::into),
        initial: name
            .chars()
            .next()
            .map(|c| c.to_uppercase().collect())
            .unwrap_or_default(),
    }
}

fn portal(apps: Vec<AppTile>) -> PortalPage {
    PortalPage {
        branding: branding(),
        csrf: CSRF.into(),
        display_name: EVIL.into(),
        username: "ada".into(),
        apps,
        account_url: "/account".into(),
        logout_url: "/logout".into(),
        admin_url: None,
    }
}

fn account(error: Option<&str>, notice: Option<&str>) -> AccountPage {
    AccountPage {
        branding: branding(),
        csrf: CSRF.into(),
        display_name: EVIL.into(),
        username: "ada".into(),
        email: "ada@example.com".into(),
        password_error: error.map(Into::into),
        password_notice: notice.map(Into::into),
        sessions: vec![
            SessionRow {
                id: "s-current".into(),
                created: "2025-01-02 10:00".into(),
                last_seen: "just now".into(),
                client: "192.0.2.1 · Firefox on Linux".into(),
                current: true,
            },
            SessionRow {
                id: "s-other".into(),
                created: "2024-12-30 08:12".into(),
                last_seen: "2 days ago".into(),
                client: EVIL.into(),
                current: false,
            },
        ],
        logout_url: "/logout".into(),
        portal_url: "/".into(),
        password_action: "/account/password".into(),
        revoke_action: "/account/sessions/revoke".into(),
        everywhere_action: "/account/sessions/revoke-all".into(),
    }
}

fn recovery(error: Option<&str>) -> RecoveryPage {
    RecoveryPage {
        branding: branding(),
        csrf: CSRF.into(),
        username: EVIL.into(),
        error: error.map(Into::into),
        action: "/recovery/abc".into(),
    }
}

/// Every page in every state, rendered.
fn all_pages() -> Vec<(&'static str, String)> {
    vec![
        ("identify", identify(None).render().unwrap()),
        ("identify+error", identify(Some("No such account.")).render().unwrap()),
        ("password", password(None).render().unwrap()),
        ("password+error", password(Some("Wrong password.")).render().unwrap()),
        ("message-info", message("info").render().unwrap()),
        ("message-error", message("error").render().unwrap()),
        ("portal", portal(sample_apps()).render().unwrap()),
        ("portal-empty", portal(vec![]).render().unwrap()),
        ("account", account(None, None).render().unwrap()),
        (
            "account+error",
            account(Some("The new passwords do not match."), None).render().unwrap(),
        ),
        (
            "account+notice",
            account(None, Some("Password changed.")).render().unwrap(),
        ),
        ("recovery", recovery(None).render().unwrap()),
        (
            "recovery+error",
            recovery(Some("The link has expired.")).render().unwrap(),
        ),
    ]
}

fn sample_apps() -> Vec<AppTile> {
    vec![
        tile("Grafana", "grafana", Some("https://grafana.example.com/")),
        tile(EVIL, "evil", Some("https://evil.example.com/")),
        tile("Legacy NAS", "nas", None),
    ]
}

// ---------- a tiny tag scanner (askama escapes quotes, so this is enough) ----------

/// Attributes of every `<name …>` start tag.
fn tags(html: &str, name: &str) -> Vec<HashMap<String, String>> {
    let open = format!("<{name}");
    let mut out = Vec::new();
    let mut rest = html;
    while let Some(i) = rest.find(&open) {
        let after = &rest[i + open.len()..];
        if !after.starts_with([' ', '>', '\n']) {
            rest = after;
            continue;
        }
        let end = after.find('>').expect("unterminated tag");
        out.push(attrs(&after[..end]));
        rest = &after[end..];
    }
    out
}

fn attrs(mut s: &str) -> HashMap<String, String> {
    let mut map = HashMap::new();
    loop {
        s = s.trim_start();
        if s.is_empty() {
            return map;
        }
        let name_end = s.find(|c: char| c == '=' || c.is_whitespace()).unwrap_or(s.len());
        let name = s[..name_end].to_ascii_lowercase();
        s = &s[name_end..];
        if let Some(v) = s.strip_prefix("=\"") {
            let close = v.find('"').expect("unterminated attribute");
            map.insert(name, v[..close].to_owned());
            s = &v[close + 1..];
        } else {
            map.insert(name, String::new());
        }
    }
}

/// Text of every `<form …>…</form>`.
fn forms(html: &str) -> Vec<&str> {
    html.split("<form")
        .skip(1)
        .map(|f| &f[..f.find("</form>").expect("unclosed form")])
        .collect()
}

fn is_visible_input(input: &HashMap<String, String>) -> bool {
    input.get("type").map(String::as_str) != Some("hidden") && !input.contains_key("hidden")
}

/// The element (any tag) carrying `id="…"`, with the text that follows it.
fn element_with_id<'a>(html: &'a str, id: &str) -> Option<&'a str> {
    let needle = format!(" id=\"{id}\"");
    let i = html.find(&needle)?;
    let start = html[..i].rfind('<')?;
    Some(&html[start..])
}

// ---------- tests ----------

#[test]
fn user_data_is_escaped() {
    for (page, html) in all_pages() {
        assert!(html.contains(EVIL_ESCAPED), "{page}: escaped sample missing");
        assert!(!html.contains(EVIL), "{page}: raw markup leaked");
    }
}

#[test]
fn no_inline_style_or_script() {
    for (page, html) in all_pages() {
        let lower = html.to_ascii_lowercase();
        for bad in ["style=", "<style", "<script", "javascript:", " on"] {
            if bad == " on" {
                // No event handler attributes (onclick=, onload=, …).
                for tag in lower.split('<').skip(1) {
                    let tag = &tag[..tag.find('>').unwrap_or(tag.len())];
                    assert!(
                        !attrs(tag).keys().any(|k| k.starts_with("on")),
                        "{page}: event handler attribute in <{tag}>"
                    );
                }
                continue;
            }
            assert!(!lower.contains(bad), "{page}: contains {bad}");
        }
    }
}

#[test]
fn document_structure() {
    for (page, html) in all_pages() {
        assert!(html.starts_with("<!DOCTYPE html>"), "{page}");
        assert!(html.contains("<html lang=\"en\">"), "{page}: lang");
        assert!(html.contains("name=\"viewport\""), "{page}: viewport");
        assert!(
            html.contains("<link rel=\"stylesheet\" href=\"/static/gatehouse.css\">"),
            "{page}"
        );
        assert!(html.contains("href=\"/static/favicon.svg\""), "{page}: favicon");
        assert!(
            html.contains("<a class=\"skip-link\" href=\"#main\">"),
            "{page}: skip link"
        );
        assert_eq!(
            html.matches("<main id=\"main\"").count(),
            1,
            "{page}: one <main id=main>"
        );
        assert_eq!(html.matches("<h1").count(), 1, "{page}: exactly one h1");
        let title = &html[html.find("<title>").unwrap() + 7..html.find("</title>").unwrap()];
        assert!(title.contains(" · "), "{page}: title {title:?}");
        assert!(!title.starts_with(' '), "{page}: title {title:?}");
    }
    let html = identify(None).render().unwrap();
    assert!(html.contains("<title>Sign in · Example Co</title>"));
}

#[test]
fn ids_are_unique() {
    for (page, html) in all_pages() {
        let mut seen = std::collections::HashSet::new();
        for part in html.split(" id=\"").skip(1) {
            let id = &part[..part.find('"').unwrap()];
            assert!(seen.insert(id.to_owned()), "{page}: duplicate id {id}");
        }
    }
}

#[test]
fn every_input_has_a_label() {
    for (page, html) in all_pages() {
        let labels: Vec<String> = tags(&html, "label")
            .into_iter()
            .filter_map(|l| l.get("for").cloned())
            .collect();
        for input in tags(&html, "input").into_iter().filter(is_visible_input) {
            let id = input
                .get("id")
                .unwrap_or_else(|| panic!("{page}: input without id: {input:?}"));
            assert!(labels.contains(id), "{page}: no <label for={id}>");
            assert!(input.contains_key("name"), "{page}: input {id} without name");
        }
        for label in &labels {
            assert!(
                html.contains(&format!(" id=\"{label}\"")),
                "{page}: label for missing id {label}"
            );
        }
    }
}

#[test]
fn every_form_posts_with_csrf() {
    let mut total = 0;
    for (page, html) in all_pages() {
        for form in forms(&html) {
            total += 1;
            let attrs = attrs(&form[..form.find('>').unwrap()]);
            assert_eq!(attrs.get("method").map(String::as_str), Some("post"), "{page}: {form}");
            assert!(attrs.get("action").is_some_and(|a| !a.is_empty()), "{page}: action");
            assert!(
                form.contains(&format!("<input type=\"hidden\" name=\"csrf_token\" value=\"{CSRF}\">")),
                "{page}: form without csrf_token: {form}"
            );
        }
    }
    assert!(total >= 10);
}

/// With an error: an element with role="alert" holds the message, and an input
/// with aria-invalid="true" points at it with aria-describedby. Without: neither.
fn assert_error_wiring(page: &str, html: &str, error: Option<&str>) {
    let invalid: Vec<_> = tags(html, "input")
        .into_iter()
        .filter(|i| i.get("aria-invalid").is_some())
        .collect();
    let Some(error) = error else {
        assert!(!html.contains("role=\"alert\""), "{page}: alert without error");
        assert!(invalid.is_empty(), "{page}: aria-invalid without error");
        return;
    };
    assert!(!invalid.is_empty(), "{page}: no aria-invalid input");
    for input in invalid {
        assert_eq!(input["aria-invalid"], "true");
        let described = input.get("aria-describedby").expect("aria-describedby");
        let alert_ids: Vec<&str> = described
            .split_whitespace()
            .filter(|id| {
                let el = element_with_id(html, id).unwrap_or_else(|| panic!("{page}: dangling {id}"));
                el[..el.find('>').unwrap()].contains("role=\"alert\"")
            })
            .collect();
        assert_eq!(alert_ids.len(), 1, "{page}: input not tied to the alert");
        let el = element_with_id(html, alert_ids[0]).unwrap();
        let text = &el[el.find('>').unwrap() + 1..el.find("</").unwrap()];
        assert_eq!(text, error, "{page}");
    }
}

#[test]
fn errors_are_announced_and_tied_to_inputs() {
    let e = "No such account.";
    assert_error_wiring("identify", &identify(None).render().unwrap(), None);
    assert_error_wiring("identify+error", &identify(Some(e)).render().unwrap(), Some(e));
    assert_error_wiring("password", &password(None).render().unwrap(), None);
    assert_error_wiring("password+error", &password(Some(e)).render().unwrap(), Some(e));
    assert_error_wiring("recovery", &recovery(None).render().unwrap(), None);
    assert_error_wiring("recovery+error", &recovery(Some(e)).render().unwrap(), Some(e));
    assert_error_wiring(
        "account",
        &account(None, Some("Password changed.")).render().unwrap(),
        None,
    );
    assert_error_wiring("account+error", &account(Some(e), None).render().unwrap(), Some(e));
    // The error text is escaped too.
    let html = identify(Some(EVIL)).render().unwrap();
    assert!(html.contains(&format!("role=\"alert\">{EVIL_ESCAPED}</p>")));
}

#[test]
fn sign_in_fields() {
    let html = identify(None).render().unwrap();
    let input = tags(&html, "input")
        .into_iter()
        .find(|i| i.get("name").is_some_and(|n| n == "identifier"))
        .unwrap();
    assert_eq!(input["autocomplete"], "username");
    assert!(input.contains_key("autofocus"));
    assert_eq!(input["value"], EVIL_ESCAPED);
    assert!(html.contains("Username or email</label>"));
    assert!(html.contains(">Continue</button>"));
    assert!(html.contains("action=\"/login/identify\""));

    let html = password(None).render().unwrap();
    let inputs = tags(&html, "input");
    let pw = inputs
        .iter()
        .find(|i| i.get("name").is_some_and(|n| n == "password"))
        .unwrap();
    assert_eq!(pw["type"], "password");
    assert_eq!(pw["autocomplete"], "current-password");
    assert!(pw.contains_key("autofocus"));
    let user = inputs
        .iter()
        .find(|i| i.get("autocomplete").is_some_and(|a| a == "username"))
        .unwrap();
    assert_eq!(user["value"], EVIL_ESCAPED);
    assert!(user.contains_key("hidden"));
    assert!(html.contains(&format!("Signing in as <strong>{EVIL_ESCAPED}</strong>")));
    assert!(html.contains("href=\"/login?restart=1\">Not you?</a>"));
    assert!(html.contains(">Sign in</button>"));
}

#[test]
fn message_page() {
    let html = message("error").render().unwrap();
    assert!(html.contains("class=\"message message-error\""));
    assert!(html.contains("<a class=\"btn btn-primary btn-block\" href=\"/\">Back to the portal</a>"));
    assert!(html.contains("src=\"/branding/logo.svg\""));
    assert!(html.contains(&format!("<title>No access · {EVIL_ESCAPED}</title>")));
    let mut page = message("info");
    page.link = None;
    let html = page.render().unwrap();
    assert!(html.contains("message-info"));
    assert!(!html.contains("btn-primary"));
}

#[test]
fn portal_tiles() {
    let html = portal(sample_apps()).render().unwrap();
    assert!(html.contains(&format!("Hello, {EVIL_ESCAPED}")));
    assert!(html.contains("My applications</h1>"));
    assert!(html.contains("<a class=\"tile tile-link\" href=\"https://grafana.example.com/\">"));
    assert_eq!(html.matches("class=\"tile tile-link\"").count(), 2);
    assert_eq!(html.matches("<div class=\"tile tile-static\">").count(), 1);
    assert!(html.contains(&format!("tile-badge {}", sample_apps()[0].color_class())));
    assert!(!html.contains("No applications yet."));
    assert!(html.contains("href=\"/account\">My account</a>"));
    // Sign-out is a POST form with the csrf token, not a link.
    assert!(html.contains("<form class=\"signout-form\" method=\"post\" action=\"/logout\">"));
    assert!(!html.contains("href=\"/logout\""));

    let html = portal(vec![]).render().unwrap();
    assert!(html.contains("No applications yet."));
    assert!(!html.contains("class=\"tiles\""));
}

#[test]
fn tile_colours_are_stable_and_in_range() {
    let a = tile("Grafana", "grafana", None);
    assert_eq!(a.color_class(), tile("Other name", "grafana", None).color_class());
    let mut used = std::collections::HashSet::new();
    for i in 0..200 {
        let class = tile("x", &format!("app-{i}"), None).color_class();
        let n: u32 = class.strip_prefix("tile-c").unwrap().parse().unwrap();
        assert!(n < TILE_COLORS);
        used.insert(n);
    }
    assert_eq!(used.len() as u32, TILE_COLORS, "hash spreads over the palette");
    let css = include_str!("../static/gatehouse.css");
    for n in 0..TILE_COLORS {
        assert!(
            css.contains(&format!(".tile-c{n} {{")),
            "palette class tile-c{n} missing"
        );
    }
}

#[test]
fn account_page() {
    let html = account(None, Some("Password changed.")).render().unwrap();
    assert!(html.contains("role=\"status\">Password changed.</p>"));
    let inputs = tags(&html, "input");
    let by_name = |n: &str| inputs.iter().find(|i| i.get("name").is_some_and(|x| x == n)).unwrap();
    assert_eq!(by_name("current_password")["autocomplete"], "current-password");
    assert_eq!(by_name("new_password")["autocomplete"], "new-password");
    assert_eq!(by_name("new_password_repeat")["autocomplete"], "new-password");
    assert_eq!(by_name("new_password")["aria-describedby"], "new_password-hint");
    assert!(html.contains("id=\"new_password-hint\" class=\"hint\">At least 8 characters</p>"));
    assert!(!by_name("new_password").contains_key("minlength"));
    assert!(html.contains("Change password</h2>"));
    assert!(html.contains("Active sessions</h2>"));

    // One revoke form per session, each with session_id and csrf.
    let revoke: Vec<&str> = forms(&html)
        .into_iter()
        .filter(|f| f.contains("action=\"/account/sessions/revoke\""))
        .collect();
    assert_eq!(revoke.len(), 2);
    assert!(revoke[0].contains("name=\"session_id\" value=\"s-current\""));
    assert!(revoke[0].contains(">Sign out<"));
    assert!(revoke[1].contains("name=\"session_id\" value=\"s-other\""));
    assert!(revoke[1].contains(">Revoke<"));
    assert_eq!(html.matches("This device").count(), 1);
    assert!(html.contains("href=\"/\">My applications</a>"));
}

#[test]
fn recovery_page() {
    let html = recovery(None).render().unwrap();
    assert!(html.contains(&format!(
        "Set a new password for <span class=\"break\">{EVIL_ESCAPED}</span>"
    )));
    assert!(html.contains(">Set password and sign in</button>"));
    assert!(html.contains("name=\"new_password\""));
    assert!(html.contains("name=\"new_password_repeat\""));
}

#[tokio::test]
async fn render_helpers() {
    let res = render(&identify(None));
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()[header::CONTENT_TYPE], "text/html; charset=utf-8");
    assert_eq!(res.headers()[header::CACHE_CONTROL], "no-store");
    let body = to_bytes(res.into_body(), usize::MAX).await.unwrap();
    assert!(std::str::from_utf8(&body).unwrap().contains("Username or email"));

    let res = render_with_status(StatusCode::FORBIDDEN, &message("error"));
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn static_assets() {
    let res = static_asset(Path("gatehouse.css".into())).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()[header::CONTENT_TYPE], "text/css; charset=utf-8");
    assert_eq!(res.headers()[header::CACHE_CONTROL], "public, max-age=86400");
    let body = to_bytes(res.into_body(), usize::MAX).await.unwrap();
    assert_eq!(&body[..], include_bytes!("../static/gatehouse.css"));

    let res = static_asset(Path("favicon.svg".into())).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()[header::CONTENT_TYPE], "image/svg+xml");

    for name in ["nope.css", "../Cargo.toml", "..%2fCargo.toml", "", "GATEHOUSE.CSS"] {
        let res = static_asset(Path(name.into())).await;
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{name}");
    }
}
