//! Hardening regressions over HTTP, on the filesystem store and a real S3 server: a
//! misspelt filter never widens a delete, unfiltered bulk deletes need `all=true`,
//! unknown parameters elsewhere are reported, other web pages can neither read nor change
//! the library, slow requests end in a counted 408, and generations whose client has
//! gone hold their slot until they stop, which they do early.

// Test helpers outside #[test] functions unwrap too: a failed step ends the test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use axum::body::Body;
use http::{Method, Request};
use serde_json::json;
use tests::fixtures::wav;
use tests::multipart::Form;
use tests::{Backend, TestApp, TestResponse, for_each_persistent_backend, stored_keys};

/// One voice, one VC input and one output in folder `keep`, so a widened delete shows.
async fn seed_library(app: &TestApp) {
    app.post_form(
        "/api/v1/voice",
        &Form::new()
            .file("voice_file", "narrator.wav", wav())
            .text("folder_path", "keep"),
    )
    .await
    .assert_ok();
    app.post_form(
        "/api/v1/vc_input",
        &Form::new()
            .file("vc_input_file", "line.wav", wav())
            .text("folder_path", "keep"),
    )
    .await
    .assert_ok();
    app.post_json(
        "/api/v1/tts?response_mode=url",
        &json!({"text": "Keep me.", "project": "keep", "export_formats": ["wav"]}),
    )
    .await
    .assert_ok();
}

async fn misspelt_filters_delete_nothing(b: Backend) {
    let app = TestApp::new(&b);
    seed_library(&app).await;
    let before = stored_keys(b.store.as_ref(), "").await;
    // Three files with their sidecars, and the usage statistics of the generation.
    assert_eq!(before.len(), 7, "{before:?}");

    for area in ["voices", "vc_inputs", "outputs"] {
        let response = app
            .delete(&format!("/api/v1/{area}?confirm=true&fodler=x&serach=y"))
            .await;
        let body = response.assert_error(422, "VALIDATION_ERROR");
        assert_eq!(body["detail"]["param"], "fodler", "{body}");
        let message = body["error"].as_str().unwrap();
        assert!(
            message.contains("\"fodler\"") && message.contains("\"serach\""),
            "{message}"
        );
        assert!(
            message.contains("folder"),
            "names what is accepted: {message}"
        );
    }
    // Single deletes and the cleanup refuse unknown parameters the same way.
    app.delete("/api/v1/voice/narrator.wav?confirm=true&force=1")
        .await
        .assert_error(422, "VALIDATION_ERROR");
    app.delete("/api/v1/output/x.wav?confirm=true&recursive=true")
        .await
        .assert_error(422, "VALIDATION_ERROR");
    app.post("/api/v1/cleanup?dry_run=true")
        .await
        .assert_error(422, "VALIDATION_ERROR");
    assert_eq!(stored_keys(b.store.as_ref(), "").await, before);
}

async fn unfiltered_bulk_deletes_need_all(b: Backend) {
    let app = TestApp::new(&b);
    seed_library(&app).await;
    let before = stored_keys(b.store.as_ref(), "").await;
    for area in ["voices", "vc_inputs", "outputs"] {
        // No filter, and filters whose values are blank, select everything: refused.
        for query in [
            "confirm=true",
            "confirm=true&folder=&search=%20&filenames=,",
        ] {
            let body = app
                .delete(&format!("/api/v1/{area}?{query}"))
                .await
                .assert_error(400, "FILTER_REQUIRED");
            assert!(body["error"].as_str().unwrap().contains("all=true"));
        }
        // all=true beside a filter is contradictory, not "everything".
        app.delete(&format!("/api/v1/{area}?confirm=true&all=true&folder=keep"))
            .await
            .assert_error(422, "VALIDATION_ERROR");
        // all=true without confirm=true is still refused.
        app.delete(&format!("/api/v1/{area}?all=true"))
            .await
            .assert_error(400, "CONFIRMATION_REQUIRED");
    }
    assert_eq!(stored_keys(b.store.as_ref(), "").await, before);
    for area in ["voices", "vc_inputs", "outputs"] {
        let deleted = app
            .delete(&format!("/api/v1/{area}?confirm=true&all=true"))
            .await
            .ok_json();
        assert_eq!(deleted["deleted_count"], 1, "{area}: {deleted}");
    }
    // Only the usage statistics outlive the library: they are history, not files.
    let left = stored_keys(b.store.as_ref(), "").await;
    assert!(
        left.iter().all(|k| k.starts_with("stats/usage/")),
        "{left:?}"
    );
}

