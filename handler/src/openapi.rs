//! The OpenAPI document, generated from the route annotations, served at
//! `/openapi.json` with an interactive page at `/docs`, and committed as
//! `docs/openapi.json` (a test fails when the committed copy drifts).

use utoipa::openapi::{ContentBuilder, Ref, RefOr, Response, ResponseBuilder};
use utoipa::{Modify, OpenApi};

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
        (name = "backup", description = "The library as a streamed tar archive, and restoring one (admin scope)"),
        (name = "lexicons", description = "Pronunciation lexicons applied by name to any request"),
        (name = "jobs", description = "Long-form jobs: books spoken chapter by chapter in the background, resumable"),
        (name = "monitoring", description = "Per-process metrics and errors (JSON and Prometheus), and usage statistics from the store"),
        (name = "sillytavern", description = "The routes of devnen/Chatterbox-TTS-Server that SillyTavern's Chatterbox provider calls; nothing is stored"),
        (name = "openai", description = "The OpenAI-compatible dialect (also served without `/v1`); errors use OpenAI's envelope"),
    ),
    paths(
        crate::openai::speech::create_speech,
        crate::openai::captioned::create_captioned_speech,
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

/// Statuses any route can answer with, whatever its handler does: the middleware's
/// (authentication, origin guard, deadline, admission control) and malformed requests.
/// Added to every operation that does not document them itself, in its dialect's envelope,
/// so the document lists every status a client can meet.
#[derive(Debug)]
pub struct EveryStatus;

/// A status the middleware can give any operation, and when.
struct CommonStatus {
    status: &'static str,
    why: &'static str,
    /// Only operations with a request body.
    with_body_only: bool,
    /// Not for routes open without a key.
    protected_only: bool,
}

/// Why a 429: the key's rate, or (OpenAI dialect, whose clients back off on 429) a busy engine.
const TOO_MANY: &str = "Too many requests: the API key is over its rate (`--key-rate-limit` or \
                        the key's `rate=`; see the `x-ratelimit-*` headers), or in the OpenAI \
                        dialect the engine is busy. Retry after `Retry-After` seconds";

const COMMON: &[CommonStatus] = &[
    CommonStatus {
        status: "400",
        why: "A parameter or the body is malformed, or names a parameter the route does not take",
        with_body_only: false,
        protected_only: false,
    },
    CommonStatus {
        status: "401",
        why: "No key, or a wrong one (only when the service runs with `--api-keys`)",
        with_body_only: false,
        protected_only: true,
    },
    CommonStatus {
        status: "403",
        why: "The API key lacks the scope the call needs (`INSUFFICIENT_SCOPE`), or a browser \
              page of an origin `--allowed-origins` does not name tried to change state",
        with_body_only: false,
        protected_only: false,
    },
    CommonStatus {
        status: "408",
        why: "The request ran past `--request-timeout-seconds`; its work was stopped",
        with_body_only: false,
        protected_only: false,
    },
    CommonStatus {
        status: "413",
        why: "The body is larger than the route accepts",
        with_body_only: true,
        protected_only: false,
    },
    CommonStatus {
        status: "429",
        why: TOO_MANY,
        with_body_only: false,
        protected_only: true,
    },
    CommonStatus {
        status: "500",
        why: "An internal fault (logged with the request id)",
        with_body_only: false,
        protected_only: false,
    },
    CommonStatus {
        status: "503",
        why: "Busy (admission control or the memory budget; see `Retry-After`), the store is \
              unreachable, or a needed engine is not installed",
        with_body_only: false,
        protected_only: false,
    },
];

impl Modify for EveryStatus {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let mut used = std::collections::BTreeMap::new();
        for (path, item) in openapi.paths.paths.iter_mut() {
            let openai = crate::error::is_openai_path(path);
            for operation in [
                item.get.as_mut(),
                item.put.as_mut(),
                item.post.as_mut(),
                item.delete.as_mut(),
                item.patch.as_mut(),
            ]
            .into_iter()
            .flatten()
            {
                let has_body = operation.request_body.is_some();
                // `security(())`: the route attaches no key guard.
                let open = operation.security.as_ref().is_some_and(|requirements| {
                    requirements
                        .iter()
                        .all(|r| *r == utoipa::openapi::security::SecurityRequirement::default())
                });
                let responses = &mut operation.responses.responses;
                for common in COMMON {
                    if (common.with_body_only && !has_body) || (common.protected_only && open) {
                        continue;
                    }
                    // OpenAI's clients back off on 429: that dialect answers "busy" with it.
                    if openai && common.status == "503" {
                        let busy = CommonStatus {
                            status: "429",
                            why: TOO_MANY,
                            with_body_only: false,
                            protected_only: false,
                        };
                        refer(responses, &mut used, &busy, openai);
                    }
                    refer(responses, &mut used, common, openai);
                }
            }
        }
        let components = openapi.components.get_or_insert_with(Default::default);
        components.responses.extend(used);
    }
}

/// Points `responses[status]` (unless the operation documents it) at a shared response
/// in `components.responses`, recording that one in `used`.
fn refer(
    responses: &mut std::collections::BTreeMap<String, RefOr<Response>>,
    used: &mut std::collections::BTreeMap<String, RefOr<Response>>,
    common: &CommonStatus,
    openai: bool,
) {
    if responses.contains_key(common.status) {
        return;
    }
    let (name, envelope) = if openai {
        (format!("OpenAi{}", common.status), "OpenAiErrorBody")
    } else {
        (format!("Native{}", common.status), "ErrorBody")
    };
    used.entry(name.clone()).or_insert_with(|| {
        RefOr::T(
            ResponseBuilder::new()
                .description(common.why)
                .content(
                    "application/json",
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name(envelope)))
                        .build(),
                )
                .build(),
        )
    });
    responses.insert(
        common.status.to_owned(),
        RefOr::Ref(Ref::new(format!("#/components/responses/{name}"))),
    );
}

/// The complete document.
pub fn document() -> utoipa::openapi::OpenApi {
    let mut document = crate::documented_routes().split_for_parts().1;
    complete(&mut document);
    document
}

/// What the route annotations cannot say on their own, added once every route is in:
/// the statuses any operation can meet ([`EveryStatus`]), and no default on a required
/// field (a struct-level `serde(default)` gives every field one, `text: null` included).
pub fn complete(document: &mut utoipa::openapi::OpenApi) {
    EveryStatus.modify(document);
    let Some(components) = document.components.as_mut() else {
        return;
    };
    for schema in components.schemas.values_mut() {
        let RefOr::T(utoipa::openapi::Schema::Object(object)) = schema else {
            continue;
        };
        for name in &object.required {
            if let Some(RefOr::T(utoipa::openapi::Schema::Object(field))) =
                object.properties.get_mut(name)
            {
                field.default = None;
            }
        }
    }
}

/// The document as the pretty JSON committed in `docs/openapi.json`.
pub fn document_json() -> String {
    let mut json = document()
        .to_pretty_json()
        .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    json.push('\n');
    json
}
