//! Every service of the manifest at a glance (the admin interface and its
//! dashboard): each service checked on its own, so one that cannot be
//! checked does not hide the others' state.

use gatehouse_core::{Directory, Timestamp};

use super::{Manifest, Report, check_service, drift};

/// The status of a service whose check could not be completed: it failed,
/// or Gatehouse cannot read the files the service reads.
pub const UNREACHABLE: &str = "unreachable";

/// The drift kinds that mean the service's side could not be looked at.
const BLIND: &[&str] = &["env_file"];

/// One check of every service, and when it ran.
#[derive(Debug, Clone)]
pub struct Survey {
    pub at: Timestamp,
    pub reports: Vec<Report>,
}

impl Survey {
    /// How many services are in `status` (`ok`, `drift`, [`UNREACHABLE`]).
    pub fn count(&self, status: &str) -> usize {
        self.reports.iter().filter(|r| r.status == status).count()
    }
}

impl Report {
    /// Whether `sso fix` would repair something of this service.
    pub fn fixable(&self) -> bool {
        self.status == "drift" && self.drifts.iter().any(|d| d.fixable)
    }
}

/// Checks every service of `m` (`sso check` service by service).
pub async fn survey(dir: &Directory, external_url: &str, m: &Manifest) -> Survey {
    let mut reports = Vec::with_capacity(m.services.len());
    for s in &m.services {
        let report = match check_service(dir, external_url, s).await {
            Ok(mut r) => {
                if r.drifts.iter().any(|d| BLIND.contains(&d.kind)) {
                    r.status = UNREACHABLE;
                }
                r
            }
            Err(e) => Report {
                service: s.name.clone(),
                application: s.slug.clone(),
                kind: s.kind,
                status: UNREACHABLE,
                drifts: vec![drift(UNREACHABLE, format!("could not be checked: {e}"), vec![], false)],
            },
        };
        reports.push(report);
    }
    Survey { at: dir.now(), reports }
}
