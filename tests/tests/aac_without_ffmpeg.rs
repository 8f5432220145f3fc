//! AAC output when the configured ffmpeg cannot run: the OpenAI endpoint and `/api/v1/tts`
//! answer 503 naming the `--ffmpeg` setting (not the server's path), before any audio is
//! generated or stored.
//!
//! Its own test binary, because the ffmpeg choice is process-wide: every test here sets the
//! same missing program, so none of them disturbs another (or the suites that need ffmpeg).

// Test helpers outside #[test] functions unwrap too: a failed step ends the test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::json;
use tests::{Backend, TestApp, for_each_persistent_backend, stored_keys};

const MISSING: &str = "/nonexistent/speech-api-tests/ffmpeg";

fn app_without_ffmpeg(b: &Backend) -> TestApp {
    TestApp::with_config(b, |c| c.engines.ffmpeg = Some(MISSING.into()))
}

async fn openai_aac_is_503_naming_the_setting(b: Backend) {
    let app = app_without_ffmpeg(&b);
    let response = app
        .post_json(
            "/v1/audio/speech",
            &json!({"model": "tts-1", "input": "Hi.", "voice": "nova", "response_format": "aac"}),
        )
        .await;
    assert_eq!(response.status, 503, "{}", response.text());
    let error = response.json()["error"].clone();
    assert_eq!(error["type"], "server_error");
    assert_eq!(error["code"], "encoder_unavailable");
    let message = error["message"].as_str().unwrap();
    assert!(message.contains("--ffmpeg"), "{message}");
    // The server's paths stay in its log: clients learn the setting, not the layout.
    assert!(!message.contains(MISSING), "{message}");
    // Other formats do not need ffmpeg.
    let mp3 = app
        .post_json(
            "/v1/audio/speech",
            &json!({"model": "tts-1", "input": "Hi.", "voice": "nova", "response_format": "mp3"}),
        )
        .await;
    assert_eq!(mp3.status, 200, "{}", mp3.text());
}

async fn native_tts_aac_is_503_and_stores_nothing(b: Backend) {
    let app = app_without_ffmpeg(&b);
    let body = app
        .post_json(
            "/api/v1/tts",
            &json!({"text": "Hi.", "export_formats": ["wav", "aac"]}),
        )
        .await
        .assert_error(503, "ENCODER_UNAVAILABLE");
    assert_eq!(body["detail"]["format"], "aac");
    assert!(
        body["error"].as_str().unwrap().contains("--ffmpeg"),
        "{body}"
    );
    let keys = stored_keys(b.store.as_ref(), "outputs").await;
    assert!(keys.is_empty(), "{keys:?}");
}

for_each_persistent_backend!(
    openai_aac_is_503_naming_the_setting,
    native_tts_aac_is_503_and_stores_nothing,
);
