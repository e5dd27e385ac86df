//! `gatehouse invite create|list|delete`: invitation links that let a person
//! create their own account (`/if/flow/default-enrollment-flow/?itoken=<id>`),
//! printed, or mailed through the worker with `--email`.

use clap::Subcommand;
use gatehouse_core::clock::parse_age;
use gatehouse_core::invitations::{Invitation, NewInvitation, fixed_data};
use gatehouse_core::jobs::{MailPayload, NewJob, kinds};
use gatehouse_mail::{Mailer, Outgoing, templates};
use serde_json::{Value, json};

use crate::context::Context;
use crate::failure::{CmdResult, Failure};
use crate::output::{Table, or_dash, print_json, yes_no};

#[derive(Debug, Subcommand)]
pub enum InviteCmd {
    /// Create an invitation and print its link (and mail it with --email).
    Create {
        /// A group the new user joins (repeatable).
        #[arg(long = "group", value_name = "GROUP")]
        groups: Vec<String>,
        /// Validity: an age like 12h, 7d or 2w; `never` for no expiry.
        #[arg(long, default_value = "7d")]
        expires: String,
        /// Mail the link to this address (which becomes the account's email).
        #[arg(long)]
        email: Option<String>,
        /// Fix the username: the person cannot choose another.
        #[arg(long)]
        username: Option<String>,
        /// Fix the display name.
        #[arg(long)]
        name: Option<String>,
        /// The link works once (the default).
        #[arg(long, overrides_with = "multi_use")]
        single_use: bool,
        /// The link works until it expires, for any number of people.
        #[arg(long, overrides_with = "single_use")]
        multi_use: bool,
        /// The invitation's name (a slug); made up when left out.
        #[arg(long = "invitation-name", value_name = "SLUG")]
        invitation_name: Option<String>,
    },
    /// List invitations with their state.
    List,
    /// Delete an invitation (by id or name): its link stops working.
    Delete { invitation: String },
}

/// The public link of an invitation.
pub fn link(ctx: &Context, invitation: &Invitation) -> String {
    invitation.link(&ctx.settings.external_url)
}

pub async fn run(ctx: &Context, cmd: InviteCmd) -> CmdResult {
    match cmd {
        InviteCmd::Create {
            groups,
            expires,
            email,
            username,
            name,
            single_use: _,
            multi_use,
            invitation_name,
        } => {
            let fixed = fixed_data(username.as_deref(), email.as_deref(), name.as_deref(), &groups);
            let new = NewInvitation {
                name: invitation_name.unwrap_or_default(),
                expires: None,
                single_use: !multi_use,
                fixed_data: fixed,
                flow: String::new(),
            };
            create(ctx, new, &expires, email.as_deref()).await
        }
        InviteCmd::List => list(ctx).await,
        InviteCmd::Delete { invitation } => {
            let dir = ctx.directory().await?;
            let gone = dir.invitations().delete(&ctx.audit(), &invitation).await?;
            println!("deleted invitation {} ({})", gone.name, gone.id);
            Ok(())
        }
    }
}

async fn create(ctx: &Context, mut new: NewInvitation, expires: &str, email: Option<&str>) -> CmdResult {
    let dir = ctx.directory().await?;
    new.expires = match expires {
        "never" => None,
        age => {
            let secs = parse_age(age).filter(|s| *s > 0).ok_or_else(|| {
                Failure::input(format!("--expires '{age}' is not an age like 12h, 7d or 2w (or never)"))
            })?;
            Some(dir.now().plus_seconds(secs))
        }
    };
    // A mail that cannot go out is refused before anything is created.
    let mailer = match email {
        Some(to) => Some(mail_check(ctx, to)?),
        None => None,
    };
    let invitation = dir.invitations().create(&ctx.audit(), new).await?;
    let link = link(ctx, &invitation);
    let mut queued = None;
    if let (Some(to), Some(max_attempts)) = (email, mailer) {
        let until = invitation.expires.map(|t| t.to_rfc3339());
        let rendered = templates::invitation(&ctx.settings.branding_title, &link, until.as_deref())
            .map_err(|e| Failure::runtime(format!("template: {e}")))?;
        let payload = MailPayload {
            to: to.to_string(),
            subject: rendered.subject,
            text: rendered.text,
            html: Some(rendered.html),
        };
        let job = NewJob {
            max_attempts,
            ..NewJob::new(kinds::SEND_MAIL, json!(payload), dir.now())
        };
        queued = dir.jobs().enqueue(&job).await?;
    }
    if ctx.json {
        return Ok(print_json(
            &json!({"invitation": invitation, "link": link, "mail_job": queued}),
        )?);
    }
    println!("{link}");
    let until = invitation
        .expires
        .map_or("never expires".into(), |t| format!("valid until {t}"));
    let uses = if invitation.single_use {
        "single use"
    } else {
        "multi use"
    };
    eprintln!("invitation {} ({uses}, {until})", invitation.name);
    if let (Some(to), Some(job)) = (email, queued) {
        eprintln!("mail to {to} queued as job {job}");
    }
    Ok(())
}

/// Mail is configured and `to` is an address it can send to; returns the
/// job's attempt limit.
fn mail_check(ctx: &Context, to: &str) -> CmdResult<i64> {
    let settings = &ctx.settings.mail_worker;
    let Some(mail) = settings.email.clone() else {
        return Err(Failure::input(
            "--email needs mail: set GATEHOUSE_EMAIL__HOST (and __PORT, __FROM, …), or leave --email out and pass the link on yourself",
        ));
    };
    let mailer = Mailer::new(mail).map_err(|e| Failure::input(format!("configuration: {e}")))?;
    let probe = Outgoing {
        to: to.to_string(),
        subject: String::new(),
        text: String::new(),
        html: None,
        message_id: None,
    };
    mailer.build(&probe).map_err(|e| Failure::input(e.to_string()))?;
    Ok(settings.worker.max_attempts)
}

async fn list(ctx: &Context) -> CmdResult {
    let dir = ctx.directory().await?;
    let now = dir.now();
    let all = dir.invitations().list().await?;
    if ctx.json {
        let rows: Vec<Value> = all
            .iter()
            .map(|i| json!({"invitation": i, "state": i.state(now), "link": link(ctx, i)}))
            .collect();
        return Ok(print_json(&rows)?);
    }
    let mut t = Table::new([
        "NAME",
        "ID",
        "STATE",
        "SINGLE USE",
        "USES",
        "EXPIRES",
        "FIXED",
        "CREATED BY",
    ]);
    for i in &all {
        t.row([
            i.name.clone(),
            i.id.to_string(),
            format!("{:?}", i.state(now)).to_lowercase(),
            yes_no(i.single_use).to_string(),
            i.uses.to_string(),
            i.expires.map_or("never".into(), |t| t.to_rfc3339()),
            or_dash(&fixed_summary(&i.fixed_data)),
            i.created_by.clone(),
        ]);
    }
    t.print()?;
    Ok(())
}

fn fixed_summary(fixed: &Value) -> String {
    fixed
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().map_or_else(|| v.to_string(), str::to_string)))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_default()
}
