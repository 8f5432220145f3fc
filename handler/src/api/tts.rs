//! `POST /api/v1/tts`: text to speech, answered with the audio or with JSON.

use axum::Json;
use axum::extract::State;
use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::audio_response::{self, GenerationQuery};
use crate::error::{ErrorBody, Result};
use crate::extract::{self, Query};
use crate::service::captions::Captions;
use crate::service::generation;
use crate::service::publish::OutputFile;
use crate::service::tts::{self, TtsRequest};
use crate::state::AppState;

/// Routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(text_to_speech))
}

/// JSON answer of `POST /api/v1/tts` (`response_mode=url`).
#[derive(Debug, Serialize, ToSchema)]
pub struct TtsResponse {
    /// Always true.
    pub success: bool,
    /// `TTS generation completed successfully`.
    pub message: String,
    /// Every written file: format, file name, URL, path and size.
    pub output_files: Vec<OutputFile>,
    /// The seed used (the request's, or the one picked for seed 0); null when the built-in
    /// voice spoke, since no seed reproduces its audio.
    pub generation_seed_used: Option<u64>,
    /// Wall time of the request.
    pub processing_time_seconds: f64,
    /// Length of the audio in seconds.
    pub duration_seconds: f64,
    /// Sample rate of the audio.
    pub sample_rate: u32,
    /// The engine that spoke: `piper` or `chatterbox`.
    pub model: String,
    /// Requested features this server does not provide, in words (empty when none).
    pub warnings: Vec<String>,
    /// Where each sentence is in the audio, when the request set `captions: true` (also
    /// served by `GET /api/v1/output/{filename}/captions`); absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub captions: Option<Captions>,
}

/// Synthesise speech from text.
///
/// Piper (the built-in voice) speaks when no `reference_audio_filename` is given;
/// Chatterbox clones a stored voice. The audio is written to `outputs/` in every
/// `export_formats` format with a generation sidecar beside each file.
#[utoipa::path(post, path = "/tts", tag = "generation", params(GenerationQuery), request_body = TtsRequest,
    responses(
        (status = 200, description = "`stream`: the first format's audio (others in `X-Alternative-Formats`); `url`: JSON",
            content((TtsResponse = "application/json"), ("audio/wav"), ("audio/mpeg"), ("audio/flac"), ("audio/ogg"), ("audio/aac"), ("audio/pcm"))),
        (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 500, body = ErrorBody), (status = 503, body = ErrorBody)))]
async fn text_to_speech(
    State(state): State<AppState>,
    Query(query): Query<GenerationQuery>,
    extract::Json(request): extract::Json<TtsRequest>,
) -> Result<Response> {
    let mode = query
        .response_mode
        .clone()
        .or_else(|| request.response_mode.clone());
    audio_response::check_return_format(
        mode.as_deref(),
        query.return_format.as_deref(),
        &generation::export_formats(&request.export_formats, generation::Bitrates::default())?,
    )?;
    let outcome = tts::run(&state, request).await?;
    if !audio_response::wants_stream(mode.as_deref()) {
        return Ok(Json(TtsResponse {
            success: true,
            message: "TTS generation completed successfully".into(),
            generation_seed_used: outcome.seed,
            processing_time_seconds: outcome.processing_time_seconds,
            duration_seconds: outcome.duration_seconds,
            sample_rate: outcome.sample_rate,
            model: outcome.engine.name().into(),
            warnings: outcome.warnings,
            captions: outcome.captions,
            output_files: outcome.files,
        })
        .into_response());
    }
    let mut response = audio_response::stream_file(&outcome.files, query.return_format.as_deref())?;
    if let Some(seed) = outcome.seed {
        response
            .headers_mut()
            .insert("x-generation-seed", HeaderValue::from(seed));
    }
    audio_response::add_warnings(&mut response, &outcome.warnings);
    if outcome.captions.is_some() {
        audio_response::add_captions_url(&mut response, &outcome.files);
    }
    Ok(response)
}
