//! The one error type of the HTTP layer and its single mapping to status codes and the JSON envelope.
//!
//! Every native route answers failures as
//! `{"success":false,"error":…,"error_code":…,"detail":…,"timestamp":…,"request_id":…}`.
//! Client errors are logged at debug level; server faults are logged with their
//! source chain and reach the client only as a generic message.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use crate::request_id;

/// Everything a request can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// 400: the request is malformed (bad JSON, bad multipart, missing field).
    #[error("{0}")]
    BadRequest(String),

    /// 400: a destructive call without `confirm=true`.
    #[error("{0} requires confirm=true")]
    ConfirmationRequired(&'static str),

    /// 400: a bulk delete with no filter, without `all=true` (deleting everything must be
    /// asked for by name, never reached by leaving filters out or misspelling them).
    #[error("{0}")]
    ScopeRequired(String),

    /// 408: the request took longer than the configured request timeout.
    #[error("the request did not finish within {seconds} s")]
    RequestTimeout {
        /// The configured limit.
        seconds: u64,
    },

    /// 401: an API key is configured and the request has none or a wrong one.
    #[error("{0}")]
    Unauthorized(String),

    /// 403: the API key lacks the scope the call needs (see `auth::Scope`).
    #[error("{0}")]
    Forbidden(String),

    /// 429: the API key sent more requests than its rate allows.
    #[error("the API key {key:?} is over its request rate; retry in {retry_after_seconds} s")]
    RateLimited {
        /// The key's name (never the key).
        key: String,
        /// Sent as `Retry-After`.
        retry_after_seconds: u64,
    },

    /// 403: a web page of another origin tried to change state (see `browser`).
    #[error(
        "requests from the web page origin {0:?} are not allowed; add it to --cors-allow-origins to allow it"
    )]
    ForbiddenOrigin(String),

    /// 404: the named file or resource does not exist.
    #[error("{what} not found: {name}")]
    NotFound {
        /// What kind of thing ("Voice file", "Output file", ...).
        what: &'static str,
        /// The name asked for.
        name: String,
    },

    /// 404: no route matches the path.
    #[error("no route for {method} {path}")]
    RouteNotFound {
        /// Request method.
        method: String,
        /// Request path.
        path: String,
    },

    /// 405: the path exists but not for this method.
    #[error("method not allowed")]
    MethodNotAllowed,

    /// 409: the target exists and overwriting was not asked for.
    #[error("{0}")]
    Conflict(String),

    /// 413: an upload or body over its configured limit.
    #[error("{0}")]
    TooLarge(String),

    /// 415: the upload is not audio in a format we accept.
    #[error("{message}")]
    UnsupportedMedia {
        /// What was wrong.
        message: String,
        /// Machine-readable code (`UNSUPPORTED_FORMAT` or `INVALID_AUDIO`).
        code: &'static str,
    },

    /// 400: a restore archive that is not a sound tar of library files (a traversal name,
    /// a link, a bad checksum, a truncated entry, a sidecar that is not JSON, ...); nothing
    /// was written.
    #[error("{0}")]
    InvalidArchive(String),

    /// 400: an export format we do not write (the message names the supported ones).
    #[error("{0}")]
    UnsupportedExportFormat(String),

    /// 416: a `Range` header outside the object.
    #[error("requested range is not satisfiable for an object of {size} bytes")]
    RangeNotSatisfiable {
        /// The object's size, for the `Content-Range: bytes */size` header.
        size: u64,
    },

    /// 422: a parameter is out of range or otherwise invalid.
    #[error("{message}")]
    InvalidParameter {
        /// The parameter's name.
        param: String,
        /// What is wrong with it.
        message: String,
    },

    /// 422: a path, folder or file name is unsafe (traversal, absolute, control characters).
    #[error("invalid path in {param}: {reason}")]
    InvalidPath {
        /// The parameter that carried it.
        param: String,
        /// Which rule it broke.
        reason: String,
    },

    /// 503: the object store cannot be reached.
    #[error("storage is unavailable")]
    StorageUnavailable(#[source] storage::Error),

    /// 503: the job queue (SQS) did not take the job; nothing was kept of it.
    #[error("the job queue is unavailable: {0}")]
    QueueUnavailable(String),

    /// 500: a storage fault that is not the client's doing.
    #[error("storage failure")]
    Storage(#[source] storage::Error),

    /// 503: the engine a request needs is not installed; the message names the setting to fix.
    #[error("{message}")]
    ModelNotInstalled {
        /// `chatterbox`, `piper` or `onnxruntime`.
        engine: &'static str,
        /// What is missing and how to install it.
        message: String,
    },

    /// 503: an export format needs a program that cannot run (ffmpeg, for `aac`); the
    /// message names it and the `--ffmpeg` setting.
    #[error("{message}")]
    EncoderUnavailable {
        /// The export format asked for.
        format: &'static str,
        /// What is missing and how to install or point at it.
        message: String,
    },

    /// 503: every generation slot is taken and the queue is full.
    #[error("the {engine} engine is busy; retry in {retry_after_seconds} s")]
    Busy {
        /// The engine asked for.
        engine: &'static str,
        /// Sent as `Retry-After`.
        retry_after_seconds: u64,
    },

    /// 499: the client went away and the work stopped (never seen by a client; logged).
    #[error("the client went away; the work was stopped")]
    Abandoned,

    /// 503: the process's audio memory budget is full right now (see `audio::memory`).
    #[error("{0}")]
    MemoryBusy(String),

    /// 500: the engine failed while generating (the message is the engine's).
    #[error("generation failed: {0}")]
    Generation(String),

    /// 500: anything else that should not happen.
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    /// The HTTP status for this error.
    pub fn status_code(&self) -> StatusCode {
        match self {
            Self::BadRequest(_)
            | Self::ConfirmationRequired(_)
            | Self::ScopeRequired(_)
            | Self::UnsupportedExportFormat(_)
            | Self::InvalidArchive(_) => StatusCode::BAD_REQUEST,
            Self::RequestTimeout { .. } => StatusCode::REQUEST_TIMEOUT,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::ForbiddenOrigin(_) | Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::NotFound { .. } | Self::RouteNotFound { .. } => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMedia { .. } => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::RangeNotSatisfiable { .. } => StatusCode::RANGE_NOT_SATISFIABLE,
            Self::InvalidParameter { .. } | Self::InvalidPath { .. } => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            Self::StorageUnavailable(_)
            | Self::QueueUnavailable(_)
            | Self::ModelNotInstalled { .. }
            | Self::EncoderUnavailable { .. }
            | Self::Busy { .. }
            | Self::MemoryBusy(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Storage(_) | Self::Internal(_) | Self::Generation(_) => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
            // nginx's "client closed request": only logs and counters see it.
            Self::Abandoned => StatusCode::from_u16(499).unwrap_or(StatusCode::REQUEST_TIMEOUT),
        }
    }

    /// The stable machine-readable code clients switch on.
    pub fn code(&self) -> &'static str {
        match self {
            Self::BadRequest(_) => "BAD_REQUEST",
            Self::ConfirmationRequired(_) => "CONFIRMATION_REQUIRED",
            Self::ScopeRequired(_) => "FILTER_REQUIRED",
            Self::RequestTimeout { .. } => "REQUEST_TIMEOUT",
            Self::Unauthorized(_) => "UNAUTHORIZED",
            Self::ForbiddenOrigin(_) => "FORBIDDEN_ORIGIN",
            Self::Forbidden(_) => "INSUFFICIENT_SCOPE",
            Self::RateLimited { .. } => "RATE_LIMITED",
            Self::NotFound { .. } => "RESOURCE_NOT_FOUND",
            Self::RouteNotFound { .. } => "ROUTE_NOT_FOUND",
            Self::MethodNotAllowed => "METHOD_NOT_ALLOWED",
            Self::Conflict(_) => "FILE_EXISTS",
            Self::TooLarge(_) => "FILE_TOO_LARGE",
            Self::UnsupportedMedia { code, .. } => code,
            Self::UnsupportedExportFormat(_) => "UNSUPPORTED_FORMAT",
            Self::InvalidArchive(_) => "INVALID_ARCHIVE",
            Self::RangeNotSatisfiable { .. } => "RANGE_NOT_SATISFIABLE",
            Self::InvalidParameter { .. } => "VALIDATION_ERROR",
            Self::InvalidPath { .. } => "INVALID_PATH",
            Self::StorageUnavailable(_) => "STORAGE_UNAVAILABLE",
            Self::QueueUnavailable(_) => "QUEUE_UNAVAILABLE",
            Self::ModelNotInstalled { .. } => "MODEL_NOT_INSTALLED",
            Self::EncoderUnavailable { .. } => "ENCODER_UNAVAILABLE",
            Self::Busy { .. } | Self::MemoryBusy(_) => "SERVER_BUSY",
            Self::Generation(_) => "GENERATION_ERROR",
            Self::Abandoned => "CLIENT_CLOSED_REQUEST",
            Self::Storage(_) | Self::Internal(_) => "INTERNAL_ERROR",
        }
    }

    /// Shorthand for a 422 on one parameter.
    pub fn invalid(param: impl Into<String>, message: impl Into<String>) -> Self {
        Self::InvalidParameter {
            param: param.into(),
            message: message.into(),
        }
    }

    /// Shorthand for a 404.
    pub fn not_found(what: &'static str, name: impl Into<String>) -> Self {
        Self::NotFound {
            what,
            name: name.into(),
        }
    }

    fn detail(&self) -> Value {
        match self {
            Self::InvalidParameter { param, .. } | Self::InvalidPath { param, .. } => {
                serde_json::json!({ "param": param })
            }
            Self::RangeNotSatisfiable { size } => serde_json::json!({ "size": size }),
            Self::EncoderUnavailable { format, .. } => serde_json::json!({ "format": format }),
            Self::ModelNotInstalled { engine, .. } | Self::Busy { engine, .. } => {
                serde_json::json!({ "engine": engine })
            }
            _ => Value::Null,
        }
    }
}

impl From<storage::Error> for Error {
    fn from(err: storage::Error) -> Self {
        match err {
            storage::Error::NotFound { key } => Self::not_found("Object", key),
            storage::Error::InvalidKey { key, reason } => Self::InvalidPath {
                param: key,
                reason: reason.to_owned(),
            },
            storage::Error::InvalidRange { size, .. } => Self::RangeNotSatisfiable { size },
            storage::Error::Conflict { key, reason } => Self::Conflict(format!(
                "{key} cannot be stored: {reason} (a file and a folder cannot share a name)"
            )),
            // Transport failures (endpoint down, DNS, timeouts) are an outage, not a bug.
            unavailable @ storage::Error::Unavailable { .. } => {
                Self::StorageUnavailable(unavailable)
            }
            other => Self::Storage(other),
        }
    }
}

impl From<archive::ArchiveError> for Error {
    fn from(err: archive::ArchiveError) -> Self {
        use archive::ArchiveError as A;
        match err {
            e if e.is_too_large() => Error::TooLarge(e.to_string()),
            // The request body could not be read (the client went away, or sent too slowly).
            e @ A::Source(_) => Error::BadRequest(format!("the archive could not be read: {e}")),
            // Only the writer checks these: a stored object changed size while being copied.
            e @ (A::BodyTooLong { .. } | A::BodyTooShort { .. }) => Error::Internal(e.to_string()),
            e => Error::InvalidArchive(e.to_string()),
        }
    }
}

impl From<audio::AudioError> for Error {
    /// Processing errors by kind; decoding errors of a named upload go through
    /// `service::upload::audio_error`, which adds the file name.
    fn from(err: audio::AudioError) -> Self {
        use audio::AudioError as A;
        match err {
            A::InvalidParameter { field, reason } => {
                Error::invalid(field, format!("invalid {field}: {reason}"))
            }
            e @ A::InvalidSilenceToken { .. } => Error::invalid("files", e.to_string()),
            e @ A::UnsupportedFormat { .. } => Error::UnsupportedExportFormat(e.to_string()),
            e @ (A::TooLong { .. } | A::MemoryTooLarge { .. }) => Error::TooLarge(e.to_string()),
            e @ A::MemoryBusy { .. } => Error::MemoryBusy(e.to_string()),
            A::EncoderUnavailable { format, reason } => {
                // The reason names the program's path on the server: the operator reads it
                // in the log; the client is told what to ask for.
                tracing::warn!(format, %reason, "encoder unavailable");
                Error::EncoderUnavailable {
                    format,
                    message: format!(
                        "{format} output is unavailable on this server: its encoder (ffmpeg) \
                         cannot run; the operator installs it or sets --ffmpeg (the server log \
                         says why)"
                    ),
                }
            }
            e @ (A::InvalidPcm(_) | A::Resample(_) | A::Encode { .. }) => {
                Error::Internal(e.to_string())
            }
            other => Error::UnsupportedMedia {
                message: other.to_string(),
                code: "INVALID_AUDIO",
            },
        }
    }
}

impl From<models::ModelError> for Error {
    fn from(err: models::ModelError) -> Self {
        use models::ModelError as M;
        match err {
            M::InvalidInput(message) => Error::invalid("text", message),
            M::Stopped => Error::Abandoned,
            e @ (M::RuntimeUnavailable { .. } | M::MissingFile(_) | M::BadModel { .. }) => {
                // The message names server paths: the operator reads it in the log.
                tracing::warn!(error = %e, "speech engine unavailable");
                Error::ModelNotInstalled {
                    engine: "models",
                    message: "a model file of the speech engine is missing or unusable; \
                              the server log says which"
                        .into(),
                }
            }
            other => Error::Generation(other.to_string()),
        }
    }
}

/// The JSON body of every native error response.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// Always `false`.
    pub success: bool,
    /// Human-readable message.
    pub error: String,
    /// Stable machine-readable code, e.g. `VALIDATION_ERROR`.
    pub error_code: String,
    /// Extra structured detail (the offending parameter, ...), or null.
    #[schema(value_type = Object, nullable)]
    pub detail: Value,
    /// When the error happened (RFC 3339, UTC).
    pub timestamp: String,
    /// The request id, also sent as the `x-request-id` header.
    pub request_id: String,
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let status = self.status_code();
        let message = if status.is_server_error() {
            // Shed load and known outages are expected under pressure: WARN, so real
            // faults stay visible at ERROR.
            let source = std::error::Error::source(&self).map(error_chain);
            if status == StatusCode::SERVICE_UNAVAILABLE {
                tracing::warn!(error = %self, source = ?source, "request refused");
            } else {
                tracing::error!(error = %self, source = ?source, "request failed");
            }
            match &self {
                Self::StorageUnavailable(_) => {
                    "Storage is unavailable; try again shortly".to_owned()
                }
                Self::QueueUnavailable(_) => {
                    "The job queue is unavailable; the job was not accepted, try again shortly"
                        .to_owned()
                }
                // Operational states the client should read, not faults to hide.
                Self::ModelNotInstalled { .. }
                | Self::EncoderUnavailable { .. }
                | Self::Busy { .. }
                | Self::MemoryBusy(_)
                | Self::Generation(_) => self.to_string(),
                _ => "Internal server error".to_owned(),
            }
        } else {
            tracing::debug!(error = %self, status = status.as_u16(), "request rejected");
            self.to_string()
        };
        let info = crate::monitoring::errors::ErrorInfo {
            code: self.code().to_owned(),
            message: message.clone(),
        };
        let body = ErrorBody {
            success: false,
            error: message,
            error_code: self.code().to_owned(),
            detail: self.detail(),
            timestamp: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            request_id: request_id::current().unwrap_or_default(),
        };
        let mut response = (status, axum::Json(body)).into_response();
        response.extensions_mut().insert(info);
        match &self {
            Self::StorageUnavailable(_) | Self::QueueUnavailable(_) => {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
            }
            Self::Busy {
                retry_after_seconds,
                ..
            }
            | Self::RateLimited {
                retry_after_seconds,
                ..
            } => {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_seconds));
            }
            Self::MemoryBusy(_) => {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
            }
            Self::RangeNotSatisfiable { size } => {
                if let Ok(value) = HeaderValue::from_str(&format!("bytes */{size}")) {
                    response.headers_mut().insert(header::CONTENT_RANGE, value);
                }
            }
            _ => {}
        }
        response
    }
}

