//! RFC 8628 device authorizations: started by a device, approved or denied by
//! a signed-in person on the verification page, then redeemed by the device.

use serde_json::json;

use crate::audit::Audit;
use crate::context::OAuth;
use crate::error::Result;
use crate::model::{Application, User};
use crate::oauth::action;
use crate::oauth::model::{DeviceCode, DeviceStatus, Grant};

impl OAuth<'_> {
    pub async fn start_device(self, code: &DeviceCode) -> Result<()> {
        let mut tx = self.store().begin().await?;
        tx.insert_device_code(code).await?;
        tx.commit().await?;
        Ok(())
    }

    /// A device authorization by its (normalised) user code, if pending and unexpired.
    pub async fn pending_device_code(self, user_code: &str) -> Result<Option<DeviceCode>> {
        let now = self.now();
        Ok(self
            .store()
            .device_code_by_user_code(user_code)
            .await?
            .filter(|d| d.status == DeviceStatus::Pending && d.expires_at > now))
    }

    /// Approves (with the grant to create) or denies a pending device code.
    /// False when it is no longer pending (decided, expired or gone).
    pub async fn decide_device_code(
        self,
        audit: &Audit,
        user_code: &str,
        user: &User,
        app: &Application,
        approve: Option<Grant>,
    ) -> Result<bool> {
        let now = self.now();
        let mut tx = self.store().begin().await?;
        let Some(mut code) = tx
            .device_code_by_user_code(user_code)
            .await?
            .filter(|d| d.status == DeviceStatus::Pending && d.expires_at > now && d.application_id == app.id)
        else {
            return Ok(false);
        };
        match approve {
            Some(grant) => {
                tx.insert_grant(&grant).await?;
                code.status = DeviceStatus::Approved;
                code.grant_id = Some(grant.id);
                tx.update_device_code(&code).await?;
                tx.append_event(
                    audit.event(
                        action::AUTHORIZE_APPLICATION,
                        Some(&user.username),
                        json!({"application": app.slug, "scopes": grant.scopes, "grant": grant.id, "flow": "device_code"}),
                    ),
                    now,
                )
                .await?;
            }
            None => {
                code.status = DeviceStatus::Denied;
                tx.update_device_code(&code).await?;
            }
        }
        tx.commit().await?;
        Ok(true)
    }

    /// One poll of a device code (by its hash): `decide` sees the record (and
    /// its grant, once approved), may change its status and last poll time, and
    /// returns the answer; the change is written in the same transaction.
    /// `None`: no such device code.
    pub async fn poll_device_code<T>(
        self,
        device_code_hash: &str,
        decide: impl FnOnce(&mut DeviceCode, Option<&Grant>) -> T + Send,
    ) -> Result<Option<(T, Option<Grant>)>> {
        let mut tx = self.store().begin().await?;
        let Some(mut code) = tx.device_code_by_hash(device_code_hash).await? else {
            return Ok(None);
        };
        let grant = match code.grant_id {
            Some(id) => tx.oauth_grant(id).await?,
            None => None,
        };
        let before = code.clone();
        let answer = decide(&mut code, grant.as_ref());
        if code != before {
            tx.update_device_code(&code).await?;
        }
        tx.commit().await?;
        Ok(Some((answer, grant)))
    }
}
