//! `gatehouse user mfa …`: a user's authenticators, and the admin's reset.

use clap::Subcommand;

use crate::context::Context;
use crate::failure::CmdResult;
use crate::output::{Table, print_json};

#[derive(Debug, Subcommand)]
pub enum UserMfaCmd {
    /// List a user's authenticators and how many recovery codes are left.
    List { username: String },
    /// Remove every authenticator and recovery code of a user and end their
    /// sessions (when they lost their devices). They enrol again at next sign-in
    /// if policy requires MFA (within GATEHOUSE_MFA_ENROLMENT_WINDOW_MINUTES).
    Reset { username: String },
    /// Let a user who must use MFA enrol their first authenticator now (for
    /// GATEHOUSE_MFA_ENROLMENT_WINDOW_MINUTES, or --minutes): outside such a
    /// window a password alone does not let anyone enrol one.
    AllowEnrolment {
        username: String,
        #[arg(long, value_name = "N")]
        minutes: Option<i64>,
    },
}

pub async fn run(ctx: &Context, cmd: UserMfaCmd) -> CmdResult {
    let dir = ctx.directory().await?;
    match cmd {
        UserMfaCmd::List { username } => {
            let user = dir.users().get(&username).await?;
            let status = dir.mfa().status(&user).await?;
            if ctx.json {
                return Ok(print_json(&status)?);
            }
            let mut t = Table::new(["ID", "TYPE", "NAME", "ADDED", "LAST USED"]);
            for a in &status.authenticators {
                t.row([
                    a.id.to_string(),
                    a.kind.as_str().to_string(),
                    a.name.clone(),
                    a.created_at.to_rfc3339(),
                    a.last_used_at.map_or("never".into(), |t| t.to_rfc3339()),
                ]);
            }
            t.print()?;
            println!(
                "recovery codes left: {}; MFA required by policy: {}",
                status.recovery_codes_left,
                if status.required { "yes" } else { "no" }
            );
        }
        UserMfaCmd::AllowEnrolment { username, minutes } => {
            let until = dir.mfa().allow_enrolment(&ctx.audit(), &username, minutes).await?;
            if ctx.json {
                return Ok(print_json(&serde_json::json!({"username": username, "until": until}))?);
            }
            println!("{username} may enrol a first authenticator until {until}");
        }
        UserMfaCmd::Reset { username } => {
            let n = dir.mfa().reset(&ctx.audit(), &username).await?;
            println!(
                "removed {n} authenticator{} and the recovery codes of {username}; their sessions ended",
                if n == 1 { "" } else { "s" }
            );
        }
    }
    Ok(())
}

/// The server's secret key: `GATEHOUSE_SECRET_KEY`, or one generated now and
/// appended to the `.env` file (like the bootstrap password). It seals TOTP
/// seeds and derives the key that signs audit-log heads.
pub fn secret_key(settings: &crate::config::Settings) -> Result<String, crate::failure::Failure> {
    use crate::failure::Failure;
    Ok(match settings.secret_key.clone() {
        Some(k) => k,
        None => {
            let k = gatehouse_crypto::random_token(32);
            crate::envfile::append_secret(&settings.env_file, "GATEHOUSE_SECRET_KEY", &k).map_err(|e| {
                Failure::runtime(format!(
                    "could not write the generated GATEHOUSE_SECRET_KEY to {}: {e}; set one yourself",
                    settings.env_file.display()
                ))
            })?;
            tracing::info!(env_file = %settings.env_file.display(), "generated GATEHOUSE_SECRET_KEY (keeps MFA secrets encrypted at rest) into the env file");
            k
        }
    })
}

/// The server's MFA settings: the seed cipher from the secret key (see
/// [`secret_key`]), the WebAuthn relying party from `GATEHOUSE_EXTERNAL_URL`,
/// and the issuer name authenticator apps show.
pub fn server_config(
    settings: &crate::config::Settings,
    key: &str,
) -> Result<gatehouse_core::mfa::MfaConfig, crate::failure::Failure> {
    use crate::failure::Failure;
    let cipher = gatehouse_core::mfa::SecretCipher::from_secret_key(key)
        .map_err(|e| Failure::input(format!("configuration: {e}")))?;
    let webauthn = gatehouse_core::mfa::webauthn::relying_party(&settings.external_url, &settings.branding_title);
    if webauthn.is_none() {
        tracing::warn!(external_url = %settings.external_url, "passkeys are off: GATEHOUSE_EXTERNAL_URL must name a host (not an IP address) for WebAuthn");
    }
    Ok(gatehouse_core::mfa::MfaConfig {
        cipher,
        webauthn,
        issuer: settings.branding_title.clone(),
    })
}
