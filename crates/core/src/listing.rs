//! Filtered, ordered, paged listings (the REST API's lists): what the caller
//! asks for, in the domain's words. The store turns each query into one SQL
//! statement and a count, so a page of 100 out of 10,000 users reads 100 rows.

use uuid::Uuid;

/// Which slice of a listing, by offset: page `n` of size `s` is `(n-1)*s`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Window {
    pub offset: u64,
    pub limit: u32,
}

impl Default for Window {
    fn default() -> Self {
        Window { offset: 0, limit: 100 }
    }
}

/// One page of a listing and how many rows match in all.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub count: u64,
    pub items: Vec<T>,
}

/// The field a user listing is ordered by (then by username, for stability).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum UserOrder {
    #[default]
    Username,
    Email,
    Name,
    IsActive,
    LastLogin,
    DateJoined,
    Pk,
}

impl UserOrder {
    /// authentik's ordering names (`username`, `date_joined`…).
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "username" => UserOrder::Username,
            "email" => UserOrder::Email,
            "name" => UserOrder::Name,
            "is_active" => UserOrder::IsActive,
            "last_login" => UserOrder::LastLogin,
            "date_joined" => UserOrder::DateJoined,
            "pk" | "id" => UserOrder::Pk,
            _ => return None,
        })
    }
}

/// Which users to list. Text filters are exact; `search` matches part of the
/// username, name or email, ignoring case.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct UserQuery {
    pub username: Option<String>,
    pub email: Option<String>,
    pub name: Option<String>,
    pub is_active: Option<bool>,
    pub uuid: Option<Uuid>,
    pub search: Option<String>,
    /// Each entry: the user must be a direct member of at least one of these groups.
    pub member_of_any: Vec<Vec<Uuid>>,
    /// The user must be a direct member of none of these groups.
    pub member_of_none: Vec<Uuid>,
    pub order: UserOrder,
    pub descending: bool,
    pub window: Window,
}

/// Which groups to list.
#[derive(Debug, Clone, Default)]
pub struct GroupQuery {
    pub name: Option<String>,
    pub search: Option<String>,
    /// The group's own superuser flag.
    pub is_superuser: Option<bool>,
    /// Groups this user is a direct member of.
    pub with_member: Option<Uuid>,
    pub descending: bool,
    pub window: Window,
}

/// The field an event listing is ordered by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EventOrder {
    #[default]
    Created,
    Action,
    User,
    ClientIp,
}

impl EventOrder {
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "created" | "timestamp" => EventOrder::Created,
            "action" => EventOrder::Action,
            "user" | "username" => EventOrder::User,
            "client_ip" => EventOrder::ClientIp,
            _ => return None,
        })
    }
}

/// Which audit events to list (newest first by default).
#[derive(Debug, Clone)]
pub struct EventQuery {
    pub id: Option<Uuid>,
    pub action: Option<String>,
    pub username: Option<String>,
    pub client_ip: Option<String>,
    pub order: EventOrder,
    pub descending: bool,
    pub window: Window,
}

impl Default for EventQuery {
    fn default() -> Self {
        EventQuery {
            id: None,
            action: None,
            username: None,
            client_ip: None,
            order: EventOrder::Created,
            descending: true,
            window: Window::default(),
        }
    }
}
