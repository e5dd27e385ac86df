//! Groups: the nested tree, one group's members (direct and inherited) and
//! bound applications, membership changes, the superuser flag, new groups.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use gatehouse_core::GroupSummary;
use serde::Deserialize;

use super::guard::{Admin, AdminForm};
use super::views::{Flash, GroupPage, GroupTreeRow, GroupsPage};
use super::{Confirm, chrome, confirm_page, group_url};
use crate::errors::PageError;
use crate::pages::render;
use crate::state::AppState;

/// Groups in tree order (each after its parent), with their depth.
fn tree_order(groups: &[GroupSummary]) -> Vec<(usize, &GroupSummary)> {
    let mut children: HashMap<Option<&str>, Vec<&GroupSummary>> = HashMap::new();
    for g in groups {
        // A parent that is not listed makes the group a root.
        let parent = g
            .parent
            .as_deref()
            .filter(|p| groups.iter().any(|x| x.group.name == *p));
        children.entry(parent).or_default().push(g);
    }
    let mut out = Vec::with_capacity(groups.len());
    let mut stack: Vec<(usize, &GroupSummary)> = children
        .get(&None)
        .into_iter()
        .flatten()
        .rev()
        .map(|g| (0, *g))
        .collect();
    while let Some((depth, g)) = stack.pop() {
        out.push((depth, g));
        if out.len() > groups.len() {
            break; // a cycle would be a store bug; never loop on it
        }
        if let Some(kids) = children.get(&Some(g.group.name.as_str())) {
            stack.extend(kids.iter().rev().map(|k| (depth + 1, *k)));
        }
    }
    out
}

async fn render_groups(state: &AppState, admin: &Admin, flash: Option<Flash>) -> Result<Response, PageError> {
    let groups = admin.directory.groups().list().await?;
    let apps = admin.directory.apps().list().await?;
    let rows = tree_order(&groups)
        .into_iter()
        .map(|(depth, g)| GroupTreeRow {
            name: g.group.name.clone(),
            depth: depth.min(6),
            superuser: g.group.is_superuser,
            members: g.direct_members,
            apps: apps
                .iter()
                .filter(|a| a.bound_groups.contains(&g.group.name))
                .map(|a| a.app.name.clone())
                .collect(),
        })
        .collect();
    Ok(render(&GroupsPage {
        branding: state.branding(),
        chrome: chrome(admin, "groups"),
        flash,
        rows,
    }))
}

/// GET /if/admin/groups/
pub async fn groups_get(State(state): State<AppState>, admin: Admin) -> Result<Response, PageError> {
    render_groups(&state, &admin, None).await
}

#[derive(Deserialize, Default)]
pub struct NewGroupForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    parent: String,
    #[serde(default)]
    superuser: Option<String>,
}

/// POST /if/admin/groups/new
pub async fn new_post(
    State(state): State<AppState>,
    AdminForm(admin, form): AdminForm<NewGroupForm>,
) -> Result<Response, PageError> {
    let parent = Some(form.parent.trim()).filter(|p| !p.is_empty());
    let name = form.name.trim();
    match admin
        .directory
        .groups()
        .create(&admin.audit(), name, form.superuser.is_some(), parent)
        .await
    {
        Ok(g) => Ok(Redirect::to(&format!("{}?done=created", group_url(&g.name))).into_response()),
        Err(e) if e.is_caller_error() => {
            let flash = Flash {
                ok: false,
                text: e.to_string(),
            };
            render_groups(&state, &admin, Some(flash)).await
        }
        Err(e) => Err(e.into()),
    }
}

async fn render_group(
    state: &AppState,
    admin: &Admin,
    name: &str,
    flash: Option<Flash>,
) -> Result<Response, PageError> {
    let dir = &admin.directory;
    let summary = dir
        .groups()
        .list()
        .await?
        .into_iter()
        .find(|g| g.group.name.eq_ignore_ascii_case(name))
        .ok_or_else(|| gatehouse_core::Error::not_found("group", name))?;
    let members = dir.groups().members(&summary.group.name).await?;
    let (direct, inherited): (Vec<_>, Vec<_>) = members.into_iter().partition(|m| m.via.is_none());
    let apps = dir
        .apps()
        .list()
        .await?
        .into_iter()
        .filter(|a| a.bound_groups.contains(&summary.group.name))
        .map(|a| a.app.name)
        .collect();
    Ok(render(&GroupPage {
        branding: state.branding(),
        chrome: chrome(admin, "groups"),
        flash,
        name: summary.group.name.clone(),
        parent: summary.parent,
        superuser: summary.group.is_superuser,
        direct: direct.into_iter().map(|m| (m.username, m.name, m.is_active)).collect(),
        inherited: inherited
            .into_iter()
            .map(|m| (m.username, m.name, m.via.unwrap_or_default()))
            .collect(),
        apps,
    }))
}

#[derive(Deserialize, Default)]
pub struct DoneQuery {
    #[serde(default)]
    done: String,
}

/// GET /if/admin/groups/{name}/
pub async fn group_get(
    State(state): State<AppState>,
    admin: Admin,
    Path(name): Path<String>,
    Query(q): Query<DoneQuery>,
) -> Result<Response, PageError> {
    let text = match q.done.as_str() {
        "created" => Some("Group created."),
        "added" => Some("Member added."),
        "removed" => Some("Member removed."),
        "superuser" => Some("Superuser flag changed."),
        _ => None,
    };
    let flash = text.map(|t| Flash {
        ok: true,
        text: t.into(),
    });
    render_group(&state, &admin, &name, flash).await
}

#[derive(Deserialize, Default)]
pub struct MemberForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    superuser: String,
    #[serde(default)]
    confirm: String,
}

/// POST /if/admin/groups/{name}/{op}: `add-member`, `remove-member`, `superuser`.
pub async fn action_post(
    State(state): State<AppState>,
    Path((name, op)): Path<(String, String)>,
    AdminForm(admin, form): AdminForm<MemberForm>,
) -> Result<Response, PageError> {
    let groups = admin.directory.groups();
    let audit = admin.audit();
    let user = form.username.trim();
    let outcome = match op.as_str() {
        "add-member" => groups.add_member(&audit, &name, user).await.map(|_| "added"),
        "remove-member" => groups.remove_member(&audit, &name, user).await.map(|_| "removed"),
        "superuser" => {
            let on = form.superuser == "on";
            if on && form.confirm != "yes" {
                let confirm = Confirm {
                    title: format!("Make {name} a superuser group?"),
                    consequence: format!(
                        "Every member of {name}, and of every group nested in it, becomes an administrator of Gatehouse: they can change anyone's access."
                    ),
                    action: format!("{}superuser", group_url(&name)),
                    fields: vec![("superuser".into(), "on".into())],
                    button: "Make superuser group".into(),
                    back: group_url(&name),
                };
                return Ok(confirm_page(&state, &admin, "groups", confirm));
            }
            groups.set_superuser(&audit, &name, on).await.map(|_| "superuser")
        }
        _ => return Err(PageError::Core(gatehouse_core::Error::not_found("action", op))),
    };
    match outcome {
        Ok(done) => Ok(Redirect::to(&format!("{}?done={done}", group_url(&name))).into_response()),
        Err(e) if e.is_caller_error() => {
            let flash = Flash {
                ok: false,
                text: e.to_string(),
            };
            render_group(&state, &admin, &name, Some(flash)).await
        }
        Err(e) => Err(e.into()),
    }
}
