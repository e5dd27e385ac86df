//! `gatehouse key list|rotate`: the signing keys of tokens (OIDC ID and access
//! tokens, forward-auth's JWT). Rotation publishes the new key at once and
//! lets it sign after `--activate-in`; replaced keys stay published until
//! every token they signed has expired, so no client breaks.

use clap::Subcommand;
use gatehouse_core::clock::parse_age;
use gatehouse_crypto::signing::SigningAlg;

use crate::commands::app_oidc::AlgChoice;
use crate::context::Context;
use crate::failure::{CmdResult, Failure};
use crate::output::{Table, print_json};

#[derive(Debug, Subcommand)]
pub enum KeyCmd {
    /// List signing keys: signing, next (published, signs later), retiring
    /// (published until its tokens expired), expired.
    List {
        /// JWT keys (OIDC, forward-auth) or SAML keys and certificates.
        #[arg(long, value_enum, default_value = "jwt")]
        kind: crate::commands::app_saml::KeyKind,
    },
    /// Add a new key (per algorithm) that replaces the current one.
    Rotate {
        /// Only this algorithm (default: every algorithm that has a key).
        #[arg(long, value_enum, value_name = "ALG")]
        alg: Option<AlgChoice>,
        /// When the new key starts signing: it is in JWKS at once, so clients
        /// that cache JWKS learn it first (e.g. 10m, 1h, 0s; default 10m).
        #[arg(long, value_name = "AGE", default_value = "10m")]
        activate_in: String,
        /// JWT keys (OIDC, forward-auth) or SAML keys (the new certificate is
        /// in every SAML application's metadata at once).
        #[arg(long, value_enum, default_value = "jwt")]
        kind: crate::commands::app_saml::KeyKind,
        /// SAML: only this key family (rsa or ec-p256; default: every family that has a key).
        #[arg(long, value_name = "FAMILY")]
        family: Option<String>,
    },
}

pub async fn run(ctx: &Context, cmd: KeyCmd) -> CmdResult {
    let dir = ctx.directory().await?;
    match cmd {
        KeyCmd::List {
            kind: crate::commands::app_saml::KeyKind::Saml,
        } => crate::commands::app_saml::key_list(ctx, &dir).await?, // SAML provider
        KeyCmd::List { .. } => {
            let keys = dir.keys().list().await?;
            if ctx.json {
                return Ok(print_json(&keys)?);
            }
            let mut t = Table::new(["KID", "ALG", "GEN", "STATUS", "SIGNS FROM", "PUBLISHED UNTIL"]);
            for k in &keys {
                t.row([
                    k.kid.clone(),
                    k.alg.clone(),
                    k.generation.to_string(),
                    k.status.to_string(),
                    k.activates_at.to_rfc3339(),
                    k.publish_until.map_or_else(|| "-".into(), |t| t.to_rfc3339()),
                ]);
            }
            t.print()?;
        }
        KeyCmd::Rotate {
            alg,
            activate_in,
            kind,
            family,
        } => {
            let secs = parse_age(activate_in.trim()).ok_or_else(|| {
                Failure::input(format!(
                    "--activate-in {activate_in}: expected an age like 0s, 10m or 1h"
                ))
            })?;
            // SAML provider
            if kind == crate::commands::app_saml::KeyKind::Saml {
                return crate::commands::app_saml::key_rotate(ctx, &dir, family.as_deref(), secs).await;
            }
            let algs: Vec<SigningAlg> = match alg {
                Some(a) => vec![a.alg()],
                None => {
                    let have = dir.keys().algorithms().await?;
                    if have.is_empty() { vec![SigningAlg::Rs256] } else { have }
                }
            };
            let created = dir.keys().rotate(&ctx.audit(), &algs, secs).await?;
            if ctx.json {
                return Ok(print_json(&created)?);
            }
            for k in &created {
                println!(
                    "new {} key {} (generation {}): published now, signs from {}",
                    k.alg,
                    k.kid,
                    k.generation,
                    k.activates_at.to_rfc3339()
                );
            }
        }
    }
    Ok(())
}
