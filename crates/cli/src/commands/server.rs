//! `gatehouse server`: binds first (so health checks answer at once), then
//! migrates, bootstraps and declares itself ready. Shuts down gracefully on
//! SIGTERM or SIGINT.

use std::time::{Duration, Instant};

use gatehouse_core::bootstrap::BootstrapOutcome;
use gatehouse_web::AppState;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tokio::net::TcpListener;

use crate::context::Context;
use crate::failure::{CmdResult, Failure};

pub async fn run(ctx: &Context, args: &crate::commands::worker::ServerArgs) -> CmdResult {
    let started = Instant::now();
    let settings = &ctx.settings;
    let listener = TcpListener::bind(settings.listen)
        .await
        .map_err(|e| Failure::runtime(format!("cannot listen on {} (GATEHOUSE_LISTEN): {e}", settings.listen)))?;
    let metrics = match settings.metrics_listen {
        Some(addr) => {
            let l = TcpListener::bind(addr)
                .await
                .map_err(|e| Failure::runtime(format!("cannot listen on {addr} (GATEHOUSE_METRICS_LISTEN): {e}")))?;
            Some((l, install_metrics()?))
        }
        None => None,
    };
    let ldap = crate::commands::ldap::bind(ctx).await?;
    let state = AppState::new(ctx.web_config()?);
    let (shutdown_tx, shutdown_rx) = tokio::sync::watch::channel(false);
    let web = {
        let app = gatehouse_web::router(state.clone()).into_make_service_with_connect_info::<std::net::SocketAddr>();
        let mut rx = shutdown_rx.clone();
        tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = rx.changed().await;
                })
                .await
        })
    };
    tracing::info!(listen = %settings.listen, external_url = %settings.external_url, "gatehouse {} listening", env!("CARGO_PKG_VERSION"));
    // Whose X-Forwarded-For decides the client address (throttles, audit log).
    tracing::info!(
        trusted_proxies = %state.config.trusted_proxies.describe(),
        "client addresses: X-Forwarded-For is believed only from these peers (GATEHOUSE_TRUSTED_PROXIES); every other peer is the client"
    );
    if let Some((listener, handle)) = metrics {
        tracing::info!(listen = %listener.local_addr()?, "metrics at /metrics");
        spawn_metrics(listener, handle, shutdown_rx.clone());
    }
    tokio::spawn(forward_signals(shutdown_tx));

    let (directory, changes, store) = {
        let store = ctx.connect().await?;
        let report = store.migrate().await?;
        if report.from != report.to {
            tracing::info!(from = report.from, to = report.to, "database migrated");
        }
        let changes = store.watch_changes();
        let directory = ctx.directory_on(store.clone())?;
        (directory, changes, store)
    };
    match gatehouse_blueprint::bootstrap::bootstrap(&directory, &settings.bootstrap).await? {
        BootstrapOutcome::AlreadyDone => {}
        BootstrapOutcome::Created {
            generated_password: Some(password),
        } => {
            crate::envfile::append_secret(&settings.env_file, "GATEHOUSE_BOOTSTRAP_PASSWORD", &password)
                .map_err(|e| Failure::runtime(format!("created akadmin but could not write its password to {}: {e}; set one with `gatehouse user password akadmin`", settings.env_file.display())))?;
            tracing::info!(
                env_file = %settings.env_file.display(),
                "first start: created the recovery admin 'akadmin' in group 'admins'; its password is GATEHOUSE_BOOTSTRAP_PASSWORD in {}",
                settings.env_file.display()
            );
        }
        BootstrapOutcome::Created {
            generated_password: None,
        } => {
            tracing::info!(
                "first start: created the recovery admin 'akadmin' with the configured GATEHOUSE_BOOTSTRAP_PASSWORD"
            );
        }
    }
    // MFA: the seed key (generated into the .env file on first start, after the
    // bootstrap password) and the WebAuthn relying party.
    let secret_key = crate::commands::mfa::secret_key(settings)?;
    let directory = directory.with_mfa(crate::commands::mfa::server_config(settings, &secret_key)?);
    // mail and worker: the worker runs mail and housekeeping jobs (once per
    // cluster), unless --no-worker leaves that to `gatehouse worker`.
    let worker = if args.no_worker {
        tracing::info!("--no-worker: run `gatehouse worker` somewhere for mail and housekeeping");
        None
    } else {
        let worker = crate::commands::worker::build(ctx, directory.clone(), &store, Some(&secret_key))?;
        Some(tokio::spawn(worker.run(shutdown_rx.clone())))
    };
    // Applied before ready; watched and re-applied where the worker runs.
    crate::commands::blueprint::start_watch(ctx, &directory, shutdown_rx.clone(), !args.no_worker).await;
    let ldap = crate::commands::ldap::start(ctx, ldap, &directory, changes.clone(), shutdown_rx.clone()).await?;
    if settings.metrics_listen.is_some() {
        crate::commands::ops_metrics::spawn(
            store.clone(),
            settings.mail_worker.worker.stale_after(),
            settings.backup.schedule,
            shutdown_rx.clone(),
        );
    }
    state.set_ready(directory, changes);
    tracing::info!(startup_ms = started.elapsed().as_millis() as u64, "ready");

    let served = web.await;
    if let Some(worker) = worker {
        let _ = worker.await;
    }
    if let Some(ldap) = ldap {
        let _ = ldap.await;
    }
    match served {
        Ok(Ok(())) => {
            tracing::info!("stopped");
            Ok(())
        }
        Ok(Err(e)) => Err(Failure::runtime(format!("server failed: {e}"))),
        Err(e) => Err(Failure::runtime(format!("server task failed: {e}"))),
    }
}

pub(crate) async fn forward_signals(tx: tokio::sync::watch::Sender<bool>) {
    let ctrl_c = tokio::signal::ctrl_c();
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(error = %e, "cannot listen for SIGTERM");
            let _ = ctrl_c.await;
            let _ = tx.send(true);
            return;
        }
    };
    tokio::select! {
        _ = ctrl_c => tracing::info!("SIGINT: shutting down"),
        _ = term.recv() => tracing::info!("SIGTERM: shutting down"),
    }
    let _ = tx.send(true);
}

fn install_metrics() -> CmdResult<PrometheusHandle> {
    let buckets = [
        0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    ];
    PrometheusBuilder::new()
        .set_buckets(&buckets)
        .map_err(|e| Failure::runtime(format!("metrics: {e}")))?
        .install_recorder()
        .map_err(|e| Failure::runtime(format!("metrics: {e}")))
}

fn spawn_metrics(listener: TcpListener, handle: PrometheusHandle, mut shutdown: tokio::sync::watch::Receiver<bool>) {
    let upkeep = handle.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(5));
        loop {
            tick.tick().await;
            upkeep.run_upkeep();
        }
    });
    let app = axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let handle = handle.clone();
            async move { handle.render() }
        }),
    );
    tokio::spawn(async move {
        let served = axum::serve(listener, app).with_graceful_shutdown(async move {
            let _ = shutdown.changed().await;
        });
        if let Err(e) = served.await {
            tracing::error!(error = %e, "metrics listener failed");
        }
    });
}
