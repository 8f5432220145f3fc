//! Extractors whose rejections use our error envelope instead of axum's plain text.

use axum::extract::FromRequest;
use axum::extract::Request;
use axum::extract::multipart::MultipartRejection;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};

use crate::error::Error;

/// JSON body: syntax errors are 400, shape and type errors 422.
#[derive(Debug, FromRequest)]
#[from_request(via(axum::Json), rejection(Error))]
pub struct Json<T>(pub T);

/// Query string: anything that does not deserialise is 422 with serde's reason.
#[derive(Debug, axum::extract::FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(Error))]
pub struct Query<T>(pub T);

/// Path parameters: undecodable segments are 422.
#[derive(Debug, axum::extract::FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(Error))]
pub struct Path<T>(pub T);

/// Multipart body: a missing or broken boundary is 400.
#[derive(Debug)]
pub struct Multipart(pub axum::extract::Multipart);

impl<S: Send + Sync> axum::extract::FromRequest<S> for Multipart {
    type Rejection = Error;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Multipart::from_request(request, state)
            .await
            .map(Multipart)
            .map_err(Error::from)
    }
}

impl From<JsonRejection> for Error {
    fn from(rejection: JsonRejection) -> Self {
        match rejection {
            JsonRejection::JsonDataError(e) => Error::invalid("body", e.body_text()),
            JsonRejection::JsonSyntaxError(e) => {
                Error::BadRequest(format!("Invalid JSON: {}", e.body_text()))
            }
            JsonRejection::MissingJsonContentType(_) => {
                Error::BadRequest("Expected a JSON body with Content-Type: application/json".into())
            }
            JsonRejection::BytesRejection(e)
                if e.status() == http::StatusCode::PAYLOAD_TOO_LARGE =>
            {
                Error::TooLarge("Request body is too large".into())
            }
            other => Error::BadRequest(other.body_text()),
        }
    }
}

impl From<QueryRejection> for Error {
    fn from(rejection: QueryRejection) -> Self {
        let text = rejection.body_text();
        let reason = text
            .strip_prefix("Failed to deserialize query string: ")
            .unwrap_or(&text);
        Error::invalid("query", format!("Invalid query parameter: {reason}"))
    }
}

impl From<PathRejection> for Error {
    fn from(rejection: PathRejection) -> Self {
        Error::invalid("path", rejection.body_text())
    }
}

impl From<MultipartRejection> for Error {
    fn from(rejection: MultipartRejection) -> Self {
        Error::BadRequest(format!(
            "Expected a multipart/form-data body: {}",
            rejection.body_text()
        ))
    }
}
