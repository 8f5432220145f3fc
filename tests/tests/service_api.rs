//! Service routes and cross-cutting behaviour over HTTP: zero-byte cleanup, health,
//! resources, configuration, the error envelope, request ids, CORS and outages.

// Test helpers outside #[test] functions unwrap too: a failed step ends the test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use bytes::Bytes;
use serde_json::{Value, json};
use storage::{Key, ObjectStore};
use tests::fixtures::wav;
use tests::multipart::Form;
use tests::stored_keys;
use tests::{Backend, TestApp, for_each_persistent_backend};

async fn put(store: &dyn ObjectStore, key: &str, data: &[u8]) {
    store
        .put(&Key::new(key).unwrap(), Bytes::copy_from_slice(data))
        .await
        .unwrap();
}

async fn zero_byte_cleanup_removes_empty_files_and_stale_sidecars(b: Backend) {
    let app = TestApp::new(&b);
    let store = b.store.as_ref();
    app.post_form(
        "/api/v1/voice",
        &Form::new().file("voice_file", "good.wav", wav()),
    )
    .await
    .ok_json();
    put(store, "voices/deep/nested/empty.wav", b"").await;
    put(
        store,
        "voices/deep/nested/empty.wav.json",
        br#"{"name":"empty"}"#,
    )
    .await;
    put(store, "vc_inputs/empty.mp3", b"").await;
    put(store, "outputs/book/empty.flac", b"").await;
    put(store, "outputs/book/real.wav", &wav()).await;
    put(store, "outputs/gone.wav.json", br#"{"type":"tts"}"#).await;
    put(store, "outputs/notes.txt", b"left alone").await;
    put(store, "outputs/book/real.wav.json", b"").await;

    // Listings never fail on zero-byte or sidecar-less files.
    let outputs = app.get("/api/v1/outputs").await.ok_json();
    assert_eq!(outputs["total_files"], 2);
    let empty = outputs["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["filename"] == "empty.flac")
        .unwrap();
    assert_eq!(empty["file_size_bytes"], 0);
    assert_eq!(
        app.get("/api/v1/voices?folder=deep").await.ok_json()["total_voices"],
        1
    );
    assert_eq!(
        app.get("/api/v1/vc_inputs").await.ok_json()["total_files"],
        1
    );

    let summary = app.post("/api/v1/cleanup").await.ok_json();
    assert_eq!(summary["forced"], true);
    let cleanup = &summary["actions"]["corrupted_files_cleanup"];
    assert_eq!(cleanup["files_removed"], 3);
    assert_eq!(cleanup["directories_cleaned"], 3);
    assert_eq!(
        cleanup["details"]["voices"]["deleted_files"],
        json!(["deep/nested/empty.wav"])
    );
    assert_eq!(
        cleanup["details"]["vc_inputs"]["deleted_files"],
        json!(["empty.mp3"])
    );
    assert_eq!(
        cleanup["details"]["outputs"]["deleted_files"],
        json!(["book/empty.flac"])
    );
    assert_eq!(
        cleanup["details"]["outputs"]["orphan_sidecars_removed"],
        json!(["book/real.wav.json", "gone.wav.json"]),
        "an empty sidecar of a live file is removed and replaced in the same run"
    );
    // A file copied in without a sidecar gets one, measured from the audio.
    assert_eq!(
        cleanup["details"]["outputs"]["sidecars_created"],
        json!(["book/real.wav"])
    );
    assert_eq!(summary["total_files_removed"], 5);
    assert!(summary["duration_seconds"].as_f64().unwrap() >= 0.0);

    assert_eq!(
        stored_keys(store, "").await,
        [
            "outputs/book/real.wav",
            "outputs/book/real.wav.json",
            "outputs/notes.txt",
            "voices/good.wav",
            "voices/good.wav.json",
        ]
    );
    let backfilled: Value = serde_json::from_slice(
        &store
            .get(&Key::new("outputs/book/real.wav.json").unwrap())
            .await
            .unwrap(),
    )
    .unwrap();
    assert!((backfilled["duration_seconds"].as_f64().unwrap() - 1.0).abs() < 1e-3);
    assert_eq!(backfilled["type"], "unknown");

    let status = app.get("/api/v1/cleanup/status").await.ok_json();
    assert_eq!(status["scheduler"]["cleanup_count"], 1);
    assert_eq!(status["scheduler"]["cleanup_interval_hours"], 4.0);
    assert_eq!(
        status["scheduler"]["running"], false,
        "no schedule runs inside the test app"
    );
    assert_eq!(status["history"].as_array().unwrap().len(), 1);
    assert_eq!(
        status["scheduler"]["last_cleanup_time"],
        status["history"][0]["end_time"]
    );

    // A second run finds nothing to do.
    let again = app.post("/api/v1/cleanup").await.ok_json();
    assert_eq!(again["total_files_removed"], 0);
    assert_eq!(
        app.get("/api/v1/cleanup/status").await.ok_json()["history"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

async fn scheduled_cleanup_runs_at_startup_and_on_its_interval(b: Backend) {
    let app = TestApp::with_config(&b, |c| {
        c.maintenance.cleanup_interval_hours = 0.5 / 3600.0;
    });
    put(b.store.as_ref(), "outputs/empty.wav", b"").await;
    let scheduler = handler::service::maintenance::spawn_scheduler(app.state.clone());
    let mut runs = 0;
    for _ in 0..100 {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        runs = app.get("/api/v1/cleanup/status").await.ok_json()["scheduler"]["cleanup_count"]
            .as_u64()
            .unwrap();
        if runs >= 3 {
            break;
        }
    }
    scheduler.abort();
    assert!(
        runs >= 3,
        "expected a startup run and scheduled runs, saw {runs}"
    );
    let status = app.get("/api/v1/cleanup/status").await.ok_json();
    assert_eq!(status["scheduler"]["running"], true);
    assert!(status["scheduler"]["next_cleanup_time"].is_string());
    assert!(stored_keys(b.store.as_ref(), "").await.is_empty());
}

async fn health_config_and_resources_describe_the_service(b: Backend) {
    let app = TestApp::new(&b);
    app.post_form(
        "/api/v1/voice",
        &Form::new().file("voice_file", "v.wav", wav()),
    )
    .await
    .ok_json();
    put(b.store.as_ref(), "outputs/a.wav", &wav()).await;
    let health = app.get("/api/v1/health").await;
    assert_eq!(health.status, 200);
    let health = health.json();
    assert_eq!(health["status"], "healthy");
    assert_eq!(health["storage"]["reachable"], true);
    assert_eq!(health["storage"]["backend"], b.store.kind());
    assert_eq!(health["models_loaded"], json!({"tts": false, "vc": false}));
    assert!(health["metrics"]["requests_total"].as_u64().unwrap() >= 1);

    let config = app.get("/api/v1/config").await.ok_json();
    assert_eq!(
        config["upload_formats"],
        json!(["wav", "mp3", "flac", "ogg", "m4a", "aac", "opus"])
    );
    assert_eq!(
        config["supported_formats"],
        json!(["wav", "wav32", "mp3", "flac", "opus", "aac", "pcm"])
    );
    assert_eq!(config["api_limits"]["max_voice_upload_mb"], 100);
    assert_eq!(config["api_limits"]["max_concat_upload_mb"], 100);
    assert_eq!(config["api_limits"]["max_vc_input_upload_mb"], 50);

    let resources = app.get("/api/v1/resources").await.ok_json();
    let dirs = &resources["directories"];
    assert_eq!(dirs["voices"]["file_count"], 1);
    assert_eq!(dirs["outputs"]["file_count"], 1);
    assert_eq!(dirs["vc_inputs"]["file_count"], 0);
    let voice_bytes = dirs["voices"]["size_bytes"].as_u64().unwrap();
    assert!(
        voice_bytes > wav().len() as u64,
        "audio plus sidecar: {voice_bytes}"
    );
    assert_eq!(dirs["outputs"]["size_bytes"], wav().len());
    assert_eq!(dirs["outputs"]["max_size_mb"], 5120);
    assert_eq!(resources["warnings"], json!([]));
    let tight = TestApp::with_config(&b, |c| c.maintenance.outputs_warn_size_mb = 0);
    assert_eq!(
        tight.get("/api/v1/resources").await.ok_json()["directories"]["outputs"]["usage_percent"],
        Value::Null
    );
}

for_each_persistent_backend!(
    zero_byte_cleanup_removes_empty_files_and_stale_sidecars,
    scheduled_cleanup_runs_at_startup_and_on_its_interval,
    health_config_and_resources_describe_the_service,
);

#[tokio::test]
async fn unknown_routes_and_methods_use_the_envelope() {
    let app = TestApp::new(&Backend::memory());
    let missing = app
        .get("/api/v1/nope")
        .await
        .assert_error(404, "ROUTE_NOT_FOUND");
    assert!(missing["error"].as_str().unwrap().contains("/api/v1/nope"));
    app.post("/api/v1/voices/folders")
        .await
        .assert_error(405, "METHOD_NOT_ALLOWED");
    // A body that is not multipart at all.
    app.put_raw("/api/v1/voice/x.wav/metadata", "application/json", "[]")
        .await
        .assert_error(422, "VALIDATION_ERROR");
    let not_form = app
        .request(
            http::Request::post("/api/v1/voice")
                .header("content-type", "application/json")
                .body(axum::body::Body::from("{}"))
                .unwrap(),
        )
        .await;
    not_form.assert_error(400, "BAD_REQUEST");
}

#[tokio::test]
async fn request_ids_are_echoed_or_generated() {
    let app = TestApp::new(&Backend::memory());
    let given = app
        .get_with("/api/v1/health", &[("x-request-id", "client-abc_123")])
        .await;
    assert_eq!(given.header("x-request-id"), Some("client-abc_123"));
    let generated = app.get("/api/v1/health").await;
    let id = generated.header("x-request-id").unwrap();
    assert_eq!(id.len(), 36, "uuid expected, got {id}");
    // Ids that could forge log lines are replaced.
    let hostile = app
        .get_with("/api/v1/nope", &[("x-request-id", "a b\"c")])
        .await;
    let body = hostile.assert_error(404, "ROUTE_NOT_FOUND");
    assert_ne!(body["request_id"], "a b\"c");
}

#[tokio::test]
async fn cors_follows_the_configured_origins() {
    let backend = Backend::memory();
    let open = TestApp::with_config(&backend, |c| c.cors_allow_origins = vec!["*".into()]);
    let any = open
        .get_with("/api/v1/health", &[("origin", "https://example.com")])
        .await;
    assert_eq!(any.header("access-control-allow-origin"), Some("*"));
    assert!(
        any.header("access-control-expose-headers")
            .unwrap()
            .contains("x-request-id")
    );
    for exposed in ["x-generation-seed", "x-speech-engine", "x-speech-warnings"] {
        assert!(
            any.header("access-control-expose-headers")
                .unwrap()
                .contains(exposed),
            "{exposed} is not exposed"
        );
    }
    // A keyed browser client's preflight: Authorization must be granted by name, since a
    // `*` answer does not cover it.
    let preflight = open
        .request(
            axum::http::Request::builder()
                .method("OPTIONS")
                .uri("/v1/audio/speech")
                .header("origin", "https://example.com")
                .header("access-control-request-method", "POST")
                .header(
                    "access-control-request-headers",
                    "authorization,content-type",
                )
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await;
    assert!(preflight.status.is_success(), "{}", preflight.status);
    let granted = preflight
        .header("access-control-allow-headers")
        .unwrap()
        .to_ascii_lowercase();
    assert!(granted.contains("authorization"), "{granted}");
    assert!(granted.contains("content-type"), "{granted}");
    let strict = TestApp::with_config(&backend, |c| {
        c.cors_allow_origins = vec!["https://app.example".into()]
    });
    let allowed = strict
        .get_with("/api/v1/health", &[("origin", "https://app.example")])
        .await;
    assert_eq!(
        allowed.header("access-control-allow-origin"),
        Some("https://app.example")
    );
    let denied = strict
        .get_with("/api/v1/health", &[("origin", "https://evil.example")])
        .await;
    assert_eq!(denied.header("access-control-allow-origin"), None);
}

#[tokio::test]
async fn openapi_and_docs_are_served() {
    let app = TestApp::new(&Backend::memory());
    let doc = app.get("/openapi.json").await.ok_json();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    for path in [
        "/api/v1/voices",
        "/api/v1/voice",
        "/api/v1/voice/{filename}/metadata",
        "/api/v1/outputs",
        "/outputs/{path}",
        "/api/v1/cleanup",
    ] {
        assert!(
            doc["paths"][path].is_object(),
            "{path} missing from the OpenAPI document"
        );
    }
    // Both dialects: the OpenAI routes and the bearer-key scheme the docs page offers.
    for path in [
        "/v1/audio/speech",
        "/v1/models",
        "/v1/models/{id}",
        "/v1/audio/models",
        "/v1/audio/voices",
        "/v1/audio/voices/{model}",
    ] {
        assert!(
            doc["paths"][path].is_object(),
            "{path} missing from the OpenAPI document"
        );
    }
    assert_eq!(
        doc["components"]["securitySchemes"]["api_key"]["scheme"],
        "bearer"
    );
    // Every field the speech body documents is one the endpoint accepts.
    let valid = serde_json::json!({
        "model": "tts-1", "input": "Hi.", "voice": "alloy", "response_format": "wav",
        "speed": 1.0, "stream_format": "audio", "instructions": "calm", "temperature": 0.5,
        "exaggeration": 0.5, "cfg_weight": 0.5, "seed": 7, "normalize_text": false, "lexicons": [], "ssml": false,
    });
    let mut body = serde_json::Map::new();
    for name in doc["components"]["schemas"]["SpeechBody"]["properties"]
        .as_object()
        .unwrap()
        .keys()
    {
        let value = valid
            .get(name)
            .unwrap_or_else(|| panic!("the documented field {name} has no example here: add one"));
        body.insert(name.clone(), value.clone());
    }
    let spoken = app
        .post_json("/v1/audio/speech", &serde_json::Value::Object(body))
        .await;
    assert_eq!(spoken.status, 200, "{}", spoken.text());
    let docs = app.get("/docs/").await;
    assert_eq!(docs.status, 200);
    assert!(
        String::from_utf8_lossy(&docs.body).contains("swagger"),
        "docs page is not Swagger UI"
    );
    let root = app.get("/").await.ok_json();
    assert_eq!(root["endpoints"]["api_docs"], "/docs");
}

#[tokio::test]
async fn storage_outage_answers_503_with_retry_after() {
    let mut backend = Backend::s3().await;
    let app = TestApp::new(&backend);
    app.post_form(
        "/api/v1/voice",
        &Form::new().file("voice_file", "v.wav", wav()),
    )
    .await
    .ok_json();
    backend.s3.as_mut().unwrap().kill();
    let health = app.get("/api/v1/health").await;
    assert_eq!(health.status, 503);
    assert_eq!(health.json()["status"], "unhealthy");
    assert_eq!(health.header("retry-after"), Some("5"));
    let listing = app.get("/api/v1/voices").await;
    listing.assert_error(503, "STORAGE_UNAVAILABLE");
    assert_eq!(listing.header("retry-after"), Some("5"));
    let upload = app
        .post_form(
            "/api/v1/voice",
            &Form::new().file("voice_file", "w.wav", wav()),
        )
        .await;
    upload.assert_error(503, "STORAGE_UNAVAILABLE");
}
