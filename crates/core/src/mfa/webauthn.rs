//! WebAuthn / passkeys with webauthn-rs: registration from the portal,
//! authentication as a second factor, and discoverable ("passkey") sign-in
//! without a username. Ceremony state stays on the server: in a flow record
//! (registration, keyed by a random token bound to the session) or in the
//! sign-in flow itself; the browser only ever holds the challenge.
//!
//! `amr`: a backup-eligible (synced) credential is a software-secured key
//! (`swk`), any other a hardware-secured key (`hwk`); user verification is
//! required, so a passkey alone is two factors (`mfa`).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use gatehouse_crypto::{random_token, sha256_hex};
use serde_json::{Value, json};
use uuid::Uuid;
use webauthn_rs::prelude::{
    CredentialID, DiscoverableAuthentication, Passkey, PasskeyAuthentication, PasskeyRegistration, PublicKeyCredential,
    RegisterPublicKeyCredential,
};

use super::{Authenticator, AuthenticatorKind, clean_name};
use crate::audit::Audit;
use crate::context::Mfa;
use crate::error::{Error, Result};
use crate::model::{FlowRecord, User};

/// How long a browser has to answer a ceremony.
const CEREMONY_SECS: i64 = 5 * 60;

fn webauthn_error(e: impl std::fmt::Display) -> Error {
    Error::invalid("passkey", e.to_string())
}

fn to_json<T: serde::Serialize>(v: &T) -> Result<Value> {
    serde_json::to_value(v).map_err(|e| Error::invalid("passkey", e.to_string()))
}

/// The `amr` value for a credential.
pub fn amr_for(backup_eligible: bool) -> &'static str {
    if backup_eligible { "swk" } else { "hwk" }
}

/// The result of a passed WebAuthn assertion.
#[derive(Debug)]
pub struct PasskeyPassed {
    pub user: User,
    pub amr: &'static str,
}

