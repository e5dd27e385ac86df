//! `gatehouse status`: is the database reachable, which schema, is the server
//! ready? Exit 1 when anything is unhealthy.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::context::Context;
use crate::failure::{CmdResult, Failure};
use crate::output::{Table, print_json};

/// `gatehouse status` options.
#[derive(Debug, clap::Args, Default)]
pub struct StatusArgs {
    /// Record PostgreSQL's current major version as the expected one, after
    /// an upgrade was checked (an audit event says who did).
    #[arg(long)]
    pub acknowledge_postgres_upgrade: bool,
}

pub async fn run(ctx: &Context, args: StatusArgs) -> CmdResult {
    if args.acknowledge_postgres_upgrade {
        acknowledge_postgres(ctx).await?;
    }
    let mut healthy = true;
    let mut rows: Vec<(&str, String)> = vec![("gatehouse", env!("CARGO_PKG_VERSION").to_string())];
    rows.push(("database", ctx.settings.database_url_redacted()));
    match ctx.connect().await {
        Ok(store) => match gatehouse_core::Store::info(&store).await {
            Ok(info) => {
                rows.push(("database status", "reachable".into()));
                rows.push(("backend", info.backend.to_string()));
                let schema = if info.schema_version == info.known_schema_version {
                    format!("{} (current)", info.schema_version)
                } else if info.schema_version < info.known_schema_version {
                    format!(
                        "{} (migrations pending: this binary knows {})",
                        info.schema_version, info.known_schema_version
                    )
                } else {
                    healthy = false;
                    format!(
                        "{} (newer than this binary, which knows {})",
                        info.schema_version, info.known_schema_version
                    )
                };
                rows.push(("schema version", schema));
                rows.push(("connection pool", format!("{} connections per process", info.pool_size)));
                // mail and worker: a live worker heartbeat is part of health.
                if info.schema_version >= 6 && !crate::commands::worker::status_rows(ctx, &store, &mut rows).await {
                    healthy = false;
                }
                let now = gatehouse_core::Clock::now(&gatehouse_core::SystemClock);
                healthy &= crate::commands::status_ops::rows(ctx, &store, now, &mut rows).await;
            }
            Err(e) => {
                healthy = false;
                rows.push(("database status", format!("unhealthy: {e}")));
            }
        },
        Err(e) => {
            healthy = false;
            rows.push(("database status", format!("unreachable: {e}")));
        }
    }
    let addr = ctx.settings.local_server_addr();
    let server = match probe_ready(addr).await {
        Ok(200) => "ready".to_string(),
        Ok(code) => {
            healthy = false;
            format!("not ready (HTTP {code})")
        }
        Err(e) => {
            healthy = false;
            format!("not reachable: {e}")
        }
    };
    rows.push(("server", format!("{server} at http://{addr}/-/health/ready/")));
    if ctx.json {
        let mut map: serde_json::Map<String, serde_json::Value> =
            rows.iter().map(|(k, v)| (k.to_string(), v.clone().into())).collect();
        map.insert("healthy".into(), healthy.into());
        print_json(&map)?;
    } else {
        let mut t = Table::new(["CHECK", "RESULT"]);
        for (k, v) in rows {
            t.row([k.to_string(), v]);
        }
        t.print()?;
    }
    if healthy {
        Ok(())
    } else {
        Err(Failure::runtime("unhealthy"))
    }
}

/// GETs the readiness endpoint and returns the HTTP status code.
pub(crate) async fn probe_ready(addr: SocketAddr) -> std::io::Result<u16> {
    let attempt = async {
        let mut stream = TcpStream::connect(addr).await?;
        let req = format!("GET /-/health/ready/ HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
        stream.write_all(req.as_bytes()).await?;
        let mut buf = Vec::with_capacity(256);
        stream.take(4096).read_to_end(&mut buf).await?;
        let head = String::from_utf8_lossy(&buf);
        head.split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidData, "not an HTTP response"))
    };
    tokio::time::timeout(Duration::from_secs(3), attempt)
        .await
        .unwrap_or_else(|_| Err(std::io::Error::new(std::io::ErrorKind::TimedOut, "timed out")))
}

/// Records the running PostgreSQL major version as the reference, with an event.
async fn acknowledge_postgres(ctx: &Context) -> CmdResult {
    let store = ctx.connect().await?;
    store.migrate().await?;
    let Some(v) = store.postgres_version().await? else {
        return Err(Failure::input(
            "--acknowledge-postgres-upgrade: the database is not PostgreSQL",
        ));
    };
    let event = gatehouse_core::NewEvent {
        action: "postgres_upgrade_acknowledged".into(),
        actor: ctx.audit().actor.to_string(),
        user: None,
        client_ip: None,
        context: serde_json::json!({"from_major": v.recorded_major, "to_major": v.major, "server_version": v.server_version}),
    };
    store.write_postgres_major(true, Some(event)).await?;
    eprintln!("PostgreSQL {} recorded as the expected major version", v.major);
    Ok(())
}
