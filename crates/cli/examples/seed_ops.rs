//! Seeds a large directory for the operations benchmark (`bench/ops.sh`):
//! groups and applications through the `Directory` services, then users (each
//! in 1-3 groups, with its `model_created` event) and audit events in large
//! write transactions through the store's `WriteTx`, so that a million
//! chained events take seconds rather than an hour of one-event
//! transactions. The result is a real database: the chain verifies, every
//! table is what the server would read.
//!
//! ```text
//! cargo run --release -p gatehouse --example seed_ops -- sqlite:///tmp/b/gatehouse.db \
//!     --users 100000 --groups 1000 --apps 200 --events 1000000
//! ```

use std::sync::Arc;
use std::time::Instant;

use clap::Parser;
use gatehouse_core::password_policy::PasswordPolicy;
use gatehouse_core::{Audit, Clock, Directory, Membership, NewEvent, Store, SystemClock, User};
use gatehouse_crypto::{HashParams, PasswordHasher};
use gatehouse_store::SqlStore;
use serde_json::json;
use uuid::Uuid;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[derive(Parser, Debug)]
#[command(about = "Seed a large Gatehouse directory for the operations benchmark")]
struct Args {
    database_url: String,
    #[arg(long, default_value_t = 100_000)]
    users: usize,
    #[arg(long, default_value_t = 1_000)]
    groups: usize,
    #[arg(long, default_value_t = 200)]
    apps: usize,
    /// Total audit events wanted (user and group creations count).
    #[arg(long, default_value_t = 1_000_000)]
    events: usize,
    /// Rows per write transaction.
    #[arg(long, default_value_t = 5_000)]
    batch: usize,
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let args = Args::parse();
    let started = Instant::now();
    let store = SqlStore::open(&args.database_url).await?;
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
    let audit = Audit::cli("seed_ops");
    let mut group_ids = Vec::with_capacity(args.groups);
    for i in 0..args.groups {
        let parent = (i >= 10).then(|| format!("group-{:04}", i / 10));
        let g = dir
            .groups()
            .create(&audit, &format!("group-{i:04}"), false, parent.as_deref())
            .await?;
        group_ids.push(g.id);
    }
    for i in 0..args.apps {
        let slug = format!("app-{i:03}");
        dir.apps()
            .create(
                &audit,
                &slug,
                &format!("App {i}"),
                Some(&format!("https://{slug}.example.com/")),
            )
            .await?;
        if i % 3 != 0 {
            dir.apps()
                .bind(&audit, &slug, &format!("group-{:04}", i % args.groups.max(1)))
                .await?;
        }
    }
    eprintln!("groups and applications in {:.1} s", started.elapsed().as_secs_f64());

    let t = Instant::now();
    let mut rng = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let mut made = 0;
    while made < args.users {
        let mut tx = store.begin().await?;
        let end = (made + args.batch).min(args.users);
        for i in made..end {
            let now = SystemClock.now();
            let user = User {
                id: Uuid::new_v4(),
                pk: 0,
                username: format!("user{i:06}"),
                email: format!("user{i:06}@example.com"),
                name: format!("User {i}"),
                is_active: true,
                password_hash: None,
                attributes: json!({}),
                created_at: now,
                last_login: None,
                password_changed_at: None,
            };
            tx.insert_user(&user).await?;
            let picks = 1 + (next() % 3) as usize;
            for k in 0..picks {
                let group_id = group_ids[(next() as usize + k) % group_ids.len().max(1)];
                tx.add_membership(Membership {
                    user_id: user.id,
                    group_id,
                })
                .await?;
            }
            tx.append_event(
                NewEvent {
                    action: "model_created".into(),
                    actor: "cli:seed_ops".into(),
                    user: Some(user.username.clone()),
                    client_ip: None,
                    context: json!({"model": "user", "pk": user.id, "name": user.username}),
                },
                now,
            )
            .await?;
        }
        tx.commit().await?;
        made = end;
        if made.is_multiple_of(20_000) || made == args.users {
            eprintln!(
                "users: {made}/{} ({:.0}/s)",
                args.users,
                made as f64 / t.elapsed().as_secs_f64()
            );
        }
    }
    let t = Instant::now();
    let mut have = store.chain_head().await?.head_seq as usize;
    let total = args.events;
    while have < total {
        let mut tx = store.begin().await?;
        let end = (have + args.batch).min(total);
        for i in have..end {
            let user = format!("user{:06}", i % args.users.max(1));
            let action = if i % 10 == 0 { "login_failed" } else { "login" };
            tx.append_event(
                NewEvent {
                    action: action.into(),
                    actor: format!("user:{user}"),
                    user: Some(user),
                    client_ip: Some(format!("10.0.{}.{}", (i / 256) % 256, i % 256)),
                    context: json!({"method": "password", "n": i}),
                },
                SystemClock.now(),
            )
            .await?;
        }
        tx.commit().await?;
        have = end;
        if have.is_multiple_of(100_000) || have == total {
            eprintln!(
                "events: {have}/{total} ({:.0}/s)",
                (have as f64) / t.elapsed().as_secs_f64()
            );
        }
    }
    store.close().await;
    eprintln!(
        "seeded {} groups, {} applications, {} users, {} events in {:.1} s",
        args.groups,
        args.apps,
        args.users,
        total,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
