//! What the OpenAI dialect can name: models (OpenAI's ids mapped to our engines, plus our
//! own) and voices (OpenAI's built-in names as configurable aliases, the engines' built-in
//! voices, and every stored voice), and how a request's pair resolves to an engine.

use axum::http::StatusCode;

use super::error::OpenAiError;
use crate::service::area::Entry;
use crate::service::engines::EngineKind;
use crate::service::voice_use;
use crate::state::AppState;

/// OpenAI's built-in voice names; each is an alias (configurable, default: the built-in voice).
pub const OPENAI_VOICES: [&str; 13] = [
    "alloy", "ash", "ballad", "coral", "echo", "fable", "nova", "onyx", "sage", "shimmer", "verse",
    "marin", "cedar",
];

/// The Piper voice every installation has.
pub const BUILTIN_VOICE: &str = "en_US-joe-medium";

/// A model id and what it means.
#[derive(Debug, Clone, Copy)]
pub struct ModelInfo {
    /// The id clients send.
    pub id: &'static str,
    /// Which engine it prefers (a cloned voice always needs Chatterbox).
    pub prefers: EngineKind,
}

/// Every model id we answer to: OpenAI's (`tts-1` is the fast engine, the others the best
/// installed one) and our engines' own.
pub const MODELS: [ModelInfo; 6] = [
    ModelInfo {
        id: "tts-1",
        prefers: EngineKind::Piper,
    },
    ModelInfo {
        id: "tts-1-hd",
        prefers: EngineKind::Chatterbox,
    },
    ModelInfo {
        id: "gpt-4o-mini-tts",
        prefers: EngineKind::Chatterbox,
    },
    ModelInfo {
        id: "gpt-4o-mini-tts-2025-12-15",
        prefers: EngineKind::Chatterbox,
    },
    ModelInfo {
        id: "piper",
        prefers: EngineKind::Piper,
    },
    ModelInfo {
        id: "chatterbox",
        prefers: EngineKind::Chatterbox,
    },
];

/// The model ids served by what is installed: OpenAI's ids whenever any engine is, and
/// each engine's own id when that engine is.
pub fn installed_models(state: &AppState) -> Vec<&'static str> {
    let status = state.engines().status();
    MODELS
        .iter()
        .filter(|m| match m.id {
            "piper" => status.piper_installed,
            "chatterbox" => status.chatterbox_installed,
            _ => status.piper_installed || status.chatterbox_installed,
        })
        .map(|m| m.id)
        .collect()
}

/// A resolved voice.
#[derive(Debug, Clone)]
pub enum Voice {
    /// The Piper built-in voice.
    Builtin,
    /// A stored voice, cloned by Chatterbox.
    Stored(Entry),
}

/// What a speech request resolved to.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// The engine that will speak.
    pub engine: EngineKind,
    /// The stored voice, for Chatterbox.
    pub voice: Option<Entry>,
    /// Set when the requested voice was unknown and the configured fallback was used.
    pub fell_back_from: Option<String>,
}

/// Resolves `model` and `voice` (404 `model_not_found` / `voice_not_found`; 400 when the
/// pair cannot work together).
pub async fn resolve(state: &AppState, model: &str, voice: &str) -> Result<Resolved, OpenAiError> {
    let info = MODELS.iter().find(|m| m.id == model).ok_or_else(|| {
        OpenAiError::new(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            format!(
                "The model `{model}` does not exist. Available: {}",
                installed_models(state).join(", ")
            ),
        )
        .param("model")
        .code("model_not_found")
    })?;
    let (found, fell_back_from) = match find_voice(state, voice).await? {
        Some(found) => (found, None),
        None => match state.config().access.fallback_voice.as_deref() {
            Some(fallback) => match find_voice(state, fallback).await? {
                Some(found) => (found, Some(voice.to_owned())),
                None => return Err(unknown_voice(fallback)),
            },
            None => return Err(unknown_voice(voice)),
        },
    };
    let (engine, voice) = match found {
        Voice::Stored(entry) => {
            if info.id == "piper" {
                return Err(OpenAiError::invalid(
                    "model",
                    "the piper model speaks only its built-in voice; use tts-1-hd or chatterbox for cloned voices",
                ));
            }
            (EngineKind::Chatterbox, Some(entry))
        }
        Voice::Builtin => {
            if info.id == "chatterbox" {
                return Err(OpenAiError::invalid(
                    "voice",
                    "the chatterbox model clones a stored voice; name one (or alias an OpenAI voice to one)",
                ));
            }
            (EngineKind::Piper, None)
        }
    };
    Ok(Resolved {
        engine,
        voice,
        fell_back_from,
    })
}

