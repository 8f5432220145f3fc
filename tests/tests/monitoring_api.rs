//! Monitoring and resilience over HTTP: transient store failures retried with backoff
//! (a real S3 server answering `SlowDown` / `InternalError`), a lasting outage answered
//! 503 with `Retry-After`, the original's monitoring routes with their response keys, and
//! the Prometheus exposition read back by a real parser.

// Test helpers outside #[test] functions unwrap too: a failed step ends the test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use bytes::Bytes;
use storage::{Key, ObjectStore};
use tests::fixtures::wav;
use tests::multipart::Form;
use tests::{Backend, TestApp};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transient_store_failures_are_retried_and_an_outage_is_503() {
    let b = Backend::s3().await;
    let server = b.s3.as_ref().unwrap();
    let app = TestApp::new(&b);
    let clip = Bytes::from(wav());
    b.store
        .put(&Key::new("outputs/take.wav").unwrap(), clip.clone())
        .await
        .unwrap();

    // Two throttled answers in a row: the retries get past them and the client sees none.
    server.inject_failures(2, "SlowDown", 503);
    let read = app.get("/outputs/take.wav").await;
    assert_eq!(read.status, 200, "{}", read.text());
    assert_eq!(read.body, clip);
    assert_eq!(
        server.failures_left(),
        0,
        "both failures were met and retried"
    );

    // Server errors on a write: retried too, and the voice is stored once, whole.
    server.inject_failures(2, "InternalError", 500);
    let form = Form::new().file("voice_file", "steady.wav", wav());
    app.post_form("/api/v1/voice", &form).await.assert_ok();
    assert_eq!(server.failures_left(), 0);
    let stored = b
        .store
        .get(&Key::new("voices/steady.wav").unwrap())
        .await
        .unwrap();
    assert_eq!(stored, Bytes::from(wav()));

    // A lasting outage: the retry budget runs out, the client gets a 503 it can act on,
    // soon (not after a client timeout).
    server.inject_failures(1000, "SlowDown", 503);
    let started = Instant::now();
    let refused = app.get("/outputs/take.wav").await;
    let took = started.elapsed();
    refused.assert_error(503, "STORAGE_UNAVAILABLE");
    assert!(refused.header("retry-after").is_some());
    assert!(took < Duration::from_secs(10), "gave up after {took:?}");
    let attempts = 1000 - server.failures_left();
    assert!(
        (2..=4).contains(&attempts),
        "{attempts} attempts for one read"
    );

    // Once the store recovers, so does the service.
    server.inject_failures(0, "SlowDown", 503);
    assert_eq!(app.get("/outputs/take.wav").await.status, 200);
}
