//! `gatehouse healthcheck`: exit 0 when the server on this machine answers
//! `/-/health/ready/` with 200, else 1. For container health checks, where
//! the image has no shell or HTTP client; `status` checks far more.

use crate::context::Context;
use crate::failure::{CmdResult, Failure};

pub async fn run(ctx: &Context) -> CmdResult {
    let addr = ctx.settings.local_server_addr();
    match crate::commands::status::probe_ready(addr).await {
        Ok(200) => Ok(()),
        Ok(code) => Err(Failure::runtime(format!(
            "not ready: HTTP {code} from http://{addr}/-/health/ready/"
        ))),
        Err(e) => Err(Failure::runtime(format!(
            "not reachable at http://{addr}/-/health/ready/: {e}"
        ))),
    }
}
