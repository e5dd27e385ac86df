//! `gatehouse recovery …`

use crate::cli::RecoveryCmd;
use crate::context::Context;
use crate::failure::CmdResult;
use crate::output::{Table, print_json};

/// The public sign-in link for a recovery key.
pub fn link(ctx: &Context, key: &str) -> String {
    format!("{}/recovery/use-token/{key}/", ctx.settings.external_url)
}

pub async fn run(ctx: &Context, cmd: RecoveryCmd) -> CmdResult {
    let dir = ctx.directory().await?;
    let audit = ctx.audit();
    match cmd {
        RecoveryCmd::Admin {
            username,
            password_stdin,
        } => {
            // Read before changing anything, so a missing password changes nothing.
            let password = if password_stdin {
                let pw = crate::commands::user::read_stdin_line()?;
                dir.password_policy().check(&username, &pw)?;
                Some(pw)
            } else {
                None
            };
            let added = dir.recovery().admin(&audit, &username).await?;
            if !dir.users().get(&username).await?.is_active {
                dir.users().set_active(&audit, &username, true).await?;
                println!("{username} was disabled and is enabled again");
            }
            if let Some(password) = password {
                dir.users().set_password(&audit, &username, &password).await?;
                println!("password set for {username}");
            }
            println!(
                "{}",
                if added {
                    format!("{username} is now in admins")
                } else {
                    format!("{username} was already in admins")
                }
            );
        }
        RecoveryCmd::Key { username, minutes } => {
            let (key, record) = dir.recovery().create_key(&audit, &username, minutes).await?;
            // MFA: an administrator's link lets its user enrol a first authenticator.
            dir.mfa()
                .hold_enrolment_for_link(record.user_id, &key, record.expires_at)
                .await?;
            let link = link(ctx, &key);
            if ctx.json {
                return Ok(print_json(
                    &serde_json::json!({"link": link, "expires": record.expires_at}),
                )?);
            }
            println!("{link}");
            eprintln!(
                "one-time sign-in link for {username}; valid until {}",
                record.expires_at
            );
        }
        RecoveryCmd::List => {
            let keys = dir.recovery().list().await?;
            if ctx.json {
                return Ok(print_json(&keys)?);
            }
            let mut t = Table::new(["ID", "USER", "CREATED", "EXPIRES", "STATE"]);
            for k in &keys {
                t.row([
                    k.key.id.to_string(),
                    k.username.clone(),
                    k.key.created_at.to_rfc3339(),
                    k.key.expires_at.to_rfc3339(),
                    k.state.to_string(),
                ]);
            }
            t.print()?;
        }
    }
    Ok(())
}
