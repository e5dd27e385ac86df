//! Paged listings (see `gatehouse_core::listing`): each query becomes one
//! `SELECT … LIMIT/OFFSET` and one `COUNT(*)` over the same `WHERE`, with every
//! value bound, never spliced. Membership reads for a page take one query.

use gatehouse_core::listing::{EventOrder, EventQuery, GroupQuery, Page, UserOrder, UserQuery, Window};
use gatehouse_core::{ApiToken, Event, Group, Membership, StoreError, Timestamp, User};
use sqlx::any::AnyRow;
use sqlx::{Any, AnyPool, AssertSqlSafe};
use uuid::Uuid;

use crate::error::Ctx;
use crate::rows::{self, api_token_columns, event_columns, group_columns, user_columns};
use crate::url::Backend;

/// A value bound to a placeholder.
enum Arg {
    Text(String),
    Int(i64),
}

/// A `WHERE` clause under construction, with its bound values.
#[derive(Default)]
struct Filter {
    clauses: Vec<String>,
    args: Vec<Arg>,
}

impl Filter {
    fn placeholder(&mut self, arg: Arg) -> String {
        self.args.push(arg);
        format!("${}", self.args.len())
    }

    fn eq_text(&mut self, column: &str, value: &Option<String>) {
        if let Some(v) = value {
            let p = self.placeholder(Arg::Text(v.clone()));
            self.clauses.push(format!("{column} = {p}"));
        }
    }

    fn eq_bool(&mut self, column: &str, value: Option<bool>) {
        if let Some(v) = value {
            let p = self.placeholder(Arg::Int(i64::from(v)));
            self.clauses.push(format!("{column} = {p}"));
        }
    }

    /// `IN (…)` over UUIDs; an empty set matches nothing.
    fn in_ids(&mut self, ids: &[Uuid]) -> String {
        if ids.is_empty() {
            return "(NULL)".into();
        }
        let list: Vec<String> = ids
            .iter()
            .map(|id| self.placeholder(Arg::Text(id.to_string())))
            .collect();
        format!("({})", list.join(", "))
    }

    /// Any of `columns` contains `needle`, ignoring case.
    fn search(&mut self, columns: &[&str], needle: &Option<String>) {
        let Some(needle) = needle.as_deref().filter(|n| !n.is_empty()) else {
            return;
        };
        let escaped = needle
            .to_lowercase()
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        let p = self.placeholder(Arg::Text(format!("%{escaped}%")));
        let any: Vec<String> = columns
            .iter()
            .map(|c| format!("LOWER({c}) LIKE {p} ESCAPE '\\'"))
            .collect();
        self.clauses.push(format!("({})", any.join(" OR ")));
    }

    fn where_sql(&self) -> String {
        if self.clauses.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", self.clauses.join(" AND "))
        }
    }

    fn query(&self, sql: String) -> sqlx::query::Query<'static, Any, sqlx::any::AnyArguments> {
        let mut q = sqlx::query(AssertSqlSafe(sql));
        for a in &self.args {
            q = match a {
                Arg::Text(t) => q.bind(t.clone()),
                Arg::Int(i) => q.bind(*i),
            };
        }
        q
    }

    async fn count(&self, pool: &AnyPool, table: &str, op: &'static str) -> Result<u64, StoreError> {
        let row = self
            .query(format!("SELECT COUNT(*) AS n FROM {table}{}", self.where_sql()))
            .fetch_one(pool)
            .await
            .ctx(op)?;
        let n: i64 = sqlx::Row::try_get(&row, "n").map_err(|e| StoreError::Corrupt(e.to_string()))?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    async fn page<T>(
        &self,
        pool: &AnyPool,
        select: String,
        window: Window,
        op: &'static str,
        convert: fn(&AnyRow) -> Result<T, StoreError>,
    ) -> Result<Vec<T>, StoreError> {
        // Offsets and limits are numbers we made: safe to write into the text.
        self.rows(pool, format!("{select} {}", limit_sql(window)), op, convert)
            .await
    }

    /// Every row of `sql` (which cuts its own page).
    async fn rows<T>(
        &self,
        pool: &AnyPool,
        sql: String,
        op: &'static str,
        convert: fn(&AnyRow) -> Result<T, StoreError>,
    ) -> Result<Vec<T>, StoreError> {
        let rows = self.query(sql).fetch_all(pool).await.ctx(op)?;
        rows::all(rows, convert)
    }
}

