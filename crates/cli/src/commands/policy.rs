//! `gatehouse policy mfa …`: who must use MFA (stored in the database; every
//! change is an `mfa_policy_changed` event).

use clap::{Subcommand, ValueEnum};
use gatehouse_core::mfa::{MfaMode, MfaPolicy};

use crate::context::Context;
use crate::failure::CmdResult;
use crate::output::{Table, or_dash, print_json};

#[derive(Debug, Subcommand)]
pub enum PolicyCmd {
    /// Who must use two-factor authentication.
    #[command(subcommand)]
    Mfa(MfaPolicyCmd),
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ModeArg {
    /// Nobody (applications marked with `require-app` still do).
    Off,
    /// Members of the policy's groups, direct or through nested groups (default: admins).
    Groups,
    /// Everyone.
    Everyone,
}

#[derive(Debug, Subcommand)]
pub enum MfaPolicyCmd {
    /// Show the policy in force.
    Show,
    /// Set who must use MFA at sign-in: off, groups or everyone.
    Set {
        #[arg(value_enum)]
        mode: ModeArg,
        /// With `groups`: the groups (replaces the list; repeat for several).
        #[arg(long = "group", value_name = "GROUP")]
        groups: Vec<String>,
    },
    /// Require MFA of everyone who opens this application (OIDC, forward-auth):
    /// a session without MFA is stepped up there.
    RequireApp { slug: String },
    /// Stop requiring MFA for this application.
    UnrequireApp { slug: String },
}

fn print(ctx: &Context, p: &MfaPolicy) -> CmdResult {
    if ctx.json {
        return Ok(print_json(p)?);
    }
    let mut t = Table::new(["SETTING", "VALUE"]);
    t.row(["mode", p.mode.as_str()]);
    t.row(["groups".to_string(), or_dash(&p.groups.join(", "))]);
    t.row(["applications".to_string(), or_dash(&p.apps.join(", "))]);
    t.print()?;
    Ok(())
}

pub async fn run(ctx: &Context, cmd: PolicyCmd) -> CmdResult {
    let dir = ctx.directory().await?;
    let audit = ctx.audit();
    let PolicyCmd::Mfa(cmd) = cmd;
    let mut policy = dir.mfa().policy().await?;
    let policy = match cmd {
        MfaPolicyCmd::Show => policy,
        MfaPolicyCmd::Set { mode, groups } => {
            policy.mode = match mode {
                ModeArg::Off => MfaMode::Off,
                ModeArg::Groups => MfaMode::Groups,
                ModeArg::Everyone => MfaMode::Everyone,
            };
            if !groups.is_empty() {
                policy.groups = groups;
            }
            dir.mfa().set_policy(&audit, policy).await?
        }
        MfaPolicyCmd::RequireApp { slug } => {
            policy.apps.push(slug);
            dir.mfa().set_policy(&audit, policy).await?
        }
        MfaPolicyCmd::UnrequireApp { slug } => {
            policy.apps.retain(|a| a != &slug);
            dir.mfa().set_policy(&audit, policy).await?
        }
    };
    print(ctx, &policy)
}
