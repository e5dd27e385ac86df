//! `gatehouse key list|rotate`: the key ring. JWT keys sign OIDC ID and
//! access tokens and forward-auth's JWT; SAML keys (`--kind saml`) sign
//! assertions and are published as certificates in every SAML application's
//! metadata. Rotation publishes the new key at once and lets it sign after
//! `--activate-in`; replaced keys stay published until everything they signed
//! has expired, so no client breaks.

use clap::{Subcommand, ValueEnum};
use gatehouse_core::Directory;
use gatehouse_core::clock::parse_age;
use gatehouse_core::keys::{KeyKind, KeyListing, KeyPurpose};
use gatehouse_saml::KeyFamily;

use crate::commands::app_oidc::AlgChoice;
use crate::context::Context;
use crate::failure::{CmdResult, Failure};
use crate::output::{Table, print_json};

/// Which keys `gatehouse key` handles.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq, Default)]
#[value(rename_all = "lower")]
pub enum KindChoice {
    /// JWT signing keys (OIDC, forward-auth).
    #[default]
    Jwt,
    /// SAML signing keys and certificates.
    Saml,
}

impl KindChoice {
    fn kind(self) -> KeyKind {
        match self {
            KindChoice::Jwt => KeyKind::Jwt,
            KindChoice::Saml => KeyKind::Saml,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum KeyCmd {
    /// List signing keys: signing, next (published, signs later), retiring
    /// (published until what it signed expired), expired.
    List {
        /// JWT keys (OIDC, forward-auth) or SAML keys and certificates.
        #[arg(long, value_enum, default_value = "jwt")]
        kind: KindChoice,
    },
    /// Add a new key (per algorithm) that replaces the current one.
    Rotate {
        /// Only this algorithm (default: every algorithm that has a key).
        #[arg(long, value_enum, value_name = "ALG")]
        alg: Option<AlgChoice>,
        /// When the new key starts signing: it is in JWKS (and SAML metadata)
        /// at once, so clients that cache them learn it first (e.g. 10m, 1h,
        /// 0s; default 10m).
        #[arg(long, value_name = "AGE", default_value = "10m")]
        activate_in: String,
        /// JWT keys (OIDC, forward-auth) or SAML keys (the new certificate is
        /// in every SAML application's metadata at once).
        #[arg(long, value_enum, default_value = "jwt")]
        kind: KindChoice,
        /// SAML: only this key family (rsa or ec-p256; default: every family that has a key).
        #[arg(long, value_name = "FAMILY")]
        family: Option<String>,
    },
}

pub async fn run(ctx: &Context, cmd: KeyCmd) -> CmdResult {
    let dir = ctx.directory().await?;
    match cmd {
        KeyCmd::List { kind } => list(ctx, &dir, kind.kind()).await,
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
            let kind = kind.kind();
            let chosen = match (kind, alg, family) {
                (KeyKind::Jwt, _, Some(_)) => return Err(Failure::input("--family needs --kind saml")),
                (KeyKind::Saml, Some(_), _) => {
                    return Err(Failure::input("--alg is for JWT keys; SAML keys take --family"));
                }
                (KeyKind::Jwt, Some(a), None) => Some(KeyPurpose::Jwt(a.alg())),
                (KeyKind::Saml, None, Some(f)) => Some(KeyPurpose::Saml(
                    KeyFamily::parse(&f).ok_or_else(|| Failure::input("--family: rsa or ec-p256"))?,
                )),
                (_, None, None) => None,
            };
            let purposes = match chosen {
                Some(p) => vec![p],
                None => dir.keys().in_use(kind).await?,
            };
            let created = dir.keys().rotate(&ctx.audit(), &purposes, secs).await?;
            if ctx.json {
                return Ok(print_json(&created)?);
            }
            for k in &created {
                let (what, published) = match k.purpose {
                    KeyPurpose::Jwt(alg) => (alg.to_string(), "published now"),
                    KeyPurpose::Saml(family) => (format!("SAML {family}"), "in metadata now"),
                };
                println!(
                    "new {what} key {} (generation {}): {published}, signs from {}",
                    k.kid,
                    k.generation,
                    k.activates_at.to_rfc3339()
                );
            }
            Ok(())
        }
    }
}

async fn list(ctx: &Context, dir: &Directory, kind: KeyKind) -> CmdResult {
    let keys: Vec<KeyListing> = dir.keys().list(kind).await?;
    if ctx.json {
        return Ok(print_json(&keys)?);
    }
    let alg_header = if kind == KeyKind::Saml { "KEY" } else { "ALG" };
    let mut t = Table::new(["KID", alg_header, "GEN", "STATUS", "SIGNS FROM", "PUBLISHED UNTIL"]);
    for k in &keys {
        t.row([
            k.kid.clone(),
            k.purpose.alg_name().to_string(),
            k.generation.to_string(),
            k.status.to_string(),
            k.activates_at.to_rfc3339(),
            k.publish_until.map_or_else(|| "-".into(), |t| t.to_rfc3339()),
        ]);
    }
    t.print()?;
    Ok(())
}
