//! Seeds refresh tokens for the OIDC benchmark (`bench/oidc.sh`): N grants of
//! one user for one OIDC application, each with one refresh token, written in
//! one transaction through the store's own `WriteTx` methods; prints the
//! tokens (one per line) for the load generator to spend, each exactly once
//! (a refresh token is rotated on use: spending one twice would revoke it).
//!
//! ```text
//! cargo run --release -p gatehouse --example oidc_refresh_tokens -- \
//!     sqlite:///tmp/bench/gatehouse.db --slug bench-ed --user alice --count 50000 > tokens.txt
//! ```

use clap::Parser;
use gatehouse_core::oauth::model::{Grant, RefreshToken};
use gatehouse_core::{Clock, Store, SystemClock};
use gatehouse_crypto::{random_token, sha256_hex};
use gatehouse_store::SqlStore;
use uuid::Uuid;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[derive(Parser, Debug)]
#[command(about = "Seed refresh tokens for the OIDC benchmark")]
struct Args {
    database_url: String,
    #[arg(long)]
    slug: String,
    #[arg(long)]
    user: String,
    #[arg(long, default_value_t = 50_000)]
    count: usize,
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let args = Args::parse();
    let store = SqlStore::open(&args.database_url).await?;
    let app = store
        .application_by_slug(&args.slug)
        .await?
        .ok_or("no such application")?;
    let user = store.user_by_name(&args.user).await?.ok_or("no such user")?;
    let now = SystemClock.now();
    let scopes = vec!["openid".to_string(), "profile".into(), "offline_access".into()];
    let mut out = String::with_capacity(args.count * 45);
    let mut tx = store.begin().await?;
    for _ in 0..args.count {
        let grant = Grant {
            id: Uuid::new_v4(),
            application_id: app.id,
            user_id: user.id,
            session_id: None,
            scopes: scopes.clone(),
            auth_time: now,
            amr: vec!["pwd".into()],
            nonce: None,
            created_at: now,
            expires_at: now.plus_seconds(86_400),
            revoked_at: None,
        };
        tx.insert_grant(&grant).await?;
        let token = random_token(32);
        tx.insert_refresh_token(&RefreshToken {
            token_hash: sha256_hex(token.as_bytes()),
            grant_id: grant.id,
            scopes: scopes.clone(),
            created_at: now,
            expires_at: now.plus_seconds(86_400),
            used_at: None,
        })
        .await?;
        out.push_str(&token);
        out.push('\n');
    }
    tx.commit().await?;
    print!("{out}");
    Ok(())
}
