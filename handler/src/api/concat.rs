//! `POST /api/v1/concat` (server files and silence tokens, JSON) and
//! `POST /api/v1/concat/mixed` (server files, uploads and silences, multipart): read the
//! body, let the service build and run the job (`service::concat`), shape the answer.

use std::sync::Arc;

use audio::memory::Lease;
use axum::Json;
use axum::extract::{DefaultBodyLimit, FromRequest, State};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::audio_response::{self, GenerationQuery};
use super::form::Form;
use crate::error::{Error, ErrorBody, Result};
use crate::extract::{self, Multipart, Query};
use crate::service::concat::{self, ConcatRequest, MixedConcatRequest, Outcome, OutputFile};
use crate::state::AppState;

/// Routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(concat_files)).merge(
        OpenApiRouter::new()
            .routes(routes!(concat_mixed))
            .layer(DefaultBodyLimit::disable()),
    )
}

/// JSON answer (`response_mode=url`).
#[derive(Debug, Serialize, ToSchema)]
pub struct ConcatResponse {
    /// Always true.
    pub success: bool,
    /// What happened.
    pub message: String,
    /// File names written, one per format.
    pub output_files: Vec<String>,
    /// The same files with format, URL, path and size.
    pub files: Vec<OutputFile>,
    /// Length of the result.
    pub total_duration_seconds: f64,
    /// Audio items joined.
    pub file_count: usize,
    /// Wall time of the request.
    pub processing_time_seconds: f64,
    /// The timeline report: `processing_details`, pauses, trim summary, seed.
    #[schema(value_type = Object)]
    pub metadata: Value,
    /// The clips' captions joined, when the request set `captions: true` and some clip
    /// had captions (also served by `GET /api/v1/output/{filename}/captions`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub captions: Option<crate::service::captions::Captions>,
}

