//! The model mapping: one module per model, each behind [`Model`]. A model
//! knows its authentik name (and Gatehouse's), the fields it supports, how to
//! find an object by identifiers, and how to create, update and delete one in
//! the plan's [`State`]. Adding a model (the SAML provider) is one new module
//! and one line in [`REGISTRY`] (as the SAML provider was).

use std::collections::HashMap;

use gatehouse_core::Timestamp;
use gatehouse_core::fields::{FieldError, Fields};
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::error::At;
use crate::state::State;
use crate::yaml::Node;

mod application;
mod binding;
mod group;
mod ldap;
mod membership;
pub mod oauth2;
mod provider;
mod proxy;
pub mod saml;
mod scope;
mod token;
mod user;

/// What a model works with while planning.
pub struct Cx<'a> {
    pub st: &'a mut State,
    pub now: Timestamp,
    pub notes: &'a mut Vec<String>,
}

/// Evaluated fields of an entry (identifiers and attrs merged), with the
/// position of each for errors.
pub struct Attrs<'a> {
    pub values: Map<String, Value>,
    pub at: HashMap<String, &'a Node>,
    pub entry: &'a Node,
}

impl<'a> Attrs<'a> {
    pub fn get(&self, k: &str) -> Option<&Value> {
        self.values.get(k).filter(|v| !v.is_null())
    }

    pub fn has(&self, k: &str) -> bool {
        self.values.contains_key(k)
    }

    /// An error pointing at field `k` (or the entry).
    pub fn err(&self, k: &str, msg: impl Into<String>) -> At {
        At::new(self.at.get(k).copied().unwrap_or(self.entry), msg)
    }

    /// Field `k`, which a new object needs (`what`: `a new user`).
    pub fn required(&self, k: &str, what: &str) -> Result<String, At> {
        self.str(k)?.ok_or_else(|| self.err(k, format!("{what} needs a {k}")))
    }

    /// Text (a number is taken as its text), as every provider field is read.
    pub fn str(&self, k: &str) -> Result<Option<String>, At> {
        Fields::text(self, k).map_err(|e| self.refused(e))
    }

    pub fn bool(&self, k: &str) -> Result<Option<bool>, At> {
        Fields::flag(self, k).map_err(|e| self.refused(e))
    }

    pub fn uuid(&self, k: &str) -> Result<Option<Uuid>, At> {
        match self.get(k) {
            None => Ok(None),
            Some(v) => pk_uuid(v).map(Some).ok_or_else(|| {
                self.err(k, format!("{k}: expected a reference to an object"))
                    .hint("use !KeyOf ID or !Find [model, [field, value]]")
            }),
        }
    }

    pub fn uuids(&self, k: &str) -> Result<Option<Vec<Uuid>>, At> {
        match self.get(k) {
            None => Ok(None),
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| {
                    pk_uuid(v).ok_or_else(|| {
                        self.err(k, format!("{k}: every item must reference an object"))
                            .hint("use !KeyOf ID or !Find [model, [field, value]]")
                    })
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(_) => Err(self.err(k, format!("{k}: expected a list"))),
        }
    }
}

/// A blueprint entry's fields, as the protocol crates read a provider's.
impl Fields for Attrs<'_> {
    fn value(&self, k: &str) -> Option<&Value> {
        self.get(k)
    }

    fn present(&self, k: &str) -> bool {
        self.has(k)
    }
}

impl Attrs<'_> {
    /// A protocol crate's refusal of a field, at that field's place in the file.
    pub fn refused(&self, e: FieldError) -> At {
        let at = self.err(&e.field, e.message);
        match e.hint {
            Some(h) => at.hint(h),
            None => at,
        }
    }
}

pub fn pk_uuid(v: &Value) -> Option<Uuid> {
    v.as_str().and_then(|s| Uuid::parse_str(s).ok())
}

/// A name as a slug: ASCII letters and digits lowercased, anything else `-`.
pub fn slugish(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect()
}

