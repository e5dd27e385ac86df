//! Search (RFC 4511 §4.5) over one application's tree in a snapshot: the
//! candidate set from the equality indexes when the filter allows, then
//! scope, visibility and the whole filter per entry; size and time limits;
//! and the simple paged results control (RFC 2696), whose pages all come
//! from the snapshot the first page was read from.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ldap3_proto::proto::{
    LdapFilter, LdapResult, LdapResultCode, LdapSearchRequest, LdapSearchResultEntry, LdapSearchScope,
};

use crate::dn::Dn;
use crate::entry::Selection;
use crate::filter;
use crate::snapshot::{AppView, Snapshot, indexed_key};

/// Server-side bounds on one search.
#[derive(Debug, Clone, Copy)]
pub struct SearchLimits {
    /// Most entries one search (or one page) returns.
    pub max_results: usize,
    pub time_limit: Duration,
}

/// What a bound account may see of its application's tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Visibility {
    All,
    /// Only this entry (its own).
    Own(u32),
}

/// An LDAP error result.
#[derive(Debug, Clone, PartialEq)]
pub struct LdapError {
    pub code: LdapResultCode,
    pub message: String,
    pub matched: String,
}

impl LdapError {
    pub fn new(code: LdapResultCode, message: impl Into<String>) -> Self {
        LdapError {
            code,
            message: message.into(),
            matched: String::new(),
        }
    }

    pub fn result(&self) -> LdapResult {
        LdapResult {
            code: self.code.clone(),
            matcheddn: self.matched.clone(),
            message: self.message.clone(),
            referral: Vec::new(),
        }
    }
}

pub fn success() -> LdapResult {
    LdapResult {
        code: LdapResultCode::Success,
        matcheddn: String::new(),
        message: String::new(),
        referral: Vec::new(),
    }
}

/// The entries a search matched, in tree order.
#[derive(Debug, Default)]
pub struct Found {
    pub ids: Vec<u32>,
    /// The time limit ended the scan early.
    pub timed_out: bool,
}

/// The entry a DN names in `view`, or `noSuchObject` naming the nearest entry above it.
pub fn locate(view: &AppView, dn: &Dn, visibility: Visibility) -> Result<u32, LdapError> {
    let visible = |id: u32| match visibility {
        Visibility::All => true,
        Visibility::Own(own) => view.is_under(own, id),
    };
    if let Some(id) = view.by_dn(dn).filter(|&id| visible(id)) {
        return Ok(id);
    }
    let mut above = dn.parent();
    let matched = loop {
        if above.is_root() {
            break String::new();
        }
        if let Some(id) = view.by_dn(&above).filter(|&id| visible(id)) {
            break view.entry(id).map(|e| e.dn.clone()).unwrap_or_default();
        }
        above = above.parent();
    };
    Err(LdapError {
        code: LdapResultCode::NoSuchObject,
        message: "no such entry".into(),
        matched,
    })
}

/// Candidates from the equality indexes, in ascending order; `None` when the
/// filter needs a scan.
fn plan(view: &AppView, f: &LdapFilter) -> Option<Vec<u32>> {
    match f {
        LdapFilter::Equality(attr, value) | LdapFilter::Approx(attr, value) => {
            let key = indexed_key(attr)?;
            Some(view.lookup(key, value).map(<[u32]>::to_vec).unwrap_or_default())
        }
        LdapFilter::Extensible(rule)
            if rule
                .matching_rule
                .as_deref()
                .is_none_or(|r| r == "1.2.840.113556.1.4.1941") =>
        {
            let key = indexed_key(rule.type_.as_deref()?)?;
            Some(
                view.lookup(key, &rule.match_value)
                    .map(<[u32]>::to_vec)
                    .unwrap_or_default(),
            )
        }
        LdapFilter::And(parts) => parts.iter().filter_map(|p| plan(view, p)).min_by_key(Vec::len),
        LdapFilter::Or(parts) => {
            let mut all = Vec::new();
            for p in parts {
                all.extend(plan(view, p)?);
            }
            all.sort_unstable();
            all.dedup();
            Some(all)
        }
        _ => None,
    }
}

/// Matches the filter within the scope under `base`, as `visibility` allows.
pub fn find(
    view: &AppView,
    base: u32,
    scope: &LdapSearchScope,
    filter: &LdapFilter,
    visibility: Visibility,
    deadline: Instant,
) -> Found {
    let in_scope = |id: u32| match scope {
        LdapSearchScope::Base => id == base,
        LdapSearchScope::OneLevel => view.parent(id) == Some(base),
        LdapSearchScope::Subtree => view.is_under(id, base),
        LdapSearchScope::Children => id != base && view.is_under(id, base),
    };
    let visible = |id: u32| match visibility {
        Visibility::All => true,
        Visibility::Own(own) => id == own,
    };
    let compiled = filter::Compiled::new(filter);
    let mut found = Found::default();
    let candidates: Box<dyn Iterator<Item = u32>> = match (visibility, scope) {
        (Visibility::Own(own), _) => Box::new(std::iter::once(own)),
        (_, LdapSearchScope::Base) => Box::new(std::iter::once(base)),
        _ => match plan(view, filter) {
            Some(ids) => Box::new(ids.into_iter()),
            None => Box::new(0..u32::try_from(view.len()).unwrap_or(u32::MAX)),
        },
    };
    for (n, id) in candidates.enumerate() {
        if n % 1024 == 1023 && Instant::now() >= deadline {
            found.timed_out = true;
            break;
        }
        if !(in_scope(id) && visible(id)) {
            continue;
        }
        if view.entry(id).is_some_and(|e| compiled.matches(e)) {
            found.ids.push(id);
        }
    }
    found
}

