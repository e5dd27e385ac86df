//! A YAML document as a tree that keeps what blueprints need and serde drops:
//! each node's custom tag (`!KeyOf`, `!Env`…) and its line and column, so
//! every error can point at the file position.

use std::collections::HashMap;

use saphyr_parser::{Event, Parser, ScalarStyle, Tag};

/// A node and where it starts (1-based line, 1-based column).
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub value: Yaml,
    /// A local tag without its `!` (`KeyOf`), when the node has one.
    pub tag: Option<String>,
    pub line: usize,
    pub col: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Yaml {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

impl Node {
    pub fn get(&self, key: &str) -> Option<&Node> {
        match &self.value {
            Yaml::Map(pairs) => pairs
                .iter()
                .find(|(k, _)| matches!(&k.value, Yaml::Str(s) if s == key))
                .map(|(_, v)| v),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Yaml::Str(s) if self.tag.is_none() => Some(s),
            _ => None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self.value, Yaml::Null) && self.tag.is_none()
    }
}

/// A syntax error with its position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    pub line: usize,
    pub col: usize,
    pub message: String,
}

/// Parses the first document of `text`.
pub fn parse(text: &str) -> Result<Node, SyntaxError> {
    let mut b = Builder::default();
    for item in Parser::new_from_str(text) {
        let (ev, span) = item.map_err(|e| SyntaxError {
            line: e.marker().line(),
            col: e.marker().col() + 1,
            message: e.info().to_string(),
        })?;
        let (line, col) = (span.start.line(), span.start.col() + 1);
        match ev {
            Event::DocumentEnd if b.root.is_some() => break,
            Event::Scalar(v, style, anchor, tag) => {
                let (local, core) = split_tag(tag.as_deref());
                let value = scalar(&v, style, core.as_deref());
                b.push(
                    Node {
                        value,
                        tag: local,
                        line,
                        col,
                    },
                    anchor,
                )?;
            }
            Event::SequenceStart(anchor, tag) => b.open(Yaml::Seq(vec![]), anchor, tag.as_deref(), line, col),
            Event::MappingStart(anchor, tag) => b.open(Yaml::Map(vec![]), anchor, tag.as_deref(), line, col),
            Event::SequenceEnd | Event::MappingEnd => b.close(line, col)?,
            Event::Alias(id) => b.alias(id, line, col)?,
            _ => {}
        }
    }
    Ok(b.root.unwrap_or(Node {
        value: Yaml::Null,
        tag: None,
        line: 1,
        col: 1,
    }))
}

/// The most nodes aliases may copy in one document.
const MAX_ALIAS_NODES: usize = 100_000;

#[derive(Default)]
struct Builder {
    stack: Vec<Frame>,
    /// Anchored nodes and their size in nodes.
    anchors: HashMap<usize, (Node, usize)>,
    root: Option<Node>,
    /// Nodes copied by aliases so far.
    expanded: usize,
}

fn node_count(node: &Node) -> usize {
    1 + match &node.value {
        Yaml::Seq(items) => items.iter().map(node_count).sum(),
        Yaml::Map(pairs) => pairs.iter().map(|(k, v)| node_count(k) + node_count(v)).sum(),
        _ => 0,
    }
}

struct Frame {
    node: Node,
    anchor: usize,
    pending_key: Option<Node>,
}

impl Builder {
    /// Starts a collection: the nodes that follow are its items, until [`Builder::close`].
    fn open(&mut self, value: Yaml, anchor: usize, tag: Option<&Tag>, line: usize, col: usize) {
        let (local, _) = split_tag(tag);
        self.stack.push(Frame {
            node: Node {
                value,
                tag: local,
                line,
                col,
            },
            anchor,
            pending_key: None,
        });
    }

    fn close(&mut self, line: usize, col: usize) -> Result<(), SyntaxError> {
        let Some(frame) = self.stack.pop() else {
            return Err(SyntaxError {
                line,
                col,
                message: "unbalanced collection".into(),
            });
        };
        self.push(frame.node, frame.anchor)
    }

    /// A copy of the anchored node `id`.
    fn alias(&mut self, id: usize, line: usize, col: usize) -> Result<(), SyntaxError> {
        let (node, size) = self.anchors.get(&id).cloned().ok_or(SyntaxError {
            line,
            col,
            message: "unknown alias".into(),
        })?;
        // Aliases copy their anchor: nested ones grow exponentially
        // ("billion laughs"), so their total expansion is capped.
        self.expanded += size;
        if self.expanded > MAX_ALIAS_NODES {
            return Err(SyntaxError {
                line,
                col,
                message: format!("aliases expand to more than {MAX_ALIAS_NODES} nodes"),
            });
        }
        self.push(node, 0)
    }

    fn push(&mut self, node: Node, anchor: usize) -> Result<(), SyntaxError> {
        if anchor > 0 {
            let size = node_count(&node);
            self.anchors.insert(anchor, (node.clone(), size));
        }
        let Some(top) = self.stack.last_mut() else {
            if self.root.is_none() {
                self.root = Some(node);
            }
            return Ok(());
        };
        match &mut top.node.value {
            Yaml::Seq(items) => items.push(node),
            Yaml::Map(pairs) => match top.pending_key.take() {
                None => top.pending_key = Some(node),
                Some(key) => {
                    if let Yaml::Str(k) = &key.value
                        && pairs
                            .iter()
                            .any(|(other, _)| matches!(&other.value, Yaml::Str(o) if o == k))
                    {
                        return Err(SyntaxError {
                            line: key.line,
                            col: key.col,
                            message: format!("duplicate key '{k}'"),
                        });
                    }
                    pairs.push((key, node))
                }
            },
            _ => {}
        }
        Ok(())
    }
}

