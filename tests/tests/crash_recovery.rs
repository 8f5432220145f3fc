//! A crash at any instant leaves nothing cleanup cannot repair, and a stalled store costs
//! seconds: over HTTP, on the filesystem store and a real S3 server.
//! - the leftover states a writer killed at each step of a write would leave (half an
//!   upload, half of a multi-format output, half of a move, a temporary file, an
//!   unfinished multipart upload) are repaired by `POST /cleanup`;
//! - a request dropped between an object and its sidecar still writes the sidecar;
//! - a `local-runner` killed with SIGKILL in the middle of uploads, generations and moves
//!   leaves a store that, after a restart and a cleanup, holds every object with its
//!   sidecar, no voice in two folders and no unfinished upload;
//! - with the S3 server stopped (SIGSTOP), requests answer 503 within the deadline and the
//!   service recovers when it resumes.

// Test helpers outside #[test] functions unwrap too: a failed step ends the test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use serde_json::{Value, json};
use storage::{Key, ObjectStore};
use tests::fixtures::{wav, wav_tone};
use tests::multipart::Form;
use tests::{Backend, TestApp, for_each_persistent_backend, stored_keys};

fn key(s: &str) -> Key {
    Key::new(s).unwrap()
}

async fn put(store: &dyn ObjectStore, k: &str, body: impl Into<Bytes>) {
    store.put(&key(k), body.into()).await.unwrap();
}

/// A write plan as a writer records it before its first write (see `service::journal`).
async fn plan(store: &dyn ObjectStore, name: &str, plan: Value) {
    let mut record = plan;
    record["created"] = json!("2026-01-01T00:00:00Z");
    put(store, &format!("journal/{name}.json"), record.to_string()).await;
}

/// The app with leftovers repaired at once (no grace period), as after a restart.
fn repairing_app(b: &Backend) -> TestApp {
    TestApp::with_config(b, |c| c.maintenance.incomplete_write_grace_seconds = 0)
}

