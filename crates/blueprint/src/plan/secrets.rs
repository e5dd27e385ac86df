//! The plain-text secrets a plan sets (user passwords, OAuth2 client
//! secrets): compared with what is stored, through the stored hash, and
//! hashed only where they differ.

use std::collections::HashMap;

use gatehouse_core::Directory;
use gatehouse_oidc::config::OidcConfig;

use super::Plan;
use crate::state::ProviderDraft;

/// Passwords and client secrets given in plain text, resolved by [`prepare`].
#[derive(Default)]
pub struct Secrets {
    /// user id → new hash (None: unchanged).
    pub passwords: HashMap<uuid::Uuid, Option<String>>,
    /// application id → new keyed hash (None: unchanged).
    pub client_secrets: HashMap<uuid::Uuid, Option<String>>,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Secrets")
            .field("passwords", &self.passwords.len())
            .field("client_secrets", &self.client_secrets.len())
            .finish()
    }
}

/// Compares plain-text secrets with what is stored and hashes the ones that
/// differ (`hash`: false for a plan, which only needs to know).
pub async fn prepare(dir: &Directory, plan: &Plan, hash: bool) -> gatehouse_core::Result<Secrets> {
    Ok(Secrets {
        passwords: passwords(dir, plan, hash).await?,
        client_secrets: client_secrets(dir, plan).await?,
    })
}

async fn passwords(
    dir: &Directory,
    plan: &Plan,
    hash: bool,
) -> gatehouse_core::Result<HashMap<uuid::Uuid, Option<String>>> {
    let mut out = HashMap::new();
    for u in plan.after.users.iter().filter(|u| u.live) {
        let Some(pw) = &u.password else { continue };
        let current = plan
            .before
            .user_id(u.user.id)
            .and_then(|i| plan.before.users[i].user.password_hash.clone());
        let same = match &current {
            Some(h) => dir.hasher().verify(pw, h).await.is_ok_and(|v| v.is_match()),
            None => false,
        };
        let new = if same {
            None
        } else if hash {
            Some(dir.users().hash_new_password(&u.user.username, pw).await?)
        } else {
            dir.password_policy().check(&u.user.username, pw)?;
            Some("(new)".into())
        };
        out.insert(u.user.id, new);
    }
    Ok(out)
}

/// Client secrets are always hashed: a keyed hash is cheap.
async fn client_secrets(dir: &Directory, plan: &Plan) -> gatehouse_core::Result<HashMap<uuid::Uuid, Option<String>>> {
    let mut out = HashMap::new();
    for p in plan.after.providers.iter().filter(|p| p.live) {
        let ProviderDraft::Oidc {
            secret: Some(secret), ..
        } = &p.draft
        else {
            continue;
        };
        let Some(ai) = plan.after.app_of_provider(p.id) else {
            continue;
        };
        let app_id = plan.after.apps[ai].app.id;
        let current = plan
            .before
            .app_id(app_id)
            .and_then(|i| OidcConfig::from_value(&plan.before.apps[i].app.provider_config).ok())
            .and_then(|c| c.client_secret_hash);
        let same = match &current {
            Some(h) => dir.oauth().client_secret_matches(secret, h).await?,
            None => false,
        };
        let new = if same {
            None
        } else {
            Some(dir.oauth().hash_client_secret(secret).await?)
        };
        out.insert(app_id, new);
    }
    Ok(out)
}
