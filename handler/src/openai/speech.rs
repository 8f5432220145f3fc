//! `POST /v1/audio/speech` (also `/audio/speech`): OpenAI's speech request, validated field by
//! field into OpenAI-shaped 400s, then streamed: raw audio bytes as each sentence is
//! synthesised, or Server-Sent Events (`speech.audio.delta` / `speech.audio.done`).

use std::time::Instant;

use audio::encode::ExportFormat;
use audio::encode::stream::StreamEncoder;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use futures::StreamExt;
use models::chatterbox::GenerationParams;
use serde_json::{Map, Value, json};

use super::catalog;
use super::error::OpenAiError;
use crate::error::{Error, Result};
use crate::service::engines::EngineKind;
use crate::service::speech_stream::{self, AudioSink, RawSink, StreamRequest, StreamSummary};
use crate::state::AppState;

/// Longest `input` and `instructions`, in characters (OpenAI's limit).
pub const MAX_INPUT_CHARS: usize = 4096;
/// Sample rate of every OpenAI-endpoint response (OpenAI's `pcm` is 24 kHz).
pub const SAMPLE_RATE: u32 = 24_000;
/// Largest request body accepted.
const MAX_BODY_BYTES: usize = 64 * 1024;

/// A validated speech request.
#[derive(Debug, Clone)]
pub struct SpeechRequest {
    /// Model id.
    pub model: String,
    /// Text to speak.
    pub input: String,
    /// Voice name or id.
    pub voice: String,
    /// Container of the answer.
    pub format: ExportFormat,
    /// Tempo, 0.25–4.0.
    pub speed: f64,
    /// Server-Sent Events instead of raw audio.
    pub sse: bool,
    /// Chatterbox sampling (extension fields); its seed is the request's or a fresh one.
    pub params: GenerationParams,
    /// The seed the request named (absent or 0: none).
    pub requested_seed: Option<u64>,
}

