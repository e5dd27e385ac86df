//! Invitations and the SAML and LDAP wizards: what each page shows, that a
//! bad form changes nothing, and that every change names the admin.
//! (403 for a person and CSRF refusal: `access.rs`, through GETS and POSTS.)

use axum::http::StatusCode;
use gatehouse_core::invitations::InvitationState;
use gatehouse_core::{EventFilter, ProviderKind};

use crate::access::world;
use crate::harness::{Browser, PASSWORD, World};

async fn admin(w: &World) -> (Browser, String) {
    let mut b = w.browser();
    let r = b.sign_in("/if/admin/", "root", PASSWORD).await;
    assert_eq!(r.location(), Some("/if/admin/"), "{}", r.body);
    let csrf = b.get("/if/admin/").await.csrf();
    (b, csrf)
}

/// The newest event of `action` about a `model`: its actor, client address
/// and context.
async fn last(w: &World, action: &str, model: &str) -> (String, Option<String>, serde_json::Value) {
    let filter = EventFilter {
        action: Some(action.into()),
        limit: 100,
        ..EventFilter::default()
    };
    let events = w.dir.events().list(&filter).await.unwrap();
    let e = events.into_iter().find(|e| e.context["model"] == model).unwrap();
    (e.actor, e.client_ip, e.context)
}

