//! Providers as objects of their own, as authentik's API has them: each has a
//! stable pk and a name, and may exist before (or after) an application uses
//! it. A provider an application uses lives in the application's row (so the
//! protocols find it as before); one no application uses lives in the
//! unattached table. Attaching and detaching move it between the two in one
//! transaction (`apps.rs`); its pk never changes.

use serde_json::{Value, json};

use crate::apps::ProviderSpec;
use crate::audit::Audit;
use crate::context::Providers;
use crate::error::{Error, Result, StoreError};
use crate::events::action;
use crate::model::{Application, ProviderKind, UnattachedProvider};
use crate::names;
use crate::tx::Tx;

/// A provider wherever it lives, with the application using it (if any).
#[derive(Debug, Clone)]
pub struct ProviderEntry {
    pub pk: i64,
    pub kind: ProviderKind,
    pub name: String,
    pub key: Option<String>,
    pub config: Value,
    pub application: Option<Application>,
}

impl ProviderEntry {
    fn attached(app: Application) -> Option<ProviderEntry> {
        Some(ProviderEntry {
            pk: app.provider_pk?,
            kind: app.provider?,
            name: app.provider_display_name(),
            key: app.provider_key.clone(),
            config: app.provider_config.clone(),
            application: Some(app),
        })
    }

    fn unattached(p: UnattachedProvider) -> ProviderEntry {
        ProviderEntry {
            pk: p.pk,
            kind: p.kind,
            name: p.name,
            key: p.key,
            config: p.config,
            application: None,
        }
    }
}

