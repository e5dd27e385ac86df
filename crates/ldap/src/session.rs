//! One connection's state machine: a request comes in, responses and the
//! connection's next step come out (carry on, upgrade to TLS, close). The
//! listener owns the socket; this owns who is bound and the paged searches.

use std::net::IpAddr;
use std::sync::Arc;

use ldap3_proto::control::LdapControl;
use ldap3_proto::proto::{
    LdapBindCred, LdapBindRequest, LdapBindResponse, LdapCompareRequest, LdapExtendedRequest, LdapExtendedResponse,
    LdapMsg, LdapOp, LdapResult, LdapResultCode, LdapSearchRequest, LdapSearchScope,
};
use tokio::sync::Semaphore;
use uuid::Uuid;

use crate::backend::Backend;
use crate::bind::{BindAttempt, BindVerdict, KnownUser, TargetError, resolve_target, split_code};
use crate::dn::Dn;
use crate::dse::{OID_START_TLS, OID_WHOAMI, SUBSCHEMA_DN};
use crate::filter::{self, Truth};
use crate::search::{self, LdapError, Pager, SearchLimits, SearchOutput, Visibility, success};
use crate::snapshot::{AppView, Snapshot, SnapshotCell};

/// What every connection shares.
pub struct Shared {
    pub backend: Arc<dyn Backend>,
    pub snapshots: Arc<SnapshotCell>,
    pub limits: SearchLimits,
    /// Binds waiting for or running a password check, server-wide; past it a
    /// bind is answered `busy` at once instead of queueing without bound.
    pub binds: Arc<Semaphore>,
    /// Whether StartTLS can be offered (a certificate is configured).
    pub tls_available: bool,
}

/// What the listener does after sending the replies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    Continue,
    /// Wrap the connection in TLS (the StartTLS response is the last plain message).
    StartTls,
    Close,
}

#[derive(Debug)]
pub struct Reply {
    pub messages: Vec<LdapMsg>,
    pub next: Next,
}

impl Reply {
    fn one(msg: LdapMsg) -> Reply {
        Reply {
            messages: vec![msg],
            next: Next::Continue,
        }
    }

    fn none() -> Reply {
        Reply {
            messages: Vec::new(),
            next: Next::Continue,
        }
    }
}

#[derive(Debug, Clone)]
struct Bound {
    app: Uuid,
    username: String,
    dn: String,
}

pub struct Session {
    peer: Option<IpAddr>,
    tls: bool,
    bound: Option<Bound>,
    pager: Pager,
}

fn result(code: LdapResultCode, message: impl Into<String>) -> LdapResult {
    LdapResult {
        code,
        matcheddn: String::new(),
        message: message.into(),
        referral: Vec::new(),
    }
}

/// The message ending a connection on a protocol error (RFC 4511 §4.4.1).
pub fn disconnection(code: LdapResultCode, message: &str) -> LdapMsg {
    LdapMsg::new(
        0,
        LdapOp::ExtendedResponse(LdapExtendedResponse {
            res: result(code, message),
            name: Some(crate::dse::OID_NOTICE_OF_DISCONNECTION.to_string()),
            value: None,
        }),
    )
}

fn op_name(op: &LdapOp) -> &'static str {
    match op {
        LdapOp::BindRequest(_) => "bind",
        LdapOp::SearchRequest(_) => "search",
        LdapOp::CompareRequest(_) => "compare",
        LdapOp::ExtendedRequest(_) => "extended",
        LdapOp::UnbindRequest => "unbind",
        LdapOp::AbandonRequest(_) => "abandon",
        _ => "other",
    }
}

impl Session {
    pub fn new(peer: Option<IpAddr>, tls: bool) -> Session {
        Session {
            peer,
            tls,
            bound: None,
            pager: Pager::default(),
        }
    }

    pub fn set_tls(&mut self) {
        self.tls = true;
    }

