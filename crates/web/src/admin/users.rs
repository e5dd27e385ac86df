//! The user list (search as you type, paged in SQL) and the new-user form.

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use gatehouse_core::NewUser;
use gatehouse_core::users::UserSearch;
use serde::Deserialize;

use super::guard::{Admin, AdminForm};
use super::views::{Chrome, UserListRow, UserNewPage, UsersPage};
use super::{chrome, user_url};
use crate::components::when;
use crate::errors::PageError;
use crate::pages::render;
use crate::request::encode;
use crate::state::AppState;

/// Users per page of the list.
pub const PAGE_SIZE: u32 = 25;

#[derive(Deserialize, Default)]
pub struct ListQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    page: u64,
}

/// GET /if/admin/users/?q=…&page=…
pub async fn users_get(
    State(state): State<AppState>,
    admin: Admin,
    Query(query): Query<ListQuery>,
) -> Result<Response, PageError> {
    let now = admin.directory.now();
    let page = query.page.max(1);
    let search = UserSearch {
        text: query.q.clone(),
        offset: (page - 1) * u64::from(PAGE_SIZE),
        limit: PAGE_SIZE,
    };
    let (rows, total) = admin.directory.users().search(&search).await?;
    let shown = rows.len() as u64;
    let link = |p: u64| format!("/if/admin/users/?q={}&page={p}", encode(&query.q));
    let summary = match (total, shown) {
        (0, _) => "No users match.".to_string(),
        _ => format!("{}–{} of {total}", search.offset + 1, search.offset + shown),
    };
    Ok(render(&UsersPage {
        branding: state.branding(),
        chrome: chrome(&admin, "users"),
        rows: rows
            .into_iter()
            .map(|r| UserListRow {
                name: r.user.name.clone(),
                email: r.user.email.clone(),
                active: r.user.is_active,
                has_mfa: r.has_mfa,
                last_login: when(r.user.last_login, now),
                username: r.user.username,
            })
            .collect(),
        summary,
        prev: (page > 1).then(|| link(page - 1)),
        next: (search.offset + shown < total).then(|| link(page + 1)),
        q: query.q,
    }))
}

fn new_page(state: &AppState, chrome: Chrome, form: NewUserForm, error: Option<String>) -> Response {
    render(&UserNewPage {
        branding: state.branding(),
        chrome,
        error,
        username: form.username,
        name: form.name,
        email: form.email,
    })
}

/// GET /if/admin/users/new
pub async fn new_get(State(state): State<AppState>, admin: Admin) -> Response {
    new_page(&state, chrome(&admin, "users"), NewUserForm::default(), None)
}

#[derive(Deserialize, Default)]
pub struct NewUserForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    email: String,
}

/// POST /if/admin/users/new
pub async fn new_post(
    State(state): State<AppState>,
    AdminForm(admin, form): AdminForm<NewUserForm>,
) -> Result<Response, PageError> {
    let new = NewUser {
        username: form.username.trim().to_string(),
        email: form.email.trim().to_string(),
        name: form.name.trim().to_string(),
    };
    match admin.directory.users().create(&admin.audit(), new).await {
        Ok(user) => Ok(Redirect::to(&format!("{}?done=created", user_url(&user.username))).into_response()),
        Err(e) if e.is_caller_error() => Ok(new_page(&state, chrome(&admin, "users"), form, Some(e.to_string()))),
        Err(e) => Err(e.into()),
    }
}
