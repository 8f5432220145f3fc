//! Jobs through Amazon SQS (or any server speaking its API): an accepted job is a message
//! `{"job_id": …}`; whoever receives it runs the job as far as its time allows.
//!
//! - **Containers** (`--job-queue` outside Lambda): each process receives one message at a
//!   time (long polling), keeps it hidden while the job runs (renewing the visibility
//!   timeout at a third of `--job-queue-visibility-seconds`) and deletes it when the job
//!   is settled. A process that dies stops renewing: the message comes back to another.
//! - **Lambda**: the queue's event source invokes the function with a batch of messages
//!   ([`deliver_batch`]); each job runs until the invocation's deadline is near, then is
//!   paused between chunks and continued by a new message. Messages that must come back
//!   are reported as batch item failures; a message that keeps coming back without the
//!   job settling ends in the queue's dead-letter queue.
//!
//! The queue only says which job to look at: the job's state, its lease and its finished
//! chunks stay in the store, so a duplicate or redelivered message at worst finds the job
//! held by another worker, or finished.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use async_trait::async_trait;
use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::MessageSystemAttributeName;
use serde::{Deserialize, Serialize};

use super::queue::JobQueue;
use super::worker::{self, AbortOnDrop, Ran};
use crate::config::JobQueueArgs;
use crate::error::{Error, Result};
use crate::state::AppState;

/// How long a worker waits before looking again at a job it could not run for a passing
/// reason (the store, the memory budget or the engines were unavailable).
const RETRY_SECONDS: i32 = 30;
/// How long after its message was sent a job's document may still be missing (the
/// message goes first); a message older than this naming no job is dropped.
const DOCUMENT_WINDOW: Duration = Duration::from_secs(60);
/// How long one receive waits for a message (long polling).
const RECEIVE_WAIT_SECONDS: i32 = 10;

/// A job queue in SQS. Clones share one client.
#[derive(Debug, Clone)]
pub struct SqsQueue {
    url: String,
    region: Option<String>,
    credentials: Option<(String, storage::Secret)>,
    visibility_seconds: i32,
    client: Arc<tokio::sync::OnceCell<Client>>,
}

/// The body of a job message.
#[derive(Debug, Serialize, Deserialize)]
struct JobMessage {
    job_id: String,
}

/// A received message: from `ReceiveMessage`, or a record of a Lambda SQS event.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// The message id (a Lambda batch item failure names it).
    pub message_id: String,
    /// The handle that deletes the message or changes its visibility.
    pub receipt_handle: String,
    /// The message body.
    pub body: String,
    /// When it was first sent (`SentTimestamp`), if known.
    pub sent_at: Option<SystemTime>,
}

impl Delivery {
    /// Whether the message was sent within `window` (a job's document may still be on its
    /// way: the message is sent first).
    fn is_recent(&self, window: Duration) -> bool {
        self.sent_at
            .and_then(|sent| sent.elapsed().ok())
            .is_some_and(|age| age < window)
    }
}

/// `SentTimestamp` (milliseconds since the epoch, as text) as a time.
pub fn sent_at(millis: &str) -> Option<SystemTime> {
    let millis: u64 = millis.parse().ok()?;
    SystemTime::UNIX_EPOCH.checked_add(Duration::from_millis(millis))
}

/// What became of a delivered message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settled {
    /// Done with: delete it (the job settled, was continued by a new message, or the
    /// message names no job).
    Done,
    /// It must come back (its visibility is set to when).
    Again,
}

impl SqsQueue {
    /// The queue `--job-queue` names, if any.
    pub fn from_args(args: &JobQueueArgs) -> Option<Self> {
        let url = args.job_queue.as_deref()?.trim();
        if url.is_empty() || url == "local" {
            return None;
        }
        Some(Self {
            url: url.to_owned(),
            region: args.job_queue_region.clone().or_else(|| region_of(url)),
            credentials: args
                .job_queue_access_key_id
                .clone()
                .zip(args.job_queue_secret_access_key.clone()),
            visibility_seconds: i32::try_from(args.job_queue_visibility_seconds.clamp(6, 43_200))
                .unwrap_or(60),
            client: Arc::new(tokio::sync::OnceCell::new()),
        })
    }

    /// The queue's URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The client, built on first use (the AWS chain is read then).
    async fn client(&self) -> Result<&Client> {
        self.client
            .get_or_try_init(|| async {
                let (id, secret) = match &self.credentials {
                    Some((id, secret)) => (Some(id.as_str()), Some(secret)),
                    None => (None, None),
                };
                let loader =
                    storage::sdk_loader("job queue", self.region.as_deref(), id, secret).await?;
                // Every call has a deadline: a receive's long poll plus a margin.
                let shared = loader
                    .timeout_config(
                        aws_config::timeout::TimeoutConfig::builder()
                            .connect_timeout(Duration::from_secs(3))
                            .operation_attempt_timeout(Duration::from_secs(
                                RECEIVE_WAIT_SECONDS as u64 + 10,
                            ))
                            .operation_timeout(Duration::from_secs(
                                RECEIVE_WAIT_SECONDS as u64 + 25,
                            ))
                            .build(),
                    )
                    .load()
                    .await;
                let mut config = aws_sdk_sqs::config::Builder::from(&shared);
                if let Some(endpoint) = endpoint_of(&self.url) {
                    config = config.endpoint_url(endpoint);
                }
                Ok::<_, Error>(Client::from_conf(config.build()))
            })
            .await
    }

