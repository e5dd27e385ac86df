//! `gatehouse ldap`: the LDAP server alone (for a host that should expose
//! only LDAP), `ldap cert` (the certificate LDAPS and StartTLS present) and
//! `ldap test USER [FILTER]` (bind as USER against the running server and show
//! what a service would see). Also starts the listeners inside `gatehouse server`.

use std::io::Read;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use clap::{Args, Subcommand};
use gatehouse_core::Directory;
use gatehouse_ldap::backend::Backend;
use gatehouse_ldap::session::Shared;
use gatehouse_ldap::{CoreBackend, Server, SnapshotCell, listener, snapshot, tls};
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinHandle;

use crate::context::Context;
use crate::failure::{CmdResult, Failure};

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct LdapArgs {
    #[command(subcommand)]
    pub command: Option<LdapCmd>,
}

#[derive(Debug, Subcommand)]
pub enum LdapCmd {
    /// Print the certificate LDAPS and StartTLS present (PEM), to give to clients.
    Cert,
    /// Bind as USER to the running LDAP server (password prompted) and show
    /// the entries a search with FILTER returns (default: USER's own entry).
    Test {
        username: String,
        filter: Option<String>,
        /// The LDAP application whose tree to use (needed when there are several).
        #[arg(long, value_name = "SLUG")]
        app: Option<String>,
        /// Read the password from standard input instead of prompting.
        #[arg(long)]
        password_stdin: bool,
    },
}

pub async fn run(ctx: &Context, args: LdapArgs) -> CmdResult {
    match args.command {
        None => serve_alone(ctx).await,
        Some(LdapCmd::Cert) => {
            let dir = ctx.directory().await?;
            let pem = tls_pem(ctx, &CoreBackend::new(dir)).await?;
            print!("{}", tls::certificates_pem(&pem.0));
            Ok(())
        }
        Some(LdapCmd::Test {
            username,
            filter,
            app,
            password_stdin,
        }) => test(ctx, &username, filter.as_deref(), app.as_deref(), password_stdin).await,
    }
}

/// The LDAP listeners, bound before the server says it is ready (so a port
/// in use stops the start at once, like the HTTP port).
pub struct Listeners {
    ldap: Option<TcpListener>,
    ldaps: Option<TcpListener>,
}

pub async fn bind(ctx: &Context) -> CmdResult<Listeners> {
    let s = &ctx.settings.ldap;
    let open =
        |name: &'static str| move |e: std::io::Error| Failure::runtime(format!("cannot listen for LDAP ({name}): {e}"));
    let ldap = match s.listen {
        Some(addr) => Some(TcpListener::bind(addr).await.map_err(open("GATEHOUSE_LDAP_LISTEN"))?),
        None => None,
    };
    let ldaps = match s.ldaps_listen {
        Some(addr) => Some(TcpListener::bind(addr).await.map_err(open("GATEHOUSE_LDAPS_LISTEN"))?),
        None => None,
    };
    Ok(Listeners { ldap, ldaps })
}

/// Names the generated certificate is made for: the public host, and loopback.
fn certificate_names(ctx: &Context) -> Vec<String> {
    let host = ctx
        .settings
        .external_url
        .split("://")
        .nth(1)
        .and_then(|rest| rest.split(['/', ':']).next())
        .unwrap_or("localhost")
        .to_string();
    let mut names = vec![host];
    for n in ["localhost", "127.0.0.1", "::1"] {
        if !names.iter().any(|h| h == n) {
            names.push(n.to_string());
        }
    }
    names
}

/// The certificate and key (PEM): from the settings' files, or the one kept
/// in the database (created on first use).
async fn tls_pem(ctx: &Context, backend: &dyn Backend) -> CmdResult<(String, String)> {
    let s = &ctx.settings.ldap;
    if let (Some(cert), Some(key)) = (&s.tls_cert, &s.tls_key) {
        let read = |p: &std::path::PathBuf, name: &str| {
            std::fs::read_to_string(p)
                .map_err(|e| Failure::input(format!("configuration: {name} {}: {e}", p.display())))
        };
        return Ok((
            read(cert, "GATEHOUSE_LDAP_TLS_CERT")?,
            read(key, "GATEHOUSE_LDAP_TLS_KEY")?,
        ));
    }
    let names = certificate_names(ctx);
    let pem = backend
        .stored_tls_pem(&|| tls::generate_pem(&names).map_err(|e| e.to_string()))
        .await
        .map_err(|e| Failure::runtime(format!("LDAP certificate: {e}")))?;
    Ok((pem.clone(), pem))
}

/// Serves LDAP on the bound listeners until `shutdown`; `None` when both are off.
pub async fn start(
    ctx: &Context,
    listeners: Listeners,
    directory: &Directory,
    changes: watch::Receiver<i64>,
    shutdown: watch::Receiver<bool>,
) -> CmdResult<Option<JoinHandle<()>>> {
    if listeners.ldap.is_none() && listeners.ldaps.is_none() {
        return Ok(None);
    }
    let settings = &ctx.settings.ldap;
    let backend: Arc<dyn Backend> = Arc::new(CoreBackend::new(directory.clone()));
    let (cert, key) = tls_pem(ctx, backend.as_ref()).await?;
    let tls_config =
        tls::server_config(&cert, &key).map_err(|e| Failure::input(format!("configuration: LDAP TLS: {e}")))?;
    let cells = Arc::new(SnapshotCell::default());
    snapshot::reload(backend.as_ref(), &cells)
        .await
        .map_err(|e| Failure::runtime(format!("LDAP: cannot read the directory: {e}")))?;
    let shared = Shared {
        backend: backend.clone(),
        snapshots: cells.clone(),
        limits: settings.search,
        binds: Arc::new(Semaphore::new(settings.max_pending_binds)),
        tls_available: true,
    };
    let server = Server::new(
        shared,
        settings.connections,
        Some(gatehouse_ldap::TlsAcceptor::from(tls_config)),
    );
    let follow = snapshot::follow(backend, cells, changes, shutdown.clone(), release_free_memory);
    let mut tasks = vec![tokio::spawn(follow)];
    for (l, implicit_tls) in [(listeners.ldap, false), (listeners.ldaps, true)] {
        if let Some(l) = l {
            let addr = l.local_addr()?;
            tracing::info!(listen = %addr, tls = implicit_tls, "LDAP listening");
            tasks.push(tokio::spawn(listener::serve(
                l,
                server.clone(),
                implicit_tls,
                shutdown.clone(),
            )));
        }
    }
    Ok(Some(tokio::spawn(async move {
        for t in tasks {
            let _ = t.await;
        }
    })))
}

