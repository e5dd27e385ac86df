//! `gatehouse access`: the user × application matrix. Written straight to a
//! buffered stdout: at 10,000 users × 200 applications it is two million cells.

use std::io::{self, BufWriter, Write};

use gatehouse_core::access::AccessMatrix;

use crate::cli::{AccessArgs, MatrixFormat};
use crate::context::Context;
use crate::failure::CmdResult;

pub async fn run(ctx: &Context, args: AccessArgs) -> CmdResult {
    let dir = ctx.directory().await?;
    let matrix = dir.access().matrix().await?;
    let format = if ctx.json { MatrixFormat::Json } else { args.format };
    let stdout = io::stdout();
    let mut out = BufWriter::with_capacity(1 << 16, stdout.lock());
    match format {
        MatrixFormat::Table => write_table(&mut out, &matrix)?,
        MatrixFormat::Csv => matrix.write_csv(&mut out)?,
        MatrixFormat::Json => write_json(&mut out, &matrix)?,
    }
    out.flush()?;
    Ok(())
}

fn write_table(out: &mut impl Write, m: &AccessMatrix) -> io::Result<()> {
    let user_w = m
        .rows
        .iter()
        .map(|r| r.username.chars().count())
        .max()
        .unwrap_or(0)
        .max(4);
    write!(out, "{:<user_w$}", "USER")?;
    for app in &m.applications {
        write!(out, "  {app}")?;
    }
    writeln!(out)?;
    for row in &m.rows {
        write!(out, "{:<user_w$}", row.username)?;
        for (app, allowed) in m.applications.iter().zip(&row.access) {
            let w = app.chars().count();
            write!(out, "  {:<w$}", if *allowed { "yes" } else { "-" })?;
        }
        if !row.is_active {
            write!(out, "  (disabled)")?;
        }
        writeln!(out)?;
    }
    Ok(())
}

fn write_json(out: &mut impl Write, m: &AccessMatrix) -> io::Result<()> {
    let users: Vec<serde_json::Value> = m
        .rows
        .iter()
        .map(|r| {
            let apps: Vec<&str> = m
                .applications
                .iter()
                .zip(&r.access)
                .filter(|(_, a)| **a)
                .map(|(s, _)| s.as_str())
                .collect();
            serde_json::json!({"username": r.username, "is_active": r.is_active, "applications": apps})
        })
        .collect();
    serde_json::to_writer(
        &mut *out,
        &serde_json::json!({"applications": m.applications, "users": users}),
    )?;
    writeln!(out)
}
