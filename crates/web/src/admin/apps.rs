//! The application list: provider type, bound groups, launch link.

use axum::extract::State;
use axum::response::{IntoResponse, Response};

use super::chrome;
use super::guard::Admin;
use super::views::{AppRow, AppsPage};
use crate::errors::PageError;
use crate::pages::render;
use crate::state::AppState;

/// GET /if/admin/applications/
pub async fn apps_get(State(state): State<AppState>, admin: Admin) -> Result<Response, PageError> {
    let rows = admin
        .directory
        .apps()
        .list()
        .await?
        .into_iter()
        .map(|a| AppRow {
            provider: provider_label(a.app.provider),
            slug: a.app.slug,
            name: a.app.name,
            launch_url: a.app.launch_url,
            groups: a.bound_groups,
        })
        .collect();
    Ok(render(&AppsPage {
        branding: state.branding(),
        chrome: chrome(&admin, "applications"),
        rows,
    }))
}

fn provider_label(p: Option<gatehouse_core::ProviderKind>) -> &'static str {
    p.map_or("none (portal link)", |p| match p.as_str() {
        "oidc" => "OpenID Connect",
        "saml" => "SAML 2.0",
        "proxy" => "Forward auth (proxy)",
        _ => "LDAP",
    })
}

#[derive(serde::Deserialize, Default)]
pub struct DoneQuery {
    #[serde(default)]
    done: String,
}

async fn render_app(
    state: &AppState,
    admin: &Admin,
    slug: &str,
    flash: Option<super::views::Flash>,
) -> Result<Response, PageError> {
    let summary = admin.directory.apps().get(slug).await?;
    let confidential = gatehouse_oidc::provision::config_of(&summary.app).is_ok_and(|c| !c.is_public());
    Ok(render(&super::views::AppPage {
        branding: state.branding(),
        chrome: chrome(admin, "applications"),
        flash,
        name: summary.app.name,
        slug: summary.app.slug,
        provider: provider_label(summary.app.provider),
        confidential,
        groups: summary.bound_groups,
    }))
}

/// GET /if/admin/applications/{slug}/
pub async fn app_get(
    State(state): State<AppState>,
    admin: Admin,
    axum::extract::Path(slug): axum::extract::Path<String>,
    axum::extract::Query(q): axum::extract::Query<DoneQuery>,
) -> Result<Response, PageError> {
    let text = match q.done.as_str() {
        "bound" => Some("Group bound."),
        "unbound" => Some("Group unbound."),
        _ => None,
    };
    let flash = text.map(|t| super::views::Flash {
        ok: true,
        text: t.into(),
    });
    render_app(&state, &admin, &slug, flash).await
}

/// GET /if/admin/applications/{slug}/settings (without the secret).
pub async fn settings_get(
    State(state): State<AppState>,
    admin: Admin,
    axum::extract::Path(slug): axum::extract::Path<String>,
) -> Result<Response, PageError> {
    let app = admin.directory.apps().get(&slug).await?.app;
    super::settings::settings_page(&state, &admin, &app, None).await
}

#[derive(serde::Deserialize, Default)]
pub struct AppForm {
    #[serde(default)]
    group: String,
    #[serde(default)]
    confirm: String,
}

/// POST /if/admin/applications/{slug}/{op}: `bind`, `unbind`, `rotate-secret`.
pub async fn action_post(
    State(state): State<AppState>,
    axum::extract::Path((slug, op)): axum::extract::Path<(String, String)>,
    super::guard::AdminForm(admin, form): super::guard::AdminForm<AppForm>,
) -> Result<Response, PageError> {
    let dir = &admin.directory;
    let audit = admin.audit();
    let outcome = match op.as_str() {
        "bind" => dir.apps().bind(&audit, &slug, form.group.trim()).await.map(|_| "bound"),
        "unbind" => dir
            .apps()
            .unbind(&audit, &slug, form.group.trim())
            .await
            .map(|_| "unbound"),
        "rotate-secret" if form.confirm != "yes" => {
            let confirm = super::Confirm {
                title: format!("Rotate the client secret of {slug}?"),
                consequence: format!(
                    "A new secret is made and shown once. The current secret of {slug} stops working at once: the service cannot sign anyone in until it has the new one."
                ),
                action: format!("{}rotate-secret", super::app_url(&slug)),
                fields: vec![],
                button: "Rotate secret".into(),
                back: super::app_url(&slug),
            };
            return Ok(super::confirm_page(&state, &admin, "applications", confirm));
        }
        "rotate-secret" => {
            let (_, secret) = gatehouse_oidc::provision::rotate_secret(dir, &audit, &slug).await?;
            let app = dir.apps().get(&slug).await?.app;
            return super::settings::settings_page(&state, &admin, &app, Some(secret)).await;
        }
        _ => return Err(PageError::Core(gatehouse_core::Error::not_found("action", op))),
    };
    match outcome {
        Ok(done) => Ok(axum::response::Redirect::to(&format!("{}?done={done}", super::app_url(&slug))).into_response()),
        Err(e) if e.is_caller_error() => {
            let flash = super::views::Flash {
                ok: false,
                text: e.to_string(),
            };
            render_app(&state, &admin, &slug, Some(flash)).await
        }
        Err(e) => Err(e.into()),
    }
}
