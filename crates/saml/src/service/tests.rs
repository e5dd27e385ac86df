//! The request services against a real directory (SQLite): the one gate on
//! both initiations (a password-only session steps up where MFA is required;
//! a user outside the bound groups is refused, with the event), sign-in and
//! forced sign-in, metadata pre-publication, and single logout.

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use gatehouse_core::access::Denial;
use gatehouse_core::events::action;
use gatehouse_core::keys::KeyPurpose;
use gatehouse_core::mfa::{MfaMode, MfaPolicy};
use gatehouse_core::password_policy::PasswordPolicy;
use gatehouse_core::session::ClientInfo;
use gatehouse_core::{
    Audit, Directory, EventFilter, FixedClock, NewUser, ProviderKind, ProviderSpec, Session, Timestamp, User,
};
use gatehouse_crypto::{HashParams, PasswordHasher};
use gatehouse_store::{ConnectOptions, SqlStore};

use super::*;
use crate::dsig::sign_element;
use crate::keys::{KeyFamily, SamlKey, SignatureAlg};
use crate::response::CLASS_MFA;
use crate::time::format_instant;
use crate::{NameIdKind, SignMode};

const EXTERNAL: &str = "https://id.example.com";
const ACS: &str = "https://sp.example.com/acs";
const SLS: &str = "https://sp.example.com/sls";
const PASSWORD: &str = "correct horse battery staple 42";

struct Idp {
    dir: Directory,
    idp: SamlIdp,
    clock: Arc<FixedClock>,
    /// The SP's signing key (its certificate is registered with every app,
    /// so its requests must be signed).
    sp_key: SamlKey,
    _tmp: tempfile::TempDir,
}

fn audience(slug: &str) -> String {
    format!("https://sp.example.com/{slug}/metadata/")
}

async fn idp() -> Idp {
    let tmp = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", tmp.path().join("gh.db").display());
    let store = SqlStore::connect(&url, ConnectOptions::default()).await.unwrap();
    store.migrate().await.unwrap();
    let clock = Arc::new(FixedClock::new(Timestamp(1_790_000_000_000)));
    let hasher = PasswordHasher::new(
        HashParams {
            m_cost_kib: 64,
            t_cost: 1,
            p_cost: 1,
        },
        2,
    )
    .unwrap();
    let dir = Directory::new(Arc::new(store), clock.clone(), hasher, PasswordPolicy::default());
    let audit = Audit::cli("tester");
    for (name, full) in [("alice", "Alice"), ("bob", "Bob")] {
        let new = NewUser {
            username: name.into(),
            email: format!("{name}@example.com"),
            name: full.into(),
        };
        dir.users().create(&audit, new).await.unwrap();
        dir.users().set_password(&audit, name, PASSWORD).await.unwrap();
    }
    dir.groups().create(&audit, "staff", false, None).await.unwrap();
    dir.groups().add_member(&audit, "staff", "alice").await.unwrap();
    let sp_key = SamlKey::generate(KeyFamily::Rsa, "sp", 1_790_000_000).unwrap().key;
    Idp {
        dir,
        idp: SamlIdp::new(EXTERNAL),
        clock,
        sp_key,
        _tmp: tmp,
    }
}

impl Idp {
    async fn app(&self, slug: &str, groups: &[&str]) {
        let cfg = SamlConfig {
            acs_urls: vec![ACS.into()],
            audience: audience(slug),
            name_id: NameIdKind::Persistent,
            sign: SignMode::Assertion,
            signing_alg: SignatureAlg::RsaSha256,
            sp_certs: vec![self.sp_key.cert_b64().to_string()],
            want_authn_requests_signed: false,
            slo_url: Some(SLS.into()),
            slo_binding: None,
            assertion_valid_secs: 300,
            allow_unsigned_logout: false,
        };
        let config = serde_json::to_value(cfg).unwrap();
        let spec = ProviderSpec {
            kind: ProviderKind::Saml,
            key: Some(audience(slug)),
            config: config.clone(),
            shown: config,
        };
        let audit = Audit::cli("tester");
        self.dir
            .apps()
            .create_with(&audit, slug, &format!("SAML {slug}"), None, Some(spec))
            .await
            .unwrap();
        for g in groups {
            self.dir.apps().bind(&audit, slug, g).await.unwrap();
        }
    }

    async fn require_mfa(&self, mode: MfaMode, apps: &[&str], groups: &[&str]) {
        let policy = MfaPolicy {
            mode,
            groups: groups.iter().map(|g| g.to_string()).collect(),
            apps: apps.iter().map(|a| a.to_string()).collect(),
        };
        self.dir.mfa().set_policy(&Audit::cli("tester"), policy).await.unwrap();
    }

