//! Planning: a blueprint's entries run, in order, against a snapshot of the
//! directory held in memory; the difference between the snapshot and the
//! result is the plan: the steps apply writes in one transaction.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use crate::steps::{Op, Step};
use gatehouse_core::{Application, Directory, ProviderKind, Timestamp};
use gatehouse_oidc::config::OidcConfig;
use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::error::{At, BlueprintError, suggest};
use crate::eval::{self, Scope};
use crate::models::{self, Attrs, Cx};
use crate::state::{ProviderDraft, State};
use crate::yaml::{self, Node, Yaml};

/// A blueprint file, read and parsed (not yet evaluated).
#[derive(Debug, Clone)]
pub struct Source {
    /// How errors name the file.
    pub path: String,
    pub base_dir: PathBuf,
    pub text: String,
    pub hash: String,
}

impl Source {
    pub fn from_text(path: &str, text: &str) -> Source {
        Source {
            path: path.to_string(),
            base_dir: Path::new(path).parent().map(Path::to_path_buf).unwrap_or_default(),
            text: text.to_string(),
            hash: gatehouse_crypto::sha256_hex(text.as_bytes()),
        }
    }

    pub fn read(path: &Path) -> Result<Source, BlueprintError> {
        let text = std::fs::read_to_string(path).map_err(|e| BlueprintError {
            file: path.display().to_string(),
            line: 0,
            col: 0,
            entry: None,
            message: format!("cannot read: {e}"),
            hint: None,
        })?;
        Ok(Source::from_text(&path.display().to_string(), &text))
    }

    /// A file, or every `*.yaml`/`*.yml` file of a directory (sorted, recursively).
    pub fn read_all(path: &Path) -> Result<Vec<Source>, BlueprintError> {
        if !path.is_dir() {
            return Ok(vec![Source::read(path)?]);
        }
        let mut files = Vec::new();
        collect(path, &mut files).map_err(|e| BlueprintError {
            file: path.display().to_string(),
            line: 0,
            col: 0,
            entry: None,
            message: format!("cannot read the directory: {e}"),
            hint: None,
        })?;
        files.sort();
        files.iter().map(|f| Source::read(f)).collect()
    }
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for e in std::fs::read_dir(dir)? {
        let p = e?.path();
        if p.is_dir() {
            collect(&p, out)?;
        } else if p.extension().is_some_and(|x| x == "yaml" || x == "yml") {
            out.push(p);
        }
    }
    Ok(())
}

/// Options of plan and apply.
pub struct Options<'a> {
    /// Unsupported models and fields become warnings (and are skipped).
    pub allow_unsupported: bool,
    /// Extra context (`--context k=v`; the bootstrap's settings).
    pub context: Map<String, Value>,
    pub env: &'a (dyn Fn(&str) -> Option<String> + Sync),
}

pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// `!Env` lookups: the process environment, then an env file (Gatehouse's
/// `.env`, whose settings the server reads without exporting them).
#[derive(Debug, Clone, Default)]
pub struct EnvLookup {
    file: std::collections::BTreeMap<String, String>,
}

impl EnvLookup {
    pub fn with_file(path: Option<&Path>) -> EnvLookup {
        EnvLookup {
            file: path.and_then(|p| crate::sso::envfile::read(p).ok()).unwrap_or_default(),
        }
    }

    pub fn get(&self, name: &str) -> Option<String> {
        std::env::var(name).ok().or_else(|| self.file.get(name).cloned())
    }
}

impl Default for Options<'_> {
    fn default() -> Self {
        Options {
            allow_unsupported: false,
            context: Map::new(),
            env: &process_env,
        }
    }
}

/// One change, for people (`blueprint plan`).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Change {
    /// `create`, `update` or `delete`.
    pub action: &'static str,
    pub model: &'static str,
    pub name: String,
    /// Field by field (`update`), secrets masked.
    pub fields: Vec<FieldChange>,
    /// The blueprint entry responsible.
    pub origin: String,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct FieldChange {
    pub field: String,
    pub from: Value,
    pub to: Value,
}

/// The outcome of planning one or more blueprint files.
pub struct Plan {
    pub name: String,
    pub sources: Vec<(String, String, String)>,
    pub before: State,
    pub after: State,
    pub warnings: Vec<String>,
    pub notes: Vec<String>,
    /// object key → entry label, for errors and the plan's `origin`.
    pub origins: HashMap<String, String>,
    pub now: Timestamp,
}

fn entry_label(file: &str, n: usize, model: &str, node: &Node) -> String {
    format!("{file}:{}: entry {n} ({model})", node.line)
}

