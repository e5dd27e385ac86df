//! `authentik_core.token` / `gatehouse.token`: API tokens. The key is stored
//! as its SHA-256, so a blueprint must give it (`key: !Env MY_TOKEN`).

use gatehouse_core::ApiToken;
use serde_json::Value;
use uuid::Uuid;

use super::{Attrs, Cx, Model, pk, pk_uuid};
use crate::error::At;
use crate::state::{State, TokenRec};

pub struct TokenModel;

fn find_ident(st: &State, ident: &str) -> Option<usize> {
    st.tokens.iter().position(|t| t.live && t.token.identifier == ident)
}

fn apply(cx: &mut Cx<'_>, i: usize, a: &Attrs<'_>) -> Result<(), At> {
    if let Some(u) = a.uuid("user")? {
        if cx.st.user_id(u).is_none() {
            return Err(a.err("user", "user: the referenced user does not exist"));
        }
        cx.st.tokens[i].token.user_id = u;
    }
    if let Some(intent) = a.str("intent")? {
        if intent != "api" && intent != "app_password" {
            return Err(a
                .err("intent", format!("intent '{intent}' is not supported"))
                .hint("api or app_password"));
        }
        cx.st.tokens[i].token.intent = intent;
    }
    if let Some(key) = a.str("key")? {
        if key.is_empty() {
            return Err(a.err("key", "key: must not be empty"));
        }
        cx.st.tokens[i].token.token_hash = gatehouse_crypto::sha256_hex(key.as_bytes());
    }
    match (a.bool("expiring")?, a.str("expires")?) {
        (Some(false), _) => cx.st.tokens[i].token.expires_at = None,
        (_, Some(t)) => {
            let at = gatehouse_core::Timestamp::parse_since(&t, cx.now)
                .ok_or_else(|| a.err("expires", "expires: an RFC 3339 time"))?;
            cx.st.tokens[i].token.expires_at = Some(at);
        }
        _ => {}
    }
    Ok(())
}

impl Model for TokenModel {
    fn name(&self) -> &'static str {
        "authentik_core.token"
    }
    fn gatehouse_name(&self) -> &'static str {
        "gatehouse.token"
    }
    fn fields(&self) -> &'static [&'static str] {
        &["identifier", "user", "intent", "key", "expiring", "expires"]
    }
    fn unsupported(&self) -> &'static [(&'static str, &'static str)] {
        &[("description", "Gatehouse tokens have an identifier only")]
    }
    fn find(&self, st: &State, q: &Attrs<'_>) -> Result<Option<Value>, At> {
        let ident = q
            .str("identifier")?
            .ok_or_else(|| q.err("identifier", "a token is identified by its identifier"))?;
        Ok(find_ident(st, &ident).map(|i| pk(st.tokens[i].token.id)))
    }
    fn create(&self, cx: &mut Cx<'_>, a: &Attrs<'_>) -> Result<Value, At> {
        let identifier = a
            .str("identifier")?
            .ok_or_else(|| a.err("identifier", "a new token needs an identifier"))?;
        if a.str("key")?.is_none() {
            return Err(a
                .err("key", "a new token needs its key")
                .hint("key: !Env MY_TOKEN (Gatehouse stores only its SHA-256)"));
        }
        if a.uuid("user")?.is_none() {
            return Err(a.err("user", "a new token needs a user"));
        }
        let token = ApiToken {
            id: Uuid::new_v4(),
            identifier,
            user_id: Uuid::nil(),
            intent: "api".into(),
            token_hash: String::new(),
            created_at: cx.now,
            expires_at: None,
            description: String::new(),
            last_used: None,
        };
        let id = token.id;
        cx.st.tokens.push(TokenRec { token, live: true });
        let i = cx.st.tokens.len() - 1;
        apply(cx, i, a)?;
        Ok(pk(id))
    }
    fn update(&self, cx: &mut Cx<'_>, pkv: &Value, a: &Attrs<'_>) -> Result<(), At> {
        let id = pk_uuid(pkv).ok_or_else(|| a.err("identifier", "bad token reference"))?;
        let i = cx
            .st
            .tokens
            .iter()
            .position(|t| t.live && t.token.id == id)
            .ok_or_else(|| a.err("identifier", "the token no longer exists"))?;
        apply(cx, i, a)
    }
    fn delete(&self, cx: &mut Cx<'_>, pkv: &Value, _a: &Attrs<'_>) -> Result<(), At> {
        let id = pk_uuid(pkv);
        for t in &mut cx.st.tokens {
            if Some(t.token.id) == id {
                t.live = false;
            }
        }
        Ok(())
    }
}
