//! Mail jobs: `mail.send` (rendered content), `mail.recovery` (a one-time
//! password link, created when the job runs so that no token waits in the queue)
//! and `mail.mfa_enrolled` (the owner hears of every new authenticator).
//!
//! Sending is made idempotent by an effect record keyed `mail:<idempotency
//! key>`, written right after the SMTP server accepts the message, and checked
//! before sending. Crash windows:
//! - before SMTP accepts (the server has not taken the message): the re-run
//!   sends it, once;
//! - after SMTP accepts, before the effect record commits (a few milliseconds):
//!   the re-run sends it again, with the same Message-ID (derived from the
//!   key), so mail clients that deduplicate show one;
//! - after the effect record, before the job is marked done: the re-run finds
//!   the record and sends nothing.

use async_trait::async_trait;
use gatehouse_core::jobs::{Job, MailPayload, RecoveryMailPayload, kinds};
use gatehouse_mail::{MailError, Mailer, Outgoing, message_id_for, templates};

use crate::{JobContext, JobError, JobHandler};

/// What mail jobs need besides the directory.
#[derive(Clone, Debug)]
pub struct MailJobs {
    /// `None`: email is not configured; mail jobs wait (retry) and end dead.
    pub mailer: Option<Mailer>,
    /// Public base URL without trailing slash, for links.
    pub external_url: String,
    pub brand: String,
}

impl MailJobs {
    fn mailer(&self) -> Result<&Mailer, JobError> {
        self.mailer
            .as_ref()
            .ok_or_else(|| JobError::Retry("email is not configured (GATEHOUSE_EMAIL__HOST)".into()))
    }

    async fn deliver(&self, ctx: &JobContext, job: &Job, mut out: Outgoing) -> Result<(), JobError> {
        let mailer = self.mailer()?;
        out.message_id = Some(message_id_for(&job.idem_key, &mailer.from_domain()));
        let answer = mailer.send(&out).await.map_err(|e| match e {
            e @ (MailError::Invalid(_) | MailError::Rejected(_)) => JobError::Permanent(e.to_string()),
            e @ MailError::Transient(_) => JobError::Retry(e.to_string()),
        })?;
        // Right after acceptance: a few tries, since failing here means a
        // duplicate mail on the re-run.
        let key = effect_key(job);
        let mut tries = 0;
        loop {
            match ctx.directory.jobs().record_effect(&key, job.id, &answer).await {
                Ok(_) => break,
                Err(e) if tries < 5 => {
                    tries += 1;
                    tracing::warn!(job = %job.id, error = %e, "cannot record the sent mail yet; trying again");
                    tokio::time::sleep(std::time::Duration::from_millis(200 * tries)).await;
                }
                Err(e) => return Err(JobError::Retry(format!("mail sent but not recorded: {e}"))),
            }
        }
        tracing::info!(job = %job.id, kind = %job.kind, smtp = %answer, "mail accepted by the SMTP server");
        Ok(())
    }

    /// True when this job's mail was already accepted (an earlier run).
    async fn already_sent(&self, ctx: &JobContext, job: &Job) -> Result<bool, JobError> {
        Ok(ctx.directory.jobs().effect(&effect_key(job)).await?.is_some())
    }
}

fn effect_key(job: &Job) -> String {
    format!("mail:{}", job.idem_key)
}

/// `mail.send`.
pub struct SendMail(pub MailJobs);

#[async_trait]
impl JobHandler for SendMail {
    async fn run(&self, ctx: &JobContext, job: &Job) -> Result<(), JobError> {
        if self.0.already_sent(ctx, job).await? {
            return Ok(());
        }
        let p: MailPayload = serde_json::from_value(job.payload.clone())
            .map_err(|e| JobError::Permanent(format!("bad payload: {e}")))?;
        let out = Outgoing {
            to: p.to,
            subject: p.subject,
            text: p.text,
            html: p.html,
            message_id: None,
        };
        self.0.deliver(ctx, job, out).await
    }
}

