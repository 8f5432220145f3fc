//! The two answers of every generating endpoint: the audio itself (`response_mode`
//! `stream`, `file` or `download`, the default) or JSON (`url` and anything else).

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use serde::Deserialize;

use crate::error::{Error, Result};
use crate::naming;
use crate::service::publish::OutputFile;

/// Query of the generating endpoints (TTS, VC and both concatenations).
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct GenerationQuery {
    /// `stream`, `file` or `download` answer with the audio (default); anything else (`url`, `json`) with JSON.
    pub response_mode: Option<String>,
    /// Which written format to stream (default: the first of `export_formats`).
    pub return_format: Option<String>,
}

/// Whether a `response_mode` asks for the audio (the default) rather than JSON.
pub fn wants_stream(mode: Option<&str>) -> bool {
    mode.is_none_or(|m| {
        matches!(
            m.trim().to_ascii_lowercase().as_str(),
            "stream" | "file" | "download"
        )
    })
}

/// Refuses, before any work, a `return_format` the request will not write: answering
/// another format instead (the original's behaviour) hands the client audio it did not
/// ask for. Only matters when the answer is the audio (`mode` streams).
pub fn check_return_format(
    mode: Option<&str>,
    return_format: Option<&str>,
    formats: &[audio::encode::ExportFormat],
) -> Result<()> {
    let Some(wanted) = return_format.map(|f| f.trim().to_ascii_lowercase()) else {
        return Ok(());
    };
    if wanted.is_empty() || !wants_stream(mode) {
        return Ok(());
    }
    if formats
        .iter()
        .any(|f| f.name() == wanted || f.extension() == wanted)
    {
        return Ok(());
    }
    let written: Vec<&str> = formats.iter().map(|f| f.name()).collect();
    Err(Error::UnsupportedExportFormat(format!(
        "return_format {wanted:?} is not among the formats this request writes ({}): add it to \
         export_formats, or leave return_format out to get the first",
        written.join(", ")
    )))
}

/// Streams one written file: `return_format` if it was written, else the first. The
/// others are listed in `X-Alternative-Formats` as `fmt:url` pairs joined by `|`.
pub fn stream_file(files: &[OutputFile], return_format: Option<&str>) -> Result<Response> {
    let wanted = return_format.map(|f| f.trim().to_ascii_lowercase());
    let chosen = wanted
        .as_deref()
        .and_then(|w| {
            files
                .iter()
                .position(|f| f.format == w || naming::extension(&f.filename).as_deref() == Some(w))
        })
        .unwrap_or(0);
    let file = files
        .get(chosen)
        .ok_or_else(|| Error::Internal("no output was written".into()))?;
    let alternatives: Vec<String> = files
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != chosen)
        .map(|(_, f)| format!("{}:{}", f.format, f.url))
        .collect();
    let mut response = Response::new(Body::from(file.bytes.clone()));
    *response.status_mut() = StatusCode::OK;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(file.content_type),
    );
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(file.bytes.len()));
    headers.insert(
        header::CONTENT_DISPOSITION,
        naming::attachment_disposition(&file.filename),
    );
    if !alternatives.is_empty()
        && let Ok(value) = HeaderValue::from_str(&alternatives.join("|"))
    {
        headers.insert("x-alternative-formats", value);
    }
    if let Ok(value) = HeaderValue::from_str(&file.url) {
        headers.insert(header::CONTENT_LOCATION, value);
    }
    Ok(response)
}

/// Adds `X-Speech-Warnings` (the response's warnings, `; `-joined, ASCII only) so clients
/// of the streamed mode see them too.
pub fn add_warnings(response: &mut Response, warnings: &[String]) {
    if let Some(value) = crate::notices::header_value(warnings) {
        response.headers_mut().insert(crate::notices::HEADER, value);
    }
}

/// Names where an answer's captions are served (`X-Captions-Url`), for a streamed answer
/// whose JSON would have carried them.
pub fn add_captions_url(response: &mut Response, files: &[OutputFile]) {
    if let Some(file) = files.first()
        && let Ok(url) = HeaderValue::from_str(&format!(
            "/api/v1/output/{}/captions",
            file.path.replace('/', "%2F")
        ))
    {
        response.headers_mut().insert("x-captions-url", url);
    }
}
