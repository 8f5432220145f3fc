//! The OpenAI-compatible API: `/v1/audio/speech`, `/v1/audio/models`, `/v1/audio/voices`
//! (each also without `/v1`), `/v1/models`, with OpenAI's wire types and error envelope, calling the same
//! services as the native API.

pub mod captioned;
pub mod catalog;
pub mod error;
pub mod models;
pub mod schema;
pub mod speech;
pub mod voices;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, Method, StatusCode, Uri};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use crate::auth;
use crate::state::AppState;
use error::OpenAiError;

/// The OpenAI routes, with OpenAI-shaped 404/405 answers and OpenAI's response headers.
pub fn router() -> Router<AppState> {
    let guard = || middleware::from_fn(auth::openai_key);
    let list_guard = || middleware::from_fn(auth::openai_list_key);
    // The lists (GET) may be public (`--public-lists`); creating a voice never is.
    let voices = get(voices::list_voices).route_layer(list_guard()).merge(
        post(voices::create_voice)
            .layer(DefaultBodyLimit::disable())
            .route_layer(guard()),
    );
    let v1 = Router::new()
        .route(
            "/audio/speech",
            post(speech::create_speech).route_layer(guard()),
        )
        .route(
            "/audio/speech/captioned",
            post(captioned::create_captioned_speech).route_layer(guard()),
        )
        .route("/audio/voices", voices)
        .route(
            "/audio/voices/{model}",
            get(voices::list_voices_for_model).route_layer(list_guard()),
        )
        .route(
            "/audio/models",
            get(models::list_audio_models).route_layer(list_guard()),
        )
        .route(
            "/models",
            get(models::list_models).route_layer(list_guard()),
        )
        .route(
            "/models/{id}",
            get(models::get_model).route_layer(list_guard()),
        )
        .fallback(unknown_route)
        .method_not_allowed_fallback(wrong_method);
    Router::new()
        .nest("/v1", v1)
        .route(
            "/audio/speech",
            post(speech::create_speech).route_layer(guard()),
        )
        // Kokoro-FastAPI's path for the same thing, so its clients work unchanged.
        .route(
            "/dev/captioned_speech",
            post(captioned::create_captioned_speech).route_layer(guard()),
        )
        // Clients configured with a base URL without `/v1` (Open WebUI accepts either).
        .route(
            "/audio/models",
            get(models::list_audio_models).route_layer(list_guard()),
        )
        .route(
            "/audio/voices",
            get(voices::list_voices).route_layer(list_guard()),
        )
        .layer(middleware::from_fn(openai_headers))
}

async fn unknown_route(method: Method, uri: Uri) -> OpenAiError {
    OpenAiError::new(
        StatusCode::NOT_FOUND,
        "invalid_request_error",
        format!("Invalid URL ({method} {})", uri.path()),
    )
}

async fn wrong_method(method: Method, uri: Uri) -> OpenAiError {
    OpenAiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "invalid_request_error",
        format!("Method {method} is not allowed for {}", uri.path()),
    )
}

/// `openai-version` on every answer, and `openai-processing-ms` where the route did not
/// set it (speech sets it when its stream starts).
async fn openai_headers(request: axum::extract::Request, next: Next) -> Response {
    let started = std::time::Instant::now();
    let mut response = next.run(request).await.into_response();
    let headers = response.headers_mut();
    headers
        .entry("openai-version")
        .or_insert(HeaderValue::from_static("2020-10-01"));
    if !headers.contains_key("openai-processing-ms")
        && let Ok(value) = HeaderValue::from_str(&started.elapsed().as_millis().to_string())
    {
        headers.insert("openai-processing-ms", value);
    }
    response
}