    /// Sends a message naming the job.
    async fn send(&self, id: &str) -> Result<()> {
        let body = serde_json::to_string(&JobMessage {
            job_id: id.to_owned(),
        })
        .map_err(|e| Error::Internal(format!("job message does not serialise: {e}")))?;
        self.client()
            .await?
            .send_message()
            .queue_url(&self.url)
            .message_body(body)
            .send()
            .await
            .map_err(|e| unavailable("SendMessage", e))?;
        Ok(())
    }

    /// Hides a message for `seconds` more (0: it comes back at once).
    async fn hide(&self, delivery: &Delivery, seconds: i32) -> Result<()> {
        self.client()
            .await?
            .change_message_visibility()
            .queue_url(&self.url)
            .receipt_handle(&delivery.receipt_handle)
            .visibility_timeout(seconds.clamp(0, 43_200))
            .send()
            .await
            .map_err(|e| unavailable("ChangeMessageVisibility", e))?;
        Ok(())
    }

    /// Deletes a message that is done with.
    async fn delete(&self, delivery: &Delivery) -> Result<()> {
        self.client()
            .await?
            .delete_message()
            .queue_url(&self.url)
            .receipt_handle(&delivery.receipt_handle)
            .send()
            .await
            .map_err(|e| unavailable("DeleteMessage", e))?;
        Ok(())
    }

    /// Receives at most one message, waiting up to [`RECEIVE_WAIT_SECONDS`].
    async fn receive(&self) -> Result<Option<Delivery>> {
        let output = self
            .client()
            .await?
            .receive_message()
            .queue_url(&self.url)
            .max_number_of_messages(1)
            .wait_time_seconds(RECEIVE_WAIT_SECONDS)
            .visibility_timeout(self.visibility_seconds)
            .message_system_attribute_names(MessageSystemAttributeName::SentTimestamp)
            .send()
            .await
            .map_err(|e| unavailable("ReceiveMessage", e))?;
        Ok(output.messages().first().and_then(|message| {
            Some(Delivery {
                message_id: message.message_id()?.to_owned(),
                receipt_handle: message.receipt_handle()?.to_owned(),
                body: message.body().unwrap_or_default().to_owned(),
                sent_at: message
                    .attributes()
                    .and_then(|a| a.get(&MessageSystemAttributeName::SentTimestamp))
                    .and_then(|millis| sent_at(millis)),
            })
        }))
    }

    /// Receives and runs jobs one at a time, for as long as the process serves.
    async fn consume(&self, state: AppState) {
        let mut backoff = Duration::from_secs(1);
        loop {
            match self.receive().await {
                Ok(Some(delivery)) => {
                    backoff = Duration::from_secs(1);
                    let settled = deliver(&state, self, &delivery, Renewal::KeepHidden).await;
                    tracing::debug!(message = %delivery.message_id, ?settled, "job message settled");
                    if settled == Settled::Done
                        && let Err(e) = self.delete(&delivery).await
                    {
                        tracing::warn!(error = %e, "could not delete a settled job message");
                    }
                }
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(error = %e, queue = %self.url, "could not receive jobs");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(60));
                }
            }
        }
    }

    /// Renews a message's visibility while its job runs; stops when dropped.
    fn keep_hidden(&self, delivery: &Delivery) -> AbortOnDrop {
        let (queue, delivery) = (self.clone(), delivery.clone());
        AbortOnDrop(Some(tokio::spawn(async move {
            let visibility = queue.visibility_seconds;
            let every = Duration::from_secs(u64::try_from(visibility / 3).unwrap_or(20).max(1));
            loop {
                tokio::time::sleep(every).await;
                if let Err(e) = queue.hide(&delivery, visibility).await {
                    tracing::warn!(error = %e, "could not keep a running job's message hidden");
                }
            }
        })))
    }
}

#[async_trait]
impl JobQueue for SqsQueue {
    async fn offer(&self, _state: &AppState, id: &str) -> Result<()> {
        self.send(id).await
    }

    fn start(&self, state: &AppState) {
        let (queue, state) = (self.clone(), state.clone());
        tokio::spawn(async move { queue.consume(state).await });
    }

    fn offer_before_storing(&self) -> bool {
        true
    }

    fn sqs(&self) -> Option<&SqsQueue> {
        Some(self)
    }
}

/// How a message stays hidden while its job runs.
#[derive(Debug, Clone, Copy)]
pub enum Renewal {
    /// Renewed at a third of `--job-queue-visibility-seconds` (a consumer outside Lambda).
    KeepHidden,
    /// Not renewed: the job stops at this instant, within the queue's visibility timeout
    /// (Lambda, whose event source sets the visibility).
    StopAt(Option<Instant>),
}

