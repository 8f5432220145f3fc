//! Service routes: health, configuration, storage usage and cleanup.

use std::time::Instant;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ErrorBody, Result};
use crate::extract::{NoParams, StrictQuery};
use crate::service::engines::EngineStatus;
use crate::service::maintenance::{self, CleanupStatus, CleanupSummary, ResourcesReport};
use crate::state::AppState;

/// The API version reported by `/health` and `/`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Routes of this module that need a key (when keys are configured).
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(config))
        .routes(routes!(resources))
        .routes(routes!(cleanup))
        .routes(routes!(cleanup_status))
}

/// The service routes open without a key: health (it tells strangers less).
pub fn open_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(health))
}

/// Which engines are loaded.
#[derive(Debug, Serialize, ToSchema)]
pub struct ModelsLoaded {
    /// A text-to-speech engine is ready.
    pub tts: bool,
    /// A voice-conversion engine is ready.
    pub vc: bool,
}

/// Whether the object store answers.
#[derive(Debug, Serialize, ToSchema)]
pub struct StorageHealth {
    /// `filesystem`, `s3` or `memory`.
    pub backend: String,
    /// Where the objects live (null for callers without an API key when keys are on).
    pub location: Option<String>,
    /// Whether a one-key listing succeeded.
    pub reachable: bool,
    /// How long that listing took.
    pub latency_ms: f64,
    /// Why it failed, when it did (without details for callers without an API key when
    /// keys are on).
    pub error: Option<String>,
}

/// Request counters since the process started.
#[derive(Debug, Serialize, ToSchema)]
pub struct RequestMetrics {
    /// Requests answered.
    pub requests_total: u64,
    /// Requests answered with 4xx.
    pub requests_client_error: u64,
    /// Requests answered with 5xx.
    pub requests_server_error: u64,
}

/// `GET /health` response.
#[derive(Debug, Serialize, ToSchema)]
pub struct HealthResponse {
    /// `healthy`, or `unhealthy` (with status 503) when the store cannot be reached.
    pub status: &'static str,
    /// API version.
    pub version: &'static str,
    /// Seconds since the process started.
    pub uptime_seconds: f64,
    /// Loaded engines.
    pub models_loaded: ModelsLoaded,
    /// Which engines are installed and loaded.
    pub engines: EngineStatus,
    /// The object store.
    pub storage: StorageHealth,
    /// Request counters.
    pub metrics: RequestMetrics,
    /// Resource use of this process (the original's keys), for callers with a key when
    /// keys are on (null otherwise).
    pub system_info: Option<crate::monitoring::system::SystemInfo>,
    /// This process's errors of the last 24 hours (as `/api/v1/errors/summary`), for
    /// callers with a key when keys are on; null when there were none.
    pub error_summary: Option<crate::monitoring::errors::ErrorSummary>,
    /// Problems worth attention, or null.
    pub warnings: Option<Vec<String>>,
}

/// Longest the health check waits for the store: a stalled store must not stall the
/// load balancer's probe.
const HEALTH_PROBE_DEADLINE: std::time::Duration = std::time::Duration::from_secs(2);

/// Liveness and readiness: 200 when the store answers, 503 (with `Retry-After`) otherwise.
/// Open without an API key; the store's location and failure details are shown only to
/// callers with a key when keys are on.
#[utoipa::path(get, path = "/health", tag = "service", security(()),
    responses((status = 200, body = HealthResponse), (status = 503, body = HealthResponse)))]
async fn health(State(state): State<AppState>, headers: axum::http::HeaderMap) -> Response {
    let trusted = crate::auth::is_trusted(state.api_keys(), &headers);
    let store = state.store();
    let started = Instant::now();
    let probe = tokio::time::timeout(
        HEALTH_PROBE_DEADLINE,
        store.list(
            &storage::KeyPrefix::root(),
            storage::ListOptions {
                max_keys: Some(1),
                ..Default::default()
            },
        ),
    )
    .await;
    let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
    let error = match probe {
        Ok(Ok(_)) => None,
        Ok(Err(e)) => Some(e.to_string()),
        Err(_) => Some(format!(
            "no answer within {} s",
            HEALTH_PROBE_DEADLINE.as_secs()
        )),
    }
    .map(|e| {
        if trusted {
            e
        } else {
            "the store did not answer".to_owned()
        }
    });
    let reachable = error.is_none();
    let mut warnings = Vec::new();
    if let Some(error) = &error {
        warnings.push(format!("storage unreachable: {error}"));
    }
    let (total, client, server) = state.metrics().snapshot();
    let engines = state.engines().status();
    if !engines.piper_installed {
        warnings.push(
            "the Piper voice or ONNX Runtime is not installed: run ./scripts/serve.sh once (see docs/configuration.md)".into(),
        );
    }
    let body = HealthResponse {
        status: if reachable { "healthy" } else { "unhealthy" },
        version: VERSION,
        uptime_seconds: (state.uptime_seconds() * 1000.0).round() / 1000.0,
        models_loaded: ModelsLoaded {
            tts: engines.piper_loaded || engines.chatterbox_loaded,
            vc: engines.chatterbox_loaded,
        },
        engines,
        storage: StorageHealth {
            backend: store.kind().to_owned(),
            location: trusted.then(|| store.describe()),
            reachable,
            latency_ms: (latency_ms * 1000.0).round() / 1000.0,
            error,
        },
        metrics: RequestMetrics {
            requests_total: total,
            requests_client_error: client,
            requests_server_error: server,
        },
        system_info: if trusted {
            Some(super::monitoring::system_info(&state, false).await)
        } else {
            None
        },
        error_summary: if trusted {
            Some(state.monitor().errors().summary()).filter(|s| s.total_errors > 0)
        } else {
            None
        },
        warnings: (!warnings.is_empty()).then_some(warnings),
    };
    if reachable {
        (StatusCode::OK, Json(body)).into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            [(axum::http::header::RETRY_AFTER, "5")],
            Json(body),
        )
            .into_response()
    }
}

