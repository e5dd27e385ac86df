//! authentik's page: `?page=&page_size=&ordering=`, answered with
//! `{"pagination": {next, previous, count, current, total_pages,
//! start_index, end_index}, "results": […], "autocomplete": {}}`.

use gatehouse_core::listing::{Page, Window};
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::ApiError;
use crate::input::Params;

/// Rows per page when the caller does not say.
pub const DEFAULT_PAGE_SIZE: u32 = 100;
/// The most rows one page holds.
pub const MAX_PAGE_SIZE: u32 = 1000;
/// Past this page number nothing is ever found (and offsets stay far from overflow).
const MAX_PAGE: u64 = 1_000_000_000;

/// Which page the caller asked for, and the ordering (`-field` descends).
#[derive(Debug, Clone)]
pub struct PageParams {
    pub page: u64,
    pub size: u32,
    pub ordering: Option<(String, bool)>,
    pub search: Option<String>,
}

impl PageParams {
    pub fn from(params: &Params) -> Result<Self, ApiError> {
        let page = match params.get("page") {
            None => 1,
            Some(p) => p
                .parse::<u64>()
                .ok()
                .filter(|p| (1..=MAX_PAGE).contains(p))
                .ok_or_else(invalid_page)?,
        };
        // DRF falls back to the default for a page size it cannot read.
        let size = params
            .get("page_size")
            .and_then(|s| s.parse::<u32>().ok())
            .filter(|s| *s >= 1)
            .map_or(DEFAULT_PAGE_SIZE, |s| s.min(MAX_PAGE_SIZE));
        let ordering = params.get("ordering").and_then(|o| {
            let first = o.split(',').map(str::trim).find(|s| !s.is_empty())?;
            Some(match first.strip_prefix('-') {
                Some(f) => (f.to_string(), true),
                None => (first.to_string(), false),
            })
        });
        Ok(PageParams {
            page,
            size,
            ordering,
            search: params.text("search"),
        })
    }

    pub fn window(&self) -> Window {
        Window {
            offset: (self.page - 1).saturating_mul(u64::from(self.size)),
            limit: self.size,
        }
    }

    /// The page object for `count` rows in all, or 404 past the last page.
    pub fn pagination(&self, count: u64, shown: usize) -> Result<Pagination, ApiError> {
        let size = u64::from(self.size);
        let total_pages = count.div_ceil(size).max(1);
        if self.page > total_pages {
            return Err(invalid_page());
        }
        let start_index = if count == 0 { 0 } else { (self.page - 1) * size + 1 };
        Ok(Pagination {
            next: if self.page < total_pages { self.page + 1 } else { 0 },
            previous: self.page.saturating_sub(1),
            count,
            current: self.page,
            total_pages,
            start_index,
            end_index: if count == 0 { 0 } else { start_index + shown as u64 - 1 },
        })
    }

    /// Pages a list that lives in memory (applications, tokens: a few dozen).
    pub fn slice<T>(&self, mut all: Vec<T>) -> Page<T> {
        let count = all.len() as u64;
        let w = self.window();
        let start = usize::try_from(w.offset).unwrap_or(usize::MAX).min(all.len());
        let end = start.saturating_add(w.limit as usize).min(all.len());
        let items = all.drain(start..end).collect();
        Page { count, items }
    }
}

fn invalid_page() -> ApiError {
    ApiError::NotFoundDetail("Invalid page.")
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Pagination {
    pub next: u64,
    pub previous: u64,
    pub count: u64,
    pub current: u64,
    pub total_pages: u64,
    pub start_index: u64,
    pub end_index: u64,
}

/// Declares authentik's `Paginated…List` for a result type.
macro_rules! paginated {
    ($name:ident, $item:ty) => {
        #[derive(Debug, serde::Serialize, utoipa::ToSchema)]
        pub struct $name {
            pub pagination: $crate::paging::Pagination,
            pub results: Vec<$item>,
            pub autocomplete: serde_json::Map<String, serde_json::Value>,
        }

        impl $name {
            pub fn new(
                params: &$crate::paging::PageParams,
                count: u64,
                results: Vec<$item>,
            ) -> $crate::error::ApiResult<Self> {
                Ok($name {
                    pagination: params.pagination(count, results.len())?,
                    results,
                    autocomplete: serde_json::Map::new(),
                })
            }
        }
    };
}
pub(crate) use paginated;

#[cfg(test)]
mod tests {
    use super::*;

    fn params(q: &str) -> PageParams {
        let pairs: Vec<(String, String)> = form_urlencoded::parse(q.as_bytes()).into_owned().collect();
        PageParams::from(&Params::from_pairs(pairs)).unwrap()
    }

    #[test]
    fn pages_count_as_django_does() {
        let p = params("page=3&page_size=100");
        assert_eq!(
            p.window(),
            Window {
                offset: 200,
                limit: 100
            }
        );
        let pg = p.pagination(250, 50).unwrap();
        assert_eq!(
            (
                pg.next,
                pg.previous,
                pg.current,
                pg.total_pages,
                pg.start_index,
                pg.end_index
            ),
            (0, 2, 3, 3, 201, 250)
        );
        let first = params("").pagination(0, 0).unwrap();
        assert_eq!(
            (first.total_pages, first.start_index, first.end_index, first.next),
            (1, 0, 0, 0)
        );
        assert!(params("page=2").pagination(0, 0).is_err());
        assert_eq!(params("page_size=0").size, DEFAULT_PAGE_SIZE);
        assert_eq!(params("page_size=99999").size, MAX_PAGE_SIZE);
        assert_eq!(params("ordering=-name,pk").ordering, Some(("name".into(), true)));
        let bad = |q: &str| {
            let pairs: Vec<(String, String)> = form_urlencoded::parse(q.as_bytes()).into_owned().collect();
            PageParams::from(&Params::from_pairs(pairs)).is_err()
        };
        assert!(bad("page=0") && bad("page=x") && bad("page=99999999999999999999"));
    }
}
