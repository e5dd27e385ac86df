//! System: the key ring (list, rotate with pre-publication), the MFA
//! policy in force, and the settings (read-only, secrets hidden by the binary).

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use gatehouse_core::keys::KeyKind;
use serde::Deserialize;

use super::guard::{Admin, AdminForm};
use super::views::{Flash, KeyRow, SystemPage};
use super::{Confirm, chrome, confirm_page};
use crate::components::{When, duration, when};
use crate::errors::PageError;
use crate::pages::render;
use crate::state::AppState;

pub const SYSTEM_PATH: &str = "/if/admin/system/";

#[derive(Deserialize, Default)]
pub struct DoneQuery {
    #[serde(default)]
    done: String,
}

/// Every key of the ring, newest generation last, as the dashboard shows them.
pub(crate) async fn key_rows(admin: &Admin) -> Result<Vec<KeyRow>, PageError> {
    let dir = &admin.directory;
    let now = dir.now();
    let mut keys = Vec::new();
    for kind in [KeyKind::Jwt, KeyKind::Saml] {
        for k in dir.keys().list(kind).await? {
            let next = match k.status {
                "next" => Some(k.activates_at),
                _ => k.publish_until,
            };
            keys.push(KeyRow {
                kid: k.kid,
                purpose: format!("{} {}", kind.as_str().to_uppercase(), k.purpose.alg_name()),
                status: k.status,
                age: duration((now.millis() - k.created_at.millis()) / 1000),
                created: When { at: k.created_at, now },
                next: when(next, now),
            });
        }
    }
    Ok(keys)
}

/// GET /if/admin/system/
pub async fn system_get(
    State(state): State<AppState>,
    admin: Admin,
    Query(q): Query<DoneQuery>,
) -> Result<Response, PageError> {
    let policy = admin.directory.mfa().policy().await?;
    let flash = (q.done == "rotated").then(|| Flash {
        ok: true,
        text: "New keys made: published now, signing from the time shown.".into(),
    });
    Ok(render(&SystemPage {
        branding: state.branding(),
        chrome: chrome(&admin, "system"),
        flash,
        keys: key_rows(&admin).await?,
        mfa_mode: policy.mode.as_str(),
        mfa_groups: policy.groups,
        mfa_apps: policy.apps,
        version: env!("CARGO_PKG_VERSION"),
        settings: state.config.settings.clone(),
    }))
}

#[derive(Deserialize, Default)]
pub struct RotateForm {
    #[serde(default)]
    kind: String,
    #[serde(default)]
    activate_in_hours: String,
    #[serde(default)]
    confirm: String,
}

/// POST /if/admin/system/rotate-keys: new keys for every purpose of a kind in
/// use, published at once and signing after the delay (so relying parties
/// fetch them before they see a token signed with them).
pub async fn rotate_post(
    State(state): State<AppState>,
    AdminForm(admin, form): AdminForm<RotateForm>,
) -> Result<Response, PageError> {
    let kind = match form.kind.as_str() {
        "saml" => KeyKind::Saml,
        _ => KeyKind::Jwt,
    };
    let hours: i64 = form.activate_in_hours.trim().parse().unwrap_or(24);
    if form.confirm != "yes" {
        let confirm = Confirm {
            title: format!("Rotate the {} signing keys?", kind.as_str().to_uppercase()),
            consequence: format!(
                "A new key is made for each algorithm in use and published now; it starts signing in {hours} hours. The current keys stay published until every token they signed has expired. Services that cache keys for longer than {hours} hours may refuse tokens for a while."
            ),
            action: format!("{SYSTEM_PATH}rotate-keys"),
            fields: vec![
                ("kind".into(), kind.as_str().into()),
                ("activate_in_hours".into(), hours.to_string()),
            ],
            button: "Rotate keys".into(),
            back: SYSTEM_PATH.into(),
        };
        return Ok(confirm_page(&state, &admin, "system", confirm));
    }
    let keys = admin.directory.keys();
    let purposes = keys.in_use(kind).await?;
    keys.rotate(&admin.audit(), &purposes, hours.saturating_mul(3600))
        .await?;
    Ok(Redirect::to(&format!("{SYSTEM_PATH}?done=rotated")).into_response())
}
