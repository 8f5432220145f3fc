//! What web pages may do with this API. Authentication is off by default, so a page the
//! user happens to visit must not be able to read or change the local library:
//! - CORS answers only origins the settings allow (none by default; `loopback` for any
//!   `localhost` / `127.0.0.1` / `[::1]` page, `*` for any page);
//! - a state-changing request (POST, PUT, PATCH, DELETE) whose `Origin` is another site
//!   that is not allowed is refused with 403 before it runs. Browsers send `Origin` on
//!   such requests, including "simple" form posts that CORS never preflights; curl and
//!   SDKs send none and are unaffected.

use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::Response;
use tower_http::cors::{AllowHeaders, AllowOrigin, Any, CorsLayer};

use crate::error::Error;
use crate::state::AppState;

/// The configured origin rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OriginPolicy {
    /// Any origin (`*`).
    Any,
    /// Pages served from loopback hosts, on any port, plus the listed origins.
    Loopback(Vec<String>),
    /// Only the listed origins (none: same-origin pages only).
    Listed(Vec<String>),
}

impl OriginPolicy {
    /// Reads `--cors-allow-origins`: `*`, `loopback`, and exact origins, comma-separated.
    pub fn from_settings(values: &[String]) -> Self {
        let values: Vec<String> = values
            .iter()
            .map(|v| v.trim().trim_end_matches('/').to_owned())
            .filter(|v| !v.is_empty())
            .collect();
        if values.iter().any(|v| v == "*") {
            return Self::Any;
        }
        let listed: Vec<String> = values
            .iter()
            .filter(|v| !v.eq_ignore_ascii_case("loopback"))
            .map(|v| v.to_ascii_lowercase())
            .collect();
        if values.iter().any(|v| v.eq_ignore_ascii_case("loopback")) {
            Self::Loopback(listed)
        } else {
            Self::Listed(listed)
        }
    }

    /// Whether a page from `origin` may call the API.
    pub fn allows(&self, origin: &str) -> bool {
        let origin = origin.trim_end_matches('/').to_ascii_lowercase();
        match self {
            Self::Any => true,
            Self::Loopback(listed) => is_loopback(&origin) || listed.contains(&origin),
            Self::Listed(listed) => listed.contains(&origin),
        }
    }
}

/// Whether an origin is `http(s)://localhost`, `127.x.x.x` or `[::1]`, any port.
fn is_loopback(origin: &str) -> bool {
    let Some(rest) = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"))
    else {
        return false;
    };
    let host = if let Some(v6) = rest.strip_prefix('[') {
        v6.split(']').next().map(|h| format!("[{h}]"))
    } else {
        rest.split(':').next().map(str::to_owned)
    };
    match host.as_deref() {
        Some("localhost" | "[::1]") => true,
        Some(h) => h
            .strip_prefix("127.")
            .is_some_and(|tail| tail.split('.').count() == 3),
        None => false,
    }
}

/// The CORS layer for a policy.
pub fn cors_layer(policy: &OriginPolicy) -> CorsLayer {
    // What a page's script may read from an answer: the ids, seeds, engine, warnings,
    // where the file was stored and the retry advice both dialects give.
    let exposed = [
        crate::request_id::HEADER.clone(),
        HeaderName::from_static("x-alternative-formats"),
        HeaderName::from_static("content-disposition"),
        HeaderName::from_static("content-location"),
        HeaderName::from_static(crate::notices::HEADER),
        HeaderName::from_static("x-generation-seed"),
        HeaderName::from_static("x-captions-url"),
        HeaderName::from_static("x-speech-engine"),
        HeaderName::from_static("openai-processing-ms"),
        HeaderName::from_static("x-should-retry"),
        HeaderName::from_static("retry-after"),
    ];
    let layer = CorsLayer::new()
        .allow_methods([
            Method::GET,
            Method::HEAD,
            Method::POST,
            Method::PUT,
            Method::DELETE,
            Method::OPTIONS,
        ])
        // The headers the preflight asks for, echoed: a `*` answer does not cover
        // `Authorization` (Fetch standard), so keyed browser clients would be refused.
        .allow_headers(AllowHeaders::mirror_request())
        .expose_headers(exposed);
    match policy {
        OriginPolicy::Any => layer.allow_origin(Any),
        other => {
            let policy = other.clone();
            layer.allow_origin(AllowOrigin::predicate(move |origin: &HeaderValue, _| {
                origin.to_str().is_ok_and(|o| policy.allows(o))
            }))
        }
    }
}

/// Middleware: refuses state-changing requests from pages of other, unallowed origins.
pub async fn guard_origin(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let changes_state = !matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    let forwarded_host = request.headers().get("x-forwarded-host");
    if changes_state
        && let Some(origin) = request.headers().get(header::ORIGIN)
        && !is_same_origin(origin, request.headers().get(header::HOST))
        // Behind a reverse proxy the browser's origin is the proxy's host.
        && !is_same_origin(origin, forwarded_host)
        && !origin
            .to_str()
            .is_ok_and(|o| state.origin_policy().allows(o))
    {
        let origin = origin.to_str().unwrap_or("?").to_owned();
        return crate::error::respond_for_path(
            request.uri().path(),
            Error::ForbiddenOrigin(origin),
        );
    }
    next.run(request).await
}

/// Whether `Origin` names the host the request was sent to (the API's own pages).
fn is_same_origin(origin: &HeaderValue, host: Option<&HeaderValue>) -> bool {
    let (Ok(origin), Some(Ok(host))) = (origin.to_str(), host.map(HeaderValue::to_str)) else {
        return false;
    };
    origin
        .split_once("://")
        .is_some_and(|(_, authority)| authority.trim_end_matches('/').eq_ignore_ascii_case(host))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_policy_admits_only_local_pages() {
        let policy = OriginPolicy::from_settings(&["loopback".into()]);
        assert!(policy.allows("http://localhost:3000"));
        assert!(policy.allows("http://127.0.0.1:5173"));
        assert!(policy.allows("https://[::1]:8443"));
        assert!(!policy.allows("http://localhost.evil.example"));
        assert!(!policy.allows("http://127.0.0.1.evil.example"));
        assert!(!policy.allows("https://example.com"));
    }

    #[test]
    fn default_policy_admits_no_other_origin() {
        let policy = OriginPolicy::from_settings(&[]);
        assert_eq!(policy, OriginPolicy::Listed(Vec::new()));
        assert!(!policy.allows("http://localhost:3000"));
        let listed = OriginPolicy::from_settings(&["https://App.example/".into()]);
        assert!(listed.allows("https://app.example"));
        assert!(OriginPolicy::from_settings(&["*".into()]).allows("https://any.example"));
    }

    #[test]
    fn same_origin_compares_host_and_port() {
        let host = HeaderValue::from_static("127.0.0.1:7860");
        assert!(is_same_origin(
            &HeaderValue::from_static("http://127.0.0.1:7860"),
            Some(&host)
        ));
        assert!(!is_same_origin(
            &HeaderValue::from_static("http://127.0.0.1:9999"),
            Some(&host)
        ));
        assert!(!is_same_origin(
            &HeaderValue::from_static("null"),
            Some(&host)
        ));
    }
}
