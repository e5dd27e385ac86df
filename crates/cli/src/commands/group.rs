//! `gatehouse group …`

use crate::cli::GroupCmd;
use crate::context::Context;
use crate::failure::CmdResult;
use crate::output::{Table, print_json, yes_no};

pub async fn run(ctx: &Context, cmd: GroupCmd) -> CmdResult {
    let dir = ctx.directory().await?;
    let audit = ctx.audit();
    match cmd {
        GroupCmd::List => {
            let groups = dir.groups().list().await?;
            if ctx.json {
                return Ok(print_json(&groups)?);
            }
            let mut t = Table::new(["NAME", "SUPERUSER", "PARENT", "MEMBERS"]);
            for g in &groups {
                t.row([
                    g.group.name.clone(),
                    yes_no(g.group.is_superuser).into(),
                    g.parent.clone().unwrap_or_else(|| "-".into()),
                    g.direct_members.to_string(),
                ]);
            }
            t.print()?;
        }
        GroupCmd::Create { name, admin, parent } => {
            let g = dir.groups().create(&audit, &name, admin, parent.as_deref()).await?;
            if ctx.json {
                return Ok(print_json(&g)?);
            }
            println!("created group {}{}", g.name, if admin { " (superuser)" } else { "" });
        }
        GroupCmd::Delete { name } => {
            dir.groups().delete(&audit, &name).await?;
            println!("deleted group {name}");
        }
        GroupCmd::Add { group, username } => {
            let changed = dir.groups().add_member(&audit, &group, &username).await?;
            println!(
                "{}",
                if changed {
                    format!("added {username} to {group}")
                } else {
                    format!("{username} is already in {group}")
                }
            );
        }
        GroupCmd::Remove { group, username } => {
            let changed = dir.groups().remove_member(&audit, &group, &username).await?;
            println!(
                "{}",
                if changed {
                    format!("removed {username} from {group}")
                } else {
                    format!("{username} was not a direct member of {group}")
                }
            );
        }
        GroupCmd::Members { group } => {
            let members = dir.groups().members(&group).await?;
            if ctx.json {
                return Ok(print_json(&members)?);
            }
            let mut t = Table::new(["USERNAME", "NAME", "ACTIVE", "MEMBERSHIP"]);
            for m in &members {
                t.row([
                    m.username.clone(),
                    if m.name.is_empty() { "-".into() } else { m.name.clone() },
                    yes_no(m.is_active).into(),
                    m.via.as_ref().map_or("direct".into(), |g| format!("via {g}")),
                ]);
            }
            t.print()?;
        }
    }
    Ok(())
}
