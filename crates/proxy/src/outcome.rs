//! How each endpoint answers a decision, per the contract of its proxy:
//! - nginx `auth_request`: 2xx lets the request through (with headers the
//!   snippet copies), 401 and 403 deny; nginx turns 401 into the redirect to
//!   `/start` itself (`error_page 401`);
//! - Traefik `forwardAuth` and Caddy `forward_auth`: 2xx lets the request
//!   through (copying the listed headers), any other answer goes to the
//!   browser as it is, so sign-in is a redirect to `/start`.

/// What the directory says about a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Valid session, active user, access allowed (or a skipped path).
    Allow,
    /// Signed in, but the access rule keeps this user out: no sign-in loop.
    Forbidden,
    /// No valid proxy session for this application.
    SignIn,
    /// No application is configured for the host.
    UnknownHost,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    Nginx,
    Traefik,
    Caddy,
}

impl Endpoint {
    pub fn parse(name: &str) -> Option<Endpoint> {
        match name {
            "nginx" => Some(Endpoint::Nginx),
            "traefik" => Some(Endpoint::Traefik),
            "caddy" => Some(Endpoint::Caddy),
            _ => None,
        }
    }
}

/// The HTTP answer, without its headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// 200, with the identity headers (none for a skipped path).
    Pass,
    /// 401 (nginx redirects to `/start`).
    Unauthorized,
    /// 403.
    Forbidden,
    /// 302 to the start URL.
    RedirectToStart,
}

impl Outcome {
    pub fn of(endpoint: Endpoint, verdict: Verdict) -> Outcome {
        match (verdict, endpoint) {
            (Verdict::Allow, _) => Outcome::Pass,
            (Verdict::Forbidden | Verdict::UnknownHost, _) => Outcome::Forbidden,
            (Verdict::SignIn, Endpoint::Nginx) => Outcome::Unauthorized,
            (Verdict::SignIn, Endpoint::Traefik | Endpoint::Caddy) => Outcome::RedirectToStart,
        }
    }

    pub fn status(self) -> u16 {
        match self {
            Outcome::Pass => 200,
            Outcome::Unauthorized => 401,
            Outcome::Forbidden => 403,
            Outcome::RedirectToStart => 302,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_proxy_gets_its_contract() {
        use Endpoint::*;
        assert_eq!(Outcome::of(Nginx, Verdict::SignIn).status(), 401);
        assert_eq!(Outcome::of(Traefik, Verdict::SignIn).status(), 302);
        assert_eq!(Outcome::of(Caddy, Verdict::SignIn).status(), 302);
        for e in [Nginx, Traefik, Caddy] {
            assert_eq!(Outcome::of(e, Verdict::Allow).status(), 200);
            assert_eq!(Outcome::of(e, Verdict::Forbidden).status(), 403, "never a sign-in loop");
            assert_eq!(Outcome::of(e, Verdict::UnknownHost).status(), 403);
        }
        assert_eq!(Endpoint::parse("caddy"), Some(Caddy));
        assert_eq!(Endpoint::parse("envoy"), None);
    }
}
