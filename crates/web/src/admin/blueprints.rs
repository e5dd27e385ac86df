//! Blueprints: paste or upload a blueprint (or pick one of
//! GATEHOUSE_BLUEPRINTS_DIR), see its plan as a diff, apply it. Planning and
//! applying are the blueprint crate's, as for `gatehouse blueprint
//! plan|apply`; nothing here decides what a blueprint does.
//!
//! The plan is never trusted from the browser: the apply form carries the
//! blueprint itself (or the file's name) and the digest of the plan shown,
//! and the server plans again; a plan that no longer matches is shown anew
//! instead of being applied.

use askama::Template;
use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::response::Response;
use axum::routing::{get, post};
use gatehouse_blueprint::plan::EnvLookup;
use gatehouse_blueprint::{ApplyError, Change, Options, Preview, Source, SourcesError};
use gatehouse_core::blueprints::BlueprintInstance;
use serde::Deserialize;
use serde_json::Value;

use super::guard::{Admin, AdminForm};
use super::views::{Chrome, Flash};
use super::{Confirm, chrome, confirm_page, drift};
use crate::components::When;
use crate::errors::PageError;
use crate::pages::{Branding, render};
use crate::state::AppState;

pub const BLUEPRINTS_PATH: &str = "/if/admin/blueprints/";

/// The largest blueprint accepted over the web.
const MAX_BYTES: usize = 1024 * 1024;

/// The Blueprints and Drift pages (merged into the admin routes).
pub fn pages() -> Router<AppState> {
    Router::new()
        .route(BLUEPRINTS_PATH, get(blueprints_get))
        .route(drift::DRIFT_PATH, get(drift::drift_get))
        .route("/if/admin/drift/fix", post(drift::fix_post))
}

/// The forms that carry a blueprint: outside the server's small request
/// limit (`crate::MAX_BODY_BYTES`), within their own.
pub fn uploads(state: AppState) -> Router {
    // A 1 MiB blueprint, percent-encoded (up to three bytes a byte), and the form around it.
    let limit = 3 * MAX_BYTES + 64 * 1024;
    Router::new()
        .route("/if/admin/blueprints/plan", post(plan_post))
        .route("/if/admin/blueprints/apply", post(apply_post))
        .layer(DefaultBodyLimit::max(limit))
        .layer(tower_http::limit::RequestBodyLimitLayer::new(limit))
        .with_state(state)
}

/// What the forms send: pasted or uploaded text, or a file of the directory.
#[derive(Deserialize, Default)]
pub struct BlueprintForm {
    #[serde(default)]
    content: String,
    /// The uploaded file's name (shown, and recorded as `upload:NAME`).
    #[serde(default)]
    filename: String,
    /// A file of the blueprint directory, relative to it.
    #[serde(default)]
    file: String,
    /// The plan the admin saw (apply only).
    #[serde(default)]
    digest: String,
    #[serde(default)]
    confirm: String,
}

impl BlueprintForm {
    /// The fields that name the blueprint again in the next form.
    fn carried(&self) -> Vec<(String, String)> {
        match self.file.is_empty() {
            false => vec![("file".into(), self.file.clone())],
            true => vec![
                ("content".into(), self.content.clone()),
                ("filename".into(), self.filename.clone()),
            ],
        }
    }
}

#[derive(Template)]
#[template(path = "admin/blueprints.html")]
pub struct BlueprintsPage {
    pub branding: Branding,
    pub chrome: Chrome,
    pub error: Option<String>,
    pub content: String,
    pub filename: String,
    /// The blueprint directory, when configured, and its files.
    pub dir: Option<String>,
    pub files: Vec<String>,
    pub applied: Vec<(BlueprintInstance, When)>,
}

#[derive(Template)]
#[template(path = "admin/blueprint_plan.html")]
pub struct PlanPage {
    pub branding: Branding,
    pub chrome: Chrome,
    pub flash: Option<Flash>,
    /// The blueprint, as the admin named it.
    pub label: String,
    /// Whether this shows what was applied (no Apply form).
    pub applied: bool,
    pub changes: Vec<ChangeRow>,
    pub unchanged: Vec<String>,
    pub warnings: Vec<String>,
    pub counts: (usize, usize, usize),
    pub digest: String,
    pub carried: Vec<(String, String)>,
}

pub struct ChangeRow {
    /// `create`, `update` or `delete`.
    pub action: &'static str,
    pub model: &'static str,
    pub name: String,
    pub origin: String,
    /// `(field, before, after)`; before is empty for a creation.
    pub fields: Vec<(String, String, String)>,
}

