//! The access heat map: users × applications by the access rule, paged by
//! users, filtered by group and application, and the whole matrix as CSV.

use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use gatehouse_core::access::MatrixQuery;
use serde::Deserialize;

use super::chrome;
use super::guard::Admin;
use super::views::{AccessPage, HeatRow};
use crate::errors::PageError;
use crate::pages::render;
use crate::request::encode;
use crate::state::AppState;

/// Users per page of the heat map.
const PAGE_SIZE: u32 = 50;

#[derive(Deserialize, Default)]
pub struct AccessQuery {
    #[serde(default)]
    group: String,
    #[serde(default)]
    app: String,
    #[serde(default)]
    page: u64,
}

fn some(s: &str) -> Option<String> {
    Some(s.trim().to_string()).filter(|s| !s.is_empty())
}

/// GET /if/admin/access/
pub async fn access_get(
    State(state): State<AppState>,
    admin: Admin,
    Query(q): Query<AccessQuery>,
) -> Result<Response, PageError> {
    let page = q.page.max(1);
    let query = MatrixQuery {
        group: some(&q.group),
        application: some(&q.app),
        offset: (page - 1) * u64::from(PAGE_SIZE),
        limit: PAGE_SIZE,
    };
    let matrix = admin.directory.access().matrix_page(&query).await?;
    let shown = matrix.rows.len() as u64;
    let link = |p: u64| {
        format!(
            "/if/admin/access/?group={}&app={}&page={p}",
            encode(&q.group),
            encode(&q.app)
        )
    };
    let columns: Vec<usize> = (0..matrix.applications.len())
        .map(|i| {
            matrix
                .rows
                .iter()
                .filter(|r| r.access.get(i).copied().unwrap_or(false))
                .count()
        })
        .collect();
    let summary = if matrix.total == 0 {
        "No users match.".to_string()
    } else {
        format!(
            "Users {}–{} of {}",
            query.offset + 1,
            query.offset + shown,
            matrix.total
        )
    };
    Ok(render(&AccessPage {
        branding: state.branding(),
        chrome: chrome(&admin, "access"),
        group: q.group.clone(),
        app: q.app.clone(),
        summary,
        applications: matrix
            .applications
            .iter()
            .zip(columns)
            .map(|(a, n)| (a.slug.clone(), a.name.clone(), n))
            .collect(),
        rows: matrix
            .rows
            .into_iter()
            .map(|r| HeatRow {
                reach: r.access.iter().filter(|&&a| a).count(),
                username: r.username,
                active: r.is_active,
                cells: r.access,
            })
            .collect(),
        prev: (page > 1).then(|| link(page - 1)),
        next: (query.offset + shown < matrix.total).then(|| link(page + 1)),
    }))
}

/// GET /if/admin/access/access.csv: every user × every application.
pub async fn csv_get(admin: Admin) -> Result<Response, PageError> {
    let matrix = admin.directory.access().matrix().await?;
    let mut body = Vec::with_capacity(64 * (matrix.rows.len() + 1));
    if let Err(e) = matrix.write_csv(&mut body) {
        tracing::error!(error = %e, "access CSV failed");
    }
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (header::CONTENT_DISPOSITION, "attachment; filename=\"access.csv\""),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response())
}
