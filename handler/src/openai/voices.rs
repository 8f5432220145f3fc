//! `GET /v1/audio/voices` (every voice a request may name, in the shape Open WebUI and Home
//! Assistant read) and `POST /v1/audio/voices` (OpenAI's custom-voice upload, stored in the
//! voice library like any other voice).

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::catalog::{BUILTIN_VOICE, OPENAI_VOICES};
use super::error::OpenAiError;
use crate::api::form::Form;
use crate::service::area::{self, Area};
use crate::service::voices::{self, VoiceSidecar, VoiceUploadFields};
use crate::state::AppState;

/// The voices: OpenAI's names (with what each is mapped to), the built-in voice, and the
/// stored library. `{"voices": [{"id", "name", ...}]}`.
pub async fn list_voices(State(state): State<AppState>) -> Response {
    match voices_json(&state).await {
        Ok(body) => Json(body).into_response(),
        Err(error) => error.into_response(),
    }
}

async fn voices_json(state: &AppState) -> Result<Value, OpenAiError> {
    let aliases = state.config().access.aliases().unwrap_or_default();
    let mut voices = Vec::new();
    for name in OPENAI_VOICES {
        let target = aliases
            .iter()
            .find(|(alias, _)| alias == name)
            .map_or(BUILTIN_VOICE, |(_, target)| target.as_str());
        voices.push(json!({"id": name, "name": name, "type": "alias", "voice": target}));
    }
    for (alias, target) in aliases
        .iter()
        .filter(|(a, _)| !OPENAI_VOICES.contains(&a.as_str()))
    {
        voices.push(json!({"id": alias, "name": alias, "type": "alias", "voice": target}));
    }
    voices.push(json!({"id": BUILTIN_VOICE, "name": "Joe (Piper, English US)", "type": "builtin", "engine": "piper"}));
    let store = state.store().as_ref();
    let entries = area::entries(store, Area::Voices)
        .await
        .map_err(OpenAiError::from)?;
    let listed: Vec<_> = entries.iter().collect();
    let sidecars: Vec<Option<VoiceSidecar>> = area::read_sidecars(store, &listed).await;
    for (entry, sidecar) in entries.iter().zip(sidecars) {
        let name = sidecar
            .and_then(|s| s.name)
            .unwrap_or_else(|| crate::naming::stem(entry.file_name()).to_owned());
        voices.push(
            json!({"id": entry.relative, "name": name, "type": "stored", "engine": "chatterbox"}),
        );
    }
    Ok(json!({ "voices": voices }))
}

/// Stores an uploaded voice sample (multipart `name` and `audio_sample`) in the library
/// and answers `{object: "audio.voice", id, name, created_at}`; the id names the voice in
/// speech requests (`"voice": {"id": ...}`).
pub async fn create_voice(
    State(state): State<AppState>,
    multipart: Result<axum::extract::Multipart, axum::extract::multipart::MultipartRejection>,
) -> Response {
    // A body that is not a multipart form is the client's mistake, in OpenAI's envelope.
    let multipart = match multipart {
        Ok(multipart) => multipart,
        Err(rejection) => {
            return OpenAiError::from(crate::error::Error::from(rejection)).into_response();
        }
    };
    match create(&state, multipart).await {
        Ok(body) => Json(body).into_response(),
        Err(error) => error.into_response(),
    }
}

async fn create(
    state: &AppState,
    multipart: axum::extract::Multipart,
) -> Result<Value, OpenAiError> {
    let limit = state.config().limits.voice_upload_bytes();
    let lease = state.memory().lease();
    let mut form = Form::read(multipart, &["audio_sample"], limit, limit, &lease).await?;
    let name = form
        .text("name")
        .ok_or_else(|| OpenAiError::invalid("name", "you must provide a name parameter"))?;
    let mut upload = form.take_file("audio_sample").map_err(|_| {
        OpenAiError::invalid("audio_sample", "you must upload an audio_sample file")
    })?;
    // Stored under the voice's name, keeping the sample's extension (its format).
    let extension = crate::naming::extension(&upload.file_name).unwrap_or_else(|| "wav".into());
    upload.file_name = format!("{}.{extension}", safe_stem(&name));
    let response = voices::upload(
        state.store(),
        upload,
        VoiceUploadFields {
            name: Some(name.clone()),
            ..VoiceUploadFields::default()
        },
        &state.config().limits.decode_limits(),
    )
    .await
    .map_err(|e| match e {
        crate::Error::Conflict(message) => OpenAiError::new(
            axum::http::StatusCode::CONFLICT,
            "invalid_request_error",
            message,
        )
        .param("name")
        .code("voice_exists"),
        other => other.into(),
    })?;
    Ok(json!({
        "object": "audio.voice",
        "id": response.voice_metadata.url,
        "name": name,
        "created_at": chrono::Utc::now().timestamp(),
    }))
}

/// A file stem from a display name: letters, digits, `-` and `_`, spaces to `_`.
fn safe_stem(name: &str) -> String {
    let stem: String = name
        .trim()
        .chars()
        .map(|c| if c.is_whitespace() { '_' } else { c })
        .filter(|c| c.is_alphanumeric() || *c == '-' || *c == '_')
        .take(80)
        .collect();
    if stem.is_empty() {
        "voice".to_owned()
    } else {
        stem
    }
}