/// A rebuilt snapshot leaves the previous one's memory free inside the
/// allocator's arenas; hand it back to the system (glibc keeps it otherwise).
fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free heap pages to the kernel.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// `gatehouse ldap`: only the LDAP listeners, over the configured database.
async fn serve_alone(ctx: &Context) -> CmdResult {
    let listeners = bind(ctx).await?;
    if listeners.ldap.is_none() && listeners.ldaps.is_none() {
        return Err(Failure::input(
            "GATEHOUSE_LDAP_LISTEN and GATEHOUSE_LDAPS_LISTEN are both off: nothing to serve",
        ));
    }
    let store = ctx.connect().await?;
    store.migrate().await?;
    let changes = store.watch_changes();
    let secret_key = crate::commands::mfa::secret_key(&ctx.settings)?;
    let directory = ctx
        .directory_on(store)?
        .with_mfa(crate::commands::mfa::server_config(&ctx.settings, &secret_key)?);
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    tokio::spawn(crate::commands::server::forward_signals(shutdown_tx));
    if let Some(task) = start(ctx, listeners, &directory, changes, shutdown_rx).await? {
        let _ = task.await;
    }
    tracing::info!("stopped");
    Ok(())
}

/// Where `ldap test` reaches the local server: the plain listener, on loopback
/// when it listens on every address.
fn local_addr(addr: SocketAddr) -> SocketAddr {
    let ip = match addr.ip() {
        IpAddr::V4(v4) if v4.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(v6) if v6.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    SocketAddr::new(ip, addr.port())
}

async fn test(
    ctx: &Context,
    username: &str,
    filter: Option<&str>,
    app: Option<&str>,
    password_stdin: bool,
) -> CmdResult {
    let addr =
        ctx.settings.ldap.listen.map(local_addr).ok_or_else(|| {
            Failure::input("GATEHOUSE_LDAP_LISTEN is off: `ldap test` talks to the plain LDAP listener")
        })?;
    let dir = ctx.directory().await?;
    let apps: Vec<_> = dir
        .apps()
        .list()
        .await?
        .into_iter()
        .filter(|a| a.app.provider == Some(gatehouse_core::ProviderKind::Ldap))
        .filter(|a| app.is_none_or(|slug| a.app.slug == slug))
        .collect();
    let chosen = match apps.as_slice() {
        [one] => one,
        [] => {
            return Err(Failure::input(
                "no LDAP application (create one with `app create SLUG --provider ldap`)",
            ));
        }
        _ => return Err(Failure::input("several LDAP applications: choose one with --app SLUG")),
    };
    let config = gatehouse_ldap::LdapConfig::from_value(&chosen.app.provider_config)
        .map_err(|e| Failure::input(format!("application {}: {e}", chosen.app.slug)))?;
    let tree = gatehouse_ldap::dn::Tree::new(
        config.base().map_err(|e| Failure::input(e.to_string()))?,
        &config.base_dn,
    );
    let bind_dn = tree.user_dn(username);
    let filter_text = filter.map_or_else(|| format!("(cn={username})"), str::to_string);
    let parsed = gatehouse_ldap::filter::parse(&filter_text)
        .map_err(|_| Failure::input(format!("'{filter_text}' is not an LDAP filter like (objectClass=user)")))?;
    let password = read_password(password_stdin)?;
    let mut client = gatehouse_ldap::client::Client::connect(addr).await.map_err(|e| {
        Failure::runtime(format!(
            "no LDAP server at {addr} (is `gatehouse server` running?): {e}"
        ))
    })?;
    let bound = client.simple_bind(&bind_dn, &password).await?;
    println!("bind {bind_dn}: {:?} {}", bound.code, bound.message);
    if bound.code != gatehouse_ldap::ldap3_proto::proto::LdapResultCode::Success {
        return Err(Failure::input("the bind was refused"));
    }
    let (entries, done) = client.search(tree.base_text(), parsed, Vec::new(), Some(500)).await?;
    for e in &entries {
        println!("\ndn: {}", e.dn);
        for a in &e.attributes {
            for v in &a.vals {
                println!("{}: {}", a.atype, String::from_utf8_lossy(v));
            }
        }
    }
    println!(
        "\n# {} entries; search {filter_text}: {:?} {}",
        entries.len(),
        done.code,
        done.message
    );
    let _ = client.unbind().await;
    Ok(())
}

fn read_password(from_stdin: bool) -> CmdResult<String> {
    if from_stdin {
        let mut text = String::new();
        std::io::stdin().read_to_string(&mut text)?;
        return Ok(text.trim_end_matches(['\r', '\n']).to_string());
    }
    rpassword::prompt_password("Password (append ;CODE for MFA): ")
        .map_err(|e| Failure::runtime(format!("cannot read the password: {e}")))
}
