//! Running one blueprint file against the plan's state: its header (version,
//! metadata, context), then each entry in order: its keys checked, its model
//! looked up, its conditions, identifiers and attrs evaluated, and its
//! `state` applied to the object the identifiers name.

use std::collections::HashMap;

use gatehouse_core::Timestamp;
use serde_json::{Map, Value};

use super::{Options, Source, providers};
use crate::error::{At, BlueprintError, suggest};
use crate::eval::{self, Scope};
use crate::models::{self, Attrs, Cx, Model};
use crate::state::State;
use crate::yaml::{self, Node, Yaml};

const TOP_LEVEL_KEYS: &[&str] = &["version", "metadata", "context", "entries"];
const ENTRY_KEYS: &[&str] = &[
    "model",
    "state",
    "identifiers",
    "attrs",
    "id",
    "conditions",
    "permissions",
];
const STATES: &[&str] = &["present", "created", "must_created", "absent"];

/// Warnings, and whether unsupported models and fields may be ones.
pub(super) struct Leniency {
    allow_unsupported: bool,
    pub warnings: Vec<String>,
}

impl Leniency {
    /// Something unsupported: a warning (and skipped) when allowed, else the error.
    fn tolerate(&mut self, err: BlueprintError) -> Result<(), BlueprintError> {
        if !self.allow_unsupported {
            return Err(err);
        }
        self.warnings.push(err.to_string());
        Ok(())
    }
}

/// What planning carries from entry to entry and from file to file.
pub(super) struct Planner<'a> {
    opts: &'a Options<'a>,
    now: Timestamp,
    pub st: State,
    pub lenient: Leniency,
    pub notes: Vec<String>,
    /// object key → the label of the entry that first named it.
    pub origins: HashMap<String, String>,
}

/// Where an entry is, for its errors and its label.
struct EntryAt<'f> {
    file: &'f str,
    n: usize,
    model: String,
}

impl EntryAt<'_> {
    fn err(&self, e: At) -> BlueprintError {
        e.in_file(self.file, Some(format!("entry {} ({})", self.n, self.model)))
    }

    fn label(&self, node: &Node) -> String {
        format!("{}:{}: entry {} ({})", self.file, node.line, self.n, self.model)
    }
}

/// An entry's identifiers and attrs, evaluated, with the node of each.
#[derive(Default)]
struct Fields<'e> {
    merged: Map<String, Value>,
    identifiers: Map<String, Value>,
    at: HashMap<String, &'e Node>,
}

impl<'e> Fields<'e> {
    /// The query (identifiers win over attrs) and the attrs (both, in order).
    fn into_attrs(self, entry: &'e Node) -> (Attrs<'e>, Attrs<'e>) {
        let mut query = self.merged.clone();
        for (k, v) in self.identifiers {
            query.insert(k, v);
        }
        let q = Attrs {
            values: query,
            at: self.at.clone(),
            entry,
        };
        let a = Attrs {
            values: self.merged,
            at: self.at,
            entry,
        };
        (q, a)
    }
}

