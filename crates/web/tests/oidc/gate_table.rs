//! The issuing-path table: every OIDC path that issues a credential refuses
//! (a) a password-only session or grant for an application that requires MFA
//! (`policy mfa require-app`) and (b) a user outside the bound groups, and
//! issues when neither holds. The condition is set just before the step under
//! test, so each path must ask the gate itself (not trust an earlier step).

use axum::http::StatusCode;

use crate::harness::World;
use crate::support::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum IssuingPath {
    Authorize,
    CodeExchange,
    Refresh,
    DeviceConfirm,
    DevicePoll,
}

const PATHS: [IssuingPath; 5] = [
    IssuingPath::Authorize,
    IssuingPath::CodeExchange,
    IssuingPath::Refresh,
    IssuingPath::DeviceConfirm,
    IssuingPath::DevicePoll,
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Condition {
    /// Nothing stands in the way (the control).
    None,
    /// The application requires MFA; alice signed in with her password only.
    MfaRequired,
    /// alice is no longer in the group the application is bound to.
    NotBound,
}

#[derive(Debug, PartialEq, Eq)]
enum Answer {
    Issued,
    SteppedUp,
    Refused,
}

async fn apply(w: &World, condition: Condition) {
    match condition {
        Condition::None => {}
        Condition::MfaRequired => require_mfa_for(w, "vault").await,
        Condition::NotBound => {
            w.dir.groups().remove_member(&audit(), "staff", "alice").await.unwrap();
            w.changed().await;
        }
    }
}

fn token_result(status: StatusCode, body: &serde_json::Value) -> Answer {
    match status {
        StatusCode::OK => {
            assert!(body["access_token"].is_string(), "{body}");
            Answer::Issued
        }
        _ => {
            assert_eq!(body["error"], "invalid_grant", "{body}");
            Answer::Refused
        }
    }
}

async fn attempt(path: IssuingPath, condition: Condition) -> Answer {
    let (w, vault) = staff_world("vault", true).await;
    let mut b = signed_in(&w, "alice").await;
    let scope = "openid profile offline_access";
    match path {
        IssuingPath::Authorize => {
            apply(&w, condition).await;
            let page = authorize(&mut b, &vault, scope).await;
            if code_of(&page).is_some() {
                Answer::Issued
            } else if is_step_up(&page) {
                Answer::SteppedUp
            } else {
                assert_eq!(page.status, StatusCode::FORBIDDEN, "{}", page.body);
                Answer::Refused
            }
        }
        IssuingPath::CodeExchange => {
            let page = authorize(&mut b, &vault, scope).await;
            let code = code_of(&page).expect("a code before the condition");
            apply(&w, condition).await;
            let (status, body) = exchange(&w, &vault, &code).await;
            token_result(status, &body)
        }
        IssuingPath::Refresh => {
            let tokens = code_flow(&w, &mut b, &vault, scope).await;
            apply(&w, condition).await;
            let (status, body) = refresh(&w, &vault, tokens["refresh_token"].as_str().unwrap()).await;
            token_result(status, &body)
        }
        IssuingPath::DeviceConfirm => {
            let (device_code, user_code) = start_device(&w, &vault).await;
            let page = enter_code(&mut b, &user_code).await;
            assert!(page.body.contains("/device/confirm"), "{}", page.body);
            apply(&w, condition).await;
            let done = decide(&mut b, &page, &user_code, "allow").await;
            let result = if is_step_up(&done) {
                Answer::SteppedUp
            } else if done.body.contains("Device connected") {
                Answer::Issued
            } else {
                assert_eq!(done.status, StatusCode::FORBIDDEN, "{}", done.body);
                Answer::Refused
            };
            // Whatever the page said, the device gets tokens only if approved.
            let (status, body) = poll(&w, &vault, &device_code).await;
            assert_eq!(status == StatusCode::OK, result == Answer::Issued, "{body}");
            result
        }
        IssuingPath::DevicePoll => {
            let (device_code, user_code) = start_device(&w, &vault).await;
            let page = enter_code(&mut b, &user_code).await;
            let done = decide(&mut b, &page, &user_code, "allow").await;
            assert!(done.body.contains("Device connected"), "{}", done.body);
            apply(&w, condition).await;
            let (status, body) = poll(&w, &vault, &device_code).await;
            token_result(status, &body)
        }
    }
}

#[tokio::test]
async fn every_issuing_path_issues_when_nothing_stands_in_the_way() {
    for path in PATHS {
        assert_eq!(attempt(path, Condition::None).await, Answer::Issued, "{path:?}");
    }
}

#[tokio::test]
async fn every_issuing_path_refuses_a_password_only_session_where_mfa_is_required() {
    for path in PATHS {
        let expected = match path {
            // Interactive: a second factor, then back.
            IssuingPath::Authorize | IssuingPath::DeviceConfirm => Answer::SteppedUp,
            IssuingPath::CodeExchange | IssuingPath::Refresh | IssuingPath::DevicePoll => Answer::Refused,
        };
        assert_eq!(attempt(path, Condition::MfaRequired).await, expected, "{path:?}");
    }
}

#[tokio::test]
async fn every_issuing_path_refuses_a_user_outside_the_bound_groups() {
    for path in PATHS {
        assert_eq!(attempt(path, Condition::NotBound).await, Answer::Refused, "{path:?}");
    }
}
