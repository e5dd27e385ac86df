//! Users, groups, applications, memberships, bindings and API tokens.

use async_trait::async_trait;
use gatehouse_core::names::name_key;
use gatehouse_core::store::StoreResult;
use gatehouse_core::{
    ApiToken, Application, Binding, Group, Membership, StoreError, Timestamp, UnattachedProvider, User,
};
use uuid::Uuid;

use crate::error::Ctx;
use crate::read;
use crate::rows;

use gatehouse_core::store::DirectoryWrites;

use super::{SqlWriteTx, millis, next_id, one_row};

impl SqlWriteTx {
    /// Runs `sql` with one or two ids bound; true when it touched a row (a
    /// link added or removed, a row deleted).
    async fn execute_pair(
        &mut self,
        sql: &'static str,
        a: Uuid,
        b: Option<Uuid>,
        what: &'static str,
    ) -> StoreResult<bool> {
        let mut q = sqlx::query(sql).bind(a.to_string());
        if let Some(b) = b {
            q = q.bind(b.to_string());
        }
        let r = q.execute(&mut *self.tx).await.ctx(what)?;
        Ok(r.rows_affected() >= 1)
    }
}

#[async_trait]
impl DirectoryWrites for SqlWriteTx {
    async fn user_by_name(&mut self, username: &str) -> StoreResult<Option<User>> {
        let lock = self.locks_rows();
        read::user_by_name(&mut *self.tx, username, lock).await
    }

    async fn user_by_id(&mut self, id: Uuid) -> StoreResult<Option<User>> {
        let lock = self.locks_rows();
        read::user_by_id(&mut *self.tx, id, lock).await
    }

    async fn group_by_name(&mut self, name: &str) -> StoreResult<Option<Group>> {
        let lock = self.locks_rows();
        read::group_by_name(&mut *self.tx, name, lock).await
    }

    async fn groups(&mut self) -> StoreResult<Vec<Group>> {
        read::groups(&mut *self.tx).await
    }

    async fn application_by_slug(&mut self, slug: &str) -> StoreResult<Option<Application>> {
        let lock = self.locks_rows();
        read::application_by_slug(&mut *self.tx, slug, lock).await
    }

    async fn application_by_id(&mut self, id: Uuid) -> StoreResult<Option<Application>> {
        let lock = self.locks_rows();
        read::application_by_id(&mut *self.tx, id, lock).await
    }

    async fn insert_user(&mut self, user: &User) -> StoreResult<i64> {
        let pk = next_id(&mut self.tx, "users").await?;
        let r = sqlx::query(
            "INSERT INTO users (id, username, username_key, email, name, is_active, password_hash, \
             attributes, created_at, last_login, password_changed_at, pk) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT DO NOTHING",
        )
        .bind(user.id.to_string())
        .bind(user.username.clone())
        .bind(name_key(&user.username))
        .bind(user.email.clone())
        .bind(user.name.clone())
        .bind(rows::flag_value(user.is_active))
        .bind(user.password_hash.clone())
        .bind(rows::json_text(&user.attributes))
        .bind(user.created_at.millis())
        .bind(millis(user.last_login))
        .bind(millis(user.password_changed_at))
        .bind(pk)
        .execute(&mut *self.tx)
        .await
        .ctx("create user")?;
        // A taken name answers here rather than aborting the transaction
        // (PostgreSQL), so callers need no look-up first.
        if r.rows_affected() == 0 {
            return Err(StoreError::Conflict(format!("a user named {} exists", user.username)));
        }
        Ok(pk)
    }

    async fn update_user(&mut self, user: &User) -> StoreResult<()> {
        let r = sqlx::query(
            "UPDATE users SET username = $2, username_key = $3, email = $4, name = $5, \
             is_active = $6, password_hash = $7, attributes = $8, last_login = $9, \
             password_changed_at = $10 WHERE id = $1",
        )
        .bind(user.id.to_string())
        .bind(user.username.clone())
        .bind(name_key(&user.username))
        .bind(user.email.clone())
        .bind(user.name.clone())
        .bind(rows::flag_value(user.is_active))
        .bind(user.password_hash.clone())
        .bind(rows::json_text(&user.attributes))
        .bind(millis(user.last_login))
        .bind(millis(user.password_changed_at))
        .execute(&mut *self.tx)
        .await
        .ctx("update user")?;
        one_row(r, "user")
    }

