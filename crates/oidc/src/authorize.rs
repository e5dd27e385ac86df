//! The authorization endpoint (RFC 6749 §4.1.1–4.1.2, OIDC Core §3.1.2).
//!
//! Order matters: until the client and its redirect URI are known to be good,
//! no error may redirect (an unknown `client_id` or a wrong `redirect_uri`
//! gets a page, never a redirect: RFC 6749 §4.1.2.1). Every later error goes
//! back to the client with `error`, `error_description`, `state` and `iss`.

use gatehouse_core::Timestamp;
use gatehouse_core::access::{Consent, Verdict};

use crate::client::Client;
use crate::config::ConsentMode;
use crate::error::{ErrorCode, OAuthError};
use crate::params::{Params, append_query};
use crate::{paths, pkce, scope};

/// A valid authorization request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizeRequest {
    pub redirect_uri: String,
    pub state: Option<String>,
    pub scopes: Vec<String>,
    pub nonce: Option<String>,
    pub prompt: Prompt,
    pub max_age: Option<i64>,
    /// (challenge, method).
    pub pkce: Option<(String, String)>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Prompt {
    pub none: bool,
    pub login: bool,
    pub consent: bool,
}

/// Why a request is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Show an error page; never redirect (bad client or redirect URI).
    Page(String),
    /// Send the browser back to the client with this URL.
    Redirect(String),
}

/// The client's error redirect (RFC 6749 §4.1.2.1, RFC 9207 `iss`).
pub fn error_redirect(redirect_uri: &str, state: Option<&str>, issuer: &str, e: &OAuthError) -> String {
    let mut pairs = vec![
        ("error", e.code.as_str()),
        ("error_description", e.description.as_ref()),
    ];
    if let Some(s) = state {
        pairs.push(("state", s));
    }
    pairs.push(("iss", issuer));
    append_query(redirect_uri, &pairs)
}

/// The redirect carrying the code.
pub fn success_redirect(req: &AuthorizeRequest, code: &str, issuer: &str) -> String {
    let mut pairs = vec![("code", code)];
    if let Some(s) = &req.state {
        pairs.push(("state", s));
    }
    pairs.push(("iss", issuer));
    append_query(&req.redirect_uri, &pairs)
}

/// Validates a request. `client` is the application found by `client_id`.
pub fn validate(
    p: &Params,
    client: Option<&Client>,
    issuer_of: impl Fn(&Client) -> String,
) -> Result<AuthorizeRequest, Refusal> {
    if p.get("client_id").is_none() {
        return Err(Refusal::Page(
            "The request names no client (client_id is missing).".into(),
        ));
    }
    let Some(client) = client else {
        return Err(Refusal::Page(
            "The application asking you to sign in is not known here (unknown client_id).".into(),
        ));
    };
    let redirect_uri = match p.get("redirect_uri") {
        Some(r) if client.config.redirect_uri_allowed(r) => r.to_string(),
        Some(_) => {
            return Err(Refusal::Page(
                "The application asked to send you to an address it has not registered (redirect_uri). Tell its administrator."
                    .into(),
            ));
        }
        None => match client.config.default_redirect_uri() {
            Some(r) => r.to_string(),
            None => return Err(Refusal::Page("The request names no redirect_uri.".into())),
        },
    };
    let state = p.get("state").map(str::to_string);
    let issuer = issuer_of(client);
    let fail = |e: OAuthError| Refusal::Redirect(error_redirect(&redirect_uri, state.as_deref(), &issuer, &e));

    match p.get("response_type") {
        None => return Err(fail(OAuthError::invalid_request("response_type is required"))),
        Some("code") => {}
        Some(_) => {
            return Err(fail(OAuthError::new(
                ErrorCode::UnsupportedResponseType,
                "only response_type=code is supported",
            )));
        }
    }
    if let Some(m) = p.get("response_mode").filter(|m| *m != "query") {
        return Err(fail(OAuthError::invalid_request(format!(
            "response_mode {} is not supported",
            m.chars().take(20).collect::<String>()
        ))));
    }
    if p.has("request") || p.has("request_uri") {
        return Err(fail(OAuthError::invalid_request("request objects are not supported")));
    }
    let prompt = parse_prompt(p.get("prompt")).map_err(fail)?;
    let max_age = match p.get("max_age") {
        None => None,
        Some(m) => Some(
            m.parse::<i64>()
                .ok()
                .filter(|v| *v >= 0)
                .ok_or_else(|| fail(OAuthError::invalid_request("max_age must be a non-negative integer")))?,
        ),
    };
    let nonce = p.get("nonce").map(str::to_string);
    if nonce.as_ref().is_some_and(|n| n.len() > 512) {
        return Err(fail(OAuthError::invalid_request("nonce is too long")));
    }
    if state.as_ref().is_some_and(|s| s.len() > 2048) {
        return Err(fail(OAuthError::invalid_request("state is too long")));
    }
    let pkce = pkce::check_challenge(
        p.get("code_challenge"),
        p.get("code_challenge_method"),
        client.config.allow_plain_pkce,
        client.config.is_public(),
    )
    .map_err(fail)?;
    let scopes = scope::parse(p.get("scope"));
    Ok(AuthorizeRequest {
        redirect_uri,
        state,
        scopes,
        nonce,
        prompt,
        max_age,
        pkce,
    })
}