    /// A password-only session of `username`.
    async fn session(&self, username: &str) -> (Session, User) {
        let audit = Audit::cli("tester");
        let check = self
            .dir
            .sign_in()
            .check_password(&audit, username, PASSWORD)
            .await
            .unwrap();
        let client = ClientInfo::default();
        let (token, ..) = self
            .dir
            .sign_in()
            .start_password_session(&audit, check, &client)
            .await
            .unwrap()
            .unwrap();
        self.dir.sessions().get(&token).await.unwrap().unwrap()
    }

    fn authn_request(&self, slug: &str, id: &str, force: bool) -> Incoming {
        let xml = format!(
            "<samlp:AuthnRequest xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\" \
             xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\" ID=\"{id}\" Version=\"2.0\" \
             IssueInstant=\"{}\" Destination=\"{EXTERNAL}/application/saml/{slug}/sso/binding/post/\" \
             AssertionConsumerServiceURL=\"{ACS}\"{}><saml:Issuer>{}</saml:Issuer></samlp:AuthnRequest>",
            format_instant(self.dir.now().millis()),
            if force { " ForceAuthn=\"true\"" } else { "" },
            audience(slug)
        );
        post(&sign_element(&xml, id, &self.sp_key, SignatureAlg::RsaSha256).unwrap())
    }

    fn logout_request(&self, slug: &str, id: &str) -> Incoming {
        let xml = format!(
            "<samlp:LogoutRequest xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\" \
             xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\" ID=\"{id}\" Version=\"2.0\" \
             IssueInstant=\"{}\" Destination=\"{EXTERNAL}/application/saml/{slug}/slo/binding/post/\">\
             <saml:Issuer>{}</saml:Issuer><saml:NameID>someone</saml:NameID></samlp:LogoutRequest>",
            format_instant(self.dir.now().millis()),
            audience(slug)
        );
        post(&sign_element(&xml, id, &self.sp_key, SignatureAlg::RsaSha256).unwrap())
    }

    /// Receives `incoming` at the SSO endpoint; the continue token.
    async fn parked(&self, slug: &str, endpoint: Endpoint, incoming: Incoming) -> String {
        match self.idp.receive(&self.dir, slug, endpoint, &incoming).await.unwrap() {
            Received::Continue(url) => url.split_once("?t=").unwrap().1.to_string(),
            other => panic!("not parked: {other:?}"),
        }
    }

    async fn unsolicited(&self, slug: &str) -> String {
        match self
            .idp
            .start_unsolicited(&self.dir, slug, Some("rs".into()))
            .await
            .unwrap()
        {
            Received::Continue(url) => url.split_once("?t=").unwrap().1.to_string(),
            other => panic!("not parked: {other:?}"),
        }
    }

    async fn sso(&self, slug: &str, token: &str, session: Option<(Session, User)>) -> SsoOutcome {
        let audit = Audit::new(gatehouse_core::Actor::System, Some("192.0.2.1".into()));
        self.idp
            .continue_sso(&self.dir, slug, token, session, &audit)
            .await
            .unwrap()
    }

    async fn events(&self, action: &str) -> Vec<gatehouse_core::Event> {
        let filter = EventFilter {
            action: Some(action.into()),
            ..EventFilter::default()
        };
        self.dir.events().list(&filter).await.unwrap()
    }
}

fn post(xml: &str) -> Incoming {
    Incoming::Post {
        saml_request: Some(STANDARD.encode(xml)),
        has_response: false,
        relay_state: Some("rs".into()),
    }
}

fn with_mfa(mut s: (Session, User)) -> (Session, User) {
    s.0.amr = vec!["pwd".into(), "otp".into(), "mfa".into()];
    s
}

fn response_xml(outcome: SsoOutcome) -> String {
    let SsoOutcome::Post(form) = outcome else {
        panic!("no response: {outcome:?}")
    };
    assert_eq!((form.action.as_str(), form.field), (ACS, "SAMLResponse"));
    assert_eq!(form.relay_state.as_deref(), Some("rs"));
    String::from_utf8(STANDARD.decode(form.value).unwrap()).unwrap()
}

