//! Renders the MFA pages with hostile sample data: escaping, no inline script
//! or style (only `/static/mfa.js` by file), CSRF on every posting form,
//! labels on every visible input, and the WebAuthn buttons wired to their
//! endpoints only when passkeys are offered.

use askama::Template;
use gatehouse_core::Timestamp;
use gatehouse_web::components::{When, when};
use gatehouse_web::mfa::pages::{
    AuthenticatorRow, MfaCodesPage, MfaEnrolPage, MfaStagePage, SecurityPage, SecurityTotpPage,
};
use gatehouse_web::pages::Branding;

const EVIL: &str = "<script>alert(1)</script>";
const CSRF: &str = "csrf-token-123";

fn branding() -> Branding {
    Branding {
        title: "Example Co".into(),
        logo_url: None,
    }
}

fn stage(webauthn: bool, totp: bool, recovery: bool, error: Option<&str>) -> String {
    MfaStagePage {
        branding: branding(),
        csrf: CSRF.into(),
        username: EVIL.into(),
        error: error.map(Into::into),
        webauthn,
        totp,
        recovery,
        action: "/login/mfa".into(),
        webauthn_options_url: "/login/mfa/webauthn/options".into(),
        webauthn_finish_url: "/login/mfa/webauthn".into(),
        restart_url: Some("/login/restart".into()),
    }
    .render()
    .unwrap()
}

fn security(passkeys: bool) -> String {
    SecurityPage {
        branding: branding(),
        csrf: CSRF.into(),
        display_name: EVIL.into(),
        username: "alice".into(),
        logout_url: "/logout".into(),
        authenticators: vec![AuthenticatorRow {
            id: "6f1c".into(),
            name: EVIL.into(),
            kind: "Authenticator app",
            created: When {
                at: Timestamp(1_767_225_600_000),
                now: Timestamp(1_767_225_600_000 + 180_000),
            },
            last_used: when(None, Timestamp(0)),
        }],
        codes_left: 7,
        required: true,
        passkeys,
        notice: Some(EVIL.into()),
        error: None,
    }
    .render()
    .unwrap()
}

fn all_pages() -> Vec<(&'static str, String)> {
    vec![
        ("stage-all", stage(true, true, true, Some(EVIL))),
        ("stage-totp", stage(false, true, false, None)),
        ("stage-recovery-only", stage(false, false, true, None)),
        (
            "enrol",
            MfaEnrolPage {
                branding: branding(),
                csrf: CSRF.into(),
                error: Some(EVIL.into()),
                qr_data_uri: "data:image/svg+xml;base64,PHN2Zy8+".into(),
                secret: "JBSWY3DPEHPK3PXP".into(),
                pending: "v1.pending".into(),
                action: "/login/mfa/enrol".into(),
            }
            .render()
            .unwrap(),
        ),
        (
            "codes",
            MfaCodesPage {
                branding: branding(),
                codes: vec![EVIL.into(), "abcd-efgh-ijkl".into()],
                continue_url: "/if/user/".into(),
            }
            .render()
            .unwrap(),
        ),
        ("security", security(true)),
        ("security-no-passkeys", security(false)),
        (
            "security-totp",
            SecurityTotpPage {
                branding: branding(),
                csrf: CSRF.into(),
                display_name: EVIL.into(),
                username: "alice".into(),
                logout_url: "/logout".into(),
                error: None,
                qr_data_uri: "data:image/svg+xml;base64,PHN2Zy8+".into(),
                secret: "JBSWY3DPEHPK3PXP".into(),
                pending: "v1.pending".into(),
                action: "/if/user/security/totp".into(),
            }
            .render()
            .unwrap(),
        ),
    ]
}

#[test]
fn escaped_and_no_inline_code() {
    for (page, html) in all_pages() {
        assert!(!html.contains(EVIL), "{page}: raw markup leaked");
        let lower = html.to_ascii_lowercase();
        assert!(!lower.contains("style="), "{page}: inline style");
        assert!(!lower.contains("<style"), "{page}: style element");
        // Scripts only by file, from our origin.
        for part in lower.split("<script").skip(1) {
            let tag = &part[..part.find('>').unwrap()];
            assert!(
                tag.contains("src=\"/static/mfa.js\"") || tag.contains("src=\"/static/time.js\""),
                "{page}: inline script {tag}"
            );
            assert!(
                part[part.find('>').unwrap() + 1..].starts_with("</script>"),
                "{page}: script body"
            );
        }
        assert_eq!(html.matches("<h1").count(), 1, "{page}: one h1");
    }
}

#[test]
fn forms_carry_csrf_and_inputs_have_labels() {
    for (page, html) in all_pages() {
        for form in html.split("<form").skip(1) {
            let form = &form[..form.find("</form>").unwrap()];
            let head = &form[..form.find('>').unwrap()];
            let posts = head.contains("method=\"post\"");
            let scripted =
                head.contains("data-webauthn=\"register\"") && head.contains(&format!("data-csrf=\"{CSRF}\""));
            assert!(posts || scripted, "{page}: form neither posts nor is scripted: {head}");
            if posts {
                assert!(
                    form.contains(&format!("name=\"csrf_token\" value=\"{CSRF}\"")),
                    "{page}: form without csrf"
                );
            }
        }
        for input in html.split("<input").skip(1) {
            let tag = &input[..input.find('>').unwrap()];
            if tag.contains("type=\"hidden\"") || tag.contains(" hidden") {
                continue;
            }
            let id = tag.split("id=\"").nth(1).map(|s| &s[..s.find('"').unwrap()]);
            let id = id.unwrap_or_else(|| panic!("{page}: input without id: {tag}"));
            assert!(
                html.contains(&format!("<label for=\"{id}\"")),
                "{page}: no label for {id}"
            );
        }
    }
}

#[test]
fn passkey_controls_only_when_offered() {
    let with = stage(true, true, true, None);
    assert!(with.contains("data-webauthn=\"authenticate\""));
    assert!(with.contains("src=\"/static/mfa.js\""));
    // Passkey first: the button comes before the code form.
    assert!(with.find("Use a passkey").unwrap() < with.find("Code from your authenticator app").unwrap());
    let without = stage(false, true, true, None);
    assert!(!without.contains("data-webauthn=\"authenticate\""));
    assert!(!security(false).contains("data-webauthn=\"register\""));
    assert!(security(true).contains("data-webauthn=\"register\""));
    assert!(security(true).contains("7 of 10 recovery codes left."));
}

#[test]
fn the_script_is_served() {
    let (body, ctype) = gatehouse_web::assets::lookup("mfa.js").unwrap();
    assert!(ctype.starts_with("text/javascript"));
    let text = std::str::from_utf8(body).unwrap();
    assert!(text.contains("navigator.credentials.create") && text.contains("navigator.credentials.get"));
}

/// Times read as people say them; the instant is in `datetime`, never in
/// the text; the table is the one that stays inside its card.
#[test]
fn security_page_shows_relative_times_in_a_contained_table() {
    let html = security(false);
    assert!(html.contains(">3 minutes ago</time>"), "{html}");
    assert!(html.contains("<time datetime=\"2026-01-01T00:00:00Z\" title=\"2026-01-01 00:00 UTC\">"));
    assert!(html.contains("<span class=\"muted\">never</span>"));
    let text_only: String = html
        .split('<')
        .map(|part| part.split_once('>').map_or("", |(_, t)| t))
        .collect();
    assert!(!text_only.contains("2026-01-01T"), "raw ISO in the text");
    assert!(html.contains("<div class=\"table-card\">\n<table class=\"data-table mfa-list\">"));
}
