//! Long-form jobs through a real SQS-compatible server (moto in server mode on loopback),
//! on the filesystem store and a real S3 server, driven the way AWS drives the Lambda
//! deployment: `POST /api/v1/jobs` sends a message, and the test plays the SQS event
//! source mapping (receive a batch, invoke the function through `lambda_http`'s adapter
//! with the batch as an SQS event, delete what the answer does not list as
//! `batchItemFailures`). A worker that dies mid-batch leaves its message in flight: it
//! comes back after the visibility timeout and another instance finishes the job without
//! speaking any finished chunk again. A job that outlasts an invocation is paused between
//! chunks and continued by a new message. The container consumer (a local-runner killed
//! with SIGKILL) is in local-runner/tests/jobs_resume.rs.

// Test helpers outside #[test] functions unwrap too: a failed step ends the test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::convert::Infallible;
use std::time::{Duration, Instant, SystemTime};

use handler::lambda::{self, Mode};
use lambda_http::request::LambdaRequest;
use lambda_http::{Adapter, Context, LambdaEvent};
use serde_json::{Value, json};
use tests::sqs::{ReceivedMessage, SqsServer};
use tests::{Backend, TestApp, for_each_persistent_backend, stored_keys};
use tower::ServiceExt;

/// Chapters enough for a job that takes a few seconds, every chapter one chunk.
fn long_job() -> Value {
    let chapters: Vec<Value> = (0..16)
        .map(|n| json!({"title": format!("Part {n}"), "text": "A sentence to speak, and a little more."}))
        .collect();
    json!({"title": "Queued", "chapters": chapters, "export_formats": ["wav"], "captions": false})
}

/// One "Lambda instance": an app with its own state (its own worker id) over the shared
/// store, sending jobs to `queue_url`.
fn instance(b: &Backend, queue_url: &str) -> TestApp {
    TestApp::with_config(b, |config| {
        SqsServer::configure(config, queue_url);
        config.engines.job_lease_seconds = 2;
    })
}

/// Invokes the function with `messages` as an SQS event whose invocation ends in
/// `seconds`; the ids the answer lists as batch item failures.
async fn invoke(app: &TestApp, messages: &[ReceivedMessage], seconds: f64) -> Vec<String> {
    let records: Vec<Value> = messages
        .iter()
        .map(|m| {
            json!({
                "messageId": m.message_id, "receiptHandle": m.receipt_handle, "body": m.body,
                "attributes": {"ApproximateReceiveCount": m.receive_count.to_string(),
                               "SentTimestamp": m.sent_timestamp.to_string()},
                "messageAttributes": {}, "md5OfBody": "", "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:jobs",
                "awsRegion": "us-east-1"
            })
        })
        .collect();
    let request: LambdaRequest = serde_json::from_value(json!({"Records": records})).unwrap();
    let mut context = Context::default();
    let deadline = SystemTime::now() + Duration::from_secs_f64(seconds);
    context.deadline = deadline
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let state = app.state.clone();
    let router = handler::app(state.clone());
    let service = tower::service_fn(move |request: lambda_http::Request| {
        let (state, router) = (state.clone(), router.clone());
        async move { Ok::<_, Infallible>(lambda::invoke(&state, router, request, Mode::Buffered).await) }
    });
    let answer = Adapter::from(service)
        .oneshot(LambdaEvent::new(request, context))
        .await
        .unwrap();
    let answer = serde_json::to_value(&answer).unwrap();
    answer["batchItemFailures"]
        .as_array()
        .unwrap_or_else(|| panic!("not a batch answer: {answer}"))
        .iter()
        .map(|f| f["itemIdentifier"].as_str().unwrap().to_owned())
        .collect()
}

/// Plays the event source mapping: receives, invokes, deletes the messages that were not
/// failures; the largest receive count seen.
async fn event_source_round(sqs: &SqsServer, queue: &str, app: &TestApp, seconds: f64) -> u32 {
    let messages = sqs.receive(queue, 10, Duration::from_secs(2)).await;
    if messages.is_empty() {
        return 0;
    }
    let failures = invoke(app, &messages, seconds).await;
    for message in &messages {
        if !failures.contains(&message.message_id) {
            sqs.delete(queue, &message.receipt_handle).await;
        }
    }
    messages.iter().map(|m| m.receive_count).max().unwrap_or(0)
}