impl<'a> Planner<'a> {
    pub(super) fn new(st: State, opts: &'a Options<'a>, now: Timestamp) -> Planner<'a> {
        Planner {
            opts,
            now,
            st,
            lenient: Leniency {
                allow_unsupported: opts.allow_unsupported,
                warnings: Vec::new(),
            },
            notes: Vec::new(),
            origins: HashMap::new(),
        }
    }

    /// Runs one file's entries; returns the blueprint's name.
    pub(super) fn run_file(&mut self, src: &Source) -> Result<String, BlueprintError> {
        let file = src.path.as_str();
        let doc = read_document(src)?;
        let name = doc
            .get("metadata")
            .and_then(|m| m.get("name"))
            .and_then(Node::as_str)
            .unwrap_or(file)
            .to_string();
        let context = self.context(src, &doc)?;
        let Some(entries) = doc.get("entries") else {
            return Ok(name);
        };
        let Yaml::Seq(entries) = &entries.value else {
            return Err(At::new(entries, "entries: expected a list").in_file(file, None));
        };
        let mut ids: HashMap<String, Value> = HashMap::new();
        for (n, entry) in entries.iter().enumerate() {
            self.run_entry(src, &context, &mut ids, n + 1, entry)?;
        }
        Ok(name)
    }

    /// The blueprint's context, overridden by the caller's.
    fn context(&self, src: &Source, doc: &Node) -> Result<Map<String, Value>, BlueprintError> {
        let file = src.path.as_str();
        let mut context = Map::new();
        if let Some(c) = doc.get("context") {
            let no_ids = HashMap::new();
            let no_find = |_: &str, _: &[(String, Value)], n: &Node| -> Result<Value, At> {
                Err(At::new(n, "!Find cannot be used in context"))
            };
            let scope = Scope {
                base_dir: src.base_dir.as_deref(),
                context: &self.opts.context,
                env: self.opts.env,
                ids: &no_ids,
                find: &no_find,
            };
            match eval::eval(c, &scope).map_err(|e| e.in_file(file, None))? {
                Value::Object(m) => context = m,
                Value::Null => {}
                _ => return Err(At::new(c, "context: expected a mapping").in_file(file, None)),
            }
        }
        for (k, v) in &self.opts.context {
            context.insert(k.clone(), v.clone());
        }
        Ok(context)
    }

    fn run_entry(
        &mut self,
        src: &Source,
        context: &Map<String, Value>,
        ids: &mut HashMap<String, Value>,
        n: usize,
        entry: &Node,
    ) -> Result<(), BlueprintError> {
        let at = EntryAt {
            file: &src.path,
            n,
            model: entry.get("model").and_then(Node::as_str).unwrap_or("?").to_string(),
        };
        self.check_entry_keys(entry, &at)?;
        let Some(model) = self.model(entry, &at)? else {
            return Ok(());
        };
        let state = entry_state(entry, &at)?;
        let Some(fields) = self.evaluate(src, context, ids, entry, model, &at)? else {
            return Ok(());
        };
        let pk = self.apply_state(model, state, entry, fields, &at)?;
        if let Some(pk) = &pk {
            self.origins
                .entry(origin_key(model, pk))
                .or_insert_with(|| at.label(entry));
        }
        if let Some(id) = entry.get("id").and_then(Node::as_str) {
            ids.insert(id.to_string(), pk.unwrap_or(Value::Null));
        }
        Ok(())
    }

    fn check_entry_keys(&mut self, entry: &Node, at: &EntryAt<'_>) -> Result<(), BlueprintError> {
        let Yaml::Map(pairs) = &entry.value else {
            return Err(at.err(At::new(entry, "an entry is a mapping with model, identifiers, attrs")));
        };
        for (k, _) in pairs {
            let key = k.as_str().unwrap_or_default();
            if !ENTRY_KEYS.contains(&key) {
                return Err(at.err(At::new(k, format!("unknown entry key '{key}'"))));
            }
            if key == "permissions" {
                let e = At::new(k, "permissions are not supported").hint("Gatehouse has no object permissions");
                self.lenient.tolerate(at.err(e))?;
            }
        }
        Ok(())
    }

    /// The entry's model; None when it is unsupported and that is tolerated.
    fn model(&mut self, entry: &Node, at: &EntryAt<'_>) -> Result<Option<&'static dyn Model>, BlueprintError> {
        let Some(model_node) = entry.get("model") else {
            return Err(at.err(At::new(entry, "model is required")));
        };
        if let Some(m) = models::lookup(&at.model) {
            return Ok(Some(m));
        }
        self.lenient.tolerate(at.err(unknown_model(model_node, &at.model)))?;
        Ok(None)
    }

    /// Conditions, then identifiers and attrs; None when a condition is false.
    fn evaluate<'e>(
        &mut self,
        src: &Source,
        context: &Map<String, Value>,
        ids: &HashMap<String, Value>,
        entry: &'e Node,
        model: &dyn Model,
        at: &EntryAt<'_>,
    ) -> Result<Option<Fields<'e>>, BlueprintError> {
        let st = &self.st;
        let find = |m: &str, q: &[(String, Value)], node: &Node| find_in(st, m, q, node);
        let scope = Scope {
            base_dir: src.base_dir.as_deref(),
            context,
            env: self.opts.env,
            ids,
            find: &find,
        };
        if !conditions_hold(entry, &scope, at)? {
            return Ok(None);
        }
        let mut fields = Fields::default();
        for section in ["identifiers", "attrs"] {
            let Some(sec) = entry.get(section).filter(|s| !s.is_null()) else {
                continue;
            };
            let Yaml::Map(pairs) = &sec.value else {
                return Err(at.err(At::new(sec, format!("{section}: expected a mapping"))));
            };
            for (k, v) in pairs {
                let key = k.as_str().unwrap_or_default().to_string();
                if key != "pk" && !model.fields().contains(&key.as_str()) {
                    self.lenient
                        .tolerate(at.err(unknown_field(model, k, &key, &at.model)))?;
                    continue;
                }
                let value = eval::eval(v, &scope).map_err(|e| at.err(e))?;
                if section == "identifiers" {
                    fields.identifiers.insert(key.clone(), value.clone());
                }
                fields.at.insert(key.clone(), v);
                fields.merged.insert(key, value);
            }
        }
        Ok(Some(fields))
    }

    /// Applies the entry's `state` to the object its identifiers name; that
    /// object's pk (None: absent and already gone).
    fn apply_state(
        &mut self,
        model: &dyn Model,
        state: &str,
        entry: &Node,
        fields: Fields<'_>,
        at: &EntryAt<'_>,
    ) -> Result<Option<Value>, BlueprintError> {
        let (query, attrs) = fields.into_attrs(entry);
        let here = |e: At| at.err(e);
        let existing = model.find(&self.st, &query).map_err(here)?;
        let mut cx = Cx {
            st: &mut self.st,
            now: self.now,
            notes: &mut self.notes,
        };
        Ok(match (state, existing) {
            ("absent", Some(pk)) => {
                model.delete(&mut cx, &pk, &attrs).map_err(here)?;
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
                model.update(&mut cx, &pk, &attrs).map_err(here)?;
                Some(pk)
            }
            (_, None) => Some(model.create(&mut cx, &attrs).map_err(here)?),
            (_, Some(pk)) => Some(pk),
        })
    }
}

