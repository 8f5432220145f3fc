//! Where long-form jobs are queued: in this process (the default) or in an Amazon SQS queue
//! that every replica and the Lambda worker share.

use clap::Args;

/// The job queue's settings. Unset credentials and region fall back to the standard AWS
/// chain (`AWS_ACCESS_KEY_ID`, `AWS_PROFILE`, instance and task roles, `AWS_REGION`).
#[derive(Debug, Clone, Args)]
pub struct JobQueueArgs {
    /// The SQS queue that carries jobs (its URL, e.g.
    /// `https://sqs.eu-west-1.amazonaws.com/123456789012/speech-jobs`). Unset: jobs are
    /// queued in this process and run by it. Set: every replica sends accepted jobs there
    /// and, outside Lambda, takes jobs from it; on Lambda the queue's event source invokes
    /// the function with them.
    #[arg(long, env = "SPEECH_JOB_QUEUE")]
    pub job_queue: Option<String>,

    /// The queue's region (default: read from an `sqs.<region>.amazonaws.com` URL, then the
    /// AWS chain's, then `us-east-1`).
    #[arg(long, env = "SPEECH_JOB_QUEUE_REGION")]
    pub job_queue_region: Option<String>,

    /// Access key id for the queue; with the secret, overrides the AWS credential chain
    /// (for SQS-compatible servers such as ElasticMQ or moto).
    #[arg(
        long,
        env = "SPEECH_JOB_QUEUE_ACCESS_KEY_ID",
        hide_env_values = true,
        requires = "job_queue_secret_access_key"
    )]
    pub job_queue_access_key_id: Option<String>,

    /// Secret access key for the queue.
    #[arg(
        long,
        env = "SPEECH_JOB_QUEUE_SECRET_ACCESS_KEY",
        hide_env_values = true
    )]
    pub job_queue_secret_access_key: Option<storage::Secret>,

    /// How long a job taken from the queue stays hidden from other workers, in seconds;
    /// renewed at a third of it while the job runs, so a worker that dies gives its job
    /// back to the queue within this time (outside Lambda; there the queue's own
    /// visibility timeout applies).
    #[arg(
        long,
        env = "SPEECH_JOB_QUEUE_VISIBILITY_SECONDS",
        default_value_t = 60
    )]
    pub job_queue_visibility_seconds: u32,
}

#[cfg(test)]
mod tests {
    use crate::config::Config;

    #[test]
    fn a_queue_key_without_its_secret_is_refused_at_start() {
        let error = Config::from_args(["handler", "--job-queue-access-key-id", "id"])
            .expect_err("one key alone must not fall back to the AWS chain");
        assert!(error.to_string().contains("--job-queue-secret-access-key"));
        let both = Config::from_args([
            "handler",
            "--job-queue-access-key-id",
            "id",
            "--job-queue-secret-access-key",
            "secret",
        ])
        .expect("both keys");
        assert_eq!(
            both.job_queue.job_queue_access_key_id.as_deref(),
            Some("id")
        );
    }
}