/// Reads and checks the JSON body; every problem is a 400 naming its field.
pub fn parse(body: &[u8]) -> Result<SpeechRequest, OpenAiError> {
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        OpenAiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            format!("We could not parse the JSON body of your request: {e}"),
        )
    })?;
    let Value::Object(top) = value else {
        return Err(OpenAiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "The request body must be a JSON object.",
        ));
    };
    // Clients that cannot add top-level fields may nest our extensions in `extra_body`.
    let extra = match top.get("extra_body") {
        Some(Value::Object(extra)) => extra.clone(),
        Some(Value::Null) | None => Map::new(),
        Some(_) => {
            return Err(OpenAiError::invalid(
                "extra_body",
                "extra_body must be an object",
            ));
        }
    };
    let field = |name: &str| {
        top.get(name)
            .or_else(|| extra.get(name))
            .filter(|v| !v.is_null())
    };

    let model = required_string(field("model"), "model")?;
    let input = required_string(field("input"), "input")?;
    if input.trim().is_empty() {
        return Err(OpenAiError::invalid("input", "input must not be empty").code("empty_string"));
    }
    if !models::text::is_speakable(&input) {
        return Err(OpenAiError::invalid(
            "input",
            "input has nothing to speak: it needs at least one letter or digit",
        )
        .code("invalid_value"));
    }
    let chars = input.chars().count();
    if chars > MAX_INPUT_CHARS {
        return Err(OpenAiError::invalid(
            "input",
            format!("input is {chars} characters long; the maximum is {MAX_INPUT_CHARS}"),
        )
        .code("string_above_max_length"));
    }
    let voice = match field("voice") {
        None => return Err(missing("voice")),
        Some(Value::String(name)) if !name.trim().is_empty() => name.trim().to_owned(),
        Some(Value::Object(object)) => match (object.get("id"), object.len()) {
            (Some(Value::String(id)), 1) if !id.trim().is_empty() => id.trim().to_owned(),
            _ => {
                return Err(OpenAiError::invalid(
                    "voice",
                    "voice must be a name or an object with exactly one key, id",
                ));
            }
        },
        Some(_) => {
            return Err(OpenAiError::invalid(
                "voice",
                "voice must be a string or {\"id\": \"...\"}",
            ));
        }
    };
    if let Some(instructions) = field("instructions") {
        let text = instructions
            .as_str()
            .ok_or_else(|| OpenAiError::invalid("instructions", "instructions must be a string"))?;
        if text.chars().count() > MAX_INPUT_CHARS {
            return Err(OpenAiError::invalid(
                "instructions",
                format!("instructions may be at most {MAX_INPUT_CHARS} characters"),
            )
            .code("string_above_max_length"));
        }
    }
    let format = match field("response_format").map(|v| v.as_str()) {
        None => ExportFormat::Mp3 {
            bitrate_kbps: audio::encode::DEFAULT_MP3_KBPS,
        },
        Some(Some("mp3")) => ExportFormat::Mp3 {
            bitrate_kbps: audio::encode::DEFAULT_MP3_KBPS,
        },
        Some(Some("opus")) => ExportFormat::Opus {
            bitrate_kbps: audio::encode::DEFAULT_OPUS_KBPS,
        },
        Some(Some("flac")) => ExportFormat::Flac,
        Some(Some("wav")) => ExportFormat::Wav,
        Some(Some("pcm")) => ExportFormat::Pcm,
        Some(Some("aac")) => ExportFormat::Aac {
            bitrate_kbps: audio::encode::DEFAULT_AAC_KBPS,
        },
        Some(other) => {
            return Err(OpenAiError::invalid(
                "response_format",
                format!(
                    "Invalid value {}: response_format must be one of mp3, opus, aac, flac, wav, pcm",
                    other.map_or_else(|| "(not a string)".to_owned(), |s| format!("'{s}'"))
                ),
            )
            .code("invalid_value"));
        }
    };
    let speed = number(field("speed"), "speed", 1.0, 0.25, 4.0)?;
    let sse = match field("stream_format").map(|v| v.as_str()) {
        None | Some(Some("audio")) => false,
        Some(Some("sse")) => true,
        Some(_) => {
            return Err(OpenAiError::invalid(
                "stream_format",
                "stream_format must be audio or sse",
            )
            .code("invalid_value"));
        }
    };
    if sse && (model == "tts-1" || model == "tts-1-hd") {
        return Err(OpenAiError::invalid(
            "stream_format",
            "stream_format sse is not supported for tts-1 and tts-1-hd (as with OpenAI); use gpt-4o-mini-tts",
        )
        .code("unsupported_value"));
    }
    let defaults = crate::service::tts::TtsRequest::default();
    let seed = number(field("seed"), "seed", 0.0, 0.0, f64::from(u32::MAX))?;
    let params = speech_stream::chatterbox_params(
        number(
            field("temperature"),
            "temperature",
            defaults.temperature,
            0.0,
            2.0,
        )?,
        number(
            field("exaggeration"),
            "exaggeration",
            defaults.exaggeration,
            0.0,
            2.0,
        )?,
        number(
            field("cfg_weight"),
            "cfg_weight",
            defaults.cfg_weight,
            0.0,
            2.0,
        )?,
        if seed == 0.0 {
            crate::service::generation::fresh_seed()
        } else {
            seed as u64
        },
        1000,
    );
    Ok(SpeechRequest {
        model,
        input,
        voice,
        format,
        speed,
        sse,
        params,
        requested_seed: (seed > 0.0).then_some(seed as u64),
    })
}

fn missing(name: &str) -> OpenAiError {
    OpenAiError::invalid(name, format!("you must provide a {name} parameter"))
        .code("missing_required_parameter")
}

fn required_string(value: Option<&Value>, name: &str) -> Result<String, OpenAiError> {
    match value {
        None => Err(missing(name)),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(_) => {
            Err(OpenAiError::invalid(name, format!("{name} must be a string")).code("invalid_type"))
        }
    }
}

fn number(
    value: Option<&Value>,
    name: &str,
    default: f64,
    min: f64,
    max: f64,
) -> Result<f64, OpenAiError> {
    let Some(value) = value else {
        return Ok(default);
    };
    let number = value.as_f64().ok_or_else(|| {
        OpenAiError::invalid(name, format!("{name} must be a number")).code("invalid_type")
    })?;
    if !(min..=max).contains(&number) {
        return Err(OpenAiError::invalid(
            name,
            format!("{name} must be between {min} and {max} (got {number})"),
        )
        .code("invalid_value"));
    }
    Ok(number)
}

