//! Exclusive XML canonicalisation without comments
//! (<http://www.w3.org/2001/10/xml-exc-c14n#>), over a roxmltree subtree.
//!
//! Only what XML-DSig over SAML needs: a whole element subtree, optionally
//! minus one descendant (the enveloped `Signature`), with an optional
//! `InclusiveNamespaces PrefixList`. Namespace declarations are written on the
//! element that visibly uses them (its own prefix and its attributes'
//! prefixes) unless the nearest written ancestor already declared the same
//! binding; attributes are sorted by namespace URI then local name.

use roxmltree::{Node, NodeId};

use crate::Error;
use crate::xml::{attribute_qname, element_prefix, esc_attr, esc_text};

const XML_NS: &str = "http://www.w3.org/XML/1998/namespace";

/// Canonicalises `node` (an element) and its descendants, leaving out the
/// element `exclude` and its subtree.
pub fn canonicalize(node: Node, exclude: Option<NodeId>, inclusive: &[&str]) -> Result<String, Error> {
    if !node.is_element() {
        return Err(Error::Malformed("canonicalisation of a non-element".into()));
    }
    let mut out = String::with_capacity(node.range().len() + 256);
    let mut rendered: Vec<(String, String)> = Vec::new();
    element(node, exclude, inclusive, &mut rendered, &mut out)?;
    Ok(out)
}

fn lookup<'a>(rendered: &'a [(String, String)], prefix: &str) -> Option<&'a str> {
    rendered
        .iter()
        .rev()
        .find(|(p, _)| p == prefix)
        .map(|(_, u)| u.as_str())
}

fn element(
    n: Node,
    exclude: Option<NodeId>,
    inclusive: &[&str],
    rendered: &mut Vec<(String, String)>,
    out: &mut String,
) -> Result<(), Error> {
    let doc = n.document();
    let src = doc.input_text();
    let eprefix = element_prefix(n).unwrap_or("");
    // Prefixes visibly used here, plus those of the inclusive list in scope.
    let mut used: Vec<&str> = vec![eprefix];
    for a in n.attributes() {
        let q = attribute_qname(doc, &a);
        if let Some((p, _)) = q.split_once(':')
            && p != "xml"
            && !used.contains(&p)
        {
            used.push(p);
        }
    }
    for p in inclusive {
        let p = if *p == "#default" { "" } else { p };
        if !used.contains(&p)
            && n.lookup_namespace_uri(if p.is_empty() { None } else { Some(p) })
                .is_some()
        {
            used.push(p);
        }
    }
    used.sort_unstable();
    let mut decls: Vec<(String, String)> = Vec::new();
    for p in used {
        let uri = if p.is_empty() {
            n.default_namespace().unwrap_or("")
        } else {
            match n.lookup_namespace_uri(Some(p)) {
                Some(u) => u,
                None => return Err(Error::Malformed(format!("unbound prefix {p}"))),
            }
        };
        if uri == XML_NS {
            continue;
        }
        let have = lookup(rendered, p);
        let write = match have {
            Some(h) => h != uri,
            None => !(p.is_empty() && uri.is_empty()),
        };
        if write {
            decls.push((p.to_string(), uri.to_string()));
        }
    }
    let name_end = {
        let start = n.range().start + 1;
        let rest = src.get(start..).unwrap_or("");
        let len = rest
            .find(|c: char| c.is_whitespace() || c == '>' || c == '/')
            .unwrap_or(rest.len());
        start..start + len
    };
    let qname = src.get(name_end).unwrap_or("");
    out.push('<');
    out.push_str(qname);
    for (p, u) in &decls {
        if p.is_empty() {
            out.push_str(" xmlns=\"");
        } else {
            out.push_str(" xmlns:");
            out.push_str(p);
            out.push_str("=\"");
        }
        esc_attr(u, out);
        out.push('"');
    }
    let mut attrs: Vec<_> = n.attributes().collect();
    attrs.sort_by(|a, b| (a.namespace().unwrap_or(""), a.name()).cmp(&(b.namespace().unwrap_or(""), b.name())));
    for a in attrs {
        out.push(' ');
        out.push_str(attribute_qname(doc, &a));
        out.push_str("=\"");
        esc_attr(a.value(), out);
        out.push('"');
    }
    out.push('>');
    let mark = rendered.len();
    rendered.extend(decls);
    for c in n.children() {
        if Some(c.id()) == exclude {
            continue;
        }
        if c.is_element() {
            element(c, exclude, inclusive, rendered, out)?;
        } else if c.is_text() {
            esc_text(c.text().unwrap_or(""), out);
        }
    }
    rendered.truncate(mark);
    out.push_str("</");
    out.push_str(qname);
    out.push('>');
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xml::{Limits, parse};

    fn c14n(x: &str, pick: &str) -> String {
        let d = parse(x, Limits::default()).unwrap();
        let n = d.descendants().find(|n| n.tag_name().name() == pick).unwrap();
        canonicalize(n, None, &[]).unwrap()
    }

    #[test]
    fn namespaces_go_where_they_are_used() {
        let x = r#"<r:Root xmlns:r="urn:r" xmlns:s="urn:s" xmlns:unused="urn:u"><s:A b="2" a="1" s:z="3"><s:B>x &amp; &lt; y</s:B><C/></s:A></r:Root>"#;
        assert_eq!(
            c14n(x, "A"),
            r#"<s:A xmlns:s="urn:s" a="1" b="2" s:z="3"><s:B>x &amp; &lt; y</s:B><C></C></s:A>"#
        );
        assert_eq!(
            c14n(x, "Root"),
            r#"<r:Root xmlns:r="urn:r"><s:A xmlns:s="urn:s" a="1" b="2" s:z="3"><s:B>x &amp; &lt; y</s:B><C></C></s:A></r:Root>"#
        );
    }

    #[test]
    fn default_namespace_and_undeclaring() {
        let x = r#"<a xmlns="urn:d"><b xmlns=""><c/></b><!-- gone --><d attr='x"y'>&#13;</d></a>"#;
        assert_eq!(
            c14n(x, "a"),
            "<a xmlns=\"urn:d\"><b xmlns=\"\"><c></c></b><d attr=\"x&quot;y\">&#xD;</d></a>"
        );
    }
}
