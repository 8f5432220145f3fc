//! A real SQS-compatible server for the job-queue tests: `moto` in server mode (PyPI,
//! installed by `scripts/test.sh` into `.venv-moto`), on a free loopback port, killed when
//! dropped; and a client to create queues and look into them as the tests need.

use std::path::PathBuf;
use std::process::{Child, Command};
use std::time::Duration;

use aws_sdk_sqs::Client;
use aws_sdk_sqs::config::{Credentials, Region};
use aws_sdk_sqs::types::{MessageSystemAttributeName, QueueAttributeName};

use crate::processes::spawn_and_wait_stderr;

/// A running moto server.
pub struct SqsServer {
    child: Child,
    endpoint: String,
    client: Client,
}

/// A message as the tests see it.
#[derive(Debug, Clone)]
pub struct ReceivedMessage {
    /// Its id.
    pub message_id: String,
    /// Its receipt handle.
    pub receipt_handle: String,
    /// Its body.
    pub body: String,
    /// How many times it has been received, this time included.
    pub receive_count: u32,
    /// When it was sent, in milliseconds since the epoch (`SentTimestamp`).
    pub sent_timestamp: u64,
}

impl SqsServer {
    /// Credentials the server accepts (moto checks none; the SDK must sign with some).
    pub const ACCESS_KEY: &'static str = "speechtest";
    /// The secret that goes with them.
    pub const SECRET_KEY: &'static str = "speechtest-secret";

    /// The `moto_server` program: `SPEECH_TEST_MOTO_SERVER`, else the workspace's
    /// `.venv-moto`.
    fn program() -> PathBuf {
        if let Some(path) = std::env::var_os("SPEECH_TEST_MOTO_SERVER") {
            return PathBuf::from(path);
        }
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.venv-moto/bin/moto_server");
        assert!(
            path.exists(),
            "the SQS tests need moto in server mode: run scripts/test.sh, or \
             `python3 -m venv .venv-moto && .venv-moto/bin/pip install -r tests/sqs/requirements.txt`"
        );
        path
    }

    /// Starts a server on a free loopback port.
    pub async fn start() -> Self {
        let mut command = Command::new(Self::program());
        command.args(["-H", "127.0.0.1", "-p", "0"]);
        let (child, endpoint) = spawn_and_wait_stderr(command, "Running on ");
        let config = aws_sdk_sqs::config::Builder::new()
            .behavior_version(aws_sdk_sqs::config::BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new(
                Self::ACCESS_KEY,
                Self::SECRET_KEY,
                None,
                None,
                "tests",
            ))
            .endpoint_url(&endpoint)
            .build();
        Self {
            child,
            endpoint,
            client: Client::from_conf(config),
        }
    }

    /// `http://127.0.0.1:<port>`.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Creates a queue whose messages stay hidden `visibility_seconds` after each receive,
    /// with a dead-letter queue taking messages received `max_receives` times; the queue's
    /// URL and the dead-letter queue's.
    pub async fn create_queue(
        &self,
        name: &str,
        visibility_seconds: u32,
        max_receives: u32,
    ) -> (String, String) {
        let dead = self
            .client
            .create_queue()
            .queue_name(format!("{name}-dead"))
            .send()
            .await
            .expect("create the dead-letter queue");
        let dead_url = dead.queue_url().expect("queue url").to_owned();
        let dead_arn = self
            .client
            .get_queue_attributes()
            .queue_url(&dead_url)
            .attribute_names(QueueAttributeName::QueueArn)
            .send()
            .await
            .expect("dead-letter queue attributes")
            .attributes()
            .and_then(|a| a.get(&QueueAttributeName::QueueArn).cloned())
            .expect("dead-letter queue arn");
        let queue = self
            .client
            .create_queue()
            .queue_name(name)
            .attributes(
                QueueAttributeName::VisibilityTimeout,
                visibility_seconds.to_string(),
            )
            .attributes(
                QueueAttributeName::RedrivePolicy,
                serde_json::json!({"deadLetterTargetArn": dead_arn, "maxReceiveCount": max_receives})
                    .to_string(),
            )
            .send()
            .await
            .expect("create the queue");
        (queue.queue_url().expect("queue url").to_owned(), dead_url)
    }

    /// Receives up to `max` messages as an event source mapping would (the queue's own
    /// visibility timeout applies), waiting up to `wait` for the first.
    pub async fn receive(&self, queue_url: &str, max: i32, wait: Duration) -> Vec<ReceivedMessage> {
        let output = self
            .client
            .receive_message()
            .queue_url(queue_url)
            .max_number_of_messages(max)
            .wait_time_seconds(i32::try_from(wait.as_secs()).unwrap_or(0))
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .message_system_attribute_names(MessageSystemAttributeName::SentTimestamp)
            .send()
            .await
            .expect("receive messages");
        output
            .messages()
            .iter()
            .map(|m| ReceivedMessage {
                message_id: m.message_id().unwrap_or_default().to_owned(),
                receipt_handle: m.receipt_handle().unwrap_or_default().to_owned(),
                body: m.body().unwrap_or_default().to_owned(),
                receive_count: m
                    .attributes()
                    .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
                    .and_then(|c| c.parse().ok())
                    .unwrap_or(0),
                sent_timestamp: m
                    .attributes()
                    .and_then(|a| a.get(&MessageSystemAttributeName::SentTimestamp))
                    .and_then(|c| c.parse().ok())
                    .unwrap_or(0),
            })
            .collect()
    }

    /// Deletes a message (what the event source mapping does with a successful one).
    pub async fn delete(&self, queue_url: &str, receipt_handle: &str) {
        self.client
            .delete_message()
            .queue_url(queue_url)
            .receipt_handle(receipt_handle)
            .send()
            .await
            .expect("delete the message");
    }

    /// Messages in the queue: visible, and in flight (received, not yet deleted).
    pub async fn depth(&self, queue_url: &str) -> (u64, u64) {
        let attributes = self
            .client
            .get_queue_attributes()
            .queue_url(queue_url)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
            .send()
            .await
            .expect("queue attributes");
        let read = |name: QueueAttributeName| {
            attributes
                .attributes()
                .and_then(|a| a.get(&name))
                .and_then(|v| v.parse().ok())
                .unwrap_or(0)
        };
        (
            read(QueueAttributeName::ApproximateNumberOfMessages),
            read(QueueAttributeName::ApproximateNumberOfMessagesNotVisible),
        )
    }

    /// Configuration flags (`handler`/`local-runner`) that send jobs to `queue_url`.
    pub fn runner_args(queue_url: &str) -> Vec<String> {
        [
            "--job-queue",
            queue_url,
            "--job-queue-region",
            "us-east-1",
            "--job-queue-access-key-id",
            Self::ACCESS_KEY,
            "--job-queue-secret-access-key",
            Self::SECRET_KEY,
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect()
    }

    /// Points a configuration at `queue_url` (in-process apps).
    pub fn configure(config: &mut handler::Config, queue_url: &str) {
        config.job_queue.job_queue = Some(queue_url.to_owned());
        config.job_queue.job_queue_region = Some("us-east-1".into());
        config.job_queue.job_queue_access_key_id = Some(Self::ACCESS_KEY.into());
        config.job_queue.job_queue_secret_access_key = Some(Self::SECRET_KEY.into());
    }
}

impl Drop for SqsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
