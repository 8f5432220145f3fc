//! The stateless speech API handler: `app(state)` builds the whole axum `Router`
//! without binding a socket, so tests, the local runner and the deployable binary
//! all serve exactly the same application.

pub mod api;
pub mod auth;
pub mod browser;
pub mod compat;
pub mod config;
pub mod error;
pub mod extract;
pub mod lambda;
pub mod monitoring;
pub mod naming;
pub mod notices;
pub mod openai;
pub mod openapi;
pub mod request_id;
pub mod selfcheck;
pub mod server;
pub mod service;
pub mod state;
pub mod telemetry;
pub mod ui;
pub mod wyoming;

use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{Method, Uri};
use axum::middleware;
use axum::response::IntoResponse;
use serde_json::json;
use utoipa_swagger_ui::SwaggerUi;

pub use config::Config;
pub use error::Error;
pub use state::AppState;

/// Builds the application: every route, the docs, and the middleware stack (outermost
/// first): request id, CORS, tracing, counters, warnings header, the empty-error-body
/// net, the origin guard, the request timeout and authentication.
pub fn app(state: AppState) -> Router {
    let (routes, mut document) = documented_routes().split_for_parts();
    openapi::complete(&mut document);
    let cors = browser::cors_layer(state.origin_policy());
    routes
        .merge(openai::router())
        .merge(ui::router())
        .merge(SwaggerUi::new("/docs").url("/openapi.json", document))
        .fallback(route_not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            request_timeout,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            browser::guard_origin,
        ))
        .layer(middleware::from_fn(error::fill_empty_error_body))
        .layer(middleware::from_fn(label_every_body))
        .layer(middleware::from_fn(notices::collect))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            telemetry::count,
        ))
        .layer(telemetry::trace_layer())
        .layer(cors)
        .layer(middleware::from_fn(request_id::assign))
        // The routers' key guards (`auth`) read the state from here.
        .layer(axum::Extension(state.clone()))
        .with_state(state)
}

/// The routes the OpenAPI document describes, with their annotations: the native API, the
/// SillyTavern provider's routes, the index and readiness. (The OpenAI dialect's routes are
/// served by [`openai::router`] and listed in [`openapi::ApiDoc`].)
pub fn documented_routes() -> utoipa_axum::router::OpenApiRouter<AppState> {
    api::routes()
        .merge(compat::chatterbox_server::router())
        .routes(utoipa_axum::routes!(root))
        .routes(utoipa_axum::routes!(ping))
}

/// Middleware: answers 408 in the route's envelope when a request runs past the
/// configured timeout. The request's future is dropped, which stops its generation work
/// (see `service::work`); the 408 is counted and logged like any other answer.
async fn request_timeout(
    State(state): State<AppState>,
    request: axum::extract::Request,
    next: middleware::Next,
) -> axum::response::Response {
    let seconds = state.config().request_timeout_seconds.max(1);
    let path = request.uri().path().to_owned();
    match tokio::time::timeout(Duration::from_secs(seconds), next.run(request)).await {
        Ok(response) => response,
        Err(_) => error::respond_for_path(&path, Error::RequestTimeout { seconds }),
    }
}

/// Readiness for platforms that poll it (RunPod load-balancing endpoints, Kubernetes):
/// 204 while the engines are being preloaded, 200 when ready. Open without an API key.
#[utoipa::path(get, path = "/ping", tag = "service", security(()),
    responses((status = 200, description = "Ready"), (status = 204, description = "Still loading the engines (`--preload`)")))]
async fn ping(State(state): State<AppState>) -> axum::http::StatusCode {
    if state.is_ready() {
        axum::http::StatusCode::OK
    } else {
        axum::http::StatusCode::NO_CONTENT
    }
}

/// Middleware: a response with a body but no Content-Type gets
/// `application/octet-stream`. Adapters such as Lambda's decide between text and base64 by
/// the Content-Type, and treat a body without one as text, which corrupts binary audio.
async fn label_every_body(
    request: axum::extract::Request,
    next: middleware::Next,
) -> axum::response::Response {
    let mut response = next.run(request).await;
    let has_body = axum::body::HttpBody::size_hint(response.body()).exact() != Some(0);
    if has_body
        && !response
            .headers()
            .contains_key(axum::http::header::CONTENT_TYPE)
    {
        response.headers_mut().insert(
            axum::http::header::CONTENT_TYPE,
            axum::http::HeaderValue::from_static("application/octet-stream"),
        );
    }
    response
}

/// The service's name, version and where its main routes are.
#[utoipa::path(get, path = "/", tag = "service", security(()),
    responses((status = 200, description = "`{message, version, endpoints}`", body = Object)))]
async fn root() -> impl IntoResponse {
    axum::Json(json!({
        "message": "Speech API",
        "version": api::VERSION,
        "endpoints": {
            "api_docs": "/docs",
            "ui": "/ui/",
            "openapi": "/openapi.json",
            "health_check": "/api/v1/health",
            "metrics": "/api/v1/metrics",
            "prometheus": "/metrics",
            "stats": "/api/v1/stats",
            "backup": "/api/v1/backup",
            "restore": "/api/v1/restore",
            "errors": "/api/v1/errors/summary",
            "voices": "/api/v1/voices",
            "vc_inputs": "/api/v1/vc_inputs",
            "outputs": "/api/v1/outputs",
            "downloads": "/outputs/{path}",
            "tts": "/api/v1/tts",
            "vc": "/api/v1/vc",
            // The original's names for the same routes.
            "gradio_ui": "/ui/",
            "tts_generation": "/api/v1/tts",
            "voice_conversion": "/api/v1/vc",
            "openai_speech": "/v1/audio/speech",
            "openai_models": "/v1/models",
            "openai_voices": "/v1/audio/voices",
        }
    }))
}

async fn route_not_found(method: Method, uri: Uri) -> axum::response::Response {
    error::respond_for_path(
        uri.path(),
        Error::RouteNotFound {
            method: method.to_string(),
            path: uri.path().to_owned(),
        },
    )
}

async fn method_not_allowed(uri: Uri) -> axum::response::Response {
    error::respond_for_path(uri.path(), Error::MethodNotAllowed)
}
