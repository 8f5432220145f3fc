//! Every call to the store has a deadline: with the S3 server stalled (SIGSTOP), calls
//! fail with `Unavailable` within their deadlines instead of hanging, and the same
//! store works again once the server resumes.

// Test helpers outside #[test] functions unwrap too: a failed step ends the test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use bytes::Bytes;
use storage::{Error, Key, KeyPrefix, ListOptions, StorageUrl, StoreTimeouts};
use tests::S3Server;

/// Deadlines short enough for a test: 2 s per call, 1 s per attempt.
const SHORT: StoreTimeouts = StoreTimeouts {
    operation: Duration::from_secs(2),
    attempt: Duration::from_secs(1),
    connect: Duration::from_secs(1),
    min_throughput_bytes_per_second: 1024 * 1024,
};
/// The longest a call to the stalled server may take to fail.
const FAIL_WITHIN: Duration = Duration::from_secs(5);

fn key(s: &str) -> Key {
    Key::new(s).unwrap()
}

/// Runs `call`, returning its result and how long it took.
async fn timed<T>(
    call: impl Future<Output = storage::Result<T>>,
) -> (storage::Result<T>, Duration) {
    let started = Instant::now();
    let result = call.await;
    (result, started.elapsed())
}

fn assert_unavailable<T: std::fmt::Debug>(
    what: &str,
    (result, took): (storage::Result<T>, Duration),
) {
    assert!(
        matches!(result, Err(Error::Unavailable { .. })),
        "{what}: expected Unavailable, got {result:?}"
    );
    assert!(took < FAIL_WITHIN, "{what} took {took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_s3_server_fails_each_call_within_its_deadline_and_the_store_recovers() {
    let mut server = S3Server::start();
    let mut settings = server.settings();
    settings.timeouts = SHORT;
    let url: StorageUrl = format!("s3://{}/speech", S3Server::BUCKET).parse().unwrap();
    let store = storage::open(&url, &settings, &SHORT).await.unwrap();
    let written = key("voices/a.wav");
    store
        .put(&written, Bytes::from_static(b"before the stall"))
        .await
        .unwrap();

    server.pause();
    let voices = KeyPrefix::new("voices").unwrap();
    let paused = key("voices/during.wav");
    // Concurrently, so the test waits one deadline rather than six; each call is timed alone.
    let (get, put, head, list, list_all, delete) = tokio::join!(
        timed(store.get(&written)),
        timed(store.put(&paused, Bytes::from_static(b"x"))),
        timed(store.head(&written)),
        timed(store.list(&voices, ListOptions::default())),
        timed(store.list_all(&voices, false)),
        timed(store.delete(&written)),
    );
    assert_unavailable("get", get);
    assert_unavailable("put", put);
    assert_unavailable("head", head);
    assert_unavailable("list", list);
    assert_unavailable("list_all", list_all);
    assert_unavailable("delete", delete);
    let stream = timed(store.get_stream(&written, None)).await;
    assert_unavailable("get_stream", stream);

    server.resume();
    // The same store object, no reconnect. (Requests sent during the stall may still be
    // served now, so only a fresh key is checked.)
    let after = key("voices/after.wav");
    store
        .put(&after, Bytes::from_static(b"after the stall"))
        .await
        .unwrap();
    assert_eq!(
        store.get(&after).await.unwrap(),
        Bytes::from_static(b"after the stall")
    );
    assert_eq!(store.head(&after).await.unwrap().size, 15);
    let listed = tests::stored_keys(store.as_ref(), "voices").await;
    assert!(listed.contains(&after.to_string()), "{listed:?}");
    store.delete(&after).await.unwrap();
    assert!(store.head(&after).await.unwrap_err().is_not_found());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opened_stores_keep_their_description_and_kind() {
    let dir = tempfile::tempdir().unwrap();
    let url: StorageUrl = format!("file://{}", dir.path().display()).parse().unwrap();
    let store = storage::open(&url, &storage::S3Settings::default(), &SHORT)
        .await
        .unwrap();
    assert_eq!(store.kind(), "filesystem");
    assert!(
        store.describe().starts_with("file://"),
        "{}",
        store.describe()
    );
    store
        .put(&key("voices/a.wav"), Bytes::from_static(b"x"))
        .await
        .unwrap();
    assert_eq!(
        tests::stored_keys(store.as_ref(), "").await,
        ["voices/a.wav"]
    );

    let server = S3Server::start();
    let url: StorageUrl = format!("s3://{}/speech", S3Server::BUCKET).parse().unwrap();
    let store = storage::open(&url, &server.settings(), &SHORT)
        .await
        .unwrap();
    assert_eq!(store.kind(), "s3");
    assert!(
        store.describe().starts_with("s3://speech-test/speech/"),
        "{}",
        store.describe()
    );
}

/// A 16 MiB body (the largest single `PutObject`) and a multipart upload on a working
/// link get more than the plain deadlines: their size at the minimum throughput.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_bodies_are_not_cut_off_by_short_deadlines() {
    let server = S3Server::start();
    // A debug-build server takes seconds to store 16 MiB, far more than these
    // deadlines; the allowance at the default 1 MiB/s covers it.
    let tight = StoreTimeouts {
        operation: Duration::from_millis(500),
        attempt: Duration::from_millis(300),
        ..StoreTimeouts::default()
    };
    let mut settings = server.settings();
    settings.timeouts = tight;
    let url: StorageUrl = format!("s3://{}/speech", S3Server::BUCKET).parse().unwrap();
    let store = storage::open(&url, &settings, &tight).await.unwrap();
    for size in [16 * 1024 * 1024, 20 * 1024 * 1024] {
        let body = Bytes::from(vec![5u8; size]);
        store.put(&key("outputs/big.wav"), body).await.unwrap();
        assert_eq!(
            store.head(&key("outputs/big.wav")).await.unwrap().size,
            size as u64
        );
    }
}
