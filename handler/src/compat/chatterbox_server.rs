//! The routes of devnen/Chatterbox-TTS-Server that SillyTavern's "Chatterbox" TTS provider
//! calls (`public/scripts/extensions/tts/chatterbox.js`), mapped onto our engines so that
//! provider works unmodified: `GET /get_predefined_voices`, `GET /get_reference_files`,
//! `POST /tts` (the whole file) and `GET /tts-stream` (played directly as an audio source).
//!
//! Nothing is stored: like the OpenAI endpoint, these answer with the audio only.
//! "Predefined" voices are the built-in voice and the OpenAI names; "reference files" are
//! the stored voices, cloned by Chatterbox.

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{Error, ErrorBody, Result};
use crate::extract::Query;
use crate::openai::catalog::{self, BUILTIN_VOICE, Named, OPENAI_VOICES, Voice};
use crate::service::area::{self, Area};
use crate::service::engines::EngineKind;
use crate::service::speech_stream::{self, RawSink, StreamRequest};
use crate::service::tts::TtsRequest;
use crate::service::voice_use;
use crate::state::AppState;
use audio::encode::ExportFormat;

/// Sample rate of every answer (Chatterbox's own; Piper is resampled to it).
const SAMPLE_RATE: u32 = 24_000;

/// The routes, documented under the `sillytavern` tag.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(predefined_voices))
        .routes(routes!(reference_files))
        .routes(routes!(speak_file))
        .routes(routes!(speak_stream))
        .layer(axum::middleware::from_fn(crate::auth::native_key))
}

/// A speech request as the provider sends it (JSON for `/tts`, the query for
/// `/tts-stream`). Fields it sends that have no meaning here (`split_text`, `chunk_size`:
/// text is always spoken sentence by sentence) are accepted and not applied; others are
/// ignored (and, in the query, reported in `X-Speech-Warnings`), as on every route that
/// changes nothing stored.
#[derive(Debug, Deserialize, ToSchema, IntoParams)]
#[into_params(parameter_in = Query)]
struct ProviderRequest {
    /// The text to speak.
    text: String,
    /// `predefined` or `clone`.
    #[serde(default)]
    voice_mode: Option<String>,
    #[serde(default)]
    predefined_voice_id: Option<String>,
    #[serde(default)]
    reference_audio_filename: Option<String>,
    #[serde(default)]
    temperature: Option<f64>,
    #[serde(default)]
    exaggeration: Option<f64>,
    #[serde(default)]
    cfg_weight: Option<f64>,
    /// Negative: a fresh one.
    #[serde(default)]
    seed: Option<f64>,
    #[serde(default)]
    speed_factor: Option<f64>,
    #[serde(default)]
    language: Option<String>,
    /// `wav` (default), `opus` or `mp3`.
    #[serde(default)]
    output_format: Option<String>,
    /// Accepted, not applied: text is always spoken sentence by sentence.
    #[serde(default)]
    #[allow(
        dead_code,
        reason = "accepted so the provider's requests parse; not applied"
    )]
    split_text: Option<bool>,
    /// Accepted, not applied (see `split_text`).
    #[serde(default)]
    #[allow(
        dead_code,
        reason = "accepted so the provider's requests parse; not applied"
    )]
    chunk_size: Option<u32>,
}

/// `[{"voice_id", "filename", "display_name", "language"}]`: the built-in voice and the
/// OpenAI names (which speak with it unless aliased).
#[utoipa::path(get, path = "/get_predefined_voices", tag = "sillytavern",
    responses((status = 200, description = "`[{voice_id, filename, display_name, language}]`", body = Vec<Object>)))]
async fn predefined_voices(State(state): State<AppState>) -> Json<Value> {
    let aliases = state.config().access.aliases().unwrap_or_default();
    let mut voices = vec![json!({"voice_id": BUILTIN_VOICE, "filename": BUILTIN_VOICE,
        "display_name": "Joe (Piper, English US)", "language": "en"})];
    for name in OPENAI_VOICES
        .iter()
        .map(|n| (*n).to_owned())
        .chain(aliases.into_iter().map(|(alias, _)| alias))
    {
        if !voices.iter().any(|v| v["voice_id"] == name.as_str()) {
            voices.push(
                json!({"voice_id": name, "filename": name, "display_name": name, "language": "en"}),
            );
        }
    }
    Json(Value::Array(voices))
}

/// `["<path>", ...]`: every stored voice, by the path `reference_audio_filename` takes.
#[utoipa::path(get, path = "/get_reference_files", tag = "sillytavern",
    responses((status = 200, description = "Stored voices' paths", body = Vec<String>)))]
async fn reference_files(State(state): State<AppState>) -> Result<Json<Value>> {
    let entries = area::entries(state.store().as_ref(), Area::Voices).await?;
    Ok(Json(Value::Array(
        entries
            .into_iter()
            .map(|e| Value::from(e.relative))
            .collect(),
    )))
}

