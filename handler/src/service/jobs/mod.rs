//! Long-form jobs: a book (plain text, Markdown or chapters) spoken chapter by chapter in
//! the background, one output per chapter plus the joined book, with captions. The job's
//! state is a JSON document in the store (`jobs/<id>/job.json`), so any replica reports it;
//! every finished chunk is an object (`jobs/<id>/parts/…`), so a worker that dies or is
//! redeployed resumes from the last finished chunk instead of starting over.
//!
//! Work is offered through a [`queue::JobQueue`] (this process's, or SQS); a worker claims a job by writing a lease
//! into its document on the version it read (compare-and-swap), renews it as it goes, and
//! another worker may take the job over once the lease has expired.

mod assemble;
pub mod plan;
pub mod queue;
pub mod sqs;
pub mod worker;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use storage::{Key, ObjectStore};
use utoipa::ToSchema;

use crate::error::{Error, Result};
pub use plan::{ChapterInput, InputFormat, JobRequest};

/// Where a job is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, Default)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    /// Accepted, not started.
    #[default]
    Queued,
    /// A worker is speaking it.
    Running,
    /// Every output is written.
    Completed,
    /// It stopped on an error (`error` says which).
    Failed,
    /// Cancelled by `DELETE`.
    Cancelled,
}

impl JobStatus {
    /// Whether nothing more will happen to the job.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Completed | Self::Failed | Self::Cancelled)
    }
}

/// One chapter's progress.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, Default)]
pub struct ChapterProgress {
    /// Its title.
    pub title: String,
    /// Chunks of text it has (known once the job starts it).
    pub chunks_total: usize,
    /// Chunks spoken.
    pub chunks_done: usize,
    /// Its output (path under `outputs/`, first format), once written.
    pub output: Option<String>,
    /// Its length in seconds, once written.
    pub duration_seconds: Option<f64>,
}

/// A worker's claim on a job.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct JobLease {
    /// The worker (one per process).
    pub owner: String,
    /// When the claim lapses unless renewed.
    pub expires_at: DateTime<Utc>,
}

/// A file the job wrote.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct JobOutput {
    /// `chapter` or `book`.
    pub kind: String,
    /// The chapter's position (from 1), absent for the book.
    pub chapter: Option<usize>,
    /// The format.
    pub format: String,
    /// Path under `outputs/`.
    pub path: String,
    /// Download URL.
    pub url: String,
}

/// A job as stored and as `GET /api/v1/jobs/{id}` answers it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, Default)]
pub struct JobRecord {
    /// The job id.
    pub id: String,
    /// Where it is.
    pub status: JobStatus,
    /// When it was accepted.
    pub created_at: Option<DateTime<Utc>>,
    /// When its document last changed.
    pub updated_at: Option<DateTime<Utc>>,
    /// When a worker first started it.
    pub started_at: Option<DateTime<Utc>>,
    /// The request as accepted.
    #[schema(value_type = Object)]
    pub request: serde_json::Value,
    /// Per chapter, in order.
    pub chapters: Vec<ChapterProgress>,
    /// Every file written, chapters first, then the book.
    pub outputs: Vec<JobOutput>,
    /// Why it failed.
    pub error: Option<String>,
    /// What it could not do, in words (a book too long to join).
    #[serde(default)]
    pub warnings: Vec<String>,
    /// The worker holding it, while running.
    pub lease: Option<JobLease>,
    /// Chunks written since the job began, over every worker (equals the chunk total when
    /// no chunk was spoken twice).
    pub chunks_written: usize,
    /// Seconds of speech made so far (for the estimate).
    pub audio_seconds: f64,
    /// Seconds workers spent speaking it so far (for the estimate).
    pub work_seconds: f64,
}

/// Overall progress, derived from the chapters.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct JobProgress {
    /// Chunks of every started chapter.
    pub chunks_total: usize,
    /// Chunks spoken.
    pub chunks_done: usize,
    /// `chunks_done / chunks_total` over started chapters (0 before any).
    pub fraction: f64,
    /// Seconds left at the pace so far (null until a chunk is done).
    pub estimated_seconds_remaining: Option<f64>,
}

/// A job with its derived progress (the answer of the job routes).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct JobView {
    /// The stored record.
    #[serde(flatten)]
    pub record: JobRecord,
    /// Progress derived from it.
    pub progress: JobProgress,
}

impl JobRecord {
    /// The record with its progress.
    pub fn view(self) -> JobView {
        let chunks_total: usize = self.chapters.iter().map(|c| c.chunks_total).sum();
        let chunks_done: usize = self.chapters.iter().map(|c| c.chunks_done).sum();
        let unstarted = self.chapters.iter().filter(|c| c.chunks_total == 0).count();
        let fraction = if self.status == JobStatus::Completed {
            1.0
        } else if chunks_total == 0 {
            0.0
        } else {
            chunks_done as f64 / chunks_total as f64
        };
        let estimated_seconds_remaining = (chunks_done > 0 && !self.status.is_final()).then(|| {
            let per_chunk = self.work_seconds / chunks_done as f64;
            // Unstarted chapters count as the average chapter so far.
            let started = self.chapters.len() - unstarted;
            let expected_total =
                chunks_total as f64 * self.chapters.len() as f64 / started.max(1) as f64;
            (expected_total - chunks_done as f64).max(0.0) * per_chunk
        });
        JobView {
            progress: JobProgress {
                chunks_total,
                chunks_done,
                fraction,
                estimated_seconds_remaining,
            },
            record: self,
        }
    }
}

