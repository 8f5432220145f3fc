//! AWS Lambda: the same `app(state)` behind `lambda_http`, buffered (API Gateway, ALB,
//! function URLs) or with response streaming (a function URL with
//! `InvokeMode: RESPONSE_STREAM`), plus the non-HTTP events the function receives.
//!
//! - **Scheduled events.** Instances freeze between invocations, so no timer can run the
//!   cleanup; an EventBridge schedule invokes the function instead. `lambda_http`'s
//!   pass-through turns any event that is not an HTTP request into `POST /events` marked
//!   as pass-through; only those reach [`event`], never a client's request.
//! - **Job messages.** With `SPEECH_JOB_QUEUE` set, an SQS event source invokes the
//!   function with job messages (best as a second function from the same artefact, with a
//!   longer timeout); each job runs until the invocation's deadline is near and the answer
//!   lists the messages that must come back (`batchItemFailures`).
//! - **The 6 MB buffered limit.** A buffered invocation's answer must fit Lambda's payload
//!   limit (6 MB of JSON, so about 4.4 MB of binary after base64). A larger answer is not
//!   left to fail opaquely: stored audio (generated files, downloads) becomes a
//!   `303 See Other` to a presigned URL of the object when the store can sign one (S3),
//!   which clients that follow redirects download at once; anything else is a `413` in
//!   the route's envelope that names streaming mode.

use std::convert::Infallible;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderValue, Request, StatusCode, header};
use axum::response::{IntoResponse, Response};
use lambda_http::RequestExt;
use lambda_http::request::RequestContext;
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::error::{Error, respond_for_path};
use crate::service::{jobs, maintenance};
use crate::state::AppState;

/// Largest binary body a buffered answer can carry (base64 grows it by a third; the
/// JSON around it and the headers need the rest of the 6 MB).
pub const BUFFERED_BINARY_LIMIT: usize = 4_400_000;
/// Largest text body (JSON, plain text) a buffered answer can carry.
pub const BUFFERED_TEXT_LIMIT: usize = 5_900_000;

/// How the function answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// One buffered answer per invocation (6 MB limit).
    Buffered,
    /// Response streaming (function URL with `InvokeMode: RESPONSE_STREAM`, 200 MB).
    Streaming,
}

/// Serves invocations until the runtime stops.
pub async fn run(state: AppState, mode: Mode) -> Result<(), lambda_http::Error> {
    let router = crate::app(state.clone());
    let service = tower::service_fn(move |request: lambda_http::Request| {
        let (state, router) = (state.clone(), router.clone());
        async move { Ok::<_, Infallible>(invoke(&state, router, request, mode).await) }
    });
    match mode {
        Mode::Buffered => lambda_http::run(service).await,
        Mode::Streaming => lambda_http::run_with_streaming_response(service).await,
    }
}

/// Answers one invocation: a pass-through event, or an HTTP request for the app.
pub async fn invoke(
    state: &AppState,
    router: Router,
    request: lambda_http::Request,
    mode: Mode,
) -> Response {
    if matches!(
        request.request_context_ref(),
        Some(RequestContext::PassThrough)
    ) {
        return event(state, request).await;
    }
    let (mut parts, body) = request.into_parts();
    if let Some(uri) = without_stage(&parts) {
        parts.uri = uri;
    }
    let path = parts.uri.path().to_owned();
    let request = Request::from_parts(parts, Body::new(body));
    let response = match router.oneshot(request).await {
        Ok(response) => response,
        Err(never) => match never {},
    };
    match mode {
        Mode::Streaming => response,
        Mode::Buffered => within_payload_limit(state, &path, response).await,
    }
}