/// `mail.recovery`.
pub struct RecoveryMail(pub MailJobs);

#[async_trait]
impl JobHandler for RecoveryMail {
    async fn run(&self, ctx: &JobContext, job: &Job) -> Result<(), JobError> {
        if self.0.already_sent(ctx, job).await? {
            return Ok(());
        }
        self.0.mailer()?;
        let p: RecoveryMailPayload = serde_json::from_value(job.payload.clone())
            .map_err(|e| JobError::Permanent(format!("bad payload: {e}")))?;
        // A fresh key per attempt: an attempt that failed before SMTP accepted
        // leaves an unused key that simply expires.
        let Some((key, user, expires)) = ctx
            .directory
            .jobs()
            .create_mailed_recovery_key(p.user_id, p.minutes, job.id)
            .await?
        else {
            tracing::info!(job = %job.id, "recovery mail not sent: the user is gone, disabled or has no email");
            return Ok(());
        };
        // An administrator's link lets its user enrol a first authenticator once used.
        if p.reason == "admin" {
            ctx.directory
                .mfa()
                .hold_enrolment_for_link(user.id, &key, expires)
                .await?;
        }
        let link = format!("{}/recovery/use-token/{key}/", self.0.external_url);
        let r = templates::recovery(&self.0.brand, &user.display_name(), &user.username, &link, p.minutes)
            .map_err(|e| JobError::Permanent(format!("template: {e}")))?;
        let to = gatehouse_mail::recipient(&user.name, &user.email);
        let out = Outgoing {
            to,
            subject: r.subject,
            text: r.text,
            html: Some(r.html),
            message_id: None,
        };
        self.0.deliver(ctx, job, out).await
    }
}

/// `mail.mfa_enrolled`.
pub struct EnrolledMail(pub MailJobs);

#[async_trait]
impl JobHandler for EnrolledMail {
    async fn run(&self, ctx: &JobContext, job: &Job) -> Result<(), JobError> {
        if self.0.already_sent(ctx, job).await? {
            return Ok(());
        }
        self.0.mailer()?;
        let p: gatehouse_core::mfa::enrolment::EnrolledMail = serde_json::from_value(job.payload.clone())
            .map_err(|e| JobError::Permanent(format!("bad payload: {e}")))?;
        let Some(user) = ctx.directory.users().by_id(p.user_id).await? else {
            return Ok(());
        };
        if user.email.trim().is_empty() {
            return Ok(());
        }
        let what = match gatehouse_core::mfa::AuthenticatorKind::parse(&p.kind) {
            Some(gatehouse_core::mfa::AuthenticatorKind::Webauthn) => "a passkey or security key",
            _ => "an authenticator app",
        };
        let when = gatehouse_core::Timestamp(p.at).to_rfc3339();
        let security_url = format!("{}/if/user/security/", self.0.external_url);
        let r = templates::mfa_enrolled(
            &self.0.brand,
            &templates::Enrolled {
                name: &user.display_name(),
                username: &user.username,
                what,
                label: &p.name,
                when: &when,
                ip: p.client_ip.as_deref(),
                security_url: &security_url,
            },
        )
        .map_err(|e| JobError::Permanent(format!("template: {e}")))?;
        let out = Outgoing {
            to: gatehouse_mail::recipient(&user.name, &user.email),
            subject: r.subject,
            text: r.text,
            html: Some(r.html),
            message_id: None,
        };
        self.0.deliver(ctx, job, out).await
    }
}

/// Registers the mail job kinds.
pub fn register(registry: &mut crate::Registry, jobs: MailJobs) {
    registry.register(kinds::SEND_MAIL, std::sync::Arc::new(SendMail(jobs.clone())));
    registry.register(
        gatehouse_core::mfa::enrolment::ENROLLED_MAIL,
        std::sync::Arc::new(EnrolledMail(jobs.clone())),
    );
    registry.register(kinds::RECOVERY_MAIL, std::sync::Arc::new(RecoveryMail(jobs)));
}
