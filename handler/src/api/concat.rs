//! `POST /api/v1/concat` (server files and silence tokens, JSON) and
//! `POST /api/v1/concat/mixed` (server files, uploads and silences, multipart).

use std::collections::BTreeSet;
use std::sync::Arc;

use audio::memory::Lease;

use axum::Json;
use axum::extract::{DefaultBodyLimit, FromRequest, State};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use audio::encode::ExportFormat;
use audio::timeline::{ConcatOptions, Entry, SilenceToken};

use super::audio_response::{self, GenerationQuery};
use super::form::Form;
use crate::error::{Error, ErrorBody, Result};
use crate::extract::{self, Multipart, Query};
use crate::naming;
use crate::service::concat::{self, Job, Kind, Outcome, OutputFile, Source};
use crate::state::AppState;

/// Routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(concat_files)).merge(
        OpenApiRouter::new()
            .routes(routes!(concat_mixed))
            .layer(DefaultBodyLimit::disable()),
    )
}

fn default_formats() -> Vec<String> {
    vec!["wav".into()]
}
fn default_true() -> bool {
    true
}
fn default_variation() -> u32 {
    200
}
fn default_trim_threshold() -> u32 {
    200
}

/// Settings shared by both concat endpoints (the original's names and defaults).
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
pub struct ConcatSettings {
    /// Formats to write: `wav` (16-bit), `wav32` (float), `mp3`, `flac`, `opus`, `aac`, `pcm`. The first is streamed.
    #[serde(default = "default_formats")]
    #[schema(default = json!(["wav"]))]
    pub export_formats: Vec<String>,
    /// Level each clip to -20 dBFS RMS before joining.
    #[serde(default = "default_true")]
    #[schema(default = true)]
    pub normalize_levels: bool,
    /// Crossfade between directly adjacent clips, 0–5000 ms (clamped to the shorter clip).
    #[serde(default)]
    pub crossfade_ms: u32,
    /// Natural pause between consecutive clips, 0–3000 ms (0: none).
    #[serde(default)]
    pub pause_duration_ms: u32,
    /// Random ± variation of each pause, 0–500 ms, below `pause_duration_ms` when that is set.
    #[serde(default = "default_variation")]
    #[schema(default = 200)]
    pub pause_variation_ms: u32,
    /// Trim each clip's leading and trailing silence.
    #[serde(default)]
    pub trim: bool,
    /// Edge silence longer than this is trimmed (50–1000 ms), leaving 50 ms.
    #[serde(default = "default_trim_threshold")]
    #[schema(default = 200)]
    pub trim_threshold_ms: u32,
    /// Output file name (a plain name; its extension is replaced per format; an existing file is replaced).
    pub output_filename: Option<String>,
    /// Output folder under `outputs/` (empty: the root).
    pub project: Option<String>,
    /// Alias of `project`; giving both with different values is an error.
    pub folder: Option<String>,
    /// Seed for the pause variation (same seed, same pauses); random when absent, reported in the metadata.
    pub seed: Option<u64>,
    /// MP3 bitrate in kbit/s (default 320; at most 160 below 32 kHz, as the format allows).
    pub mp3_bitrate_kbps: Option<u16>,
    /// Opus bitrate in kbit/s (default 48).
    pub opus_bitrate_kbps: Option<u16>,
}

/// `POST /concat` body.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
pub struct ConcatRequest {
    /// Output files (paths under `outputs/`, e.g. `book1/ch1.wav`) and silence tokens such as `(500ms)` or `(1.5s)` (50 ms–10 s).
    pub files: Vec<String>,
    /// Settings.
    #[serde(flatten)]
    pub settings: ConcatSettings,
    /// `stream` (default) or `url`; the query parameter wins when both are given.
    pub response_mode: Option<String>,
}