/// The request's URI without the API Gateway stage (`/prod/api/v1/health` for stage
/// `prod`), which `lambda_http` puts in front of the path unless
/// `AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH` is set: REST APIs work without that setting.
fn without_stage(parts: &axum::http::request::Parts) -> Option<axum::http::Uri> {
    let stage = match parts.extensions.get::<RequestContext>()? {
        RequestContext::ApiGatewayV1(context) => context.stage.as_deref(),
        RequestContext::ApiGatewayV2(context) => context.stage.as_deref(),
        _ => None,
    }?;
    if stage == "$default" {
        return None;
    }
    let path = parts.uri.path();
    let rest = path.strip_prefix('/')?.strip_prefix(stage)?;
    if !rest.starts_with('/') {
        return None;
    }
    let rebuilt = match parts.uri.query() {
        Some(query) => format!("{rest}?{query}"),
        None => rest.to_owned(),
    };
    rebuilt.parse().ok()
}

/// A non-HTTP event: an EventBridge schedule runs the cleanup, an SQS event source brings
/// long-form jobs; anything else is refused.
async fn event(state: &AppState, request: lambda_http::Request) -> Response {
    let payload: Value = serde_json::from_slice(request.body().as_ref()).unwrap_or(Value::Null);
    if let Some(deliveries) = sqs_deliveries(&payload) {
        let stop_at = request
            .lambda_context_ref()
            .and_then(|context| stop_jobs_at(context.deadline()));
        // Boxed: a job run is a deep future, kept off the HTTP path's own.
        let again = Box::pin(jobs::sqs::deliver_batch(state, &deliveries, stop_at)).await;
        // The partial batch answer (ReportBatchItemFailures): only these messages return.
        let failures: Vec<Value> = again
            .iter()
            .map(|id| json!({"itemIdentifier": id}))
            .collect();
        return axum::Json(json!({"batchItemFailures": failures})).into_response();
    }
    let scheduled = payload.get("source").and_then(Value::as_str) == Some("aws.events")
        && payload.get("detail-type").and_then(Value::as_str) == Some("Scheduled Event");
    if scheduled {
        let summary = maintenance::run_cleanup(state, false).await;
        return axum::Json(json!({"event": "cleanup", "summary": summary})).into_response();
    }
    tracing::warn!(%payload, "ignoring an event that is neither HTTP nor a schedule");
    (
        StatusCode::BAD_REQUEST,
        axum::Json(json!({
            "error": "unsupported event: expected an HTTP request or an EventBridge \"Scheduled Event\""
        })),
    )
        .into_response()
}

