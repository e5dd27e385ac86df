//! The one context every domain service shares, and [`Directory`], the handle
//! every entry point (CLI, web, protocols, worker, blueprints) holds.
//!
//! A service is a borrowed view of the context named for its domain:
//! `dir.users().create(…)`, `dir.groups().add_member(…)`, `dir.gate().check(…)`.
//! Services dereference to the context, so each can reach the clock, the
//! hasher and the policies, and call the others (`self.users().get(…)`).
//! The store itself is reachable only inside this crate: every read and write
//! that leaves core goes through a service, so a rule is written once.

use std::ops::Deref;
use std::sync::Arc;

use gatehouse_crypto::PasswordHasher;

use crate::clock::{Clock, Timestamp};
use crate::error::Result;
use crate::password_policy::PasswordPolicy;
use crate::session::SessionPolicy;
use crate::store::{Store, StoreInfo, WriteTx};
use crate::throttle::ThrottlePolicy;

/// What every service shares: storage, time, hashing, the policies and the
/// in-process caches that follow the change feed.
#[derive(Clone)]
pub struct Context {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    hasher: PasswordHasher,
    policy: PasswordPolicy,
    sessions: SessionPolicy,
    throttle: ThrottlePolicy,
    feed: Arc<crate::cache::ChangeFeed>,
    caches: Arc<crate::oauth::cache::CoreCaches>,
    /// The seed cipher and WebAuthn relying party (set by the server; without
    /// them, CLI commands that only list or reset MFA still work).
    mfa: Option<Arc<crate::mfa::MfaConfig>>,
    /// Who may enrol a first authenticator (see `mfa::enrolment`).
    enrolment: crate::mfa::enrolment::EnrolmentPolicy,
}

/// The handle to the domain services; cheap to clone.
#[derive(Clone)]
pub struct Directory {
    ctx: Arc<Context>,
}

impl Deref for Directory {
    type Target = Context;
    fn deref(&self) -> &Context {
        &self.ctx
    }
}

impl Directory {
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, hasher: PasswordHasher, policy: PasswordPolicy) -> Self {
        Directory {
            ctx: Arc::new(Context {
                store,
                clock,
                hasher,
                policy,
                sessions: SessionPolicy::default(),
                throttle: ThrottlePolicy::default(),
                feed: Arc::default(),
                caches: Arc::default(),
                mfa: None,
                enrolment: Default::default(),
            }),
        }
    }

    /// Gives the MFA services their key and relying party.
    pub fn with_mfa(mut self, config: crate::mfa::MfaConfig) -> Self {
        Arc::make_mut(&mut self.ctx).mfa = Some(Arc::new(config));
        self
    }

    /// Replaces the first-enrolment rules (see `mfa::enrolment`).
    pub fn with_enrolment_policy(mut self, policy: crate::mfa::enrolment::EnrolmentPolicy) -> Self {
        Arc::make_mut(&mut self.ctx).enrolment = policy;
        self
    }

    /// Replaces the session lifetimes and sign-in throttling limits.
    pub fn with_auth_policies(mut self, sessions: SessionPolicy, throttle: ThrottlePolicy) -> Self {
        let ctx = Arc::make_mut(&mut self.ctx);
        ctx.sessions = sessions;
        ctx.throttle = throttle;
        self
    }
}

impl Context {
    pub(crate) fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    pub(crate) async fn begin(&self) -> Result<Box<dyn WriteTx>> {
        Ok(self.store.begin().await?)
    }

    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    pub fn hasher(&self) -> &PasswordHasher {
        &self.hasher
    }

    /// The password policy.
    pub fn password_policy(&self) -> &PasswordPolicy {
        &self.policy
    }

    pub fn enrolment_policy(&self) -> &crate::mfa::enrolment::EnrolmentPolicy {
        &self.enrolment
    }

    pub fn session_policy(&self) -> &SessionPolicy {
        &self.sessions
    }

    pub fn throttle_policy(&self) -> &ThrottlePolicy {
        &self.throttle
    }

    /// Facts about the database for `gatehouse status`.
    pub async fn info(&self) -> Result<StoreInfo> {
        Ok(self.store.info().await?)
    }

    /// Users, groups, memberships, applications, bindings and API tokens.
    pub async fn contents(&self) -> Result<crate::model::Contents> {
        Ok(crate::model::Contents {
            users: self.store.users().await?,
            groups: self.store.groups().await?,
            memberships: self.store.memberships().await?,
            applications: self.store.applications().await?,
            bindings: self.store.bindings().await?,
            api_tokens: self.store.api_tokens().await?,
        })
    }

    /// A number that grows with every committed change, on any node.
    pub async fn change_seq(&self) -> Result<i64> {
        Ok(self.store.change_seq().await?)
    }

    /// A cheap round trip to the database (readiness).
    pub async fn ping(&self) -> Result<()> {
        Ok(self.store.ping().await?)
    }

    /// The change feed every in-process cache follows. The server feeds it
    /// the store's change sequence ([`crate::cache::ChangeFeed::observe`]);
    /// until then (the CLI, most tests) nothing is cached.
    pub fn feed(&self) -> &Arc<crate::cache::ChangeFeed> {
        &self.feed
    }

    pub(crate) fn caches(&self) -> &crate::oauth::cache::CoreCaches {
        &self.caches
    }

    pub(crate) fn mfa_settings(&self) -> Option<&crate::mfa::MfaConfig> {
        self.mfa.as_deref()
    }
}

/// Declares a service: a borrowed view of the [`Context`] named for its domain.
macro_rules! services {
    ($($(#[$doc:meta])* $accessor:ident => $name:ident;)*) => {
        $(
            $(#[$doc])*
            #[derive(Clone, Copy)]
            pub struct $name<'a> {
                pub(crate) ctx: &'a Context,
            }

            impl Deref for $name<'_> {
                type Target = Context;
                fn deref(&self) -> &Context {
                    self.ctx
                }
            }
        )*

        impl Context {
            $(
                $(#[$doc])*
                pub fn $accessor(&self) -> $name<'_> {
                    $name { ctx: self }
                }
            )*
        }
    };
}

services! {
    /// Users: listing, creation, passwords, activation, deletion.
    users => Users;
    /// Groups, nesting and membership.
    groups => Groups;
    /// Applications, their providers and their group bindings.
    apps => Apps;
    /// Providers as objects of their own (the REST API's view): attached or not.
    providers => Providers;
    /// The access rule: who may use which application.
    access => Access;
    /// The audit log: listing, verification, pruning.
    events => Events;
    /// Browser sessions.
    sessions => Sessions;
    /// Sign-in: password checks, throttling, the sign-in flow.
    sign_in => SignIn;
    /// Recovery keys and the recovery admin.
    recovery => Recovery;
    /// Authenticators, the MFA policy and second-factor checks.
    mfa => Mfa;
    /// The key ring: JWT and SAML signing keys.
    keys => Keys;
    /// OAuth 2.0 records: clients, grants, codes, refresh tokens, consent, devices.
    oauth => OAuth;
    /// Forward-auth hand-offs and proxy sessions.
    forward_auth => ForwardAuth;
    /// Records parked under a one-time token while a person signs in.
    parking => Parking;
    /// One-time message ids (replay protection shared by every node).
    replay => Replay;
    /// Server-wide random secrets, made at first use.
    secrets => Secrets;
    /// The background job queue.
    jobs => Jobs;
    /// The applied state of blueprint files.
    blueprints => Blueprints;
    /// API tokens: creation, listing, revocation, authentication.
    tokens => Tokens;
    /// Invitations: links that let a person create their own account.
    invitations => Invitations;
}
