//! Monitoring routes: the original's `/metrics` (resource use and the last hour's
//! timings), `/errors/summary` and `/errors/recent`, usage statistics (`/stats`, from the
//! store), and the Prometheus exposition at `GET /metrics` (outside `/api/v1`).

use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{Error, ErrorBody, Result};
use crate::extract::{NoParams, StrictQuery};
use crate::monitoring::errors::{ErrorRecord, ErrorSummary};
use crate::monitoring::system::{self, SystemInfo};
use crate::monitoring::{Performance, prometheus};
use crate::service::area::Area;
use crate::service::engines::EngineKind;
use crate::service::usage::{self, UsageReport};
use crate::state::AppState;

/// Most records `/errors/recent` returns.
const MAX_RECENT: u32 = 50;

/// The `/api/v1` monitoring routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(metrics))
        .routes(routes!(errors_summary))
        .routes(routes!(errors_recent))
        .routes(routes!(stats))
}

/// The Prometheus route (`GET /metrics`, beside `/api/v1`).
pub fn prometheus_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(prometheus_text))
}

/// `GET /api/v1/metrics`: the original's keys.
#[derive(Debug, Serialize, ToSchema)]
pub struct MetricsResponse {
    /// When it was read (RFC 3339 UTC).
    pub timestamp: String,
    /// Resource use of this process.
    pub system: SystemInfo,
    /// The last hour's generation and response times.
    pub performance: Performance,
    /// Always `process`: each replica reports itself (Prometheus sums them).
    pub scope: &'static str,
}

/// Resource use and the last hour's processing and response times of this process.
#[utoipa::path(get, path = "/metrics", tag = "monitoring", params(NoParams),
    responses((status = 200, body = MetricsResponse), (status = 422, body = ErrorBody)))]
async fn metrics(
    State(state): State<AppState>,
    StrictQuery(_none): StrictQuery<NoParams>,
) -> Json<MetricsResponse> {
    Json(MetricsResponse {
        timestamp: crate::service::now_iso(),
        system: system_info(&state, true).await,
        performance: state.monitor().performance(),
        scope: "process",
    })
}

/// `system_info` for `/health` and `/metrics`. Counting outputs lists the outputs area,
/// which health (polled every few seconds by load balancers, and expected to answer while
/// the store stalls) does not do: there `file_counts.outputs` is null.
pub(crate) async fn system_info(state: &AppState, count_outputs: bool) -> SystemInfo {
    let data_dir = match &state.config().storage {
        storage::StorageUrl::File(dir) => Some(dir.clone()),
        _ => None,
    };
    let outputs = if count_outputs {
        crate::service::area::entries(state.store().as_ref(), Area::Outputs)
            .await
            .ok()
            .map(|entries| entries.len())
    } else {
        None
    };
    let clock = state.monitor().cpu();
    system::read(clock, data_dir.as_deref(), outputs)
}

/// This process's errors of the last 24 hours, grouped by category, severity and operation.
#[utoipa::path(get, path = "/errors/summary", tag = "monitoring", params(NoParams),
    responses((status = 200, body = ErrorSummary), (status = 422, body = ErrorBody)))]
async fn errors_summary(
    State(state): State<AppState>,
    StrictQuery(_none): StrictQuery<NoParams>,
) -> Json<ErrorSummary> {
    Json(state.monitor().errors().summary())
}

/// `GET /errors/recent` query.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct RecentQuery {
    /// How many, newest first: 1–50 (default 10).
    pub count: Option<u32>,
}

/// `GET /errors/recent` answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct RecentErrors {
    /// Newest first.
    pub recent_errors: Vec<ErrorRecord>,
    /// Records this process keeps (at most 1000).
    pub total_stored: usize,
}

/// This process's newest errors.
#[utoipa::path(get, path = "/errors/recent", tag = "monitoring", params(RecentQuery),
    responses((status = 200, body = RecentErrors), (status = 422, body = ErrorBody)))]
async fn errors_recent(
    State(state): State<AppState>,
    StrictQuery(query): StrictQuery<RecentQuery>,
) -> Result<Json<RecentErrors>> {
    let count = query.count.unwrap_or(10);
    if !(1..=MAX_RECENT).contains(&count) {
        return Err(Error::invalid(
            "count",
            format!("count must be between 1 and {MAX_RECENT}, got {count}"),
        ));
    }
    let (recent_errors, total_stored) = state.monitor().errors().recent(count as usize);
    Ok(Json(RecentErrors {
        recent_errors,
        total_stored,
    }))
}

/// `GET /stats` query.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct StatsQuery {
    /// Days to sum, today included: 1–366 (default 30).
    pub days: Option<u32>,
    /// Only this project (output folder; `(root)` for outputs outside any).
    pub project: Option<String>,
}

/// Usage statistics from the store (exact across replicas): generations, seconds of audio
/// and bytes by type, project, engine and day, and the voices used.
#[utoipa::path(get, path = "/stats", tag = "monitoring", params(StatsQuery),
    responses((status = 200, body = UsageReport), (status = 422, body = ErrorBody)))]
async fn stats(
    State(state): State<AppState>,
    StrictQuery(query): StrictQuery<StatsQuery>,
) -> Result<Json<UsageReport>> {
    let project = query
        .project
        .as_deref()
        .map(str::trim)
        .filter(|p| !p.is_empty());
    Ok(Json(
        usage::report(&state, query.days.unwrap_or(30), project).await?,
    ))
}

/// Prometheus metrics of this process, in the OpenMetrics text format (scrape each replica).
#[utoipa::path(get, path = "/metrics", tag = "monitoring", params(NoParams),
    responses((status = 200, description = "OpenMetrics 1.0 text exposition", content_type = "application/openmetrics-text"), (status = 422, body = ErrorBody)))]
async fn prometheus_text(
    State(state): State<AppState>,
    StrictQuery(_none): StrictQuery<NoParams>,
) -> impl IntoResponse {
    let metrics = state.monitor().prometheus();
    let engines = state.engines();
    for engine in [EngineKind::Piper, EngineKind::Chatterbox] {
        let labels = vec![("engine", engine.name().to_owned())];
        let load = engines.gate_load(engine);
        metrics
            .queue_depth
            .get_or_create(&labels)
            .set(load.waiting as f64);
        metrics
            .running
            .get_or_create(&labels)
            .set(load.running as f64);
        prometheus::raise_to(&metrics.rejections.get_or_create(&labels), load.rejected);
        if let Some(seconds) = engines.load_seconds(engine) {
            metrics.engine_load.get_or_create(&labels).set(seconds);
        }
    }
    let memory = state.memory();
    metrics
        .memory
        .get_or_create(&vec![("state", "used".to_owned())])
        .set(memory.used_bytes() as f64);
    metrics
        .memory
        .get_or_create(&vec![("state", "limit".to_owned())])
        .set(memory.limit_bytes() as f64);
    metrics.uptime.set(state.uptime_seconds());
    (
        [(
            header::CONTENT_TYPE,
            // What `prometheus-client` writes: OpenMetrics 1.0 (`# UNIT`, `# EOF`, counters
            // typed by family with `_total` samples). Prometheus reads it; labelled as the
            // older text format, counters would lose their type.
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        metrics.encode(),
    )
}
