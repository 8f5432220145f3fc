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
use serde_json::{Value, json};

use super::catalog;
use super::error::OpenAiError;
use super::schema::{ResponseFormat, SpeechBody, StreamFormat, VoiceChoice, VoiceId};
use crate::error::{Error, Result};
use crate::service::engines::EngineKind;
use crate::service::speech_stream::{self, AudioSink, RawSink, StreamRequest, StreamSummary};
use crate::state::AppState;

/// Longest `input` and `instructions`, in characters (OpenAI's limit).
pub const MAX_INPUT_CHARS: usize = 4096;
/// Sample rate of every OpenAI-endpoint response (OpenAI's `pcm` is 24 kHz).
pub const SAMPLE_RATE: u32 = 24_000;
/// Largest request body accepted.
pub(crate) const MAX_BODY_BYTES: usize = 64 * 1024;

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
    /// Read numbers, dates, symbols as words and drop Markdown and emoji first.
    pub normalize_text: bool,
    /// Pronunciation lexicons to apply, by name.
    pub lexicons: Vec<String>,
    /// Read the input as SSML (`None`: when it starts with `<speak`).
    pub ssml: Option<bool>,
}

impl SpeechRequest {
    /// What the engines are asked for: this request, spoken by the resolved engine and
    /// voice with the named lexicons, at the dialect's rate.
    pub fn stream_request(
        &self,
        resolved: &catalog::Resolved,
        lexicons: Vec<std::sync::Arc<crate::service::lexicons::Lexicon>>,
    ) -> StreamRequest {
        StreamRequest {
            engine: resolved.engine,
            text: self.input.clone(),
            voice: resolved.voice.clone(),
            params: self.params.clone(),
            speed: self.speed,
            sample_rate: SAMPLE_RATE,
            normalize_text: self.normalize_text,
            lexicons,
            ssml: self.ssml,
        }
    }
}

/// Reads the JSON body into a [`SpeechBody`] and checks it; every problem is a 400 in
/// OpenAI's envelope naming its field.
pub fn parse(body: &[u8]) -> Result<SpeechRequest, OpenAiError> {
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        OpenAiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            format!("We could not parse the JSON body of your request: {e}"),
        )
    })?;
    let Value::Object(mut fields) = value else {
        return Err(OpenAiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "The request body must be a JSON object.",
        ));
    };
    // Clients that cannot add top-level fields may nest our extensions in `extra_body`
    // (a top-level field wins).
    match fields.remove("extra_body") {
        Some(Value::Object(extra)) => {
            for (name, value) in extra {
                fields.entry(name).or_insert(value);
            }
        }
        Some(Value::Null) | None => {}
        Some(_) => {
            return Err(OpenAiError::invalid(
                "extra_body",
                "extra_body must be an object",
            ));
        }
    }
    // A null is an absent field, as OpenAI's clients send unset options.
    fields.retain(|_, value| !value.is_null());
    let body: SpeechBody =
        serde_path_to_error::deserialize(Value::Object(fields)).map_err(field_error)?;
    check(body)
}

/// A field that does not deserialise, as OpenAI words it: missing, of the wrong type, or
/// not one of the allowed values.
fn field_error(error: serde_path_to_error::Error<serde_json::Error>) -> OpenAiError {
    let path = error.path().to_string();
    let message = error.inner().to_string();
    // serde reports a missing field at the parent: its name is in the message.
    if let Some(name) = message
        .strip_prefix("missing field `")
        .and_then(|rest| rest.split('`').next())
    {
        return missing(name);
    }
    let field = path.split(['.', '[']).next().unwrap_or(&path).to_owned();
    let reason = message.split(" at line ").next().unwrap_or(&message);
    match field.as_str() {
        "response_format" => OpenAiError::invalid(
            "response_format",
            format!("Invalid value: response_format must be one of mp3, opus, aac, flac, wav, pcm ({reason})"),
        )
        .code("invalid_value"),
        "stream_format" => OpenAiError::invalid("stream_format", "stream_format must be audio or sse")
            .code("invalid_value"),
        "voice" => OpenAiError::invalid("voice", "voice must be a name or {\"id\": \"...\"}"),
        _ => OpenAiError::invalid(&field, format!("{field}: {reason}")).code("invalid_type"),
    }
}