    async fn delete_user(&mut self, id: Uuid) -> StoreResult<()> {
        self.execute_pair("DELETE FROM users WHERE id = $1", id, None, "delete user")
            .await
            .map(drop)
    }

    async fn insert_group(&mut self, group: &Group) -> StoreResult<i64> {
        let pk = next_id(&mut self.tx, "groups").await?;
        sqlx::query(
            "INSERT INTO groups (id, name, name_key, is_superuser, parent_id, attributes, created_at, pk) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(group.id.to_string())
        .bind(group.name.clone())
        .bind(name_key(&group.name))
        .bind(rows::flag_value(group.is_superuser))
        .bind(group.parent_id.map(|p| p.to_string()))
        .bind(rows::json_text(&group.attributes))
        .bind(group.created_at.millis())
        .bind(pk)
        .execute(&mut *self.tx)
        .await
        .ctx("create group")?;
        Ok(pk)
    }

    async fn update_group(&mut self, group: &Group) -> StoreResult<()> {
        let r = sqlx::query(
            "UPDATE groups SET name = $2, name_key = $3, is_superuser = $4, parent_id = $5, \
             attributes = $6 WHERE id = $1",
        )
        .bind(group.id.to_string())
        .bind(group.name.clone())
        .bind(name_key(&group.name))
        .bind(rows::flag_value(group.is_superuser))
        .bind(group.parent_id.map(|p| p.to_string()))
        .bind(rows::json_text(&group.attributes))
        .execute(&mut *self.tx)
        .await
        .ctx("update group")?;
        one_row(r, "group")
    }

    async fn delete_group(&mut self, id: Uuid) -> StoreResult<()> {
        self.execute_pair("DELETE FROM groups WHERE id = $1", id, None, "delete group")
            .await
            .map(drop)
    }

    async fn add_membership(&mut self, m: Membership) -> StoreResult<bool> {
        self.execute_pair(
            "INSERT INTO memberships (user_id, group_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            m.user_id,
            Some(m.group_id),
            "add group member",
        )
        .await
    }

    async fn remove_membership(&mut self, m: Membership) -> StoreResult<bool> {
        self.execute_pair(
            "DELETE FROM memberships WHERE user_id = $1 AND group_id = $2",
            m.user_id,
            Some(m.group_id),
            "remove group member",
        )
        .await
    }

    async fn insert_application(&mut self, app: &Application) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO applications (id, slug, name, launch_url, provider, provider_config, provider_key, \
             provider_pk, provider_name, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(app.id.to_string())
        .bind(app.slug.clone())
        .bind(app.name.clone())
        .bind(app.launch_url.clone())
        .bind(app.provider.map(|p| p.as_str().to_string()))
        .bind(rows::json_text(&app.provider_config))
        .bind(app.provider_key.clone())
        .bind(app.provider_pk)
        .bind(app.provider_name.clone())
        .bind(app.created_at.millis())
        .execute(&mut *self.tx)
        .await
        .ctx("create application")?;
        Ok(())
    }

    async fn update_application(&mut self, app: &Application) -> StoreResult<()> {
        let r = sqlx::query(
            "UPDATE applications SET slug = $2, name = $3, launch_url = $4, provider = $5, \
             provider_config = $6, provider_key = $7, provider_pk = $8, provider_name = $9 WHERE id = $1",
        )
        .bind(app.id.to_string())
        .bind(app.slug.clone())
        .bind(app.name.clone())
        .bind(app.launch_url.clone())
        .bind(app.provider.map(|p| p.as_str().to_string()))
        .bind(rows::json_text(&app.provider_config))
        .bind(app.provider_key.clone())
        .bind(app.provider_pk)
        .bind(app.provider_name.clone())
        .execute(&mut *self.tx)
        .await
        .ctx("update application")?;
        one_row(r, "application")
    }

    async fn delete_application(&mut self, id: Uuid) -> StoreResult<()> {
        self.execute_pair("DELETE FROM applications WHERE id = $1", id, None, "delete application")
            .await
            .map(drop)
    }

    async fn add_binding(&mut self, b: Binding) -> StoreResult<bool> {
        self.execute_pair(
            "INSERT INTO bindings (application_id, group_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            b.application_id,
            Some(b.group_id),
            "bind application",
        )
        .await
    }

    async fn remove_binding(&mut self, b: Binding) -> StoreResult<bool> {
        self.execute_pair(
            "DELETE FROM bindings WHERE application_id = $1 AND group_id = $2",
            b.application_id,
            Some(b.group_id),
            "unbind application",
        )
        .await
    }

    async fn insert_api_token(&mut self, token: &ApiToken) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO api_tokens (id, identifier, user_id, intent, token_hash, created_at, expires_at, description) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(token.id.to_string())
        .bind(token.identifier.clone())
        .bind(token.user_id.to_string())
        .bind(token.intent.clone())
        .bind(token.token_hash.clone())
        .bind(token.created_at.millis())
        .bind(millis(token.expires_at))
        .bind(token.description.clone())
        .execute(&mut *self.tx)
        .await
        .ctx("create API token")?;
        Ok(())
    }

