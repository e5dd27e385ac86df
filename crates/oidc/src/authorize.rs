//! The authorization endpoint (RFC 6749 §4.1.1–4.1.2, OIDC Core §3.1.2).
//!
//! Order matters: until the client and its redirect URI are known to be good,
//! no error may redirect (an unknown `client_id` or a wrong `redirect_uri`
//! gets a page, never a redirect: RFC 6749 §4.1.2.1). Every later error goes
//! back to the client with `error`, `error_description`, `state` and `iss`.

use gatehouse_core::Timestamp;

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
    /// Ask for consent (explicit consent, or `prompt=consent`).
    AskConsent,
    /// Issue the code.
    Grant,
}

/// The decision once the request is valid. `consent_on_file`: a remembered
/// consent covers the scopes; `consent_now`: the person just allowed it on the
/// consent page.
#[allow(clippy::too_many_arguments)]
pub fn next_step(
    p: &Params,
    req: &AuthorizeRequest,
    client: &Client,
    issuer: &str,
    session: Option<SessionFacts>,
    now: Timestamp,
    may_use: bool,
    consent_on_file: bool,
    consent_now: bool,
) -> Step {
    let fail = |code: ErrorCode, d: &'static str| {
        Step::Refuse(Refusal::Redirect(error_redirect(
            &req.redirect_uri,
            req.state.as_deref(),
            issuer,
            &OAuthError::new(code, d),
        )))
    };
    let too_old = |s: &SessionFacts| {
        req.max_age
            .is_some_and(|m| (now.millis() - s.auth_time.millis()).div_euclid(1000) > m)
    };
    match session {
        None if req.prompt.none => return fail(ErrorCode::LoginRequired, "the user is not signed in"),
        Some(s) if req.prompt.none && too_old(&s) => {
            return fail(ErrorCode::LoginRequired, "the sign-in is older than max_age");
        }
        None => {
            return Step::Login {
                return_to: return_path(p, false),
                force: false,
            };
        }
        Some(s) if (req.prompt.login && !consent_now) || too_old(&s) => {
            return Step::Login {
                return_to: return_path(p, true),
                force: true,
            };
        }
        Some(_) => {}
    }
    if !may_use {
        return Step::NoAccess;
    }
    let wants_consent = req.prompt.consent || client.config.consent == ConsentMode::Explicit && !consent_on_file;
    if wants_consent && !consent_now {
        if req.prompt.none {
            return fail(ErrorCode::ConsentRequired, "the user has not consented");
        }
        return Step::AskConsent;
    }
    Step::Grant
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
    fn steps_for_sessions_prompts_and_consent() {
        let c = client(false);
        let now = Timestamp(100_000_000);
        let step = |q: &str, session: Option<i64>, may_use: bool, consent_now: bool| {
            let p = params(q);
            let req = validate(&p, Some(&c), |_| ISS.into()).unwrap();
            next_step(
                &p,
                &req,
                &c,
                ISS,
                session.map(|t| SessionFacts {
                    auth_time: Timestamp(t),
                }),
                now,
                may_use,
                false,
                consent_now,
            )
        };
        assert!(matches!(
            step(&ok_query(""), None, true, false),
            Step::Login { force: false, .. }
        ));
        assert_eq!(step(&ok_query(""), Some(0), true, false), Step::Grant);
        assert_eq!(step(&ok_query(""), Some(0), false, false), Step::NoAccess);
        let Step::Refuse(Refusal::Redirect(to)) = step(&ok_query("&prompt=none"), None, true, false) else {
            panic!()
        };
        assert!(to.contains("error=login_required"));
        let Step::Login { return_to, force } = step(&ok_query("&prompt=login"), Some(0), true, false) else {
            panic!()
        };
        assert!(force && !return_to.contains("prompt") && return_to.starts_with("/application/o/authorize/?"));
        // max_age: 100 000 s since sign-in > 60.
        assert!(matches!(
            step(&ok_query("&max_age=60"), Some(0), true, false),
            Step::Login { force: true, .. }
        ));
        assert_eq!(
            step(&ok_query("&max_age=60"), Some(now.millis() - 30_000), true, false),
            Step::Grant
        );
        assert_eq!(
            step(&ok_query("&prompt=consent"), Some(0), true, false),
            Step::AskConsent
        );
        assert_eq!(step(&ok_query("&prompt=consent"), Some(0), true, true), Step::Grant);
        let p = params(&ok_query("&prompt=login+consent"));
        assert!(return_path(&p, true).ends_with("prompt=consent"));
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
