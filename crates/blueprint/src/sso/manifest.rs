//! The stack manifest: one entry per downstream service: which Gatehouse
//! application it uses, how it signs people in, the redirect URIs it will
//! send (templates with `${VARIABLE}` from the environment and the stack's
//! `.env`), where it reads its client id and secret, and where it keeps its
//! trust in Gatehouse. Format: `docs/stack-manifest.md`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;

use crate::yaml::{self, Node, Yaml};

/// A broken manifest (exit 2): where and why.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{file}:{line}: {message}")]
pub struct ManifestError {
    pub file: String,
    pub line: usize,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SsoType {
    Oidc,
    Saml,
    Proxy,
    Ldap,
}

/// Where a service reads its client credentials.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientSpec {
    /// The env file (relative to the manifest).
    pub env_file: String,
    pub client_id_key: Option<String>,
    pub client_secret_key: Option<String>,
}

/// Where a service keeps its trust in Gatehouse.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrustSpec {
    /// OIDC: the issuer the service is configured with (template).
    pub issuer: Option<String>,
    /// OIDC: the JWKS URL the service fetches keys from (template).
    pub jwks_url: Option<String>,
    /// OIDC: a JWKS file the service reads (relative to the manifest).
    pub jwks_file: Option<String>,
    /// SAML: a PEM file of the IdP signing certificate(s) the service reads.
    pub certificate_file: Option<String>,
    /// SAML: an IdP metadata file the service reads.
    pub metadata_file: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SsoSpec {
    #[serde(rename = "type")]
    pub kind: SsoType,
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    /// Proxy: the service's external URL (template).
    pub external_host: Option<String>,
    /// SAML: the ACS URLs the service sends (templates); the first is the default.
    #[serde(default)]
    pub acs_urls: Vec<String>,
    /// SAML: the service's entity id, the assertion's audience (template).
    pub audience: Option<String>,
    pub client: Option<ClientSpec>,
    #[serde(default)]
    pub trust: TrustSpec,
    /// Groups the service's role mapping refers to.
    #[serde(default)]
    pub groups: Vec<String>,
    /// LDAP: the base DN the service searches (template).
    pub base_dn: Option<String>,
    /// LDAP: the group the service's bind account is in, which may search.
    pub search_group: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceSpec {
    pub name: String,
    /// The Gatehouse application slug (default: the name).
    pub application: Option<String>,
    /// The application's display name when `sso fix` creates it.
    pub display_name: Option<String>,
    pub sso: SsoSpec,
}

/// A service with its templates expanded.
#[derive(Debug, Clone)]
pub struct Service {
    pub name: String,
    pub slug: String,
    pub display_name: String,
    pub kind: SsoType,
    pub redirect_uris: Vec<String>,
    pub external_host: Option<String>,
    pub acs_urls: Vec<String>,
    pub audience: Option<String>,
    pub client: Option<(PathBuf, Option<String>, Option<String>)>,
    pub issuer: Option<String>,
    pub jwks_url: Option<String>,
    pub jwks_file: Option<PathBuf>,
    pub certificate_file: Option<PathBuf>,
    pub metadata_file: Option<PathBuf>,
    pub groups: Vec<String>,
    pub base_dn: Option<String>,
    pub search_group: Option<String>,
    pub line: usize,
    pub file: String,
}

#[derive(Debug, Clone)]
pub struct Manifest {
    pub services: Vec<Service>,
}

impl Manifest {
    pub fn service(&self, name: &str) -> Option<&Service> {
        self.services.iter().find(|s| s.name == name)
    }
}

fn to_json(n: &Node) -> Value {
    match &n.value {
        Yaml::Null => Value::Null,
        Yaml::Bool(b) => Value::Bool(*b),
        Yaml::Int(i) => Value::from(*i),
        Yaml::Float(f) => Value::from(*f),
        Yaml::Str(s) => Value::from(s.clone()),
        Yaml::Seq(items) => Value::Array(items.iter().map(to_json).collect()),
        Yaml::Map(pairs) => Value::Object(
            pairs
                .iter()
                .map(|(k, v)| (k.as_str().unwrap_or_default().to_string(), to_json(v)))
                .collect(),
        ),
    }
}

/// Variables for `${NAME}`: the process environment wins over the stack's `.env`.
pub struct Vars {
    pub dotenv: BTreeMap<String, String>,
}

impl Vars {
    pub fn get(&self, name: &str) -> Option<String> {
        std::env::var(name).ok().or_else(|| self.dotenv.get(name).cloned())
    }

    /// Expands `${NAME}` (and `${NAME:-default}`); an unknown variable is an error.
    pub fn expand(&self, template: &str) -> Result<String, String> {
        let mut out = String::new();
        let mut rest = template;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let end = after.find('}').ok_or_else(|| format!("unclosed ${{ in '{template}'"))?;
            let inner = &after[..end];
            let (name, default) = match inner.split_once(":-") {
                Some((n, d)) => (n, Some(d)),
                None => (inner, None),
            };
            match self.get(name).filter(|v| !v.is_empty()).or(default.map(str::to_string)) {
                Some(v) => out.push_str(&v),
                None => return Err(format!("${{{name}}} is not set (environment or the stack's .env)")),
            }
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }
}

/// Reads a manifest file, or a directory of one file per service. `dotenv`
/// is the stack's `.env` (default: `.env` beside the manifest).
pub fn load(path: &Path, dotenv: Option<&Path>) -> Result<Manifest, ManifestError> {
    let base = if path.is_dir() {
        path.to_path_buf()
    } else {
        path.parent().map(Path::to_path_buf).unwrap_or_default()
    };
    let dotenv_path = dotenv.map(Path::to_path_buf).unwrap_or_else(|| base.join(".env"));
    let vars = Vars {
        dotenv: super::envfile::read(&dotenv_path).unwrap_or_default(),
    };
    let mut services = Vec::new();
    for f in manifest_files(path)? {
        let file = ManifestFile {
            name: f.display().to_string(),
            base: &base,
            vars: &vars,
        };
        for n in file.service_nodes(&f)? {
            services.push(file.service(&n)?);
        }
    }
    let mut seen = std::collections::HashSet::new();
    for s in &services {
        if !seen.insert(s.name.clone()) {
            return Err(ManifestError {
                file: s.file.clone(),
                line: s.line,
                message: format!("service {} is listed twice", s.name),
            });
        }
    }
    Ok(Manifest { services })
}

/// The manifest file, or the `*.yaml`/`*.yml` files of a directory (sorted).
fn manifest_files(path: &Path) -> Result<Vec<PathBuf>, ManifestError> {
    if !path.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let err = |e: std::io::Error| ManifestError {
        file: path.display().to_string(),
        line: 0,
        message: e.to_string(),
    };
    let mut files = Vec::new();
    for e in std::fs::read_dir(path).map_err(err)? {
        let p = e.map_err(err)?.path();
        if p.extension().is_some_and(|x| x == "yaml" || x == "yml") {
            files.push(p);
        }
    }
    files.sort();
    Ok(files)
}

/// One manifest file being read: its name for errors, the directory its
/// paths are relative to, and the variables its templates use.
struct ManifestFile<'a> {
    name: String,
    base: &'a Path,
    vars: &'a Vars,
}

