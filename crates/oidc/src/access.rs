//! The one gate's verdict where nobody can be asked anything: the token
//! endpoint (code exchange, refresh, device poll), introspection and userinfo.
//! A step-up or a consent page is impossible there, so both refuse.

use gatehouse_core::access::Verdict;

/// The user's groups (by name) when the gate allows, or why not.
pub fn without_interaction(verdict: Verdict) -> Result<Vec<String>, &'static str> {
    match verdict {
        Verdict::Allow { groups } => Ok(groups.into_iter().map(|g| g.name).collect()),
        Verdict::StepUp => Err("the application requires a second factor: sign in again with one"),
        Verdict::AskConsent => Err("the user has not consented"),
        Verdict::Deny(d) => Err(d.reason()),
    }
}

#[cfg(test)]
mod tests {
    use gatehouse_core::access::Denial;

    use super::*;

    #[test]
    fn only_allow_passes() {
        assert_eq!(without_interaction(Verdict::Allow { groups: vec![] }), Ok(vec![]));
        assert!(without_interaction(Verdict::StepUp).is_err());
        assert!(without_interaction(Verdict::AskConsent).is_err());
        assert_eq!(
            without_interaction(Verdict::Deny(Denial::Inactive)),
            Err("the user is disabled")
        );
    }
}
