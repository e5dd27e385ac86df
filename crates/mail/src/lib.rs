//! Gatehouse's outgoing mail: SMTP through lettre (rustls, no OpenSSL) and the
//! branded HTML and plain-text templates.
//!
//! This crate owns the transport settings (authentik's `EMAIL__*` names, mapped
//! by the binary) and message building; it knows nothing of jobs or the
//! database. Callers pass a Message-ID derived from the job's idempotency key,
//! so a mail sent twice after a crash is recognisable as one message.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod templates;

use std::fmt;
use std::time::Duration;

use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

pub use templates::Rendered;

/// How the connection to the SMTP server is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// No TLS (`USE_TLS` and `USE_SSL` both false): for a local relay only.
    Plain,
    /// STARTTLS, required (`USE_TLS`).
    StartTls,
    /// TLS from the first byte (`USE_SSL`, usually port 465).
    Implicit,
}

/// SMTP settings.
#[derive(Clone)]
pub struct MailSettings {
    pub host: String,
    pub port: u16,
    pub username: Option<String>,
    pub password: Option<String>,
    pub security: Security,
    pub timeout: Duration,
    /// `Name <address>` or a bare address.
    pub from: String,
}

// Written by hand: the password must never reach a log line.
impl fmt::Debug for MailSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MailSettings")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "(hidden)"))
            .field("security", &self.security)
            .field("timeout", &self.timeout)
            .field("from", &self.from)
            .finish()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// The message itself is wrong (bad address): retrying cannot help.
    #[error("invalid {0}")]
    Invalid(String),
    /// The server refused for good (5xx).
    #[error("SMTP server refused the message: {0}")]
    Rejected(String),
    /// Connection, TLS, timeout or a temporary refusal: worth retrying.
    #[error("SMTP delivery failed: {0}")]
    Transient(String),
}

impl MailError {
    pub fn is_permanent(&self) -> bool {
        matches!(self, MailError::Invalid(_) | MailError::Rejected(_))
    }
}

/// One message to send.
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: Option<String>,
    /// Without angle brackets, e.g. `3f…@auth.example.com`.
    pub message_id: Option<String>,
}

/// A configured SMTP transport. Cheap to clone.
#[derive(Clone)]
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    settings: MailSettings,
}

impl fmt::Debug for Mailer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mailer").field("settings", &self.settings).finish()
    }
}

impl Mailer {
    pub fn new(settings: MailSettings) -> Result<Mailer, MailError> {
        let from: Mailbox = settings
            .from
            .parse()
            .map_err(|e| MailError::Invalid(format!("sender address '{}': {e}", settings.from)))?;
        let tls = |host: &str| {
            TlsParameters::new(host.to_string()).map_err(|e| MailError::Invalid(format!("TLS settings: {e}")))
        };
        let mut builder =
            AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(settings.host.as_str()).port(settings.port);
        builder = match settings.security {
            Security::Plain => builder.tls(Tls::None),
            Security::StartTls => builder.tls(Tls::Required(tls(&settings.host)?)),
            Security::Implicit => builder.tls(Tls::Wrapper(tls(&settings.host)?)),
        };
        builder = builder.timeout(Some(settings.timeout));
        if let (Some(user), Some(password)) = (&settings.username, &settings.password) {
            builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
        }
        Ok(Mailer {
            transport: builder.build(),
            from,
            settings,
        })
    }

    pub fn settings(&self) -> &MailSettings {
        &self.settings
    }

    /// The sender's domain (for Message-IDs).
    pub fn from_domain(&self) -> String {
        self.from.email.domain().to_string()
    }

    /// Builds the MIME message (multipart/alternative when there is HTML).
    pub fn build(&self, out: &Outgoing) -> Result<Message, MailError> {
        let to: Mailbox = out
            .to
            .parse()
            .map_err(|e| MailError::Invalid(format!("recipient address '{}': {e}", out.to)))?;
        let builder = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(out.subject.clone())
            .message_id(out.message_id.as_ref().map(|id| format!("<{id}>")));
        let built = match &out.html {
            Some(html) => builder.multipart(MultiPart::alternative_plain_html(out.text.clone(), html.clone())),
            None => builder.body(out.text.clone()),
        };
        built.map_err(|e| MailError::Invalid(format!("message: {e}")))
    }

