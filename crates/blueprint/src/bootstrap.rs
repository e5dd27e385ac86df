//! First start: the superuser group `admins`, the recovery admin `akadmin` in
//! it and optionally a non-expiring API token, from the shipped blueprint
//! `blueprints/bootstrap.yaml`. Runs once per database, however many servers
//! start at once: the plan is applied in the same transaction that claims the
//! bootstrap, and only the claimant writes (and only it may hand a generated
//! password to the operator).

use gatehouse_core::blueprints::{BlueprintInstance, record_instance};
use gatehouse_core::bootstrap::{self, BootstrapOutcome, BootstrapSettings};
use gatehouse_core::events::action;
use gatehouse_core::{ADMIN_GROUP, RECOVERY_ADMIN};
use gatehouse_core::{Audit, Directory, Error, Result};
use gatehouse_crypto::random_token;
use serde_json::{Value, json};

use crate::plan::{Options, Source, plan};

/// The shipped bootstrap blueprint.
pub const BLUEPRINT: &str = include_str!("../blueprints/bootstrap.yaml");
const PATH: &str = "embedded:bootstrap.yaml";

fn no_env(_: &str) -> Option<String> {
    None
}

pub async fn bootstrap(dir: &Directory, settings: &BootstrapSettings) -> Result<BootstrapOutcome> {
    if dir.is_bootstrapped().await? {
        return Ok(BootstrapOutcome::AlreadyDone);
    }
    let (password, generated) = match settings.password.as_deref().filter(|p| !p.is_empty()) {
        Some(p) => (p.to_string(), false),
        None => (random_token(24), true),
    };
    let token = settings.token.clone().filter(|t| !t.is_empty());
    let mut context = serde_json::Map::new();
    context.insert("password".into(), Value::from(password.clone()));
    context.insert("email".into(), Value::from(settings.email.clone().unwrap_or_default()));
    context.insert("token".into(), Value::from(token.clone().unwrap_or_default()));
    let opts = Options {
        allow_unsupported: false,
        context,
        env: &no_env,
    };
    let source = Source::from_text(PATH, BLUEPRINT);
    let plan = plan(dir, std::slice::from_ref(&source), &opts)
        .await
        .map_err(|e| Error::Refused(format!("the bootstrap blueprint: {e}")))?;
    // Hash before opening the transaction: the claim holds a write lock.
    let (steps, _) = crate::apply::resolve(dir, &plan).await.map_err(|e| match e {
        crate::ApplyError::Core(c) => c,
        other => Error::Refused(other.to_string()),
    })?;
    let mut tx = dir.write(&Audit::system()).await?;
    if !bootstrap::claim(&mut tx).await? {
        return Ok(BootstrapOutcome::AlreadyDone);
    }
    // The bootstrap event below records the membership and the token.
    crate::steps::apply_steps(&mut tx, &steps, true)
        .await
        .map_err(|e| e.error)?;
    let instance = BlueprintInstance {
        path: PATH.into(),
        name: "gatehouse-bootstrap".into(),
        hash: source.hash.clone(),
        applied_at: tx.now(),
        result: "applied".into(),
        message: String::new(),
        changes: steps.len() as i64,
    };
    record_instance(&mut tx, &instance).await?;
    tx.record(
        action::BOOTSTRAP,
        Some(RECOVERY_ADMIN),
        json!({"group": ADMIN_GROUP, "password": if generated { "generated" } else { "from environment" }, "api_token": settings.token.is_some()}),
    )
    .await?;
    tx.commit().await?;
    Ok(BootstrapOutcome::Created {
        generated_password: generated.then_some(password),
    })
}
