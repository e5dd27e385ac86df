//! `core/tokens/`: API tokens. A user sees and manages their own; a
//! superuser everyone's. The key is returned once, in the create response
//! (`key`): Gatehouse stores only its SHA-256, so `view_key/` cannot show it
//! later (a documented departure from authentik, which stores keys).

use axum::Json;
use axum::extract::Path;
use axum::http::StatusCode;
use gatehouse_core::ApiToken;
use gatehouse_core::clock::Timestamp;
use gatehouse_core::tokens::NewToken;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::input::{Body, Params};
use crate::models::{User, ts};
use crate::paging::{PageParams, paginated};

paginated!(PaginatedTokenList, Token);

#[derive(Debug, Serialize, ToSchema)]
pub struct Token {
    pub pk: Uuid,
    pub managed: Option<String>,
    pub identifier: String,
    pub intent: String,
    pub user: i64,
    pub user_obj: User,
    pub description: String,
    #[schema(format = DateTime)]
    pub expires: Option<String>,
    pub expiring: bool,
    /// Gatehouse: when the token last authenticated a request.
    #[schema(format = DateTime)]
    pub last_used: Option<String>,
}

/// The create response: the token and, this once, its key.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenCreated {
    #[serde(flatten)]
    pub token: Token,
    pub key: String,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct TokenRequest {
    pub identifier: String,
    pub intent: Option<String>,
    /// The owner's `pk`; a non-superuser can only create their own.
    pub user: Option<i64>,
    pub description: Option<String>,
    #[schema(format = DateTime)]
    pub expires: Option<String>,
    pub expiring: Option<bool>,
}

async fn render(c: &Caller, t: &ApiToken) -> ApiResult<Token> {
    let owner = c.dir.users().by_id(t.user_id).await?.ok_or(ApiError::NotFound)?;
    let row = c.dir.users().row(owner).await?;
    Ok(Token {
        pk: t.id,
        managed: None,
        identifier: t.identifier.clone(),
        intent: t.intent.clone(),
        user: row.user.pk,
        user_obj: User::from(&row, true),
        description: t.description.clone(),
        expires: t.expires_at.map(ts),
        expiring: t.expires_at.is_some(),
        last_used: t.last_used.map(ts),
    })
}

#[utoipa::path(get, path = "/core/tokens/", operation_id = "core_tokens_list", tag = "core",
    params(("page" = Option<i64>, Query), ("page_size" = Option<i64>, Query), ("search" = Option<String>, Query),
        ("identifier" = Option<String>, Query), ("intent" = Option<String>, Query),
        ("user__username" = Option<String>, Query), ("description" = Option<String>, Query)),
    responses((status = 200, body = PaginatedTokenList), (status = 403), (status = 404)))]
pub async fn list(c: Caller, params: Params) -> ApiResult<Json<PaginatedTokenList>> {
    let page = PageParams::from(&params)?;
    let mut tokens = c.dir.tokens().list(c.owner_filter()).await?;
    let owner = match params.get("user__username") {
        Some(name) => Some(c.dir.users().get(name).await.map(|u| u.id).unwrap_or(Uuid::nil())),
        None => None,
    };
    let search = page.search.as_deref().map(str::to_lowercase);
    tokens.retain(|t| {
        params.get("identifier").is_none_or(|i| i == t.identifier)
            && params.get("intent").is_none_or(|i| i == t.intent)
            && params.get("description").is_none_or(|d| d == t.description)
            && owner.is_none_or(|o| o == t.user_id)
            && search
                .as_deref()
                .is_none_or(|s| t.identifier.to_lowercase().contains(s) || t.description.to_lowercase().contains(s))
    });
    let slice = page.slice(tokens);
    let mut results = Vec::with_capacity(slice.items.len());
    for t in &slice.items {
        results.push(render(&c, t).await?);
    }
    Ok(Json(PaginatedTokenList::new(&page, slice.count, results)?))
}

async fn find(c: &Caller, identifier: &str) -> ApiResult<ApiToken> {
    let token = c.dir.tokens().get(identifier).await?;
    if c.owner_filter().is_some_and(|me| me != token.user_id) {
        return Err(ApiError::NotFound);
    }
    Ok(token)
}

#[utoipa::path(get, path = "/core/tokens/{identifier}/", operation_id = "core_tokens_retrieve", tag = "core",
    params(("identifier" = String, Path)), responses((status = 200, body = Token), (status = 403), (status = 404)))]
pub async fn retrieve(c: Caller, Path(identifier): Path<String>) -> ApiResult<Json<Token>> {
    let token = find(&c, &identifier).await?;
    Ok(Json(render(&c, &token).await?))
}

/// Create a token; the response carries its `key`, shown only this once.
#[utoipa::path(post, path = "/core/tokens/", operation_id = "core_tokens_create", tag = "core",
    request_body = TokenRequest, responses((status = 201, body = TokenCreated), (status = 400), (status = 403)))]
pub async fn create(c: Caller, Body(req): Body<TokenRequest>) -> ApiResult<(StatusCode, Json<TokenCreated>)> {
    let owner = match req.user {
        Some(pk) if pk != c.user.pk => {
            c.require_superuser()?;
            c.dir
                .users()
                .by_pk(pk)
                .await
                .map_err(|_| ApiError::field("user", format!("Invalid pk \"{pk}\" - object does not exist.")))?
                .user
        }
        _ => c.user.clone(),
    };
    let expires_at = match (req.expiring, req.expires.as_deref()) {
        (Some(false), _) | (None, None) => None,
        (_, Some(text)) => Some(
            Timestamp::parse_since(text, c.dir.now())
                .filter(|_| text.contains('T'))
                .ok_or_else(|| ApiError::field("expires", "Datetime has wrong format. Use RFC 3339."))?,
        ),
        // authentik's default for an expiring token without a date: 30 minutes.
        (Some(true), None) => Some(c.dir.now().plus_seconds(30 * 60)),
    };
    let new = NewToken {
        identifier: Some(req.identifier),
        username: owner.username,
        intent: req.intent,
        description: req.description.unwrap_or_default(),
        expires_at,
    };
    let (key, token) = c.dir.tokens().create(c.audit(), new).await?;
    let token = render(&c, &token).await?;
    Ok((StatusCode::CREATED, Json(TokenCreated { token, key })))
}

#[utoipa::path(delete, path = "/core/tokens/{identifier}/", operation_id = "core_tokens_destroy", tag = "core",
    params(("identifier" = String, Path)), responses((status = 204), (status = 403), (status = 404)))]
pub async fn destroy(c: Caller, Path(identifier): Path<String>) -> ApiResult<StatusCode> {
    let token = find(&c, &identifier).await?;
    c.dir
        .tokens()
        .revoke(c.audit(), &token.identifier, c.owner_filter())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Gatehouse stores only a hash of each key, so it cannot show one again: 403.
#[utoipa::path(get, path = "/core/tokens/{identifier}/view_key/", operation_id = "core_tokens_view_key_retrieve",
    tag = "core", params(("identifier" = String, Path)), responses((status = 403), (status = 404)))]
pub async fn view_key(c: Caller, Path(identifier): Path<String>) -> ApiResult<StatusCode> {
    find(&c, &identifier).await?;
    Err(ApiError::Forbidden(
        "Gatehouse stores only a hash of each token key, so a key cannot be shown again: it is shown once, \
         in the response that creates the token (`key`) or by `gatehouse token create`. Create a new token \
         and revoke this one."
            .into(),
    ))
}
