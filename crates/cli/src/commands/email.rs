//! `gatehouse email test ADDRESS…`: send a branded test mail now, through the
//! configured SMTP server, and say exactly what went wrong if it fails; or, with
//! `--queue`, hand it to the worker as a job.

use clap::Subcommand;
use gatehouse_core::jobs::{MailPayload, NewJob, kinds};
use gatehouse_mail::{Mailer, Outgoing, templates};

use crate::context::Context;
use crate::failure::{CmdResult, Failure};
use crate::output::print_json;

#[derive(Debug, Subcommand)]
pub enum EmailCmd {
    /// Send a test mail to ADDRESS (synchronously; exit 1 with the SMTP error on
    /// failure). With --queue, enqueue one mail job per address for the worker.
    Test {
        #[arg(required = true, value_name = "ADDRESS")]
        addresses: Vec<String>,
        /// Enqueue instead of sending (the worker sends, with retries).
        #[arg(long)]
        queue: bool,
    },
}

pub async fn run(ctx: &Context, cmd: EmailCmd) -> CmdResult {
    let EmailCmd::Test { addresses, queue } = cmd;
    let s = &ctx.settings;
    let Some(settings) = s.mail_worker.email.clone() else {
        return Err(Failure::input(
            "email is not configured: set GATEHOUSE_EMAIL__HOST (and __PORT, __FROM, …)",
        ));
    };
    let server = format!("{}:{}", settings.host, settings.port);
    let mailer = Mailer::new(settings).map_err(|e| Failure::input(format!("configuration: {e}")))?;
    let rendered =
        templates::test(&s.branding_title, &server).map_err(|e| Failure::runtime(format!("template: {e}")))?;
    for to in &addresses {
        let out = Outgoing {
            to: to.clone(),
            subject: rendered.subject.clone(),
            text: rendered.text.clone(),
            html: Some(rendered.html.clone()),
            message_id: None,
        };
        // Refuse a bad address before anything is sent or queued.
        mailer.build(&out).map_err(|e| Failure::input(e.to_string()))?;
    }
    if queue {
        let dir = ctx.directory().await?;
        let mut ids = Vec::new();
        for to in &addresses {
            let payload = MailPayload {
                to: to.clone(),
                subject: rendered.subject.clone(),
                text: rendered.text.clone(),
                html: Some(rendered.html.clone()),
            };
            let job = NewJob {
                max_attempts: s.mail_worker.worker.max_attempts,
                ..NewJob::new(kinds::SEND_MAIL, serde_json::json!(payload), dir.now())
            };
            if let Some(id) = dir.jobs().enqueue(&job).await? {
                ids.push(id);
            }
        }
        if ctx.json {
            return Ok(print_json(&serde_json::json!({"queued": ids}))?);
        }
        for (id, to) in ids.iter().zip(&addresses) {
            println!("queued test mail to {to} as job {id}");
        }
        return Ok(());
    }
    for to in &addresses {
        let out = Outgoing {
            to: to.clone(),
            subject: rendered.subject.clone(),
            text: rendered.text.clone(),
            html: Some(rendered.html.clone()),
            message_id: None,
        };
        let answer = mailer
            .send(&out)
            .await
            .map_err(|e| Failure::runtime(format!("test mail to {to} via {server}: {e}")))?;
        if ctx.json {
            print_json(&serde_json::json!({"to": to, "server": server, "response": answer}))?;
        } else {
            println!("sent test mail to {to} via {server}: {answer}");
        }
    }
    Ok(())
}