async fn job(app: &TestApp, id: &str) -> Value {
    app.get(&format!("/api/v1/jobs/{id}")).await.ok_json()
}

/// Returns once the job has written `count` chunks (within a minute).
async fn chunks_written(app: &TestApp, id: &str, count: u64) {
    let started = Instant::now();
    while job(app, id).await["chunks_written"].as_u64().unwrap() < count {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no chunk written"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn submit(app: &TestApp) -> String {
    let accepted = app.post_json("/api/v1/jobs", &long_job()).await;
    assert_eq!(accepted.status, 202, "{}", accepted.text());
    accepted.json()["job_id"].as_str().unwrap().to_owned()
}

/// A completed job: every chunk written exactly once, outputs listed, no parts left.
async fn assert_completed_once(b: &Backend, app: &TestApp, id: &str) {
    let job = job(app, id).await;
    assert_eq!(job["status"], "completed", "{job}");
    let total: u64 = job["chapters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["chunks_total"].as_u64().unwrap())
        .sum();
    assert_eq!(total, 16, "{job}");
    assert_eq!(job["chunks_written"], total, "no chunk spoken twice: {job}");
    assert_eq!(job["outputs"].as_array().unwrap().len(), 17, "{job}");
    assert!(job["lease"].is_null());
    assert!(
        stored_keys(b.store.as_ref(), &format!("jobs/{id}/parts/"))
            .await
            .is_empty()
    );
}

async fn a_worker_that_dies_mid_batch_is_replaced_through_the_queue(b: Backend) {
    let sqs = SqsServer::start().await;
    let (queue, dead) = sqs.create_queue("jobs", 3, 5).await;
    let first = instance(&b, &queue);
    let id = submit(&first).await;
    assert_eq!(job(&first, &id).await["status"], "queued");
    assert_eq!(sqs.depth(&queue).await, (1, 0), "one message per job");

    // The first instance takes the batch and dies after a chunk or two: its message stays
    // in flight, never deleted, and its claim on the job lapses.
    let messages = sqs.receive(&queue, 10, Duration::from_secs(2)).await;
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].receive_count, 1);
    // Dropping the invocation mid-batch is the instance dying: nothing after it runs.
    let dying = instance(&b, &queue);
    tokio::select! {
        failures = invoke(&dying, &messages, 600.0) => {
            panic!("the job finished before its worker died: {failures:?}")
        }
        () = chunks_written(&first, &id, 2) => {}
    }
    drop(dying);
    let interrupted = job(&first, &id).await;
    assert_eq!(interrupted["status"], "running", "{interrupted}");
    assert!(interrupted["lease"].is_object(), "{interrupted}");
    // In flight, or back already when the machine is slow: kept either way, not deleted.
    let (visible, in_flight) = sqs.depth(&queue).await;
    assert_eq!(visible + in_flight, 1, "the message is kept, not deleted");

    // Another instance gets the message back once its visibility timeout has passed.
    let second = instance(&b, &queue);
    let mut receives = 0;
    let started = Instant::now();
    while job(&second, &id).await["status"] != "completed" {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "job never completed"
        );
        receives = receives.max(event_source_round(&sqs, &queue, &second, 600.0).await);
    }
    assert!(
        receives >= 2,
        "the message came back: received {receives} times"
    );
    assert_completed_once(&b, &second, &id).await;
    assert_eq!(sqs.depth(&queue).await, (0, 0), "the queue is empty");
    assert_eq!(
        sqs.depth(&dead).await,
        (0, 0),
        "nothing went to the dead-letter queue"
    );
}

async fn a_job_longer_than_an_invocation_continues_in_the_next(b: Backend) {
    let sqs = SqsServer::start().await;
    let (queue, dead) = sqs.create_queue("jobs", 30, 3).await;
    let app = instance(&b, &queue);
    let id = submit(&app).await;

    // An invocation with 10.3 s left keeps 10 s in reserve: the job pauses after its first
    // chunks, releases its claim and sends a new message; the batch succeeded.
    let round = event_source_round(&sqs, &queue, &app, 10.3).await;
    assert_eq!(round, 1);
    let paused = job(&app, &id).await;
    assert_eq!(paused["status"], "running", "{paused}");
    assert!(paused["lease"].is_null(), "the claim is released: {paused}");
    let written = paused["chunks_written"].as_u64().unwrap();
    assert!(written < 16, "{paused}");
    assert_eq!(
        sqs.depth(&queue).await,
        (1, 0),
        "continued by a new message"
    );

    // The next invocations finish it; every message was received once.
    let started = Instant::now();
    while job(&app, &id).await["status"] != "completed" {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "job never completed"
        );
        let receives = event_source_round(&sqs, &queue, &app, 600.0).await;
        assert!(receives <= 1, "a continuation is a new message");
    }
    assert_completed_once(&b, &app, &id).await;
    assert_eq!(sqs.depth(&queue).await, (0, 0));
    assert_eq!(sqs.depth(&dead).await, (0, 0));
}

