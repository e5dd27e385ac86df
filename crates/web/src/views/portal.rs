//! The user portal (`/if/user/`, alias `/`): the applications this person may
//! use, by the same access rule every protocol enforces.

use axum::extract::State;
use axum::response::Response;
use gatehouse_core::access::AdminVerdict;

use crate::errors::PageError;
use crate::pages::{AppTile, PortalPage, render};
use crate::request::{Ready, SignedIn};
use crate::state::AppState;

pub async fn portal_get(
    State(state): State<AppState>,
    Ready(directory): Ready,
    me: SignedIn,
) -> Result<Response, PageError> {
    let apps = directory.access().applications_for(&me.user).await?;
    let admin = directory.access().admin(&me.user, &me.session.amr).await?;
    let admin_url = (admin != AdminVerdict::Deny).then(|| crate::admin::ADMIN_PATH.to_string());
    let display_name = me.user.display_name();
    Ok(render(&PortalPage {
        branding: state.branding(),
        csrf: me.session.csrf_token.clone(),
        display_name,
        username: me.user.username.clone(),
        apps: apps
            .into_iter()
            .map(|a| AppTile {
                initial: a
                    .name
                    .chars()
                    .next()
                    .map(|c| c.to_uppercase().to_string())
                    .unwrap_or_default(),
                name: a.name,
                slug: a.slug,
                launch_url: a.launch_url,
            })
            .collect(),
        account_url: super::account::ACCOUNT_PATH.into(),
        logout_url: "/logout".into(),
        admin_url,
    }))
}
