//! The OpenAPI document, generated from the route annotations, served at
//! `/openapi.json` with an interactive page at `/docs`, and committed as
//! `docs/openapi.json` (a test fails when the committed copy drifts).

use utoipa::OpenApi;

use crate::error::ErrorBody;
use crate::openai::schema::BearerKeys;

/// Document-level metadata; the paths come from the routes themselves.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Speech API",
        description = "Self-hostable text-to-speech, voice cloning, voice conversion and audio \
            concatenation over S3-compatible storage. Native routes live under `/api/v1`; errors use \
            one envelope: `{success:false, error, error_code, detail, timestamp, request_id}`.",
        license(name = "MIT OR Apache-2.0"),
    ),
    tags(
        (name = "voices", description = "Reference voices for cloning and VC targets"),
        (name = "vc_inputs", description = "Source recordings for voice conversion"),
        (name = "outputs", description = "Generated audio: listing, download, deletion"),
        (name = "concat", description = "Joining outputs and uploads with silences, pauses and crossfades"),
        (name = "service", description = "Health, configuration, storage usage and cleanup"),
        (name = "openai", description = "The OpenAI-compatible dialect (also served without `/v1`); errors use OpenAI's envelope"),
    ),
    paths(
        crate::openai::speech::create_speech,
        crate::openai::models::list_models,
        crate::openai::models::get_model,
        crate::openai::models::list_audio_models,
        crate::openai::voices::list_voices,
        crate::openai::voices::list_voices_for_model,
        crate::openai::voices::create_voice,
    ),
    components(schemas(ErrorBody)),
    modifiers(&BearerKeys)
)]
pub struct ApiDoc;

/// The complete document.
pub fn document() -> utoipa::openapi::OpenApi {
    crate::api::routes().split_for_parts().1
}

/// The document as the pretty JSON committed in `docs/openapi.json`.
pub fn document_json() -> String {
    let mut json = document()
        .to_pretty_json()
        .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    json.push('\n');
    json
}
