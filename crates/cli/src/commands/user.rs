//! `gatehouse user …`

use std::io::{BufRead, IsTerminal};

use gatehouse_core::NewUser;

use crate::cli::{PasswordArgs, UserCmd};
use crate::context::Context;
use crate::failure::{CmdResult, Failure};
use crate::output::{Table, or_dash, print_json, yes_no};

pub async fn run(ctx: &Context, cmd: UserCmd) -> CmdResult {
    let dir = ctx.directory().await?;
    let audit = ctx.audit();
    match cmd {
        UserCmd::List => {
            let users = dir.users().list().await?;
            if ctx.json {
                return Ok(print_json(&users)?);
            }
            let mut t = Table::new(["USERNAME", "NAME", "EMAIL", "ACTIVE", "LAST LOGIN"]);
            for u in &users {
                t.row([
                    u.username.clone(),
                    or_dash(&u.name),
                    or_dash(&u.email),
                    yes_no(u.is_active).to_string(),
                    u.last_login.map_or("never".into(), |t| t.to_rfc3339()),
                ]);
            }
            t.print()?;
        }
        UserCmd::Show { username } => {
            let d = dir.users().detail(&username).await?;
            if ctx.json {
                return Ok(print_json(&d)?);
            }
            let mut t = Table::new(["FIELD", "VALUE"]);
            t.row(["username", &d.user.username]);
            t.row(["id".to_string(), d.user.id.to_string()]);
            t.row(["name".to_string(), or_dash(&d.user.name)]);
            t.row(["email".to_string(), or_dash(&d.user.email)]);
            t.row(["active", yes_no(d.user.is_active)]);
            t.row(["superuser", yes_no(d.is_superuser)]);
            t.row(["password".to_string(), password_state(d.user.password_hash.as_deref())]);
            t.row(["groups".to_string(), or_dash(&d.groups.join(", "))]);
            t.row(["inherited groups".to_string(), or_dash(&d.inherited_groups.join(", "))]);
            t.row(["created".to_string(), d.user.created_at.to_rfc3339()]);
            t.row([
                "last login".to_string(),
                d.user.last_login.map_or("never".into(), |t| t.to_rfc3339()),
            ]);
            t.print()?;
        }
        UserCmd::Create { username, email, name } => {
            let user = dir
                .users()
                .create(
                    &audit,
                    NewUser {
                        username,
                        email,
                        name: name.unwrap_or_default(),
                    },
                )
                .await?;
            if ctx.json {
                return Ok(print_json(&user)?);
            }
            println!("created user {} ({})", user.username, user.id);
        }
        UserCmd::Password(args) => set_password(ctx, &dir, &audit, args).await?,
        UserCmd::SetPasswordHash { username, hash } => {
            let hash = if hash == "-" { read_stdin_line()? } else { hash };
            dir.users().set_password_hash(&audit, &username, hash.trim()).await?;
            println!("password hash set for {username}");
        }
        UserCmd::Mfa(cmd) => return crate::commands::mfa::run(ctx, cmd).await,
        UserCmd::Delete { username, force } => {
            dir.users().delete(&audit, &username, force).await?;
            println!("deleted user {username}");
        }
        UserCmd::Disable { username } => {
            dir.users().set_active(&audit, &username, false).await?;
            println!("disabled user {username}");
        }
        UserCmd::Enable { username } => {
            dir.users().set_active(&audit, &username, true).await?;
            println!("enabled user {username}");
        }
    }
    Ok(())
}

/// "set (argon2id)", or for an imported hash its Django algorithm and when it goes.
fn password_state(hash: Option<&str>) -> String {
    match hash {
        None => "not set".into(),
        Some(h) if h.starts_with("$argon2id$") => "set (argon2id)".into(),
        Some(h) => format!(
            "set (imported {}; replaced by argon2id at the next sign-in)",
            h.split('$').next().unwrap_or_default()
        ),
    }
}

async fn set_password(
    ctx: &Context,
    dir: &gatehouse_core::Directory,
    audit: &gatehouse_core::Audit,
    args: PasswordArgs,
) -> CmdResult {
    if args.link {
        // mail and worker: mailed when email is configured and the user has an address.
        let has_email = dir.users().get(&args.username).await?.email.trim().contains('@');
        if !args.print && has_email && ctx.settings.mail_worker.email.is_some() {
            let minutes = args.minutes;
            let (job, user) = dir.jobs().queue_recovery_mail(audit, &args.username, minutes).await?;
            if ctx.json {
                return Ok(print_json(&serde_json::json!({"mailed_to": user.email, "job": job}))?);
            }
            println!(
                "queued a one-time link (valid {minutes} minutes) to {} as job {job}",
                user.email
            );
            return Ok(());
        }
        let (key, record) = dir.recovery().create_key(audit, &args.username, args.minutes).await?;
        // MFA: an administrator's link lets its user enrol a first authenticator.
        dir.mfa()
            .hold_enrolment_for_link(record.user_id, &key, record.expires_at)
            .await?;
        let link = crate::commands::recovery::link(ctx, &key);
        if ctx.json {
            return Ok(print_json(
                &serde_json::json!({"link": link, "expires": record.expires_at}),
            )?);
        }
        println!("{link}");
        eprintln!("one-time link for {}; valid until {}", args.username, record.expires_at);
        return Ok(());
    }
    // Fail on an unknown user before asking for a password.
    dir.users().get(&args.username).await?;
    let password = if args.generate {
        dir.users().generate_password()
    } else if args.stdin {
        read_stdin_line()?
    } else {
        prompt_twice()?
    };
    dir.users().set_password(audit, &args.username, &password).await?;
    if args.generate {
        if ctx.json {
            return Ok(print_json(
                &serde_json::json!({"username": args.username, "password": password}),
            )?);
        }
        println!("{password}");
    } else {
        eprintln!("password set for {}", args.username);
    }
    Ok(())
}

/// A password from the first line of standard input (line ending removed).
pub fn read_stdin_line() -> CmdResult<String> {
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    let pw = line.strip_suffix('\n').unwrap_or(&line);
    let pw = pw.strip_suffix('\r').unwrap_or(pw);
    if pw.is_empty() {
        return Err(Failure::input("no password on standard input"));
    }
    Ok(pw.to_string())
}

fn prompt_twice() -> CmdResult<String> {
    if !std::io::stdin().is_terminal() {
        return Err(Failure::input(
            "no terminal to prompt on; use --stdin, --generate or --link",
        ));
    }
    let first = rpassword::prompt_password("New password: ")?;
    let second = rpassword::prompt_password("Repeat password: ")?;
    if first != second {
        return Err(Failure::input("the passwords do not match; nothing changed"));
    }
    Ok(first)
}
