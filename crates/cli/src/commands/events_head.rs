//! `gatehouse events head` and `events verify --head FILE`: the audit log's
//! chain head signed with a key derived from GATEHOUSE_SECRET_KEY, and the check
//! of the database against heads kept elsewhere (see
//! `gatehouse_core::events_head` for what that detects).

use std::path::Path;

use gatehouse_core::Directory;
use gatehouse_core::events_head::{HeadKey, HeadReport, SignedHead};

use crate::context::Context;
use crate::failure::{CmdResult, Failure};
use crate::output::print_json;

/// The head key, from the secret key the server generated into the env file.
pub fn head_key(ctx: &Context) -> CmdResult<HeadKey> {
    let secret = ctx.settings.secret_key.as_deref().ok_or_else(|| {
        Failure::input(format!(
            "GATEHOUSE_SECRET_KEY is not set: the server generates it into {} on first start; run this where that file is read",
            ctx.settings.env_file.display()
        ))
    })?;
    HeadKey::from_secret_key(secret).map_err(|e| Failure::input(format!("configuration: {e}")))
}

/// `events head [-o FILE]`.
pub async fn head(ctx: &Context, dir: &Directory, output: Option<&Path>) -> CmdResult {
    let key = head_key(ctx)?;
    let signed = dir.events().signed_chain_head(&key).await?;
    match output {
        Some(path) => {
            gatehouse_worker::audit_head::append_to_file(path, &signed)
                .map_err(|e| Failure::runtime(format!("cannot write {}: {e}", path.display())))?;
            eprintln!(
                "appended the signed head (event {}) to {}",
                signed.head_seq,
                path.display()
            );
        }
        None => println!(
            "{}",
            serde_json::to_string(&signed).map_err(|e| Failure::runtime(e.to_string()))?
        ),
    }
    Ok(())
}

/// `events verify --head FILE`.
pub async fn verify(ctx: &Context, dir: &Directory, file: &Path) -> CmdResult {
    let key = head_key(ctx)?;
    let text = std::fs::read_to_string(file).map_err(|e| Failure::input(format!("{}: {e}", file.display())))?;
    let heads = SignedHead::parse_lines(&text).map_err(|e| Failure::input(format!("{}: {e}", file.display())))?;
    let retention = i64::from(ctx.settings.event_retention_days) * 86_400;
    let report = dir.events().verify_against_heads(&key, &heads, retention).await?;
    if ctx.json {
        print_json(&report)?;
    }
    match report {
        HeadReport::Consistent {
            heads,
            unverifiable,
            newest_seq,
            chain,
        } => {
            if !ctx.json {
                let events = match chain {
                    gatehouse_core::events::ChainReport::Intact { events, .. } => events,
                    gatehouse_core::events::ChainReport::Broken { .. } => 0,
                };
                println!(
                    "audit log intact and consistent with {heads} signed head{} (newest: event {newest_seq}; {unverifiable} older than the retained log); {events} events checked",
                    if heads == 1 { "" } else { "s" }
                );
            }
            Ok(())
        }
        HeadReport::Broken { seq, reason } => Err(Failure::runtime(format!(
            "audit log does not match the signed heads at event {seq}: {reason}"
        ))),
    }
}