/// The messages of an SQS event (`Records` from `aws:sqs`), or `None` for other events.
fn sqs_deliveries(payload: &Value) -> Option<Vec<jobs::sqs::Delivery>> {
    let records = payload.get("Records")?.as_array()?;
    let from_sqs =
        |record: &Value| record.get("eventSource").and_then(Value::as_str) == Some("aws:sqs");
    if records.is_empty() || !records.iter().all(from_sqs) {
        return None;
    }
    let text = |record: &Value, field: &str| {
        record
            .get(field)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    Some(
        records
            .iter()
            .map(|record| jobs::sqs::Delivery {
                message_id: text(record, "messageId"),
                receipt_handle: text(record, "receiptHandle"),
                body: text(record, "body"),
                sent_at: record
                    .pointer("/attributes/SentTimestamp")
                    .and_then(Value::as_str)
                    .and_then(jobs::sqs::sent_at),
            })
            .collect(),
    )
}

/// When jobs stop starting chunks in an invocation that ends at `deadline`: a fifth of the
/// time left (10 s to 2 min) is kept for the chunk in progress, writing a chapter and
/// answering. `None` when the runtime gave no deadline.
fn stop_jobs_at(deadline: std::time::SystemTime) -> Option<std::time::Instant> {
    let left = deadline
        .duration_since(std::time::SystemTime::now())
        .ok()
        .filter(|_| deadline > std::time::SystemTime::UNIX_EPOCH)?;
    let reserve = (left / 5).clamp(
        std::time::Duration::from_secs(10),
        std::time::Duration::from_secs(120),
    );
    Some(std::time::Instant::now() + left.saturating_sub(reserve))
}

/// How long a presigned download URL handed out for an oversized answer stays valid.
pub const PRESIGNED_URL_SECONDS: u64 = 3600;

/// Keeps a buffered answer within Lambda's payload limit: bodies are collected (the
/// adapter would collect them anyway); one that is too large is replaced by a redirect
/// to its stored object, or a 413.
async fn within_payload_limit(state: &AppState, path: &str, response: Response) -> Response {
    let binary = !is_text(response.headers().get(header::CONTENT_TYPE));
    let limit = if binary {
        BUFFERED_BINARY_LIMIT
    } else {
        BUFFERED_TEXT_LIMIT
    };
    let (parts, body) = response.into_parts();
    if let Ok(bytes) = axum::body::to_bytes(body, limit).await {
        return Response::from_parts(parts, Body::from(bytes));
    }
    // The stored object behind the answer: a generated file names itself in
    // Content-Location, a download is the object its path names.
    let location = parts
        .headers
        .get(header::CONTENT_LOCATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or_else(|| path.starts_with("/outputs/").then(|| path.to_owned()));
    if let Some(location) = &location
        && let Some(url) = presigned(state, location).await
    {
        return redirect_to(&url, location);
    }
    let message = match &location {
        Some(location) => format!(
            "the answer is larger than a buffered Lambda response can carry (6 MB) and this \
             store cannot hand out a download link; the audio is stored at {location}: ask \
             for response_mode=url, or deploy with response streaming \
             (SPEECH_LAMBDA_STREAMING=true and a function URL with InvokeMode RESPONSE_STREAM)"
        ),
        None => "the answer is larger than a buffered Lambda response can carry (6 MB): \
                 deploy with response streaming (SPEECH_LAMBDA_STREAMING=true and a \
                 function URL with InvokeMode RESPONSE_STREAM) or ask for less"
            .to_owned(),
    };
    let mut refused = respond_for_path(path, Error::TooLarge(message));
    if let Some(location) = parts.headers.get(header::CONTENT_LOCATION) {
        refused
            .headers_mut()
            .insert(header::CONTENT_LOCATION, location.clone());
    }
    refused
}

/// A presigned download URL for the object at `location` (`/outputs/<path>`), when the
/// store can sign one.
async fn presigned(state: &AppState, location: &str) -> Option<String> {
    let relative = location.strip_prefix("/outputs/")?;
    let relative = percent_encoding::percent_decode_str(relative)
        .decode_utf8()
        .ok()?;
    let key = crate::service::area::Area::Outputs.key(&relative).ok()?;
    let expires = std::time::Duration::from_secs(PRESIGNED_URL_SECONDS);
    match state.store().presigned_get(&key, expires).await {
        Ok(url) => url,
        Err(e) => {
            tracing::warn!(key = %key, error = %e, "could not presign a download");
            None
        }
    }
}

/// `303 See Other` to the presigned URL, with a JSON body saying what it is.
fn redirect_to(url: &str, location: &str) -> Response {
    let mut response = (
        StatusCode::SEE_OTHER,
        axum::Json(json!({
            "success": true,
            "message": "the audio is larger than a buffered Lambda response can carry (6 MB); \
                        download it from `url` (valid for an hour), or deploy with response streaming",
            "url": url,
            "path": location,
            "expires_in_seconds": PRESIGNED_URL_SECONDS,
        })),
    )
        .into_response();
    if let Ok(value) = HeaderValue::from_str(url) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    if let Ok(value) = HeaderValue::from_str(location) {
        response
            .headers_mut()
            .insert(header::CONTENT_LOCATION, value);
    }
    response
}

/// Whether `lambda_http` sends a body of this type as text (everything else is base64).
fn is_text(content_type: Option<&HeaderValue>) -> bool {
    let Some(value) = content_type.and_then(|v| v.to_str().ok()) else {
        return true;
    };
    let mime = value.split(';').next().unwrap_or_default().trim();
    mime.starts_with("text/")
        || [
            "application/json",
            "application/javascript",
            "application/xml",
            "application/yaml",
        ]
        .contains(&mime)
        || mime.ends_with("+json")
        || mime.ends_with("+xml")
        || mime.ends_with("+yaml")
}

/// Whether this process runs inside Lambda (the runtime API is only set there).
pub fn detected() -> bool {
    std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some()
}
