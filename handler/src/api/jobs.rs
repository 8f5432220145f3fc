//! `/api/v1/jobs*`: long-form jobs (accept, list, status, live progress, cancel).

use std::convert::Infallible;
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::Stream;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ErrorBody, Result};
use crate::extract::{self, NoParams, Path, StrictQuery};
use crate::service::jobs::{self, JobRequest, JobView};
use crate::state::AppState;

/// Routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_job, list_jobs))
        .routes(routes!(get_job, delete_job))
        .routes(routes!(cancel_job))
        .routes(routes!(job_events))
}

/// The answer of `POST /api/v1/jobs`.
#[derive(Debug, Serialize, ToSchema)]
pub struct JobAccepted {
    /// Always true.
    pub success: bool,
    /// The job's id.
    pub job_id: String,
    /// Where its status is.
    pub status_url: String,
    /// Where its progress streams (Server-Sent Events).
    pub events_url: String,
    /// The job as accepted.
    pub job: JobView,
}

/// `GET /api/v1/jobs`.
#[derive(Debug, Serialize, ToSchema)]
pub struct JobList {
    /// Every job, newest first.
    pub jobs: Vec<JobView>,
}

/// Start a long-form job (202: it runs in the background).
///
/// Give `text` (plain, or Markdown with `format: "markdown"`: headings start chapters) or
/// `chapters`. Each chapter becomes an output, the chapters are joined into the book, and
/// every output carries captions. Progress: `GET /api/v1/jobs/{id}` or its `events`.
#[utoipa::path(post, path = "/jobs", tag = "jobs", request_body = JobRequest,
    responses((status = 202, body = JobAccepted), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_job(
    State(state): State<AppState>,
    extract::Json(request): extract::Json<JobRequest>,
) -> Result<Response> {
    let record = jobs::create(&state, request).await?;
    let id = record.id.clone();
    Ok((
        StatusCode::ACCEPTED,
        Json(JobAccepted {
            success: true,
            status_url: format!("/api/v1/jobs/{id}"),
            events_url: format!("/api/v1/jobs/{id}/events"),
            job_id: id,
            job: record.view(),
        }),
    )
        .into_response())
}

/// List jobs, newest first.
#[utoipa::path(get, path = "/jobs", tag = "jobs", responses((status = 200, body = JobList)))]
async fn list_jobs(State(state): State<AppState>) -> Result<Json<JobList>> {
    let jobs = jobs::list(state.store().as_ref()).await?;
    Ok(Json(JobList {
        jobs: jobs.into_iter().map(jobs::JobRecord::view).collect(),
    }))
}

/// A job's status, per-chapter progress, estimate and outputs.
#[utoipa::path(get, path = "/jobs/{id}", tag = "jobs",
    params(("id" = String, Path, description = "The job id")),
    responses((status = 200, body = JobView), (status = 404, body = ErrorBody)))]
async fn get_job(State(state): State<AppState>, Path(id): Path<String>) -> Result<Json<JobView>> {
    Ok(Json(jobs::get(state.store().as_ref(), &id).await?.view()))
}

/// Cancel a job (the `admin` scope, like every `DELETE`; `POST …/cancel` needs `generate`).
#[utoipa::path(delete, path = "/jobs/{id}", tag = "jobs",
    params(("id" = String, Path, description = "The job id"), NoParams),
    responses((status = 200, body = JobView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn delete_job(
    State(state): State<AppState>,
    Path(id): Path<String>,
    StrictQuery(_no_params): StrictQuery<NoParams>,
) -> Result<Json<JobView>> {
    Ok(Json(
        jobs::cancel(state.store().as_ref(), &id).await?.view(),
    ))
}

/// Cancel a job: a queued one never starts, a running one stops after its current chunk.
#[utoipa::path(post, path = "/jobs/{id}/cancel", tag = "jobs",
    params(("id" = String, Path, description = "The job id"), NoParams),
    responses((status = 200, body = JobView), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn cancel_job(
    State(state): State<AppState>,
    Path(id): Path<String>,
    StrictQuery(_no_params): StrictQuery<NoParams>,
) -> Result<Json<JobView>> {
    Ok(Json(
        jobs::cancel(state.store().as_ref(), &id).await?.view(),
    ))
}

/// A job's progress as Server-Sent Events: a `progress` event (the job as `GET` answers
/// it) whenever it changes, then one `done` event when it is finished.
#[utoipa::path(get, path = "/jobs/{id}/events", tag = "jobs",
    params(("id" = String, Path, description = "The job id")),
    responses((status = 200, description = "`progress` events, then `done`", content_type = "text/event-stream"),
        (status = 404, body = ErrorBody)))]
async fn job_events(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Sse<impl Stream<Item = std::result::Result<Event, Infallible>>>> {
    // A missing job is a 404 now, not an empty stream.
    let first = jobs::get(state.store().as_ref(), &id).await?;
    let stream = futures::stream::unfold(
        (state, id, Some(first), None::<String>, false),
        |(state, id, mut next, mut last_seen, finished)| async move {
            if finished {
                return None;
            }
            loop {
                let record = match next.take() {
                    Some(record) => record,
                    None => {
                        tokio::time::sleep(Duration::from_millis(500)).await;
                        match jobs::get(state.store().as_ref(), &id).await {
                            Ok(record) => record,
                            Err(e) => {
                                let event = Event::default().event("error").data(e.to_string());
                                return Some((Ok(event), (state, id, None, last_seen, true)));
                            }
                        }
                    }
                };
                let stamp = serde_json::to_string(&record).unwrap_or_default();
                let done = record.status.is_final();
                if last_seen.as_deref() == Some(stamp.as_str()) && !done {
                    continue;
                }
                last_seen = Some(stamp);
                let name = if done { "done" } else { "progress" };
                let data = serde_json::to_string(&record.view()).unwrap_or_default();
                let event = Event::default().event(name).data(data);
                return Some((Ok(event), (state, id, None, last_seen, done)));
            }
        },
    );
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}
