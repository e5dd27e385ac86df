//! Loads a synthetic directory for benchmarks, through the same `Directory`
//! services production code uses (every change with its audit event), not raw SQL.
//!
//! ```text
//! cargo run --release -p gatehouse --example seed_directory -- \
//!     sqlite:///tmp/bench/gatehouse.db --users 10000 --apps 200 --groups 50
//! ```
//!
//! Shape (deterministic for a given `--seed`):
//! - groups `group-000`..: the first tenth (at least one) are top-level, every
//!   later group `i` nests in group `i / 3`, giving chains up to 3-4 levels deep;
//! - users `user00001`..: each a direct member of 1-3 distinct groups;
//! - applications `app-000`..: every third one is open (no binding), the others
//!   are bound to 1-2 groups.
//!
//! Users are written by `--concurrency` tasks at once (each task: create the user,
//! then add its memberships). SQLite serialises writers on its file lock, so more
//! tasks only add lock waits: 2 (one transaction committing while the next one
//! is prepared) was fastest there, measured against 1, 3, 4, 8 and 16, though
//! within the noise of 8. PostgreSQL gains from more: 8 was ~25% faster than 2.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use clap::Parser;
use gatehouse_core::NewUser;
use gatehouse_core::password_policy::PasswordPolicy;
use gatehouse_core::{Audit, Directory, SystemClock};
use gatehouse_crypto::{HashParams, PasswordHasher};
use gatehouse_store::{ConnectOptions, SqlStore};
use tokio::task::JoinSet;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[derive(Parser, Debug)]
#[command(about = "Seed a Gatehouse directory with synthetic users, groups and applications")]
struct Args {
    /// sqlite://PATH or postgres://USER@HOST/DB (migrated if needed).
    database_url: String,
    #[arg(long, default_value_t = 10_000)]
    users: usize,
    #[arg(long, default_value_t = 200)]
    apps: usize,
    #[arg(long, default_value_t = 50)]
    groups: usize,
    /// Writes in flight at once (default: 2 on SQLite, 8 on PostgreSQL, the
    /// fastest measured; see the module comment).
    #[arg(long)]
    concurrency: Option<usize>,
    /// Pool size (default: the concurrency).
    #[arg(long)]
    pool: Option<u32>,
    /// Seed of the pseudo-random group choices.
    #[arg(long, default_value_t = 42)]
    seed: u64,
}

/// splitmix64: small, deterministic, no dependency.
#[derive(Clone)]
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// `k` distinct indices below `n` (k <= n).
    fn distinct(&mut self, k: usize, n: usize) -> Vec<usize> {
        let mut out = Vec::with_capacity(k);
        while out.len() < k.min(n) {
            let x = self.below(n);
            if !out.contains(&x) {
                out.push(x);
            }
        }
        out
    }
}

fn group_name(i: usize) -> String {
    format!("group-{i:03}")
}

