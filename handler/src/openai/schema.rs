//! The OpenAI dialect in the OpenAPI document: its request and error shapes, and the
//! bearer-key scheme the `/docs` page offers for both dialects.

use serde::Serialize;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, ToSchema};

/// The body of `POST /v1/audio/speech`, as OpenAI defines it plus our extension fields (also
/// accepted inside `extra_body`). Every problem is a 400 in OpenAI's envelope naming the field.
#[derive(Debug, Serialize, ToSchema)]
#[allow(dead_code)]
pub struct SpeechBody {
    /// `tts-1` (the fast engine), `tts-1-hd`, `gpt-4o-mini-tts` (the best installed engine),
    /// `piper` or `chatterbox`; `GET /v1/models` lists what is installed.
    #[schema(example = "tts-1")]
    model: String,
    /// The text, 1-4096 characters.
    #[schema(example = "Hello there.")]
    input: String,
    /// An OpenAI name (an alias, see `GET /v1/audio/voices`), the built-in `en_US-joe-medium`,
    /// or a stored voice by path, file name, stem or listed name; also `{"id": "..."}`.
    #[schema(example = "alloy")]
    voice: String,
    /// `mp3` (default), `opus`, `aac`, `flac`, `wav` or `pcm` (24 kHz 16-bit mono).
    #[schema(example = "mp3")]
    response_format: Option<String>,
    /// 0.25-4.0 (default 1.0): a tempo change with the pitch kept.
    #[schema(minimum = 0.25, maximum = 4.0)]
    speed: Option<f64>,
    /// `audio` (default: raw bytes, chunked) or `sse` (refused for `tts-1` and `tts-1-hd`).
    stream_format: Option<String>,
    /// Accepted (up to 4096 characters) and not applied: neither engine takes style prompts.
    instructions: Option<String>,
    /// Chatterbox sampling temperature, 0-2 (default 0.75).
    #[schema(minimum = 0.0, maximum = 2.0)]
    temperature: Option<f64>,
    /// Chatterbox emotion intensity, 0-2 (default 0.5).
    #[schema(minimum = 0.0, maximum = 2.0)]
    exaggeration: Option<f64>,
    /// Chatterbox classifier-free guidance, 0-2 (default 1.0).
    #[schema(minimum = 0.0, maximum = 2.0)]
    cfg_weight: Option<f64>,
    /// Chatterbox seed (0 or absent: a fresh one, sent back as `x-generation-seed`); the
    /// built-in voice takes none.
    #[schema(minimum = 0, maximum = 4294967295_u64)]
    seed: Option<u64>,
}

/// OpenAI's multipart voice upload (`POST /v1/audio/voices`).
#[derive(Debug, Serialize, ToSchema)]
#[allow(dead_code)]
pub struct VoiceUploadBody {
    /// The voice's name (its file is named after it).
    name: String,
    /// The sample: any audio container the library accepts.
    #[schema(format = Binary, content_media_type = "application/octet-stream")]
    audio_sample: String,
}

/// OpenAI's error envelope: `{"error": {message, type, param, code}}`.
#[derive(Debug, Serialize, ToSchema)]
#[allow(dead_code)]
pub struct OpenAiErrorBody {
    error: OpenAiErrorDetail,
}

/// What went wrong, in OpenAI's words.
#[derive(Debug, Serialize, ToSchema)]
#[allow(dead_code)]
pub struct OpenAiErrorDetail {
    /// For people.
    message: String,
    /// `invalid_request_error`, `rate_limit_error` or `server_error`.
    #[serde(rename = "type")]
    kind: String,
    /// The request field at fault, if one is.
    param: Option<String>,
    /// Machine-readable: `model_not_found`, `voice_not_found`, `model_not_installed`, ...
    code: Option<String>,
}

/// Adds the bearer-key scheme (`--api-keys`), optional on every route: without keys
/// configured nothing asks for one, with keys every route but health and the docs does.
#[derive(Debug)]
pub struct BearerKeys;

impl Modify for BearerKeys {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "One of the keys given with --api-keys / --api-keys-file (only when keys are configured)",
                    ))
                    .build(),
            ),
        );
        openapi.security = Some(vec![
            utoipa::openapi::security::SecurityRequirement::default(),
            utoipa::openapi::security::SecurityRequirement::new("api_key", Vec::<String>::new()),
        ]);
    }
}
