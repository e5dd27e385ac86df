//! `gatehouse session …`

use uuid::Uuid;

use crate::cli::SessionCmd;
use crate::context::Context;
use crate::failure::{CmdResult, Failure};
use crate::output::{Table, print_json};

pub async fn run(ctx: &Context, cmd: SessionCmd) -> CmdResult {
    let dir = ctx.directory().await?;
    match cmd {
        SessionCmd::List { username } => {
            let sessions = dir.sessions().list(username.as_deref()).await?;
            if ctx.json {
                return Ok(print_json(&sessions)?);
            }
            let mut t = Table::new(["ID", "USER", "STARTED", "LAST SEEN", "EXPIRES", "CLIENT"]);
            for l in &sessions {
                let s = &l.session;
                t.row([
                    s.id.to_string(),
                    l.username.clone(),
                    s.created_at.to_rfc3339(),
                    s.last_seen.to_rfc3339(),
                    s.expires_at.to_rfc3339(),
                    s.client_ip.clone().unwrap_or_else(|| "-".into()),
                ]);
            }
            t.print()?;
        }
        SessionCmd::Revoke { id: Some(id), .. } => {
            let id = Uuid::parse_str(&id)
                .map_err(|_| Failure::input(format!("'{id}' is not a session ID (see `gatehouse session list`)")))?;
            dir.sessions().revoke(&ctx.audit(), id, None).await?;
            println!("revoked session {id}");
        }
        SessionCmd::Revoke { user: Some(user), .. } => {
            let n = dir.sessions().revoke_user(&ctx.audit(), &user).await?;
            println!("revoked {n} session{} of {user}", if n == 1 { "" } else { "s" });
        }
        SessionCmd::Revoke { .. } => return Err(Failure::input("give a session ID or --user USERNAME")),
    }
    Ok(())
}