/// Splits a tag into a local one (`!KeyOf` → `KeyOf`) or a core-schema one (`!!str` → `str`).
fn split_tag(tag: Option<&Tag>) -> (Option<String>, Option<String>) {
    match tag.map(|t| (t.handle.as_str(), t.suffix.as_str())) {
        None => (None, None),
        Some(("!", suffix)) => (Some(suffix.to_string()), None),
        Some(("!!", suffix)) | Some(("tag:yaml.org,2002:", suffix)) => (None, Some(suffix.to_string())),
        Some((handle, suffix)) => (Some(format!("{handle}{suffix}")), None),
    }
}

/// YAML 1.2 core schema resolution of a scalar.
fn scalar(v: &str, style: ScalarStyle, core: Option<&str>) -> Yaml {
    match core {
        Some("str") => return Yaml::Str(v.to_string()),
        Some("int") => return v.parse().map(Yaml::Int).unwrap_or_else(|_| Yaml::Str(v.to_string())),
        Some("bool") => return Yaml::Bool(v == "true"),
        _ => {}
    }
    if style != ScalarStyle::Plain {
        return Yaml::Str(v.to_string());
    }
    match v {
        "" | "~" | "null" | "Null" | "NULL" => Yaml::Null,
        "true" | "True" | "TRUE" => Yaml::Bool(true),
        "false" | "False" | "FALSE" => Yaml::Bool(false),
        _ => {
            if let Ok(i) = v.parse::<i64>() {
                Yaml::Int(i)
            } else if let Some(h) = v.strip_prefix("0x").and_then(|h| i64::from_str_radix(h, 16).ok()) {
                Yaml::Int(h)
            } else if v.chars().any(|c| c.is_ascii_digit())
                && v.chars().all(|c| c.is_ascii_digit() || "+-.eE".contains(c))
                && let Ok(f) = v.parse::<f64>()
            {
                Yaml::Float(f)
            } else {
                Yaml::Str(v.to_string())
            }
        }
    }
}

/// Writes a YAML string scalar, quoted when it would otherwise read as something else.
pub fn quote(s: &str) -> String {
    let plain_ok = !s.is_empty()
        && !s.starts_with(|c: char| "!&*-?:,[]{}#|>@`\"'%= ".contains(c) || c.is_ascii_digit())
        && !s.ends_with(' ')
        && !s.contains(": ")
        && !s.contains(" #")
        && !s.contains('\n')
        && !s.contains('\t')
        && matches!(scalar(s, ScalarStyle::Plain, None), Yaml::Str(_));
    if plain_ok {
        s.to_string()
    } else {
        serde_json::to_string(s).unwrap_or_else(|_| format!("'{}'", s.replace('\'', "''")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_and_positions_survive() {
        let doc =
            parse("a: 1\nb:\n  - !KeyOf grp\n  - !Find [authentik_core.group, [name, x]]\nc: !Env [X, d]\n").unwrap();
        let b = doc.get("b").unwrap();
        let Yaml::Seq(items) = &b.value else { panic!() };
        assert_eq!(items[0].tag.as_deref(), Some("KeyOf"));
        assert_eq!(items[0].value, Yaml::Str("grp".into()));
        assert_eq!((items[0].line, items[0].col), (3, 5));
        assert_eq!(items[1].tag.as_deref(), Some("Find"));
        assert_eq!(items[1].line, 4);
        assert_eq!(doc.get("a").unwrap().value, Yaml::Int(1));
        assert_eq!(doc.get("c").unwrap().tag.as_deref(), Some("Env"));
    }

    #[test]
    fn scalars_resolve_like_yaml_1_2() {
        let doc = parse("a: 'true'\nb: true\nc: ~\nd: 1.5\ne: \"7\"\nf: hello world\n").unwrap();
        assert_eq!(doc.get("a").unwrap().value, Yaml::Str("true".into()));
        assert_eq!(doc.get("b").unwrap().value, Yaml::Bool(true));
        assert_eq!(doc.get("c").unwrap().value, Yaml::Null);
        assert_eq!(doc.get("d").unwrap().value, Yaml::Float(1.5));
        assert_eq!(doc.get("e").unwrap().value, Yaml::Str("7".into()));
        assert_eq!(doc.get("f").unwrap().value, Yaml::Str("hello world".into()));
    }

    #[test]
    fn nested_aliases_cannot_blow_up() {
        let mut doc = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
        for (prev, name) in ["a", "b", "c", "d", "e", "f", "g", "h"]
            .windows(2)
            .map(|w| (w[0], w[1]))
        {
            doc.push_str(&format!("{name}: &{name} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"));
        }
        let e = parse(&doc).unwrap_err();
        assert!(e.message.contains("aliases expand"), "{}", e.message);
        // Ordinary aliases still work.
        let ok = parse("base: &b {x: 1}\none: *b\ntwo: *b\n").unwrap();
        assert!(matches!(ok.value, Yaml::Map(ref m) if m.len() == 3));
    }

    #[test]
    fn errors_have_positions() {
        let e = parse("a: [1, 2\nb: 3\n").unwrap_err();
        assert!(e.line >= 1);
        let e = parse("a: 1\na: 2\n").unwrap_err();
        assert_eq!((e.line, e.message.as_str()), (2, "duplicate key 'a'"));
    }

    #[test]
    fn quoting_round_trips() {
        for s in [
            "plain",
            "true",
            "1",
            "",
            "a: b",
            "!x",
            "x #y",
            "- y",
            "line\nbreak",
            "null",
        ] {
            let doc = parse(&format!("k: {}\n", quote(s))).unwrap();
            assert_eq!(doc.get("k").unwrap().value, Yaml::Str(s.into()), "{s}");
        }
    }
}
