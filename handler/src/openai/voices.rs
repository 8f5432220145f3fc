//! `GET /v1/audio/voices` (every voice a request may name, in the shape Open WebUI and Home
//! Assistant read) and `POST /v1/audio/voices` (OpenAI's custom-voice upload, stored in the
//! voice library like any other voice).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::catalog::{BUILTIN_VOICE, MODELS, OPENAI_VOICES};
use super::error::OpenAiError;
use crate::api::form::Form;
use crate::service::area::{self, Area};
use crate::service::engines::EngineKind;
use crate::service::voices::{self, VoiceSidecar, VoiceUploadFields};
use crate::state::AppState;

/// The voices: OpenAI's names (with what each is mapped to), the built-in voice, and the
/// stored library. `{"voices": [{"id", "name", "type", "engine", "usable", ...}]}`: `engine`
/// is the engine that speaks the voice and `usable` whether that engine is installed now, so
/// a client can leave out what would fail.
#[utoipa::path(get, path = "/v1/audio/voices", tag = "openai",
    responses((status = 200, description = "`{\"voices\":[{\"id\",\"name\",\"type\",\"engine\",\"usable\",...}]}`", body = Object),
        (status = 401, body = super::schema::OpenAiErrorBody), (status = 503, body = super::schema::OpenAiErrorBody)))]
pub async fn list_voices(State(state): State<AppState>) -> Response {
    match catalog(&state).await {
        Ok(voices) => Json(json!({ "voices": voices })).into_response(),
        Err(error) => error.into_response(),
    }
}

/// TTS-WebUI's per-model list, `GET /v1/audio/voices/{model}`: the usable voices that model
/// speaks with, as `{"voices": [{"value", "label"}]}`. OpenAI's ids speak with every voice
/// (a stored one through Chatterbox), `piper` and `chatterbox` with their own.
#[utoipa::path(get, path = "/v1/audio/voices/{model}", tag = "openai", params(("model" = String, Path, description = "A model id")),
    responses((status = 200, description = "`{\"voices\":[{\"value\",\"label\"}]}`", body = Object),
        (status = 401, body = super::schema::OpenAiErrorBody), (status = 404, body = super::schema::OpenAiErrorBody),
        (status = 503, body = super::schema::OpenAiErrorBody)))]
pub async fn list_voices_for_model(
    State(state): State<AppState>,
    Path(model): Path<String>,
) -> Response {
    let Some(info) = MODELS.iter().find(|m| m.id == model) else {
        return OpenAiError::new(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            format!("The model '{model}' does not exist"),
        )
        .code("model_not_found")
        .into_response();
    };
    let only = match info.id {
        "piper" => Some(EngineKind::Piper.name()),
        "chatterbox" => Some(EngineKind::Chatterbox.name()),
        _ => None,
    };
    match catalog(&state).await {
        Ok(voices) => {
            let listed: Vec<Value> = voices
                .iter()
                .filter(|v| v["usable"] == true)
                .filter(|v| only.is_none_or(|engine| v["engine"] == engine))
                .map(|v| json!({"value": v["id"], "label": v["name"]}))
                .collect();
            Json(json!({ "voices": listed })).into_response()
        }
        Err(error) => error.into_response(),
    }
}

/// Every voice a request may name, as listed by `GET /v1/audio/voices` (also what the
/// Wyoming `info` offers).
pub async fn catalog(state: &AppState) -> Result<Vec<Value>, OpenAiError> {
    let status = state.engines().status();
    let piper = EngineKind::Piper.name();
    let chatterbox = EngineKind::Chatterbox.name();
    let usable = |engine: &str| {
        if engine == piper {
            status.piper_installed
        } else {
            status.chatterbox_installed
        }
    };
    // An alias speaks with the built-in voice or clones the stored voice it names.
    let alias_engine = |target: &str| {
        if target == BUILTIN_VOICE {
            piper
        } else {
            chatterbox
        }
    };
    let aliases = state.config().access.aliases().unwrap_or_default();
    let mut voices = Vec::new();
    for name in OPENAI_VOICES {
        let target = aliases
            .iter()
            .find(|(alias, _)| alias == name)
            .map_or(BUILTIN_VOICE, |(_, target)| target.as_str());
        let engine = alias_engine(target);
        voices.push(
            json!({"id": name, "name": name, "type": "alias", "voice": target,
                           "engine": engine, "usable": usable(engine)}),
        );
    }
    for (alias, target) in aliases
        .iter()
        .filter(|(a, _)| !OPENAI_VOICES.contains(&a.as_str()))
    {
        let engine = alias_engine(target);
        voices.push(
            json!({"id": alias, "name": alias, "type": "alias", "voice": target,
                           "engine": engine, "usable": usable(engine)}),
        );
    }
    voices.push(
        json!({"id": BUILTIN_VOICE, "name": "Joe (Piper, English US)", "type": "builtin",
                       "engine": piper, "usable": usable(piper)}),
    );
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
        voices.push(json!({"id": entry.relative, "name": name, "type": "stored",
                           "engine": chatterbox, "usable": usable(chatterbox)}));
    }
    Ok(voices)
}

/// Stores an uploaded voice sample (multipart `name` and `audio_sample`) in the library
/// and answers `{object: "audio.voice", id, name, created_at}`; the id names the voice in
/// speech requests (`"voice": {"id": ...}`).
#[utoipa::path(post, path = "/v1/audio/voices", tag = "openai",
    request_body(content = super::schema::VoiceUploadBody, content_type = "multipart/form-data"),
    responses((status = 200, description = "`{\"object\":\"audio.voice\",\"id\",\"name\",\"created_at\"}`", body = Object),
        (status = 400, description = "A missing or malformed field, or a sample that is not audio in an accepted format (codes `unsupported_format`, `invalid_audio`: OpenAI answers file problems with 400)", body = super::schema::OpenAiErrorBody),
        (status = 401, body = super::schema::OpenAiErrorBody),
        (status = 409, body = super::schema::OpenAiErrorBody), (status = 413, body = super::schema::OpenAiErrorBody),
        (status = 503, body = super::schema::OpenAiErrorBody)))]
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
        state,
        upload,
        VoiceUploadFields {
            name: Some(name.clone()),
            ..VoiceUploadFields::default()
        },
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
