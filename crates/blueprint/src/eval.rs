//! Evaluation of blueprint tags: `!KeyOf`, `!Find`, `!Env`, `!Context`,
//! `!Format`, `!If`, `!Condition`, `!File`. The result is JSON; references to
//! objects Gatehouse has no model for (flows, certificate key pairs, scope
//! mappings) evaluate to marker objects (`{"$ref": "flow", "value": "slug"}`) that
//! the model mapping understands.

use std::collections::HashMap;
use std::path::Path;

use serde_json::{Map, Value, json};

use crate::error::At;
use crate::yaml::{Node, Yaml};

/// `!Find [model, [field, value]…]`: the pk of a matching object, or null.
pub type FindFn<'a> = dyn Fn(&str, &[(String, Value)], &Node) -> Result<Value, At> + 'a;

/// What tags can see.
pub struct Scope<'a> {
    /// The blueprint file's directory (`!File` paths are relative to it);
    /// `None` for text given over the web, which may not read the server's files.
    pub base_dir: Option<&'a Path>,
    pub context: &'a Map<String, Value>,
    pub env: &'a dyn Fn(&str) -> Option<String>,
    /// `id` of earlier entries → the primary key of their object.
    pub ids: &'a HashMap<String, Value>,
    pub find: &'a FindFn<'a>,
}

pub fn marker(kind: &str, value: &str) -> Value {
    json!({"$ref": kind, "value": value})
}

/// The marker's (kind, value), when `v` is one.
pub fn as_marker(v: &Value) -> Option<(&str, &str)> {
    let m = v.as_object()?;
    Some((m.get("$ref")?.as_str()?, m.get("value")?.as_str()?))
}

pub fn eval(node: &Node, s: &Scope<'_>) -> Result<Value, At> {
    if let Some(tag) = &node.tag {
        return eval_tag(tag, node, s);
    }
    Ok(match &node.value {
        Yaml::Null => Value::Null,
        Yaml::Bool(b) => Value::Bool(*b),
        Yaml::Int(i) => Value::from(*i),
        Yaml::Float(f) => Value::from(*f),
        Yaml::Str(t) => Value::from(t.clone()),
        Yaml::Seq(items) => Value::Array(items.iter().map(|n| eval(n, s)).collect::<Result<_, _>>()?),
        Yaml::Map(pairs) => {
            let mut m = Map::new();
            for (k, v) in pairs {
                let key = match eval(k, s)? {
                    Value::String(t) => t,
                    other => other.to_string(),
                };
                m.insert(key, eval(v, s)?);
            }
            Value::Object(m)
        }
    })
}

pub fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(t) => !t.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

/// The tag's arguments: a scalar is one argument, a sequence several.
fn args(node: &Node) -> Vec<Node> {
    match &node.value {
        Yaml::Seq(items) => items.clone(),
        _ => vec![Node {
            tag: None,
            ..node.clone()
        }],
    }
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "None".into(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        other => other.to_string(),
    }
}

/// The `i`th argument, evaluated (null when there is none).
fn nth(a: &[Node], i: usize, s: &Scope<'_>) -> Result<Value, At> {
    a.get(i).map(|n| eval(n, s)).unwrap_or(Ok(Value::Null))
}