fn parse_prompt(text: Option<&str>) -> Result<Prompt, OAuthError> {
    let mut p = Prompt::default();
    for v in text.unwrap_or("").split_ascii_whitespace() {
        match v {
            "none" => p.none = true,
            "login" => p.login = true,
            "consent" => p.consent = true,
            "select_account" => {}
            _ => return Err(OAuthError::invalid_request("unknown prompt value")),
        }
    }
    if p.none && (p.login || p.consent) {
        return Err(OAuthError::invalid_request(
            "prompt=none cannot be combined with other values",
        ));
    }
    Ok(p)
}

/// The signed-in person, as far as the decision needs.
#[derive(Debug, Clone, Copy)]
pub struct SessionFacts {
    pub auth_time: Timestamp,
}

/// What to do next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Send the person to sign in and come back to `return_to` (a local path);
    /// `force`: even though a session exists.
    Login {
        return_to: String,
        force: bool,
    },
    Refuse(Refusal),
    /// The person may not use this application: a "no access" page.
    NoAccess,
    /// A second factor first, then this request again.
    StepUp,
    /// Ask for consent (explicit consent, or `prompt=consent`).
    AskConsent,
    /// Issue the code.
    Grant,
}

fn refuse(req: &AuthorizeRequest, issuer: &str, code: ErrorCode, description: &'static str) -> Step {
    Step::Refuse(Refusal::Redirect(error_redirect(
        &req.redirect_uri,
        req.state.as_deref(),
        issuer,
        &OAuthError::new(code, description),
    )))
}

/// Whether the session (or its absence) lets a valid request go on to the
/// gate: `Some(step)` when it does not (sign in, or `login_required`).
/// `answered`: the request is the consent page's answer (its `prompt=login`
/// was met by the sign-in before the page).
pub fn session_step(
    p: &Params,
    req: &AuthorizeRequest,
    issuer: &str,
    session: Option<SessionFacts>,
    now: Timestamp,
    answered: bool,
) -> Option<Step> {
    let too_old = |s: &SessionFacts| {
        req.max_age
            .is_some_and(|m| (now.millis() - s.auth_time.millis()).div_euclid(1000) > m)
    };
    match session {
        None if req.prompt.none => Some(refuse(
            req,
            issuer,
            ErrorCode::LoginRequired,
            "the user is not signed in",
        )),
        Some(s) if req.prompt.none && too_old(&s) => Some(refuse(
            req,
            issuer,
            ErrorCode::LoginRequired,
            "the sign-in is older than max_age",
        )),
        None => Some(Step::Login {
            return_to: return_path(p, false),
            force: false,
        }),
        Some(s) if (req.prompt.login && !answered) || too_old(&s) => Some(Step::Login {
            return_to: return_path(p, true),
            force: true,
        }),
        Some(_) => None,
    }
}

/// Whether the consent on file matters: only an explicit-consent client or
/// `prompt=consent` asks for it.
pub fn asks_consent(req: &AuthorizeRequest, client: &Client) -> bool {
    req.prompt.consent || client.config.consent == ConsentMode::Explicit
}

