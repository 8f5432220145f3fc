//! Captioned speech, an extension beside OpenAI's speech route (which stays untouched):
//! `POST /v1/audio/speech/captioned`, also at Kokoro-FastAPI's `/dev/captioned_speech` so
//! its clients work. The body is the speech body; the answer is JSON with the whole audio
//! in base64, Kokoro's `timestamps` (one per word, when the voice gives word timings) and
//! our `captions` (sentences with their written text and words).

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde::Serialize;
use utoipa::ToSchema;

use super::catalog;
use super::error::OpenAiError;
use super::speech::{MAX_BODY_BYTES, SAMPLE_RATE, parse};
use crate::error::Error;
use crate::service::captions::Captions;
use crate::service::speech_stream;
use crate::state::AppState;

/// One word's time in the audio, as Kokoro-FastAPI names it.
#[derive(Debug, Serialize, ToSchema)]
pub struct WordTimestamp {
    /// The word as spoken.
    pub word: String,
    /// Start, seconds.
    pub start_time: f64,
    /// End, seconds.
    pub end_time: f64,
}

/// The answer of the captioned-speech routes.
#[derive(Debug, Serialize, ToSchema)]
pub struct CaptionedSpeechResponse {
    /// The audio in `response_format`, base64.
    pub audio: String,
    /// `response_format`.
    pub audio_format: String,
    /// Every word with its times (Kokoro's shape); null when the voice gives sentence
    /// timings only (Chatterbox).
    pub timestamps: Option<Vec<WordTimestamp>>,
    /// Sentences with their written text, offsets and words (see `docs/api.md`, "Captions").
    pub captions: Captions,
    /// The engine that spoke.
    pub engine: String,
}

/// Synthesise speech with word timings (an extension; Kokoro-FastAPI's captioned speech).
///
/// Takes the speech body of `POST /v1/audio/speech`; answers once the audio is complete.
/// `stream_format: sse` is refused (the answer is one JSON object).
#[utoipa::path(post, path = "/v1/audio/speech/captioned", tag = "openai", request_body = super::schema::SpeechBody,
    responses(
        (status = 200, body = CaptionedSpeechResponse),
        (status = 400, body = super::schema::OpenAiErrorBody), (status = 401, body = super::schema::OpenAiErrorBody),
        (status = 404, body = super::schema::OpenAiErrorBody), (status = 413, body = super::schema::OpenAiErrorBody),
        (status = 429, body = super::schema::OpenAiErrorBody), (status = 500, body = super::schema::OpenAiErrorBody),
        (status = 503, body = super::schema::OpenAiErrorBody)))]
pub async fn create_captioned_speech(State(state): State<AppState>, body: Body) -> Response {
    let Ok(bytes) = axum::body::to_bytes(body, MAX_BODY_BYTES).await else {
        return OpenAiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "invalid_request_error",
            "request body too large",
        )
        .into_response();
    };
    match respond(&state, &bytes).await {
        Ok(answer) => Json(answer).into_response(),
        Err(error) => error.into_response(),
    }
}

async fn respond(state: &AppState, body: &[u8]) -> Result<CaptionedSpeechResponse, OpenAiError> {
    let request = parse(body)?;
    if request.sse {
        return Err(OpenAiError::invalid(
            "stream_format",
            "captioned speech answers one JSON object: stream_format must be audio",
        )
        .code("invalid_value"));
    }
    let resolved = catalog::resolve(state, &request.model, &request.voice).await?;
    let lexicons =
        crate::service::lexicons::load(state.store().as_ref(), "lexicons", &request.lexicons)
            .await?;
    let spoken =
        speech_stream::captioned(state, request.stream_request(&resolved, lexicons)).await?;
    let format = request.format;
    let encoders = state.encoders().clone();
    let encoded = crate::service::work::blocking("encode", move || {
        let pcm = audio::Pcm::mono(SAMPLE_RATE, spoken.samples);
        encoders.encode(&pcm, format).map_err(Error::from)
    })
    .await??;
    let captions = spoken.captions;
    let words: Vec<WordTimestamp> = captions
        .segments
        .iter()
        .flat_map(|segment| &segment.words)
        .map(|word| WordTimestamp {
            word: word.word.clone(),
            start_time: word.start,
            end_time: word.end,
        })
        .collect();
    Ok(CaptionedSpeechResponse {
        audio: base64::engine::general_purpose::STANDARD.encode(&encoded.bytes),
        audio_format: format.name().to_owned(),
        timestamps: (!words.is_empty()).then_some(words),
        captions,
        engine: resolved.engine.name().to_owned(),
    })
}
