//! RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0 §2–3):
//! `post_logout_redirect_uri` must be registered for the application, exactly,
//! or nobody is redirected anywhere; an `id_token_hint` from this application
//! lets the sign-out happen without asking.

use gatehouse_crypto::signing::UnverifiedJwt;
use serde_json::Value;

use crate::client::Client;
use crate::params::{Params, append_query};

/// What the request asks for, after checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndSession {
    /// Where to go afterwards (registered), with `state` appended.
    pub redirect: Option<String>,
    /// `sub` of a valid hint issued to this client (signature checked by the
    /// caller through `hint_ok`).
    pub hinted_sub: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EndSessionError {
    /// Unregistered `post_logout_redirect_uri`, or a hint for another client:
    /// show an error page, redirect nowhere.
    Page(String),
}

/// `hint_ok` verifies the hint's signature (expiry is ignored: a hint may be old).
pub fn check(
    p: &Params,
    client: &Client,
    hint_ok: impl Fn(&str, &UnverifiedJwt) -> bool,
) -> Result<EndSession, EndSessionError> {
    let mut hinted_sub = None;
    if let Some(hint) = p.get("id_token_hint") {
        let jwt = UnverifiedJwt::parse(hint)
            .ok()
            .filter(|j| hint_ok(hint, j))
            .ok_or_else(|| {
                EndSessionError::Page("The sign-out request carries an ID token this server did not issue.".into())
            })?;
        let aud_ok = match jwt.claims.get("aud") {
            Some(Value::String(a)) => a == client.client_id(),
            Some(Value::Array(a)) => a.iter().any(|x| x.as_str() == Some(client.client_id())),
            _ => false,
        };
        if !aud_ok {
            return Err(EndSessionError::Page(
                "The sign-out request's ID token belongs to another application.".into(),
            ));
        }
        hinted_sub = jwt.claims.get("sub").and_then(Value::as_str).map(str::to_string);
    }
    if p.get("client_id").is_some_and(|c| c != client.client_id()) {
        return Err(EndSessionError::Page(
            "The sign-out request names another application.".into(),
        ));
    }
    let redirect = match p.get("post_logout_redirect_uri") {
        None => None,
        Some(uri) if client.config.post_logout_redirect_uris.iter().any(|u| u == uri) => Some(match p.get("state") {
            Some(s) => append_query(uri, &[("state", s)]),
            None => uri.to_string(),
        }),
        Some(_) => {
            return Err(EndSessionError::Page(
                "The application asked to send you to an address it has not registered after signing out.".into(),
            ));
        }
    };
    Ok(EndSession { redirect, hinted_sub })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::claims::tests::client;

    #[test]
    fn only_registered_post_logout_uris_redirect() {
        let c = client(false);
        let ok = Params::parse("post_logout_redirect_uri=https%3A%2F%2Fapp.example%2Fbye&state=s1").unwrap();
        assert_eq!(
            check(&ok, &c, |_, _| true).unwrap().redirect.as_deref(),
            Some("https://app.example/bye?state=s1")
        );
        for evil in [
            "https://evil.example/",
            "https://app.example/bye/../x",
            "//evil.example",
        ] {
            let q = form_urlencoded::Serializer::new(String::new())
                .append_pair("post_logout_redirect_uri", evil)
                .finish();
            assert!(check(&Params::parse(&q).unwrap(), &c, |_, _| true).is_err(), "{evil}");
        }
        assert_eq!(
            check(&Params::parse("").unwrap(), &c, |_, _| true).unwrap().redirect,
            None
        );
        assert!(check(&Params::parse("id_token_hint=garbage").unwrap(), &c, |_, _| true).is_err());
    }
}