/// `find` for objects with a unique key (a username, a group's name, a
/// slug): by `pk` when the identifiers give one, else by the key `field`
/// (`what`: `a user`).
fn find_by_key(
    q: &Attrs<'_>,
    field: &str,
    what: &str,
    by_id: impl Fn(Uuid) -> Option<Uuid>,
    by_key: impl Fn(&str) -> Option<Uuid>,
) -> Result<Option<Value>, At> {
    if let Some(id) = q.get("pk").and_then(pk_uuid) {
        return Ok(by_id(id).map(pk));
    }
    let Some(key) = q.str(field)? else {
        return Err(q.err(field, format!("{what} is identified by its {field}")));
    };
    Ok(by_key(&key).map(pk))
}

pub fn pk(id: Uuid) -> Value {
    Value::from(id.to_string())
}

/// One model of the mapping.
pub trait Model: Sync {
    /// authentik's name (`authentik_core.user`).
    fn name(&self) -> &'static str;
    /// Gatehouse's own name (`gatehouse.user`).
    fn gatehouse_name(&self) -> &'static str;
    /// Whether its objects are providers (stored inside their application).
    fn is_provider(&self) -> bool {
        false
    }
    /// Fields the model maps.
    fn fields(&self) -> &'static [&'static str];
    /// Fields authentik has that Gatehouse does not map, with why / what to do.
    fn unsupported(&self) -> &'static [(&'static str, &'static str)] {
        &[]
    }
    /// The primary key of the object these identifiers name, if it exists.
    fn find(&self, st: &State, q: &Attrs<'_>) -> Result<Option<Value>, At>;
    fn create(&self, cx: &mut Cx<'_>, a: &Attrs<'_>) -> Result<Value, At>;
    fn update(&self, cx: &mut Cx<'_>, pk: &Value, a: &Attrs<'_>) -> Result<(), At>;
    fn delete(&self, cx: &mut Cx<'_>, pk: &Value, a: &Attrs<'_>) -> Result<(), At>;
}

pub static REGISTRY: &[&dyn Model] = &[
    &user::UserModel,
    &group::GroupModel,
    &membership::MembershipModel,
    &application::ApplicationModel,
    &oauth2::OAuth2Model,
    &proxy::ProxyModel,
    &saml::SamlModel,
    &ldap::LdapModel,
    &binding::BindingModel,
    &token::TokenModel,
    &scope::ScopeModel,
];

/// Models authentik has and Gatehouse does not (yet), with a hint.
pub const UNSUPPORTED_MODELS: &[(&str, &str)] = &[
    (
        "authentik_flows.flow",
        "Gatehouse's sign-in flow is built in; reference flows only with !Find in authorization_flow",
    ),
    (
        "authentik_flows.flowstagebinding",
        "Gatehouse's sign-in flow is built in",
    ),
    (
        "authentik_crypto.certificatekeypair",
        "signing keys are managed with `gatehouse key`",
    ),
    (
        "authentik_policies_expression.expressionpolicy",
        "Gatehouse has no expression policies; bind groups with authentik_policies.policybinding",
    ),
    (
        "authentik_core.propertymapping",
        "Gatehouse's claims are fixed (openid, email, profile, groups, roles)",
    ),
];

pub fn lookup(name: &str) -> Option<&'static dyn Model> {
    REGISTRY
        .iter()
        .copied()
        .find(|m| m.name() == name || m.gatehouse_name() == name)
}

pub fn all_names() -> impl Iterator<Item = &'static str> {
    REGISTRY.iter().flat_map(|m| [m.name(), m.gatehouse_name()])
}

/// `!Find` on models that are not objects in Gatehouse but are commonly
/// referenced by authentik blueprints: flows, key pairs, scope mappings.
pub fn find_reference(model: &str, q: &[(String, Value)]) -> Option<Value> {
    let field = |name: &str| {
        q.iter()
            .find(|(k, _)| k == name)
            .and_then(|(_, v)| v.as_str().map(str::to_string))
    };
    match model {
        "authentik_flows.flow" => field("slug").map(|s| crate::eval::marker("flow", &s)),
        "authentik_crypto.certificatekeypair" => field("name").map(|s| crate::eval::marker("keypair", &s)),
        "authentik_providers_saml.samlpropertymapping" => field("managed")
            .or_else(|| field("name"))
            .map(|s| crate::eval::marker("samlmapping", &s)),
        _ => None,
    }
}
