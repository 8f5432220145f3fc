//! `GET /outputs/{path}`, `GET /voices/{path}` and `GET /vc_inputs/{path}`: downloads of
//! stored files with byte ranges, the content type their name implies, and `HEAD` support.

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures::StreamExt;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

use crate::error::{Error, ErrorBody, Result};
use crate::extract::Path;
use crate::naming;
use crate::service::area::Area;
use crate::state::AppState;

/// Documents the download route, whose axum path (`{*path}`, any depth) differs from
/// its OpenAPI path (`{path}`, which OpenAPI cannot express as multi-segment).
#[derive(OpenApi)]
#[openapi(paths(download_output, download_voice, download_vc_input))]
struct DownloadDoc;

/// Routes of this module (mounted at the root, not under `/api/v1`).
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(DownloadDoc::openapi())
        .route("/outputs/{*path}", get(download_output))
        .route("/voices/{*path}", get(download_voice))
        .route("/vc_inputs/{*path}", get(download_vc_input))
}

/// Download a stored voice (or its `.json` sidecar): what a client plays as the voice's
/// sample. Supports `Range: bytes=…`.
#[utoipa::path(get, path = "/voices/{path}", tag = "voices",
    params(("path" = String, Path, description = "Path relative to the voices area, e.g. `narrators/anna.wav`")),
    responses(
        (status = 200, description = "The whole file", content_type = "audio/*"),
        (status = 206, description = "The requested byte range", content_type = "audio/*"),
        (status = 404, body = ErrorBody), (status = 416, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn download_voice(
    State(state): State<AppState>,
    Path(path): Path<String>,
    headers: HeaderMap,
) -> Result<Response> {
    download(&state, Area::Voices, "Voice", &path, &headers).await
}

/// Download a stored VC input (or its `.json` sidecar). Supports `Range: bytes=…`.
#[utoipa::path(get, path = "/vc_inputs/{path}", tag = "vc_inputs",
    params(("path" = String, Path, description = "Path relative to the VC inputs area, e.g. `scene1/take2.wav`")),
    responses(
        (status = 200, description = "The whole file", content_type = "audio/*"),
        (status = 206, description = "The requested byte range", content_type = "audio/*"),
        (status = 404, body = ErrorBody), (status = 416, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn download_vc_input(
    State(state): State<AppState>,
    Path(path): Path<String>,
    headers: HeaderMap,
) -> Result<Response> {
    download(&state, Area::VcInputs, "VC input", &path, &headers).await
}

/// Download a generated file (or its `.json` sidecar). Supports `Range: bytes=…`.
#[utoipa::path(get, path = "/outputs/{path}", tag = "outputs",
    params(("path" = String, Path, description = "Path relative to the outputs area, e.g. `book1/tts_….mp3`")),
    responses(
        (status = 200, description = "The whole file", content_type = "audio/*"),
        (status = 206, description = "The requested byte range", content_type = "audio/*"),
        (status = 404, body = ErrorBody), (status = 416, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn download_output(
    State(state): State<AppState>,
    Path(path): Path<String>,
    headers: HeaderMap,
) -> Result<Response> {
    download(&state, Area::Outputs, "Output file", &path, &headers).await
}

/// Streams one stored file of `area` (or the requested byte range of it).
async fn download(
    state: &AppState,
    area: Area,
    kind: &'static str,
    path: &str,
    headers: &HeaderMap,
) -> Result<Response> {
    naming::relative_path_param("path", path)?;
    let key = area.key(path)?;
    let store = state.store();
    let not_found = |e: storage::Error| {
        if e.is_not_found() {
            Error::not_found(kind, path)
        } else {
            e.into()
        }
    };
    let range = match headers.get(header::RANGE).and_then(|v| v.to_str().ok()) {
        Some(raw) => {
            let size = store.head(&key).await.map_err(not_found)?.size;
            match parse_range(raw, size) {
                RangeRequest::Satisfiable(range) => Some(range),
                RangeRequest::Unsatisfiable => return Err(Error::RangeNotSatisfiable { size }),
                RangeRequest::Ignored => None,
            }
        }
        None => None,
    };
    let partial = range.is_some();
    let stream = store.get_stream(&key, range).await.map_err(not_found)?;
    let length = stream.range.end - stream.range.start;
    let mut response = Body::from_stream(
        stream
            .body
            .map(|chunk| chunk.map_err(std::io::Error::other)),
    )
    .into_response();
    *response.status_mut() = if partial {
        StatusCode::PARTIAL_CONTENT
    } else {
        StatusCode::OK
    };
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(naming::content_type(path)),
    );
    headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    if let Ok(modified) = HeaderValue::from_str(
        &stream
            .meta
            .last_modified
            .format("%a, %d %b %Y %H:%M:%S GMT")
            .to_string(),
    ) {
        headers.insert(header::LAST_MODIFIED, modified);
    }
    if partial {
        let content_range = format!(
            "bytes {}-{}/{}",
            stream.range.start,
            stream.range.end.saturating_sub(1),
            stream.meta.size
        );
        if let Ok(value) = HeaderValue::from_str(&content_range) {
            headers.insert(header::CONTENT_RANGE, value);
        }
    }
    Ok(response)
}

/// What a `Range` header asks for, resolved against the object size.
#[derive(Debug, PartialEq, Eq)]
enum RangeRequest {
    /// One satisfiable range (half-open).
    Satisfiable(std::ops::Range<u64>),
    /// A well-formed range entirely outside the object: 416.
    Unsatisfiable,
    /// Malformed, multiple or non-byte ranges: serve the whole object (RFC 9110 allows it).
    Ignored,
}

fn parse_range(raw: &str, size: u64) -> RangeRequest {
    let Some(spec) = raw.trim().strip_prefix("bytes=") else {
        return RangeRequest::Ignored;
    };
    if spec.contains(',') {
        return RangeRequest::Ignored;
    }
    let Some((start, end)) = spec.trim().split_once('-') else {
        return RangeRequest::Ignored;
    };
    let (start, end) = (start.trim(), end.trim());
    let range = if start.is_empty() {
        // Suffix range: the last N bytes.
        let Ok(suffix) = end.parse::<u64>() else {
            return RangeRequest::Ignored;
        };
        if suffix == 0 {
            return RangeRequest::Unsatisfiable;
        }
        size.saturating_sub(suffix)..size
    } else {
        let Ok(start) = start.parse::<u64>() else {
            return RangeRequest::Ignored;
        };
        let end = if end.is_empty() {
            size
        } else {
            match end.parse::<u64>() {
                Ok(last) if last >= start => last.saturating_add(1).min(size),
                _ => return RangeRequest::Ignored,
            }
        };
        if start >= size {
            return RangeRequest::Unsatisfiable;
        }
        start..end
    };
    if range.is_empty() {
        RangeRequest::Unsatisfiable
    } else {
        RangeRequest::Satisfiable(range)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_follow_rfc_9110() {
        assert_eq!(
            parse_range("bytes=0-99", 1000),
            RangeRequest::Satisfiable(0..100)
        );
        assert_eq!(
            parse_range("bytes=900-", 1000),
            RangeRequest::Satisfiable(900..1000)
        );
        assert_eq!(
            parse_range("bytes=-100", 1000),
            RangeRequest::Satisfiable(900..1000)
        );
        assert_eq!(
            parse_range("bytes=-5000", 1000),
            RangeRequest::Satisfiable(0..1000)
        );
        assert_eq!(
            parse_range("bytes=990-5000", 1000),
            RangeRequest::Satisfiable(990..1000)
        );
        assert_eq!(
            parse_range("bytes=1000-", 1000),
            RangeRequest::Unsatisfiable
        );
        assert_eq!(parse_range("bytes=-0", 1000), RangeRequest::Unsatisfiable);
        assert_eq!(parse_range("bytes=5-1", 1000), RangeRequest::Ignored);
        assert_eq!(parse_range("bytes=0-1,5-9", 1000), RangeRequest::Ignored);
        assert_eq!(parse_range("items=0-1", 1000), RangeRequest::Ignored);
        assert_eq!(parse_range("bytes=abc", 1000), RangeRequest::Ignored);
        assert_eq!(parse_range("bytes=0-", 0), RangeRequest::Unsatisfiable);
    }
}