#[tokio::test]
async fn invitations_are_listed_made_with_a_link_shown_once_and_deleted_after_a_confirmation() {
    let w = world(false).await;
    let (mut b, csrf) = admin(&w).await;
    let list = b.get("/if/admin/invitations/").await.body;
    assert!(list.contains(">welcome<") && list.contains("pill-ok\">open<"), "{list}");
    assert!(!list.contains("itoken="), "a link is never listed");

    let form = [
        ("csrf_token", csrf.as_str()),
        ("group", "staff"),
        ("email", "newcomer@example.com"),
        ("expires", "1d"),
    ];
    let page = b.post("/if/admin/invitations/new", &form).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let all = w.dir.invitations().list().await.unwrap();
    let made = all.into_iter().find(|i| i.name != "welcome").unwrap();
    let link = format!("http://auth.test/if/flow/default-enrollment-flow/?itoken={}", made.id);
    assert!(page.body.contains(&link), "{}", page.body);
    assert_eq!(made.groups(), ["staff"]);
    assert_eq!(made.fixed("email"), Some("newcomer@example.com"));
    assert!(made.single_use);
    assert_eq!(made.expires, Some(w.dir.now().plus_seconds(86_400)));
    let (actor, ip, ctx) = last(&w, "model_created", "invitation").await;
    assert_eq!((actor.as_str(), ip.as_deref()), ("user:root", Some("192.0.2.10")));
    assert_eq!(ctx["fixed_data"]["groups"], serde_json::json!(["staff"]));
    assert!(!b.get("/if/admin/invitations/").await.body.contains("itoken="));

    // Expired is told apart from open (signed in again: the session has
    // gone idle in those two days).
    w.clock.advance_seconds(2 * 86_400);
    let (mut b, csrf) = admin(&w).await;
    let later = b.get("/if/admin/invitations/").await.body;
    assert!(later.contains("<span class=\"pill\">expired</span>"), "{later}");

    // A group that does not exist: the form comes back, nothing is made.
    let before = w.dir.invitations().list().await.unwrap().len();
    let bad = [
        ("csrf_token", csrf.as_str()),
        ("group", "nobody-here"),
        ("expires", "7d"),
    ];
    let page = b.post("/if/admin/invitations/new", &bad).await;
    assert!(
        page.body.contains("alert-error") && page.body.contains("nobody-here"),
        "{}",
        page.body
    );
    assert_eq!(w.dir.invitations().list().await.unwrap().len(), before);

    // Deleting asks first and names the consequence; then it is gone.
    let path = format!("/if/admin/invitations/{}/delete", made.name);
    let confirm = b.post(&path, &[("csrf_token", &csrf)]).await;
    assert!(
        confirm.body.contains("Its link stops working at once"),
        "{}",
        confirm.body
    );
    assert!(w.dir.invitations().get(&made.name).await.is_ok(), "not yet deleted");
    let done = b.post(&path, &[("csrf_token", &csrf), ("confirm", "yes")]).await;
    assert_eq!(done.location(), Some("/if/admin/invitations/?done=deleted"));
    assert!(w.dir.invitations().get(&made.name).await.is_err());
    let (actor, _, ctx) = last(&w, "model_deleted", "invitation").await;
    assert_eq!(
        (actor.as_str(), &ctx["name"]),
        ("user:root", &serde_json::json!(made.name))
    );
    let missing = b
        .post("/if/admin/invitations/no-such/delete", &[("csrf_token", &csrf)])
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_spent_invitation_shows_as_spent() {
    let w = world(false).await;
    let (mut b, _) = admin(&w).await;
    let welcome = w.dir.invitations().get("welcome").await.unwrap();
    let link = welcome.link("http://auth.test");
    assert!(link.ends_with(&format!("?itoken={}", welcome.id)));
    let signup = gatehouse_core::invitations::SignUp {
        username: "newbie".into(),
        name: "New Bie".into(),
        email: "newbie@example.com".into(),
        password: "A-long-enough-password-93".into(),
    };
    let client = gatehouse_core::session::ClientInfo::default();
    w.dir
        .invitations()
        .redeem(&gatehouse_core::Audit::cli("test"), welcome.id, signup, &client)
        .await
        .unwrap();
    let now = w.dir.now();
    assert_eq!(
        w.dir.invitations().get("welcome").await.unwrap().state(now),
        InvitationState::Spent
    );
    let list = b.get("/if/admin/invitations/").await.body;
    assert!(list.contains("<span class=\"pill\">spent</span>"), "{list}");
}

#[tokio::test]
async fn the_saml_wizard_ends_on_the_idp_settings() {
    let w = world(false).await;
    let (mut b, csrf) = admin(&w).await;
    let form = [
        ("csrf_token", csrf.as_str()),
        ("name", "Nextcloud"),
        ("slug", "cloud"),
        ("audience", "https://cloud.example.com/apps/user_saml/saml/metadata"),
        ("acs_urls", "https://cloud.example.com/apps/user_saml/saml/acs\r\n"),
        ("group", "staff"),
    ];
    let page = b.post("/if/admin/applications/new/saml", &form).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    for expected in [
        "data-setting=\"IdP entity ID and metadata URL\">http://auth.test/application/saml/cloud/metadata/<",
        "data-setting=\"SSO URL (HTTP-Redirect)\">http://auth.test/application/saml/cloud/sso/binding/redirect/<",
        "-----BEGIN CERTIFICATE-----",
        "href=\"http://auth.test/application/saml/cloud/metadata/\" download=\"cloud-idp-metadata.xml\"",
        "https://cloud.example.com/apps/user_saml/saml/acs",
    ] {
        assert!(page.body.contains(expected), "{expected}: {}", page.body);
    }
    let summary = w.dir.apps().get("cloud").await.unwrap();
    assert_eq!(summary.app.provider, Some(ProviderKind::Saml));
    assert_eq!(summary.bound_groups, ["staff"]);
    let (actor, ..) = last(&w, "model_created", "application").await;
    assert_eq!(actor, "user:root");
    let again = b.get("/if/admin/applications/cloud/settings").await.body;
    assert!(again.contains("BEGIN CERTIFICATE") && again.contains("/sso/binding/post/"));
    // No ACS URL: the form comes back with the reason, nothing is made.
    let bad = [
        ("csrf_token", csrf.as_str()),
        ("slug", "nope"),
        ("audience", "https://nope.example.com"),
        ("acs_urls", ""),
    ];
    let page = b.post("/if/admin/applications/new/saml", &bad).await;
    assert!(
        page.body.contains("alert-error") && page.body.contains("ACS URL"),
        "{}",
        page.body
    );
    assert!(w.dir.apps().by_slug("nope").await.unwrap().is_none());
}

#[tokio::test]
async fn the_ldap_wizard_ends_on_the_client_settings() {
    let w = world(false).await;
    let (mut b, csrf) = admin(&w).await;
    let form_page = b.get("/if/admin/applications/new/ldap").await.body;
    assert!(
        form_page.contains("value=\"DC=ldap,DC=goauthentik,DC=io\""),
        "the default tree"
    );
    let form = [
        ("csrf_token", csrf.as_str()),
        ("name", "Redmine"),
        ("slug", "redmine"),
        ("base_dn", "DC=corp,DC=example,DC=com"),
        ("search_group", "staff"),
    ];
    let page = b.post("/if/admin/applications/new/ldap", &form).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    for expected in [
        "data-setting=\"LDAP URLs\">ldap://auth.test:3389<",
        "data-setting=\"Base DN\">DC=corp,DC=example,DC=com<",
        "data-setting=\"Bind DN\">cn=&#60;user&#62;,ou=users,DC=corp,DC=example,DC=com<",
        "data-setting=\"User search filter\">(&#38;(objectClass=user)(uid=&#60;login&#62;))<",
        "a member of staff",
    ] {
        assert!(page.body.contains(expected), "{expected}: {}", page.body);
    }
    let app = w.dir.apps().get("redmine").await.unwrap().app;
    assert_eq!(app.provider, Some(ProviderKind::Ldap));
    assert_eq!(app.provider_config["search_group"], "staff");
    let (actor, ..) = last(&w, "model_created", "application").await;
    assert_eq!(actor, "user:root");
    // A search group that does not exist, or a base DN that is not one.
    for (base, group) in [("DC=other,DC=com", "nobody-here"), ("not a dn", "")] {
        let bad = [
            ("csrf_token", csrf.as_str()),
            ("slug", "ldap2"),
            ("base_dn", base),
            ("search_group", group),
        ];
        let page = b.post("/if/admin/applications/new/ldap", &bad).await;
        assert!(page.body.contains("alert-error"), "{base}: {}", page.body);
    }
    assert!(w.dir.apps().by_slug("ldap2").await.unwrap().is_none());
}