/// Plans `sources` in order against the current directory.
pub async fn plan(dir: &Directory, sources: &[Source], opts: &Options<'_>) -> Result<Plan, BlueprintError> {
    let before = dir.contents().await.map(State::load).map_err(|e| BlueprintError {
        file: sources.first().map(|s| s.path.clone()).unwrap_or_default(),
        line: 0,
        col: 0,
        entry: None,
        message: format!("cannot read the directory: {e}"),
        hint: None,
    })?;
    plan_on(before, sources, opts, dir.now())
}

/// Plans against a given state (no I/O but `!File`).
pub fn plan_on(before: State, sources: &[Source], opts: &Options<'_>, now: Timestamp) -> Result<Plan, BlueprintError> {
    let mut st = before.clone();
    let mut warnings = Vec::new();
    let mut notes = Vec::new();
    let mut origins = HashMap::new();
    let mut names = Vec::new();
    for src in sources {
        let name = run_file(src, opts, &mut st, now, &mut warnings, &mut notes, &mut origins)?;
        names.push(name);
    }
    // Providers no application uses cannot be stored.
    for p in st.providers.iter().filter(|p| p.live) {
        if st.app_of_provider(p.id).is_none() && !before.providers.iter().any(|b| b.id == p.id) {
            let origin = origins.get(&format!("provider:{}", p.id)).cloned().unwrap_or_default();
            let msg = format!(
                "{origin}: provider '{}' is not used by any application; Gatehouse stores a provider with its application",
                p.name
            );
            if opts.allow_unsupported {
                warnings.push(msg);
            } else {
                return Err(BlueprintError {
                    file: origin.split(':').next().unwrap_or_default().to_string(),
                    line: origin.split(':').nth(1).and_then(|l| l.parse().ok()).unwrap_or(0),
                    col: 1,
                    entry: None,
                    message: format!("provider '{}' is not used by any application", p.name),
                    hint: Some("reference it from an application entry: provider: !KeyOf <its id>".into()),
                });
            }
        }
    }
    finalize_providers(&mut st);
    Ok(Plan {
        name: names.join(", "),
        sources: sources
            .iter()
            .zip(&names)
            .map(|(s, n)| (s.path.clone(), n.clone(), s.hash.clone()))
            .collect(),
        before,
        after: st,
        warnings,
        notes,
        origins,
        now,
    })
}

