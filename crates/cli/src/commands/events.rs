//! `gatehouse events [verify|head|prune]`

use gatehouse_core::clock::parse_age;
use gatehouse_core::events::ChainReport;
use gatehouse_core::{EventFilter, Timestamp};

use crate::cli::{EventsArgs, EventsCmd};
use crate::context::Context;
use crate::failure::{CmdResult, Failure};
use crate::output::{Table, print_json};

pub async fn run(ctx: &Context, args: EventsArgs) -> CmdResult {
    let dir = ctx.directory().await?;
    match args.command {
        None => {
            let since = match &args.since {
                Some(s) => Some(Timestamp::parse_since(s, dir.now()).ok_or_else(|| {
                    Failure::input(format!(
                        "--since '{s}' is not a time: use RFC 3339, a date like 2026-11-29, or an age like 12h or 7d"
                    ))
                })?),
                None => None,
            };
            if args.limit == 0 || args.limit > 100_000 {
                return Err(Failure::input("--limit must be between 1 and 100000"));
            }
            let filter = EventFilter {
                user: args.user,
                action: args.action,
                since,
                limit: args.limit,
                client_ip: None,
            };
            let events = dir.events().list(&filter).await?;
            if ctx.json {
                return Ok(print_json(&events)?);
            }
            let mut t = Table::new(["SEQ", "TIME", "ACTION", "ACTOR", "USER", "CLIENT IP", "CONTEXT"]);
            for e in &events {
                t.row([
                    e.seq.to_string(),
                    e.at.to_rfc3339(),
                    e.action.clone(),
                    e.actor.clone(),
                    e.user.clone().unwrap_or_else(|| "-".into()),
                    e.client_ip.clone().unwrap_or_else(|| "-".into()),
                    e.context.to_string(),
                ]);
            }
            t.print()?;
        }
        Some(EventsCmd::Verify { head: Some(file) }) => {
            crate::commands::events_head::verify(ctx, &dir, &file).await?;
        }
        Some(EventsCmd::Head { output }) => {
            crate::commands::events_head::head(ctx, &dir, output.as_deref()).await?;
        }
        Some(EventsCmd::Verify { head: None }) => {
            let report = dir.events().verify().await?;
            if ctx.json {
                print_json(&report)?;
            }
            match report {
                ChainReport::Intact {
                    events,
                    head_seq,
                    head_hash,
                } => {
                    if !ctx.json {
                        println!(
                            "audit log intact: {events} events checked, head is event {head_seq} with hash {head_hash}"
                        );
                    }
                }
                ChainReport::Broken { seq, reason } => {
                    return Err(Failure::runtime(format!("audit log broken at event {seq}: {reason}")));
                }
            }
        }
        Some(EventsCmd::Prune { older_than }) => {
            let keep_seconds = match older_than {
                Some(age) => parse_age(&age)
                    .filter(|s| *s > 0)
                    .ok_or_else(|| Failure::input(format!("--older-than '{age}' is not an age like 90d")))?,
                None if ctx.settings.event_retention_days == 0 => {
                    println!("retention is 0 (keep forever); nothing pruned");
                    return Ok(());
                }
                None => i64::from(ctx.settings.event_retention_days) * 86_400,
            };
            let n = dir.events().prune(&ctx.audit(), keep_seconds).await?;
            println!("pruned {n} events");
        }
    }
    Ok(())
}