/// Checks what the types cannot say: lengths, ranges, and which combinations are allowed.
fn check(body: SpeechBody) -> Result<SpeechRequest, OpenAiError> {
    let SpeechBody {
        model,
        input,
        voice,
        response_format,
        speed,
        stream_format,
        instructions,
        temperature,
        exaggeration,
        cfg_weight,
        seed,
        normalize_text,
        lexicons,
        ssml,
    } = body;
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
    let voice = match voice {
        VoiceChoice::Name(name) | VoiceChoice::Object(VoiceId { id: name }) => {
            name.trim().to_owned()
        }
    };
    if voice.is_empty() {
        return Err(OpenAiError::invalid("voice", "voice must not be empty"));
    }
    if instructions.is_some_and(|text| text.chars().count() > MAX_INPUT_CHARS) {
        return Err(OpenAiError::invalid(
            "instructions",
            format!("instructions may be at most {MAX_INPUT_CHARS} characters"),
        )
        .code("string_above_max_length"));
    }
    let format = match response_format.unwrap_or(ResponseFormat::Mp3) {
        ResponseFormat::Mp3 => ExportFormat::Mp3 {
            bitrate_kbps: audio::encode::DEFAULT_MP3_KBPS,
        },
        ResponseFormat::Opus => ExportFormat::Opus {
            bitrate_kbps: audio::encode::DEFAULT_OPUS_KBPS,
        },
        ResponseFormat::Aac => ExportFormat::Aac {
            bitrate_kbps: audio::encode::DEFAULT_AAC_KBPS,
        },
        ResponseFormat::Flac => ExportFormat::Flac,
        ResponseFormat::Wav => ExportFormat::Wav,
        ResponseFormat::Pcm => ExportFormat::Pcm,
    };
    let speed = in_range(speed, "speed", 1.0, 0.25, 4.0)?;
    let sse = stream_format == Some(StreamFormat::Sse);
    if sse && (model == "tts-1" || model == "tts-1-hd") {
        return Err(OpenAiError::invalid(
            "stream_format",
            "stream_format sse is not supported for tts-1 and tts-1-hd (as with OpenAI); use gpt-4o-mini-tts",
        )
        .code("unsupported_value"));
    }
    let requested_seed = match seed {
        Some(seed) if seed > u64::from(u32::MAX) => {
            return Err(OpenAiError::invalid(
                "seed",
                format!("seed must be between 0 and {} (got {seed})", u32::MAX),
            )
            .code("invalid_value"));
        }
        Some(0) | None => None,
        Some(seed) => Some(seed),
    };
    let defaults = crate::service::tts::TtsRequest::default();
    let params = speech_stream::chatterbox_params(
        in_range(temperature, "temperature", defaults.temperature, 0.0, 2.0)?,
        in_range(
            exaggeration,
            "exaggeration",
            defaults.exaggeration,
            0.0,
            2.0,
        )?,
        in_range(cfg_weight, "cfg_weight", defaults.cfg_weight, 0.0, 2.0)?,
        requested_seed.unwrap_or_else(crate::service::generation::fresh_seed),
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
        requested_seed,
        normalize_text: normalize_text.unwrap_or(true),
        lexicons: lexicons.unwrap_or_default(),
        ssml,
    })
}

fn missing(name: &str) -> OpenAiError {
    OpenAiError::invalid(name, format!("you must provide a {name} parameter"))
        .code("missing_required_parameter")
}

