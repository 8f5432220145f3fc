//! How job ids reach workers. [`JobQueue`] is the seam: this process's in-memory queue
//! (the local runner and containers: jobs accepted here are worked on here, and unfinished
//! jobs in the store are offered again when the process starts) or a managed queue for
//! deployments where the process that accepts a job is not the one that runs it.

use std::sync::Mutex;

use tokio::sync::mpsc;

use crate::state::AppState;

/// Where accepted job ids go.
pub trait JobQueue: Send + Sync + std::fmt::Debug {
    /// Offers `id` to a worker. A job may be offered more than once (at start-up, after a
    /// crash): workers claim it through its lease, so it runs once at a time.
    fn offer(&self, state: &AppState, id: &str);
}

/// The in-process queue: one worker task per process, started with the first job.
#[derive(Debug, Default)]
pub struct InProcessQueue {
    sender: Mutex<Option<mpsc::UnboundedSender<String>>>,
}

impl JobQueue for InProcessQueue {
    fn offer(&self, state: &AppState, id: &str) {
        let Ok(mut sender) = self.sender.lock() else {
            tracing::error!(
                job = id,
                "job queue lock poisoned; the job waits for a restart"
            );
            return;
        };
        let sender = sender.get_or_insert_with(|| {
            let (sender, receiver) = mpsc::unbounded_channel();
            tokio::spawn(super::worker::work_through(state.clone(), receiver));
            sender
        });
        if sender.send(id.to_owned()).is_err() {
            tracing::error!(job = id, "job worker stopped; the job waits for a restart");
        }
    }
}

/// The process's jobs: its queue and its worker identity (in leases).
#[derive(Debug)]
pub struct Jobs {
    queue: Box<dyn JobQueue>,
    worker_id: String,
}

impl Default for Jobs {
    fn default() -> Self {
        Self {
            queue: Box::new(InProcessQueue::default()),
            worker_id: format!("worker-{}", uuid::Uuid::new_v4()),
        }
    }
}

impl Jobs {
    /// This process's worker name, as written in the leases it holds.
    pub fn worker_id(&self) -> &str {
        &self.worker_id
    }

    /// Offers a job to the workers.
    pub async fn submit(&self, state: &AppState, id: &str) {
        self.queue.offer(state, id);
    }

    /// Offers every unfinished job in the store again (at start-up: jobs a crashed or
    /// redeployed process was running, or that were accepted just before it stopped).
    pub async fn resume_unfinished(&self, state: &AppState) {
        match super::list(state.store().as_ref()).await {
            Ok(jobs) => {
                for job in jobs.iter().rev().filter(|job| !job.status.is_final()) {
                    tracing::info!(job = %job.id, "resuming an unfinished job");
                    self.queue.offer(state, &job.id);
                }
            }
            Err(e) => tracing::warn!(error = %e, "could not list jobs to resume"),
        }
    }
}