/// A paged search in progress: its snapshot, what it matched, how far it got.
struct Paged {
    cookie: Vec<u8>,
    request: LdapSearchRequest,
    snapshot: Arc<Snapshot>,
    app: usize,
    ids: Vec<u32>,
    next: usize,
    /// The client's own size limit over all pages (0: none).
    total_limit: usize,
}

/// The paged searches of one connection (a few at most; the oldest goes).
#[derive(Default)]
pub struct Pager {
    open: VecDeque<Paged>,
    counter: u64,
}

const MAX_OPEN_PAGED: usize = 8;

/// What one search request answers: entries, the final result, and the
/// paged-results cookie to send back (when the request was paged).
#[derive(Debug)]
pub struct SearchOutput {
    pub entries: Vec<LdapSearchResultEntry>,
    pub result: LdapResult,
    pub cookie: Option<Vec<u8>>,
}

fn same_search(a: &LdapSearchRequest, b: &LdapSearchRequest) -> bool {
    a.base == b.base && a.scope == b.scope && a.filter == b.filter && a.attrs == b.attrs && a.typesonly == b.typesonly
}

impl Pager {
    /// Serves the next page of a paged search (`cookie` empty: a new one).
    /// `start` runs the search on the current snapshot for a new one.
    pub fn page(
        &mut self,
        req: &LdapSearchRequest,
        size: usize,
        cookie: &[u8],
        limits: &SearchLimits,
        start: impl FnOnce() -> Result<(Arc<Snapshot>, usize, Found), LdapError>,
    ) -> Result<SearchOutput, LdapError> {
        let mut paged = if cookie.is_empty() {
            let (snapshot, app, found) = start()?;
            if found.timed_out {
                return Err(LdapError::new(LdapResultCode::TimeLimitExceeded, "time limit exceeded"));
            }
            self.counter += 1;
            Paged {
                cookie: self.counter.to_be_bytes().to_vec(),
                request: req.clone(),
                snapshot,
                app,
                ids: found.ids,
                next: 0,
                total_limit: usize::try_from(req.sizelimit).unwrap_or(0),
            }
        } else {
            let at = self
                .open
                .iter()
                .position(|p| p.cookie == cookie && same_search(&p.request, req))
                .ok_or_else(|| LdapError::new(LdapResultCode::UnwillingToPerform, "unknown paged results cookie"))?;
            self.open
                .remove(at)
                .ok_or_else(|| LdapError::new(LdapResultCode::Other, "paged state lost"))?
        };
        // A page size of 0 abandons the search (RFC 2696 §3).
        let size = if size == 0 && !cookie.is_empty() {
            0
        } else {
            size.clamp(1, limits.max_results.max(1))
        };
        let end = (paged.next + size).min(paged.ids.len());
        let end = if paged.total_limit > 0 {
            end.min(paged.total_limit)
        } else {
            end
        };
        let selection = Selection::new(&req.attrs, req.typesonly);
        let view = paged.snapshot.apps.get(paged.app).cloned();
        let entries = paged.ids[paged.next.min(end)..end]
            .iter()
            .filter_map(|&id| view.as_ref().and_then(|v| v.entry(id)))
            .map(|e| e.to_result(&selection))
            .collect();
        paged.next = end;
        let limited = paged.total_limit > 0 && paged.next >= paged.total_limit && paged.next < paged.ids.len();
        let more = size > 0 && paged.next < paged.ids.len() && !limited;
        let cookie = if more { paged.cookie.clone() } else { Vec::new() };
        if more {
            if self.open.len() >= MAX_OPEN_PAGED {
                self.open.pop_front();
            }
            self.open.push_back(paged);
        }
        let result = if limited {
            LdapError::new(LdapResultCode::SizeLimitExceeded, "size limit exceeded").result()
        } else {
            success()
        };
        Ok(SearchOutput {
            entries,
            result,
            cookie: Some(cookie),
        })
    }

    /// Drops every paged search (on unbind, or a new bind).
    pub fn clear(&mut self) {
        self.open.clear();
    }
}

/// Renders a plain (unpaged) search, within the size limit.
pub fn plain(view: &AppView, req: &LdapSearchRequest, found: Found, limits: &SearchLimits) -> SearchOutput {
    let client = usize::try_from(req.sizelimit).ok().filter(|&n| n > 0);
    let limit = client.map_or(limits.max_results, |c| c.min(limits.max_results));
    let selection = Selection::new(&req.attrs, req.typesonly);
    let entries = found
        .ids
        .iter()
        .take(limit)
        .filter_map(|&id| view.entry(id))
        .map(|e| e.to_result(&selection))
        .collect();
    let result = if found.ids.len() > limit {
        let message = if client.is_some_and(|c| c <= limits.max_results) {
            "size limit exceeded".to_string()
        } else {
            format!(
                "size limit exceeded: at most {} entries per search; use the paged results control",
                limits.max_results
            )
        };
        LdapError::new(LdapResultCode::SizeLimitExceeded, message).result()
    } else if found.timed_out {
        LdapError::new(LdapResultCode::TimeLimitExceeded, "time limit exceeded").result()
    } else {
        success()
    };
    SearchOutput {
        entries,
        result,
        cookie: None,
    }
}

/// The deadline of a search: the client's time limit or the server's, whichever is sooner.
pub fn deadline(req: &LdapSearchRequest, limits: &SearchLimits) -> Instant {
    let client = u64::try_from(req.timelimit)
        .ok()
        .filter(|&s| s > 0)
        .map(Duration::from_secs);
    let limit = client.map_or(limits.time_limit, |c| c.min(limits.time_limit));
    Instant::now() + limit
}