#[tokio::test]
async fn unknown_parameters_elsewhere_are_reported_not_fatal() {
    let app = TestApp::new(&Backend::memory());
    let listed = app.get("/api/v1/voices?sort_by=name&page=1").await;
    assert_eq!(listed.status, 200, "{}", listed.text());
    let warnings = listed.header("x-speech-warnings").unwrap();
    assert!(warnings.contains("\"sort_by\""), "{warnings}");
    assert!(!warnings.contains("page"), "{warnings}");
    // A known parameter alone brings no warning.
    let clean = app.get("/api/v1/outputs?page=1").await;
    assert_eq!(clean.header("x-speech-warnings"), None);
    // Routes without parameters report every one they were given.
    let folders = app.get("/api/v1/voices/folders?depth=2").await;
    assert_eq!(folders.status, 200);
    assert!(
        folders
            .header("x-speech-warnings")
            .is_some_and(|w| w.contains("\"depth\"")),
        "{:?}",
        folders.headers
    );
}

fn with_origin(method: Method, uri: &str, origin: &str) -> Request<Body> {
    Request::builder()
        .method(method)
        .uri(uri)
        .header("origin", origin)
        .header("host", "127.0.0.1:7860")
        .body(Body::empty())
        .unwrap()
}

async fn other_web_pages_cannot_use_the_library(b: Backend) {
    let app = TestApp::new(&b);
    seed_library(&app).await;
    let before = stored_keys(b.store.as_ref(), "").await;
    let evil = "https://evil.example";

    // Reading: no CORS grant, so the page cannot see the answer.
    let read = app
        .request(with_origin(Method::GET, "/api/v1/voices", evil))
        .await;
    assert_eq!(read.header("access-control-allow-origin"), None);
    // A preflight for a delete is not granted either.
    let preflight = app
        .request(
            Request::builder()
                .method(Method::OPTIONS)
                .uri("/api/v1/voices?confirm=true&all=true")
                .header("origin", evil)
                .header("access-control-request-method", "DELETE")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(preflight.header("access-control-allow-origin"), None);
    // Changing state from another origin is refused before anything runs, including a
    // form post, which browsers send without a preflight.
    for (method, uri) in [
        (Method::DELETE, "/api/v1/voices?confirm=true&all=true"),
        (Method::POST, "/api/v1/cleanup"),
        (Method::PUT, "/api/v1/voice/narrator.wav/metadata"),
    ] {
        app.request(with_origin(method, uri, evil))
            .await
            .assert_error(403, "FORBIDDEN_ORIGIN");
    }
    assert_eq!(stored_keys(b.store.as_ref(), "").await, before);

    // The API's own pages (same origin) and clients without an Origin (curl, SDKs) work.
    let same = app
        .request(with_origin(
            Method::DELETE,
            "/api/v1/voice/narrator.wav?confirm=true",
            "http://127.0.0.1:7860",
        ))
        .await;
    assert_eq!(same.status, 200, "{}", same.text());

    // Loopback pages are allowed when the setting says so.
    let local = TestApp::with_config(&b, |c| c.cors_allow_origins = vec!["loopback".into()]);
    let allowed = local
        .request(with_origin(
            Method::GET,
            "/api/v1/voices",
            "http://localhost:5173",
        ))
        .await;
    assert_eq!(
        allowed.header("access-control-allow-origin"),
        Some("http://localhost:5173")
    );
    local
        .request(with_origin(Method::POST, "/api/v1/cleanup", evil))
        .await
        .assert_error(403, "FORBIDDEN_ORIGIN");
}

for_each_persistent_backend!(
    misspelt_filters_delete_nothing,
    unfiltered_bulk_deletes_need_all,
    other_web_pages_cannot_use_the_library
);

/// Twenty sentences: seconds of Piper work in a debug build.
fn long_text() -> String {
    (1..=20)
        .map(|n| format!("This is sentence number {n} of a long test paragraph."))
        .collect::<Vec<_>>()
        .join(" ")
}

async fn abandoned(app: &TestApp) -> u64 {
    app.get("/api/v1/health").await.json()["engines"]["generations_abandoned"]
        .as_u64()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_generation_holds_its_slot_then_stops_early() {
    let b = Backend::memory();
    let app = TestApp::with_config(&b, |c| {
        c.engines.max_concurrent_generations = 1;
        c.engines.max_queued_generations = 0;
    });
    // Load the voice first so the dropped request is already synthesising when it goes.
    app.post_json("/api/v1/tts", &json!({"text": "Warm up."}))
        .await
        .assert_ok();
    let long = json!({"text": long_text(), "export_formats": ["wav"]});
    let started = Instant::now();
    let dropped = tokio::time::timeout(
        Duration::from_millis(400),
        app.post_json("/api/v1/tts", &long),
    )
    .await;
    assert!(dropped.is_err(), "the long request finished in 400 ms");

    // While the abandoned work runs, it still holds the only slot.
    let busy = app
        .post_json("/api/v1/tts", &json!({"text": "Hello."}))
        .await;
    busy.assert_error(503, "SERVER_BUSY");
    assert!(busy.header("retry-after").is_some());

    // It stops at the next sentence: the slot frees long before twenty sentences are spoken.
    let mut waited = Duration::ZERO;
    while abandoned(&app).await == 0 {
        assert!(waited < Duration::from_secs(30), "the work never stopped");
        tokio::time::sleep(Duration::from_millis(50)).await;
        waited += Duration::from_millis(50);
    }
    let stopped_after = started.elapsed();
    app.post_json("/api/v1/tts", &json!({"text": "Hello."}))
        .await
        .assert_ok();

    // For comparison, the whole text takes longer than the abandoned work ran.
    let full = Instant::now();
    app.post_json("/api/v1/tts", &long).await.assert_ok();
    assert!(
        stopped_after < full.elapsed(),
        "stopped after {stopped_after:?}, the full text takes {:?}",
        full.elapsed()
    );
    // Nothing of the abandoned request was stored: two wav+mp3 answers and one wav, each
    // file with its sidecar.
    let outputs = stored_keys(b.store.as_ref(), "outputs").await;
    assert_eq!(outputs.len(), 2 * 4 + 2, "{outputs:?}");
}

/// A streamed answer whose client stops reading: the work stops at its next sentence, frees
/// its slot, and is counted as abandoned (the stream's work runs on its own task, so no
/// dropped future tells it; the closed channel does).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_whose_client_leaves_stops_and_is_counted() {
    use http_body_util::BodyExt;
    let app = TestApp::with_config(&Backend::memory(), |c| {
        c.engines.max_concurrent_generations = 1;
        c.engines.max_queued_generations = 0;
    });
    app.post_json("/api/v1/tts", &json!({"text": "Warm up."}))
        .await
        .assert_ok();
    let request = http::Request::post("/v1/audio/speech")
        .header("content-type", "application/json")
        .body(axum::body::Body::from(
            json!({"model": "tts-1", "voice": "alloy", "input": long_text(), "response_format": "pcm"})
                .to_string(),
        ))
        .unwrap();
    let response = app.request_streaming(request).await;
    assert_eq!(response.status(), 200);
    let mut body = response.into_body();
    let first = body.frame().await.unwrap().unwrap();
    assert!(!first.into_data().unwrap().is_empty());
    drop(body);

    let mut waited = Duration::ZERO;
    while abandoned(&app).await == 0 {
        assert!(
            waited < Duration::from_secs(30),
            "the stream's work never stopped"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
        waited += Duration::from_millis(50);
    }
    assert_eq!(abandoned(&app).await, 1);
    // Its slot is free again.
    app.post_json("/api/v1/tts", &json!({"text": "Hello."}))
        .await
        .assert_ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timed_out_request_is_a_counted_408_in_the_envelope() {
    let app = TestApp::with_config(&Backend::memory(), |c| c.request_timeout_seconds = 1);
    let before = app.get("/api/v1/health").await.json()["metrics"].clone();
    let slow: TestResponse = app
        .post_json("/api/v1/tts", &json!({"text": long_text()}))
        .await;
    slow.assert_error(408, "REQUEST_TIMEOUT");
    let after = app.get("/api/v1/health").await.json()["metrics"].clone();
    assert_eq!(
        after["requests_client_error"].as_u64().unwrap(),
        before["requests_client_error"].as_u64().unwrap() + 1,
        "{before} -> {after}"
    );
}