impl<'a> Mfa<'a> {
    fn rp(self) -> Result<&'a webauthn_rs::Webauthn> {
        self.config()?.webauthn.as_ref().ok_or_else(|| {
            Error::Refused("passkeys are not available: GATEHOUSE_EXTERNAL_URL has no usable host".into())
        })
    }

    /// Whether passkeys can be used on this server.
    pub fn passkeys_available(self) -> bool {
        self.mfa_settings().is_some_and(|c| c.webauthn.is_some())
    }

    fn passkeys_of(list: &[Authenticator]) -> Vec<Passkey> {
        list.iter()
            .filter(|a| a.kind == AuthenticatorKind::Webauthn)
            .filter_map(|a| serde_json::from_str::<Passkey>(&a.secret).ok())
            .collect()
    }

    /// Starts registering a passkey for the signed-in `user` (session `session_id`).
    /// Returns the ceremony token (sent back with the answer) and the options
    /// for `navigator.credentials.create`.
    pub async fn begin_passkey_registration(self, user: &User, session_id: Uuid) -> Result<(String, Value)> {
        let rp = self.rp()?;
        let existing = self.authenticators(user.id).await?;
        let exclude: Vec<CredentialID> = Self::passkeys_of(&existing)
            .iter()
            .map(|p| p.cred_id().clone())
            .collect();
        let (ccr, state) = rp
            .start_passkey_registration(user.id, &user.username, &user.display_name(), Some(exclude))
            .map_err(webauthn_error)?;
        // Discoverable credentials, so the passkey can sign in without a username.
        let mut options = to_json(&ccr)?;
        if let Some(sel) = options
            .pointer_mut("/publicKey/authenticatorSelection")
            .and_then(Value::as_object_mut)
        {
            sel.insert("residentKey".into(), json!("preferred"));
        }
        let token = random_token(32);
        let now = self.now();
        let record = FlowRecord {
            id: Uuid::new_v4(),
            token_hash: sha256_hex(token.as_bytes()),
            state: json!({"webauthn_registration": to_json(&state)?, "user_id": user.id, "session_id": session_id}),
            created_at: now,
            expires_at: now.plus_seconds(CEREMONY_SECS),
        };
        let mut tx = self.begin().await?;
        tx.insert_flow(&record).await?;
        tx.commit().await?;
        Ok((token, options))
    }

    /// Finishes a registration begun by [`Self::begin_passkey_registration`]
    /// in the same session. Returns the new recovery codes when this is the
    /// person's first authenticator.
    pub async fn finish_passkey_registration(
        self,
        audit: &Audit,
        user: &User,
        session_id: Uuid,
        token: &str,
        name: &str,
        credential: &Value,
    ) -> Result<(Authenticator, Option<Vec<String>>)> {
        let rp = self.rp()?;
        let now = self.now();
        let mut tx = self.begin().await?;
        let record = tx.consume_flow(&sha256_hex(token.as_bytes()), now).await?;
        tx.commit().await?;
        let record = record.ok_or_else(|| Error::invalid("passkey", "the registration expired; start again"))?;
        let bound = record.state.get("user_id").and_then(Value::as_str) == Some(user.id.to_string().as_str())
            && record.state.get("session_id").and_then(Value::as_str) == Some(session_id.to_string().as_str());
        if !bound {
            return Err(Error::invalid("passkey", "the registration belongs to another session"));
        }
        let state: PasskeyRegistration = record
            .state
            .get("webauthn_registration")
            .cloned()
            .and_then(|v| serde_json::from_value(v).ok())
            .ok_or_else(|| Error::invalid("passkey", "the registration expired; start again"))?;
        let answer: RegisterPublicKeyCredential =
            serde_json::from_value(credential.clone()).map_err(|e| Error::invalid("passkey", e.to_string()))?;
        let passkey = rp
            .finish_passkey_registration(&answer, &state)
            .map_err(webauthn_error)?;
        let id = Uuid::new_v4();
        let auth = Authenticator {
            id,
            user_id: user.id,
            kind: AuthenticatorKind::Webauthn,
            name: clean_name(name, "Passkey")?,
            secret: serde_json::to_string(&passkey).map_err(|e| Error::invalid("passkey", e.to_string()))?,
            credential_id: Some(URL_SAFE_NO_PAD.encode::<&[u8]>(passkey.cred_id().as_ref())),
            last_used_step: None,
            created_at: now,
            last_used_at: None,
        };
        let codes = self.add_authenticator(audit, user, &auth).await?;
        Ok((auth, codes))
    }

    /// Options for `navigator.credentials.get` and the state to keep in the
    /// flow: for `user`'s credentials, or (no user) for any discoverable one.
    pub async fn begin_passkey_authentication(self, user: Option<&User>) -> Result<(Value, Value)> {
        let rp = self.rp()?;
        match user {
            Some(user) => {
                let keys = Self::passkeys_of(&self.authenticators(user.id).await?);
                if keys.is_empty() {
                    return Err(Error::invalid("passkey", "no passkey is registered for this account"));
                }
                let (rcr, state) = rp.start_passkey_authentication(&keys).map_err(webauthn_error)?;
                Ok((to_json(&rcr)?, json!({"user": user.id, "state": to_json(&state)?})))
            }
            None => {
                let (mut rcr, state) = rp.start_discoverable_authentication().map_err(webauthn_error)?;
                // A button, not the autofill UI.
                rcr.mediation = None;
                Ok((to_json(&rcr)?, json!({"discoverable": to_json(&state)?})))
            }
        }
    }

    /// Checks an assertion against the state from
    /// [`Self::begin_passkey_authentication`]; stores the new counter.
    /// `Ok(None)`: the assertion failed (counted as a failure for throttling).
    pub async fn finish_passkey_authentication(
        self,
        audit: &Audit,
        state: &Value,
        credential: &Value,
    ) -> Result<Option<PasskeyPassed>> {
        let rp = self.rp()?;
        let answer: PublicKeyCredential =
            serde_json::from_value(credential.clone()).map_err(|e| Error::invalid("passkey", e.to_string()))?;
        let cred_id = URL_SAFE_NO_PAD.encode(answer.get_credential_id());
        let Some(mut auth) = self.store().mfa_authenticator_by_credential(&cred_id).await? else {
            return Ok(None);
        };
        let Some(user) = self.store().user_by_id(auth.user_id).await?.filter(|u| u.is_active) else {
            return Ok(None);
        };
        let (keys, wait) = self.factor_throttle(audit, user.id).await?;
        if wait.is_some() {
            return Ok(None);
        }
        let Ok(mut passkey) = serde_json::from_str::<Passkey>(&auth.secret) else {
            return Ok(None);
        };
        let result = if let Some(expected) = state.get("user").and_then(Value::as_str) {
            if expected != user.id.to_string() {
                return Ok(None);
            }
            let st: Option<PasskeyAuthentication> =
                state.get("state").cloned().and_then(|v| serde_json::from_value(v).ok());
            st.map(|st| rp.finish_passkey_authentication(&answer, &st))
        } else {
            let st: Option<DiscoverableAuthentication> = state
                .get("discoverable")
                .cloned()
                .and_then(|v| serde_json::from_value(v).ok());
            match (st, rp.identify_discoverable_authentication(&answer)) {
                (Some(st), Ok((handle, _))) if handle == user.id => {
                    Some(rp.finish_discoverable_authentication_v2(&answer, st, &passkey))
                }
                _ => None,
            }
        };
        match result {
            Some(Ok(res)) => {
                let now = self.now();
                passkey.update_credential(&res);
                auth.secret = serde_json::to_string(&passkey).map_err(|e| Error::invalid("passkey", e.to_string()))?;
                let mut tx = self.begin().await?;
                tx.update_mfa_authenticator_secret(auth.id, &auth.secret, now).await?;
                tx.commit().await?;
                Ok(Some(PasskeyPassed {
                    user,
                    amr: amr_for(res.backup_eligible()),
                }))
            }
            _ => {
                self.bump_factor_throttles(audit, &user, &keys, Some("webauthn"))
                    .await?;
                Ok(None)
            }
        }
    }
}

/// The relying party for the public URL: its host is the RP id, its origin the
/// only origin allowed. `None` when the URL has no host browsers accept as an
/// RP id (an IP address).
pub fn relying_party(external_url: &str, name: &str) -> Option<webauthn_rs::Webauthn> {
    let url = webauthn_rs::prelude::Url::parse(external_url).ok()?;
    let host = url.host_str()?.to_string();
    if host.parse::<std::net::IpAddr>().is_ok() || host.starts_with('[') {
        return None;
    }
    webauthn_rs::WebauthnBuilder::new(&host, &url)
        .ok()?
        .rp_name(name)
        .build()
        .ok()
}
