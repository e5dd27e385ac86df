//! The checks' own metrics: counters by result and cache use, with handles
//! registered once (the generic request metrics allocate labels and look the
//! series up on every request, too much for this path), and the latency of
//! cache misses, the only checks that wait for the database.

use std::sync::OnceLock;
use std::time::Duration;

use metrics::{Counter, Histogram};

#[derive(Debug, Clone, Copy)]
pub(crate) enum Checked {
    /// Answered from the decision cache.
    Hit,
    /// Decided now (database).
    Miss,
    /// Decided without a session: skipped path, no cookie, unknown host.
    Direct,
}

#[derive(Debug, Clone, Copy)]
pub(crate) enum Result {
    Allow,
    Forbidden,
    SignIn,
    UnknownHost,
    Error,
}

const RESULTS: [&str; 5] = ["allow", "forbidden", "sign_in", "unknown_host", "error"];
const CACHE: [&str; 3] = ["hit", "miss", "none"];

struct Handles {
    checks: Vec<Counter>,
    miss_seconds: Histogram,
}

fn handles() -> &'static Handles {
    static HANDLES: OnceLock<Handles> = OnceLock::new();
    HANDLES.get_or_init(|| Handles {
        checks: CACHE
            .iter()
            .flat_map(|cache| {
                RESULTS.iter().map(move |result| {
                    metrics::counter!("gatehouse_forward_auth_checks_total", "cache" => *cache, "result" => *result)
                })
            })
            .collect(),
        miss_seconds: metrics::histogram!("gatehouse_forward_auth_miss_duration_seconds"),
    })
}

pub(crate) fn count(checked: Checked, result: Result) {
    let i = checked as usize * RESULTS.len() + result as usize;
    if let Some(c) = handles().checks.get(i) {
        c.increment(1);
    }
}

pub(crate) fn miss_took(d: Duration) {
    handles().miss_seconds.record(d.as_secs_f64());
}
