//! Voice cloning (`POST /api/v1/tts` with a reference voice) and voice conversion
//! (`POST /api/v1/vc`) over HTTP with the Chatterbox stand-in bundle, on the filesystem
//! store and a real S3 server: lengths the graphs imply, seed determinism, the cached
//! conditioning, usage counts under concurrency, uploads, and refusals leaving nothing.

// Test helpers outside #[test] functions unwrap too: a failed step ends the test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::{Value, json};
use storage::Key;
use tests::engines::{chatterbox_standins, standin_audio};
use tests::fixtures::decode;
use tests::multipart::Form;
use tests::{Backend, TestApp, for_each_persistent_backend, stored_keys};

/// The app with the original-family stand-in bundle installed.
fn app_with_bundle(b: &Backend) -> TestApp {
    TestApp::with_config(b, |c| {
        c.engines.chatterbox_dir = Some(chatterbox_standins("original"));
        c.engines.max_concurrent_generations = 2;
    })
}

/// Stores `voices/narrators/anna.wav` (the 7 s stand-in reference) and
/// `vc_inputs/take1.wav` (the 3 s source).
async fn seed(app: &TestApp) {
    let voice = Form::new().text("folder_path", "narrators").file(
        "voice_file",
        "anna.wav",
        standin_audio("ref_7s.wav"),
    );
    assert_eq!(app.post_form("/api/v1/voice", &voice).await.status, 200);
    let input = Form::new().file("vc_input_file", "take1.wav", standin_audio("src_3s.wav"));
    assert_eq!(app.post_form("/api/v1/vc_input", &input).await.status, 200);
}

