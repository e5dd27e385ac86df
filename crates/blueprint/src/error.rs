//! Blueprint errors: always with the file, the line and, where one helps, a hint.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlueprintError {
    pub file: String,
    pub line: usize,
    pub col: usize,
    /// `entry 3 (authentik_core.user)`, when the error belongs to an entry.
    pub entry: Option<String>,
    pub message: String,
    pub hint: Option<String>,
}

impl BlueprintError {
    /// An error about a whole file (it cannot be read, nor the directory).
    pub fn about_file(file: impl Into<String>, message: impl Into<String>) -> BlueprintError {
        BlueprintError {
            file: file.into(),
            line: 0,
            col: 0,
            entry: None,
            message: message.into(),
            hint: None,
        }
    }
}

impl fmt::Display for BlueprintError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: ", self.file, self.line, self.col)?;
        if let Some(e) = &self.entry {
            write!(f, "{e}: ")?;
        }
        f.write_str(&self.message)?;
        if let Some(h) = &self.hint {
            write!(f, " (hint: {h})")?;
        }
        Ok(())
    }
}

impl std::error::Error for BlueprintError {}

/// An error at a position, before the file and entry are known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct At {
    pub line: usize,
    pub col: usize,
    pub message: String,
    pub hint: Option<String>,
}

impl At {
    pub fn new(node: &crate::yaml::Node, message: impl Into<String>) -> At {
        At {
            line: node.line,
            col: node.col,
            message: message.into(),
            hint: None,
        }
    }

    pub fn hint(mut self, hint: impl Into<String>) -> At {
        self.hint = Some(hint.into());
        self
    }

    pub fn in_file(self, file: &str, entry: Option<String>) -> BlueprintError {
        BlueprintError {
            file: file.to_string(),
            line: self.line,
            col: self.col,
            entry,
            message: self.message,
            hint: self.hint,
        }
    }
}

/// The closest of `known` to `word`, when it is close enough to be a typo.
pub fn suggest<'a>(word: &str, known: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    known
        .into_iter()
        .map(|k| (distance(word, k), k))
        .filter(|(d, k)| *d <= 2.max(k.len() / 4))
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let v = (prev[j] + usize::from(ca != *cb)).min(prev[j + 1] + 1).min(cur[j] + 1);
            cur.push(v);
        }
        prev = cur;
    }
    prev[b.len()]
}
