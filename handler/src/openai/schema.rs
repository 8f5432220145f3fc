//! The OpenAI dialect in the OpenAPI document: its request and error shapes, and the
//! bearer-key scheme the `/docs` page offers for both dialects.

use serde::{Deserialize, Serialize};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, ToSchema};

/// The body of `POST /v1/audio/speech`, as OpenAI defines it plus our extension fields (also
/// accepted inside `extra_body`). Deserialised as is, then checked by
/// [`super::speech::parse`]; every problem is a 400 in OpenAI's envelope naming the field.
/// Fields OpenAI does not define and we do not use are ignored, as OpenAI's clients may
/// send them.
#[derive(Debug, Deserialize, ToSchema)]
pub struct SpeechBody {
    /// OpenAI's `tts-1`, `tts-1-hd`, `gpt-4o-mini-tts` (the voice picks the engine: the
    /// built-in voice is Piper, a stored voice Chatterbox), or `piper` / `chatterbox`
    /// (that engine only); `GET /v1/models` lists what is installed.
    #[schema(example = "tts-1")]
    pub model: String,
    /// The text, 1-4096 characters.
    #[schema(example = "Hello there.", min_length = 1, max_length = 4096)]
    pub input: String,
    /// An OpenAI name (an alias, see `GET /v1/audio/voices`), the built-in `en_US-joe-medium`,
    /// or a stored voice by path, file name, stem or listed name; also `{"id": "..."}`.
    #[schema(example = "alloy")]
    pub voice: VoiceChoice,
    /// The container (default `mp3`; `pcm` is 24 kHz 16-bit mono).
    pub response_format: Option<ResponseFormat>,
    /// 0.25-4.0 (default 1.0): a tempo change with the pitch kept.
    #[schema(minimum = 0.25, maximum = 4.0)]
    pub speed: Option<f64>,
    /// `audio` (default: raw bytes, chunked) or `sse` (refused for `tts-1` and `tts-1-hd`).
    pub stream_format: Option<StreamFormat>,
    /// Accepted (up to 4096 characters) and not applied: neither engine takes style prompts.
    #[schema(max_length = 4096)]
    pub instructions: Option<String>,
    /// Chatterbox sampling temperature, 0-2 (default 0.75).
    #[schema(minimum = 0.0, maximum = 2.0)]
    pub temperature: Option<f64>,
    /// Chatterbox emotion intensity, 0-2 (default 0.5).
    #[schema(minimum = 0.0, maximum = 2.0)]
    pub exaggeration: Option<f64>,
    /// Chatterbox classifier-free guidance, 0-2 (default 1.0).
    #[schema(minimum = 0.0, maximum = 2.0)]
    pub cfg_weight: Option<f64>,
    /// Chatterbox seed (0 or absent: a fresh one, sent back as `x-generation-seed`); the
    /// built-in voice takes none.
    #[schema(minimum = 0, maximum = 4294967295_u64)]
    pub seed: Option<u64>,
    /// Extension: read numbers, dates, times, money, units, abbreviations, URLs and e-mail
    /// addresses as words and drop Markdown and emoji before speaking (default true).
    pub normalize_text: Option<bool>,
    /// Extension: pronunciation lexicons to apply, by name (`GET /api/v1/lexicons`), at
    /// most 8; earlier ones win.
    pub lexicons: Option<Vec<String>>,
    /// Extension: read `input` as SSML (`true` requires `<speak>…</speak>`, `false` reads
    /// markup as text; absent: SSML when the input starts with `<speak`).
    pub ssml: Option<bool>,
}

/// A voice: its name, or OpenAI's object form `{"id": "..."}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum VoiceChoice {
    /// A name.
    Name(String),
    /// `{"id": "..."}`.
    Object(VoiceId),
}

/// OpenAI's object form of a voice: exactly one key, `id`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VoiceId {
    /// The name.
    pub id: String,
}

/// `response_format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ResponseFormat {
    /// MPEG-1 Layer III.
    Mp3,
    /// Opus in Ogg.
    Opus,
    /// AAC-LC in ADTS.
    Aac,
    /// FLAC.
    Flac,
    /// 16-bit WAV.
    Wav,
    /// Raw 16-bit little-endian samples, 24 kHz mono.
    Pcm,
}

/// `stream_format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum StreamFormat {
    /// Raw audio bytes, chunked.
    Audio,
    /// Server-Sent Events.
    Sse,
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
