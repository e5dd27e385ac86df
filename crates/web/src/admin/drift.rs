//! Drift: `sso check` for every service of the stack manifest
//! (GATEHOUSE_STACK_FILE), and `sso fix` for one of them. The check and the
//! repair are the blueprint crate's (`gatehouse_blueprint::sso`); this page
//! only loads the manifest, calls them and renders.
//!
//! The dashboard shows the last check ([`LastCheck`]) rather than running
//! one per render; a check older than [`STALE_AFTER_MS`] is redone in the
//! background while the old figures show with their time.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use askama::Template;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use gatehouse_blueprint::sso::{self, FixError, Manifest, Survey, survey::UNREACHABLE};
use gatehouse_core::{Directory, Timestamp};
use serde::Deserialize;

use super::guard::{Admin, AdminForm};
use super::views::{Chrome, Flash};
use super::{Confirm, chrome, confirm_page};
use crate::components::When;
use crate::errors::PageError;
use crate::pages::{Branding, render};
use crate::state::AppState;

pub const DRIFT_PATH: &str = "/if/admin/drift/";

/// How old the dashboard lets the last check get before redoing it.
const STALE_AFTER_MS: i64 = 5 * 60 * 1000;

/// The last check (or why the manifest could not be read), and when.
#[derive(Clone)]
struct Checked {
    at: Timestamp,
    result: Result<Survey, String>,
}

/// The last check, kept for the dashboard; `refreshing` while one runs in
/// the background.
#[derive(Default)]
pub struct LastCheck {
    last: Mutex<Option<Checked>>,
    refreshing: AtomicBool,
}