/// A field's value as people read it: text without quotes, nothing as "—".
fn shown(v: &Value) -> String {
    match v {
        Value::Null => "—".into(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn change_rows(changes: &[Change]) -> Vec<ChangeRow> {
    changes
        .iter()
        .map(|c| ChangeRow {
            action: c.action,
            model: c.model,
            name: c.name.clone(),
            origin: c.origin.clone(),
            fields: c
                .fields
                .iter()
                .map(|f| {
                    let before = if f.from.is_null() {
                        String::new()
                    } else {
                        shown(&f.from)
                    };
                    (f.field.clone(), before, shown(&f.to))
                })
                .collect(),
        })
        .collect()
}

/// What the admin must see again before applying (it names the plan).
fn digest(changes: &[Change]) -> String {
    let json = serde_json::to_string(changes).unwrap_or_default();
    gatehouse_crypto::sha256_hex(json.as_bytes())
}

/// GET /if/admin/blueprints/
pub async fn blueprints_get(State(state): State<AppState>, admin: Admin) -> Result<Response, PageError> {
    blueprints_page(&state, &admin, None, &BlueprintForm::default()).await
}

async fn blueprints_page(
    state: &AppState,
    admin: &Admin,
    error: Option<String>,
    form: &BlueprintForm,
) -> Result<Response, PageError> {
    let dir = state.config.blueprints.dir.as_deref();
    let files = dir.map(directory_files).unwrap_or_default();
    let now = admin.directory.now();
    let mut applied = admin.directory.blueprints().instances().await?;
    applied.sort_by_key(|i| std::cmp::Reverse(i.applied_at));
    Ok(render(&BlueprintsPage {
        branding: state.branding(),
        chrome: chrome(admin, "blueprints"),
        error,
        // Given back to fix, unless it was refused for its size.
        content: match form.content.len() <= MAX_BYTES {
            true => form.content.clone(),
            false => String::new(),
        },
        filename: form.filename.clone(),
        dir: dir.map(|d| d.display().to_string()),
        files,
        applied: applied
            .into_iter()
            .map(|i| {
                let at = When { at: i.applied_at, now };
                (i, at)
            })
            .collect(),
    }))
}

/// The directory's blueprint files, relative to it.
fn directory_files(dir: &std::path::Path) -> Vec<String> {
    Source::files(dir)
        .unwrap_or_default()
        .iter()
        .filter_map(|p| p.strip_prefix(dir).ok().map(|r| r.display().to_string()))
        .collect()
}

/// The blueprint the form names, or what is wrong with the form.
fn source(state: &AppState, form: &BlueprintForm) -> Result<(Source, String), String> {
    if !form.file.is_empty() {
        let dir = state
            .config
            .blueprints
            .dir
            .as_deref()
            .ok_or("No blueprint directory is configured.")?;
        // Only a file the listing offers: no path of the admin's making.
        if !directory_files(dir).contains(&form.file) {
            return Err(format!(
                "There is no blueprint '{}' in the blueprint directory.",
                form.file
            ));
        }
        let src = Source::read(&dir.join(&form.file)).map_err(|e| e.to_string())?;
        return Ok((src, form.file.clone()));
    }
    if form.content.trim().is_empty() {
        return Err("Choose a file or paste a blueprint first.".into());
    }
    if form.content.len() > MAX_BYTES {
        return Err("The blueprint is larger than 1 MiB; apply it with `gatehouse blueprint apply`.".into());
    }
    // Browsers send `C:\\fakepath\\NAME`; only the name is kept.
    let name = match form.filename.rsplit(['/', '\\']).next().unwrap_or_default() {
        "" => "pasted.yaml",
        name => name,
    };
    let text = form.content.replace("\r\n", "\n");
    Ok((Source::uploaded(&format!("upload:{name}"), &text), name.to_string()))
}

/// `!Env` as `blueprint apply` reads it, except that an upload cannot read
/// Gatehouse's own settings.
struct Env {
    lookup: EnvLookup,
    upload: bool,
}

impl Env {
    fn for_source(state: &AppState, src: &Source) -> Env {
        Env {
            lookup: EnvLookup::with_file(state.config.blueprints.env_file.as_deref()),
            upload: src.base_dir.is_none(),
        }
    }

    fn get(&self, name: &str) -> Option<String> {
        match self.upload {
            true => self.lookup.get_for_upload(name),
            false => self.lookup.get(name),
        }
    }
}

/// The form's blueprint, planned.
struct Planned {
    src: Source,
    label: String,
    preview: Preview,
}

/// Plans the form's blueprint (writing nothing), or says what is wrong with it.
async fn planned(state: &AppState, admin: &Admin, form: &BlueprintForm) -> Result<Result<Planned, String>, PageError> {
    let (src, label) = match source(state, form) {
        Ok(s) => s,
        Err(e) => return Ok(Err(e)),
    };
    let env = Env::for_source(state, &src);
    let lookup = |name: &str| env.get(name);
    let opts = Options {
        env: &lookup,
        ..Default::default()
    };
    let plan = match gatehouse_blueprint::plan(&admin.directory, std::slice::from_ref(&src), &opts).await {
        Ok(p) => p,
        Err(e) => return Ok(Err(format!("The blueprint does not plan, nothing was changed: {e}"))),
    };
    let preview = plan.preview(&admin.directory).await?;
    Ok(Ok(Planned { src, label, preview }))
}

/// `(created, changed, deleted)`.
fn counts(changes: &[Change]) -> (usize, usize, usize) {
    let count = |a: &str| changes.iter().filter(|c| c.action == a).count();
    (count("create"), count("update"), count("delete"))
}

fn plan_page(state: &AppState, admin: &Admin, form: &BlueprintForm, p: &Planned, flash: Option<Flash>) -> Response {
    let changes = &p.preview.changes;
    render(&PlanPage {
        branding: state.branding(),
        chrome: chrome(admin, "blueprints"),
        flash,
        label: p.label.clone(),
        applied: false,
        changes: change_rows(changes),
        unchanged: p.preview.unchanged.clone(),
        warnings: p.preview.warnings.clone(),
        counts: counts(changes),
        digest: digest(changes),
        carried: form.carried(),
    })
}

/// POST /if/admin/blueprints/plan: the plan, changing nothing.
pub async fn plan_post(
    State(state): State<AppState>,
    AdminForm(admin, form): AdminForm<BlueprintForm>,
) -> Result<Response, PageError> {
    match planned(&state, &admin, &form).await? {
        Ok(p) => Ok(plan_page(&state, &admin, &form, &p, None)),
        Err(e) => blueprints_page(&state, &admin, Some(e), &form).await,
    }
}

/// POST /if/admin/blueprints/apply: planned again; confirmed; applied in
/// one transaction, each change audited with the admin as actor.
pub async fn apply_post(
    State(state): State<AppState>,
    AdminForm(admin, form): AdminForm<BlueprintForm>,
) -> Result<Response, PageError> {
    let p = match planned(&state, &admin, &form).await? {
        Ok(p) => p,
        Err(e) => return blueprints_page(&state, &admin, Some(e), &form).await,
    };
    let digest = digest(&p.preview.changes);
    if digest != form.digest {
        let text = "The plan changed since you saw it (the directory or the file changed). Review it again.";
        let flash = Flash {
            ok: false,
            text: text.into(),
        };
        return Ok(plan_page(&state, &admin, &form, &p, Some(flash)));
    }
    if form.confirm != "yes" {
        let (created, changed, deleted) = counts(&p.preview.changes);
        let mut fields = form.carried();
        fields.push(("digest".into(), digest));
        let confirm = Confirm {
            title: format!("Apply {}?", p.label),
            consequence: format!(
                "{created} objects are created, {changed} changed and {deleted} deleted, all in one transaction: if any change fails, none is made. Each change is recorded in the audit log with you as the actor."
            ),
            action: "/if/admin/blueprints/apply".into(),
            fields,
            button: "Apply blueprint".into(),
            back: BLUEPRINTS_PATH.into(),
        };
        return Ok(confirm_page(&state, &admin, "blueprints", confirm));
    }
    apply(&state, &admin, &form, p).await
}

/// Applies the blueprint (planned once more, inside the apply) and shows
/// what was done.
async fn apply(state: &AppState, admin: &Admin, form: &BlueprintForm, p: Planned) -> Result<Response, PageError> {
    let env = Env::for_source(state, &p.src);
    let lookup = |name: &str| env.get(name);
    let opts = Options {
        env: &lookup,
        ..Default::default()
    };
    let sources = [p.src];
    let done = match gatehouse_blueprint::plan_and_apply(&admin.directory, &admin.audit(), &sources, &opts).await {
        Ok(done) => done,
        Err(e @ (SourcesError::Plan(_) | SourcesError::Apply(ApplyError::Entry { .. }))) => {
            return blueprints_page(state, admin, Some(e.to_string()), form).await;
        }
        Err(SourcesError::Apply(ApplyError::Core(e))) => return Err(e.into()),
    };
    let counts = counts(&done.changes);
    Ok(render(&PlanPage {
        branding: state.branding(),
        chrome: chrome(admin, "blueprints"),
        flash: Some(Flash {
            ok: true,
            text: format!(
                "Applied: {} created, {} changed, {} deleted.",
                counts.0, counts.1, counts.2
            ),
        }),
        label: p.label,
        applied: true,
        changes: change_rows(&done.changes),
        unchanged: Vec::new(),
        warnings: done.warnings,
        counts,
        digest: String::new(),
        carried: Vec::new(),
    }))
}