fn user_name(i: usize) -> String {
    format!("user{i:05}")
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let args = Args::parse();
    if args.groups == 0 && (args.users > 0 || args.apps > 0) {
        return Err("--groups must be at least 1 when seeding users or applications".into());
    }
    let is_sqlite = args
        .database_url
        .trim_start()
        .to_ascii_lowercase()
        .starts_with("sqlite:");
    let concurrency = args.concurrency.unwrap_or(if is_sqlite { 2 } else { 8 }).max(1);
    let started = Instant::now();

    let store = SqlStore::connect(
        &args.database_url,
        ConnectOptions {
            max_connections: Some(args.pool.unwrap_or(concurrency as u32)),
            ..Default::default()
        },
    )
    .await?;
    store.migrate().await?;
    // Nobody gets a password here; keep the hasher cheap anyway.
    let hasher = PasswordHasher::new(
        HashParams {
            m_cost_kib: 8,
            t_cost: 1,
            p_cost: 1,
        },
        1,
    )?;
    let dir = Directory::new(
        Arc::new(store.clone()),
        Arc::new(SystemClock),
        hasher,
        PasswordPolicy::default(),
    );
    let audit = Audit::cli("seed_directory");
    let mut rng = Rng(args.seed);

    // Groups, in order: a parent always exists before its children.
    let t = Instant::now();
    let top = (args.groups / 10).max(1);
    for i in 0..args.groups {
        let parent = (i >= top).then(|| group_name(i / 3));
        dir.groups()
            .create(&audit, &group_name(i), false, parent.as_deref())
            .await?;
    }
    let groups_s = t.elapsed().as_secs_f64();
    eprintln!("groups: {} in {groups_s:.2} s", args.groups);

    // Users and their memberships, `concurrency` users in flight.
    let t = Instant::now();
    let memberships = Arc::new(AtomicUsize::new(0));
    let mut tasks: JoinSet<Result<(), BoxError>> = JoinSet::new();
    let mut done = 0usize;
    for i in 1..=args.users {
        while tasks.len() >= concurrency {
            join_one(&mut tasks).await?;
            done += 1;
            progress(done, args.users, t);
        }
        let count = 1 + rng.below(3);
        let picks: Vec<String> = rng.distinct(count, args.groups).into_iter().map(group_name).collect();
        let (dir, audit, memberships) = (dir.clone(), audit.clone(), memberships.clone());
        tasks.spawn(async move {
            let username = user_name(i);
            dir.users()
                .create(
                    &audit,
                    NewUser {
                        email: format!("{username}@example.com"),
                        name: format!("User {i:05}"),
                        username: username.clone(),
                    },
                )
                .await?;
            for g in &picks {
                if dir.groups().add_member(&audit, g, &username).await? {
                    memberships.fetch_add(1, Ordering::Relaxed);
                }
            }
            Ok(())
        });
    }
    while !tasks.is_empty() {
        join_one(&mut tasks).await?;
        done += 1;
        progress(done, args.users, t);
    }
    let users_s = t.elapsed().as_secs_f64();
    let memberships = memberships.load(Ordering::Relaxed);

    // Applications: every third one open, the rest bound to 1-2 groups.
    let t = Instant::now();
    let bindings = Arc::new(AtomicUsize::new(0));
    let mut open = 0usize;
    for i in 0..args.apps {
        while tasks.len() >= concurrency {
            join_one(&mut tasks).await?;
        }
        let picks: Vec<String> = if i % 3 == 0 {
            open += 1;
            Vec::new()
        } else {
            let count = 1 + rng.below(2);
            rng.distinct(count, args.groups).into_iter().map(group_name).collect()
        };
        let (dir, audit, bindings) = (dir.clone(), audit.clone(), bindings.clone());
        tasks.spawn(async move {
            let slug = format!("app-{i:03}");
            let url = format!("https://{slug}.example.com/");
            dir.apps()
                .create(&audit, &slug, &format!("App {i:03}"), Some(&url))
                .await?;
            for g in &picks {
                if dir.apps().bind(&audit, &slug, g).await? {
                    bindings.fetch_add(1, Ordering::Relaxed);
                }
            }
            Ok(())
        });
    }
    while !tasks.is_empty() {
        join_one(&mut tasks).await?;
    }
    let apps_s = t.elapsed().as_secs_f64();
    let bindings = bindings.load(Ordering::Relaxed);
    store.close().await;

    let total = started.elapsed().as_secs_f64();
    let writes = args.groups + args.users + memberships + args.apps + bindings;
    eprintln!(
        "seeded {} groups, {} users ({memberships} memberships), {} applications ({open} open, {bindings} bindings) \
         in {total:.2} s [groups {groups_s:.2} s, users {users_s:.2} s, apps {apps_s:.2} s]; \
         {writes} write transactions, {:.0}/s, concurrency {concurrency}",
        args.groups,
        args.users,
        args.apps,
        writes as f64 / total.max(1e-9),
    );
    Ok(())
}

async fn join_one(tasks: &mut JoinSet<Result<(), BoxError>>) -> Result<(), BoxError> {
    match tasks.join_next().await {
        Some(Ok(r)) => r,
        Some(Err(e)) => Err(Box::new(e)),
        None => Ok(()),
    }
}

fn progress(done: usize, total: usize, since: Instant) {
    if done.is_multiple_of(1000) || done == total {
        let s = since.elapsed().as_secs_f64();
        eprintln!("users: {done}/{total} ({:.0}/s)", done as f64 / s.max(1e-9));
    }
}