impl Providers<'_> {
    /// Every provider of `kind`, attached or not, by pk.
    pub async fn list(self, kind: ProviderKind) -> Result<Vec<ProviderEntry>> {
        let apps = self.store().applications().await?;
        let loose = self.store().unattached_providers().await?;
        let mut out: Vec<ProviderEntry> = apps
            .into_iter()
            .filter_map(ProviderEntry::attached)
            .chain(loose.into_iter().map(ProviderEntry::unattached))
            .filter(|p| p.kind == kind)
            .collect();
        out.sort_by_key(|p| p.pk);
        Ok(out)
    }

    /// The provider of `kind` with this pk.
    pub async fn get(self, kind: ProviderKind, pk: i64) -> Result<ProviderEntry> {
        self.list(kind)
            .await?
            .into_iter()
            .find(|p| p.pk == pk)
            .ok_or_else(|| Error::not_found("provider", pk.to_string()))
    }

    /// Makes a provider no application uses yet.
    pub async fn create(self, audit: &Audit, name: &str, spec: ProviderSpec) -> Result<ProviderEntry> {
        check_name(name)?;
        let mut tx = self.write(audit).await?;
        check_key_free(&mut tx, &spec, None).await?;
        let provider = UnattachedProvider {
            pk: tx.raw().next_provider_pk().await?,
            kind: spec.kind,
            name: name.to_string(),
            key: spec.key,
            config: spec.config,
            created_at: self.now(),
        };
        tx.raw()
            .put_unattached_provider(&provider)
            .await
            .map_err(|e| conflict(e, provider.key.as_deref()))?;
        tx.record(
            action::MODEL_CREATED,
            None,
            json!({"model": "provider", "pk": provider.pk, "name": provider.name,
                   "provider": provider.kind.as_str(), "provider_config": spec.shown}),
        )
        .await?;
        tx.commit().await?;
        Ok(ProviderEntry::unattached(provider))
    }

    /// Replaces the settings (and, when given, the name) of provider `pk`,
    /// wherever it lives.
    pub async fn update(self, audit: &Audit, pk: i64, name: Option<&str>, spec: ProviderSpec) -> Result<ProviderEntry> {
        if let Some(n) = name {
            check_name(n)?;
        }
        let mut tx = self.write(audit).await?;
        check_key_free(&mut tx, &spec, Some(pk)).await?;
        let entry = if let Some(mut app) = tx.raw().application_by_provider_pk(pk).await? {
            same_kind(app.provider, spec.kind)?;
            app.provider_key = spec.key;
            app.provider_config = spec.config;
            if let Some(n) = name {
                app.provider_name = Some(n.to_string());
            }
            tx.raw()
                .update_application(&app)
                .await
                .map_err(|e| conflict(e, app.provider_key.as_deref()))?;
            ProviderEntry::attached(app).ok_or_else(|| Error::not_found("provider", pk.to_string()))?
        } else {
            let mut p = unattached(&mut tx, pk).await?;
            same_kind(Some(p.kind), spec.kind)?;
            p.key = spec.key;
            p.config = spec.config;
            if let Some(n) = name {
                p.name = n.to_string();
            }
            tx.raw()
                .put_unattached_provider(&p)
                .await
                .map_err(|e| conflict(e, p.key.as_deref()))?;
            ProviderEntry::unattached(p)
        };
        tx.record(
            action::MODEL_UPDATED,
            None,
            json!({"model": "provider", "pk": pk, "name": entry.name,
                   "provider": entry.kind.as_str(), "provider_config": spec.shown}),
        )
        .await?;
        tx.commit().await?;
        Ok(entry)
    }

    /// Deletes provider `pk`; an application that used it stays, without one.
    pub async fn delete(self, audit: &Audit, kind: ProviderKind, pk: i64) -> Result<()> {
        let mut tx = self.write(audit).await?;
        let name = if let Some(app) = tx.raw().application_by_provider_pk(pk).await? {
            same_kind(app.provider, kind).map_err(|_| Error::not_found("provider", pk.to_string()))?;
            let name = app.provider_display_name();
            tx.raw().update_application(&without_provider(app)).await?;
            name
        } else {
            let p = unattached(&mut tx, pk).await?;
            same_kind(Some(p.kind), kind).map_err(|_| Error::not_found("provider", pk.to_string()))?;
            tx.raw().delete_unattached_provider(pk).await?;
            p.name
        };
        tx.record(
            action::MODEL_DELETED,
            None,
            json!({"model": "provider", "pk": pk, "name": name, "provider": kind.as_str()}),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
}

/// `app` with its provider taken off (the caller keeps or drops the provider).
pub(crate) fn without_provider(mut app: Application) -> Application {
    app.provider = None;
    app.provider_key = None;
    app.provider_config = json!({});
    app.provider_pk = None;
    app.provider_name = None;
    app
}

/// Detaches the provider of `app` (if any) into the unattached table; returns
/// the application without it.
pub(crate) async fn detach(tx: &mut Tx<'_>, app: Application, now: crate::Timestamp) -> Result<Application> {
    if let (Some(kind), Some(pk)) = (app.provider, app.provider_pk) {
        let loose = UnattachedProvider {
            pk,
            kind,
            name: app.provider_display_name(),
            key: app.provider_key.clone(),
            config: app.provider_config.clone(),
            created_at: now,
        };
        let app = without_provider(app);
        // The application's row gives up the key before the provider takes it.
        tx.raw().update_application(&app).await?;
        tx.raw()
            .put_unattached_provider(&loose)
            .await
            .map_err(|e| conflict(e, loose.key.as_deref()))?;
        return Ok(app);
    }
    Ok(without_provider(app))
}

/// Moves unattached provider `pk` onto `app` (not yet written). An attached
/// provider is refused: authentik gives each provider one application.
pub(crate) async fn take(tx: &mut Tx<'_>, app: &mut Application, pk: i64) -> Result<()> {
    if let Some(other) = tx.raw().application_by_provider_pk(pk).await? {
        return Err(Error::invalid(
            "provider",
            format!("provider {pk} is already used by application '{}'", other.slug),
        ));
    }
    let p = tx
        .raw()
        .unattached_provider(pk)
        .await?
        .ok_or_else(|| Error::invalid("provider", format!("Invalid pk \"{pk}\" - object does not exist.")))?;
    tx.raw().delete_unattached_provider(pk).await?;
    app.provider = Some(p.kind);
    app.provider_key = p.key;
    app.provider_config = p.config;
    app.provider_pk = Some(p.pk);
    app.provider_name = Some(p.name);
    Ok(())
}

async fn unattached(tx: &mut Tx<'_>, pk: i64) -> Result<UnattachedProvider> {
    tx.raw()
        .unattached_provider(pk)
        .await?
        .ok_or_else(|| Error::not_found("provider", pk.to_string()))
}

fn check_name(name: &str) -> Result<()> {
    if name.trim().is_empty() {
        return Err(Error::invalid("name", "must not be empty"));
    }
    names::check_display_name(name)
}

fn same_kind(have: Option<ProviderKind>, want: ProviderKind) -> Result<()> {
    match have {
        Some(k) if k == want => Ok(()),
        _ => Err(Error::invalid(
            "provider",
            format!("this provider is not a {} provider", want.as_str()),
        )),
    }
}

/// A provider's key (client id, external host, audience, base DN) must be
/// free among the applications too, not only among unattached providers.
async fn check_key_free(tx: &mut Tx<'_>, spec: &ProviderSpec, own_pk: Option<i64>) -> Result<()> {
    let Some(key) = &spec.key else { return Ok(()) };
    match tx.raw().application_by_provider_key(spec.kind, key).await? {
        // Taken, unless by this very provider.
        Some(app) if own_pk.is_none() || app.provider_pk != own_pk => Err(Error::AlreadyExists {
            kind: "provider key (client id / external host / audience / base DN)",
            name: key.clone(),
        }),
        _ => Ok(()),
    }
}

fn conflict(e: StoreError, key: Option<&str>) -> Error {
    match e {
        StoreError::Conflict(_) => Error::AlreadyExists {
            kind: "provider key (client id / external host / audience / base DN)",
            name: key.unwrap_or_default().to_string(),
        },
        other => Error::Store(other),
    }
}