    /// Answers one request.
    pub async fn handle(&mut self, shared: &Shared, msg: LdapMsg) -> Reply {
        let id = msg.msgid;
        let op = op_name(&msg.op);
        let reply = match msg.op {
            LdapOp::BindRequest(req) => {
                let res = self.bind(shared, req).await;
                Reply::one(LdapMsg::new(
                    id,
                    LdapOp::BindResponse(LdapBindResponse { res, saslcreds: None }),
                ))
            }
            LdapOp::UnbindRequest => Reply {
                messages: Vec::new(),
                next: Next::Close,
            },
            LdapOp::SearchRequest(req) => self.search(shared, id, &req, &msg.ctrl),
            LdapOp::CompareRequest(req) => {
                Reply::one(LdapMsg::new(id, LdapOp::CompareResult(self.compare(shared, &req))))
            }
            // Requests are answered in order, so there is never one to abandon.
            LdapOp::AbandonRequest(_) => Reply::none(),
            LdapOp::ExtendedRequest(req) => self.extended(shared, id, &req),
            LdapOp::AddRequest(_) => Reply::one(LdapMsg::new(id, LdapOp::AddResponse(read_only()))),
            LdapOp::ModifyRequest(_) => Reply::one(LdapMsg::new(id, LdapOp::ModifyResponse(read_only()))),
            LdapOp::DelRequest(_) => Reply::one(LdapMsg::new(id, LdapOp::DelResponse(read_only()))),
            LdapOp::ModifyDNRequest(_) => Reply::one(LdapMsg::new(id, LdapOp::ModifyDNResponse(read_only()))),
            // A response or intermediate message from a client is a protocol error.
            _ => Reply {
                messages: vec![disconnection(
                    LdapResultCode::ProtocolError,
                    "unexpected message from a client",
                )],
                next: Next::Close,
            },
        };
        if let Some(done) = reply.messages.last() {
            count_operation(op, result_name(done));
        }
        reply
    }

    async fn bind(&mut self, shared: &Shared, req: LdapBindRequest) -> LdapResult {
        // A bind always starts over: a failed one leaves the connection anonymous.
        self.bound = None;
        self.pager.clear();
        if req.version != 3 {
            return result(LdapResultCode::ProtocolError, "only LDAP version 3 is supported");
        }
        let LdapBindCred::Simple(password) = &req.cred else {
            return result(LdapResultCode::AuthMethodNotSupported, "only simple bind is supported");
        };
        match (req.dn.trim().is_empty(), password.is_empty()) {
            (true, true) => {
                return result(
                    LdapResultCode::InappropriateAuthentication,
                    "anonymous bind is disabled",
                );
            }
            // RFC 4513 §5.1.2: an unauthenticated bind must not pass as a sign-in.
            (false, true) => return result(LdapResultCode::UnwillingToPerform, "a bind needs a password"),
            (true, false) => return result(LdapResultCode::InvalidCredentials, "invalid credentials"),
            (false, false) => {}
        }
        let snapshot = shared.snapshots.load();
        let (view, username) = match resolve_target(&snapshot, &req.dn) {
            Ok(t) => t,
            Err(TargetError::Ambiguous) => {
                return result(
                    LdapResultCode::InvalidCredentials,
                    "several LDAP applications: bind with the full DN (cn=USER,ou=users,BASE)",
                );
            }
            Err(TargetError::Unknown) => return result(LdapResultCode::InvalidCredentials, "invalid credentials"),
        };
        let Ok(_permit) = shared.binds.clone().try_acquire_owned() else {
            return result(LdapResultCode::Busy, "too many binds in progress; try again");
        };
        let (password, code) = split_code(password);
        let known = view.user(&username).map(|u| KnownUser {
            id: u.id,
            allowed: u.allowed,
            groups: &snapshot.groups.groups,
            memberships: snapshot.groups.memberships.get(&u.id).map_or(&[], Vec::as_slice),
        });
        let attempt = BindAttempt {
            app: &view.app,
            config: &view.config,
            username: &username,
            password,
            code,
            client_ip: self.peer.map(|ip| ip.to_string()),
            known,
        };
        match shared.backend.bind(attempt).await {
            Ok(verdict) => {
                if let BindVerdict::Accepted { username } = &verdict {
                    self.bound = Some(Bound {
                        app: view.app.id,
                        dn: view.tree.user_dn(username),
                        username: username.clone(),
                    });
                }
                let (code, message) = verdict.answer();
                result(code, message)
            }
            Err(e) => {
                tracing::warn!(error = %e, "LDAP bind could not be decided");
                result(LdapResultCode::Unavailable, "the directory is unavailable; try again")
            }
        }
    }

