//! "Connected applications" in the portal: the consents a person gave, and
//! withdrawing one (which also revokes that application's tokens).

use axum::Form;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use gatehouse_core::Actor;
use serde::Deserialize;

use super::pages::{ConsentRow, ConsentsPage};
use crate::errors::PageError;
use crate::pages::render;
use crate::request::{Caller, Ready, SignedIn, csrf_ok};
use crate::state::AppState;

pub const CONSENTS_PATH: &str = "/if/user/consents/";
pub const WITHDRAW_PATH: &str = "/if/user/consents/withdraw";

#[derive(Deserialize)]
pub struct Notice {
    withdrawn: Option<String>,
}

pub async fn consents_get(
    State(state): State<AppState>,
    Ready(dir): Ready,
    me: SignedIn,
    Query(q): Query<Notice>,
) -> Result<Response, PageError> {
    let consents = dir
        .oauth()
        .consents_of(&me.user)
        .await?
        .into_iter()
        .map(|c| ConsentRow {
            scopes: c.consent.scopes.join(" "),
            since: c.consent.created_at.to_rfc3339(),
            slug: c.slug,
            name: c.name,
        })
        .collect();
    Ok(render(&ConsentsPage {
        branding: state.branding(),
        csrf: me.session.csrf_token.clone(),
        display_name: me.user.display_name(),
        username: me.user.username.clone(),
        logout_url: "/logout".into(),
        consents,
        notice: q
            .withdrawn
            .map(|w| format!("Consent for {} withdrawn.", w.chars().take(64).collect::<String>())),
    }))
}

#[derive(Deserialize)]
pub struct WithdrawForm {
    #[serde(default)]
    slug: String,
    #[serde(default)]
    csrf_token: String,
}

pub async fn withdraw_post(
    Ready(dir): Ready,
    caller: Caller,
    me: SignedIn,
    Form(form): Form<WithdrawForm>,
) -> Result<Response, PageError> {
    if !csrf_ok(&me.session.csrf_token, &form.csrf_token) {
        return Err(PageError::Forbidden(
            "The form was not sent from this page. Start again.",
        ));
    }
    let audit = caller.audit(Actor::User(me.user.username.clone()));
    dir.oauth().withdraw_consent(&audit, &me.user, &form.slug).await?;
    Ok(Redirect::to(&format!(
        "{CONSENTS_PATH}?withdrawn={}",
        crate::request::encode(&form.slug)
    ))
    .into_response())
}
