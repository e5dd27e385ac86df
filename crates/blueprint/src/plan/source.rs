//! Blueprint files as read from disk (or given as text): the text, its hash
//! (the applied state records it) and the directory `!File` paths start from.

use std::path::{Path, PathBuf};

use crate::error::BlueprintError;

/// A blueprint file, read and parsed (not yet evaluated).
#[derive(Debug, Clone)]
pub struct Source {
    /// How errors name the file.
    pub path: String,
    /// Where `!File` paths start; `None`: `!File` is refused (an upload).
    pub base_dir: Option<PathBuf>,
    pub text: String,
    pub hash: String,
}

impl Source {
    pub fn from_text(path: &str, text: &str) -> Source {
        Source {
            path: path.to_string(),
            base_dir: Some(Path::new(path).parent().map(Path::to_path_buf).unwrap_or_default()),
            text: text.to_string(),
            hash: gatehouse_crypto::sha256_hex(text.as_bytes()),
        }
    }

    /// Text uploaded through the admin interface: an administrator of the
    /// directory is not thereby allowed to read the server's files.
    pub fn uploaded(name: &str, text: &str) -> Source {
        Source {
            base_dir: None,
            ..Source::from_text(name, text)
        }
    }

    pub fn read(path: &Path) -> Result<Source, BlueprintError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| BlueprintError::about_file(path.display().to_string(), format!("cannot read: {e}")))?;
        Ok(Source::from_text(&path.display().to_string(), &text))
    }

    /// A file, or every `*.yaml`/`*.yml` file of a directory (sorted, recursively).
    pub fn read_all(path: &Path) -> Result<Vec<Source>, BlueprintError> {
        if !path.is_dir() {
            return Ok(vec![Source::read(path)?]);
        }
        let files = Source::files(path).map_err(|e| {
            BlueprintError::about_file(path.display().to_string(), format!("cannot read the directory: {e}"))
        })?;
        files.iter().map(|f| Source::read(f)).collect()
    }

    /// The `*.yaml`/`*.yml` files of a directory, sorted, recursively.
    pub fn files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
        let mut files = Vec::new();
        collect(dir, &mut files)?;
        files.sort();
        Ok(files)
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
