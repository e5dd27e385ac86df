//! Applications, their protocol providers and their group bindings: the
//! service, and the single-object writes it and blueprint apply are built from.
//! A provider's settings are the JSON its protocol crate owns and validated;
//! here they are stored, keyed and audited (secrets masked by the caller).

use serde_json::{Map, Value, json};
use uuid::Uuid;

use crate::audit::Audit;
use crate::context::Apps;
use crate::error::{Error, Result, StoreError};
use crate::events::action;
use crate::model::{Application, Binding, Named, ProviderKind};
use crate::names;
use crate::tx::Tx;

/// A protocol provider for an application, as its protocol crate built it.
#[derive(Debug, Clone)]
pub struct ProviderSpec {
    pub kind: ProviderKind,
    pub key: Option<String>,
    pub config: Value,
    /// The settings as an audit event may show them (secrets masked).
    pub shown: Value,
}

/// An application with the names of the groups bound to it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct AppSummary {
    #[serde(flatten)]
    pub app: Application,
    pub bound_groups: Vec<String>,
}

/// A change to an application; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct AppChange {
    pub slug: Option<String>,
    pub name: Option<String>,
    pub launch_url: Option<Option<String>>,
    pub provider: Option<ProviderSpec>,
    /// `Some(Some(pk))`: use the unattached provider `pk` (the one used
    /// before is detached, not deleted); `Some(None)`: detach the provider.
    pub attach: Option<Option<i64>>,
    /// The provider's own name (`Some(None)`: named after the application).
    pub provider_name: Option<Option<String>>,
}

