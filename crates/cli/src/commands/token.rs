//! `gatehouse token …`: API tokens for the REST API (`/api/v3/`).

use clap::Subcommand;
use gatehouse_core::clock::parse_age;
use gatehouse_core::tokens::NewToken;

use crate::context::Context;
use crate::failure::{CmdResult, Failure};
use crate::output::{Table, print_json};

#[derive(Debug, Subcommand)]
pub enum TokenCmd {
    /// Create a token for USER and print its key (shown only this once).
    Create {
        /// Whose token it is: the API acts as this user.
        #[arg(long, value_name = "USERNAME")]
        user: String,
        /// Expire after this long (`90m`, `12h`, `30d`, `2w`); default never.
        #[arg(long, value_name = "AGE")]
        expires: Option<String>,
        #[arg(long, default_value = "")]
        description: String,
        /// `api` (REST API) or `app_password` (LDAP bind).
        #[arg(long, default_value = "api")]
        intent: String,
        /// The token's name; default USER-INTENT-<random>.
        #[arg(long)]
        identifier: Option<String>,
    },
    /// List tokens, of everyone or of one user (never their keys).
    List {
        #[arg(long, value_name = "USERNAME")]
        user: Option<String>,
    },
    /// Delete a token by its identifier.
    Revoke { identifier: String },
}

pub async fn run(ctx: &Context, cmd: TokenCmd) -> CmdResult {
    let dir = ctx.directory().await?;
    match cmd {
        TokenCmd::Create {
            user,
            expires,
            description,
            intent,
            identifier,
        } => {
            let expires_at = match expires {
                Some(age) => {
                    let secs = parse_age(&age)
                        .filter(|s| *s > 0)
                        .ok_or_else(|| Failure::input(format!("--expires '{age}': use 90m, 12h, 30d or 2w")))?;
                    Some(dir.now().plus_seconds(secs))
                }
                None => None,
            };
            let new = NewToken {
                identifier,
                username: user,
                intent: Some(intent),
                description,
                expires_at,
            };
            let (key, token) = dir.tokens().create(&ctx.audit(), new).await?;
            if ctx.json {
                return Ok(print_json(
                    &serde_json::json!({"identifier": token.identifier, "key": key,
                    "expires": token.expires_at.map(|t| t.to_rfc3339())}),
                )?);
            }
            eprintln!("created token {} (the key is shown only now)", token.identifier);
            println!("{key}");
        }
        TokenCmd::List { user } => {
            let owner = match &user {
                Some(u) => Some(dir.users().get(u).await?.id),
                None => None,
            };
            let tokens = dir.tokens().list(owner).await?;
            let users = dir.users().list().await?;
            let name = |id| {
                users
                    .iter()
                    .find(|u| u.id == id)
                    .map_or_else(|| "-".to_string(), |u| u.username.clone())
            };
            if ctx.json {
                let rows: Vec<_> = tokens
                    .iter()
                    .map(|t| {
                        serde_json::json!({"identifier": t.identifier, "user": name(t.user_id),
                        "intent": t.intent, "description": t.description,
                        "expires": t.expires_at.map(|x| x.to_rfc3339()),
                        "last_used": t.last_used.map(|x| x.to_rfc3339())})
                    })
                    .collect();
                return Ok(print_json(&rows)?);
            }
            let mut t = Table::new(["IDENTIFIER", "USER", "INTENT", "EXPIRES", "LAST USED", "DESCRIPTION"]);
            for tok in &tokens {
                t.row([
                    tok.identifier.clone(),
                    name(tok.user_id),
                    tok.intent.clone(),
                    tok.expires_at.map_or_else(|| "never".into(), |x| x.to_rfc3339()),
                    tok.last_used.map_or_else(|| "-".into(), |x| x.to_rfc3339()),
                    tok.description.clone(),
                ]);
            }
            t.print()?;
        }
        TokenCmd::Revoke { identifier } => {
            dir.tokens().revoke(&ctx.audit(), &identifier, None).await?;
            println!("revoked token {identifier}");
        }
    }
    Ok(())
}
