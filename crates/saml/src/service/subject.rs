//! Who an assertion is about: the NameID an application gets for a user
//! (the persistent one is a pseudonym) and the attributes it carries.

use gatehouse_core::{Directory, Group, Session, User};
use gatehouse_crypto::mac::keyed_hash;
use gatehouse_crypto::{random_token, sha256_hex};
use uuid::Uuid;

use super::SamlApp;
use crate::config::NameIdKind;

/// The server secret persistent NameIDs are made under.
const PSEUDONYM_SECRET: &str = "saml_pseudonym_key";

/// Who an assertion is about.
#[derive(Debug, Clone)]
pub struct Subject {
    pub name_id: String,
    pub username: String,
    pub email: String,
    pub name: String,
    pub uid: String,
    /// The user's effective groups, by name.
    pub groups: Vec<String>,
    pub session_index: String,
}

impl Subject {
    /// The subject of an assertion to `sp` for `user` in `session`, with the
    /// groups the gate found.
    pub(crate) async fn of(
        dir: &Directory,
        sp: &SamlApp,
        user: &User,
        session: &Session,
        groups: &[Group],
    ) -> gatehouse_core::Result<Subject> {
        let name_id = match sp.cfg.name_id {
            NameIdKind::Persistent => pseudonym(dir, sp.app.id, user.id).await?,
            NameIdKind::Email => user.email.clone(),
            NameIdKind::Transient => crate::new_id(),
            NameIdKind::Unspecified | NameIdKind::Username => user.username.clone(),
        };
        let session_index = format!(
            "_{}",
            &sha256_hex(format!("saml-session\n{}\n{}", session.id, sp.app.id).as_bytes())[..40]
        );
        Ok(Subject {
            name_id,
            username: user.username.clone(),
            email: user.email.clone(),
            name: user.name.clone(),
            uid: user.hashed_uid(),
            groups: groups.iter().map(|g| g.name.clone()).collect(),
            session_index,
        })
    }
}

/// The persistent NameID of a user for an application: an HMAC of both ids
/// under a server secret, so it is stable, differs per application and cannot
/// be linked across applications.
pub(crate) async fn pseudonym(dir: &Directory, app_id: Uuid, user_id: Uuid) -> gatehouse_core::Result<String> {
    let key = dir
        .secrets()
        .get_or_create(PSEUDONYM_SECRET, || random_token(32))
        .await?;
    let mac = keyed_hash(key.as_bytes(), &format!("{app_id}\n{user_id}"));
    let hex = mac.rsplit(':').next().unwrap_or(&mac);
    Ok(format!("_{}", &hex[..hex.len().min(40)]))
}