/// `POST /tts`: the whole file (a WAV with its real sizes, so a browser's
/// `decodeAudioData` reads it).
#[utoipa::path(post, path = "/tts", tag = "sillytavern", request_body = ProviderRequest,
    responses(
        (status = 200, description = "The whole file in `output_format`",
            content(("audio/wav"), ("audio/ogg"), ("audio/mpeg"))),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn speak_file(State(state): State<AppState>, body: Bytes) -> Result<Response> {
    let request: ProviderRequest = serde_json::from_slice(&body)
        .map_err(|e| Error::BadRequest(format!("the body is not a speech request: {e}")))?;
    let Started {
        format,
        receiver: mut stream,
        warnings,
        ..
    } = start(&state, request).await?;
    // The whole file is held before it is sent: on the process's memory budget, like
    // every other buffer of audio, until the body has taken it.
    let lease = state.memory().lease();
    let mut audio = Vec::new();
    while let Some(piece) = stream.recv().await {
        let piece = piece?;
        lease.reserve(piece.len() as u64)?;
        audio.extend_from_slice(&piece);
    }
    if format == ExportFormat::Wav {
        finish_wav_sizes(&mut audio);
    }
    let length = HeaderValue::from(audio.len());
    let body = futures::stream::once(async move {
        let _held_until_sent = lease;
        Ok::<_, std::convert::Infallible>(Bytes::from(audio))
    });
    let mut response = answer(format, Body::from_stream(body), &warnings);
    response
        .headers_mut()
        .insert(header::CONTENT_LENGTH, length);
    Ok(response)
}

/// `GET /tts-stream?...`: the audio as it is made (WAV with open-ended sizes, as a
/// streamed WAV must be).
#[utoipa::path(get, path = "/tts-stream", tag = "sillytavern", params(ProviderRequest),
    responses(
        (status = 200, description = "The audio as it is made, in `output_format`",
            content(("audio/wav"), ("audio/ogg"), ("audio/mpeg"))),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn speak_stream(
    State(state): State<AppState>,
    Query(request): Query<ProviderRequest>,
) -> Result<Response> {
    let started = start(&state, request).await?;
    // Headers go out with the first audio, so a failure before any (text the voice cannot
    // pronounce) is a real status, not a stream cut after its headers.
    let stream = speech_stream::from_first_audio(started.receiver, started.leading).await?;
    Ok(answer(
        started.format,
        Body::from_stream(stream),
        &started.warnings,
    ))
}

fn answer(format: ExportFormat, body: Body, warnings: &[String]) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if let Some(value) = crate::notices::header_value(warnings) {
        headers.insert(crate::notices::HEADER, value);
    }
    response
}

/// Validates, resolves the voice and starts speaking.
async fn start(state: &AppState, request: ProviderRequest) -> Result<Started> {
    let text =
        speech_stream::checked_text(&request.text, state.engines().settings().max_text_length)?;
    let format = match request
        .output_format
        .as_deref()
        .map(|f| f.trim().to_ascii_lowercase())
        .as_deref()
    {
        None | Some("wav") => ExportFormat::Wav,
        Some("opus") => ExportFormat::opus(audio::encode::DEFAULT_OPUS_KBPS)?,
        Some("mp3") => ExportFormat::mp3(audio::encode::DEFAULT_MP3_KBPS)?,
        Some(other) => {
            return Err(Error::invalid(
                "output_format",
                format!("output_format must be wav, opus or mp3 (got {other:?})"),
            ));
        }
    };
    let mut warnings = Vec::new();
    if let Some(language) = request.language.as_deref()
        && !language.trim().is_empty()
        && !language.trim().to_ascii_lowercase().starts_with("en")
    {
        warnings.push(format!(
            "language {language:?} is not spoken by these voices (English): the text is read as English"
        ));
    }
    let store = state.store().as_ref();
    let cloning = request
        .voice_mode
        .as_deref()
        .is_some_and(|m| m.eq_ignore_ascii_case("clone"));
    let voice = if cloning {
        let name = request.reference_audio_filename.as_deref().ok_or_else(|| {
            Error::invalid(
                "reference_audio_filename",
                "voice_mode clone needs reference_audio_filename (GET /get_reference_files lists them)",
            )
        })?;
        Some(voice_use::find_voice(store, "reference_audio_filename", name).await?)
    } else {
        predefined(state, request.predefined_voice_id.as_deref(), &mut warnings).await?
    };
    let engine = if voice.is_some() {
        EngineKind::Chatterbox
    } else {
        EngineKind::Piper
    };
    let defaults = TtsRequest::default();
    let number = |value: Option<f64>, name: &str, default: f64, min: f64, max: f64| {
        let value = value.unwrap_or(default);
        if value.is_finite() && (min..=max).contains(&value) {
            Ok(value)
        } else {
            Err(Error::invalid(
                name,
                format!("{name} must be between {min} and {max} (got {value})"),
            ))
        }
    };
    let seed = match request.seed {
        Some(seed) if seed >= 1.0 && seed <= f64::from(u32::MAX) => seed as u64,
        Some(seed) if seed.is_finite() && seed < 1.0 => crate::service::generation::fresh_seed(),
        None => crate::service::generation::fresh_seed(),
        Some(seed) => {
            return Err(Error::invalid(
                "seed",
                format!("seed must be -1 (random) or 0-4294967295 (got {seed})"),
            ));
        }
    };
    if engine == EngineKind::Piper && request.seed.is_some_and(|s| s >= 1.0) {
        warnings.push(crate::service::tts::piper_seed_warning(seed));
    }
    let params = speech_stream::chatterbox_params(
        number(
            request.temperature,
            "temperature",
            defaults.temperature,
            0.0,
            2.0,
        )?,
        number(
            request.exaggeration,
            "exaggeration",
            defaults.exaggeration,
            0.0,
            2.0,
        )?,
        number(
            request.cfg_weight,
            "cfg_weight",
            defaults.cfg_weight,
            0.0,
            2.0,
        )?,
        seed,
        state.engines().settings().chatterbox_max_new_tokens,
    );
    let speed = number(request.speed_factor, "speed_factor", 1.0, 0.25, 4.0)?;
    let sink = RawSink::encoding(state.encoders(), format, SAMPLE_RATE)?;
    let leading = sink.messages_to_first_audio();
    let receiver = speech_stream::start(
        state,
        StreamRequest {
            engine,
            text,
            voice,
            params,
            speed,
            sample_rate: SAMPLE_RATE,
            // Chat messages: Markdown, emoji and written numbers are the norm.
            normalize_text: true,
            lexicons: Vec::new(),
            ssml: None,
        },
        Box::new(sink),
    )
    .await?;
    Ok(Started {
        format,
        receiver,
        warnings,
        leading,
    })
}

/// A provider request being spoken.
struct Started {
    format: ExportFormat,
    /// The stream's messages: the container header (if any), then audio.
    receiver: tokio::sync::mpsc::Receiver<Result<Bytes>>,
    /// For `X-Speech-Warnings`.
    warnings: Vec<String>,
    /// Messages up to the first audio (see `speech_stream::from_first_audio`).
    leading: usize,
}

/// The voice a predefined id names: the built-in voice (its id, an OpenAI name, or an
/// alias to it), a stored voice an alias or the id itself names, else (the provider's
/// own default is `S1`, a voice of another server) the built-in voice, with a warning.
async fn predefined(
    state: &AppState,
    id: Option<&str>,
    warnings: &mut Vec<String>,
) -> Result<Option<area::Entry>> {
    let Some(id) = id.map(str::trim).filter(|id| !id.is_empty()) else {
        return Ok(None);
    };
    match catalog::lookup(state, "predefined_voice_id", id).await? {
        Named::Voice(Voice::Builtin) => Ok(None),
        Named::Voice(Voice::Stored(entry)) => Ok(Some(entry)),
        Named::Unknown => {
            warnings.push(format!(
                "predefined voice {id:?} is not one of this server's voices: the built-in voice speaks \
                 (GET /get_predefined_voices lists them)"
            ));
            Ok(None)
        }
        Named::BrokenAlias { alias, target } => {
            Err(Error::Internal(Named::broken_alias(&alias, &target)))
        }
    }
}

/// Writes the RIFF and data sizes of a whole WAV whose header was written for a stream
/// (sizes unknown, `0xFFFFFFFF`), so decoders that trust them read it whole.
fn finish_wav_sizes(wav: &mut [u8]) {
    if wav.len() < 44 || &wav[0..4] != b"RIFF" || &wav[36..40] != b"data" {
        return;
    }
    let riff = u32::try_from(wav.len() - 8).unwrap_or(u32::MAX);
    let data = u32::try_from(wav.len() - 44).unwrap_or(u32::MAX);
    wav[4..8].copy_from_slice(&riff.to_le_bytes());
    wav[40..44].copy_from_slice(&data.to_le_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_streamed_wav_header_gets_its_real_sizes() {
        let mut wav = Vec::new();
        wav.extend_from_slice(b"RIFF");
        wav.extend_from_slice(&u32::MAX.to_le_bytes());
        wav.extend_from_slice(b"WAVEfmt ");
        wav.extend_from_slice(&[0; 20]);
        wav.extend_from_slice(b"data");
        wav.extend_from_slice(&u32::MAX.to_le_bytes());
        wav.extend_from_slice(&[0; 100]);
        finish_wav_sizes(&mut wav);
        assert_eq!(u32::from_le_bytes(wav[4..8].try_into().unwrap()), 136);
        assert_eq!(u32::from_le_bytes(wav[40..44].try_into().unwrap()), 100);
        let mut other = b"OggS and more bytes than a header would take, surely".to_vec();
        let before = other.clone();
        finish_wav_sizes(&mut other);
        assert_eq!(other, before);
    }
}
