//! How job ids reach workers. [`JobQueue`] is the seam: this process's in-memory queue
//! (the local runner and containers without a queue service: jobs accepted here are worked
//! on here, and unfinished jobs in the store are offered again when the process starts and
//! whenever their claim lapses) or Amazon SQS ([`super::sqs`]: every replica and the
//! Lambda worker share one queue, and a message whose worker died comes back by itself).

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use tokio::sync::mpsc;

use super::sqs::SqsQueue;
use super::worker::{self, Ran};
use crate::config::Config;
use crate::error::Result;
use crate::state::AppState;

/// Where accepted job ids go.
#[async_trait]
pub trait JobQueue: Send + Sync + std::fmt::Debug {
    /// Offers `id` to a worker. A job may be offered more than once (at start-up, after a
    /// crash, a duplicate delivery): workers claim it through its lease, so it runs once at
    /// a time. An error means the job was not queued.
    async fn offer(&self, state: &AppState, id: &str) -> Result<()>;

    /// Starts what this process does for the queue when it serves requests outside Lambda:
    /// takes the jobs it is offered (in-process) or receives them from the queue service.
    fn start(&self, state: &AppState);

    /// Whether a new job is offered before its document is stored (a queue other
    /// processes read) rather than after (this process's own).
    fn offer_before_storing(&self) -> bool {
        false
    }

    /// The SQS queue, when jobs go through one.
    fn sqs(&self) -> Option<&SqsQueue> {
        None
    }
}

/// The in-process queue: one worker task per process, started with the first job.
#[derive(Debug, Default)]
pub struct InProcessQueue {
    sender: Mutex<Option<mpsc::UnboundedSender<String>>>,
    /// Jobs offered and not yet taken up, so a sweep does not queue one twice.
    pending: Arc<Mutex<HashSet<String>>>,
}

#[async_trait]
impl JobQueue for InProcessQueue {
    async fn offer(&self, state: &AppState, id: &str) -> Result<()> {
        self.send(state, id);
        Ok(())
    }

    fn start(&self, state: &AppState) {
        let state = state.clone();
        tokio::spawn(async move {
            // Unfinished jobs a stopped process left (or accepted just before it stopped) at
            // once, then whichever job's claim has lapsed: a replica that died while this
            // one runs leaves its job to whichever replica sweeps first.
            let mut settled = HashSet::new();
            loop {
                offer_unclaimed(&state, &mut settled).await;
                tokio::time::sleep(sweep_interval(&state)).await;
            }
        });
    }
}

impl InProcessQueue {
    fn send(&self, state: &AppState, id: &str) {
        if let Ok(mut pending) = self.pending.lock()
            && !pending.insert(id.to_owned())
        {
            return;
        }
        let Ok(mut sender) = self.sender.lock() else {
            tracing::error!(
                job = id,
                "job queue lock poisoned; the job waits for a sweep"
            );
            return;
        };
        let sender = sender.get_or_insert_with(|| {
            let (sender, receiver) = mpsc::unbounded_channel();
            tokio::spawn(work_through(
                state.clone(),
                receiver,
                Arc::clone(&self.pending),
            ));
            sender
        });
        if sender.send(id.to_owned()).is_err() {
            tracing::error!(job = id, "job worker stopped; the job waits for a sweep");
        }
    }
}

/// How often a process looks for jobs nobody holds: the lease length, at least 5 s.
fn sweep_interval(state: &AppState) -> Duration {
    Duration::from_secs(state.config().engines.job_lease_seconds.max(5))
}

/// Offers every unfinished job whose claim is missing or lapsed. A job once seen final
/// stays so, and is not read again (`settled`): a sweep costs one listing and a read per
/// unfinished job, however many finished jobs the store keeps.
async fn offer_unclaimed(state: &AppState, settled: &mut HashSet<String>) {
    let store = state.store().as_ref();
    let ids = match super::list_ids(store).await {
        Ok(ids) => ids,
        Err(e) => {
            tracing::warn!(error = %e, "could not list jobs to resume");
            return;
        }
    };
    settled.retain(|id| ids.binary_search(id).is_ok());
    let now = Utc::now();
    let mut unclaimed = Vec::new();
    for id in &ids {
        if settled.contains(id) {
            continue;
        }
        match super::get(store, id).await {
            Ok(job) if job.status.is_final() => {
                settled.insert(id.clone());
            }
            Ok(job)
                if job
                    .lease
                    .as_ref()
                    .is_none_or(|lease| lease.expires_at <= now) =>
            {
                unclaimed.push(job);
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(job = %id, error = %e, "could not read a job to resume"),
        }
    }
    // Oldest first: they run in the order they were accepted.
    unclaimed.sort_by_key(|job| job.created_at);
    for job in unclaimed {
        tracing::debug!(job = %job.id, "offering an unclaimed job");
        if let Err(e) = state.jobs().submit(state, &job.id).await {
            tracing::warn!(job = %job.id, error = %e, "could not offer a job");
        }
    }
}

/// Takes job ids from the queue one at a time until the queue closes.
async fn work_through(
    state: AppState,
    mut receiver: mpsc::UnboundedReceiver<String>,
    pending: Arc<Mutex<HashSet<String>>>,
) {
    while let Some(id) = receiver.recv().await {
        if let Ok(mut pending) = pending.lock() {
            pending.remove(&id);
        }
        let again_after = match worker::run(&state, &id, None).await {
            Ok(Ran::Finished(status)) => {
                tracing::info!(job = %id, ?status, "job finished");
                None
            }
            // Another worker holds it: look again once its claim could have lapsed.
            Ok(Ran::HeldElsewhere(wait)) => Some(wait),
            Ok(Ran::Paused) => Some(Duration::ZERO),
            Err(e) => worker::settle_error(&state, &id, &e)
                .await
                .then_some(Duration::from_secs(30)),
        };
        if let Some(wait) = again_after {
            let state = state.clone();
            tokio::spawn(async move {
                tokio::time::sleep(wait).await;
                let _ = state.jobs().submit(&state, &id).await;
            });
        }
    }
}

/// The process's jobs: its queue and its worker identity (in leases).
#[derive(Debug)]
pub struct Jobs {
    queue: Box<dyn JobQueue>,
    worker_id: String,
}

impl Jobs {
    /// The queue the configuration names (`--job-queue`), or this process's own.
    pub fn from_config(config: &Config) -> Self {
        let queue: Box<dyn JobQueue> = match SqsQueue::from_args(&config.job_queue) {
            Some(queue) => Box::new(queue),
            None => Box::new(InProcessQueue::default()),
        };
        Self {
            queue,
            worker_id: format!("worker-{}", uuid::Uuid::new_v4()),
        }
    }

    /// This process's worker name, as written in the leases it holds.
    pub fn worker_id(&self) -> &str {
        &self.worker_id
    }

    /// The queue.
    pub fn queue(&self) -> &dyn JobQueue {
        self.queue.as_ref()
    }

    /// Offers a job to the workers.
    pub async fn submit(&self, state: &AppState, id: &str) -> Result<()> {
        self.queue.offer(state, id).await
    }

    /// Starts this process's part in running jobs (see [`JobQueue::start`]).
    pub fn start(&self, state: &AppState) {
        self.queue.start(state);
    }
}