impl ManifestFile<'_> {
    fn err(&self, line: usize, message: String) -> ManifestError {
        ManifestError {
            file: self.name.clone(),
            line,
            message,
        }
    }

    /// The file's services: a `services:` list, or the file is one service.
    fn service_nodes(&self, path: &Path) -> Result<Vec<Node>, ManifestError> {
        let text = std::fs::read_to_string(path).map_err(|e| self.err(0, e.to_string()))?;
        let doc = yaml::parse(&text).map_err(|e| self.err(e.line, format!("not valid YAML: {}", e.message)))?;
        let nodes: Vec<Node> = match (doc.get("services"), &doc.value) {
            (Some(s), _) => match &s.value {
                Yaml::Seq(items) => items.clone(),
                _ => return Err(self.err(s.line, "services: expected a list".into())),
            },
            (None, Yaml::Map(_)) if doc.get("name").is_some() => vec![doc.clone()],
            _ => return Err(self.err(doc.line, "expected `services:` (or one service per file)".into())),
        };
        if let Some(v) = doc.get("version")
            && v.value != Yaml::Int(1)
        {
            return Err(self.err(v.line, "version: 1 is the only version".into()));
        }
        Ok(nodes)
    }

    /// A service entry, checked and with its templates expanded.
    fn service(&self, n: &Node) -> Result<Service, ManifestError> {
        let spec: ServiceSpec =
            serde_json::from_value(to_json(n)).map_err(|e| self.err(n.line, format!("service: {e}")))?;
        let sso = &spec.sso;
        let missing = match sso.kind {
            SsoType::Oidc if sso.redirect_uris.is_empty() => Some("an oidc service needs redirect_uris"),
            SsoType::Proxy if sso.external_host.is_none() => Some("a proxy service needs external_host"),
            SsoType::Saml if sso.acs_urls.is_empty() || sso.audience.is_none() => {
                Some("a saml service needs acs_urls and audience")
            }
            _ => None,
        };
        if let Some(what) = missing {
            return Err(self.err(n.line, format!("service {}: {what}", spec.name)));
        }
        let x = |t: &str| {
            self.vars
                .expand(t)
                .map_err(|m| self.err(n.line, format!("service {}: {m}", spec.name)))
        };
        let rel = |p: &str| -> Result<PathBuf, ManifestError> { Ok(self.base.join(x(p)?)) };
        let client = match &sso.client {
            Some(c) => Some((rel(&c.env_file)?, c.client_id_key.clone(), c.client_secret_key.clone())),
            None => None,
        };
        Ok(Service {
            slug: spec.application.clone().unwrap_or_else(|| spec.name.clone()),
            display_name: spec.display_name.clone().unwrap_or_else(|| spec.name.clone()),
            kind: sso.kind,
            redirect_uris: sso.redirect_uris.iter().map(|t| x(t)).collect::<Result<_, _>>()?,
            external_host: sso.external_host.as_deref().map(x).transpose()?,
            acs_urls: sso.acs_urls.iter().map(|t| x(t)).collect::<Result<_, _>>()?,
            audience: sso.audience.as_deref().map(x).transpose()?,
            client,
            issuer: sso.trust.issuer.as_deref().map(x).transpose()?,
            jwks_url: sso.trust.jwks_url.as_deref().map(x).transpose()?,
            jwks_file: sso.trust.jwks_file.as_deref().map(rel).transpose()?,
            certificate_file: sso.trust.certificate_file.as_deref().map(rel).transpose()?,
            metadata_file: sso.trust.metadata_file.as_deref().map(rel).transpose()?,
            groups: sso
                .groups
                .iter()
                .chain(sso.search_group.as_ref().filter(|g| !sso.groups.contains(g)))
                .cloned()
                .collect(),
            base_dn: sso.base_dn.as_deref().map(x).transpose()?,
            search_group: sso.search_group.clone(),
            name: spec.name.clone(),
            line: n.line,
            file: self.name.clone(),
        })
    }
}