    /// The bound account's application, and what it may see there.
    fn access(&self, snapshot: &Snapshot) -> Result<(Arc<AppView>, Visibility), LdapError> {
        let bound = self.bound.as_ref().ok_or_else(|| {
            LdapError::new(
                LdapResultCode::InsufficentAccessRights,
                "anonymous search is disabled; bind first",
            )
        })?;
        let view = snapshot.app_by_id(bound.app).ok_or_else(|| {
            LdapError::new(
                LdapResultCode::InsufficentAccessRights,
                "the application bound to is gone",
            )
        })?;
        let user = view
            .user(&bound.username)
            .filter(|u| u.active && u.allowed)
            .ok_or_else(|| {
                LdapError::new(
                    LdapResultCode::InsufficentAccessRights,
                    "the bound account may no longer use this directory",
                )
            })?;
        let visibility = if user.may_search {
            Visibility::All
        } else {
            Visibility::Own(user.entry)
        };
        Ok((view.clone(), visibility))
    }

    fn search(&mut self, shared: &Shared, id: i32, req: &LdapSearchRequest, controls: &[LdapControl]) -> Reply {
        let snapshot = shared.snapshots.load();
        let paging = controls.iter().find_map(|c| match c {
            LdapControl::SimplePagedResults { size, cookie } => {
                Some((usize::try_from(*size).unwrap_or(0), cookie.clone()))
            }
            _ => None,
        });
        let paged = paging.is_some();
        let out = match unsupported_critical(controls) {
            Some(e) => Err(e),
            None => self.run_search(shared, &snapshot, req, paging),
        };
        let (entries, done, cookie) = match out {
            Ok(SearchOutput {
                entries,
                result,
                cookie,
            }) => (entries, result, cookie),
            Err(e) => (Vec::new(), e.result(), paged.then(Vec::new)),
        };
        let mut messages: Vec<LdapMsg> = entries
            .into_iter()
            .map(|e| LdapMsg::new(id, LdapOp::SearchResultEntry(e)))
            .collect();
        let ctrl = cookie.map_or_else(Vec::new, |cookie| {
            vec![LdapControl::SimplePagedResults { size: 0, cookie }]
        });
        messages.push(LdapMsg::new_with_ctrls(id, LdapOp::SearchResultDone(done), ctrl));
        Reply {
            messages,
            next: Next::Continue,
        }
    }