/// Concatenate outputs with silences, pauses, crossfades, trimming and levelling.
#[utoipa::path(post, path = "/concat", tag = "concat", params(GenerationQuery), request_body = ConcatRequest,
    responses(
        (status = 200, description = "`stream`: the first format's audio, others in `X-Alternative-Formats`; `url`: JSON",
            content((ConcatResponse = "application/json"), ("audio/wav"), ("audio/mpeg"), ("audio/flac"), ("audio/ogg"), ("audio/aac"), ("audio/pcm"))),
        (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 413, body = ErrorBody),
        (status = 415, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn concat_files(
    State(state): State<AppState>,
    Query(query): Query<GenerationQuery>,
    extract::Json(request): extract::Json<ConcatRequest>,
) -> Result<Response> {
    let job = request.job()?;
    let mode = query
        .response_mode
        .as_deref()
        .or(request.response_mode.as_deref());
    audio_response::check_return_format(mode, query.return_format.as_deref(), &job.formats)?;
    respond(
        concat::run(&state, job, Arc::new(state.memory().lease())).await?,
        mode,
        query.return_format.as_deref(),
    )
}

/// The multipart fields of a mixed concatenation (documentation only).
#[derive(ToSchema)]
#[allow(dead_code)]
struct MixedConcatForm {
    /// A `MixedConcatRequest` as a JSON string.
    request_json: String,
    /// Uploaded audio, referenced by position from `upload` segments (repeat the field).
    #[schema(value_type = Vec<String>, format = Binary)]
    uploaded_files: Vec<Vec<u8>>,
}

/// The URL-encoded form of a mixed concatenation without uploads (documentation only).
#[derive(ToSchema)]
#[allow(dead_code)]
struct MixedConcatFields {
    /// A `MixedConcatRequest` as a JSON string (server files and silences only).
    request_json: String,
}

/// Concatenate server files, uploads and silences (a multipart form; a URL-encoded form
/// when nothing is uploaded).
#[utoipa::path(post, path = "/concat/mixed", tag = "concat", params(GenerationQuery),
    request_body(content(
        (MixedConcatForm = "multipart/form-data"),
        (MixedConcatFields = "application/x-www-form-urlencoded"))),
    responses(
        (status = 200, description = "`stream`: the first format's audio, others in `X-Alternative-Formats`; `url`: JSON",
            content((ConcatResponse = "application/json"), ("audio/wav"), ("audio/mpeg"), ("audio/flac"), ("audio/ogg"), ("audio/aac"), ("audio/pcm"))),
        (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 413, body = ErrorBody),
        (status = 415, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn concat_mixed(
    State(state): State<AppState>,
    Query(query): Query<GenerationQuery>,
    body: axum::extract::Request,
) -> Result<Response> {
    let lease = Arc::new(state.memory().lease());
    let form = read_mixed_form(&state, body, &lease).await?;
    let raw = form
        .texts
        .get("request_json")
        .ok_or_else(|| Error::BadRequest("Missing form field \"request_json\"".into()))?;
    let request: MixedConcatRequest =
        serde_json::from_str(raw).map_err(|e| match e.classify() {
            serde_json::error::Category::Data => {
                Error::invalid("request_json", format!("Invalid request format: {e}"))
            }
            _ => Error::BadRequest(format!("Invalid JSON in request: {e}")),
        })?;
    let uploads: Vec<_> = form.files.into_iter().map(|(_, upload)| upload).collect();
    let job = request.job(uploads)?;
    let mode = query
        .response_mode
        .as_deref()
        .or(request.response_mode.as_deref());
    audio_response::check_return_format(mode, query.return_format.as_deref(), &job.formats)?;
    respond(
        concat::run(&state, job, lease).await?,
        mode,
        query.return_format.as_deref(),
    )
}

/// Longest URL-encoded body of a mixed concatenation (it carries only `request_json`).
const MAX_URLENCODED_BYTES: usize = 1024 * 1024;

/// The fields of a mixed concatenation: a multipart form (with uploads), or, as the
/// original accepted and as `curl --data-urlencode` and `requests.post(data=…)` send when
/// there is nothing to upload, a URL-encoded form.
async fn read_mixed_form(
    state: &AppState,
    body: axum::extract::Request,
    lease: &Lease,
) -> Result<Form> {
    let urlencoded = body
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| {
            v.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        });
    if urlencoded {
        let bytes = axum::body::to_bytes(body.into_body(), MAX_URLENCODED_BYTES)
            .await
            .map_err(|_| {
                Error::TooLarge(format!(
                    "a URL-encoded form may be at most {} KB; upload files as multipart/form-data",
                    MAX_URLENCODED_BYTES / 1024
                ))
            })?;
        let fields: Vec<(String, String)> = serde_urlencoded::from_bytes(&bytes)
            .map_err(|e| Error::BadRequest(format!("Malformed URL-encoded form: {e}")))?;
        let mut form = Form::default();
        form.texts.extend(fields);
        return Ok(form);
    }
    let Multipart(multipart) = Multipart::from_request(body, state).await?;
    let limits = &state.config().limits;
    Form::read(
        multipart,
        &["uploaded_files", "uploaded_files[]"],
        limits.concat_upload_bytes(),
        limits.concat_upload_bytes(),
        lease,
    )
    .await
}

/// Streams one file (with the others in `X-Alternative-Formats`) or answers JSON.
fn respond(outcome: Outcome, mode: Option<&str>, return_format: Option<&str>) -> Result<Response> {
    if !audio_response::wants_stream(mode) {
        return Ok(Json(ConcatResponse {
            success: true,
            message: "Audio concatenation completed successfully".into(),
            output_files: outcome.files.iter().map(|f| f.filename.clone()).collect(),
            total_duration_seconds: outcome.total_duration_seconds,
            file_count: outcome.file_count,
            processing_time_seconds: outcome.processing_time_seconds,
            metadata: outcome.metadata,
            captions: outcome.captions,
            files: outcome.files,
        })
        .into_response());
    }
    let mut response = audio_response::stream_file(&outcome.files, return_format)?;
    if outcome.captions.is_some() {
        audio_response::add_captions_url(&mut response, &outcome.files);
    }
    Ok(response)
}