async fn a_message_for_a_cancelled_job_settles_without_work(b: Backend) {
    let sqs = SqsServer::start().await;
    let (queue, _) = sqs.create_queue("jobs", 30, 3).await;
    let app = instance(&b, &queue);
    let id = submit(&app).await;
    app.post(&format!("/api/v1/jobs/{id}/cancel"))
        .await
        .assert_ok();
    let round = event_source_round(&sqs, &queue, &app, 600.0).await;
    assert_eq!(round, 1);
    let job = job(&app, &id).await;
    assert_eq!(job["status"], "cancelled");
    assert_eq!(job["chunks_written"], 0, "{job}");
    assert_eq!(sqs.depth(&queue).await, (0, 0), "the message is deleted");
    // A message that names no job is dropped rather than sent round to the dead letters.
    let failures = invoke(
        &app,
        &[ReceivedMessage {
            message_id: "m-1".into(),
            receipt_handle: "r-1".into(),
            body: "not a job".into(),
            receive_count: 1,
            sent_timestamp: 0,
        }],
        600.0,
    )
    .await;
    assert!(failures.is_empty());
}

for_each_persistent_backend!(
    a_worker_that_dies_mid_batch_is_replaced_through_the_queue,
    a_job_longer_than_an_invocation_continues_in_the_next,
    a_message_for_a_cancelled_job_settles_without_work,
);

/// A queue that cannot be reached: the job is refused with 503 `QUEUE_UNAVAILABLE` and
/// `Retry-After`, and nothing of it is kept (it would never run).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_queue_refuses_the_job_and_keeps_nothing() {
    let b = Backend::fs().await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/123456789012/jobs", closed.local_addr().unwrap());
    drop(closed);
    let app = instance(&b, &url);
    let refused = app.post_json("/api/v1/jobs", &long_job()).await;
    refused.assert_error(503, "QUEUE_UNAVAILABLE");
    assert_eq!(refused.header("retry-after"), Some("5"));
    assert!(stored_keys(b.store.as_ref(), "jobs/").await.is_empty());
    let listed = app.get("/api/v1/jobs").await.ok_json();
    assert_eq!(listed["jobs"].as_array().unwrap().len(), 0, "{listed}");
}

/// The message goes before the job's document: when the store then fails, the client gets
/// 503 `STORAGE_UNAVAILABLE`, no job exists, and the message is only a name. A worker that
/// gets it while it is fresh lets it come back (the document may be on its way); once it is
/// older than a minute it is dropped, not sent round to the dead-letter queue.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_the_store_refused_leaves_a_message_that_is_dropped() {
    let b = Backend::s3().await;
    let sqs = SqsServer::start().await;
    let (queue, _) = sqs.create_queue("jobs", 30, 5).await;
    let app = instance(&b, &queue);
    let server = b.s3.as_ref().unwrap();
    server.inject_failures(1000, "SlowDown", 503);
    let refused = app.post_json("/api/v1/jobs", &long_job()).await;
    server.inject_failures(0, "SlowDown", 503);
    refused.assert_error(503, "STORAGE_UNAVAILABLE");
    assert!(stored_keys(b.store.as_ref(), "jobs/").await.is_empty());

    let mut messages = sqs.receive(&queue, 10, Duration::from_secs(2)).await;
    assert_eq!(messages.len(), 1, "the message was sent first");
    let fresh = invoke(&app, &messages, 600.0).await;
    assert_eq!(
        fresh,
        [messages[0].message_id.clone()],
        "a fresh one comes back"
    );
    messages[0].sent_timestamp -= 120_000;
    let stale = invoke(&app, &messages, 600.0).await;
    assert!(stale.is_empty(), "a stale one is dropped: {stale:?}");
    assert!(stored_keys(b.store.as_ref(), "jobs/").await.is_empty());
}
