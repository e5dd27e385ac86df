//! One mapping from failures to pages: people get a readable message and the
//! right status; internals go to the log, never to the page.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

#[derive(Debug)]
pub enum PageError {
    /// The server is starting (migrations): 503 with Retry-After.
    Starting,
    /// A form arrived without a valid CSRF token or flow.
    Forbidden(&'static str),
    Core(gatehouse_core::Error),
}

impl From<gatehouse_core::Error> for PageError {
    fn from(e: gatehouse_core::Error) -> Self {
        PageError::Core(e)
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let (status, title, message) = match &self {
            PageError::Starting => (
                StatusCode::SERVICE_UNAVAILABLE,
                "Starting",
                "Gatehouse is starting. Try again in a few seconds.".to_string(),
            ),
            PageError::Forbidden(why) => (StatusCode::FORBIDDEN, "Request refused", why.to_string()),
            PageError::Core(e) if e.is_caller_error() => {
                let status = match e {
                    gatehouse_core::Error::NotFound { .. } => StatusCode::NOT_FOUND,
                    _ => StatusCode::BAD_REQUEST,
                };
                (status, "Request refused", e.to_string())
            }
            PageError::Core(e) => {
                tracing::error!(error = %e, "request failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Something went wrong",
                    "The server could not complete the request. Try again later.".to_string(),
                )
            }
        };
        let page = crate::pages::MessagePage {
            branding: crate::pages::Branding {
                title: "Gatehouse".into(),
                logo_url: None,
            },
            title: title.into(),
            message,
            link: Some(("/if/user/".into(), "Back to your applications".into())),
            status_class: "error",
        };
        let mut res = crate::pages::render_with_status(status, &page);
        if matches!(self, PageError::Starting) {
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        }
        res
    }
}