/// Limits that apply to requests.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApiLimits {
    /// Largest voice upload in MB.
    pub max_voice_upload_mb: u64,
    /// Largest VC-input upload in MB.
    pub max_vc_input_upload_mb: u64,
    /// Largest total of the uploads of one mixed concatenation, in MB.
    pub max_concat_upload_mb: u64,
    /// Longest accepted audio in seconds.
    pub max_audio_seconds: u64,
}

/// `GET /config` response.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConfigResponse {
    /// Formats outputs can be written in (`export_formats`).
    pub supported_formats: Vec<&'static str>,
    /// Audio formats accepted by uploads.
    pub upload_formats: Vec<&'static str>,
    /// Request limits.
    pub api_limits: ApiLimits,
    /// Storage backend kind.
    pub storage_backend: &'static str,
    /// Hours between scheduled cleanups (0: none).
    pub cleanup_interval_hours: f64,
    /// Longest `text` a TTS request may carry, in characters.
    pub max_text_length: usize,
    /// Which engines are installed and loaded.
    pub engines: EngineStatus,
    /// The defaults `POST /api/v1/tts` applies to omitted fields.
    #[schema(value_type = Object)]
    pub tts_defaults: serde_json::Value,
    /// The defaults `POST /api/v1/vc` applies to omitted fields.
    #[schema(value_type = Object)]
    pub vc_defaults: serde_json::Value,
}

/// The limits and formats clients need to know.
#[utoipa::path(get, path = "/config", tag = "service", responses((status = 200, body = ConfigResponse)))]
async fn config(State(state): State<AppState>) -> Json<ConfigResponse> {
    let config = state.config();
    Json(ConfigResponse {
        supported_formats: audio::encode::SUPPORTED_FORMATS.split(", ").collect(),
        upload_formats: audio::ContainerFormat::EXTENSIONS.to_vec(),
        api_limits: ApiLimits {
            max_voice_upload_mb: config.limits.max_voice_upload_mb,
            max_vc_input_upload_mb: config.limits.max_vc_input_upload_mb,
            max_concat_upload_mb: config.limits.max_concat_upload_mb,
            max_audio_seconds: config.limits.max_audio_seconds,
        },
        storage_backend: state.store().kind(),
        cleanup_interval_hours: config.maintenance.cleanup_interval_hours,
        max_text_length: config.engines.max_text_length,
        engines: state.engines().status(),
        tts_defaults: crate::service::tts::request::defaults_json(),
        vc_defaults: crate::service::vc::defaults_json(),
    })
}

/// Storage used by voices, VC inputs and outputs, with warnings near the configured sizes.
#[utoipa::path(get, path = "/resources", tag = "service",
    responses((status = 200, body = ResourcesReport), (status = 503, body = ErrorBody)))]
async fn resources(State(state): State<AppState>) -> Result<Json<ResourcesReport>> {
    Ok(Json(maintenance::resources(&state).await?))
}

/// Run the cleanup now: zero-byte files and stale sidecars are removed, missing sidecars
/// created. Needs a key with the `admin` scope when keys are configured.
#[utoipa::path(post, path = "/cleanup", tag = "service", params(NoParams),
    responses((status = 200, body = CleanupSummary), (status = 422, body = ErrorBody)))]
async fn cleanup(
    _admin: crate::auth::AdminAccess,
    State(state): State<AppState>,
    StrictQuery(_no_params): StrictQuery<NoParams>,
) -> Json<CleanupSummary> {
    Json(maintenance::run_cleanup(&state, true).await)
}

/// The cleanup schedule and the last five runs.
#[utoipa::path(get, path = "/cleanup/status", tag = "service", responses((status = 200, body = CleanupStatus)))]
async fn cleanup_status(State(state): State<AppState>) -> Json<CleanupStatus> {
    Json(maintenance::status(&state))
}