fn eval_tag(tag: &str, node: &Node, s: &Scope<'_>) -> Result<Value, At> {
    let a = args(node);
    let arg = |i: usize| nth(&a, i, s);
    match tag {
        "KeyOf" => {
            let id = text(&arg(0)?);
            s.ids.get(&id).cloned().ok_or_else(|| {
                At::new(node, format!("!KeyOf {id}: no earlier entry has id '{id}'"))
                    .hint("give the referenced entry `id: ...` and put it before this one")
            })
        }
        "Env" => {
            let name = text(&arg(0)?);
            Ok((s.env)(&name).map(Value::from).map_or_else(|| arg(1), Ok)?)
        }
        "Context" => {
            let key = text(&arg(0)?);
            Ok(context(s, &key).map_or_else(|| arg(1), Ok)?)
        }
        "Format" => {
            let fmt = arg(0)?;
            let Value::String(fmt) = fmt else {
                return Err(At::new(node, "!Format needs a format string first"));
            };
            let values: Vec<Value> = (1..a.len()).map(&arg).collect::<Result<_, _>>()?;
            format(&fmt, &values).map(Value::from).map_err(|m| At::new(node, m))
        }
        "If" => {
            let cond = truthy(&arg(0)?);
            let pick = if cond { 1 } else { 2 };
            if a.len() > pick {
                arg(pick)
            } else {
                Ok(Value::Bool(cond))
            }
        }
        "Condition" => condition(node, &a, s),
        "File" => file(node, &a, s),
        "Find" => find(node, &a, s),
        other => Err(At::new(node, format!("unsupported tag !{other}"))
            .hint("Gatehouse evaluates !KeyOf, !Find, !Env, !Context, !Format, !If, !Condition and !File")),
    }
}

/// `!Context key`: the key, or a dotted path into the context.
fn context(s: &Scope<'_>, key: &str) -> Option<Value> {
    let cur = s.context.get(key).cloned();
    if cur.is_some() || !key.contains('.') {
        return cur;
    }
    let mut v = Value::Object(s.context.clone());
    for part in key.split('.') {
        v = v.get(part).cloned().unwrap_or(Value::Null);
    }
    Some(v).filter(|v| !v.is_null())
}

/// `!Condition [MODE, values…]`.
fn condition(node: &Node, a: &[Node], s: &Scope<'_>) -> Result<Value, At> {
    let mode = text(&nth(a, 0, s)?).to_ascii_uppercase();
    let vals: Vec<bool> = (1..a.len())
        .map(|i| nth(a, i, s).map(|v| truthy(&v)))
        .collect::<Result<_, _>>()?;
    let all = vals.iter().all(|b| *b);
    let any = vals.iter().any(|b| *b);
    let odd = vals.iter().filter(|b| **b).count() % 2 == 1;
    Ok(Value::Bool(match mode.as_str() {
        "AND" => all,
        "NAND" => !all,
        "OR" => any,
        "NOR" => !any,
        "XOR" => odd,
        "XNOR" => !odd,
        other => {
            return Err(
                At::new(node, format!("!Condition: unknown mode '{other}'")).hint("AND, NAND, OR, NOR, XOR or XNOR")
            );
        }
    }))
}

/// `!File [path, default]`: a file beside the blueprint, without its final newline.
fn file(node: &Node, a: &[Node], s: &Scope<'_>) -> Result<Value, At> {
    let rel = text(&nth(a, 0, s)?);
    let Some(base_dir) = s.base_dir else {
        return Err(
            At::new(node, format!("!File {rel}: not available in an uploaded blueprint"))
                .hint("put the file in the blueprint directory, or write the value out"),
        );
    };
    let path = base_dir.join(&rel);
    match std::fs::read_to_string(&path) {
        Ok(t) => Ok(Value::from(t.trim_end_matches(['\n', '\r']).to_string())),
        Err(_) if a.len() > 1 => nth(a, 1, s),
        Err(e) => Err(At::new(node, format!("!File {rel}: {e}")).hint("give a default: !File [path, default]")),
    }
}

/// `!Find [model, [field, value]…]`.
fn find(node: &Node, a: &[Node], s: &Scope<'_>) -> Result<Value, At> {
    let model = text(&nth(a, 0, s)?);
    let mut query = Vec::new();
    for n in a.iter().skip(1) {
        match eval(n, s)? {
            Value::Array(pair) if pair.len() == 2 => query.push((text(&pair[0]), pair[1].clone())),
            _ => {
                return Err(At::new(n, "!Find: each query is a pair [field, value]")
                    .hint("!Find [authentik_core.group, [name, admins]]"));
            }
        }
    }
    (s.find)(&model, &query, node)
}

