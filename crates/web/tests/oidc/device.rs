//! Attacks on the device flow (issue 13): finding 1 (the confirmation skipped
//! the MFA step-up, and every client could start the flow), finding 2's
//! device part (device grants outlived the client's refresh validity), and
//! finding 7 (user codes could be guessed without limit).

use axum::http::StatusCode;

use crate::harness::World;
use crate::support::*;

/// Finding 1: `policy mfa require-app cli` and a password-only session. The
/// authorize endpoint stepped up, the device flow handed out tokens with
/// `amr: ["pwd"]`. Now the confirmation steps up too, and nothing is issued.
#[tokio::test]
async fn device_confirmation_steps_up_a_password_only_session() {
    let w = World::new().await;
    w.user("alice").await;
    let cli = oidc_app(&w, "cli", true, None).await;
    require_mfa_for(&w, "cli").await;
    let (device_code, user_code) = start_device(&w, &cli).await;
    let mut b = signed_in(&w, "alice").await;

    let page = enter_code(&mut b, &user_code).await;
    assert!(is_step_up(&page), "{:?} {}", page.location(), page.body);
    let back = page.location().unwrap();
    assert!(back.contains("next=/device"), "{back}");

    // Posting the approval straight away (no confirmation page) is stepped up as well.
    let form = b.get("/device").await;
    let done = b
        .post(
            "/device/confirm",
            &[
                ("user_code", &user_code),
                ("decision", "allow"),
                ("csrf_token", &form.csrf()),
            ],
        )
        .await;
    assert!(is_step_up(&done), "{:?} {}", done.location(), done.body);
    let (status, body) = poll(&w, &cli, &device_code).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"], "authorization_pending", "no tokens: {body}");
}

/// Finding 1: the device grant is opt-in per client. A client without it gets
/// RFC 8628's `unauthorized_client`, and discovery does not offer it.
#[tokio::test]
async fn device_flow_is_off_unless_the_client_opts_in() {
    let w = World::new().await;
    let web = oidc_app(&w, "web", false, None).await;
    let (status, body) = post_json(&w, "/application/o/device/", &web, &[("scope", "openid")]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"], "unauthorized_client");
    let doc = w
        .browser()
        .get("/application/o/web/.well-known/openid-configuration")
        .await;
    assert_eq!(doc.status, StatusCode::OK);
    assert!(!doc.body.contains("device_authorization_endpoint"), "{}", doc.body);

    let tv = oidc_app(&w, "tv", true, None).await;
    start_device(&w, &tv).await;
    let doc = w
        .browser()
        .get("/application/o/tv/.well-known/openid-configuration")
        .await;
    assert!(doc.body.contains("\"device_authorization_endpoint\""), "{}", doc.body);
}

/// Finding 2 (device part): a device grant lived 366 days whatever the
/// client's refresh validity, so rotating its refresh token kept it alive for
/// a year. Now it ends with the client's refresh validity, like every grant.
#[tokio::test]
async fn device_grants_end_with_the_client_s_refresh_validity() {
    let w = World::new().await;
    w.user("alice").await;
    let tv = oidc_app(&w, "tv", true, Some(3600)).await;
    let (device_code, user_code) = start_device(&w, &tv).await;
    let mut b = signed_in(&w, "alice").await;
    let page = enter_code(&mut b, &user_code).await;
    let done = decide(&mut b, &page, &user_code, "allow").await;
    assert!(done.body.contains("Device connected"), "{}", done.body);
    let (status, tokens) = poll(&w, &tv, &device_code).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");

    w.clock.advance_seconds(50 * 60);
    let (status, rotated) = refresh(&w, &tv, tokens["refresh_token"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::OK, "within the hour: {rotated}");
    // The rotated token would run until 110 minutes; the grant ends at 60.
    w.clock.advance_seconds(20 * 60);
    let (status, body) = refresh(&w, &tv, rotated["refresh_token"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "past the client's validity: {body}");
    assert_eq!(body["error"], "invalid_grant");
}

/// Finding 7: wrong user codes are counted per session; the fifth locks the
/// session's code entry, and the right code typed then is refused and denied
/// (the device gets `access_denied`), so a guess that lands is worthless.
#[tokio::test]
async fn guessing_user_codes_locks_the_session_and_burns_a_guessed_code() {
    let w = World::new().await;
    w.user("mallory").await;
    let tv = oidc_app(&w, "tv", true, None).await;
    let (device_code, user_code) = start_device(&w, &tv).await;
    let mut b = signed_in(&w, "mallory").await;
    let wrong = ["BBBB-BBBB", "CCCC-CCCC", "DDDD-DDDD", "FFFF-FFFF", "GGGG-GGGG"];
    for (i, guess) in wrong.iter().enumerate() {
        assert_ne!(*guess, user_code);
        let page = enter_code(&mut b, guess).await;
        assert_eq!(page.status, StatusCode::OK, "guess {i}: {}", page.body);
        assert!(page.body.contains("not valid"), "guess {i}");
        w.clock.advance_seconds(5); // past the short delays after the third
    }
    let page = enter_code(&mut b, &user_code).await;
    assert_eq!(page.status, StatusCode::TOO_MANY_REQUESTS, "{}", page.body);
    assert!(!page.body.contains("/device/confirm"));
    let (status, body) = poll(&w, &tv, &device_code).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::FORBIDDEN, Some("access_denied")),
        "{body}"
    );
    assert!(w.actions().await.iter().filter(|a| *a == "suspicious_request").count() >= 2);
}

/// Finding 7: sessions from one address share a budget (the sign-in address
/// limits); another address is not affected.
#[tokio::test]
async fn guessing_user_codes_from_one_address_is_throttled_across_sessions() {
    let w = World::new().await;
    for name in ["m1", "m2", "m3", "m4", "carol"] {
        w.user(name).await;
    }
    let tv = oidc_app(&w, "tv", true, None).await;
    let (_, user_code) = start_device(&w, &tv).await;
    let mut n = 0;
    for (name, tries) in [("m1", 4), ("m2", 4), ("m3", 2)] {
        let mut b = signed_in(&w, name).await;
        for _ in 0..tries {
            n += 1;
            w.clock.advance_seconds(5); // past the session's short delays
            let page = enter_code(&mut b, &format!("BCDF-{}", ["GHJK", "LMNP", "QRST", "VWXZ"][n % 4])).await;
            assert_eq!(page.status, StatusCode::OK, "wrong code {n} from {name}");
        }
    }
    let mut m4 = signed_in(&w, "m4").await;
    let page = enter_code(&mut m4, &user_code).await;
    assert_eq!(
        page.status,
        StatusCode::TOO_MANY_REQUESTS,
        "the 11th code from this address waits"
    );
    assert!(page.headers.contains_key("retry-after"));

    let mut carol = w.browser();
    carol.ip = "198.51.100.7".into();
    let r = carol.sign_in("/if/user/", "carol", crate::harness::PASSWORD).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let page = enter_code(&mut carol, &user_code).await;
    assert!(page.body.contains("/device/confirm"), "another address: {}", page.body);
}
