//! The plan's steps: the state after the blueprints compared with the state
//! before, model by model, in an order the database accepts (creations
//! parents first, removals dependents first), each step with its change for
//! people.
//!
//! [`people`] diffs groups, users and memberships; [`apps`] applications,
//! bindings and API tokens.

mod apps;
mod people;

use std::collections::HashMap;

use gatehouse_core::Timestamp;
use serde::Serialize;
use serde_json::Value;

use super::{Change, Plan, Secrets};
use crate::state::State;
use crate::steps::{Op, Step};

/// One field of an update (or of a creation, `from` null), secrets masked.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct FieldChange {
    pub field: String,
    pub from: Value,
    pub to: Value,
}

fn fc(field: &str, from: impl Into<Value>, to: impl Into<Value>) -> FieldChange {
    FieldChange {
        field: field.into(),
        from: from.into(),
        to: to.into(),
    }
}

/// Adds the field's change when `old` and `new` differ.
fn compare<T: PartialEq + Clone + Into<Value>>(out: &mut Vec<FieldChange>, field: &str, old: &T, new: &T) {
    if old != new {
        out.push(fc(field, old.clone(), new.clone()));
    }
}

fn field_names(fields: &[FieldChange]) -> Vec<String> {
    fields.iter().map(|x| x.field.clone()).collect()
}

/// The steps and changes being gathered, and what they are gathered from.
struct Diff<'p> {
    before: &'p State,
    after: &'p State,
    secrets: &'p Secrets,
    now: Timestamp,
    origins: &'p HashMap<String, String>,
    steps: Vec<Step>,
    changes: Vec<Change>,
}

impl Diff<'_> {
    /// Adds a step and its change; `origin` is the object's key in the plan's
    /// origins (the entry responsible).
    fn push(
        &mut self,
        op: Op,
        action: &'static str,
        model: &'static str,
        name: String,
        fields: Vec<FieldChange>,
        origin: &str,
    ) {
        let origin = self.origins.get(origin).cloned().unwrap_or_default();
        self.steps.push(Step {
            op,
            origin: origin.clone(),
        });
        self.changes.push(Change {
            action,
            model,
            name,
            fields,
            origin,
        });
    }
}

impl Plan {
    /// The steps, in an order the database accepts, with their changes for people.
    pub fn steps(&self, secrets: &Secrets) -> (Vec<Step>, Vec<Change>) {
        let mut d = Diff {
            before: &self.before,
            after: &self.after,
            secrets,
            now: self.now,
            origins: &self.origins,
            steps: Vec::new(),
            changes: Vec::new(),
        };
        d.created_groups();
        d.updated_groups();
        d.users();
        d.added_memberships();
        d.applications();
        d.added_bindings();
        d.tokens();
        // Removals, dependents first.
        d.removed_tokens();
        d.removed_bindings();
        d.removed_memberships();
        d.removed_applications();
        d.removed_users();
        d.removed_groups();
        (d.steps, d.changes)
    }
}