/// Python's `%` formatting, as authentik's `!Format` uses it: `%s`, `%d`, `%%`.
pub fn format(fmt: &str, values: &[Value]) -> Result<String, String> {
    let mut out = String::new();
    let mut it = values.iter();
    let mut chars = fmt.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('%') => out.push('%'),
            Some('s') => out.push_str(&text(it.next().ok_or("!Format: not enough arguments")?)),
            Some('d') | Some('i') => {
                let v = it.next().ok_or("!Format: not enough arguments")?;
                let n = v
                    .as_i64()
                    .or_else(|| v.as_f64().map(|f| f as i64))
                    .or_else(|| v.as_str().and_then(|t| t.parse().ok()))
                    .ok_or("!Format: %d needs a number")?;
                out.push_str(&n.to_string());
            }
            other => return Err(format!("!Format: unsupported conversion %{}", other.unwrap_or(' '))),
        }
    }
    if it.next().is_some() {
        return Err("!Format: too many arguments".into());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(yaml: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<Value, At> {
        let doc = crate::yaml::parse(yaml).unwrap();
        let context: Map<String, Value> = json!({"a": 1, "nested": {"k": "v"}, "empty": ""})
            .as_object()
            .cloned()
            .unwrap();
        let ids = HashMap::from([("grp".to_string(), Value::from("pk-1"))]);
        let find = |m: &str, q: &[(String, Value)], _: &Node| -> Result<Value, At> {
            Ok(Value::from(format!("{m}:{}={}", q[0].0, q[0].1)))
        };
        let scope = Scope {
            base_dir: Some(Path::new("/nonexistent")),
            context: &context,
            env,
            ids: &ids,
            find: &find,
        };
        eval(doc.get("v").unwrap(), &scope)
    }

    fn none(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn tags() {
        assert_eq!(run("v: !KeyOf grp", &none).unwrap(), json!("pk-1"));
        assert!(
            run("v: !KeyOf nope", &none)
                .unwrap_err()
                .message
                .contains("no earlier entry")
        );
        let env = |n: &str| (n == "X").then(|| "x".to_string());
        assert_eq!(run("v: !Env X", &env).unwrap(), json!("x"));
        assert_eq!(run("v: !Env [Y, dflt]", &env).unwrap(), json!("dflt"));
        assert_eq!(run("v: !Env Y", &env).unwrap(), Value::Null);
        assert_eq!(run("v: !Context a", &none).unwrap(), json!(1));
        assert_eq!(run("v: !Context nested.k", &none).unwrap(), json!("v"));
        assert_eq!(run("v: !Context [missing, 7]", &none).unwrap(), json!(7));
        assert_eq!(
            run("v: !Format ['%s-%d%%', !Context nested.k, 42]", &none).unwrap(),
            json!("v-42%")
        );
        assert!(run("v: !Format ['%s %s', a]", &none).is_err());
        assert_eq!(run("v: !If [!Context a, yes, no]", &none).unwrap(), json!("yes"));
        assert_eq!(run("v: !If [!Context empty, yes, no]", &none).unwrap(), json!("no"));
        assert_eq!(run("v: !If [true]", &none).unwrap(), json!(true));
        for (mode, want) in [
            ("AND", false),
            ("NAND", true),
            ("OR", true),
            ("NOR", false),
            ("XOR", true),
            ("XNOR", false),
        ] {
            assert_eq!(
                run(&format!("v: !Condition [{mode}, true, false]"), &none).unwrap(),
                json!(want),
                "{mode}"
            );
        }
        assert_eq!(
            run("v: !Find [authentik_core.group, [name, admins]]", &none).unwrap(),
            json!("authentik_core.group:name=\"admins\"")
        );
        assert_eq!(
            run("v: !File [missing.txt, fallback]", &none).unwrap(),
            json!("fallback")
        );
        let e = run("v: !File missing.txt", &none).unwrap_err();
        assert_eq!((e.line, e.col), (1, 4));
        let e = run("v:\n  x: !Enumerate [a]", &none).unwrap_err();
        assert!(e.message.contains("unsupported tag !Enumerate"));
        assert_eq!(e.line, 2);
    }
}