    fn run_search(
        &mut self,
        shared: &Shared,
        snapshot: &Arc<Snapshot>,
        req: &LdapSearchRequest,
        paging: Option<(usize, Vec<u8>)>,
    ) -> Result<SearchOutput, LdapError> {
        // The next page of a paged search comes from the snapshot its first
        // page was read from, checked then (RFC 2696: one result set).
        if let Some((size, cookie)) = paging.as_ref().filter(|(_, c)| !c.is_empty()) {
            return self.pager.page(req, *size, cookie, &shared.limits, || {
                Err(LdapError::new(LdapResultCode::Other, "paged search lost"))
            });
        }
        let base =
            Dn::parse(&req.base).map_err(|_| LdapError::new(LdapResultCode::InvalidDNSyntax, "invalid base DN"))?;
        if req.scope == LdapSearchScope::Base && (base.is_root() || base.normalized() == SUBSCHEMA_DN) {
            let entry = if base.is_root() {
                &snapshot.root_dse
            } else {
                &snapshot.subschema
            };
            let selection = crate::entry::Selection::new(&req.attrs, req.typesonly);
            let entries = if filter::matches(&req.filter, entry) {
                vec![entry.to_result(&selection)]
            } else {
                Vec::new()
            };
            return Ok(SearchOutput {
                entries,
                result: success(),
                cookie: paging.map(|_| Vec::new()),
            });
        }
        let (view, visibility) = self.access(snapshot)?;
        // A search from the root goes to the bound application's tree.
        let (base, scope) = if base.is_root() {
            let scope = if req.scope == LdapSearchScope::OneLevel {
                LdapSearchScope::Base
            } else {
                req.scope.clone()
            };
            (view.tree.base().clone(), scope)
        } else {
            (base, req.scope.clone())
        };
        let base_id = search::locate(&view, &base, visibility)?;
        let deadline = search::deadline(req, &shared.limits);
        match paging {
            None => {
                let found = search::find(&view, base_id, &scope, &req.filter, visibility, deadline);
                Ok(search::plain(&view, req, found, &shared.limits))
            }
            Some((size, cookie)) => self.pager.page(req, size, &cookie, &shared.limits, || {
                let app = snapshot
                    .apps
                    .iter()
                    .position(|a| Arc::ptr_eq(a, &view))
                    .ok_or_else(|| LdapError::new(LdapResultCode::Other, "application not in snapshot"))?;
                let found = search::find(&view, base_id, &scope, &req.filter, visibility, deadline);
                Ok((snapshot.clone(), app, found))
            }),
        }
    }

    fn compare(&self, shared: &Shared, req: &LdapCompareRequest) -> LdapResult {
        let snapshot = shared.snapshots.load();
        let run = || -> Result<LdapResult, LdapError> {
            let (view, visibility) = self.access(&snapshot)?;
            let dn = Dn::parse(&req.dn).map_err(|_| LdapError::new(LdapResultCode::InvalidDNSyntax, "invalid DN"))?;
            let id = search::locate(&view, &dn, visibility)?;
            if let Visibility::Own(own) = visibility
                && own != id
            {
                return Err(LdapError::new(LdapResultCode::NoSuchObject, "no such entry"));
            }
            let entry = view
                .entry(id)
                .ok_or_else(|| LdapError::new(LdapResultCode::NoSuchObject, "no such entry"))?;
            if !entry.has(&crate::entry::attribute_key(&req.atype)) {
                return Err(LdapError::new(
                    LdapResultCode::NoSuchAttribute,
                    "the entry has no such attribute",
                ));
            }
            let value = String::from_utf8_lossy(&req.val);
            Ok(match filter::equality(entry, &req.atype, &value) {
                Truth::True => result(LdapResultCode::CompareTrue, ""),
                Truth::False => result(LdapResultCode::CompareFalse, ""),
                Truth::Undefined => result(
                    LdapResultCode::InvalidAttributeSyntax,
                    "the value does not fit the attribute",
                ),
            })
        };
        run().unwrap_or_else(|e| e.result())
    }

    fn extended(&mut self, shared: &Shared, id: i32, req: &LdapExtendedRequest) -> Reply {
        let respond = |res: LdapResult, name: Option<&str>, value: Option<Vec<u8>>| {
            LdapMsg::new(
                id,
                LdapOp::ExtendedResponse(LdapExtendedResponse {
                    res,
                    name: name.map(str::to_string),
                    value,
                }),
            )
        };
        match req.name.as_str() {
            OID_WHOAMI => {
                let authz = self.bound.as_ref().map(|b| format!("dn:{}", b.dn)).unwrap_or_default();
                Reply::one(respond(success(), None, Some(authz.into_bytes())))
            }
            OID_START_TLS if !shared.tls_available => Reply::one(respond(
                result(LdapResultCode::Unavailable, "StartTLS is not configured on this server"),
                Some(OID_START_TLS),
                None,
            )),
            OID_START_TLS if self.tls => Reply::one(respond(
                result(LdapResultCode::OperationsError, "TLS is already in use"),
                Some(OID_START_TLS),
                None,
            )),
            OID_START_TLS => Reply {
                messages: vec![respond(success(), Some(OID_START_TLS), None)],
                next: Next::StartTls,
            },
            other => Reply::one(respond(
                result(
                    LdapResultCode::UnwillingToPerform,
                    format!("extended operation {other} is not supported"),
                ),
                None,
                None,
            )),
        }
    }
}