/// One segment of a mixed concatenation.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
pub struct Segment {
    /// `server_file`, `upload` or `silence`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The output path (`server_file`) or the silence token (`silence`).
    pub source: Option<String>,
    /// Index into `uploaded_files` (`upload`); one upload may be used several times.
    pub index: Option<i64>,
}

/// The `request_json` field of `POST /concat/mixed`.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
pub struct MixedConcatRequest {
    /// The timeline.
    pub segments: Vec<Segment>,
    /// Settings.
    #[serde(flatten)]
    pub settings: ConcatSettings,
    /// `stream` (default) or `url`; the query parameter wins when both are given.
    pub response_mode: Option<String>,
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
    let entries = audio::timeline::parse_entries(&request.files)?;
    let sources = entries
        .into_iter()
        .map(|entry| match entry {
            Entry::Silence(token) => Source::Silence(token),
            Entry::File(name) => Source::Server(name),
        })
        .collect();
    let parameters = parameters_of(&request);
    let job = build_job(Kind::Concat, sources, &request.settings, parameters)?;
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
    let sources = mixed_sources(&request.segments, uploads)?;
    let parameters = parameters_of(&request);
    let job = build_job(Kind::Mixed, sources, &request.settings, parameters)?;
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

/// Validates segments and pairs upload indices with the uploaded files.
fn mixed_sources(
    segments: &[Segment],
    uploads: Vec<crate::service::upload::AudioUpload>,
) -> Result<Vec<Source>> {
    if segments.is_empty() {
        return Err(Error::invalid(
            "segments",
            "at least one segment is required",
        ));
    }
    let mut indices = BTreeSet::new();
    let mut sources = Vec::with_capacity(segments.len());
    for (position, segment) in segments.iter().enumerate() {
        let field = |what: &str| format!("segments[{position}]: {what}");
        let source = segment
            .source
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty());
        sources.push(match segment.kind.as_str() {
            "server_file" => match (source, segment.index) {
                (Some(name), None) => Source::Server(name.to_owned()),
                (None, _) => {
                    return Err(Error::invalid(
                        "segments",
                        field("a server_file segment needs a source"),
                    ));
                }
                (Some(_), Some(_)) => {
                    return Err(Error::invalid(
                        "segments",
                        field("a server_file segment takes no index"),
                    ));
                }
            },
            "upload" => match (segment.index, source) {
                (Some(index), None) if index >= 0 => {
                    let index = usize::try_from(index)
                        .map_err(|_| Error::invalid("segments", field("index is too large")))?;
                    indices.insert(index);
                    Source::Upload {
                        index,
                        file_name: String::new(),
                        bytes: bytes::Bytes::new(),
                    }
                }
                (Some(_), None) => {
                    return Err(Error::invalid("segments", field("index must be 0 or more")));
                }
                (None, _) => {
                    return Err(Error::invalid(
                        "segments",
                        field("an upload segment needs an index"),
                    ));
                }
                (Some(_), Some(_)) => {
                    return Err(Error::invalid(
                        "segments",
                        field("an upload segment takes no source"),
                    ));
                }
            },
            "silence" => match (source, segment.index) {
                (Some(token), None) => Source::Silence(SilenceToken::parse(token)?),
                (None, _) => {
                    return Err(Error::invalid(
                        "segments",
                        field("a silence segment needs a source such as (500ms)"),
                    ));
                }
                (Some(_), Some(_)) => {
                    return Err(Error::invalid(
                        "segments",
                        field("a silence segment takes no index"),
                    ));
                }
            },
            other => {
                return Err(Error::invalid(
                    "segments",
                    field(&format!(
                        "unknown type {other:?}; use server_file, upload or silence"
                    )),
                ));
            }
        });
    }
    if !sources.iter().any(|s| !matches!(s, Source::Silence(_))) {
        return Err(Error::invalid(
            "segments",
            "at least one audio segment (server_file or upload) is required",
        ));
    }
    let expected = indices.iter().next_back().map_or(0, |max| max + 1);
    if indices.len() != expected {
        let missing: Vec<String> = (0..expected)
            .filter(|i| !indices.contains(i))
            .map(|i| i.to_string())
            .collect();
        return Err(Error::invalid(
            "segments",
            format!(
                "upload indices must run from 0 without gaps; missing {}",
                missing.join(", ")
            ),
        ));
    }
    if uploads.len() != expected {
        return Err(Error::BadRequest(format!(
            "Expected {expected} uploaded files, got {}",
            uploads.len()
        )));
    }
    for source in &mut sources {
        if let Source::Upload {
            index,
            file_name,
            bytes,
        } = source
        {
            let upload = &uploads[*index];
            file_name.clone_from(&upload.file_name);
            *bytes = upload.bytes.clone();
        }
    }
    Ok(sources)
}