impl LastCheck {
    fn get(&self) -> Option<Checked> {
        self.last.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn set(&self, check: Checked) {
        *self.last.lock().unwrap_or_else(|e| e.into_inner()) = Some(check);
    }
}

/// The manifest, when one is configured (`None`), or why it cannot be read.
fn manifest(state: &AppState) -> Option<Result<Manifest, String>> {
    let paths = &state.config.blueprints;
    let path = paths.stack_file.as_deref()?;
    Some(sso::load(path, paths.stack_env_file.as_deref()).map_err(|e| format!("The stack manifest is broken: {e}")))
}

/// Runs the check and remembers it for the dashboard.
async fn check_now(state: &AppState, dir: &Directory) -> Option<Checked> {
    let result = match manifest(state)? {
        Ok(m) => Ok(sso::survey(dir, &state.config.external_url, &m).await),
        Err(e) => Err(e),
    };
    let check = Checked { at: dir.now(), result };
    state.drift.set(check.clone());
    Some(check)
}

/// The dashboard's card: services in sync, drifting and unreachable at the
/// last check.
pub struct DriftCard {
    pub in_sync: usize,
    pub drifting: usize,
    pub unreachable: usize,
    pub checked: When,
    pub error: Option<String>,
}

/// The card, from the last check (the first render in a process runs one).
pub(crate) async fn dashboard_card(state: &AppState, dir: &Directory) -> Option<DriftCard> {
    state.config.blueprints.stack_file.as_ref()?;
    let now = dir.now();
    let last = match state.drift.get() {
        Some(last) => last,
        None => check_now(state, dir).await?,
    };
    if now.millis() - last.at.millis() > STALE_AFTER_MS && !state.drift.refreshing.swap(true, Ordering::AcqRel) {
        let (state, dir) = (state.clone(), dir.clone());
        tokio::spawn(async move {
            check_now(&state, &dir).await;
            state.drift.refreshing.store(false, Ordering::Release);
        });
    }
    let checked = When { at: last.at, now };
    let count = |status| last.result.as_ref().map_or(0, |s| s.count(status));
    Some(DriftCard {
        in_sync: count("ok"),
        drifting: count("drift"),
        unreachable: count(UNREACHABLE),
        checked,
        error: last.result.as_ref().err().cloned(),
    })
}

#[derive(Template)]
#[template(path = "admin/drift.html")]
pub struct DriftPage {
    pub branding: Branding,
    pub chrome: Chrome,
    pub flash: Option<Flash>,
    /// Whether GATEHOUSE_STACK_FILE is set.
    pub configured: bool,
    pub error: Option<String>,
    pub rows: Vec<DriftRow>,
    pub counts: (usize, usize, usize),
    pub checked: When,
}

pub struct DriftRow {
    pub service: String,
    pub application: String,
    pub kind: String,
    /// `ok`, `drift` or `unreachable`.
    pub status: &'static str,
    pub details: Vec<String>,
    pub fixable: bool,
}

fn rows(s: &Survey) -> Vec<DriftRow> {
    s.reports
        .iter()
        .map(|r| DriftRow {
            service: r.service.clone(),
            application: r.application.clone(),
            kind: serde_json::to_value(r.kind)
                .ok()
                .and_then(|v| v.as_str().map(str::to_uppercase))
                .unwrap_or_default(),
            status: r.status,
            details: r
                .drifts
                .iter()
                .map(|d| match d.fixable {
                    true => d.detail.clone(),
                    false => format!("{} (change the service's own settings)", d.detail),
                })
                .collect(),
            fixable: r.fixable(),
        })
        .collect()
}

async fn page(state: &AppState, admin: &Admin, flash: Option<Flash>) -> Response {
    let now = admin.directory.now();
    let check = check_now(state, &admin.directory).await;
    let (rows, counts, error) = match check.as_ref().map(|c| &c.result) {
        Some(Ok(s)) => (rows(s), (s.count("ok"), s.count("drift"), s.count(UNREACHABLE)), None),
        Some(Err(e)) => (Vec::new(), (0, 0, 0), Some(e.clone())),
        None => (Vec::new(), (0, 0, 0), None),
    };
    render(&DriftPage {
        branding: state.branding(),
        chrome: chrome(admin, "blueprints"),
        flash,
        configured: check.is_some(),
        error,
        rows,
        counts,
        checked: When { at: now, now },
    })
}

#[derive(Deserialize, Default)]
pub struct FixedQuery {
    #[serde(default)]
    fixed: String,
}

/// GET /if/admin/drift/: checks every service now.
pub async fn drift_get(State(state): State<AppState>, admin: Admin, Query(q): Query<FixedQuery>) -> Response {
    let flash = (!q.fixed.is_empty()).then(|| Flash {
        ok: true,
        text: format!("{} repaired. The check below ran after the repair.", q.fixed),
    });
    page(&state, &admin, flash).await
}

#[derive(Deserialize, Default)]
pub struct FixForm {
    #[serde(default)]
    service: String,
    #[serde(default)]
    confirm: String,
}

/// POST /if/admin/drift/fix: `sso fix SERVICE`, after a confirmation that
/// lists what the repair will do (its dry run).
pub async fn fix_post(
    State(state): State<AppState>,
    AdminForm(admin, form): AdminForm<FixForm>,
) -> Result<Response, PageError> {
    let error = |text: String| Flash { ok: false, text };
    let m = match manifest(&state) {
        Some(Ok(m)) => m,
        Some(Err(e)) => return Ok(page(&state, &admin, Some(error(e))).await),
        None => return Ok(Redirect::to(DRIFT_PATH).into_response()),
    };
    let Some(service) = m.service(&form.service) else {
        let text = format!("There is no service '{}' in the stack manifest.", form.service);
        return Ok(page(&state, &admin, Some(error(text))).await);
    };
    let url = &state.config.external_url;
    let dry_run = form.confirm != "yes";
    let repairs = match sso::fix_service(&admin.directory, &admin.audit(), url, service, dry_run).await {
        Ok(r) => r,
        Err(FixError::Io(e)) => return Ok(page(&state, &admin, Some(error(e))).await),
        Err(FixError::Core(e)) => return Err(e.into()),
    };
    if !dry_run {
        return Ok(
            Redirect::to(&format!("{DRIFT_PATH}?fixed={}", crate::request::encode(&service.name))).into_response(),
        );
    }
    if repairs.is_empty() {
        let text = format!("{} is in sync: nothing to repair.", service.name);
        return Ok(page(&state, &admin, Some(Flash { ok: true, text })).await);
    }
    let steps: Vec<String> = repairs.iter().map(|r| r.action.clone()).collect();
    let confirm = Confirm {
        title: format!("Repair {}?", service.name),
        consequence: format!(
            "Planned: {}. A rotated client secret is written to the service's env file (the previous file is kept as .bak); the service must be restarted to read it. Each change is recorded in the audit log with you as the actor.",
            steps.join("; ")
        ),
        action: "/if/admin/drift/fix".into(),
        fields: vec![("service".into(), service.name.clone())],
        button: format!("Repair {}", service.name),
        back: DRIFT_PATH.into(),
    };
    Ok(confirm_page(&state, &admin, "blueprints", confirm))
}