    /// Sends one message and returns the server's answer to it (e.g. `250 OK`).
    pub async fn send(&self, out: &Outgoing) -> Result<String, MailError> {
        let message = self.build(out)?;
        match self.transport.send(message).await {
            Ok(response) => Ok(format!(
                "{} {}",
                response.code(),
                response.message().collect::<Vec<_>>().join(" ")
            )),
            Err(e) if e.is_permanent() => Err(MailError::Rejected(describe(&e))),
            Err(e) => Err(MailError::Transient(describe(&e))),
        }
    }
}

/// lettre's error with its causes, on one line.
fn describe(e: &lettre::transport::smtp::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        let part = s.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        source = s.source();
    }
    text
}

/// `"Display Name" <address>` when the name makes a valid mailbox, else the bare
/// address (a name with odd characters must not make a mail undeliverable).
pub fn recipient(name: &str, address: &str) -> String {
    let name: String = name
        .chars()
        .filter(|c| !c.is_control() && *c != '"' && *c != '\\')
        .collect();
    let name = name.trim();
    if name.is_empty() {
        return address.to_string();
    }
    match address.parse::<lettre::Address>() {
        Ok(addr) => Mailbox::new(Some(name.to_string()), addr).to_string(),
        Err(_) => address.to_string(),
    }
}

/// A Message-ID that is a function of an idempotency key: the same job sends
/// the same Message-ID however often it runs.
pub fn message_id_for(idem_key: &str, domain: &str) -> String {
    let digest = gatehouse_crypto::sha256_hex(idem_key.as_bytes());
    format!("{}.gatehouse@{domain}", &digest[..32])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> MailSettings {
        MailSettings {
            host: "127.0.0.1".into(),
            port: 25,
            username: Some("u".into()),
            password: Some("s3cret".into()),
            security: Security::Plain,
            timeout: Duration::from_secs(5),
            from: "Gatehouse <auth@example.com>".into(),
        }
    }

    #[test]
    fn debug_hides_the_password() {
        let text = format!("{:?}", Mailer::new(settings()).unwrap());
        assert!(!text.contains("s3cret"));
        assert!(text.contains("(hidden)"));
    }

    #[test]
    fn recipients_keep_odd_names_deliverable() {
        assert_eq!(recipient("", "a@example.com"), "a@example.com");
        let r = recipient("Dana \"D\" Scully\r\n", "dana@example.com");
        let parsed: Mailbox = r.parse().unwrap();
        assert_eq!(parsed.email.to_string(), "dana@example.com");
        assert_eq!(parsed.name.as_deref(), Some("Dana D Scully"));
        let utf8: Mailbox = recipient("Zoë Ångström", "z@example.com").parse().unwrap();
        assert_eq!(utf8.name.as_deref(), Some("Zoë Ångström"));
    }

    #[test]
    fn message_ids_follow_the_key() {
        let a = message_id_for("mail.recovery:1", "example.com");
        assert_eq!(a, message_id_for("mail.recovery:1", "example.com"));
        assert_ne!(a, message_id_for("mail.recovery:2", "example.com"));
        assert!(a.ends_with("@example.com"));
    }

    #[test]
    fn builds_multipart_with_message_id() {
        let m = Mailer::new(settings()).unwrap();
        let msg = m
            .build(&Outgoing {
                to: "Bob <bob@example.com>".into(),
                subject: "Hi".into(),
                text: "plain".into(),
                html: Some("<p>html</p>".into()),
                message_id: Some("abc@example.com".into()),
            })
            .unwrap();
        let raw = String::from_utf8(msg.formatted()).unwrap();
        assert!(raw.contains("Message-ID: <abc@example.com>"), "{raw}");
        assert!(raw.contains("multipart/alternative"));
        assert!(raw.contains("text/plain") && raw.contains("text/html"));
    }

    #[test]
    fn bad_addresses_are_permanent_errors() {
        let mut s = settings();
        s.from = "not an address".into();
        assert!(matches!(Mailer::new(s), Err(MailError::Invalid(_))));
        let m = Mailer::new(settings()).unwrap();
        let e = m
            .build(&Outgoing {
                to: "nope".into(),
                subject: "x".into(),
                text: "x".into(),
                html: None,
                message_id: None,
            })
            .unwrap_err();
        assert!(e.is_permanent());
    }
}
