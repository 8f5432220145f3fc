//! Other servers' routes that popular clients call, over HTTP on the filesystem store and a
//! real S3 server: SillyTavern's "Chatterbox" TTS provider (written for
//! devnen/Chatterbox-TTS-Server), with the exact requests its `chatterbox.js` sends.

// Test helpers outside #[test] functions unwrap too: a failed step ends the test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::{Value, json};
use tests::engines::{chatterbox_standins, standin_audio};
use tests::fixtures::decode;
use tests::multipart::Form;
use tests::{Backend, TestApp, for_each_persistent_backend, stored_keys};

/// The body `_fetchSingleTts` posts with the provider's default settings.
fn provider_body(text: &str, voice: Value) -> Value {
    let mut body = json!({
        "text": text, "temperature": 0.8, "exaggeration": 0.5, "cfg_weight": 0.5,
        "seed": 1234, "speed_factor": 1.0, "language": "en", "split_text": true,
        "chunk_size": 120, "output_format": "wav",
    });
    for (key, value) in voice.as_object().unwrap() {
        body[key] = value.clone();
    }
    body
}

async fn sillytavern_lists_voices_and_speaks_whole_files(b: Backend) {
    let app = TestApp::with_config(&b, |c| {
        c.engines.chatterbox_dir = Some(chatterbox_standins("original"));
        c.cors_allow_origins = vec!["loopback".into()];
    });
    // checkReady: the base URL answers 200.
    assert_eq!(app.get("/").await.status, 200);
    // fetchTtsVoiceObjects: predefined voices, then reference files.
    let predefined = app.get("/get_predefined_voices").await.ok_json();
    let ids: Vec<&str> = predefined
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            assert!(
                v["display_name"].is_string() && v["language"] == "en",
                "{v}"
            );
            v["voice_id"].as_str().unwrap()
        })
        .collect();
    assert!(
        ids.contains(&"en_US-joe-medium") && ids.contains(&"alloy"),
        "{ids:?}"
    );
    let voice = Form::new().text("folder_path", "cast").file(
        "voice_file",
        "anna.wav",
        standin_audio("ref_7s.wav"),
    );
    assert_eq!(app.post_form("/api/v1/voice", &voice).await.status, 200);
    let references = app.get("/get_reference_files").await.ok_json();
    assert_eq!(references, json!(["cast/anna.wav"]));

    // A predefined voice: the built-in voice, as a WAV whose sizes are filled in (the
    // provider decodes it with decodeAudioData).
    let response = app
        .post_json(
            "/tts",
            &provider_body(
                "Hello! This is a preview of the selected voice.",
                json!({"voice_mode": "predefined", "predefined_voice_id": "en_US-joe-medium"}),
            ),
        )
        .await;
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(response.header("content-type"), Some("audio/wav"));
    let riff = u32::from_le_bytes(response.body[4..8].try_into().unwrap());
    assert_eq!(riff as usize, response.body.len() - 8);
    let pcm = decode(&response.body, "wav");
    assert_eq!(pcm.sample_rate, 24_000);
    assert!(
        (1.5..8.0).contains(&pcm.duration_seconds()),
        "{}",
        pcm.duration_seconds()
    );
    // The built-in voice takes no seed: said, not pretended.
    assert!(
        response
            .header("x-speech-warnings")
            .is_some_and(|w| w.contains("seed 1234 is not used")),
        "{:?}",
        response.header("x-speech-warnings")
    );

    // The provider's own default voice id ("S1") is another server's: the built-in voice
    // speaks and the answer says so.
    let fallback = app
        .post_json(
            "/tts",
            &provider_body(
                "Hi.",
                json!({"voice_mode": "predefined", "predefined_voice_id": "S1"}),
            ),
        )
        .await;
    assert_eq!(fallback.status, 200, "{}", fallback.text());
    assert!(
        fallback
            .header("x-speech-warnings")
            .is_some_and(|w| w.contains("\"S1\" is not one of this server's voices")),
        "{:?}",
        fallback.header("x-speech-warnings")
    );

    // A reference voice ("[Clone] cast/anna.wav" in its menu, sent without the ref_
    // prefix): Chatterbox clones it, Opus on request.
    let cloned = app
        .post_json(
            "/tts",
            &provider_body(
                "Hi there.",
                json!({"voice_mode": "clone", "reference_audio_filename": "cast/anna.wav",
                       "output_format": "opus", "temperature": 0}),
            ),
        )
        .await;
    assert_eq!(cloned.status, 200, "{}", cloned.text());
    assert!(cloned.body.starts_with(b"OggS"));
    assert_eq!(decode(&cloned.body, "opus").sample_rate, 24_000);

    // Bad input is a clear 4xx and nothing is ever stored: these routes only answer.
    app.post_json("/tts", &provider_body("  ", json!({})))
        .await
        .assert_error(422, "VALIDATION_ERROR");
    app.post_json(
        "/tts",
        &provider_body(
            "Hi.",
            json!({"voice_mode": "clone", "reference_audio_filename": "nobody"}),
        ),
    )
    .await
    .assert_error(404, "RESOURCE_NOT_FOUND");
    app.post_json(
        "/tts",
        &provider_body("Hi.", json!({"output_format": "aiff"})),
    )
    .await
    .assert_error(422, "VALIDATION_ERROR");
    let keys = stored_keys(b.store.as_ref(), "").await;
    assert!(
        keys.iter()
            .all(|k| k.starts_with("voices/") || k.starts_with("stats/usage/")),
        "only the uploaded voice (and the usage statistics) is stored: {keys:?}"
    );

    // The provider runs in the browser: its preflight (JSON and Cache-Control) from a
    // loopback page is granted.
    let preflight = app
        .request(
            http::Request::builder()
                .method("OPTIONS")
                .uri("/tts")
                .header("origin", "http://localhost:8000")
                .header("access-control-request-method", "POST")
                .header(
                    "access-control-request-headers",
                    "cache-control,content-type",
                )
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(
        preflight.header("access-control-allow-origin"),
        Some("http://localhost:8000")
    );
    let granted = preflight.header("access-control-allow-headers").unwrap();
    assert!(granted.contains("cache-control"), "{granted}");
}