/// The consent the gate decides over. `on_file`: a remembered consent covers
/// the scopes; `given_now`: the person just allowed it on the consent page.
pub fn consent(req: &AuthorizeRequest, client: &Client, on_file: bool, given_now: bool) -> Consent {
    if given_now {
        Consent::GivenNow
    } else if req.prompt.consent || client.config.consent == ConsentMode::Explicit && !on_file {
        Consent::Needed
    } else if on_file {
        Consent::OnFile
    } else {
        Consent::NotAsked
    }
}

/// The step for the gate's verdict. With `prompt=none` nothing may be shown,
/// so a step-up or a consent page becomes an error (OIDC Core §3.1.2.6).
pub fn after_gate(req: &AuthorizeRequest, issuer: &str, verdict: &Verdict) -> Step {
    match verdict {
        Verdict::Allow { .. } => Step::Grant,
        Verdict::Deny(_) => Step::NoAccess,
        Verdict::StepUp if req.prompt.none => refuse(
            req,
            issuer,
            ErrorCode::InteractionRequired,
            "the application requires a second factor",
        ),
        Verdict::StepUp => Step::StepUp,
        Verdict::AskConsent if req.prompt.none => {
            refuse(req, issuer, ErrorCode::ConsentRequired, "the user has not consented")
        }
        Verdict::AskConsent => Step::AskConsent,
    }
}

/// Where sign-in returns to: this request again (a local path). After a forced
/// sign-in, without `prompt=login` and `max_age`, which the fresh sign-in
/// satisfies (and which would otherwise ask again forever).
pub fn return_path(p: &Params, after_forced_login: bool) -> String {
    let drop: &[&str] = if after_forced_login {
        &["prompt", "max_age"]
    } else {
        &[]
    };
    let mut q = p.to_query(drop);
    if after_forced_login && let Some(prompt) = p.get("prompt") {
        let rest: Vec<&str> = prompt.split_ascii_whitespace().filter(|v| *v != "login").collect();
        if !rest.is_empty() {
            let mut s = form_urlencoded::Serializer::new(q);
            s.append_pair("prompt", &rest.join(" "));
            q = s.finish();
        }
    }
    format!("{}?{q}", paths::AUTHORIZE)
}

#[cfg(test)]
mod tests {
    use gatehouse_core::access::Denial;

    use super::*;
    use crate::claims::tests::client;

    const ISS: &str = "https://id.example/application/o/grafana/";
    const VERIFIER_CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    fn params(q: &str) -> Params {
        Params::parse(q).unwrap()
    }

    fn ok_query(extra: &str) -> String {
        format!(
            "client_id=grafana&redirect_uri=https%3A%2F%2Fapp.example%2Fcb&response_type=code&scope=openid+email&state=xyz{extra}"
        )
    }

    #[test]
    fn bad_client_or_redirect_never_redirects() {
        let c = client(false);
        assert!(matches!(
            validate(&params("response_type=code"), Some(&c), |_| ISS.into()),
            Err(Refusal::Page(_))
        ));
        assert!(matches!(
            validate(&params(&ok_query("")), None, |_| ISS.into()),
            Err(Refusal::Page(_))
        ));
        let evil = "client_id=grafana&redirect_uri=https%3A%2F%2Fevil.example%2Fcb&response_type=token";
        assert!(matches!(
            validate(&params(evil), Some(&c), |_| ISS.into()),
            Err(Refusal::Page(_))
        ));
    }

    #[test]
    fn later_errors_redirect_with_state_and_iss() {
        let c = client(false);
        let q = ok_query("").replace("response_type=code", "response_type=token");
        let Err(Refusal::Redirect(to)) = validate(&params(&q), Some(&c), |_| ISS.into()) else {
            panic!("should redirect")
        };
        assert!(to.starts_with("https://app.example/cb?error=unsupported_response_type"));
        assert!(to.contains("state=xyz") && to.contains("iss="));
        let plain = ok_query(&format!(
            "&code_challenge={VERIFIER_CHALLENGE}&code_challenge_method=plain"
        ));
        let Err(Refusal::Redirect(to)) = validate(&params(&plain), Some(&c), |_| ISS.into()) else {
            panic!("plain PKCE must be refused")
        };
        assert!(to.contains("error=invalid_request"));
        // Public clients need PKCE.
        let public = client(true);
        assert!(matches!(
            validate(&params(&ok_query("")), Some(&public), |_| ISS.into()),
            Err(Refusal::Redirect(_))
        ));
        let with = ok_query(&format!(
            "&code_challenge={VERIFIER_CHALLENGE}&code_challenge_method=S256"
        ));
        assert!(validate(&params(&with), Some(&public), |_| ISS.into()).is_ok());
        assert!(matches!(
            validate(&params(&ok_query("&prompt=none+login")), Some(&c), |_| ISS.into()),
            Err(Refusal::Redirect(_))
        ));
    }