fn parameters_of<T: Serialize>(request: &T) -> serde_json::Map<String, Value> {
    match serde_json::to_value(request) {
        Ok(Value::Object(map)) => map,
        _ => serde_json::Map::new(),
    }
}

fn build_job(
    kind: Kind,
    sources: Vec<Source>,
    settings: &ConcatSettings,
    mut parameters: serde_json::Map<String, Value>,
) -> Result<Job> {
    let folder = output_folder(settings.project.as_deref(), settings.folder.as_deref())?;
    let formats = export_formats(settings)?;
    let seed = settings
        .seed
        .unwrap_or_else(|| uuid::Uuid::new_v4().as_u64_pair().0);
    let options = ConcatOptions {
        normalize_levels: settings.normalize_levels,
        crossfade_ms: settings.crossfade_ms,
        pause_duration_ms: settings.pause_duration_ms,
        pause_variation_ms: settings.pause_variation_ms,
        trim: settings.trim,
        trim_threshold_ms: settings.trim_threshold_ms,
        seed,
    };
    options.validate()?;
    if let Some(name) = &settings.output_filename {
        // Checked now so a bad name fails before any work.
        naming::custom_output_name("output_filename", name, "wav")?;
    }
    parameters.insert("seed".into(), seed.into());
    parameters.insert("project".into(), folder.clone().into());
    parameters.remove("folder");
    Ok(Job {
        kind,
        sources,
        options,
        formats,
        folder,
        output_filename: settings.output_filename.clone(),
        parameters,
    })
}

/// `project`, or its alias `folder`; both with different values is a 422.
fn output_folder(project: Option<&str>, folder: Option<&str>) -> Result<Option<String>> {
    match (project, folder) {
        (Some(p), Some(f)) if p.trim_end_matches('/') != f.trim_end_matches('/') => {
            Err(Error::invalid(
                "folder",
                format!("project ({p:?}) and folder ({f:?}) differ; give one of them"),
            ))
        }
        (Some(p), _) => naming::folder_param("project", Some(p)),
        (None, f) => naming::folder_param("folder", f),
    }
}

fn export_formats(settings: &ConcatSettings) -> Result<Vec<ExportFormat>> {
    if settings.export_formats.is_empty() {
        return Err(Error::invalid(
            "export_formats",
            "export_formats must name at least one format",
        ));
    }
    let mut formats: Vec<ExportFormat> = Vec::new();
    for name in &settings.export_formats {
        let mut format: ExportFormat = name.parse()?;
        match (
            format,
            settings.mp3_bitrate_kbps,
            settings.opus_bitrate_kbps,
        ) {
            (ExportFormat::Mp3 { .. }, Some(kbps), _) => format = ExportFormat::mp3(kbps)?,
            (ExportFormat::Opus { .. }, _, Some(kbps)) => format = ExportFormat::opus(kbps)?,
            _ => {}
        }
        if !formats.iter().any(|f| f.name() == format.name()) {
            formats.push(format);
        }
    }
    Ok(formats)
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
            files: outcome.files,
        })
        .into_response());
    }
    audio_response::stream_file(&outcome.files, return_format)
}
