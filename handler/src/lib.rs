//! The stateless speech API handler: `app(state)` builds the whole axum `Router`
//! without binding a socket, so tests, the local runner and the deployable binary
//! all serve exactly the same application.

pub mod api;
pub mod auth;
pub mod config;
pub mod error;
pub mod extract;
pub mod naming;
pub mod openai;
pub mod openapi;
pub mod request_id;
pub mod server;
pub mod service;
pub mod state;
pub mod telemetry;

use std::time::Duration;

use axum::Router;
use axum::http::{HeaderName, HeaderValue, Method, StatusCode, Uri};
use axum::middleware;
use axum::response::IntoResponse;
use axum::routing::get;
use serde_json::json;
use tower_http::cors::{AllowOrigin, Any, CorsLayer};
use tower_http::timeout::TimeoutLayer;
use utoipa_swagger_ui::SwaggerUi;

pub use config::Config;
pub use error::Error;
pub use state::AppState;

/// Builds the application: every route, the docs, and the middleware stack
/// (request id, CORS, timeout, tracing, counters).
pub fn app(state: AppState) -> Router {
    let (routes, document) = api::routes().split_for_parts();
    let timeout = Duration::from_secs(state.config().request_timeout_seconds.max(1));
    let cors = cors_layer(&state.config().cors_allow_origins);
    routes
        .merge(openai::router())
        .route("/", get(root))
        .merge(SwaggerUi::new("/docs").url("/openapi.json", document))
        .fallback(route_not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            auth::require_key,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            telemetry::count,
        ))
        .layer(telemetry::trace_layer())
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            timeout,
        ))
        .layer(cors)
        .layer(middleware::from_fn(request_id::assign))
        .with_state(state)
}

fn cors_layer(origins: &[String]) -> CorsLayer {
    let exposed = [
        request_id::HEADER.clone(),
        HeaderName::from_static("x-alternative-formats"),
        HeaderName::from_static("content-disposition"),
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
        .allow_headers(Any)
        .expose_headers(exposed);
    if origins.iter().any(|o| o == "*") {
        layer.allow_origin(Any)
    } else {
        let list: Vec<HeaderValue> = origins
            .iter()
            .filter_map(|o| HeaderValue::from_str(o.trim()).ok())
            .collect();
        layer.allow_origin(AllowOrigin::list(list))
    }
}

async fn root() -> impl IntoResponse {
    axum::Json(json!({
        "message": "Speech API",
        "version": api::VERSION,
        "endpoints": {
            "api_docs": "/docs",
            "openapi": "/openapi.json",
            "health_check": "/api/v1/health",
            "voices": "/api/v1/voices",
            "vc_inputs": "/api/v1/vc_inputs",
            "outputs": "/api/v1/outputs",
            "downloads": "/outputs/{path}",
            "tts": "/api/v1/tts",
            "vc": "/api/v1/vc",
            "openai_speech": "/v1/audio/speech",
            "openai_models": "/v1/models",
            "openai_voices": "/v1/audio/voices",
        }
    }))
}

async fn route_not_found(method: Method, uri: Uri) -> Error {
    Error::RouteNotFound {
        method: method.to_string(),
        path: uri.path().to_owned(),
    }
}

async fn method_not_allowed() -> Error {
    Error::MethodNotAllowed
}
