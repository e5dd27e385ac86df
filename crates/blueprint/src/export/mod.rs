//! `gatehouse blueprint export`: the current configuration as a blueprint in
//! authentik's format.
//!
//! Secrets: client secrets are stored as keyed hashes and API tokens as
//! SHA-256, so neither can be recovered; the export references them as
//! `!Env NAME` (listed in [`Export::env`]) and applying it elsewhere needs
//! those variables set to the services' copies. `include_secrets` adds what
//! can be exported: users' password hashes (`password_hash`, argon2 PHC) and the
//! user attributes proxies send upstream as basic-auth passwords (otherwise
//! `!Env` references too).
//! Round trip: an export applied to an empty database and exported again
//! gives the same text.
//!
//! `directory` writes groups, users, bindings and tokens; `providers`
//! applications with their providers; `writer` the YAML.

mod directory;
mod providers;
mod writer;

use std::collections::BTreeMap;

use gatehouse_core::{Contents, Directory};
use uuid::Uuid;

use writer::{Y, s, write};

/// An export: the YAML and the environment variables it references.
#[derive(Debug, Clone)]
pub struct Export {
    pub yaml: String,
    /// `!Env` names the export references, with what each must hold.
    pub env: Vec<(String, String)>,
    /// Secrets that could not be exported.
    pub notes: Vec<String>,
}

/// An export being written: the directory's contents, sorted, and what has
/// been written so far.
struct Exporter {
    c: Contents,
    include_secrets: bool,
    group_names: BTreeMap<Uuid, String>,
    entries: Vec<Y>,
    env: Vec<(String, String)>,
    notes: Vec<String>,
}

impl Exporter {
    /// A secret the export references as `!Env var`, with what it must hold.
    fn needs_env(&mut self, var: &str, what: String) {
        self.env.push((var.to_string(), what));
    }
}

pub async fn export(dir: &Directory, include_secrets: bool) -> gatehouse_core::Result<Export> {
    let mut c = dir.contents().await?;
    c.users.sort_by(|a, b| a.username.cmp(&b.username));
    c.groups.sort_by(|a, b| a.name.cmp(&b.name));
    c.applications.sort_by(|a, b| a.slug.cmp(&b.slug));
    let mut x = Exporter {
        group_names: c.groups.iter().map(|g| (g.id, g.name.clone())).collect(),
        c,
        include_secrets,
        entries: Vec::new(),
        env: Vec::new(),
        notes: Vec::new(),
    };
    x.groups();
    x.users();
    x.applications();
    x.bindings();
    x.tokens();
    let doc = Y::Map(vec![
        ("version".into(), Y::Int(1)),
        ("metadata".into(), Y::Map(vec![("name".into(), s("gatehouse-export"))])),
        ("entries".into(), Y::List(x.entries)),
    ]);
    let mut yaml = String::from("# Exported by gatehouse blueprint export.\n");
    for (k, why) in &x.env {
        yaml.push_str(&format!("# needs {k}: {why}\n"));
    }
    write(&mut yaml, &doc, 0);
    Ok(Export {
        yaml,
        env: x.env,
        notes: x.notes,
    })
}
