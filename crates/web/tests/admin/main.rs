//! The admin interface through the router: who gets in (stranger, person,
//! administrator with and without MFA), CSRF on every form, every page
//! rendering, confirmations before destructive actions, and the audit
//! trail of each change.

#[path = "../signin/harness.rs"]
#[allow(dead_code)]
mod harness;

mod access;
mod blueprints;
mod pages;
mod provisioning;