    #[test]
    fn sessions_prompts_and_max_age() {
        let c = client(false);
        let now = Timestamp(100_000_000);
        let step = |q: &str, session: Option<i64>, answered: bool| {
            let p = params(q);
            let req = validate(&p, Some(&c), |_| ISS.into()).unwrap();
            session_step(
                &p,
                &req,
                ISS,
                session.map(|t| SessionFacts {
                    auth_time: Timestamp(t),
                }),
                now,
                answered,
            )
        };
        assert!(matches!(
            step(&ok_query(""), None, false),
            Some(Step::Login { force: false, .. })
        ));
        assert_eq!(step(&ok_query(""), Some(0), false), None);
        let Some(Step::Refuse(Refusal::Redirect(to))) = step(&ok_query("&prompt=none"), None, false) else {
            panic!()
        };
        assert!(to.contains("error=login_required"));
        let Some(Step::Login { return_to, force }) = step(&ok_query("&prompt=login"), Some(0), false) else {
            panic!()
        };
        assert!(force && !return_to.contains("prompt") && return_to.starts_with("/application/o/authorize/?"));
        assert_eq!(
            step(&ok_query("&prompt=login"), Some(0), true),
            None,
            "the consent answer"
        );
        // max_age: 100 000 s since sign-in > 60.
        assert!(matches!(
            step(&ok_query("&max_age=60"), Some(0), false),
            Some(Step::Login { force: true, .. })
        ));
        assert_eq!(step(&ok_query("&max_age=60"), Some(now.millis() - 30_000), false), None);
        let p = params(&ok_query("&prompt=login+consent"));
        assert!(return_path(&p, true).ends_with("prompt=consent"));
    }

    #[test]
    fn consent_and_the_gate_s_verdicts() {
        let mut c = client(false);
        let req = |q: &str| validate(&params(&ok_query(q)), Some(&c), |_| ISS.into()).unwrap();
        assert_eq!(consent(&req(""), &c, false, false), Consent::NotAsked);
        assert_eq!(consent(&req("&prompt=consent"), &c, true, false), Consent::Needed);
        assert_eq!(consent(&req("&prompt=consent"), &c, false, true), Consent::GivenNow);
        c.config.consent = ConsentMode::Explicit;
        let req = |q: &str| validate(&params(&ok_query(q)), Some(&c), |_| ISS.into()).unwrap();
        assert!(asks_consent(&req(""), &c));
        assert_eq!(consent(&req(""), &c, false, false), Consent::Needed);
        assert_eq!(consent(&req(""), &c, true, false), Consent::OnFile);

        let allow = Verdict::Allow { groups: vec![] };
        assert_eq!(after_gate(&req(""), ISS, &allow), Step::Grant);
        assert_eq!(
            after_gate(&req(""), ISS, &Verdict::Deny(Denial::NotBound)),
            Step::NoAccess
        );
        assert_eq!(after_gate(&req(""), ISS, &Verdict::StepUp), Step::StepUp);
        assert_eq!(after_gate(&req(""), ISS, &Verdict::AskConsent), Step::AskConsent);
        let Step::Refuse(Refusal::Redirect(to)) = after_gate(&req("&prompt=none"), ISS, &Verdict::StepUp) else {
            panic!("prompt=none shows nothing")
        };
        assert!(to.contains("error=interaction_required"));
        let Step::Refuse(Refusal::Redirect(to)) = after_gate(&req("&prompt=none"), ISS, &Verdict::AskConsent) else {
            panic!("prompt=none shows nothing")
        };
        assert!(to.contains("error=consent_required"));
    }

    #[test]
    fn success_redirect_carries_code_state_and_iss() {
        let c = client(false);
        let p = params(&ok_query(""));
        let req = validate(&p, Some(&c), |_| ISS.into()).unwrap();
        let to = success_redirect(&req, "the-code", ISS);
        assert!(to.starts_with("https://app.example/cb?code=the-code&state=xyz&iss=https%3A%2F%2F"));
    }
}