/// The key of a job's document.
pub fn record_key(id: &str) -> Result<Key> {
    check_id(id)?;
    Ok(Key::new(format!("jobs/{id}/job.json"))?)
}

/// Job ids are UUIDs: anything else is not a job (404 rather than a path in the store).
fn check_id(id: &str) -> Result<()> {
    uuid::Uuid::parse_str(id)
        .map(|_| ())
        .map_err(|_| Error::NotFound {
            what: "Job",
            name: id.to_owned(),
        })
}

/// Reads a job (404 when there is none).
pub async fn get(store: &dyn ObjectStore, id: &str) -> Result<JobRecord> {
    let key = record_key(id)?;
    match store.get(&key).await {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map_err(|e| Error::Internal(format!("job {id} is unreadable: {e}"))),
        Err(e) if e.is_not_found() => Err(Error::NotFound {
            what: "Job",
            name: id.to_owned(),
        }),
        Err(e) => Err(e.into()),
    }
}

/// Every job, newest first.
pub async fn list(store: &dyn ObjectStore) -> Result<Vec<JobRecord>> {
    let ids = list_ids(store).await?;
    let mut jobs = Vec::with_capacity(ids.len());
    for id in ids {
        match get(store, &id).await {
            Ok(job) => jobs.push(job),
            Err(e) => tracing::warn!(job = %id, error = %e, "skipping an unreadable job"),
        }
    }
    jobs.sort_by_key(|job| std::cmp::Reverse(job.created_at));
    Ok(jobs)
}

/// The id of every job in the store (one listing, no document read).
pub async fn list_ids(store: &dyn ObjectStore) -> Result<Vec<String>> {
    let prefix = storage::KeyPrefix::new("jobs/")?;
    let mut ids: Vec<String> = storage::list_all(store, &prefix, false)
        .await?
        .objects
        .into_iter()
        .filter_map(|object| {
            let rest = object.key.as_str().strip_prefix("jobs/")?;
            let (id, file) = rest.split_once('/')?;
            (file == "job.json").then(|| id.to_owned())
        })
        .collect();
    ids.sort();
    ids.dedup();
    Ok(ids)
}

/// Accepts a job: checks the request (4xx before anything is stored), stores its document
/// and hands it to the queue.
pub async fn create(state: &crate::state::AppState, request: JobRequest) -> Result<JobRecord> {
    if crate::lambda::detected() && state.jobs().queue().sqs().is_none() {
        // A function is frozen between invocations: a worker inside it would stall.
        return Err(Error::ModelNotInstalled {
            engine: "jobs",
            message: "long-form jobs on AWS Lambda need a job queue: set SPEECH_JOB_QUEUE to \
                      an SQS queue whose event source invokes this function (docs/deployment.md), \
                      or run jobs on the container image or the local runner"
                .into(),
        });
    }
    let checked = request.check(state).await?;
    let id = uuid::Uuid::new_v4().to_string();
    let now = Utc::now();
    let record = JobRecord {
        id: id.clone(),
        status: JobStatus::Queued,
        created_at: Some(now),
        updated_at: Some(now),
        request: serde_json::to_value(&request)
            .map_err(|e| Error::Internal(format!("job request does not serialise: {e}")))?,
        chapters: checked
            .chapters
            .iter()
            .map(|c| ChapterProgress {
                title: c.title.clone(),
                ..ChapterProgress::default()
            })
            .collect(),
        ..JobRecord::default()
    };
    let bytes = super::area::sidecar_bytes(&record)?;
    let key = record_key(&id)?;
    let store = || {
        state
            .store()
            .put_if(&key, bytes.clone(), storage::Precondition::Absent)
    };
    if state.jobs().queue().offer_before_storing() {
        // A shared queue hears of the job first: if the process dies in between, what is
        // left is a message naming no job, which workers drop, never a job nobody will
        // run. A worker that receives it before the document exists tries again shortly.
        state.jobs().submit(state, &id).await?;
        store().await?;
    } else {
        // This process's own queue: the document first (its worker reads it at once; a
        // crash in between leaves a queued job that the next sweep offers).
        store().await?;
        if let Err(e) = state.jobs().submit(state, &id).await {
            if let Err(removal) = state.store().delete(&key).await {
                tracing::warn!(job = %id, error = %removal, "could not remove an unqueued job");
            }
            return Err(e);
        }
    }
    Ok(record)
}

/// Cancels a job: a queued one never starts, a running one stops after its current chunk
/// and its finished chunks are removed. Cancelling a finished job changes nothing.
pub async fn cancel(store: &dyn ObjectStore, id: &str) -> Result<JobRecord> {
    get(store, id).await?;
    let record: JobRecord = super::sidecar_update::update_existing_json(
        store,
        &record_key(id)?,
        |job: &mut JobRecord| {
            if !job.status.is_final() {
                job.status = JobStatus::Cancelled;
                job.lease = None;
                job.updated_at = Some(Utc::now());
            }
        },
    )
    .await?;
    if record.status == JobStatus::Cancelled {
        worker::remove_parts(store, id).await;
    }
    Ok(record)
}
