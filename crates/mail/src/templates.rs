//! The mails Gatehouse sends, each as plain text and HTML, branded with the
//! instance's title (GATEHOUSE_BRANDING_TITLE) like the pages. HTML mail uses
//! inline styles (mail clients drop style sheets); askama escapes every value.

use askama::Template;

/// A rendered mail.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

#[derive(Template)]
#[template(path = "recovery.html")]
struct RecoveryHtml<'a> {
    subject: &'a str,
    brand: &'a str,
    name: &'a str,
    username: &'a str,
    link: &'a str,
    minutes: i64,
}

#[derive(Template)]
#[template(path = "recovery.txt", escape = "none")]
struct RecoveryText<'a> {
    brand: &'a str,
    name: &'a str,
    username: &'a str,
    link: &'a str,
    minutes: i64,
}

#[derive(Template)]
#[template(path = "invitation.html")]
struct InvitationHtml<'a> {
    subject: &'a str,
    brand: &'a str,
    link: &'a str,
    expires: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "invitation.txt", escape = "none")]
struct InvitationText<'a> {
    brand: &'a str,
    link: &'a str,
    expires: Option<&'a str>,
}

/// The invitation mail with its sign-up link; `expires` as people read it.
pub fn invitation(brand: &str, link: &str, expires: Option<&str>) -> Result<Rendered, askama::Error> {
    let subject = format!("You are invited to {brand}");
    Ok(Rendered {
        html: InvitationHtml {
            subject: &subject,
            brand,
            link,
            expires,
        }
        .render()?,
        text: InvitationText { brand, link, expires }.render()?,
        subject,
    })
}

#[derive(Template)]
#[template(path = "test.html")]
struct TestHtml<'a> {
    subject: &'a str,
    brand: &'a str,
    server: &'a str,
}

#[derive(Template)]
#[template(path = "test.txt", escape = "none")]
struct TestText<'a> {
    brand: &'a str,
    server: &'a str,
}

/// The password recovery mail carrying a one-time link.
pub fn recovery(brand: &str, name: &str, username: &str, link: &str, minutes: i64) -> Result<Rendered, askama::Error> {
    let subject = format!("Reset your {brand} password");
    Ok(Rendered {
        html: RecoveryHtml {
            subject: &subject,
            brand,
            name,
            username,
            link,
            minutes,
        }
        .render()?,
        text: RecoveryText {
            brand,
            name,
            username,
            link,
            minutes,
        }
        .render()?,
        subject,
    })
}

#[derive(Template)]
#[template(path = "mfa_enrolled.html")]
struct EnrolledHtml<'a> {
    subject: &'a str,
    brand: &'a str,
    name: &'a str,
    username: &'a str,
    what: &'a str,
    label: &'a str,
    when: &'a str,
    ip: Option<&'a str>,
    security_url: &'a str,
}

#[derive(Template)]
#[template(path = "mfa_enrolled.txt", escape = "none")]
struct EnrolledText<'a> {
    brand: &'a str,
    name: &'a str,
    username: &'a str,
    what: &'a str,
    label: &'a str,
    when: &'a str,
    ip: Option<&'a str>,
    security_url: &'a str,
}

/// What the "new second factor" mail says.
#[derive(Debug, Clone, Copy)]
pub struct Enrolled<'a> {
    pub name: &'a str,
    pub username: &'a str,
    /// "an authenticator app", "a passkey or security key".
    pub what: &'a str,
    /// The name the person gave it.
    pub label: &'a str,
    /// When, as people read it (UTC).
    pub when: &'a str,
    pub ip: Option<&'a str>,
    /// The Security page, where authenticators are listed.
    pub security_url: &'a str,
}

/// The mail to an owner whose account got a new authenticator.
pub fn mfa_enrolled(brand: &str, e: &Enrolled<'_>) -> Result<Rendered, askama::Error> {
    let subject = format!("A second factor was added to your {brand} account");
    Ok(Rendered {
        html: EnrolledHtml {
            subject: &subject,
            brand,
            name: e.name,
            username: e.username,
            what: e.what,
            label: e.label,
            when: e.when,
            ip: e.ip,
            security_url: e.security_url,
        }
        .render()?,
        text: EnrolledText {
            brand,
            name: e.name,
            username: e.username,
            what: e.what,
            label: e.label,
            when: e.when,
            ip: e.ip,
            security_url: e.security_url,
        }
        .render()?,
        subject,
    })
}

/// `gatehouse email test`.
pub fn test(brand: &str, server: &str) -> Result<Rendered, askama::Error> {
    let subject = format!("{brand}: test mail");
    Ok(Rendered {
        html: TestHtml {
            subject: &subject,
            brand,
            server,
        }
        .render()?,
        text: TestText { brand, server }.render()?,
        subject,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovery_mail_is_branded_and_escaped() {
        let r = recovery(
            "Acme <Login>",
            "Bob & Co",
            "bob",
            "https://auth.example.com/recovery/use-token/abc/",
            30,
        )
        .unwrap();
        assert_eq!(r.subject, "Reset your Acme <Login> password");
        assert!(
            r.html.contains("Acme &#60;Login&#62;") || r.html.contains("Acme &lt;Login&gt;"),
            "{}",
            r.html
        );
        assert!(!r.html.contains("<Login>"));
        assert!(r.html.contains("Bob &#38; Co") || r.html.contains("Bob &amp; Co"));
        assert!(r.html.contains("https://auth.example.com/recovery/use-token/abc/"));
        assert!(r.text.contains("Hello Bob & Co,"));
        assert!(r.text.contains("\nhttps://auth.example.com/recovery/use-token/abc/\n"));
        assert!(r.text.contains("30 minutes"));
    }

    #[test]
    fn enrolment_mail_says_what_when_and_where() {
        let r = mfa_enrolled(
            "Acme",
            &Enrolled {
                name: "Bob & Co",
                username: "bob",
                what: "an authenticator app",
                label: "<phone>",
                when: "2026-11-29 10:00 UTC",
                ip: Some("203.0.113.9"),
                security_url: "https://auth.example.com/if/user/security/",
            },
        )
        .unwrap();
        assert_eq!(r.subject, "A second factor was added to your Acme account");
        for part in [&r.text, &r.html] {
            assert!(
                part.contains("203.0.113.9") && part.contains("2026-11-29 10:00 UTC"),
                "{part}"
            );
            assert!(part.contains("https://auth.example.com/if/user/security/"));
        }
        assert!(r.text.contains("\"<phone>\""));
        assert!(!r.html.contains("<phone>"), "escaped in HTML");
    }

    #[test]
    fn invitation_mail_carries_the_link_escaped() {
        let link = "https://id.example.com/if/flow/default-enrollment-flow/?itoken=abc&x=<y>";
        let r = invitation("Example <Stack>", link, Some("2026-12-13 10:00 UTC")).unwrap();
        assert_eq!(r.subject, "You are invited to Example <Stack>");
        assert!(r.text.contains(link) && r.text.contains("valid until 2026-12-13 10:00 UTC"));
        assert!(r.html.contains("itoken=abc") && r.html.contains("2026-12-13 10:00 UTC"));
        assert!(
            !r.html.contains("<y>") && !r.html.contains("<Stack>"),
            "escaped in HTML"
        );
        let open = invitation("Gatehouse", "https://x/", None).unwrap();
        assert!(!open.text.contains("valid until"));
    }

    #[test]
    fn test_mail_names_the_server() {
        let r = test("Gatehouse", "smtp.example.com:587").unwrap();
        assert!(r.text.contains("smtp.example.com:587"));
        assert!(r.html.contains("smtp.example.com:587"));
    }
}
