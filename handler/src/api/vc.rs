//! `POST /api/v1/vc`: voice conversion, from a stored VC input (JSON) or an uploaded
//! recording (multipart), answered with the audio or with JSON.

use std::sync::Arc;

use axum::Json;
use axum::extract::{DefaultBodyLimit, FromRequest, Request, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::audio_response::{self, GenerationQuery};
use super::form::Form;
use crate::error::{Error, ErrorBody, Result};
use crate::extract::{Multipart, Query};
use crate::service::generation;
use crate::service::publish::OutputFile;
use crate::service::vc::{self, VcRequest, VcSource};
use crate::state::AppState;

/// Routes of this module. Uploads are read with their own limit, so axum's cap is lifted.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(voice_conversion))
        .layer(DefaultBodyLimit::disable())
}

/// JSON answer of `POST /api/v1/vc` (`response_mode=url`).
#[derive(Debug, Serialize, ToSchema)]
pub struct VcResponse {
    /// Always true.
    pub success: bool,
    /// `Voice conversion completed successfully`.
    pub message: String,
    /// Every written file: format, file name, URL, path and size.
    pub output_files: Vec<OutputFile>,
    /// Wall time of the request.
    pub processing_time_seconds: f64,
    /// Length of the audio in seconds.
    pub duration_seconds: f64,
    /// Requested features this server does not provide (empty when none).
    pub warnings: Vec<String>,
}

/// The multipart fields of an upload conversion (documentation only).
#[derive(ToSchema)]
#[allow(dead_code)]
struct VcUploadForm {
    /// The recording to convert (wav, mp3, flac, ogg, m4a, aac); not stored.
    #[schema(value_type = String, format = Binary)]
    input_audio: Vec<u8>,
    /// The voice to speak in (a file under `voices/`).
    target_voice_source: String,
    /// Seconds per chunk, 1–300 (default 60).
    chunk_sec: Option<i64>,
    /// Crossfade in seconds, 0–5 (default 0.1).
    overlap_sec: Option<f64>,
    /// Comma-separated formats (default `wav,mp3`).
    export_formats: Option<String>,
    /// Output folder under `outputs/`.
    project: Option<String>,
    /// Accepted for compatibility.
    disable_watermark: Option<bool>,
}

/// Convert a recording into a stored voice.
///
/// JSON (`Content-Type: application/json`) names a file in `vc_inputs/`; a multipart
/// form uploads `input_audio`. Needs the Chatterbox bundle (503 `MODEL_NOT_INSTALLED` without it).
#[utoipa::path(post, path = "/vc", tag = "generation", params(GenerationQuery),
    request_body(content((VcRequest = "application/json"), (VcUploadForm = "multipart/form-data"))),
    responses(
        (status = 200, description = "`stream`: the first format's audio (others in `X-Alternative-Formats`); `url`: JSON",
            content((VcResponse = "application/json"), ("audio/wav"), ("audio/mpeg"), ("audio/flac"), ("audio/ogg"), ("audio/aac"), ("audio/pcm"))),
        (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 413, body = ErrorBody),
        (status = 415, body = ErrorBody), (status = 422, body = ErrorBody), (status = 500, body = ErrorBody),
        (status = 503, body = ErrorBody)))]
async fn voice_conversion(
    State(state): State<AppState>,
    Query(query): Query<GenerationQuery>,
    request: Request,
) -> Result<Response> {
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    let lease = Arc::new(state.memory().lease());
    let (source, body) = if content_type.starts_with("application/json") {
        let body = json_body(request).await?;
        (VcSource::Stored(body.input_audio_source.clone()), body)
    } else if content_type.starts_with("multipart/form-data") {
        let Multipart(multipart) = Multipart::from_request(request, &()).await?;
        let limit = state.config().limits.vc_input_upload_bytes();
        let mut form = Form::read(multipart, &["input_audio"], limit, limit, &lease).await?;
        let upload = form.take_file("input_audio")?;
        (VcSource::Upload(upload), form_request(&form)?)
    } else {
        return Err(Error::BadRequest(
            "Either provide JSON body or upload files with form parameters".into(),
        ));
    };
    let mode = query
        .response_mode
        .clone()
        .or_else(|| body.response_mode.clone());
    audio_response::check_return_format(
        mode.as_deref(),
        query.return_format.as_deref(),
        &generation::export_formats(&body.export_formats, generation::Bitrates::default())?,
    )?;
    let outcome = vc::run(&state, source, body, lease).await?;
    if !audio_response::wants_stream(mode.as_deref()) {
        return Ok(Json(VcResponse {
            success: true,
            message: "Voice conversion completed successfully".into(),
            processing_time_seconds: outcome.processing_time_seconds,
            duration_seconds: outcome.duration_seconds,
            warnings: outcome.warnings,
            output_files: outcome.files,
        })
        .into_response());
    }
    let mut response = audio_response::stream_file(&outcome.files, query.return_format.as_deref())?;
    audio_response::add_warnings(&mut response, &outcome.warnings);
    Ok(response)
}

/// Largest JSON body accepted (the route lifts axum's default cap for uploads).
const MAX_JSON_BYTES: usize = 64 * 1024;

/// Reads a JSON `VcRequest` within [`MAX_JSON_BYTES`]: bad syntax is 400, bad fields 422.
async fn json_body(request: Request) -> Result<VcRequest> {
    let bytes = axum::body::to_bytes(request.into_body(), MAX_JSON_BYTES)
        .await
        .map_err(|_| {
            Error::TooLarge(format!(
                "the JSON body is larger than {MAX_JSON_BYTES} bytes"
            ))
        })?;
    serde_json::from_slice(&bytes).map_err(|e| match e.classify() {
        serde_json::error::Category::Data => Error::invalid("body", e.to_string()),
        _ => Error::BadRequest(format!("Invalid JSON: {e}")),
    })
}

/// The form's text fields as a request (422 naming a field that does not parse).
fn form_request(form: &Form) -> Result<VcRequest> {
    let mut request = VcRequest {
        target_voice_source: form.text("target_voice_source").unwrap_or_default(),
        project: form.text("project"),
        folder: form.text("folder"),
        response_mode: form.text("response_mode"),
        ..VcRequest::default()
    };
    if let Some(raw) = form.text("chunk_sec") {
        request.chunk_sec = raw.trim().parse().map_err(|_| {
            Error::invalid(
                "chunk_sec",
                format!("chunk_sec must be a whole number (got {raw:?})"),
            )
        })?;
    }
    if let Some(raw) = form.text("overlap_sec") {
        request.overlap_sec = raw.trim().parse().map_err(|_| {
            Error::invalid(
                "overlap_sec",
                format!("overlap_sec must be a number (got {raw:?})"),
            )
        })?;
    }
    if let Some(raw) = form.text("export_formats") {
        request.export_formats = raw
            .split(',')
            .map(|f| f.trim().to_owned())
            .filter(|f| !f.is_empty())
            .collect();
    }
    request.disable_watermark = form.flag("disable_watermark", true)?;
    Ok(request)
}
