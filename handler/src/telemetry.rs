//! Logging setup and the per-request span: pretty logs locally, JSON in production,
//! one span per request carrying its id, method and matched route.

use std::time::Duration;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use clap::{Args, ValueEnum};
use tower_http::classify::{ServerErrorsAsFailures, SharedClassifier};
use tower_http::trace::{DefaultOnBodyChunk, DefaultOnEos, MakeSpan, OnResponse, TraceLayer};
use tracing::Span;
use tracing_subscriber::EnvFilter;

use crate::request_id::RequestId;
use crate::state::AppState;

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable, coloured when attached to a terminal.
    Pretty,
    /// One JSON object per line, for log collectors.
    Json,
}

/// Logging settings shared by the binaries.
#[derive(Debug, Clone, Args)]
pub struct LogArgs {
    /// Log line format [default: pretty for local-runner, json for handler].
    #[arg(long, env = "SPEECH_LOG_FORMAT", value_enum)]
    pub log_format: Option<LogFormat>,

    /// Log filter in `RUST_LOG` syntax, e.g. `info` or `handler=debug,info`.
    #[arg(long, env = "SPEECH_LOG", default_value = "info")]
    pub log: String,
}

/// Installs the global subscriber in `args.log_format`, or `default_format` when unset.
/// `RUST_LOG`, when set, overrides `--log`.
pub fn init(args: &LogArgs, default_format: LogFormat) {
    let mut filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(&args.log));
    // Symphonia logs every unrecognised upload at ERROR ("probe reached EOF"); the request
    // already answers 4xx and logs it at its own level, so an attacker's junk does not page
    // anyone. An explicit directive for the target in the filter still wins.
    if !args.log.contains("symphonia")
        && let Ok(quiet) = "symphonia_core::formats::probe=off".parse()
    {
        filter = filter.add_directive(quiet);
    }
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false);
    // A second init (tests, embedding) keeps the first subscriber.
    let _ = match args.log_format.unwrap_or(default_format) {
        LogFormat::Pretty => builder
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .with_writer(std::io::stderr)
            .try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
    };
}

/// The tower-http trace layer with our span and response log.
pub fn trace_layer() -> TraceLayer<
    SharedClassifier<ServerErrorsAsFailures>,
    RequestSpan,
    (),
    LogResponse,
    DefaultOnBodyChunk,
    DefaultOnEos,
    (),
> {
    TraceLayer::new_for_http()
        .make_span_with(RequestSpan)
        .on_request(())
        .on_response(LogResponse)
        .on_failure(())
}

/// Builds the span for one request.
#[derive(Debug, Clone, Copy)]
pub struct RequestSpan;

impl<B> MakeSpan<B> for RequestSpan {
    fn make_span(&mut self, request: &http::Request<B>) -> Span {
        let route = request
            .extensions()
            .get::<MatchedPath>()
            .map(MatchedPath::as_str)
            .unwrap_or("");
        let id = request
            .extensions()
            .get::<RequestId>()
            .map(|id| id.0.as_str())
            .unwrap_or("");
        tracing::info_span!("request", request_id = %id, method = %request.method(), uri = %request.uri().path(), route = %route, api_key = tracing::field::Empty)
    }
}

/// Logs each response once: status and latency (errors are logged where they happen).
#[derive(Debug, Clone, Copy)]
pub struct LogResponse;

impl<B> OnResponse<B> for LogResponse {
    fn on_response(self, response: &http::Response<B>, latency: Duration, _span: &Span) {
        let status = response.status().as_u16();
        let latency_ms = latency.as_secs_f64() * 1000.0;
        if status >= 500 {
            tracing::warn!(status, latency_ms, "request finished");
        } else {
            tracing::info!(status, latency_ms, "request finished");
        }
    }
}

/// Middleware: counts responses by status class for `/health`, and records each in the
/// monitor (Prometheus by matched route, the error log for error answers).
pub async fn count(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    // Methods outside the standard set share one label value, so a client cannot grow the
    // metric series by inventing methods.
    let method = match *request.method() {
        http::Method::GET
        | http::Method::HEAD
        | http::Method::POST
        | http::Method::PUT
        | http::Method::DELETE
        | http::Method::PATCH
        | http::Method::OPTIONS => request.method().as_str().to_owned(),
        _ => "other".to_owned(),
    };
    let started = std::time::Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16();
    state.metrics().record(status);
    state.monitor().record_response(
        &route,
        &method,
        status,
        started.elapsed(),
        response
            .extensions()
            .get::<crate::monitoring::errors::ErrorInfo>(),
    );
    response
}