fn unknown_voice(voice: &str) -> OpenAiError {
    OpenAiError::new(
        StatusCode::NOT_FOUND,
        "invalid_request_error",
        format!("Voice '{voice}' not found. GET /v1/audio/voices lists the available voices."),
    )
    .param("voice")
    .code("voice_not_found")
}

/// What a voice name means, before a dialect shapes the answer (the OpenAI endpoint, the
/// SillyTavern routes and Wyoming all resolve names this way).
#[derive(Debug, Clone)]
pub enum Named {
    /// A voice.
    Voice(Voice),
    /// Nothing by that name.
    Unknown,
    /// A configured alias whose target does not exist: the operator's mistake, not the
    /// client's.
    BrokenAlias {
        /// The alias.
        alias: String,
        /// What it points to.
        target: String,
    },
}

impl Named {
    /// The words for a broken alias.
    pub fn broken_alias(alias: &str, target: &str) -> String {
        format!("voice alias '{alias}' points to '{target}', which does not exist")
    }
}

/// A voice by name: a configured alias, an OpenAI name, the built-in voice id, or a stored
/// voice (path, file name, stem or listed name). `param` names the request field in the
/// error for a name several stored voices share.
pub async fn lookup(state: &AppState, param: &str, name: &str) -> crate::error::Result<Named> {
    let name = name.trim();
    let lower = name.to_ascii_lowercase();
    let aliases = state.config().access.aliases().unwrap_or_default();
    if let Some((alias, target)) = aliases.iter().find(|(alias, _)| *alias == lower) {
        return Ok(match find_target(state, param, target).await? {
            Some(voice) => Named::Voice(voice),
            None => Named::BrokenAlias {
                alias: alias.clone(),
                target: target.clone(),
            },
        });
    }
    if OPENAI_VOICES.contains(&lower.as_str()) {
        return Ok(Named::Voice(Voice::Builtin));
    }
    Ok(find_target(state, param, name)
        .await?
        .map_or(Named::Unknown, Named::Voice))
}

/// [`lookup`] for the OpenAI endpoint: `None` when nothing matches, a broken alias a 500
/// `voice_alias_broken`.
pub async fn find_voice(state: &AppState, name: &str) -> Result<Option<Voice>, OpenAiError> {
    match lookup(state, "voice", name).await? {
        Named::Voice(voice) => Ok(Some(voice)),
        Named::Unknown => Ok(None),
        Named::BrokenAlias { alias, target } => Err(OpenAiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            Named::broken_alias(&alias, &target),
        )
        .code("voice_alias_broken")),
    }
}

async fn find_target(
    state: &AppState,
    param: &str,
    name: &str,
) -> crate::error::Result<Option<Voice>> {
    if name.eq_ignore_ascii_case(BUILTIN_VOICE) || name.eq_ignore_ascii_case("piper") {
        return Ok(Some(Voice::Builtin));
    }
    match voice_use::find_voice(state.store().as_ref(), param, name).await {
        Ok(entry) => Ok(Some(Voice::Stored(entry))),
        Err(crate::Error::NotFound { .. }) => Ok(None),
        Err(other) => Err(other),
    }
}
