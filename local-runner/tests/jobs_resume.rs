//! A long-form job survives its worker: a `local-runner` killed with SIGKILL in the middle
//! of a job, beside a second replica over the same store (the filesystem store and a real
//! S3 server). The second takes the job over once the dead worker's claim lapses, skips
//! every chunk already finished and completes the book: with the in-process queue because
//! it sweeps the store for unclaimed jobs, with an SQS queue (moto in server mode on
//! loopback) because the dead worker's message comes back after its visibility timeout.

// Test helpers outside #[test] functions unwrap too: a failed step ends the test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tests::processes::http_client as client;
use tests::sqs::SqsServer;
use tests::{Backend, LocalRunner};

const RUNNER: &str = env!("CARGO_BIN_EXE_local-runner");
const CHAPTERS: usize = 16;

fn runner(b: &Backend, queue: Option<&str>) -> LocalRunner {
    let mut args = vec![
        "--storage".to_owned(),
        b.url.clone(),
        "--cleanup-on-startup".to_owned(),
        "false".to_owned(),
        "--models-dir".to_owned(),
        tests::engines::models_dir().display().to_string(),
        "--job-lease-seconds".to_owned(),
        "2".to_owned(),
    ];
    args.extend(b.runner_args.iter().cloned());
    if let Some(queue) = queue {
        args.extend(SqsServer::runner_args(queue));
        args.extend(["--job-queue-visibility-seconds".to_owned(), "6".to_owned()]);
    }
    LocalRunner::start(RUNNER, &args)
}

async fn job(runner: &LocalRunner, id: &str) -> Value {
    client()
        .get(runner.url(&format!("/api/v1/jobs/{id}")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

fn chunks_done(job: &Value) -> u64 {
    job["chapters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["chunks_done"].as_u64().unwrap())
        .sum()
}

/// Runs the scenario; the replica that finished the job, still running.
async fn a_killed_worker_is_resumed_not_restarted(b: Backend, queue: Option<&str>) -> LocalRunner {
    let first = runner(&b, queue);
    let chapters: Vec<Value> = (0..CHAPTERS)
        .map(|n| {
            json!({"title": format!("Part {n}"),
                   "text": format!("This is part number {n} of the story. It has a second sentence that is a little longer than the first one.")})
        })
        .collect();
    let accepted: Value = client()
        .post(first.url("/api/v1/jobs"))
        .json(&json!({"title": "Resumed", "chapters": chapters, "export_formats": ["wav"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let Some(id) = accepted["job_id"].as_str().map(str::to_owned) else {
        panic!("not accepted: {accepted}");
    };
    // Kill it once a few chunks are done and the job is not.
    let deadline = Instant::now() + Duration::from_secs(60);
    let before = loop {
        let state = job(&first, &id).await;
        assert_ne!(
            state["status"], "completed",
            "finished before the kill: make the job longer"
        );
        if chunks_done(&state) >= 4 {
            break state;
        }
        assert!(Instant::now() < deadline, "{state}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    // A second replica, already serving, while the first dies holding the job.
    let second = runner(&b, queue);
    drop(first); // SIGKILL
    let done_before = chunks_done(&before);

    let deadline = Instant::now() + Duration::from_secs(120);
    let finished = loop {
        let state = job(&second, &id).await;
        if state["status"] == "completed" {
            break state;
        }
        assert_ne!(state["status"], "failed", "{state}");
        assert!(Instant::now() < deadline, "{state}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let total: u64 = finished["chapters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["chunks_total"].as_u64().unwrap())
        .sum();
    let written = finished["chunks_written"].as_u64().unwrap();
    // Every finished chunk was kept: none was spoken and written again. (A chunk written
    // in the instant before the kill, but not yet counted, is skipped and never counted.)
    assert!(
        written <= total && written + 1 >= total,
        "{written} of {total}"
    );
    assert!(done_before >= 4 && done_before < total);
    assert_eq!(
        finished["outputs"].as_array().unwrap().len(),
        CHAPTERS + 1,
        "{finished}"
    );
    let book = client()
        .get(second.url("/outputs/jobs/resumed/resumed.wav"))
        .send()
        .await
        .unwrap();
    assert_eq!(book.status(), 200);
    second
}

/// The same through an SQS queue; the queue is empty at the end.
async fn through_the_queue(b: Backend) {
    let sqs = SqsServer::start().await;
    let (queue, dead) = sqs.create_queue("jobs", 30, 5).await;
    // The replica that finished the job keeps running: it deletes the message after the
    // job's last write, which the test saw.
    let _second = a_killed_worker_is_resumed_not_restarted(b, Some(&queue)).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    while sqs.depth(&queue).await != (0, 0) {
        if Instant::now() >= deadline {
            let depth = sqs.depth(&queue).await;
            let left = sqs.receive(&queue, 10, Duration::from_secs(10)).await;
            panic!("the settled message was not deleted: {depth:?} {left:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(sqs.depth(&dead).await, (0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fs_a_killed_worker_is_resumed_not_restarted() {
    a_killed_worker_is_resumed_not_restarted(Backend::fs().await, None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_a_killed_worker_is_resumed_not_restarted() {
    a_killed_worker_is_resumed_not_restarted(Backend::s3().await, None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fs_a_killed_worker_is_resumed_through_the_sqs_queue() {
    through_the_queue(Backend::fs().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_a_killed_worker_is_resumed_through_the_sqs_queue() {
    through_the_queue(Backend::s3().await).await;
}