async fn sidecar(b: &Backend, key: &str) -> Value {
    let bytes = b.store.get(&Key::new(key).unwrap()).await.unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

/// The sidecar of the output a stream-mode response carried (named in Content-Disposition).
async fn streamed_sidecar(b: &Backend, response: &tests::TestResponse) -> Value {
    let disposition = response.header("content-disposition").unwrap();
    let name = disposition.split('"').nth(1).unwrap();
    sidecar(b, &format!("outputs/{name}.json")).await
}

async fn cloning_speaks_in_960_sample_tokens_and_caches_the_voice(b: Backend) {
    let app = app_with_bundle(&b);
    seed(&app).await;
    // Greedy, so the stand-in's stop rule fixes the length: "Hi." is 10 tokens.
    let body = json!({"text": "Hi.", "reference_audio_filename": "anna", "temperature": 0,
                      "cfg_weight": 0, "to_lowercase": false, "export_formats": ["wav32"]});
    let first = app.post_json("/api/v1/tts", &body).await;
    assert_eq!(first.status, 200, "{}", first.text());
    let pcm = decode(&first.body, "wav");
    assert_eq!(pcm.sample_rate, 24_000);
    assert_eq!(pcm.samples.len(), 9_600, "10 tokens of 960 samples");

    let info = streamed_sidecar(&b, &first).await;
    assert_eq!(info["parameters"]["model"], "chatterbox");
    assert_eq!(info["generation_info"]["voice_conditioning"], "computed");
    assert_eq!(info["generation_info"]["chunks"][0]["speech_tokens"], 10);
    assert_eq!(info["generation_info"]["chunks"][0]["stopped"], true);
    assert_eq!(info["source_files"], json!(["narrators/anna.wav"]));
    // The conditioning is stored beside the voice and reused.
    assert!(
        stored_keys(b.store.as_ref(), "voices")
            .await
            .contains(&"voices/narrators/anna.wav.cond".to_owned())
    );
    let second = app.post_json("/api/v1/tts", &body).await;
    assert_eq!(second.status, 200);
    assert_eq!(second.body, first.body, "greedy decoding is deterministic");
    let info = streamed_sidecar(&b, &second).await;
    assert_eq!(info["generation_info"]["voice_conditioning"], "memory");
    // A fresh process (same store) reads the stored conditioning instead of encoding again.
    let fresh = app_with_bundle(&b);
    let third = fresh
        .post_json("/api/v1/tts?response_mode=url", &body)
        .await;
    assert_eq!(third.status, 200, "{}", third.text());
    let name = third.json()["output_files"][0]["filename"]
        .as_str()
        .unwrap()
        .to_owned();
    let info = sidecar(&b, &format!("outputs/{name}.json")).await;
    assert_eq!(info["generation_info"]["voice_conditioning"], "store");
    // Every use was counted.
    let voice = sidecar(&b, "voices/narrators/anna.wav.json").await;
    assert_eq!(voice["usage_count"], 3);
    assert!(voice["last_used"].is_string());
}

async fn same_seed_same_audio_and_longer_text_longer_audio(b: Backend) {
    let app = app_with_bundle(&b);
    seed(&app).await;
    let request = |text: &str, seed: u64| {
        json!({"text": text, "reference_audio_filename": "narrators/anna.wav", "temperature": 0.8,
               "seed": seed, "num_candidates_per_chunk": 2, "exaggeration": 1.5, "export_formats": ["wav"]})
    };
    let a = app
        .post_json("/api/v1/tts", &request("Hello there, world.", 11))
        .await;
    let b2 = app
        .post_json("/api/v1/tts", &request("Hello there, world.", 11))
        .await;
    assert_eq!(a.status, 200, "{}", a.text());
    assert_eq!(a.body, b2.body, "same seed and input, same audio");
    assert_eq!(a.header("x-generation-seed"), Some("11"));
    let name = a.header("content-disposition").unwrap();
    assert!(name.contains("_temp0.8_seed11_exag1.5.wav"), "{name}");
    let short = decode(
        &app.post_json("/api/v1/tts", &request("Hi.", 11)).await.body,
        "wav",
    );
    let long = decode(&a.body, "wav");
    assert!(long.samples.len() > short.samples.len());
    assert_eq!(long.samples.len() % 960, 0);
}

async fn concurrent_uses_are_all_counted(b: Backend) {
    let app = app_with_bundle(&b);
    seed(&app).await;
    let body = json!({"text": "Hi.", "reference_audio_filename": "anna", "temperature": 0, "export_formats": ["wav"]});
    let responses =
        futures::future::join_all((0..6).map(|_| app.post_json("/api/v1/tts", &body))).await;
    for response in &responses {
        assert_eq!(response.status, 200, "{}", response.text());
    }
    let voice = sidecar(&b, "voices/narrators/anna.wav.json").await;
    assert_eq!(voice["usage_count"], 6, "no update lost");
    assert_eq!(
        voice["name"], "anna",
        "the upload's metadata survives the counting"
    );
}

async fn vc_from_a_stored_input_keeps_the_length(b: Backend) {
    let app = app_with_bundle(&b);
    seed(&app).await;
    let response = app
        .post_json(
            "/api/v1/vc",
            &json!({"input_audio_source": "take1", "target_voice_source": "anna"}),
        )
        .await;
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(response.header("content-type"), Some("audio/wav"));
    let disposition = response.header("content-disposition").unwrap();
    assert!(disposition.contains("_voiceanna.wav"), "{disposition}");
    assert!(
        response
            .header("x-alternative-formats")
            .unwrap()
            .starts_with("mp3:/outputs/vc_")
    );
    let pcm = decode(&response.body, "wav");
    assert_eq!(pcm.sample_rate, 24_000);
    assert_eq!(pcm.samples.len(), 72_000, "3 s in, 3 s out");
    let info = streamed_sidecar(&b, &response).await;
    assert_eq!(info["type"], "vc");
    assert_eq!(info["parameters"]["input_audio_source"], "take1.wav");
    assert_eq!(
        info["parameters"]["target_voice_source"],
        "narrators/anna.wav"
    );
    assert_eq!(
        sidecar(&b, "voices/narrators/anna.wav.json").await["usage_count"],
        1
    );
}

async fn vc_chunks_crossfade_to_the_source_length(b: Backend) {
    let app = app_with_bundle(&b);
    seed(&app).await;
    let response = app
        .post_json(
            "/api/v1/vc?response_mode=url",
            &json!({"input_audio_source": "take1.wav", "target_voice_source": "anna",
                    "chunk_sec": 1, "overlap_sec": 0.2, "export_formats": ["flac"], "project": "vc"}),
        )
        .await;
    assert_eq!(response.status, 200, "{}", response.text());
    let body = response.json();
    assert_eq!(body["message"], "Voice conversion completed successfully");
    let file = &body["output_files"][0];
    let name = file["filename"].as_str().unwrap();
    assert!(
        name.ends_with("_chunk1_overlap0.2_voiceanna.flac"),
        "{name}"
    );
    assert_eq!(file["path"], format!("vc/{name}"));
    let pcm = decode(&app.get(file["url"].as_str().unwrap()).await.body, "flac");
    let seconds = pcm.duration_seconds();
    assert!(
        (seconds - 3.0).abs() < 0.05,
        "chunked conversion lasted {seconds} s"
    );
}

async fn vc_upload_converts_without_storing_the_upload(b: Backend) {
    let app = app_with_bundle(&b);
    seed(&app).await;
    let form = Form::new()
        .file("input_audio", "mine.wav", standin_audio("src_3s.wav"))
        .text("target_voice_source", "anna")
        .text("export_formats", "wav,opus");
    let response = app.post_form("/api/v1/vc?response_mode=url", &form).await;
    assert_eq!(response.status, 200, "{}", response.text());
    let files = response.json()["output_files"].as_array().unwrap().clone();
    assert_eq!(files.len(), 2);
    assert_eq!(
        stored_keys(b.store.as_ref(), "vc_inputs").await.len(),
        2,
        "only take1 and its sidecar"
    );
}

async fn vc_refusals_leave_nothing(b: Backend) {
    let app = app_with_bundle(&b);
    seed(&app).await;
    let before = stored_keys(b.store.as_ref(), "").await;
    let cases: Vec<(Value, u16)> = vec![
        (
            json!({"input_audio_source": "take1", "target_voice_source": ""}),
            422,
        ),
        (
            json!({"input_audio_source": "take1", "target_voice_source": "nobody"}),
            404,
        ),
        (
            json!({"input_audio_source": "missing", "target_voice_source": "anna"}),
            404,
        ),
        (
            json!({"input_audio_source": "../voices/narrators/anna.wav", "target_voice_source": "anna"}),
            422,
        ),
        (
            json!({"input_audio_source": "take1", "target_voice_source": "anna", "chunk_sec": 0}),
            422,
        ),
        (
            json!({"input_audio_source": "take1", "target_voice_source": "anna", "chunk_sec": 2, "overlap_sec": 2.0}),
            422,
        ),
        (
            json!({"input_audio_source": "take1", "target_voice_source": "anna", "export_formats": ["xyz"]}),
            400,
        ),
        (
            json!({"input_audio_source": "https://example.com/a.wav", "target_voice_source": "anna"}),
            422,
        ),
    ];
    for (body, status) in cases {
        let response = app.post_json("/api/v1/vc", &body).await;
        assert_eq!(response.status, status, "{body}: {}", response.text());
        assert_eq!(response.json()["success"], false);
    }
    let not_audio = Form::new()
        .file("input_audio", "notes.wav", b"this is not audio".to_vec())
        .text("target_voice_source", "anna");
    assert_eq!(app.post_form("/api/v1/vc", &not_audio).await.status, 415);
    let text_file = Form::new()
        .file("input_audio", "notes.txt", b"hello".to_vec())
        .text("target_voice_source", "anna");
    assert_eq!(app.post_form("/api/v1/vc", &text_file).await.status, 415);
    let neither = app
        .request(
            http::Request::post("/api/v1/vc")
                .body(axum::body::Body::from("x"))
                .unwrap(),
        )
        .await;
    assert_eq!(neither.status, 400);
    let without_bundle = TestApp::new(&b)
        .post_json(
            "/api/v1/vc",
            &json!({"input_audio_source": "take1", "target_voice_source": "anna"}),
        )
        .await;
    assert_eq!(without_bundle.status, 503);
    assert_eq!(without_bundle.json()["error_code"], "MODEL_NOT_INSTALLED");
    assert_eq!(
        stored_keys(b.store.as_ref(), "").await,
        before,
        "nothing written, nothing counted"
    );
}

async fn deleting_a_voice_removes_its_cached_conditioning(b: Backend) {
    let app = app_with_bundle(&b);
    seed(&app).await;
    let body = json!({"text": "Hi.", "reference_audio_filename": "anna", "temperature": 0, "export_formats": ["wav"]});
    assert_eq!(app.post_json("/api/v1/tts", &body).await.status, 200);
    assert_eq!(
        app.delete("/api/v1/voice/anna.wav?confirm=true")
            .await
            .status,
        200
    );
    assert!(stored_keys(b.store.as_ref(), "voices").await.is_empty());
}

/// The text the engine was given, from the generation sidecar's chunk reports.
async fn spoken_text(b: &Backend, app: &TestApp, body: Value) -> String {
    let response = app.post_json("/api/v1/tts?response_mode=url", &body).await;
    assert_eq!(response.status, 200, "{}", response.text());
    let name = response.json()["output_files"][0]["filename"]
        .as_str()
        .unwrap()
        .to_owned();
    let info = sidecar(b, &format!("outputs/{name}.json")).await;
    info["generation_info"]["chunks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["text"].as_str().unwrap().to_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

async fn text_is_normalised_before_the_engine_unless_turned_off(b: Backend) {
    let app = app_with_bundle(&b);
    seed(&app).await;
    let text = "**Note:** it costs $3.50 on 2024-03-05, see https://example.com 🎉";
    let body = |normalize: bool| {
        json!({"text": text, "reference_audio_filename": "anna", "temperature": 0,
               "to_lowercase": false, "normalize_text": normalize, "export_formats": ["wav"]})
    };
    let spoken = spoken_text(&b, &app, body(true)).await;
    assert!(spoken.contains("three dollars and fifty cents"), "{spoken}");
    assert!(
        spoken.contains("March fifth, twenty twenty-four"),
        "{spoken}"
    );
    assert!(spoken.contains("example dot com"), "{spoken}");
    assert!(!spoken.contains('*') && !spoken.contains('🎉'), "{spoken}");
    let raw = spoken_text(&b, &app, body(false)).await;
    assert!(raw.contains("$3.50"), "{raw}");
}

for_each_persistent_backend!(
    text_is_normalised_before_the_engine_unless_turned_off,
    cloning_speaks_in_960_sample_tokens_and_caches_the_voice,
    same_seed_same_audio_and_longer_text_longer_audio,
    concurrent_uses_are_all_counted,
    vc_from_a_stored_input_keeps_the_length,
    vc_chunks_crossfade_to_the_source_length,
    vc_upload_converts_without_storing_the_upload,
    vc_refusals_leave_nothing,
    deleting_a_voice_removes_its_cached_conditioning,
);