fn limit_sql(window: Window) -> String {
    format!("LIMIT {} OFFSET {}", window.limit, window.offset)
}

fn direction(descending: bool) -> &'static str {
    if descending { "DESC" } else { "ASC" }
}

/// The filter and `ORDER BY` of a user listing.
fn user_filter(q: &UserQuery) -> (Filter, String) {
    let mut f = Filter::default();
    if let Some(username) = &q.username {
        let p = f.placeholder(Arg::Text(gatehouse_core::names::name_key(username)));
        f.clauses.push(format!("username_key = {p}"));
    }
    f.eq_text("email", &q.email);
    f.eq_text("name", &q.name);
    f.eq_bool("is_active", q.is_active);
    f.eq_text("id", &q.uuid.map(|u| u.to_string()));
    f.search(&["username", "name", "email"], &q.search);
    for groups in &q.member_of_any {
        let set = f.in_ids(groups);
        f.clauses.push(format!(
            "EXISTS (SELECT 1 FROM memberships m WHERE m.user_id = users.id AND m.group_id IN {set})"
        ));
    }
    if !q.member_of_none.is_empty() {
        let set = f.in_ids(&q.member_of_none);
        f.clauses.push(format!(
            "NOT EXISTS (SELECT 1 FROM memberships m WHERE m.user_id = users.id AND m.group_id IN {set})"
        ));
    }
    let column = match q.order {
        UserOrder::Username => "username_key",
        UserOrder::Email => "email",
        UserOrder::Name => "name",
        UserOrder::IsActive => "is_active",
        UserOrder::LastLogin => "last_login",
        UserOrder::DateJoined => "created_at",
        UserOrder::Pk => "pk",
    };
    let dir = direction(q.descending);
    let order = if column == "username_key" {
        format!(" ORDER BY username_key {dir}")
    } else {
        format!(" ORDER BY {column} {dir}, username_key {dir}")
    };
    (f, order)
}

pub(crate) async fn user_page(pool: &AnyPool, q: &UserQuery) -> Result<Page<User>, StoreError> {
    let (f, order) = user_filter(q);
    let select = format!(
        concat!("SELECT ", user_columns!(), " FROM users{}{}"),
        f.where_sql(),
        order
    );
    let count = f.count(pool, "users", "count users").await?;
    let items = f.page(pool, select, q.window, "list users", rows::user).await?;
    Ok(Page { count, items })
}

/// [`user_page`] with each user's direct group ids joined into one column:
/// a page is one row per user, not one per membership on top.
pub(crate) async fn user_page_with_groups(
    pool: &AnyPool,
    backend: Backend,
    q: &UserQuery,
) -> Result<Page<(User, Vec<Uuid>)>, StoreError> {
    let (f, order) = user_filter(q);
    let joined = match backend {
        Backend::Sqlite => "group_concat(m.group_id, ',')",
        Backend::Postgres => "string_agg(m.group_id, ',')",
    };
    // The page is cut first, then each of its users gets its group ids: the
    // per-user subquery runs for the rows shown, not for every row skipped
    // on the way to a deep offset (on PostgreSQL, 4,900 of them for page 50).
    let select = format!(
        concat!(
            "SELECT ",
            user_columns!(),
            ", (SELECT {} FROM memberships m WHERE m.user_id = users.id) AS group_ids \
             FROM (SELECT * FROM users{}{} {}) AS users{}"
        ),
        joined,
        f.where_sql(),
        order,
        limit_sql(q.window),
        order
    );
    let count = f.count(pool, "users", "count users").await?;
    let items = f.rows(pool, select, "list users", user_with_groups).await?;
    Ok(Page { count, items })
}

fn user_with_groups(row: &AnyRow) -> Result<(User, Vec<Uuid>), StoreError> {
    let joined: Option<String> =
        sqlx::Row::try_get(row, "group_ids").map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let ids = joined
        .as_deref()
        .unwrap_or_default()
        .split(',')
        .filter(|s| !s.is_empty())
        .map(|s| Uuid::parse_str(s).map_err(|e| StoreError::Corrupt(format!("memberships.group_id: {e}"))))
        .collect::<Result<_, _>>()?;
    Ok((rows::user(row)?, ids))
}

