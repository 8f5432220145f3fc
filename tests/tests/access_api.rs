//! API keys with names, scopes and rates, over HTTP on the filesystem store and a real S3
//! server: a key without a scope is refused (403) before anything is done, an admin key
//! may delete, and a key over its rate gets 429 with `Retry-After` and OpenAI's
//! `x-ratelimit-*` headers in both dialects.

// Test helpers outside #[test] functions unwrap too: a failed step ends the test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use axum::body::Body;
use serde_json::{Value, json};
use tests::fixtures::wav;
use tests::multipart::Form;
use tests::stored_keys;
use tests::{Backend, TestApp, TestResponse, for_each_persistent_backend};

fn digest(key: &str) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(key.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// An app whose keys file holds `lines` of `(key, options)`.
fn app_with_keys(b: &Backend, lines: &[(&str, &str)]) -> (TestApp, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("keys");
    let text: String = lines
        .iter()
        .map(|(key, options)| format!("{} {options}\n", digest(key)))
        .collect();
    std::fs::write(&file, text).unwrap();
    let app = TestApp::with_config(b, |c| c.access.api_keys_file = Some(file));
    (app, dir)
}

async fn call(
    app: &TestApp,
    method: &str,
    uri: &str,
    key: &str,
    body: Option<Value>,
) -> TestResponse {
    let mut request = http::Request::builder()
        .method(method)
        .uri(uri)
        .header("authorization", format!("Bearer {key}"));
    if body.is_some() {
        request = request.header("content-type", "application/json");
    }
    let body = body.map_or_else(Body::empty, |b| Body::from(b.to_string()));
    app.request(request.body(body).unwrap()).await
}

async fn upload_as(app: &TestApp, key: &str, name: &str) -> TestResponse {
    let form = Form::new().file("voice_file", name, wav());
    app.post_form_with(
        "/api/v1/voice",
        &form,
        &[("authorization", &format!("Bearer {key}"))],
    )
    .await
}

async fn scopes_decide_what_a_key_may_do(b: Backend) {
    let (app, _dir) = app_with_keys(
        &b,
        &[
            ("sk-reader", "name=reader scopes=read"),
            ("sk-maker", "name=maker scopes=read,generate"),
            ("sk-boss", "name=boss scopes=admin"),
        ],
    );
    let store = b.store.as_ref();
    // Reading: every key may list.
    for key in ["sk-reader", "sk-maker", "sk-boss"] {
        assert_eq!(
            call(&app, "GET", "/api/v1/voices", key, None).await.status,
            200
        );
    }
    // Generating and uploading need `generate`: the reader is refused with the key's name.
    let refused = upload_as(&app, "sk-reader", "r.wav").await;
    let body = refused.assert_error(403, "INSUFFICIENT_SCOPE");
    assert!(
        body["error"].as_str().unwrap().contains("\"reader\""),
        "{body}"
    );
    assert!(
        body["error"].as_str().unwrap().contains("generate"),
        "{body}"
    );
    let tts = json!({"text": "Hello there.", "export_formats": ["wav"]});
    call(&app, "POST", "/api/v1/tts", "sk-reader", Some(tts.clone()))
        .await
        .assert_error(403, "INSUFFICIENT_SCOPE");
    assert!(stored_keys(store, "voices/").await.is_empty());
    assert!(stored_keys(store, "outputs/").await.is_empty());
    upload_as(&app, "sk-maker", "keep.wav").await.assert_ok();
    // Deleting and cleanup need `admin`: the maker cannot, and nothing is removed.
    call(
        &app,
        "DELETE",
        "/api/v1/voice/keep.wav?confirm=true",
        "sk-maker",
        None,
    )
    .await
    .assert_error(403, "INSUFFICIENT_SCOPE");
    call(&app, "POST", "/api/v1/cleanup", "sk-maker", None)
        .await
        .assert_error(403, "INSUFFICIENT_SCOPE");
    assert!(
        stored_keys(store, "voices/")
            .await
            .contains(&"voices/keep.wav".to_owned())
    );
    // The OpenAI dialect refuses in its envelope.
    let openai = call(
        &app,
        "POST",
        "/v1/audio/speech",
        "sk-reader",
        Some(json!({"model": "tts-1", "input": "Hi.", "voice": "alloy"})),
    )
    .await;
    assert_eq!(openai.status, 403);
    assert_eq!(openai.json()["error"]["code"], "insufficient_permissions");
    // Admin includes the other scopes.
    call(&app, "POST", "/api/v1/cleanup", "sk-boss", None)
        .await
        .assert_ok();
    call(
        &app,
        "DELETE",
        "/api/v1/voice/keep.wav?confirm=true",
        "sk-boss",
        None,
    )
    .await
    .assert_ok();
    assert!(stored_keys(store, "voices/").await.is_empty());
}

async fn a_key_over_its_rate_gets_429_with_openai_headers(b: Backend) {
    let (app, _dir) = app_with_keys(
        &b,
        &[
            ("sk-slow", "name=slow rate=2/min"),
            ("sk-free", "name=free"),
        ],
    );
    let first = call(&app, "GET", "/api/v1/voices", "sk-slow", None).await;
    assert_eq!(first.status, 200);
    assert_eq!(first.header("x-ratelimit-limit-requests"), Some("2"));
    assert_eq!(first.header("x-ratelimit-remaining-requests"), Some("1"));
    // One request of two used: the bucket is full again in 30 s.
    let reset = first.header("x-ratelimit-reset-requests").unwrap();
    assert!(reset.starts_with("29.") || reset == "30s", "{reset}");
    let second = call(&app, "GET", "/api/v1/voices", "sk-slow", None).await;
    assert_eq!(second.header("x-ratelimit-remaining-requests"), Some("0"));
    let refused = call(&app, "GET", "/api/v1/voices", "sk-slow", None).await;
    let body = refused.assert_error(429, "RATE_LIMITED");
    assert!(body["error"].as_str().unwrap().contains("slow"), "{body}");
    let retry: u64 = refused.header("retry-after").unwrap().parse().unwrap();
    assert!((29..=30).contains(&retry), "retry-after {retry}");
    assert_eq!(refused.header("x-ratelimit-remaining-requests"), Some("0"));
    // The same bucket serves the OpenAI dialect, which answers in its envelope.
    let openai = call(&app, "GET", "/v1/models", "sk-slow", None).await;
    assert_eq!(openai.status, 429);
    assert_eq!(openai.json()["error"]["type"], "requests");
    assert_eq!(openai.json()["error"]["code"], "rate_limit_exceeded");
    assert!(openai.header("retry-after").is_some());
    // Another key has its own (here unlimited) allowance and no rate headers.
    let free = call(&app, "GET", "/api/v1/voices", "sk-free", None).await;
    assert_eq!(free.status, 200);
    assert!(free.header("x-ratelimit-limit-requests").is_none());
}

async fn the_service_wide_rate_applies_to_keys_without_one(b: Backend) {
    let app = TestApp::with_config(&b, |c| {
        c.access.api_keys = vec!["sk-plain".into()];
        c.access.key_rate_limit = Some("1/h".into());
    });
    assert_eq!(
        call(&app, "GET", "/api/v1/voices", "sk-plain", None)
            .await
            .status,
        200
    );
    let refused = call(&app, "GET", "/api/v1/voices", "sk-plain", None).await;
    refused.assert_error(429, "RATE_LIMITED");
    assert_eq!(refused.header("x-ratelimit-limit-requests"), Some("1"));
    // Health is open and not counted against the key.
    assert_eq!(app.get("/api/v1/health").await.status, 200);
}

for_each_persistent_backend!(
    scopes_decide_what_a_key_may_do,
    a_key_over_its_rate_gets_429_with_openai_headers,
    the_service_wide_rate_applies_to_keys_without_one,
);

/// A keys file with a typo refuses every protected request rather than widening a key.
#[tokio::test]
async fn a_misspelt_keys_file_fails_closed() {
    let b = Backend::memory();
    let (app, _dir) = app_with_keys(&b, &[("sk-x", "name=x scope=read")]);
    call(&app, "GET", "/api/v1/voices", "sk-x", None)
        .await
        .assert_error(401, "UNAUTHORIZED");
}
