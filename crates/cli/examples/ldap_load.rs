//! The load generator of `bench/ldap.sh`: drives any LDAP server (Gatehouse
//! or OpenLDAP's slapd) the same way, over `ldap3_proto`'s codec.
//!
//! ```text
//! ldap_load search --addr 127.0.0.1:3389 --bind-dn DN --password PW --base BASE \
//!     --filter '(uid=user00123)' [--page-size 500] [--attrs cn,uid] --concurrency 16 --seconds 10
//! ldap_load bind --addr 127.0.0.1:3389 --dn-template 'cn=user{:05},ou=users,BASE' \
//!     --users 32 --password PW --concurrency 8 --seconds 10
//! ```
//!
//! `search`: each of `--concurrency` connections binds once, then runs the
//! search in a loop (with `--page-size`, one operation is the whole paged
//! search, every page). `bind`: each connection binds again and again, as
//! users 1..=N in turn. Operations are counted within `--seconds` after
//! `--warmup`. Result: one `key=value` line (ops, rate, p50_ms, p99_ms,
//! errors, entries per op) on stdout. Loopback only.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};
use gatehouse_ldap::client::Client;
use gatehouse_ldap::ldap3_proto::proto::LdapResultCode;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[derive(Parser, Debug)]
#[command(about = "LDAP load generator for Gatehouse's benchmarks")]
struct Args {
    #[command(subcommand)]
    mode: Mode,
    /// Server address (loopback only).
    #[arg(long, global = true, default_value = "127.0.0.1:3389")]
    addr: SocketAddr,
    #[arg(long, global = true, default_value_t = 16)]
    concurrency: usize,
    #[arg(long, global = true, default_value_t = 10.0)]
    seconds: f64,
    #[arg(long, global = true, default_value_t = 1.0)]
    warmup: f64,
    /// Threads of the load generator's runtime.
    #[arg(long, global = true, default_value_t = 1)]
    threads: usize,
}

#[derive(Subcommand, Debug)]
enum Mode {
    Search {
        #[arg(long)]
        bind_dn: String,
        #[arg(long)]
        password: String,
        #[arg(long)]
        base: String,
        #[arg(long)]
        filter: String,
        /// Paged results (RFC 2696) with pages of this size.
        #[arg(long)]
        page_size: Option<i64>,
        /// Attributes to ask for, comma-separated (default: all user attributes).
        #[arg(long, default_value = "")]
        attrs: String,
    },
    Bind {
        /// DN of user i, with `{:05}` standing for i.
        #[arg(long)]
        dn_template: String,
        #[arg(long)]
        users: usize,
        #[arg(long)]
        password: String,
    },
}

struct Window {
    start: Instant,
    end: Instant,
}

#[derive(Default)]
struct Tally {
    latencies_us: Vec<u64>,
    errors: u64,
    entries: u64,
}

fn main() -> Result<(), BoxError> {
    let args = Args::parse();
    if !args.addr.ip().is_loopback() {
        return Err("--addr must be a loopback address".into());
    }
    if !(args.seconds > 0.0 && args.warmup >= 0.0 && args.seconds + args.warmup < 3600.0) {
        return Err("--seconds > 0 and --warmup >= 0, together under an hour".into());
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.threads.max(1))
        .enable_all()
        .build()?;
    rt.block_on(run(args))
}

async fn run(args: Args) -> Result<(), BoxError> {
    let now = Instant::now();
    let window = Arc::new(Window {
        start: now + Duration::from_secs_f64(args.warmup),
        end: now + Duration::from_secs_f64(args.warmup + args.seconds),
    });
    let mode = Arc::new(args.mode);
    let mut tasks = Vec::new();
    for worker in 0..args.concurrency.max(1) {
        let (mode, window) = (mode.clone(), window.clone());
        let addr = args.addr;
        tasks.push(tokio::spawn(
            async move { worker_loop(addr, &mode, &window, worker).await },
        ));
    }
    let mut all = Tally::default();
    for t in tasks {
        let tally = t.await??;
        all.latencies_us.extend(tally.latencies_us);
        all.errors += tally.errors;
        all.entries += tally.entries;
    }
    all.latencies_us.sort_unstable();
    let n = all.latencies_us.len();
    let pct = |p: f64| -> f64 {
        if n == 0 {
            return 0.0;
        }
        let i = ((p * n as f64).ceil() as usize).clamp(1, n) - 1;
        all.latencies_us[i] as f64 / 1000.0
    };
    println!(
        "ops={n} rate={:.1} p50_ms={:.3} p99_ms={:.3} errors={} entries_per_op={:.1}",
        n as f64 / args.seconds,
        pct(0.50),
        pct(0.99),
        all.errors,
        if n == 0 { 0.0 } else { all.entries as f64 / n as f64 },
    );
    Ok(())
}

async fn worker_loop(addr: SocketAddr, mode: &Mode, window: &Window, worker: usize) -> Result<Tally, BoxError> {
    let mut tally = Tally::default();
    let mut client = Client::connect(addr).await?;
    match mode {
        Mode::Search {
            bind_dn,
            password,
            base,
            filter,
            page_size,
            attrs,
        } => {
            let bound = client.simple_bind(bind_dn, password).await?;
            if bound.code != LdapResultCode::Success {
                return Err(format!("bind as {bind_dn} failed: {:?} {}", bound.code, bound.message).into());
            }
            let filter = gatehouse_ldap::filter::parse(filter).map_err(|e| format!("--filter: {e}"))?;
            let attrs: Vec<String> = attrs.split(',').filter(|a| !a.is_empty()).map(str::to_string).collect();
            loop {
                let t0 = Instant::now();
                if t0 >= window.end {
                    break;
                }
                let (entries, done) = client.search(base, filter.clone(), attrs.clone(), *page_size).await?;
                record(
                    &mut tally,
                    window,
                    t0,
                    done.code == LdapResultCode::Success,
                    entries.len(),
                );
            }
        }
        Mode::Bind {
            dn_template,
            users,
            password,
        } => {
            let mut i = worker;
            loop {
                let t0 = Instant::now();
                if t0 >= window.end {
                    break;
                }
                let dn = dn_template.replace("{:05}", &format!("{:05}", i % users.max(&1) + 1));
                let res = client.simple_bind(&dn, password).await?;
                record(&mut tally, window, t0, res.code == LdapResultCode::Success, 0);
                i += 1;
            }
        }
    }
    let _ = client.unbind().await;
    Ok(tally)
}

fn record(tally: &mut Tally, window: &Window, t0: Instant, ok: bool, entries: usize) {
    let t1 = Instant::now();
    // Only operations that started and ended inside the window count.
    if t0 < window.start || t1 > window.end {
        return;
    }
    if ok {
        tally.latencies_us.push(t1.duration_since(t0).as_micros() as u64);
        tally.entries += entries as u64;
    } else {
        tally.errors += 1;
    }
}
