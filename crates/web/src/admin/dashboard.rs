//! `GET /if/admin/`: sign-in trends, locks, sessions, background work, keys,
//! SSO drift at the last check.

use axum::extract::State;
use axum::response::Response;
use gatehouse_core::events::action;
use gatehouse_core::jobs::{JobFilter, JobState};
use gatehouse_core::throttle::KeyKind as LockKind;

use super::chart::{Scale, sign_in_chart};
use super::guard::Admin;
use super::views::{Chrome, DashboardPage, LockRow, WorkerRow};
use crate::components::When;
use crate::errors::PageError;
use crate::pages::render;
use crate::state::AppState;

/// Jobs counted per state at most (the figure reads "1000+" beyond).
const JOB_COUNT_LIMIT: u32 = 1000;

pub async fn dashboard_get(State(state): State<AppState>, admin: Admin) -> Result<Response, PageError> {
    let dir = &admin.directory;
    let now = dir.now();
    let actions = [action::LOGIN, action::LOGIN_FAILED];
    let day = dir.events().histogram(&actions, 24, 3_600).await?;
    let week = dir.events().histogram(&actions, 7, 86_400).await?;
    let totals = |h: &gatehouse_core::audit::Histogram| {
        let sum = |i: usize| h.series.get(i).map_or(0, |s| s.1.iter().sum::<i64>());
        (sum(0), sum(1))
    };
    let locks = dir
        .sign_in()
        .active_locks()
        .await?
        .into_iter()
        .map(|l| LockRow {
            kind: match l.kind {
                LockKind::Account => "account",
                LockKind::Client => "address",
                LockKind::Device => "device codes",
            },
            subject: if l.subject.is_empty() {
                "an unknown name".into()
            } else {
                l.subject
            },
            failures: l.failures,
            until: When {
                at: l.locked_until,
                now,
            },
        })
        .collect();
    let workers = dir
        .jobs()
        .workers()
        .await?
        .into_iter()
        .map(|w| WorkerRow {
            id: w.id,
            host: w.host,
            version: w.version,
            heartbeat: When {
                at: w.heartbeat_at,
                now,
            },
            stopped: w.stopped_at.is_some(),
        })
        .collect();
    let count_jobs = |state| async move {
        let filter = JobFilter {
            state: Some(state),
            kind: None,
            limit: JOB_COUNT_LIMIT,
        };
        dir.jobs().list(&filter).await.map(|j| j.len())
    };
    let keys = super::system::key_rows(&admin).await?;
    let counts = vec![
        ("users", user_total(&admin).await?.to_string(), "/if/admin/users/"),
        (
            "active sessions",
            dir.sessions().live_count().await?.to_string(),
            "/if/admin/users/",
        ),
        (
            "groups",
            dir.groups().list().await?.len().to_string(),
            "/if/admin/groups/",
        ),
        (
            "applications",
            dir.apps().list().await?.len().to_string(),
            "/if/admin/applications/",
        ),
    ];
    Ok(render(&DashboardPage {
        branding: state.branding(),
        chrome: Chrome {
            csrf: admin.csrf(),
            username: admin.me.user.username.clone(),
            section: "dashboard",
        },
        day_chart: sign_in_chart(
            &day,
            Scale::Hours,
            "day-chart",
            "Sign-ins per hour, last 24 hours (UTC)",
        ),
        week_chart: sign_in_chart(&week, Scale::Days, "week-chart", "Sign-ins per day, last 7 days (UTC)"),
        day_totals: totals(&day),
        week_totals: totals(&week),
        counts,
        locks,
        workers,
        queued: count_jobs(JobState::Queued).await?,
        dead: count_jobs(JobState::Dead).await?,
        keys,
        version: env!("CARGO_PKG_VERSION"),
        drift: super::drift::dashboard_card(&state, dir).await,
    }))
}

async fn user_total(admin: &Admin) -> Result<u64, PageError> {
    let query = gatehouse_core::users::UserSearch {
        limit: 1,
        ..Default::default()
    };
    Ok(admin.directory.users().search(&query).await?.1)
}