/// Runs the job a message names and settles the message.
pub async fn deliver(
    state: &AppState,
    queue: &SqsQueue,
    delivery: &Delivery,
    renewal: Renewal,
) -> Settled {
    let Ok(JobMessage { job_id: id }) = serde_json::from_str(&delivery.body) else {
        // Not ours to run; keeping it would only send it round until the dead-letter queue.
        tracing::error!(message = %delivery.message_id, body = %delivery.body,
            "dropping a job message that names no job");
        return Settled::Done;
    };
    let (renewing, stop_at) = match renewal {
        Renewal::KeepHidden => (Some(queue.keep_hidden(delivery)), None),
        Renewal::StopAt(stop_at) => (None, stop_at),
    };
    tracing::debug!(job = %id, message = %delivery.message_id, "job message received");
    let ran = worker::run(state, &id, stop_at).await;
    tracing::debug!(job = %id, message = %delivery.message_id, ?ran, "job message ran");
    // Stopped before the message's visibility is settled below, which it would undo.
    drop(renewing);
    let again_after = match ran {
        Ok(Ran::Finished(status)) => {
            tracing::info!(job = %id, ?status, "job finished");
            return Settled::Done;
        }
        Ok(Ran::HeldElsewhere(wait)) => {
            i32::try_from(wait.as_secs().saturating_add(1)).unwrap_or(RETRY_SECONDS)
        }
        Ok(Ran::Paused) => {
            // Continued by a new message, so the job's receive count only counts failures.
            match queue.send(&id).await {
                Ok(()) => return Settled::Done,
                Err(e) => {
                    tracing::warn!(job = %id, error = %e, "could not continue a paused job");
                    0
                }
            }
        }
        // Sent moments ago: its document may still be being stored.
        Err(Error::NotFound { .. }) if delivery.is_recent(DOCUMENT_WINDOW) => 5,
        Err(Error::NotFound { .. }) => {
            tracing::warn!(job = %id, "dropping the message of a job that does not exist");
            return Settled::Done;
        }
        Err(e) => {
            if !worker::settle_error(state, &id, &e).await {
                return Settled::Done;
            }
            RETRY_SECONDS
        }
    };
    if let Err(e) = queue.hide(delivery, again_after).await {
        tracing::warn!(job = %id, error = %e, "could not delay a job message; it comes back \
            after its visibility timeout");
    }
    Settled::Again
}

/// Runs a Lambda event's messages in order until `stop_at`; the ids of those that must
/// come back (the function answers them as `batchItemFailures`).
pub async fn deliver_batch(
    state: &AppState,
    deliveries: &[Delivery],
    stop_at: Option<Instant>,
) -> Vec<String> {
    let Some(queue) = state.jobs().queue().sqs() else {
        tracing::error!(
            "an SQS event arrived but SPEECH_JOB_QUEUE is not set: its messages go back \
             to the queue"
        );
        return deliveries.iter().map(|d| d.message_id.clone()).collect();
    };
    let mut again = Vec::new();
    for delivery in deliveries {
        if stop_at.is_some_and(|stop_at| Instant::now() >= stop_at) {
            // No time left for this one: back to the queue at once.
            let _ = queue.hide(delivery, 0).await;
            again.push(delivery.message_id.clone());
            continue;
        }
        if deliver(state, queue, delivery, Renewal::StopAt(stop_at)).await == Settled::Again {
            again.push(delivery.message_id.clone());
        }
    }
    again
}

/// An SQS error as a 503 naming the call, with its causes.
fn unavailable(call: &str, error: impl std::error::Error + 'static) -> Error {
    Error::QueueUnavailable(format!("{call}: {}", crate::error::error_chain(&error)))
}

/// The region in an AWS queue URL (`https://sqs.<region>.amazonaws.com/…`).
fn region_of(url: &str) -> Option<String> {
    let host = url.parse::<http::Uri>().ok()?.host()?.to_owned();
    let rest = host.strip_prefix("sqs.")?;
    let (region, domain) = rest.split_once('.')?;
    domain
        .starts_with("amazonaws.com")
        .then(|| region.to_owned())
}

/// The endpoint to send requests to for a queue outside AWS (`http://127.0.0.1:4566`);
/// `None` for AWS itself, whose endpoint the SDK derives from the region.
fn endpoint_of(url: &str) -> Option<String> {
    let uri = url.parse::<http::Uri>().ok()?;
    let host = uri.host()?;
    if host.ends_with(".amazonaws.com") || host.ends_with(".amazonaws.com.cn") {
        return None;
    }
    Some(format!(
        "{}://{}",
        uri.scheme_str().unwrap_or("https"),
        uri.authority()?.as_str()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aws_urls_give_their_region_and_no_endpoint() {
        let url = "https://sqs.eu-west-1.amazonaws.com/123456789012/speech-jobs";
        assert_eq!(region_of(url).as_deref(), Some("eu-west-1"));
        assert_eq!(endpoint_of(url), None);
    }

    #[test]
    fn other_servers_are_their_own_endpoint() {
        let url = "http://127.0.0.1:4566/000000000000/speech-jobs";
        assert_eq!(region_of(url), None);
        assert_eq!(endpoint_of(url).as_deref(), Some("http://127.0.0.1:4566"));
    }
}