fn read_only() -> LdapResult {
    result(
        LdapResultCode::UnwillingToPerform,
        "the directory is read-only over LDAP; change it with gatehouse",
    )
}

/// A critical control the server does not implement (RFC 4511 §4.1.11).
fn unsupported_critical(controls: &[LdapControl]) -> Option<LdapError> {
    let critical = controls.iter().any(|c| match c {
        LdapControl::SimplePagedResults { .. } | LdapControl::ManageDsaIT { .. } => false,
        LdapControl::Unknown { criticality, .. }
        | LdapControl::SyncRequest { criticality, .. }
        | LdapControl::PasswordPolicyRequest { criticality }
        | LdapControl::SearchOptions { criticality, .. }
        | LdapControl::ShowDeleted { criticality }
        | LdapControl::SdFlags { criticality, .. }
        | LdapControl::ExtendedDn { criticality, .. } => *criticality,
        _ => true,
    });
    critical.then(|| {
        LdapError::new(
            LdapResultCode::UnavailableCriticalExtension,
            "a critical control is not supported",
        )
    })
}

const OPS: [&str; 7] = ["bind", "search", "compare", "extended", "unbind", "abandon", "other"];
const RESULTS: [&str; 8] = [
    "success",
    "invalid_credentials",
    "size_limit",
    "no_such_object",
    "insufficient_access",
    "unwilling",
    "error",
    "other",
];

/// `gatehouse_ldap_operations_total{op,result}`, with handles registered
/// once (a labelled lookup per request would cost more than a search).
fn count_operation(op: &'static str, result: &'static str) {
    static HANDLES: std::sync::OnceLock<Vec<metrics::Counter>> = std::sync::OnceLock::new();
    let handles = HANDLES.get_or_init(|| {
        OPS.iter()
            .flat_map(|o| {
                RESULTS
                    .iter()
                    .map(move |r| metrics::counter!("gatehouse_ldap_operations_total", "op" => *o, "result" => *r))
            })
            .collect()
    });
    let at = |list: &[&str], name: &str| list.iter().position(|x| *x == name).unwrap_or(list.len() - 1);
    if let Some(c) = handles.get(at(&OPS, op) * RESULTS.len() + at(&RESULTS, result)) {
        c.increment(1);
    }
}

fn result_name(msg: &LdapMsg) -> &'static str {
    let code = match &msg.op {
        LdapOp::BindResponse(r) => &r.res.code,
        LdapOp::SearchResultDone(r)
        | LdapOp::CompareResult(r)
        | LdapOp::AddResponse(r)
        | LdapOp::ModifyResponse(r)
        | LdapOp::DelResponse(r)
        | LdapOp::ModifyDNResponse(r) => &r.code,
        LdapOp::ExtendedResponse(r) => &r.res.code,
        _ => return "other",
    };
    match code {
        LdapResultCode::Success | LdapResultCode::CompareTrue | LdapResultCode::CompareFalse => "success",
        LdapResultCode::InvalidCredentials => "invalid_credentials",
        LdapResultCode::SizeLimitExceeded => "size_limit",
        LdapResultCode::NoSuchObject => "no_such_object",
        LdapResultCode::InsufficentAccessRights => "insufficient_access",
        LdapResultCode::UnwillingToPerform => "unwilling",
        _ => "error",
    }
}