pub(crate) async fn group_page(pool: &AnyPool, q: &GroupQuery) -> Result<Page<Group>, StoreError> {
    let mut f = Filter::default();
    if let Some(name) = &q.name {
        let p = f.placeholder(Arg::Text(gatehouse_core::names::name_key(name)));
        f.clauses.push(format!("name_key = {p}"));
    }
    f.search(&["name"], &q.search);
    f.eq_bool("is_superuser", q.is_superuser);
    if let Some(user) = q.with_member {
        let p = f.placeholder(Arg::Text(user.to_string()));
        f.clauses.push(format!(
            "EXISTS (SELECT 1 FROM memberships m WHERE m.group_id = groups.id AND m.user_id = {p})"
        ));
    }
    let select = format!(
        concat!("SELECT ", group_columns!(), " FROM groups{} ORDER BY name_key {}"),
        f.where_sql(),
        direction(q.descending)
    );
    let count = f.count(pool, "groups", "count groups").await?;
    let items = f.page(pool, select, q.window, "list groups", rows::group).await?;
    Ok(Page { count, items })
}

pub(crate) async fn event_page(pool: &AnyPool, q: &EventQuery) -> Result<Page<Event>, StoreError> {
    let mut f = Filter::default();
    f.eq_text("id", &q.id.map(|i| i.to_string()));
    f.eq_text("action", &q.action);
    f.eq_text("username", &q.username);
    f.eq_text("client_ip", &q.client_ip);
    let column = match q.order {
        EventOrder::Created => "seq",
        EventOrder::Action => "action",
        EventOrder::User => "username",
        EventOrder::ClientIp => "client_ip",
    };
    let dir = direction(q.descending);
    let select = format!(
        concat!("SELECT ", event_columns!(), " FROM events{} ORDER BY {} {}, seq {}"),
        f.where_sql(),
        column,
        dir,
        dir
    );
    let count = f.count(pool, "events", "count events").await?;
    let items = f.page(pool, select, q.window, "list events", rows::event).await?;
    Ok(Page { count, items })
}

pub(crate) async fn user_by_pk(pool: &AnyPool, pk: i64) -> Result<Option<User>, StoreError> {
    sqlx::query(concat!("SELECT ", user_columns!(), " FROM users WHERE pk = $1"))
        .bind(pk)
        .fetch_optional(pool)
        .await
        .ctx("read user")?
        .as_ref()
        .map(rows::user)
        .transpose()
}

pub(crate) async fn users_by_ids(pool: &AnyPool, ids: &[Uuid]) -> Result<Vec<User>, StoreError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut f = Filter::default();
    let set = f.in_ids(ids);
    let sql = format!(
        concat!("SELECT ", user_columns!(), " FROM users WHERE id IN {} ORDER BY pk"),
        set
    );
    let rows = f.query(sql).fetch_all(pool).await.ctx("read users")?;
    rows::all(rows, rows::user)
}

/// Direct memberships whose `column` (`user_id` or `group_id`) is one of `ids`.
pub(crate) async fn memberships_of(pool: &AnyPool, by_user: bool, ids: &[Uuid]) -> Result<Vec<Membership>, StoreError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut f = Filter::default();
    let set = f.in_ids(ids);
    let column = if by_user { "user_id" } else { "group_id" };
    let sql = format!("SELECT user_id, group_id FROM memberships WHERE {column} IN {set}");
    let rows = f.query(sql).fetch_all(pool).await.ctx("read memberships")?;
    rows::all(rows, rows::membership)
}

pub(crate) async fn api_token_by_hash(pool: &AnyPool, token_hash: &str) -> Result<Option<ApiToken>, StoreError> {
    sqlx::query(concat!(
        "SELECT ",
        api_token_columns!(),
        " FROM api_tokens WHERE token_hash = $1"
    ))
    .bind(token_hash.to_string())
    .fetch_optional(pool)
    .await
    .ctx("read API token")?
    .as_ref()
    .map(rows::api_token)
    .transpose()
}

pub(crate) async fn touch_api_token(pool: &AnyPool, id: Uuid, at: Timestamp) -> Result<(), StoreError> {
    sqlx::query("UPDATE api_tokens SET last_used = $1 WHERE id = $2")
        .bind(at.millis())
        .bind(id.to_string())
        .execute(pool)
        .await
        .ctx("record API token use")?;
    Ok(())
}
