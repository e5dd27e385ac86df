//! The YAML an export writes: a small value tree ([`Y`]) with authentik's
//! tags, written in block style with inline leaves, and the helpers that
//! build blueprint entries and the names an export gives objects.

use serde_json::Value;

use crate::models::slugish;
use crate::yaml::quote;

/// A YAML value to write.
#[derive(Debug, Clone)]
pub(super) enum Y {
    Null,
    Bool(bool),
    Int(i64),
    Str(String),
    Tag(&'static str, Vec<Y>),
    List(Vec<Y>),
    Map(Vec<(String, Y)>),
}

pub(super) fn s(v: impl Into<String>) -> Y {
    Y::Str(v.into())
}

pub(super) fn from_json(v: &Value) -> Y {
    match v {
        Value::Null => Y::Null,
        Value::Bool(b) => Y::Bool(*b),
        Value::Number(n) => n.as_i64().map(Y::Int).unwrap_or_else(|| Y::Str(n.to_string())),
        Value::String(t) => s(t.clone()),
        Value::Array(a) => Y::List(a.iter().map(from_json).collect()),
        Value::Object(m) => Y::Map(m.iter().map(|(k, v)| (k.clone(), from_json(v))).collect()),
    }
}

fn inline(y: &Y) -> String {
    match y {
        Y::Null => "null".into(),
        Y::Bool(b) => b.to_string(),
        Y::Int(i) => i.to_string(),
        Y::Str(t) => quote(t),
        Y::Tag(tag, args) if args.len() == 1 && !matches!(args[0], Y::List(_) | Y::Map(_)) => {
            format!("!{tag} {}", inline(&args[0]))
        }
        Y::Tag(tag, args) => format!("!{tag} [{}]", args.iter().map(inline).collect::<Vec<_>>().join(", ")),
        Y::List(items) => format!("[{}]", items.iter().map(inline).collect::<Vec<_>>().join(", ")),
        Y::Map(pairs) => format!(
            "{{{}}}",
            pairs
                .iter()
                .map(|(k, v)| format!("{}: {}", quote(k), inline(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

pub(super) fn write(out: &mut String, y: &Y, indent: usize) {
    let pad = " ".repeat(indent);
    match y {
        Y::Map(pairs) if !pairs.is_empty() => {
            for (k, v) in pairs {
                match v {
                    Y::Map(p) if !p.is_empty() => {
                        out.push_str(&format!("{pad}{}:\n", quote(k)));
                        write(out, v, indent + 2);
                    }
                    Y::List(l) if !l.is_empty() => {
                        out.push_str(&format!("{pad}{}:\n", quote(k)));
                        write(out, v, indent + 2);
                    }
                    _ => out.push_str(&format!("{pad}{}: {}\n", quote(k), inline(v))),
                }
            }
        }
        Y::List(items) if !items.is_empty() => {
            for item in items {
                match item {
                    Y::Map(p) if !p.is_empty() => {
                        let mut inner = String::new();
                        write(&mut inner, item, indent + 2);
                        let trimmed = inner.trim_start_matches(' ');
                        out.push_str(&format!("{pad}- {trimmed}"));
                    }
                    _ => out.push_str(&format!("{pad}- {}\n", inline(item))),
                }
            }
        }
        other => out.push_str(&format!("{pad}{}\n", inline(other))),
    }
}

/// An identifier usable as an `id:` and an environment variable part.
pub(super) fn ident(prefix: &str, name: &str) -> String {
    format!("{prefix}-{}", slugish(name))
}

/// An environment variable name for a secret of `name`.
pub(super) fn env_name(name: &str, suffix: &str) -> String {
    let cleaned = slugish(name).to_ascii_uppercase().replace('-', "_");
    format!("{cleaned}_{suffix}")
}

pub(super) fn entry(model: &str, id: Option<String>, identifiers: Vec<(String, Y)>, attrs: Vec<(String, Y)>) -> Y {
    let mut m = vec![("model".to_string(), s(model))];
    if let Some(id) = id {
        m.push(("id".into(), s(id)));
    }
    m.push(("identifiers".into(), Y::Map(identifiers)));
    if !attrs.is_empty() {
        m.push(("attrs".into(), Y::Map(attrs)));
    }
    Y::Map(m)
}

pub(super) fn keyof(id: String) -> Y {
    Y::Tag("KeyOf", vec![s(id)])
}

/// `!Find [model, [field, value]]`.
pub(super) fn find(model: &str, field: &str, value: &str) -> Y {
    Y::Tag("Find", vec![s(model), Y::List(vec![s(field), s(value)])])
}

/// `!Env NAME`.
pub(super) fn env(var: String) -> Y {
    Y::Tag("Env", vec![s(var)])
}