async fn leftovers_of_each_crash_point_are_repaired(b: Backend) {
    let store = b.store.as_ref();
    let sidecar = |name: &str| json!({"name": name}).to_string();

    // A plan younger than the grace period belongs to a live writer: left alone.
    let patient = TestApp::new(&b);
    put(store, "voices/young.wav", wav()).await;
    let young = json!({"kind": "publish", "created": chrono::Utc::now().to_rfc3339(),
        "writes": [{"key": "voices/young.wav", "size": 1}]});
    put(store, "journal/young.json", young.to_string()).await;
    let summary = patient.post("/api/v1/cleanup").await.ok_json();
    assert_eq!(
        summary["actions"]["interrupted_writes"]["plans"]["pending"], 1,
        "{summary}"
    );
    assert!(
        stored_keys(store, "journal")
            .await
            .contains(&"journal/young.json".to_owned())
    );
    assert!(
        stored_keys(store, "voices")
            .await
            .contains(&"voices/young.wav".to_owned())
    );
    store
        .delete_many(&[key("journal/young.json"), key("voices/young.wav")])
        .await
        .unwrap();

    // 1. An upload killed between its object and its sidecar: undone.
    put(store, "voices/half.wav", wav()).await;
    plan(
        store,
        "a",
        json!({"kind": "publish", "writes": [
            {"key": "voices/half.wav", "size": wav().len()},
            {"key": "voices/half.wav.json", "size": 40}]}),
    )
    .await;
    // 2. A two-format output killed after its first file: both files' records go.
    let first_sidecar =
        json!({"files": {"wav": "t.wav", "mp3": "t.mp3"}, "generation_type": "tts"}).to_string();
    put(store, "outputs/p/t.wav", wav()).await;
    put(store, "outputs/p/t.wav.json", first_sidecar.clone()).await;
    plan(
        store,
        "b",
        json!({"kind": "publish", "writes": [
            {"key": "outputs/p/t.wav", "size": wav().len()},
            {"key": "outputs/p/t.wav.json", "size": first_sidecar.len()},
            {"key": "outputs/p/t.mp3", "size": 1000},
            {"key": "outputs/p/t.mp3.json", "size": 50}]}),
    )
    .await;
    // 3. A complete upload whose writer died before removing its plan: kept.
    let kept_sidecar = sidecar("Kept");
    put(store, "voices/kept.wav", wav()).await;
    put(store, "voices/kept.wav.json", kept_sidecar.clone()).await;
    plan(
        store,
        "c",
        json!({"kind": "publish", "writes": [
            {"key": "voices/kept.wav", "size": wav().len()},
            {"key": "voices/kept.wav.json", "size": kept_sidecar.len()}]}),
    )
    .await;
    // 4. A move killed after copying the voice, before deleting the source (S3's
    //    copy-then-delete): finished, so the voice is in one folder, the new one.
    let moved_sidecar = sidecar("Moved");
    put(store, "voices/old/m.wav", wav()).await;
    put(store, "voices/old/m.wav.json", sidecar("Before")).await;
    put(store, "voices/new/m.wav", wav()).await;
    put(store, "voices/new/m.wav.json", moved_sidecar.clone()).await;
    plan(
        store,
        "d",
        json!({"kind": "move", "drop": ["voices/old/m.wav.cond"], "moves": [
            {"from": "voices/old/m.wav", "to": "voices/new/m.wav", "size": wav().len()},
            {"from": "voices/old/m.wav.json", "to": "voices/new/m.wav.json", "size": moved_sidecar.len()}]}),
    )
    .await;
    // 5. A move killed after writing the new sidecar only: undone, the voice stays.
    put(store, "voices/stay/s.wav", wav()).await;
    put(store, "voices/stay/s.wav.json", sidecar("Stay")).await;
    put(store, "voices/gone/s.wav.json", sidecar("Half")).await;
    plan(
        store,
        "e",
        json!({"kind": "move", "drop": [], "moves": [
            {"from": "voices/stay/s.wav", "to": "voices/gone/s.wav", "size": wav().len()},
            {"from": "voices/stay/s.wav.json", "to": "voices/gone/s.wav.json", "size": 10}]}),
    )
    .await;

    // 6. Outputs planned while their encoders were still running (no sizes up front):
    //    complete ones are kept, one missing its MP3 is undone.
    let output_sidecar =
        json!({"files": {"wav": "u.wav", "mp3": "u.mp3"}, "generation_type": "tts"}).to_string();
    for name in ["q/u.wav", "q/u.mp3", "r/v.wav"] {
        put(store, &format!("outputs/{name}"), wav()).await;
        put(
            store,
            &format!("outputs/{name}.json"),
            output_sidecar.clone(),
        )
        .await;
    }
    let without_sizes = |keys: &[&str]| {
        keys.iter()
            .map(|k| json!({"key": format!("outputs/{k}")}))
            .collect::<Vec<_>>()
    };
    let complete = without_sizes(&["q/u.wav", "q/u.wav.json", "q/u.mp3", "q/u.mp3.json"]);
    plan(store, "f", json!({"kind": "publish", "writes": complete})).await;
    let partial = without_sizes(&["r/v.wav", "r/v.wav.json", "r/v.mp3", "r/v.mp3.json"]);
    plan(store, "g", json!({"kind": "publish", "writes": partial})).await;

    let app = repairing_app(&b);
    let summary = app.post("/api/v1/cleanup").await.ok_json();
    let plans = &summary["actions"]["interrupted_writes"]["plans"];
    assert_eq!(plans["completed"], 2, "{summary}");
    assert_eq!(plans["repaired"], 5, "{summary}");
    assert_eq!(
        stored_keys(store, "").await,
        [
            "outputs/q/u.mp3",
            "outputs/q/u.mp3.json",
            "outputs/q/u.wav",
            "outputs/q/u.wav.json",
            "voices/kept.wav",
            "voices/kept.wav.json",
            "voices/new/m.wav",
            "voices/new/m.wav.json",
            "voices/stay/s.wav",
            "voices/stay/s.wav.json",
        ]
    );
    // The moved voice resolves by its bare name again (it was "ambiguous" in two folders).
    let voices = app.get("/api/v1/voices").await.ok_json();
    assert_eq!(voices["total_voices"], 3, "{voices}");
}

async fn backend_leftovers_are_reclaimed(b: Backend) {
    let app = repairing_app(&b);
    let reclaimed = match &b.s3 {
        Some(server) => {
            // An unfinished multipart upload, as a writer killed between parts leaves it.
            let client = storage::S3Store::connect(
                tests::S3Server::BUCKET,
                &storage::KeyPrefix::new("speech").unwrap(),
                &server.settings(),
            )
            .await
            .unwrap();
            client
                .client()
                .create_multipart_upload()
                .bucket(tests::S3Server::BUCKET)
                .key("speech/voices/big.wav")
                .send()
                .await
                .unwrap();
            "multipart_uploads_aborted"
        }
        None => {
            // A temporary file of a write killed before its rename.
            let root = b.url.strip_prefix("file://").unwrap();
            let dir = std::path::Path::new(root).join("voices/x");
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join(".tmp-0123456789abcdef"), b"partial").unwrap();
            "temporary_files_removed"
        }
    };
    let summary = app.post("/api/v1/cleanup").await.ok_json();
    let removed = summary["actions"]["interrupted_writes"][reclaimed]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(removed.len(), 1, "{summary}");
    let again = app.post("/api/v1/cleanup").await.ok_json();
    assert_eq!(
        again["actions"]["interrupted_writes"][reclaimed],
        json!([]),
        "{again}"
    );
}