/// Synthesise speech (OpenAI's `POST /v1/audio/speech`; also `/audio/speech`).
///
/// The audio streams as it is made, sentence by sentence; the status and headers go out
/// with the first audio. `x-speech-engine` names the engine, `x-generation-seed` the seed
/// where it reproduces the audio, `openai-processing-ms` the time to the first audio.
#[utoipa::path(post, path = "/v1/audio/speech", tag = "openai", request_body = super::schema::SpeechBody,
    responses(
        (status = 200, description = "The audio in `response_format` (or `text/event-stream` with `stream_format: sse`)",
            content(("audio/mpeg"), ("audio/ogg"), ("audio/aac"), ("audio/flac"), ("audio/wav"), ("audio/pcm"), ("text/event-stream"))),
        (status = 400, body = super::schema::OpenAiErrorBody), (status = 401, body = super::schema::OpenAiErrorBody),
        (status = 404, body = super::schema::OpenAiErrorBody), (status = 413, body = super::schema::OpenAiErrorBody),
        (status = 429, body = super::schema::OpenAiErrorBody), (status = 500, body = super::schema::OpenAiErrorBody),
        (status = 503, body = super::schema::OpenAiErrorBody)))]
pub async fn create_speech(State(state): State<AppState>, body: Body) -> Response {
    let started = Instant::now();
    let bytes = match axum::body::to_bytes(body, MAX_BODY_BYTES).await {
        Ok(bytes) => bytes,
        Err(_) => {
            return OpenAiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "invalid_request_error",
                "request body too large",
            )
            .into_response();
        }
    };
    match respond(&state, &bytes).await {
        Ok(response) => {
            // `respond` answers once the first audio is ready.
            let first_audio = started.elapsed();
            let (mut parts, body) = response.into_parts();
            if let Ok(value) = HeaderValue::from_str(&first_audio.as_millis().to_string()) {
                parts.headers.insert("openai-processing-ms", value);
            }
            let log = SpeechLog {
                started,
                first_audio,
                bytes: 0,
                finished: false,
            };
            let body = futures::stream::unfold(
                (body.into_data_stream(), log),
                |(mut body, mut log)| async move {
                    match body.next().await {
                        Some(item) => {
                            if let Ok(bytes) = &item {
                                log.bytes += bytes.len() as u64;
                            }
                            Some((item, (body, log)))
                        }
                        None => {
                            log.finish();
                            None
                        }
                    }
                },
            );
            Response::from_parts(parts, Body::from_stream(body))
        }
        Err(error) => error.into_response(),
    }
}

/// Logs a streamed answer's time to first audio and total time when it ends, or when its
/// client leaves first (the request's own log line only sees the headers go out).
struct SpeechLog {
    started: Instant,
    first_audio: std::time::Duration,
    bytes: u64,
    finished: bool,
}

impl SpeechLog {
    /// The body went out whole.
    fn finish(&mut self) {
        self.finished = true;
    }
}

impl Drop for SpeechLog {
    fn drop(&mut self) {
        let first_audio_ms = self.first_audio.as_secs_f64() * 1000.0;
        let total_ms = self.started.elapsed().as_secs_f64() * 1000.0;
        if self.finished {
            tracing::info!(first_audio_ms, total_ms, bytes = self.bytes, "speech sent");
        } else {
            tracing::info!(
                first_audio_ms,
                total_ms,
                bytes = self.bytes,
                "speech stopped: the client left"
            );
        }
    }
}

