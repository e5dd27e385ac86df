//! HTTP-level tests of sign-in, sessions, CSRF, throttling, recovery and the
//! portal: the real router on a real SQLite store, driven without sockets, with
//! a clock the test moves.

mod harness;

mod csrf;
mod forwarded;
mod recovery;
mod redirects;
mod sessions;
mod throttling;