impl Apps<'_> {
    /// Every application, by slug, with its bound groups.
    pub async fn list(self) -> Result<Vec<AppSummary>> {
        let apps = self.store().applications().await?;
        let groups = self.store().groups().await?;
        let bindings = self.store().bindings().await?;
        let mut out: Vec<AppSummary> = apps
            .into_iter()
            .map(|app| {
                let mut bound_groups: Vec<String> = bindings
                    .iter()
                    .filter(|b| b.application_id == app.id)
                    .filter_map(|b| groups.iter().find(|g| g.id == b.group_id).map(|g| g.name.clone()))
                    .collect();
                bound_groups.sort();
                AppSummary { app, bound_groups }
            })
            .collect();
        out.sort_by(|a, b| a.app.slug.cmp(&b.app.slug));
        Ok(out)
    }

    pub async fn get(self, slug: &str) -> Result<AppSummary> {
        self.list()
            .await?
            .into_iter()
            .find(|a| a.app.slug == slug)
            .ok_or_else(|| Error::not_found("application", slug))
    }

    /// Creates an application without a protocol provider (a portal link).
    pub async fn create(self, audit: &Audit, slug: &str, name: &str, launch_url: Option<&str>) -> Result<Application> {
        self.create_with(audit, slug, name, launch_url, None).await
    }

    /// Creates an application, optionally with its protocol provider.
    pub async fn create_with(
        self,
        audit: &Audit,
        slug: &str,
        name: &str,
        launch_url: Option<&str>,
        provider: Option<ProviderSpec>,
    ) -> Result<Application> {
        let shown = provider.as_ref().map_or(Value::Null, |p| p.shown.clone());
        let app = Application {
            id: Uuid::new_v4(),
            slug: slug.to_string(),
            name: name.to_string(),
            launch_url: launch_url.map(str::to_string),
            provider: provider.as_ref().map(|p| p.kind),
            provider_key: provider.as_ref().and_then(|p| p.key.clone()),
            provider_config: provider.map_or_else(|| json!({}), |p| p.config),
            provider_pk: None,
            provider_name: None,
            created_at: self.now(),
        };
        let mut tx = self.write(audit).await?;
        let app = insert(&mut tx, &app, &shown).await?;
        tx.commit().await?;
        Ok(app)
    }

    /// Creates an application using the unattached provider `provider_pk`
    /// (if given), in one change.
    pub async fn create_using(
        self,
        audit: &Audit,
        slug: &str,
        name: &str,
        launch_url: Option<&str>,
        provider_pk: Option<i64>,
    ) -> Result<Application> {
        let mut app = Application {
            id: Uuid::new_v4(),
            slug: slug.to_string(),
            name: name.to_string(),
            launch_url: launch_url.map(str::to_string),
            provider: None,
            provider_key: None,
            provider_config: json!({}),
            provider_pk: None,
            provider_name: None,
            created_at: self.now(),
        };
        let mut tx = self.write(audit).await?;
        if let Some(pk) = provider_pk {
            crate::providers::take(&mut tx, &mut app, pk).await?;
        }
        let app = insert(&mut tx, &app, &Value::Null).await?;
        tx.commit().await?;
        Ok(app)
    }

    /// Replaces an application's provider settings (a protocol's `app update`,
    /// a secret rotation). `action` names the event (`model_updated`,
    /// `secret_rotate`).
    pub async fn update_provider(
        self,
        audit: &Audit,
        slug: &str,
        spec: ProviderSpec,
        action: &str,
    ) -> Result<Application> {
        let mut tx = self.write(audit).await?;
        let app = find(&mut tx, slug).await?;
        let change = AppChange {
            provider: Some(spec),
            ..AppChange::default()
        };
        let app = update(&mut tx, app.id, &change, action).await?;
        tx.commit().await?;
        Ok(app)
    }

    /// Changes an application's slug, name or launch URL.
    pub async fn update(self, audit: &Audit, slug: &str, change: &AppChange) -> Result<Application> {
        let mut tx = self.write(audit).await?;
        let app = find(&mut tx, slug).await?;
        let app = update(&mut tx, app.id, change, action::MODEL_UPDATED).await?;
        tx.commit().await?;
        Ok(app)
    }

    /// The application a protocol knows by `key` (OIDC client id, proxy host…).
    pub async fn by_provider_key(self, kind: ProviderKind, key: &str) -> Result<Option<Application>> {
        Ok(self.store().application_by_provider_key(kind, key).await?)
    }

    /// The application with this id, without its bindings.
    pub async fn by_id(self, id: Uuid) -> Result<Option<Application>> {
        Ok(self.store().applications().await?.into_iter().find(|a| a.id == id))
    }

    /// The application with this slug, without its bindings.
    pub async fn by_slug(self, slug: &str) -> Result<Option<Application>> {
        Ok(self.store().application_by_slug(slug).await?)
    }

    /// Deletes the application and its provider.
    pub async fn delete(self, audit: &Audit, slug: &str) -> Result<()> {
        let mut tx = self.write(audit).await?;
        let app = find(&mut tx, slug).await?;
        delete(&mut tx, &app).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Deletes the application; its provider lives on, unattached (what
    /// authentik's API does).
    pub async fn delete_keeping_provider(self, audit: &Audit, slug: &str) -> Result<()> {
        let mut tx = self.write(audit).await?;
        let app = find(&mut tx, slug).await?;
        let app = crate::providers::detach(&mut tx, app, self.now()).await?;
        delete(&mut tx, &app).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Restricts an application to a group (and the groups nested in it).
    /// False when that binding existed.
    pub async fn bind(self, audit: &Audit, slug: &str, group: &str) -> Result<bool> {
        let mut tx = self.write(audit).await?;
        let (app, g) = (find(&mut tx, slug).await?, crate::groups::find(&mut tx, group).await?);
        let changed = bind(&mut tx, app.named(), g.named()).await?;
        tx.commit().await?;
        Ok(changed)
    }

    /// Removes a binding. False when there was none.
    pub async fn unbind(self, audit: &Audit, slug: &str, group: &str) -> Result<bool> {
        let mut tx = self.write(audit).await?;
        let (app, g) = (find(&mut tx, slug).await?, crate::groups::find(&mut tx, group).await?);
        let changed = unbind(&mut tx, app.named(), g.named()).await?;
        tx.commit().await?;
        Ok(changed)
    }
}

/// The application with this slug, read in the change.
pub(crate) async fn find(tx: &mut Tx<'_>, slug: &str) -> Result<Application> {
    tx.raw()
        .application_by_slug(slug)
        .await?
        .ok_or_else(|| Error::not_found("application", slug))
}

fn check_fields(app: &Application) -> Result<()> {
    names::check_slug(&app.slug)?;
    names::check_display_name(&app.name)?;
    if app.name.trim().is_empty() {
        return Err(Error::invalid("name", "must not be empty"));
    }
    if let Some(url) = &app.launch_url {
        names::check_url("launch URL", url)?;
    }
    Ok(())
}

/// Creates `app` as given, its provider with a pk of its own when it has
/// none. `shown`: its provider settings as the event may show them (secrets
/// masked). Returns the application as stored.
pub async fn insert(tx: &mut Tx<'_>, app: &Application, shown: &Value) -> Result<Application> {
    let mut app = app.clone();
    number_provider(tx, &mut app).await?;
    let app = &app;
    check_fields(app)?;
    if tx.raw().application_by_slug(&app.slug).await?.is_some() {
        return Err(Error::AlreadyExists {
            kind: "application",
            name: app.slug.clone(),
        });
    }
    tx.raw()
        .insert_application(app)
        .await
        .map_err(|e| key_conflict(e, app))?;
    tx.record(
        action::MODEL_CREATED,
        None,
        json!({"model": "application", "pk": app.id, "slug": app.slug, "name": app.name,
               "provider": app.provider.map(|p| p.as_str()), "provider_config": shown}),
    )
    .await?;
    Ok(app.clone())
}

/// A provider keeps its pk for life; one without (just made) gets the next.
async fn number_provider(tx: &mut Tx<'_>, app: &mut Application) -> Result<()> {
    if app.provider.is_none() {
        app.provider_pk = None;
        app.provider_name = None;
    } else if app.provider_pk.is_none() {
        app.provider_pk = Some(tx.raw().next_provider_pk().await?);
    }
    Ok(())
}

/// Applies `change` to the application with this id; the event is `action`
/// (`model_updated`, or `secret_rotate` for a new client secret). Writes
/// nothing when nothing changes.
pub async fn update(tx: &mut Tx<'_>, id: Uuid, change: &AppChange, action: &str) -> Result<Application> {
    let mut app = tx
        .raw()
        .application_by_id(id)
        .await?
        .ok_or_else(|| Error::not_found("application", id.to_string()))?;
    let mut changes = Map::new();
    if let Some(v) = &change.slug
        && *v != app.slug
    {
        changes.insert("slug".into(), json!([app.slug, v]));
        app.slug = v.clone();
    }
    if let Some(v) = &change.name
        && *v != app.name
    {
        changes.insert("name".into(), json!([app.name, v]));
        app.name = v.clone();
    }
    if let Some(v) = &change.launch_url
        && *v != app.launch_url
    {
        changes.insert("launch_url".into(), json!([app.launch_url, v]));
        app.launch_url = v.clone();
    }
    let mut shown = Value::Null;
    if let Some(attach) = change.attach
        && attach != app.provider_pk
    {
        changes.insert("provider".into(), json!([app.provider_pk, attach]));
        let now = tx.now();
        app = crate::providers::detach(tx, app, now).await?;
        if let Some(pk) = attach {
            crate::providers::take(tx, &mut app, pk).await?;
        }
    }
    if let Some(p) = &change.provider {
        let same = Some(p.kind) == app.provider && p.key == app.provider_key && p.config == app.provider_config;
        if !same {
            changes.insert("provider".into(), json!(p.kind.as_str()));
            app.provider = Some(p.kind);
            app.provider_key = p.key.clone();
            app.provider_config = p.config.clone();
            shown = p.shown.clone();
        }
    }
    if let Some(v) = &change.provider_name
        && app.provider.is_some()
        && *v != app.provider_name
    {
        changes.insert("provider_name".into(), json!([app.provider_name, v]));
        app.provider_name = v.clone();
    }
    if changes.is_empty() {
        return Ok(app);
    }
    number_provider(tx, &mut app).await?;
    check_fields(&app)?;
    tx.raw()
        .update_application(&app)
        .await
        .map_err(|e| key_conflict(e, &app))?;
    let mut ctx = json!({"model": "application", "pk": app.id, "slug": app.slug, "changes": changes});
    if !shown.is_null() {
        ctx["provider_config"] = shown;
    }
    tx.record(action, None, ctx).await?;
    Ok(app)
}

pub async fn delete(tx: &mut Tx<'_>, app: &Application) -> Result<()> {
    tx.raw().delete_application(app.id).await?;
    tx.record(
        action::MODEL_DELETED,
        None,
        json!({"model": "application", "pk": app.id, "slug": app.slug}),
    )
    .await?;
    Ok(())
}

/// Restricts `app` to `group` (and its nested groups). False when bound already.
pub async fn bind(tx: &mut Tx<'_>, app: Named<'_>, group: Named<'_>) -> Result<bool> {
    let added = tx.raw().add_binding(binding(app, group)).await?;
    if added {
        binding_event(tx, action::MODEL_CREATED, app, group).await?;
    }
    Ok(added)
}

/// Removes the binding of `app` to `group`. False when there was none.
pub async fn unbind(tx: &mut Tx<'_>, app: Named<'_>, group: Named<'_>) -> Result<bool> {
    let removed = tx.raw().remove_binding(binding(app, group)).await?;
    if removed {
        binding_event(tx, action::MODEL_DELETED, app, group).await?;
    }
    Ok(removed)
}

fn binding(app: Named<'_>, group: Named<'_>) -> Binding {
    Binding {
        application_id: app.id,
        group_id: group.id,
    }
}

async fn binding_event(tx: &mut Tx<'_>, act: &str, app: Named<'_>, group: Named<'_>) -> Result<()> {
    tx.record(
        act,
        None,
        json!({"model": "binding", "application": app.name, "group": group.name}),
    )
    .await?;
    Ok(())
}

/// A unique-key conflict of an application: its slug or its provider's key.
fn key_conflict(e: StoreError, app: &Application) -> Error {
    match e {
        StoreError::Conflict(_) => Error::AlreadyExists {
            kind: "application or provider key (client id / external host)",
            name: app.provider_key.clone().unwrap_or_else(|| app.slug.clone()),
        },
        other => Error::Store(other),
    }
}
