//! HTTP-level tests of forward-auth: the real router on a real SQLite store,
//! driven without sockets, with hosts in the `Host` header, a browser that
//! keeps cookies per host and per domain, a clock the test moves and a change
//! feed the test moves (as another node's writes would).

mod harness;

mod dance;
mod decisions;
mod hosts;
