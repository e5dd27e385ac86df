//! Invitations: the list with each one's state, a new one (its link shown
//! once, on the page that answers the POST, never in a URL), and deletion
//! after a confirmation. Every change is `dir.invitations()`, the service
//! `gatehouse invite` and the API call.

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use gatehouse_core::clock::parse_age;
use gatehouse_core::invitations::{Invitation, InvitationState, NewInvitation, fixed_data};
use serde::Deserialize;

use super::guard::{Admin, AdminForm};
use super::views::{Flash, InvitationRow, InvitationsPage};
use super::{Confirm, chrome, confirm_page};
use crate::components::{When, when};
use crate::errors::PageError;
use crate::pages::render;
use crate::state::AppState;

pub const INVITATIONS_PATH: &str = "/if/admin/invitations/";

/// The validity choices of the form: `(value, label)`; the first is the default.
const EXPIRY: [(&str, &str); 4] = [
    ("7d", "7 days"),
    ("1d", "1 day"),
    ("30d", "30 days"),
    ("never", "no expiry"),
];

#[derive(Deserialize, Default)]
pub struct DoneQuery {
    #[serde(default)]
    done: String,
}

#[derive(Deserialize, Default)]
pub struct NewForm {
    #[serde(default)]
    group: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    expires: String,
    #[serde(default)]
    multi_use: Option<String>,
}

fn row(i: &Invitation, now: gatehouse_core::Timestamp) -> InvitationRow {
    InvitationRow {
        name: i.name.clone(),
        state: match i.state(now) {
            InvitationState::Valid => "open",
            InvitationState::Spent => "spent",
            InvitationState::Expired => "expired",
        },
        groups: i.groups().join(", "),
        email: i.fixed("email").unwrap_or_default().to_string(),
        single_use: i.single_use,
        uses: i.uses,
        expires: when(i.expires, now),
        created: When { at: i.created_at, now },
        created_by: i.created_by.clone(),
    }
}

async fn render_page(
    state: &AppState,
    admin: &Admin,
    flash: Option<Flash>,
    created: Option<&Invitation>,
    form: NewForm,
) -> Result<Response, PageError> {
    let dir = &admin.directory;
    let now = dir.now();
    let rows = dir.invitations().list().await?.iter().map(|i| row(i, now)).collect();
    let groups = dir.groups().list().await?.into_iter().map(|g| g.group.name).collect();
    let chosen = if form.expires.is_empty() {
        EXPIRY[0].0
    } else {
        form.expires.as_str()
    };
    Ok(render(&InvitationsPage {
        branding: state.branding(),
        chrome: chrome(admin, "invitations"),
        flash,
        created: created.map(|i| (i.name.clone(), i.link(&state.config.external_url))),
        rows,
        groups,
        form_group: form.group,
        form_email: form.email,
        expiry_options: EXPIRY.iter().map(|&(v, l)| (v, l, v == chosen)).collect(),
    }))
}

/// GET /if/admin/invitations/
pub async fn invitations_get(
    State(state): State<AppState>,
    admin: Admin,
    Query(q): Query<DoneQuery>,
) -> Result<Response, PageError> {
    let flash = (q.done == "deleted").then(|| Flash {
        ok: true,
        text: "Invitation deleted: its link no longer works.".into(),
    });
    render_page(&state, &admin, flash, None, NewForm::default()).await
}

/// POST /if/admin/invitations/new
pub async fn new_post(
    State(state): State<AppState>,
    AdminForm(admin, form): AdminForm<NewForm>,
) -> Result<Response, PageError> {
    let dir = &admin.directory;
    let expires = match form.expires.trim() {
        "never" => None,
        "" => parse_age(EXPIRY[0].0).map(|s| dir.now().plus_seconds(s)),
        age => match parse_age(age).filter(|s| *s > 0) {
            Some(secs) => Some(dir.now().plus_seconds(secs)),
            None => {
                let flash = Flash {
                    ok: false,
                    text: format!("'{age}' is not a validity like 7d."),
                };
                return render_page(&state, &admin, Some(flash), None, form).await;
            }
        },
    };
    let groups: Vec<String> = Some(form.group.trim())
        .filter(|g| !g.is_empty())
        .map(str::to_string)
        .into_iter()
        .collect();
    let new = NewInvitation {
        name: String::new(),
        expires,
        single_use: form.multi_use.is_none(),
        fixed_data: fixed_data(None, Some(&form.email), None, &groups),
        flow: String::new(),
    };
    match dir.invitations().create(&admin.audit(), new).await {
        Ok(invitation) => {
            let flash = Flash {
                ok: true,
                text: "Invitation created.".into(),
            };
            render_page(&state, &admin, Some(flash), Some(&invitation), NewForm::default()).await
        }
        Err(e) if e.is_caller_error() => {
            let flash = Flash {
                ok: false,
                text: e.to_string(),
            };
            render_page(&state, &admin, Some(flash), None, form).await
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize, Default)]
pub struct DeleteForm {
    #[serde(default)]
    confirm: String,
}

/// POST /if/admin/invitations/{name}/delete: a confirmation first.
pub async fn delete_post(
    State(state): State<AppState>,
    Path(name): Path<String>,
    AdminForm(admin, form): AdminForm<DeleteForm>,
) -> Result<Response, PageError> {
    let invitations = admin.directory.invitations();
    if form.confirm != "yes" {
        // Only an invitation that exists gets a confirmation page.
        let found = invitations.get(&name).await?;
        let confirm = Confirm {
            title: format!("Delete the invitation {}?", found.name),
            consequence: "Its link stops working at once. Accounts already made with it stay.".into(),
            action: format!("{INVITATIONS_PATH}{}/delete", crate::request::encode(&found.name)),
            fields: vec![],
            button: "Delete invitation".into(),
            back: INVITATIONS_PATH.into(),
        };
        return Ok(confirm_page(&state, &admin, "invitations", confirm));
    }
    invitations.delete(&admin.audit(), &name).await?;
    Ok(Redirect::to(&format!("{INVITATIONS_PATH}?done=deleted")).into_response())
}