/// Copies each provider's settings into its application.
fn finalize_providers(st: &mut State) {
    for i in 0..st.apps.len() {
        if !st.apps[i].live || st.apps[i].foreign_provider {
            continue;
        }
        let Some(pid) = st.apps[i].provider else {
            st.apps[i].app.provider = None;
            st.apps[i].app.provider_key = None;
            st.apps[i].app.provider_config = json!({});
            continue;
        };
        let Some(p) = st.providers.iter().find(|p| p.id == pid) else {
            continue;
        };
        let app = &mut st.apps[i].app;
        match &p.draft {
            ProviderDraft::Oidc { cfg, .. } => {
                app.provider = Some(ProviderKind::Oidc);
                app.provider_key = Some(cfg.client_id.clone());
                app.provider_config = cfg.to_value();
            }
            ProviderDraft::Proxy(c) => {
                app.provider = Some(ProviderKind::Proxy);
                if let Ok(spec) = c.provider_spec() {
                    app.provider_key = spec.key;
                    app.provider_config = spec.config;
                }
                if app.launch_url.is_none() && c.mode == gatehouse_proxy::ProxyMode::ForwardSingle {
                    app.launch_url = Some(format!("{}/", c.external_host));
                }
            }
            ProviderDraft::Saml(c) => {
                app.provider = Some(ProviderKind::Saml);
                app.provider_key = Some(c.audience.clone());
                app.provider_config = serde_json::to_value(c).unwrap_or_else(|_| json!({}));
            }
            ProviderDraft::Ldap(c) => {
                app.provider = Some(ProviderKind::Ldap);
                app.provider_key = c.provider_key().ok();
                app.provider_config = c.to_value();
            }
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn run_file(
    src: &Source,
    opts: &Options<'_>,
    st: &mut State,
    now: Timestamp,
    warnings: &mut Vec<String>,
    notes: &mut Vec<String>,
    origins: &mut HashMap<String, String>,
) -> Result<String, BlueprintError> {
    let file = src.path.as_str();
    let doc = yaml::parse(&src.text).map_err(|e| BlueprintError {
        file: file.to_string(),
        line: e.line,
        col: e.col,
        entry: None,
        message: format!("not valid YAML: {}", e.message),
        hint: None,
    })?;
    let top = |msg: &str, node: &Node| At::new(node, msg).in_file(file, None);
    if !matches!(doc.value, Yaml::Map(_)) {
        return Err(top("a blueprint is a mapping with version, metadata and entries", &doc));
    }
    match doc.get("version").map(|v| &v.value) {
        Some(Yaml::Int(1)) => {}
        _ => return Err(top("version: 1 is required", doc.get("version").unwrap_or(&doc))),
    }
    for (k, _) in match &doc.value {
        Yaml::Map(p) => p.as_slice(),
        _ => &[],
    } {
        let key = k.as_str().unwrap_or_default();
        if !["version", "metadata", "context", "entries"].contains(&key) {
            return Err(top(&format!("unknown top-level key '{key}'"), k));
        }
    }
    let name = doc
        .get("metadata")
        .and_then(|m| m.get("name"))
        .and_then(Node::as_str)
        .unwrap_or(file)
        .to_string();
    // Context: the blueprint's defaults, overridden by the caller's.
    let mut context = Map::new();
    let no_ids = HashMap::new();
    let no_find = |_: &str, _: &[(String, Value)], n: &Node| -> Result<Value, At> {
        Err(At::new(n, "!Find cannot be used in context"))
    };
    if let Some(c) = doc.get("context") {
        let scope = Scope {
            base_dir: &src.base_dir,
            context: &opts.context,
            env: opts.env,
            ids: &no_ids,
            find: &no_find,
        };
        match eval::eval(c, &scope).map_err(|e| e.in_file(file, None))? {
            Value::Object(m) => context = m,
            Value::Null => {}
            _ => return Err(top("context: expected a mapping", c)),
        }
    }
    for (k, v) in &opts.context {
        context.insert(k.clone(), v.clone());
    }
    let Some(entries) = doc.get("entries") else {
        return Ok(name);
    };
    let Yaml::Seq(entries) = &entries.value else {
        return Err(top("entries: expected a list", entries));
    };
    let mut ids: HashMap<String, Value> = HashMap::new();
    for (n, entry) in entries.iter().enumerate() {
        let n = n + 1;
        let model_name = entry.get("model").and_then(Node::as_str).unwrap_or("?").to_string();
        let label = entry_label(file, n, &model_name, entry);
        let here = |e: At| e.in_file(file, Some(format!("entry {n} ({model_name})")));
        let unsupported = |e: At, warnings: &mut Vec<String>| -> Result<(), BlueprintError> {
            let err = here(e);
            if opts.allow_unsupported {
                warnings.push(err.to_string());
                Ok(())
            } else {
                Err(err)
            }
        };
        if !matches!(entry.value, Yaml::Map(_)) {
            return Err(here(At::new(
                entry,
                "an entry is a mapping with model, identifiers, attrs",
            )));
        }
        for (k, _) in match &entry.value {
            Yaml::Map(p) => p.as_slice(),
            _ => &[],
        } {
            let key = k.as_str().unwrap_or_default();
            if ![
                "model",
                "state",
                "identifiers",
                "attrs",
                "id",
                "conditions",
                "permissions",
            ]
            .contains(&key)
            {
                return Err(here(At::new(k, format!("unknown entry key '{key}'"))));
            }
            if key == "permissions" {
                unsupported(
                    At::new(k, "permissions are not supported").hint("Gatehouse has no object permissions"),
                    warnings,
                )?;
            }
        }
        let Some(model_node) = entry.get("model") else {
            return Err(here(At::new(entry, "model is required")));
        };
        let model = match models::lookup(&model_name) {
            Some(m) => m,
            None => {
                let hint = models::UNSUPPORTED_MODELS
                    .iter()
                    .find(|(m, _)| *m == model_name)
                    .map(|(_, h)| h.to_string())
                    .or_else(|| suggest(&model_name, models::all_names()).map(|s| format!("did you mean {s}?")))
                    .unwrap_or_else(|| {
                        "supported: authentik_core.{user,group,application,token}, \
                         authentik_providers_oauth2.{oauth2provider,scopemapping}, \
                         authentik_providers_proxy.proxyprovider, authentik_providers_saml.samlprovider, \
                         authentik_providers_ldap.ldapprovider, \
                         authentik_policies.policybinding"
                            .into()
                    });
                let what = if models::UNSUPPORTED_MODELS.iter().any(|(m, _)| *m == model_name) {
                    "is not supported"
                } else {
                    "is unknown"
                };
                unsupported(
                    At::new(model_node, format!("model {model_name} {what}")).hint(hint),
                    warnings,
                )?;
                continue;
            }
        };
        let state = entry.get("state").and_then(Node::as_str).unwrap_or("present");
        if !["present", "created", "must_created", "absent"].contains(&state) {
            return Err(here(
                At::new(entry.get("state").unwrap_or(entry), format!("unknown state '{state}'"))
                    .hint("present, created, must_created or absent"),
            ));
        }
        // Evaluate conditions, identifiers and attrs.
        let st_ref: &State = st;
        let find = |m: &str, q: &[(String, Value)], node: &Node| -> Result<Value, At> {
            if let Some(v) = models::find_reference(m, q) {
                return Ok(v);
            }
            let Some(model) = models::lookup(m) else {
                return Err(At::new(node, format!("!Find: model {m} is not supported")));
            };
            let attrs = Attrs {
                values: q.iter().cloned().collect(),
                at: HashMap::new(),
                entry: node,
            };
            Ok(model.find(st_ref, &attrs)?.unwrap_or(Value::Null))
        };
        let scope = Scope {
            base_dir: &src.base_dir,
            context: &context,
            env: opts.env,
            ids: &ids,
            find: &find,
        };
        if let Some(c) = entry.get("conditions") {
            let Yaml::Seq(items) = &c.value else {
                return Err(here(At::new(c, "conditions: expected a list")));
            };
            let mut all = true;
            for item in items {
                all &= eval::truthy(&eval::eval(item, &scope).map_err(here)?);
            }
            if !all {
                continue;
            }
        }
        let mut merged = Map::new();
        let mut at: HashMap<String, &Node> = HashMap::new();
        let mut ident = Map::new();
        for section in ["identifiers", "attrs"] {
            let Some(sec) = entry.get(section) else { continue };
            if sec.is_null() {
                continue;
            }
            let Yaml::Map(pairs) = &sec.value else {
                return Err(here(At::new(sec, format!("{section}: expected a mapping"))));
            };
            for (k, v) in pairs {
                let key = k.as_str().unwrap_or_default().to_string();
                if key != "pk" && !model.fields().contains(&key.as_str()) {
                    let known = model.unsupported().iter().find(|(f, _)| *f == key);
                    let e = match known {
                        Some((_, why)) => At::new(k, format!("field {key} is not supported")).hint(*why),
                        None => {
                            let mut e = At::new(k, format!("unknown field {key} for {model_name}"));
                            if let Some(s) = suggest(&key, model.fields().iter().copied()) {
                                e = e.hint(format!("did you mean {s}?"));
                            } else {
                                e = e.hint(format!("fields: {}", model.fields().join(", ")));
                            }
                            e
                        }
                    };
                    unsupported(e, warnings)?;
                    continue;
                }
                let value = eval::eval(v, &scope).map_err(here)?;
                if section == "identifiers" {
                    ident.insert(key.clone(), value.clone());
                }
                at.insert(key.clone(), v);
                merged.insert(key, value);
            }
        }
        let mut query = merged.clone();
        for (k, v) in &ident {
            query.insert(k.clone(), v.clone());
        }
        let q = Attrs {
            values: query,
            at: at.clone(),
            entry,
        };
        let a = Attrs {
            values: merged,
            at,
            entry,
        };
        let existing = model.find(st, &q).map_err(here)?;
        let mut cx = Cx { st, now, notes };
        let pk = match (state, existing) {
            ("absent", Some(pk)) => {
                model.delete(&mut cx, &pk, &a).map_err(here)?;
                Some(pk)
            }
            ("absent", None) => None,
            ("must_created", Some(_)) => {
                return Err(here(
                    At::new(entry, "state must_created: the object already exists")
                        .hint("use state: created to leave an existing object alone"),
                ));
            }
            ("created", Some(pk)) => Some(pk),
            ("present", Some(pk)) => {
                model.update(&mut cx, &pk, &a).map_err(here)?;
                Some(pk)
            }
            (_, None) => Some(model.create(&mut cx, &a).map_err(here)?),
            (_, Some(pk)) => Some(pk),
        };
        if let Some(pk) = &pk {
            let key = match model.name() {
                "authentik_providers_oauth2.oauth2provider"
                | "authentik_providers_proxy.proxyprovider"
                | "authentik_providers_saml.samlprovider"
                | "authentik_providers_ldap.ldapprovider" => {
                    format!("provider:{}", pk.as_str().unwrap_or_default())
                }
                _ => pk.as_str().map(str::to_string).unwrap_or_else(|| pk.to_string()),
            };
            origins.entry(key).or_insert_with(|| label.clone());
        }
        if let Some(id) = entry.get("id").and_then(Node::as_str) {
            ids.insert(id.to_string(), pk.unwrap_or(Value::Null));
        }
    }
    Ok(name)
}

// ---- diff ------------------------------------------------------------------

fn fc(field: &str, from: impl Into<Value>, to: impl Into<Value>) -> FieldChange {
    FieldChange {
        field: field.into(),
        from: from.into(),
        to: to.into(),
    }
}

fn masked_config(app: &Application) -> Value {
    match app.provider {
        Some(ProviderKind::Oidc) => OidcConfig::from_value(&app.provider_config)
            .map(|c| c.shown())
            .unwrap_or(Value::Null),
        _ => app.provider_config.clone(),
    }
}

fn config_fields(before: &Application, after: &Application) -> Vec<FieldChange> {
    let mut out = Vec::new();
    if before.provider != after.provider {
        out.push(fc(
            "provider",
            before.provider.map(|p| p.as_str()),
            after.provider.map(|p| p.as_str()),
        ));
    }
    let (b, a) = (masked_config(before), masked_config(after));
    let empty = Map::new();
    let bm = b.as_object().unwrap_or(&empty);
    let am = a.as_object().unwrap_or(&empty);
    let mut keys: Vec<&String> = bm.keys().chain(am.keys()).collect();
    keys.sort();
    keys.dedup();
    for k in keys {
        let (x, y) = (
            bm.get(k).cloned().unwrap_or(Value::Null),
            am.get(k).cloned().unwrap_or(Value::Null),
        );
        if x != y {
            out.push(fc(k, x, y));
        }
    }
    out
}

/// Passwords and client secrets given in plain text, resolved by [`prepare`].
#[derive(Default)]
pub struct Secrets {
    /// user id → new hash (None: unchanged).
    pub passwords: HashMap<uuid::Uuid, Option<String>>,
    /// application id → new keyed hash (None: unchanged).
    pub client_secrets: HashMap<uuid::Uuid, Option<String>>,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Secrets")
            .field("passwords", &self.passwords.len())
            .field("client_secrets", &self.client_secrets.len())
            .finish()
    }
}

/// Compares plain-text secrets with what is stored and hashes the ones that
/// differ (`hash`: false for a plan, which only needs to know).
pub async fn prepare(dir: &Directory, plan: &Plan, hash: bool) -> gatehouse_core::Result<Secrets> {
    let mut out = Secrets::default();
    for u in plan.after.users.iter().filter(|u| u.live) {
        let Some(pw) = &u.password else { continue };
        let current = plan
            .before
            .user_id(u.user.id)
            .and_then(|i| plan.before.users[i].user.password_hash.clone());
        let same = match &current {
            Some(h) => dir.hasher().verify(pw, h).await.is_ok_and(|v| v.is_match()),
            None => false,
        };
        let new = if same {
            None
        } else if hash {
            Some(dir.users().hash_new_password(&u.user.username, pw).await?)
        } else {
            dir.password_policy().check(&u.user.username, pw)?;
            Some("(new)".into())
        };
        out.passwords.insert(u.user.id, new);
    }
    for p in plan.after.providers.iter().filter(|p| p.live) {
        let ProviderDraft::Oidc {
            secret: Some(secret), ..
        } = &p.draft
        else {
            continue;
        };
        let Some(ai) = plan.after.app_of_provider(p.id) else {
            continue;
        };
        let app_id = plan.after.apps[ai].app.id;
        let current = plan
            .before
            .app_id(app_id)
            .and_then(|i| OidcConfig::from_value(&plan.before.apps[i].app.provider_config).ok())
            .and_then(|c| c.client_secret_hash);
        let same = match &current {
            Some(h) => dir.oauth().client_secret_matches(secret, h).await?,
            None => false,
        };
        out.client_secrets.insert(
            app_id,
            if same {
                None
            } else {
                Some(dir.oauth().hash_client_secret(secret).await?)
            },
        );
    }
    Ok(out)
}

impl Plan {
    /// The steps, in an order the database accepts, with their changes for people.
    pub fn steps(&self, secrets: &Secrets) -> (Vec<Step>, Vec<Change>) {
        let (b, a) = (&self.before, &self.after);
        let mut steps = Vec::new();
        let mut changes = Vec::new();
        let origin = |key: &str| self.origins.get(key).cloned().unwrap_or_default();
        let mut push = |op: Op, ch: Change| {
            steps.push(Step {
                op,
                origin: ch.origin.clone(),
            });
            changes.push(ch);
        };
        let gname = |st: &State, id: uuid::Uuid| {
            st.group_by_id
                .get(&id)
                .map(|i| st.groups[*i].group.name.clone())
                .unwrap_or_default()
        };
        let uname = |st: &State, id: uuid::Uuid| {
            st.user_by_id
                .get(&id)
                .map(|i| st.users[*i].user.username.clone())
                .unwrap_or_default()
        };
        // Groups: created parents first.
        let mut created: HashSet<uuid::Uuid> = HashSet::new();
        let new_groups: Vec<_> = a
            .groups
            .iter()
            .filter(|g| g.live && b.group_id(g.group.id).is_none())
            .collect();
        let mut pending = new_groups.clone();
        while !pending.is_empty() {
            let before_len = pending.len();
            pending.retain(|g| {
                let ready = g
                    .group
                    .parent_id
                    .is_none_or(|p| b.group_id(p).is_some() || created.contains(&p));
                if ready {
                    created.insert(g.group.id);
                    let parent = g.group.parent_id.map(|p| gname(a, p));
                    let key = g.group.id.to_string();
                    let mut fields = vec![fc("is_superuser", Value::Null, g.group.is_superuser)];
                    if let Some(p) = &parent {
                        fields.push(fc("parent", Value::Null, p.as_str()));
                    }
                    push(
                        Op::CreateGroup { group: g.group.clone() },
                        Change {
                            action: "create",
                            model: "group",
                            name: g.group.name.clone(),
                            fields,
                            origin: origin(&key),
                        },
                    );
                }
                !ready
            });
            if pending.len() == before_len {
                break;
            }
        }
        for g in a.groups.iter().filter(|g| g.live) {
            let Some(bi) = b.group_id(g.group.id) else { continue };
            let old = &b.groups[bi].group;
            let mut f = Vec::new();
            if old.name != g.group.name {
                f.push(fc("name", old.name.as_str(), g.group.name.as_str()));
            }
            if old.is_superuser != g.group.is_superuser {
                f.push(fc("is_superuser", old.is_superuser, g.group.is_superuser));
            }
            if old.parent_id != g.group.parent_id {
                f.push(fc(
                    "parent",
                    old.parent_id.map(|p| gname(b, p)),
                    g.group.parent_id.map(|p| gname(a, p)),
                ));
            }
            if old.attributes != g.group.attributes {
                f.push(fc("attributes", old.attributes.clone(), g.group.attributes.clone()));
            }
            if !f.is_empty() {
                push(
                    Op::UpdateGroup {
                        group: g.group.clone(),
                        fields: f.iter().map(|x| x.field.clone()).collect(),
                    },
                    Change {
                        action: "update",
                        model: "group",
                        name: g.group.name.clone(),
                        fields: f,
                        origin: origin(&g.group.id.to_string()),
                    },
                );
            }
        }
        // Users.
        for u in a.users.iter().filter(|u| u.live) {
            let key = u.user.id.to_string();
            match b.user_id(u.user.id) {
                None => {
                    let mut user = u.user.clone();
                    let new_hash = secrets.passwords.get(&u.user.id).cloned().flatten();
                    let mut fields = vec![
                        fc("email", Value::Null, user.email.as_str()),
                        fc("name", Value::Null, user.name.as_str()),
                        fc("is_active", Value::Null, user.is_active),
                    ];
                    if user.password_hash.is_some() || new_hash.is_some() {
                        fields.push(fc("password", Value::Null, "(set)"));
                    }
                    if let Some(h) = new_hash {
                        user.password_hash = Some(h);
                        user.password_changed_at = Some(self.now);
                    } else if user.password_hash.is_some() {
                        user.password_changed_at = Some(self.now);
                    }
                    let mut groups: Vec<String> = a
                        .memberships
                        .range((user.id, uuid::Uuid::nil())..=(user.id, uuid::Uuid::max()))
                        .map(|(_, g)| gname(a, *g))
                        .collect();
                    groups.sort();
                    push(
                        Op::CreateUser { user, groups },
                        Change {
                            action: "create",
                            model: "user",
                            name: u.user.username.clone(),
                            fields,
                            origin: origin(&key),
                        },
                    );
                }
                Some(bi) => {
                    let old = &b.users[bi].user;
                    let mut f = Vec::new();
                    if old.username != u.user.username {
                        f.push(fc("username", old.username.as_str(), u.user.username.as_str()));
                    }
                    if old.email != u.user.email {
                        f.push(fc("email", old.email.as_str(), u.user.email.as_str()));
                    }
                    if old.name != u.user.name {
                        f.push(fc("name", old.name.as_str(), u.user.name.as_str()));
                    }
                    if old.is_active != u.user.is_active {
                        f.push(fc("is_active", old.is_active, u.user.is_active));
                    }
                    if old.attributes != u.user.attributes {
                        f.push(fc("attributes", old.attributes.clone(), u.user.attributes.clone()));
                    }
                    let hash_changed = old.password_hash != u.user.password_hash;
                    let mut user = u.user.clone();
                    user.password_hash = old.password_hash.clone();
                    if !f.is_empty() {
                        push(
                            Op::UpdateUser {
                                user,
                                fields: f.iter().map(|x| x.field.clone()).collect(),
                            },
                            Change {
                                action: "update",
                                model: "user",
                                name: u.user.username.clone(),
                                fields: f,
                                origin: origin(&key),
                            },
                        );
                    }
                    let new_hash = if hash_changed {
                        u.user.password_hash.clone()
                    } else {
                        secrets.passwords.get(&u.user.id).cloned().flatten()
                    };
                    if let Some(h) = new_hash {
                        push(
                            Op::SetPassword {
                                user_id: u.user.id,
                                hash: h,
                            },
                            Change {
                                action: "update",
                                model: "user",
                                name: u.user.username.clone(),
                                fields: vec![fc("password", "(hidden)", "(new)")],
                                origin: origin(&key),
                            },
                        );
                    }
                }
            }
        }
        for (uid, gid) in a.memberships.difference(&b.memberships) {
            push(
                Op::AddMembership {
                    user_id: *uid,
                    group_id: *gid,
                    username: uname(a, *uid),
                    group: gname(a, *gid),
                    announced: b.user_id(*uid).is_none(),
                },
                Change {
                    action: "create",
                    model: "membership",
                    name: format!("{} in {}", uname(a, *uid), gname(a, *gid)),
                    fields: vec![],
                    origin: origin(&uid.to_string()),
                },
            );
        }
        // Applications.
        for r in a.apps.iter().filter(|r| r.live) {
            let key = r.app.id.to_string();
            let mut app = r.app.clone();
            if let Some(Some(h)) = secrets.client_secrets.get(&app.id)
                && let Ok(mut cfg) = OidcConfig::from_value(&app.provider_config)
            {
                cfg.client_secret_hash = Some(h.clone());
                app.provider_config = cfg.to_value();
            }
            match b.app_id(r.app.id) {
                None => {
                    let mut fields = vec![
                        fc("name", Value::Null, app.name.as_str()),
                        fc("launch_url", Value::Null, app.launch_url.clone()),
                    ];
                    fields.extend(config_fields(
                        &Application {
                            provider: None,
                            provider_config: json!({}),
                            ..app.clone()
                        },
                        &app,
                    ));
                    push(
                        Op::CreateApplication {
                            shown: masked_config(&app),
                            app,
                        },
                        Change {
                            action: "create",
                            model: "application",
                            name: r.app.slug.clone(),
                            fields,
                            origin: origin(&key),
                        },
                    );
                }
                Some(bi) => {
                    let old = &b.apps[bi].app;
                    // An unchanged secret keeps its stored hash.
                    if let Some(None) = secrets.client_secrets.get(&app.id)
                        && let (Ok(mut cfg), Ok(oldc)) = (
                            OidcConfig::from_value(&app.provider_config),
                            OidcConfig::from_value(&old.provider_config),
                        )
                    {
                        cfg.client_secret_hash = oldc.client_secret_hash;
                        app.provider_config = cfg.to_value();
                    }
                    let mut f = Vec::new();
                    if old.slug != app.slug {
                        f.push(fc("slug", old.slug.as_str(), app.slug.as_str()));
                    }
                    if old.name != app.name {
                        f.push(fc("name", old.name.as_str(), app.name.as_str()));
                    }
                    if old.launch_url != app.launch_url {
                        f.push(fc("launch_url", old.launch_url.clone(), app.launch_url.clone()));
                    }
                    f.extend(config_fields(old, &app));
                    if let Some(Some(_)) = secrets.client_secrets.get(&app.id) {
                        f.retain(|x| x.field != "client_secret_hash");
                        f.push(fc("client_secret", "(hidden)", "(new)"));
                    }
                    if !f.is_empty() {
                        push(
                            Op::UpdateApplication {
                                shown: masked_config(&app),
                                app,
                            },
                            Change {
                                action: "update",
                                model: "application",
                                name: r.app.slug.clone(),
                                fields: f,
                                origin: origin(&key),
                            },
                        );
                    }
                }
            }
        }
        let slug = |st: &State, id: uuid::Uuid| {
            st.app_by_id
                .get(&id)
                .map(|i| st.apps[*i].app.slug.clone())
                .unwrap_or_default()
        };
        for (app_id, gid) in a.bindings.difference(&b.bindings) {
            push(
                Op::AddBinding {
                    app_id: *app_id,
                    group_id: *gid,
                    slug: slug(a, *app_id),
                    group: gname(a, *gid),
                },
                Change {
                    action: "create",
                    model: "binding",
                    name: format!("{} → {}", gname(a, *gid), slug(a, *app_id)),
                    fields: vec![],
                    origin: origin(&format!("{app_id}:{gid}")),
                },
            );
        }
        for t in a.tokens.iter().filter(|t| t.live) {
            let old = b.tokens.iter().find(|o| o.live && o.token.id == t.token.id);
            let changed = old.is_some_and(|o| {
                o.token.token_hash != t.token.token_hash
                    || o.token.user_id != t.token.user_id
                    || o.token.intent != t.token.intent
                    || o.token.expires_at != t.token.expires_at
            });
            if changed && let Some(o) = old {
                push(
                    Op::DeleteToken(o.token.clone()),
                    Change {
                        action: "delete",
                        model: "token",
                        name: o.token.identifier.clone(),
                        fields: vec![],
                        origin: origin(&t.token.id.to_string()),
                    },
                );
            }
            if old.is_none() || changed {
                push(
                    Op::CreateToken(t.token.clone()),
                    Change {
                        action: "create",
                        model: "token",
                        name: t.token.identifier.clone(),
                        fields: vec![
                            fc("user", Value::Null, uname(a, t.token.user_id)),
                            fc("key", Value::Null, "(set)"),
                        ],
                        origin: origin(&t.token.id.to_string()),
                    },
                );
            }
        }
        // Removals, dependents first.
        for t in b.tokens.iter().filter(|t| t.live) {
            if !a.tokens.iter().any(|x| x.live && x.token.id == t.token.id) {
                push(
                    Op::DeleteToken(t.token.clone()),
                    Change {
                        action: "delete",
                        model: "token",
                        name: t.token.identifier.clone(),
                        fields: vec![],
                        origin: origin(&t.token.id.to_string()),
                    },
                );
            }
        }
        for (app_id, gid) in b.bindings.difference(&a.bindings) {
            push(
                Op::RemoveBinding {
                    app_id: *app_id,
                    group_id: *gid,
                    slug: slug(b, *app_id),
                    group: gname(b, *gid),
                },
                Change {
                    action: "delete",
                    model: "binding",
                    name: format!("{} → {}", gname(b, *gid), slug(b, *app_id)),
                    fields: vec![],
                    origin: origin(&format!("{app_id}:{gid}")),
                },
            );
        }
        for (uid, gid) in b.memberships.difference(&a.memberships) {
            push(
                Op::RemoveMembership {
                    user_id: *uid,
                    group_id: *gid,
                    username: uname(b, *uid),
                    group: gname(b, *gid),
                },
                Change {
                    action: "delete",
                    model: "membership",
                    name: format!("{} in {}", uname(b, *uid), gname(b, *gid)),
                    fields: vec![],
                    origin: origin(&uid.to_string()),
                },
            );
        }
        for r in b.apps.iter().filter(|r| r.live) {
            if a.app_id(r.app.id).is_none() {
                push(
                    Op::DeleteApplication(r.app.clone()),
                    Change {
                        action: "delete",
                        model: "application",
                        name: r.app.slug.clone(),
                        fields: vec![],
                        origin: origin(&r.app.id.to_string()),
                    },
                );
            }
        }
        for u in b.users.iter().filter(|u| u.live) {
            if a.user_id(u.user.id).is_none() {
                push(
                    Op::DeleteUser(u.user.clone()),
                    Change {
                        action: "delete",
                        model: "user",
                        name: u.user.username.clone(),
                        fields: vec![],
                        origin: origin(&u.user.id.to_string()),
                    },
                );
            }
        }
        // Groups: children before parents.
        let mut gone: Vec<_> = b
            .groups
            .iter()
            .filter(|g| g.live && a.group_id(g.group.id).is_none())
            .collect();
        let depth = |g: &crate::state::GroupRec| {
            let mut d = 0;
            let mut cur = g.group.parent_id;
            while let Some(p) = cur {
                d += 1;
                cur = b.group_by_id.get(&p).and_then(|i| b.groups[*i].group.parent_id);
                if d > 100 {
                    break;
                }
            }
            d
        };
        gone.sort_by_key(|g| std::cmp::Reverse(depth(g)));
        for g in gone {
            push(
                Op::DeleteGroup(g.group.clone()),
                Change {
                    action: "delete",
                    model: "group",
                    name: g.group.name.clone(),
                    fields: vec![],
                    origin: origin(&g.group.id.to_string()),
                },
            );
        }
        (steps, changes)
    }
}
