//! The shapes of users and groups as authentik 2026.8 serves them (the
//! `authentik-client` package's models are the reference): every field its
//! client requires is present, nullable ones as `null`.

use gatehouse_core::pages::{GroupRow, UserRow};
use gatehouse_core::{Group as CoreGroup, Timestamp, User as CoreUser};
use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;
use uuid::Uuid;

/// RFC 3339, as authentik's datetimes.
pub fn ts(t: Timestamp) -> String {
    t.to_rfc3339()
}

/// A JSON object (attributes), `{}` for anything else.
pub fn object(v: &Value) -> Map<String, Value> {
    v.as_object().cloned().unwrap_or_default()
}

/// The avatar authentik shows when none is configured.
pub const DEFAULT_AVATAR: &str = "/static/dist/assets/images/user_default.png";

#[derive(Debug, Serialize, ToSchema)]
pub struct Role {
    pub pk: Uuid,
    pub name: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PartialGroup {
    pub pk: Uuid,
    pub num_pk: i64,
    pub name: String,
    pub is_superuser: bool,
    pub attributes: Map<String, Value>,
}

impl PartialGroup {
    pub fn from(g: &CoreGroup) -> Self {
        PartialGroup {
            pk: g.id,
            num_pk: g.pk,
            name: g.name.clone(),
            is_superuser: g.is_superuser,
            attributes: object(&g.attributes),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct User {
    pub pk: i64,
    pub username: String,
    pub name: String,
    pub is_active: bool,
    #[schema(format = DateTime)]
    pub last_login: Option<String>,
    #[schema(format = DateTime)]
    pub date_joined: String,
    pub is_superuser: bool,
    pub groups: Vec<Uuid>,
    /// `null` when the listing was asked without groups (`include_groups=false`).
    pub groups_obj: Option<Vec<PartialGroup>>,
    pub roles: Vec<Uuid>,
    pub roles_obj: Option<Vec<Role>>,
    pub email: String,
    pub avatar: String,
    pub attributes: Map<String, Value>,
    pub uid: String,
    pub path: String,
    #[serde(rename = "type")]
    pub type_: String,
    pub uuid: Uuid,
    #[schema(format = DateTime)]
    pub password_change_date: String,
    #[schema(format = DateTime)]
    pub last_updated: String,
}

impl User {
    pub fn from(row: &UserRow, with_groups: bool) -> Self {
        let u = &row.user;
        let changed = u.password_changed_at.unwrap_or(u.created_at);
        let updated = [Some(u.created_at), u.password_changed_at, u.last_login]
            .into_iter()
            .flatten()
            .max()
            .unwrap_or(u.created_at);
        User {
            pk: u.pk,
            username: u.username.clone(),
            name: u.name.clone(),
            is_active: u.is_active,
            last_login: u.last_login.map(ts),
            date_joined: ts(u.created_at),
            is_superuser: row.is_superuser,
            groups: row.groups.iter().map(|g| g.id).collect(),
            groups_obj: with_groups.then(|| row.groups.iter().map(PartialGroup::from).collect()),
            roles: Vec::new(),
            roles_obj: with_groups.then(Vec::new),
            email: u.email.clone(),
            avatar: DEFAULT_AVATAR.into(),
            attributes: object(&u.attributes),
            uid: u.hashed_uid(),
            path: "users".into(),
            type_: "internal".into(),
            uuid: u.id,
            password_change_date: ts(changed),
            last_updated: ts(updated),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PartialUser {
    pub pk: i64,
    pub username: String,
    pub name: String,
    pub is_active: bool,
    #[schema(format = DateTime)]
    pub last_login: Option<String>,
    pub email: String,
    pub attributes: Map<String, Value>,
    pub uid: String,
}

impl PartialUser {
    pub fn from(u: &CoreUser) -> Self {
        PartialUser {
            pk: u.pk,
            username: u.username.clone(),
            name: u.name.clone(),
            is_active: u.is_active,
            last_login: u.last_login.map(ts),
            email: u.email.clone(),
            attributes: object(&u.attributes),
            uid: u.hashed_uid(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RelatedGroup {
    pub pk: Uuid,
    pub name: String,
    pub is_superuser: bool,
    pub attributes: Map<String, Value>,
    pub group_uuid: Uuid,
}

impl RelatedGroup {
    fn from(g: &CoreGroup) -> Self {
        RelatedGroup {
            pk: g.id,
            name: g.name.clone(),
            is_superuser: g.is_superuser,
            attributes: object(&g.attributes),
            group_uuid: g.id,
        }
    }
}

/// What of a group to include (authentik's `include_*` parameters).
#[derive(Debug, Clone, Copy)]
pub struct GroupIncludes {
    pub users: bool,
    pub children: bool,
    pub parents: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Group {
    pub pk: Uuid,
    pub num_pk: i64,
    pub name: String,
    pub is_superuser: bool,
    /// Gatehouse groups have at most one parent.
    pub parents: Vec<Uuid>,
    pub parents_obj: Option<Vec<RelatedGroup>>,
    /// Direct members, by `pk` (listed only with `include_users=true`).
    pub users: Vec<i64>,
    pub users_obj: Option<Vec<PartialUser>>,
    pub attributes: Map<String, Value>,
    pub roles: Vec<Uuid>,
    pub roles_obj: Vec<Role>,
    pub inherited_roles_obj: Option<Vec<Role>>,
    pub children: Vec<Uuid>,
    pub children_obj: Option<Vec<RelatedGroup>>,
}

impl Group {
    pub fn from(row: &GroupRow, inc: GroupIncludes) -> Self {
        let g = &row.group;
        Group {
            pk: g.id,
            num_pk: g.pk,
            name: g.name.clone(),
            is_superuser: g.is_superuser,
            parents: row.parent.iter().map(|p| p.id).collect(),
            parents_obj: inc.parents.then(|| row.parent.iter().map(RelatedGroup::from).collect()),
            users: row.members.iter().map(|u| u.pk).collect(),
            users_obj: inc.users.then(|| row.members.iter().map(PartialUser::from).collect()),
            attributes: object(&g.attributes),
            roles: Vec::new(),
            roles_obj: Vec::new(),
            inherited_roles_obj: None,
            children: row.children.iter().map(|c| c.id).collect(),
            children_obj: inc
                .children
                .then(|| row.children.iter().map(RelatedGroup::from).collect()),
        }
    }
}