async fn respond(state: &AppState, body: &[u8]) -> Result<Response, OpenAiError> {
    let request = parse(body)?;
    let resolved = catalog::resolve(state, &request.model, &request.voice).await?;
    let (encoder, header) = state
        .encoders()
        .stream(request.format, SAMPLE_RATE)
        .map_err(Error::from)?;
    // A container header goes out as the stream's first message, before any audio.
    let leading_messages = if header.is_empty() { 1 } else { 2 };
    let sink: Box<dyn AudioSink> = if request.sse {
        Box::new(SseSink {
            encoder: Some(encoder),
            header,
        })
    } else {
        Box::new(RawSink::new(encoder, header))
    };
    let content_type = if request.sse {
        "text/event-stream"
    } else {
        request.format.content_type()
    };
    let mut receiver = speech_stream::start(
        state,
        StreamRequest {
            engine: resolved.engine,
            text: request.input.clone(),
            voice: resolved.voice.clone(),
            params: request.params.clone(),
            speed: request.speed,
            sample_rate: SAMPLE_RATE,
        },
        sink,
    )
    .await?;
    // The answer starts with the first audio, not before: `openai-processing-ms` is then
    // the time to audio, and a failure before any audio is a real status, not a cut stream.
    let mut first = Vec::with_capacity(leading_messages);
    while first.len() < leading_messages {
        match receiver.recv().await {
            Some(Ok(bytes)) => first.push(Ok(bytes)),
            Some(Err(error)) => return Err(error.into()),
            None => break,
        }
    }
    let stream = futures::stream::iter(first).chain(speech_stream::byte_stream(receiver));
    let mut response = Response::new(Body::from_stream(stream));
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert("openai-version", HeaderValue::from_static("2020-10-01"));
    headers.insert(
        "x-speech-engine",
        HeaderValue::from_static(resolved.engine.name()),
    );
    // The seed is reported only where it reproduces the audio.
    match resolved.engine {
        EngineKind::Chatterbox => {
            headers.insert("x-generation-seed", HeaderValue::from(request.params.seed));
        }
        EngineKind::Piper => {
            let warnings: Vec<String> = request
                .requested_seed
                .map(crate::service::tts::piper_seed_warning)
                .into_iter()
                .collect();
            if let Some(value) = crate::notices::header_value(&warnings) {
                headers.insert(crate::notices::HEADER, value);
            }
        }
    }
    if let Some(requested) = resolved.fell_back_from
        && let Ok(value) = HeaderValue::from_str(&requested)
    {
        headers.insert("x-speech-voice-fallback", value);
    }
    Ok(response)
}

/// Server-Sent Events: each piece of encoded audio as a base64 `speech.audio.delta`, then
/// one `speech.audio.done` with usage.
struct SseSink {
    encoder: Option<StreamEncoder>,
    header: Vec<u8>,
}

fn event(value: &Value) -> Vec<u8> {
    format!("data: {value}\n\n").into_bytes()
}

fn delta(bytes: &[u8]) -> Vec<u8> {
    if bytes.is_empty() {
        return Vec::new();
    }
    let audio = base64::engine::general_purpose::STANDARD.encode(bytes);
    event(&json!({"type": "speech.audio.delta", "audio": audio}))
}

impl AudioSink for SseSink {
    fn start(&mut self) -> Result<Vec<u8>> {
        Ok(delta(&std::mem::take(&mut self.header)))
    }

    fn push(&mut self, samples: &[f32]) -> Result<Vec<u8>> {
        match self.encoder.as_mut() {
            Some(encoder) => Ok(delta(&encoder.push(samples)?)),
            None => Ok(Vec::new()),
        }
    }

    fn finish(mut self: Box<Self>, summary: &StreamSummary) -> Result<Vec<u8>> {
        let mut out = match self.encoder.take() {
            Some(encoder) => delta(&encoder.finish()?),
            None => Vec::new(),
        };
        // OpenAI counts text and audio tokens; we report characters / 4 for the text and
        // 25 audio tokens per second (the speech codec's rate) for the audio.
        let input_tokens = summary.input_chars.div_ceil(4);
        let output_tokens = (summary.output_seconds * 25.0).ceil() as usize;
        out.extend(event(&json!({
            "type": "speech.audio.done",
            "usage": {"input_tokens": input_tokens, "output_tokens": output_tokens,
                      "total_tokens": input_tokens + output_tokens},
        })));
        Ok(out)
    }

    fn fail(self: Box<Self>, error: &Error) -> Vec<u8> {
        event(&json!({"type": "error", "error": {
            "message": error.to_string(), "type": "server_error", "param": null, "code": "generation_failed"}}))
    }
}
