//! Reading untrusted XML. Everything a SAML endpoint parses goes through
//! [`parse`]: a size cap, no DTD (so no entities), no processing instructions,
//! a node cap and a depth cap. roxmltree never fetches anything and never
//! expands user-defined entities once DTDs are refused.

use roxmltree::{Document, Node, NodeType, ParsingOptions};

use crate::Error;

/// Limits for one document.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Bytes of XML (after base64 and inflation).
    pub max_bytes: usize,
    /// Element nesting.
    pub max_depth: usize,
    /// Nodes of any kind.
    pub max_nodes: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bytes: 64 * 1024,
            max_depth: 24,
            max_nodes: 2_000,
        }
    }
}

/// Parses `text` as a SAML protocol message.
pub fn parse(text: &str, limits: Limits) -> Result<Document<'_>, Error> {
    if text.len() > limits.max_bytes {
        return Err(Error::TooLarge);
    }
    // Refuse markup declarations outright, before the parser sees them
    // (roxmltree would refuse a DTD too; this also catches them in odd places).
    let lower = text.as_bytes();
    if contains_ci(lower, b"<!doctype") || contains_ci(lower, b"<!entity") {
        return Err(Error::Dtd);
    }
    let opts = ParsingOptions {
        allow_dtd: false,
        nodes_limit: limits.max_nodes,
        ..ParsingOptions::default()
    };
    let doc = Document::parse_with_options(text, opts).map_err(|e| match e {
        roxmltree::Error::DtdDetected => Error::Dtd,
        roxmltree::Error::NodesLimitReached => Error::TooLarge,
        other => Error::Malformed(other.to_string()),
    })?;
    let mut stack: Vec<(Node, usize)> = vec![(doc.root(), 0)];
    while let Some((n, depth)) = stack.pop() {
        if depth > limits.max_depth {
            return Err(Error::TooDeep);
        }
        if n.node_type() == NodeType::PI {
            return Err(Error::ProcessingInstruction);
        }
        for c in n.children() {
            stack.push((c, depth + 1));
        }
    }
    Ok(doc)
}

fn contains_ci(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w.eq_ignore_ascii_case(needle))
}

/// The prefix an element is written with in its source (`None`: no prefix).
pub fn element_prefix<'a>(n: Node<'_, 'a>) -> Option<&'a str> {
    let src = n.document().input_text();
    let start = n.range().start + 1;
    let rest = src.get(start..)?;
    let end = rest
        .find(|c: char| c.is_whitespace() || c == '>' || c == '/')
        .unwrap_or(rest.len());
    let qname = &rest[..end];
    qname.split_once(':').map(|(p, _)| p)
}

/// The qualified name an attribute is written with in its source.
pub fn attribute_qname<'a>(doc: &Document<'a>, a: &roxmltree::Attribute<'_, 'a>) -> &'a str {
    doc.input_text().get(a.range_qname()).unwrap_or(a.name())
}

/// Text content of an element (its text children, concatenated; comments
/// are not text, so `a<!---->b` is `ab`).
pub fn text_of(n: Node) -> String {
    n.children().filter(|c| c.is_text()).filter_map(|c| c.text()).collect()
}

/// Escapes text for element content.
pub fn esc_text(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\r' => out.push_str("&#xD;"),
            c => out.push(c),
        }
    }
}

/// Escapes text for a double-quoted attribute value.
pub fn esc_attr(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '"' => out.push_str("&quot;"),
            '\t' => out.push_str("&#x9;"),
            '\n' => out.push_str("&#xA;"),
            '\r' => out.push_str("&#xD;"),
            c => out.push(c),
        }
    }
}

pub fn attr(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    esc_attr(s, &mut o);
    o
}

pub fn text(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    esc_text(s, &mut o);
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_dtd_entities_pi_depth_and_size() {
        let l = Limits::default();
        assert!(matches!(
            parse("<!DOCTYPE a [<!ENTITY x \"y\">]><a>&x;</a>", l),
            Err(Error::Dtd)
        ));
        assert!(matches!(parse("<!doctype a><a/>", l), Err(Error::Dtd)));
        assert!(matches!(
            parse("<a><?php x?></a>", l),
            Err(Error::ProcessingInstruction)
        ));
        let deep = "<a>".repeat(40) + &"</a>".repeat(40);
        assert!(matches!(parse(&deep, l), Err(Error::TooDeep)));
        let big = format!("<a>{}</a>", "x".repeat(70_000));
        assert!(matches!(parse(&big, l), Err(Error::TooLarge)));
        let many = format!("<a>{}</a>", "<b/>".repeat(3000));
        assert!(matches!(parse(&many, l), Err(Error::TooLarge)));
        assert!(parse("<?xml version=\"1.0\"?><a x='1'>t</a>", l).is_ok());
    }

    #[test]
    fn prefixes_come_from_the_source() {
        let d = parse("<p:a xmlns:p='u' p:x='1'><b/></p:a>", Limits::default()).unwrap();
        let a = d.root_element();
        assert_eq!(element_prefix(a), Some("p"));
        assert_eq!(element_prefix(a.first_element_child().unwrap()), None);
        let at = a.attributes().next().unwrap();
        assert_eq!(attribute_qname(&d, &at), "p:x");
    }
}