for_each_persistent_backend!(
    leftovers_of_each_crash_point_are_repaired,
    backend_leftovers_are_reclaimed
);

/// A store whose sidecar writes take a while, so a test can drop a request between an
/// object and its sidecar.
#[derive(Debug)]
struct SlowSidecars(Arc<dyn ObjectStore>);

#[async_trait::async_trait]
impl ObjectStore for SlowSidecars {
    fn describe(&self) -> String {
        self.0.describe()
    }
    fn kind(&self) -> &'static str {
        self.0.kind()
    }
    async fn put(&self, key: &Key, body: Bytes) -> storage::Result<storage::ObjectMeta> {
        if key.as_str().ends_with(".wav.json") {
            tokio::time::sleep(Duration::from_millis(600)).await;
        }
        self.0.put(key, body).await
    }
    async fn get_stream(
        &self,
        key: &Key,
        range: Option<std::ops::Range<u64>>,
    ) -> storage::Result<storage::GetStream> {
        self.0.get_stream(key, range).await
    }
    async fn get_versioned(&self, key: &Key) -> storage::Result<(Bytes, storage::Version)> {
        self.0.get_versioned(key).await
    }
    async fn put_if(
        &self,
        key: &Key,
        body: Bytes,
        condition: storage::Precondition,
    ) -> storage::Result<storage::ObjectMeta> {
        self.0.put_if(key, body, condition).await
    }
    async fn head(&self, key: &Key) -> storage::Result<storage::ObjectMeta> {
        self.0.head(key).await
    }
    async fn delete(&self, key: &Key) -> storage::Result<()> {
        self.0.delete(key).await
    }
    async fn list(
        &self,
        prefix: &storage::KeyPrefix,
        options: storage::ListOptions,
    ) -> storage::Result<storage::ListPage> {
        self.0.list(prefix, options).await
    }
    async fn copy(&self, from: &Key, to: &Key) -> storage::Result<()> {
        self.0.copy(from, to).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_dropped_between_object_and_sidecar_still_writes_the_sidecar() {
    let mut b = Backend::memory();
    let inner = b.store.clone();
    b.store = Arc::new(SlowSidecars(inner.clone()));
    let app = TestApp::new(&b);
    let form = Form::new().file("voice_file", "v.wav", wav());
    let upload = app.post_form("/api/v1/voice", &form);
    assert!(
        tokio::time::timeout(Duration::from_millis(300), upload)
            .await
            .is_err(),
        "the upload should still be writing its sidecar"
    );
    assert_eq!(
        stored_keys(inner.as_ref(), "voices").await,
        ["voices/v.wav"]
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        stored_keys(inner.as_ref(), "").await,
        ["voices/v.wav", "voices/v.wav.json"],
        "the write finished and removed its plan"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_store_answers_503_within_the_deadline_and_recovers() {
    let mut b = Backend::s3().await;
    let app = TestApp::with_config(&b, |c| {
        c.store_deadlines.storage_timeout_seconds = 2.0;
        c.store_deadlines.storage_attempt_timeout_seconds = 1.0;
        c.listing_cache_seconds = Some(0.0);
    });
    app.post_form(
        "/api/v1/voice",
        &Form::new().file("voice_file", "v.wav", wav()),
    )
    .await
    .assert_ok();
    b.s3.as_mut().unwrap().pause();

    for uri in ["/api/v1/voices", "/api/v1/outputs", "/outputs/x.wav"] {
        let started = Instant::now();
        let response = app.get(uri).await;
        let took = started.elapsed();
        response.assert_error(503, "STORAGE_UNAVAILABLE");
        assert!(response.header("retry-after").is_some());
        assert!(took < Duration::from_secs(6), "{uri} took {took:?}");
    }
    let started = Instant::now();
    let upload = app
        .post_form(
            "/api/v1/voice",
            &Form::new().file("voice_file", "w.wav", wav_tone(0.5, 16_000, 200.0)),
        )
        .await;
    upload.assert_error(503, "STORAGE_UNAVAILABLE");
    assert!(started.elapsed() < Duration::from_secs(10));
    // Health has its own, shorter deadline.
    let started = Instant::now();
    let health = app.get("/api/v1/health").await;
    assert_eq!(health.status, 503);
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );

    b.s3.as_mut().unwrap().resume();
    let listed = app.get("/api/v1/voices").await.ok_json();
    assert_eq!(listed["total_voices"], 1, "{listed}");
    assert_eq!(app.get("/api/v1/health").await.status, 200);
}