    async fn claim_bootstrap(&mut self, now: Timestamp) -> StoreResult<bool> {
        // PostgreSQL: a concurrent claimer blocks on the key until the first
        // commits, then inserts nothing. SQLite: write transactions are serial.
        let r = sqlx::query("INSERT INTO bootstrap (id, done_at) VALUES (1, $1) ON CONFLICT DO NOTHING")
            .bind(now.millis())
            .execute(&mut *self.tx)
            .await
            .ctx("claim bootstrap")?;
        Ok(r.rows_affected() == 1)
    }

    async fn api_tokens(&mut self) -> StoreResult<Vec<ApiToken>> {
        read::api_tokens(&mut *self.tx).await
    }

    async fn delete_api_token(&mut self, id: Uuid) -> StoreResult<bool> {
        crate::blueprints::delete_api_token(&mut self.tx, id).await
    }

    async fn insert_invitation(&mut self, invitation: &gatehouse_core::invitations::Invitation) -> StoreResult<()> {
        crate::invitations::insert(&mut self.tx, invitation).await
    }

    async fn delete_invitation(&mut self, id: Uuid) -> StoreResult<bool> {
        crate::invitations::delete(&mut self.tx, id).await
    }

    async fn spend_invitation(&mut self, id: Uuid, now: Timestamp) -> StoreResult<bool> {
        crate::invitations::spend(&mut self.tx, id, now).await
    }

    async fn stamp_login(&mut self, id: Uuid, password_hash: &str, at: Timestamp) -> StoreResult<bool> {
        let r = sqlx::query("UPDATE users SET last_login = $1 WHERE id = $2 AND is_active = $3 AND password_hash = $4")
            .bind(at.millis())
            .bind(id.to_string())
            .bind(rows::flag_value(true))
            .bind(password_hash)
            .execute(&mut *self.tx)
            .await
            .ctx("record sign-in")?;
        Ok(r.rows_affected() == 1)
    }

    async fn next_provider_pk(&mut self) -> StoreResult<i64> {
        next_id(&mut self.tx, "providers").await
    }

    async fn unattached_provider(&mut self, pk: i64) -> StoreResult<Option<UnattachedProvider>> {
        crate::providers::one(&mut *self.tx, pk).await
    }

    async fn application_by_provider_pk(&mut self, pk: i64) -> StoreResult<Option<Application>> {
        read::application_by_provider_pk(&mut *self.tx, pk).await
    }

    async fn application_by_provider_key(
        &mut self,
        kind: gatehouse_core::ProviderKind,
        key: &str,
    ) -> StoreResult<Option<Application>> {
        read::application_by_provider_key(&mut *self.tx, kind, key).await
    }

    async fn put_unattached_provider(&mut self, p: &UnattachedProvider) -> StoreResult<()> {
        crate::providers::put(&mut self.tx, p).await
    }

    async fn delete_unattached_provider(&mut self, pk: i64) -> StoreResult<bool> {
        crate::providers::delete(&mut self.tx, pk).await
    }
}