/// `value` (or `default` when absent), refused outside `min..=max`.
fn in_range(
    value: Option<f64>,
    name: &str,
    default: f64,
    min: f64,
    max: f64,
) -> Result<f64, OpenAiError> {
    let number = value.unwrap_or(default);
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
    let lexicons =
        crate::service::lexicons::load(state.store().as_ref(), "lexicons", &request.lexicons)
            .await?;
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
    let receiver =
        speech_stream::start(state, request.stream_request(&resolved, lexicons), sink).await?;
    // The answer starts with the first audio, not before: `openai-processing-ms` is then
    // the time to audio, and a failure before any audio is a real status, not a cut stream.
    let stream = speech_stream::from_first_audio(receiver, leading_messages).await?;
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The `param` and `code` a body is refused with.
    async fn refusal(body: Value) -> (Value, Value) {
        let response = parse(body.to_string().as_bytes())
            .expect_err("refused")
            .into_response();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 16)
            .await
            .unwrap();
        let error: Value = serde_json::from_slice(&bytes).unwrap();
        (
            error["error"]["param"].clone(),
            error["error"]["code"].clone(),
        )
    }

    fn base() -> Value {
        json!({"model": "gpt-4o-mini-tts", "input": "Hi.", "voice": "alloy"})
    }

    fn with(field: &str, value: Value) -> Value {
        let mut body = base();
        body[field] = value;
        body
    }

    #[tokio::test]
    async fn each_field_is_refused_by_name_with_openais_code() {
        for (body, param, code) in [
            (
                json!({"input": "Hi.", "voice": "alloy"}),
                "model",
                "missing_required_parameter",
            ),
            (with("model", json!(7)), "model", "invalid_type"),
            (with("speed", json!("fast")), "speed", "invalid_type"),
            (with("speed", json!(9)), "speed", "invalid_value"),
            (
                with("response_format", json!("ogg")),
                "response_format",
                "invalid_value",
            ),
            (
                with("stream_format", json!("chunks")),
                "stream_format",
                "invalid_value",
            ),
            (with("seed", json!(-1)), "seed", "invalid_type"),
            (with("seed", json!(1u64 << 33)), "seed", "invalid_value"),
            (
                with("instructions", json!("x".repeat(4097))),
                "instructions",
                "string_above_max_length",
            ),
            (with("extra_body", json!([1])), "extra_body", "null"),
        ] {
            let (got_param, got_code) = refusal(body.clone()).await;
            assert_eq!(got_param, param, "{body}");
            if code != "null" {
                assert_eq!(got_code, code, "{body}");
            }
        }
        let (param, _) = refusal(with("voice", json!({"id": "alloy", "name": "x"}))).await;
        assert_eq!(param, "voice");
    }

    #[test]
    fn extensions_may_come_in_extra_body_and_nulls_are_absent() {
        let mut body = base();
        body["speed"] = Value::Null;
        body["seed"] = json!(7);
        body["extra_body"] = json!({"seed": 9, "temperature": 0.5, "response_format": "wav"});
        let request = parse(body.to_string().as_bytes()).unwrap();
        assert_eq!(request.speed, 1.0);
        // A top-level field wins over the same one in extra_body.
        assert_eq!(request.requested_seed, Some(7));
        assert_eq!(request.params.seed, 7);
        assert_eq!(request.params.temperature, 0.5);
        assert_eq!(request.format, ExportFormat::Wav);
        assert!(!request.sse);
        let unseeded = parse(
            with("voice", json!({"id": " alloy "}))
                .to_string()
                .as_bytes(),
        )
        .unwrap();
        assert_eq!(unseeded.voice, "alloy");
        assert_eq!(unseeded.requested_seed, None);
        // Text normalisation is on unless the extension turns it off.
        assert!(unseeded.normalize_text);
        let raw = parse(with("normalize_text", json!(false)).to_string().as_bytes()).unwrap();
        assert!(!raw.normalize_text);
        let wrong = parse(with("normalize_text", json!("no")).to_string().as_bytes());
        assert!(wrong.is_err());
        assert_ne!(unseeded.params.seed, 0);
        assert_eq!(
            unseeded.format,
            ExportFormat::Mp3 {
                bitrate_kbps: audio::encode::DEFAULT_MP3_KBPS
            }
        );
    }
}