/// The parsed file, its header checked (a mapping, version 1, known keys).
fn read_document(src: &Source) -> Result<Node, BlueprintError> {
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
    let Yaml::Map(pairs) = &doc.value else {
        return Err(top("a blueprint is a mapping with version, metadata and entries", &doc));
    };
    match doc.get("version").map(|v| &v.value) {
        Some(Yaml::Int(1)) => {}
        _ => return Err(top("version: 1 is required", doc.get("version").unwrap_or(&doc))),
    }
    for (k, _) in pairs {
        let key = k.as_str().unwrap_or_default();
        if !TOP_LEVEL_KEYS.contains(&key) {
            return Err(top(&format!("unknown top-level key '{key}'"), k));
        }
    }
    Ok(doc)
}

fn entry_state<'e>(entry: &'e Node, at: &EntryAt<'_>) -> Result<&'e str, BlueprintError> {
    let state = entry.get("state").and_then(Node::as_str).unwrap_or("present");
    if !STATES.contains(&state) {
        return Err(at.err(
            At::new(entry.get("state").unwrap_or(entry), format!("unknown state '{state}'"))
                .hint("present, created, must_created or absent"),
        ));
    }
    Ok(state)
}

/// Whether every condition is true (all are evaluated, as authentik does).
fn conditions_hold(entry: &Node, scope: &Scope<'_>, at: &EntryAt<'_>) -> Result<bool, BlueprintError> {
    let Some(c) = entry.get("conditions") else {
        return Ok(true);
    };
    let Yaml::Seq(items) = &c.value else {
        return Err(at.err(At::new(c, "conditions: expected a list")));
    };
    let mut all = true;
    for item in items {
        all &= eval::truthy(&eval::eval(item, scope).map_err(|e| at.err(e))?);
    }
    Ok(all)
}

/// `!Find`: a reference to something Gatehouse has no object for, or the pk
/// of an object of the state (null when there is none).
fn find_in(st: &State, model: &str, q: &[(String, Value)], node: &Node) -> Result<Value, At> {
    if let Some(v) = models::find_reference(model, q) {
        return Ok(v);
    }
    let Some(m) = models::lookup(model) else {
        return Err(At::new(node, format!("!Find: model {model} is not supported")));
    };
    let attrs = Attrs {
        values: q.iter().cloned().collect(),
        at: HashMap::new(),
        entry: node,
    };
    Ok(m.find(st, &attrs)?.unwrap_or(Value::Null))
}

fn unknown_model(node: &Node, name: &str) -> At {
    let hint = models::UNSUPPORTED_MODELS
        .iter()
        .find(|(m, _)| *m == name)
        .map(|(_, h)| h.to_string())
        .or_else(|| suggest(name, models::all_names()).map(|s| format!("did you mean {s}?")))
        .unwrap_or_else(|| {
            "supported: authentik_core.{user,group,application,token}, \
             authentik_providers_oauth2.{oauth2provider,scopemapping}, \
             authentik_providers_proxy.proxyprovider, authentik_providers_saml.samlprovider, \
             authentik_providers_ldap.ldapprovider, \
             authentik_policies.policybinding"
                .into()
        });
    let what = if models::UNSUPPORTED_MODELS.iter().any(|(m, _)| *m == name) {
        "is not supported"
    } else {
        "is unknown"
    };
    At::new(node, format!("model {name} {what}")).hint(hint)
}

fn unknown_field(model: &dyn Model, k: &Node, key: &str, model_name: &str) -> At {
    if let Some((_, why)) = model.unsupported().iter().find(|(f, _)| *f == key) {
        return At::new(k, format!("field {key} is not supported")).hint(*why);
    }
    let e = At::new(k, format!("unknown field {key} for {model_name}"));
    match suggest(key, model.fields().iter().copied()) {
        Some(s) => e.hint(format!("did you mean {s}?")),
        None => e.hint(format!("fields: {}", model.fields().join(", "))),
    }
}

/// The key `origins` names the entry's object by.
fn origin_key(model: &dyn Model, pk: &Value) -> String {
    if model.is_provider() {
        return providers::origin_key(pk.as_str().unwrap_or_default());
    }
    pk.as_str().map(str::to_string).unwrap_or_else(|| pk.to_string())
}