#[tokio::test]
async fn both_initiations_step_a_password_session_up_where_the_application_requires_mfa() {
    let t = idp().await;
    t.app("vault", &[]).await;
    t.require_mfa(MfaMode::Off, &["vault"], &[]).await;
    let pwd = t.session("alice").await;
    for (token, request_id) in [
        (
            t.parked("vault", Endpoint::Sso, t.authn_request("vault", "_sp1", false))
                .await,
            Some("_sp1"),
        ),
        (t.unsolicited("vault").await, None),
    ] {
        let issued = t.events(AUTHORIZE_APPLICATION).await.len();
        let here = format!("/application/saml/vault/sso/continue/?t={token}");
        match t.sso("vault", &token, Some(pwd.clone())).await {
            SsoOutcome::StepUp { next } => assert_eq!(next, here),
            other => panic!("a password-only session got {other:?}"),
        }
        assert_eq!(t.events(AUTHORIZE_APPLICATION).await.len(), issued, "nothing issued");
        // The request waits; after the second factor it is answered, once.
        let xml = response_xml(t.sso("vault", &token, Some(with_mfa(pwd.clone()))).await);
        assert!(xml.contains(CLASS_MFA), "{xml}");
        assert_eq!(xml.contains("InResponseTo=\"_sp1\""), request_id.is_some());
        assert!(matches!(
            t.sso("vault", &token, Some(with_mfa(pwd.clone()))).await,
            SsoOutcome::Expired
        ));
    }
    let granted = t.events(AUTHORIZE_APPLICATION).await;
    assert_eq!(granted.len(), 2);
    assert!(
        granted
            .iter()
            .all(|e| e.user.as_deref() == Some("alice") && e.context["protocol"] == "saml")
    );
}

#[tokio::test]
async fn the_policy_for_a_users_groups_steps_up_too() {
    let t = idp().await;
    t.app("wiki", &[]).await;
    t.require_mfa(MfaMode::Groups, &[], &["staff"]).await;
    for token in [
        t.parked("wiki", Endpoint::Any, t.authn_request("wiki", "_g1", false))
            .await,
        t.unsolicited("wiki").await,
    ] {
        assert!(matches!(
            t.sso("wiki", &token, Some(t.session("alice").await)).await,
            SsoOutcome::StepUp { .. }
        ));
        // bob is not in the MFA group: a password is enough for him.
        assert!(matches!(
            t.sso("wiki", &token, Some(t.session("bob").await)).await,
            SsoOutcome::Post(_)
        ));
    }
}

#[tokio::test]
async fn both_initiations_refuse_a_user_outside_the_bound_groups() {
    let t = idp().await;
    t.app("staffonly", &["staff"]).await;
    // Bindings are decided before MFA: an outsider is refused, not stepped up.
    t.require_mfa(MfaMode::Off, &["staffonly"], &[]).await;
    let bob = t.session("bob").await;
    for token in [
        t.parked("staffonly", Endpoint::Sso, t.authn_request("staffonly", "_b1", false))
            .await,
        t.unsolicited("staffonly").await,
    ] {
        match t.sso("staffonly", &token, Some(bob.clone())).await {
            SsoOutcome::Denied { app_name, denial } => {
                assert_eq!((app_name.as_str(), denial), ("SAML staffonly", Denial::NotBound));
            }
            other => panic!("an outsider got {other:?}"),
        }
        assert!(matches!(
            t.sso("staffonly", &token, Some(with_mfa(bob.clone()))).await,
            SsoOutcome::Expired
        ));
    }
    let denied = t.events(ACCESS_DENIED).await;
    assert_eq!(denied.len(), 2);
    for e in &denied {
        assert_eq!(
            (e.user.as_deref(), e.context["username"].as_str()),
            (Some("bob"), Some("bob"))
        );
        assert_eq!(e.context["reason"], Denial::NotBound.reason());
        assert_eq!(e.client_ip.as_deref(), Some("192.0.2.1"));
    }
    assert!(t.events(AUTHORIZE_APPLICATION).await.is_empty());
    // A member gets in; a disabled one does not.
    let token = t.unsolicited("staffonly").await;
    let alice = with_mfa(t.session("alice").await);
    let mut disabled = alice.clone();
    disabled.1.is_active = false;
    assert!(matches!(
        t.sso("staffonly", &token, Some(disabled)).await,
        SsoOutcome::Denied {
            denial: Denial::Inactive,
            ..
        }
    ));
    let token = t.unsolicited("staffonly").await;
    response_xml(t.sso("staffonly", &token, Some(alice)).await);
}