/// Whether a path belongs to the OpenAI dialect: answers that no route of its own shapes
/// (timeouts, unknown paths, refused origins) use OpenAI's envelope there.
pub fn is_openai_path(path: &str) -> bool {
    path.starts_with("/v1/") || path == "/v1" || path.starts_with("/audio/")
}

/// Renders `err` in the envelope of the dialect `path` belongs to (OpenAI's for `/v1/…`
/// and `/audio/…`, the native one elsewhere).
pub fn respond_for_path(path: &str, err: Error) -> Response {
    if is_openai_path(path) {
        crate::openai::error::OpenAiError::from(err).into_response()
    } else {
        err.into_response()
    }
}

/// Middleware: an error answer with an empty body (from a layer or a library route such
/// as the docs' static files) gets the envelope its status implies, so every error a
/// client sees is parseable. `HEAD` answers stay bodiless, as HTTP requires.
pub async fn fill_empty_error_body(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let response = next.run(request).await;
    let status = response.status();
    let empty = axum::body::HttpBody::size_hint(response.body()).exact() == Some(0);
    if !(status.is_client_error() || status.is_server_error())
        || !empty
        || method == axum::http::Method::HEAD
        || response.headers().contains_key(header::CONTENT_TYPE)
    {
        return response;
    }
    let err = match status {
        StatusCode::NOT_FOUND => Error::RouteNotFound {
            method: method.to_string(),
            path: path.clone(),
        },
        StatusCode::METHOD_NOT_ALLOWED => Error::MethodNotAllowed,
        StatusCode::PAYLOAD_TOO_LARGE => Error::TooLarge("Request body is too large".into()),
        s if s.is_client_error() => Error::BadRequest(
            s.canonical_reason()
                .unwrap_or("The request was refused")
                .to_owned(),
        ),
        _ => Error::Internal(format!("empty {status} answer")),
    };
    let mut filled = respond_for_path(&path, err);
    *filled.status_mut() = status;
    for (name, value) in response.headers() {
        if name != header::CONTENT_LENGTH && !filled.headers().contains_key(name) {
            filled.headers_mut().insert(name.clone(), value.clone());
        }
    }
    filled
}

/// Renders an error and its sources as one line (`error: cause: cause`).
pub(crate) fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(inner) = source {
        out.push_str(": ");
        out.push_str(&inner.to_string());
        source = inner.source();
    }
    out
}

/// Result alias for the handler.
pub type Result<T, E = Error> = std::result::Result<T, E>;
