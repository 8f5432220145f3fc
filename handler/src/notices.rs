//! Warnings gathered while a request is served (ignored parameters, unbuilt features) and
//! sent back as one `X-Speech-Warnings` header, so every route reports them the same way.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use axum::extract::Request;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;

/// The response header carrying a request's warnings, `; `-joined.
pub const HEADER: &str = "x-speech-warnings";

/// The warnings of one request, shared between its extractors, its handler and the
/// middleware that writes the header.
#[derive(Debug, Clone, Default)]
pub struct Notices(Arc<Inner>);

#[derive(Debug, Default)]
struct Inner {
    warnings: Mutex<Vec<String>>,
    /// Set by the query extractors; a route that never read its query ignored all of it.
    query_read: AtomicBool,
}

impl Notices {
    /// Records one warning (duplicates are kept once).
    pub fn push(&self, warning: impl Into<String>) {
        let warning = warning.into();
        let mut list = self
            .0
            .warnings
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if !list.contains(&warning) {
            list.push(warning);
        }
    }

    /// The warnings so far.
    pub fn list(&self) -> Vec<String> {
        self.0
            .warnings
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Notes that the route read its query string (and reported what it ignored).
    pub fn mark_query_read(&self) {
        self.0.query_read.store(true, Ordering::Relaxed);
    }

    fn query_read(&self) -> bool {
        self.0.query_read.load(Ordering::Relaxed)
    }
}

/// The warning for one ignored query parameter.
pub fn ignored_parameter(name: &str) -> String {
    format!("ignored unknown query parameter {name:?}")
}

/// Middleware: gives the request a [`Notices`] and merges what it gathered into the
/// response's `X-Speech-Warnings` header (after any warnings the handler set itself).
pub async fn collect(mut request: Request, next: Next) -> Response {
    let notices = Notices::default();
    request.extensions_mut().insert(notices.clone());
    let query = request.uri().query().map(str::to_owned);
    let mut response = next.run(request).await;
    if !notices.query_read()
        && let Some(query) = query
    {
        // The route takes no query parameters: every one given was ignored.
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(&query).unwrap_or_default();
        for (name, _) in pairs {
            notices.push(ignored_parameter(&name));
        }
    }
    let gathered = notices.list();
    if gathered.is_empty() {
        return response;
    }
    let mut all: Vec<String> = response
        .headers()
        .get(HEADER)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split("; ").map(str::to_owned).collect())
        .unwrap_or_default();
    for warning in gathered {
        if !all.contains(&warning) {
            all.push(warning);
        }
    }
    if let Some(value) = header_value(&all) {
        response.headers_mut().insert(HEADER, value);
    }
    response
}

/// The header value for `warnings`: `; `-joined, non-ASCII and control characters as `?`.
pub fn header_value(warnings: &[String]) -> Option<HeaderValue> {
    if warnings.is_empty() {
        return None;
    }
    let text: String = warnings
        .join("; ")
        .chars()
        .map(|c| {
            if c.is_ascii() && !c.is_ascii_control() {
                c
            } else {
                '?'
            }
        })
        .collect();
    HeaderValue::from_str(&text).ok()
}