#[tokio::test]
async fn sign_in_first_and_again_when_the_sp_forces_it() {
    let t = idp().await;
    t.app("wiki", &[]).await;
    let token = t
        .parked("wiki", Endpoint::Sso, t.authn_request("wiki", "_s1", false))
        .await;
    match t.sso("wiki", &token, None).await {
        SsoOutcome::SignIn { next, force } => {
            assert_eq!(next, format!("/application/saml/wiki/sso/continue/?t={token}"));
            assert!(!force);
        }
        other => panic!("{other:?}"),
    }
    let old = t.session("alice").await;
    t.clock.advance_seconds(5);
    let token = t
        .parked("wiki", Endpoint::Sso, t.authn_request("wiki", "_s2", true))
        .await;
    assert!(matches!(
        t.sso("wiki", &token, Some(old)).await,
        SsoOutcome::SignIn { force: true, .. }
    ));
    let xml = response_xml(t.sso("wiki", &token, Some(t.session("alice").await)).await);
    // The persistent NameID is a pseudonym, the same next time.
    let name_id = |x: &str| {
        x.split("<saml:NameID")
            .nth(1)
            .unwrap()
            .split('<')
            .next()
            .unwrap()
            .to_string()
    };
    let token = t.unsolicited("wiki").await;
    let again = response_xml(t.sso("wiki", &token, Some(t.session("alice").await)).await);
    assert_eq!(name_id(&xml), name_id(&again));
    assert!(!name_id(&xml).contains("alice"));
    assert!(matches!(t.sso("nowhere", &token, None).await, SsoOutcome::NotFound));
}

#[tokio::test]
async fn requests_are_checked_before_they_are_parked() {
    let t = idp().await;
    t.app("wiki", &[]).await;
    let incoming = t.authn_request("wiki", "_r1", false);
    t.parked("wiki", Endpoint::Sso, incoming.clone()).await;
    let refused = |r: Received, why: &str| match r {
        Received::Refused(text) => assert!(text.contains(why), "{text}"),
        other => panic!("{other:?}"),
    };
    refused(
        t.idp.receive(&t.dir, "wiki", Endpoint::Sso, &incoming).await.unwrap(),
        "replayed",
    );
    let other_sp = t.authn_request("blog", "_r2", false);
    t.app("blog", &[]).await;
    refused(
        t.idp.receive(&t.dir, "wiki", Endpoint::Sso, &other_sp).await.unwrap(),
        "Issuer",
    );
    let logout = t.logout_request("wiki", "_r3");
    refused(
        t.idp.receive(&t.dir, "wiki", Endpoint::Sso, &logout).await.unwrap(),
        "endpoint",
    );
    let response = Incoming::Post {
        saml_request: None,
        has_response: true,
        relay_state: None,
    };
    assert_eq!(
        t.idp.receive(&t.dir, "wiki", Endpoint::Slo, &response).await.unwrap(),
        Received::SignedOut
    );
    assert_eq!(
        t.idp.receive(&t.dir, "none", Endpoint::Sso, &response).await.unwrap(),
        Received::NotFound
    );
}

#[tokio::test]
async fn metadata_publishes_the_next_certificate_before_it_signs() {
    let t = idp().await;
    t.app("wiki", &[]).await;
    let first = t.idp.metadata(&t.dir, "wiki").await.unwrap().unwrap();
    assert_eq!(first.matches("<ds:X509Certificate>").count(), 1);
    assert!(first.contains(&format!("entityID=\"{EXTERNAL}/application/saml/wiki/metadata/\"")));
    let purpose = KeyPurpose::Saml(KeyFamily::Rsa);
    t.dir
        .keys()
        .rotate(&Audit::cli("tester"), &[purpose], 3600)
        .await
        .unwrap();
    let both = t.idp.metadata(&t.dir, "wiki").await.unwrap().unwrap();
    assert_eq!(both.matches("<ds:X509Certificate>").count(), 2);
    assert!(t.idp.metadata(&t.dir, "nowhere").await.unwrap().is_none());
}

#[tokio::test]
async fn single_logout_ends_the_session_and_answers_the_sp() {
    let t = idp().await;
    t.app("wiki", &[]).await;
    let audit = Audit::cli("tester");
    let (session, user) = t.session("alice").await;
    let token = t.parked("wiki", Endpoint::Slo, t.logout_request("wiki", "_l1")).await;
    let outcome = t
        .idp
        .continue_slo(&t.dir, "wiki", &token, Some((session.clone(), user)), &audit)
        .await
        .unwrap();
    let SloOutcome::Redirect(to) = outcome else {
        panic!("{outcome:?}")
    };
    assert!(
        to.starts_with(&format!("{SLS}?SAMLResponse=")) && to.contains("&Signature="),
        "{to}"
    );
    assert!(t.dir.sessions().list(Some("alice")).await.unwrap().is_empty());
    let ended = t.events(action::LOGOUT).await;
    assert_eq!(ended.len(), 1);
    let again = t.idp.continue_slo(&t.dir, "wiki", &token, None, &audit).await.unwrap();
    assert!(matches!(again, SloOutcome::Expired));
}
