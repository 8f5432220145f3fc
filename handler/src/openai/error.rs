//! Errors of the OpenAI dialect, exactly as OpenAI answers them:
//! `{"error":{"message","type","param","code"}}` with every key present, the right status,
//! `Retry-After` on 429/503, and `x-should-retry: false` on failures a retry cannot fix
//! (the SDKs retry 408, 409, 429 and 5xx by default, which would repeat a GPU-heavy failure).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::error::Error;

/// One OpenAI-shaped error response.
#[derive(Debug, Clone)]
pub struct OpenAiError {
    status: StatusCode,
    kind: &'static str,
    message: String,
    param: Option<String>,
    code: Option<String>,
    retry_after_seconds: Option<u64>,
    /// Set for server-side states a retry cannot change (a model or encoder not installed):
    /// the official SDKs would otherwise retry a 503 for a minute before reporting it.
    permanent: bool,
}

impl OpenAiError {
    /// An error of `kind` (`invalid_request_error`, `not_found_error`, `server_error`, ...).
    pub fn new(status: StatusCode, kind: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            kind,
            message: message.into(),
            param: None,
            code: None,
            retry_after_seconds: None,
            permanent: false,
        }
    }

    /// A 400 `invalid_request_error` about one request field.
    pub fn invalid(param: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request_error", message).param(param)
    }

    /// Names the offending field.
    pub fn param(mut self, param: impl Into<String>) -> Self {
        self.param = Some(param.into());
        self
    }

    /// Sets the machine-readable code.
    pub fn code(mut self, code: impl Into<String>) -> Self {
        self.code = Some(code.into());
        self
    }

    /// Asks the client to come back after `seconds`.
    pub fn retry_after(mut self, seconds: u64) -> Self {
        self.retry_after_seconds = Some(seconds);
        self
    }

    /// Marks the error as one a retry cannot fix (answered with `x-should-retry: false` and
    /// no `Retry-After`, whatever the status).
    pub fn permanent(mut self) -> Self {
        self.permanent = true;
        self.retry_after_seconds = None;
        self
    }

    /// The status code.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The JSON body.
    pub fn body(&self) -> serde_json::Value {
        json!({"error": {
            "message": self.message,
            "type": self.kind,
            "param": self.param,
            "code": self.code,
        }})
    }

    /// Whether a retry could succeed: rate limits, overload and outages can clear.
    fn retryable(&self) -> bool {
        !self.permanent && matches!(self.status.as_u16(), 408 | 429 | 502 | 503 | 504)
    }
}

impl From<Error> for OpenAiError {
    fn from(err: Error) -> Self {
        let message = err.to_string();
        match err {
            Error::InvalidParameter { param, .. } | Error::InvalidPath { param, .. } => {
                Self::invalid(&param, message).code("invalid_value")
            }
            Error::BadRequest(_)
            | Error::ConfirmationRequired(_)
            | Error::ScopeRequired(_)
            | Error::InvalidArchive(_) => {
                Self::new(StatusCode::BAD_REQUEST, "invalid_request_error", message)
            }
            Error::UnsupportedExportFormat(_) => {
                Self::invalid("response_format", message).code("unsupported_value")
            }
            Error::ForbiddenOrigin(_) => {
                Self::new(StatusCode::FORBIDDEN, "invalid_request_error", message)
                    .code("forbidden_origin")
            }
            Error::Forbidden(_) => {
                Self::new(StatusCode::FORBIDDEN, "invalid_request_error", message)
                    .code("insufficient_permissions")
            }
            Error::RateLimited {
                retry_after_seconds,
                ..
            } => Self::new(StatusCode::TOO_MANY_REQUESTS, "requests", message)
                .code("rate_limit_exceeded")
                .retry_after(retry_after_seconds),
            Error::Unauthorized(_) => {
                Self::new(StatusCode::UNAUTHORIZED, "invalid_request_error", message)
                    .code("invalid_api_key")
            }
            Error::NotFound { .. } | Error::RouteNotFound { .. } => {
                Self::new(StatusCode::NOT_FOUND, "invalid_request_error", message).code("not_found")
            }
            Error::MethodNotAllowed => Self::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "invalid_request_error",
                message,
            ),
            Error::Conflict(_) => Self::new(StatusCode::CONFLICT, "invalid_request_error", message),
            Error::Abandoned => Self::new(
                StatusCode::from_u16(499).unwrap_or(StatusCode::REQUEST_TIMEOUT),
                "invalid_request_error",
                message,
            ),
            Error::RequestTimeout { .. } => {
                Self::new(StatusCode::REQUEST_TIMEOUT, "server_error", message).code("timeout")
            }
            Error::TooLarge(_) => Self::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "invalid_request_error",
                message,
            ),
            Error::UnsupportedMedia { code, .. } => {
                Self::new(StatusCode::BAD_REQUEST, "invalid_request_error", message)
                    .code(code.to_ascii_lowercase())
            }
            Error::RangeNotSatisfiable { .. } => Self::new(
                StatusCode::RANGE_NOT_SATISFIABLE,
                "invalid_request_error",
                message,
            ),
            Error::ModelNotInstalled { .. } => {
                Self::new(StatusCode::SERVICE_UNAVAILABLE, "server_error", message)
                    .code("model_not_installed")
                    .permanent()
            }
            Error::EncoderUnavailable { .. } => {
                Self::new(StatusCode::SERVICE_UNAVAILABLE, "server_error", message)
                    .code("encoder_unavailable")
                    .permanent()
            }
            Error::Busy {
                retry_after_seconds,
                ..
            } => Self::new(StatusCode::TOO_MANY_REQUESTS, "rate_limit_error", message)
                .code("server_busy")
                .retry_after(retry_after_seconds),
            Error::MemoryBusy(_) => {
                Self::new(StatusCode::SERVICE_UNAVAILABLE, "server_error", message)
                    .code("server_busy")
                    .retry_after(5)
            }
            Error::StorageUnavailable(_) => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "server_error",
                "Storage is unavailable; try again shortly",
            )
            .code("storage_unavailable")
            .retry_after(5),
            Error::QueueUnavailable(_) => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "server_error",
                "The job queue is unavailable; try again shortly",
            )
            .code("queue_unavailable")
            .retry_after(5),
            Error::Generation(_) => {
                Self::new(StatusCode::INTERNAL_SERVER_ERROR, "server_error", message)
                    .code("generation_failed")
            }
            Error::Storage(_) | Error::Internal(_) => {
                tracing::error!(error = %message, "request failed");
                Self::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "server_error",
                    "The server had an error while processing your request.",
                )
            }
        }
    }
}

impl IntoResponse for OpenAiError {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            tracing::warn!(status = self.status.as_u16(), message = %self.message, "OpenAI request failed");
        } else {
            tracing::debug!(status = self.status.as_u16(), message = %self.message, "OpenAI request rejected");
        }
        let mut response = (self.status, axum::Json(self.body())).into_response();
        response
            .extensions_mut()
            .insert(crate::monitoring::errors::ErrorInfo {
                code: self.code.clone().unwrap_or_else(|| self.kind.to_owned()),
                message: self.message.clone(),
            });
        let headers = response.headers_mut();
        if let Some(seconds) = self.retry_after_seconds {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        if !self.retryable() {
            headers.insert("x-should-retry", HeaderValue::from_static("false"));
        }
        response
    }
}