async fn sillytavern_streams_into_an_audio_element(b: Backend) {
    let app = TestApp::new(&b);
    // generateTts in streaming mode hands this URL to an <audio> element.
    let url = "/tts-stream?text=First+sentence.+Second+sentence.&voice_mode=predefined\
               &temperature=0.8&exaggeration=0.5&cfg_weight=0.5&seed=-1&speed_factor=1\
               &language=en&output_format=wav&predefined_voice_id=en_US-joe-medium";
    let response = app.get(url).await;
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(response.header("content-type"), Some("audio/wav"));
    // No seed was asked for, so nothing is said about one.
    assert_eq!(response.header("x-speech-warnings"), None);
    let pcm = decode(&response.body, "wav");
    assert_eq!(pcm.sample_rate, 24_000);
    assert!(pcm.duration_seconds() > 1.0, "{}", pcm.duration_seconds());
    let faster = app
        .get(&url.replace("speed_factor=1", "speed_factor=2"))
        .await;
    let ratio = pcm.duration_seconds() / decode(&faster.body, "wav").duration_seconds();
    // Two separate syntheses: the built-in voice draws its timing noise afresh each time
    // (two short sentences vary by up to ~20%), so the band is wide; ignoring the speed
    // would give about 1.
    assert!(
        (1.4..2.8).contains(&ratio),
        "speed 2 gave {ratio}x shorter audio"
    );
    // Without text: a 422 naming the missing field.
    let missing = app
        .get("/tts-stream?voice_mode=predefined")
        .await
        .assert_error(422, "VALIDATION_ERROR");
    assert!(
        missing["error"].as_str().unwrap().contains("text"),
        "{missing}"
    );
}

for_each_persistent_backend!(
    sillytavern_lists_voices_and_speaks_whole_files,
    sillytavern_streams_into_an_audio_element,
);

/// `POST /tts` holds the whole file before sending it: on the memory budget, so a file
/// larger than the whole budget is a 413 (and one that fits is sent with its length).
#[tokio::test]
async fn sillytavern_whole_files_count_against_the_memory_budget() {
    let app = TestApp::with_config(&Backend::memory(), |c| c.limits.memory_budget_mb = 1);
    let voice = json!({"voice_mode": "predefined", "predefined_voice_id": "en_US-joe-medium"});
    let short = app
        .post_json("/tts", &provider_body("Hello.", voice.clone()))
        .await;
    assert_eq!(short.status, 200, "{}", short.text());
    assert_eq!(
        short.header("content-length"),
        Some(short.body.len().to_string().as_str())
    );
    // About 40 s of 24 kHz 16-bit audio: some 2 MB, twice the budget.
    let long: String = (1..=12)
        .map(|n| format!("This is sentence number {n} of a long test paragraph for the budget."))
        .collect::<Vec<_>>()
        .join(" ");
    app.post_json("/tts", &provider_body(&long, voice))
        .await
        .assert_error(413, "FILE_TOO_LARGE");
}
