//! `POST /api/v1/tts` with the built-in Piper voice over HTTP, on the filesystem store
//! and a real S3 server: real speech out of the box, both response modes, every export
//! format, project folders, speed and trim, sidecars, and every refusal leaving nothing
//! behind.

// Test helpers outside #[test] functions unwrap too: a failed step ends the test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::{Value, json};
use tests::fixtures::decode;
use tests::{Backend, TestApp, for_each_persistent_backend, stored_keys};

fn rms(samples: &[f32]) -> f64 {
    (samples.iter().map(|s| f64::from(*s).powi(2)).sum::<f64>() / samples.len().max(1) as f64)
        .sqrt()
}

async fn tts(app: &TestApp, query: &str, body: Value) -> tests::TestResponse {
    app.post_json(&format!("/api/v1/tts{query}"), &body).await
}

async fn hello_world_is_speech_from_the_builtin_voice(b: Backend) {
    let app = TestApp::new(&b);
    let response = tts(&app, "", json!({"text": "Hello world."})).await;
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(response.header("content-type"), Some("audio/wav"));
    let disposition = response.header("content-disposition").unwrap();
    assert!(
        disposition.starts_with("attachment; filename=\"tts_") && disposition.ends_with(".wav\""),
        "{disposition}"
    );
    let alternatives = response.header("x-alternative-formats").unwrap();
    assert!(
        alternatives.starts_with("mp3:/outputs/tts_"),
        "{alternatives}"
    );
    // No seed reproduces the built-in voice's audio, so none is reported.
    assert_eq!(response.header("x-generation-seed"), None);

    let pcm = decode(&response.body, "wav");
    assert_eq!(pcm.sample_rate, 22_050);
    assert_eq!(pcm.channels, 1);
    let seconds = pcm.duration_seconds();
    assert!(
        (0.5..3.0).contains(&seconds),
        "\"Hello world.\" lasted {seconds} s"
    );
    assert!(rms(&pcm.samples) > 0.01, "speech is not silent");

    // One wav, one mp3, each with its generation sidecar beside it, and the day's usage
    // statistics; nothing else.
    let keys = stored_keys(b.store.as_ref(), "").await;
    assert_eq!(keys.len(), 5, "{keys:?}");
    assert!(
        keys.iter().any(|k| k.starts_with("stats/usage/")),
        "{keys:?}"
    );
    let wav = keys.iter().find(|k| k.ends_with(".wav")).unwrap();
    assert!(
        wav.starts_with("outputs/tts_") && !wav.contains("_temp"),
        "the built-in voice takes no temperature, so its names carry none: {wav}"
    );
    let sidecar = b
        .store
        .get(&storage::Key::new(format!("{wav}.json")).unwrap())
        .await
        .unwrap();
    let sidecar: Value = serde_json::from_slice(&sidecar).unwrap();
    assert_eq!(sidecar["type"], "tts");
    assert_eq!(sidecar["parameters"]["text"], "Hello world.");
    assert_eq!(sidecar["parameters"]["model"], "piper");
    assert_eq!(sidecar["generation_info"]["engine"], "piper");
    assert_eq!(sidecar["sample_rate"], 22_050);
    assert!(sidecar["files"]["mp3"].as_str().unwrap().ends_with(".mp3"));
    // The output listing shows it as a TTS output with its parameters.
    let listing = app.get("/api/v1/outputs").await.json();
    assert_eq!(listing["total_files"], 2);
    assert_eq!(listing["files"][0]["generation_type"], "tts");
}

async fn url_mode_answers_json_and_every_file_downloads(b: Backend) {
    let app = TestApp::new(&b);
    let response = tts(
        &app,
        "?response_mode=url",
        json!({"text": "Good morning. How are you today?", "seed": 42}),
    )
    .await;
    assert_eq!(response.status, 200, "{}", response.text());
    let body = response.json();
    assert_eq!(body["success"], true);
    assert_eq!(body["message"], "TTS generation completed successfully");
    // The built-in voice draws its noise inside its graph: the seed is named as unused.
    assert_eq!(body["generation_seed_used"], Value::Null);
    assert_eq!(body["model"], "piper");
    assert_eq!(body["sample_rate"], 22_050);
    let warnings = body["warnings"].as_array().unwrap();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0]
            .as_str()
            .unwrap()
            .starts_with("seed 42 is not used by the built-in voice"),
        "{warnings:?}"
    );
    let files = body["output_files"].as_array().unwrap();
    assert_eq!(files.len(), 2);
    for file in files {
        let name = file["filename"].as_str().unwrap();
        // The seed was not used, so the name does not claim it.
        assert!(
            !name.contains("seed42") && !name.contains("_temp"),
            "{name}"
        );
        assert_eq!(file["url"], format!("/outputs/{name}"));
        assert_eq!(file["path"], name);
        let download = app.get(file["url"].as_str().unwrap()).await;
        assert_eq!(download.status, 200);
        assert_eq!(
            download.body.len() as u64,
            file["size_bytes"].as_u64().unwrap()
        );
    }
    let pcm = decode(
        &app.get(files[0]["url"].as_str().unwrap()).await.body,
        "wav",
    );
    // Two sentences: longer than one short one, and nothing dropped.
    assert!(pcm.duration_seconds() > 1.2, "{}", pcm.duration_seconds());
    // The sidecar does not claim a seed either.
    let sidecar = b
        .store
        .get(
            &storage::Key::new(format!(
                "outputs/{}.json",
                files[0]["path"].as_str().unwrap()
            ))
            .unwrap(),
        )
        .await
        .unwrap();
    let sidecar: Value = serde_json::from_slice(&sidecar).unwrap();
    assert_eq!(
        sidecar["generation_info"]["seed_used"],
        Value::Null,
        "{sidecar}"
    );
    assert_eq!(sidecar["parameters"]["seed"], Value::Null, "{sidecar}");
}

async fn every_export_format_is_written_and_return_format_picks_the_stream(b: Backend) {
    tests::engines::ffmpeg();
    let app = TestApp::new(&b);
    let formats = ["wav", "wav32", "mp3", "flac", "opus", "aac", "pcm"];
    let response = tts(
        &app,
        "?return_format=flac",
        json!({"text": "Formats.", "export_formats": formats}),
    )
    .await;
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(response.header("content-type"), Some("audio/flac"));
    assert!(response.body.starts_with(b"fLaC"));
    let alternatives = response.header("x-alternative-formats").unwrap();
    assert_eq!(alternatives.split('|').count(), 6, "{alternatives}");

    let keys = stored_keys(b.store.as_ref(), "outputs").await;
    let audio: Vec<&String> = keys.iter().filter(|k| !k.ends_with(".json")).collect();
    assert_eq!(audio.len(), 7, "{keys:?}");
    assert_eq!(keys.len(), 14, "every file has its sidecar: {keys:?}");
    for key in audio {
        let bytes = b
            .store
            .get(&storage::Key::new(key.as_str()).unwrap())
            .await
            .unwrap();
        let magic_ok = match key.rsplit('.').next().unwrap() {
            "wav" => bytes.starts_with(b"RIFF"),
            "mp3" => bytes.starts_with(b"ID3") || (bytes[0] == 0xFF && bytes[1] & 0xE0 == 0xE0),
            "flac" => bytes.starts_with(b"fLaC"),
            "opus" => bytes.starts_with(b"OggS"),
            "aac" => {
                tests::engines::is_adts(&bytes) && decode(&bytes, "aac").duration_seconds() > 0.3
            }
            "pcm" => bytes.len() > 1000 && bytes.len() % 2 == 0,
            other => panic!("unexpected extension {other}"),
        };
        assert!(magic_ok, "{key} does not look like its format");
    }
}

async fn project_folders_hold_the_outputs(b: Backend) {
    let app = TestApp::new(&b);
    let response = tts(
        &app,
        "?response_mode=url",
        json!({"text": "Chapter one.", "project": "book/ch1", "export_formats": ["wav"]}),
    )
    .await;
    assert_eq!(response.status, 200, "{}", response.text());
    let file = &response.json()["output_files"][0];
    let name = file["filename"].as_str().unwrap();
    assert_eq!(file["path"], format!("book/ch1/{name}"));
    assert_eq!(file["url"], format!("/outputs/book/ch1/{name}"));
    let keys = stored_keys(b.store.as_ref(), "outputs/book/ch1").await;
    assert_eq!(keys.len(), 2, "{keys:?}");
    // `folder` is an alias; the same value is fine, a different one is refused.
    let same = tts(
        &app,
        "",
        json!({"text": "Again.", "project": "p", "folder": "p", "export_formats": ["wav"]}),
    )
    .await;
    assert_eq!(same.status, 200);
    let clash = tts(
        &app,
        "",
        json!({"text": "Again.", "project": "p", "folder": "q"}),
    )
    .await;
    assert_eq!(clash.status, 422);
}

async fn speed_changes_duration_and_trim_is_named(b: Backend) {
    let app = TestApp::new(&b);
    let text = "The quick brown fox jumps over the lazy dog.";
    let normal = tts(
        &app,
        "",
        json!({"text": text, "export_formats": ["wav"], "seed": 7}),
    )
    .await;
    let fast = tts(
        &app,
        "",
        json!({"text": text, "export_formats": ["wav"], "seed": 7, "speed_factor": 2.0}),
    )
    .await;
    assert_eq!(fast.status, 200, "{}", fast.text());
    let normal = decode(&normal.body, "wav").duration_seconds();
    let fast_pcm = decode(&fast.body, "wav");
    let ratio = fast_pcm.duration_seconds() / normal;
    assert!(
        (0.4..0.6).contains(&ratio),
        "speed 2.0 gave {ratio} of the duration"
    );
    assert!(
        fast.header("content-disposition")
            .unwrap()
            .contains("_speed2.0.wav")
    );

    let trimmed = tts(
        &app,
        "?response_mode=url",
        json!({"text": text, "trim": true, "trim_threshold_ms": 100, "export_formats": ["wav"]}),
    )
    .await;
    assert_eq!(trimmed.status, 200, "{}", trimmed.text());
    let body = trimmed.json();
    let name = body["output_files"][0]["filename"].as_str().unwrap();
    assert!(name.ends_with("_trim100.wav"), "{name}");
    let sidecar = b
        .store
        .get(&storage::Key::new(format!("outputs/{name}.json")).unwrap())
        .await
        .unwrap();
    let sidecar: Value = serde_json::from_slice(&sidecar).unwrap();
    assert!(sidecar["generation_info"]["postprocess"]["trim_info"].is_object());
}

async fn unbuilt_features_are_reported_not_ignored(b: Backend) {
    let app = TestApp::new(&b);
    let response = tts(
        &app,
        "?response_mode=url",
        json!({"text": "Check.", "bypass_whisper_checking": false, "use_auto_editor": true,
               "disable_watermark": false, "export_formats": ["wav"]}),
    )
    .await;
    assert_eq!(response.status, 200, "{}", response.text());
    let warnings = response.json()["warnings"].as_array().unwrap().clone();
    assert_eq!(warnings.len(), 3, "{warnings:?}");
    let text = serde_json::to_string(&warnings).unwrap();
    assert!(text.contains("Whisper") && text.contains("auto-editor") && text.contains("watermark"));
    let streamed = tts(
        &app,
        "",
        json!({"text": "Check.", "use_auto_editor": true, "export_formats": ["wav"]}),
    )
    .await;
    assert!(
        streamed
            .header("x-speech-warnings")
            .unwrap()
            .contains("auto-editor")
    );
}

async fn bad_requests_are_refused_and_leave_nothing(b: Backend) {
    let app = TestApp::with_config(&b, |c| c.engines.max_text_length = 100);
    let cases: Vec<(Value, u16, &str)> = vec![
        (json!({"text": ""}), 422, "text"),
        (json!({"text": "   "}), 422, "text"),
        (json!({"text": "x".repeat(101)}), 422, "text"),
        (
            json!({"text": "Hi.", "temperature": 2.5}),
            422,
            "temperature",
        ),
        (
            json!({"text": "Hi.", "exaggeration": -0.1}),
            422,
            "exaggeration",
        ),
        (
            json!({"text": "Hi.", "speed_factor": 0.1}),
            422,
            "speed_factor",
        ),
        (
            json!({"text": "Hi.", "trim_threshold_ms": 20}),
            422,
            "trim_threshold_ms",
        ),
        (
            json!({"text": "Hi.", "num_candidates_per_chunk": 0}),
            422,
            "num_candidates_per_chunk",
        ),
        (json!({"text": "Hi.", "seed": -1}), 422, "seed"),
        (
            json!({"text": "Hi.", "whisper_model_name": "huge"}),
            422,
            "whisper_model_name",
        ),
        (
            json!({"text": "Hi.", "normalize_method": "loud"}),
            422,
            "normalize_method",
        ),
        (json!({"text": "Hi.", "model": "bark"}), 422, "model"),
        (
            json!({"text": "Hi.", "project": "../escape"}),
            422,
            "project",
        ),
        (json!({"text": "Hi.", "folder": "/abs"}), 422, "folder"),
        (json!({"text": "Hi.", "project": "unnamed"}), 422, "project"),
        (
            json!({"text": "Hi.", "reference_audio_filename": "../../etc/passwd"}),
            422,
            "reference_audio_filename",
        ),
        (
            json!({"text": "Hi.", "model": "piper", "reference_audio_filename": "someone"}),
            422,
            "reference_audio_filename",
        ),
        (
            json!({"text": "Hi.", "export_formats": ["wav", "aiff"]}),
            400,
            "",
        ),
        (
            json!({"text": "Hi.", "export_formats": []}),
            422,
            "export_formats",
        ),
        (json!({"text": 5}), 422, "text"),
        (
            json!({"text": "Hi.", "temperature": "hot"}),
            422,
            "temperature",
        ),
    ];
    for (body, status, param) in cases {
        let response = tts(&app, "", body.clone()).await;
        assert_eq!(response.status, status, "{body}: {}", response.text());
        let error = response.json();
        assert_eq!(error["success"], false, "{body}");
        if !param.is_empty() {
            assert_eq!(error["detail"]["param"], param, "{body}: {error}");
        }
    }
    let broken = app
        .request(
            http::Request::post("/api/v1/tts")
                .header("content-type", "application/json")
                .body(axum::body::Body::from("{\"text\": "))
                .unwrap(),
        )
        .await;
    assert_eq!(broken.status, 400);
    // A return_format the request will not write is refused before any work, not answered
    // with another format.
    // A body without text says the field is missing (not that it is empty).
    let missing_text = tts(&app, "", json!({"seed": 3})).await;
    let error = missing_text.assert_error(422, "VALIDATION_ERROR");
    assert_eq!(error["detail"]["param"], "text");
    assert!(
        error["error"].as_str().unwrap().contains("missing"),
        "{error}"
    );
    let unwritten = tts(&app, "?return_format=flac", json!({"text": "Hi."})).await;
    let error = unwritten.assert_error(400, "UNSUPPORTED_FORMAT");
    assert!(
        error["error"].as_str().unwrap().contains("wav, mp3"),
        "{error}"
    );
    // A reference voice needs Chatterbox; the voice is looked up first (404), then the
    // missing bundle is a 503 naming the setting.
    let missing = tts(
        &app,
        "",
        json!({"text": "Hi.", "reference_audio_filename": "nobody"}),
    )
    .await;
    assert_eq!(missing.status, 404, "{}", missing.text());
    assert!(stored_keys(b.store.as_ref(), "").await.is_empty());
}

async fn cloning_without_the_bundle_is_503_naming_the_setting(b: Backend) {
    let app = TestApp::new(&b);
    let voice = tests::multipart::Form::new().file(
        "voice_file",
        "narrator.wav",
        tests::fixtures::wav_tone(6.0, 24_000, 220.0),
    );
    assert_eq!(app.post_form("/api/v1/voice", &voice).await.status, 200);
    let response = tts(
        &app,
        "",
        json!({"text": "Hi.", "reference_audio_filename": "narrator"}),
    )
    .await;
    assert_eq!(response.status, 503, "{}", response.text());
    let error = response.json();
    assert_eq!(error["error_code"], "MODEL_NOT_INSTALLED");
    assert_eq!(error["detail"]["engine"], "chatterbox");
    let message = error["error"].as_str().unwrap();
    assert!(
        message.contains("SPEECH_CHATTERBOX_DIR") && message.contains("just models chatterbox"),
        "{message}"
    );
    assert!(stored_keys(b.store.as_ref(), "outputs").await.is_empty());
}

async fn a_full_queue_answers_503_with_retry_after(b: Backend) {
    let app = TestApp::with_config(&b, |c| {
        c.engines.max_concurrent_generations = 1;
        c.engines.max_queued_generations = 0;
    });
    // Load the voice first, so the burst measures the queue and not the loading.
    assert_eq!(
        tts(
            &app,
            "",
            json!({"text": "Warm up.", "export_formats": ["wav"]})
        )
        .await
        .status,
        200
    );
    let text = "This sentence is long enough to keep the engine busy for a while. And here is another one.";
    let requests = (0..4).map(|_| tts(&app, "", json!({"text": text, "export_formats": ["wav"]})));
    let responses = futures::future::join_all(requests).await;
    let ok = responses.iter().filter(|r| r.status == 200).count();
    let busy: Vec<_> = responses.iter().filter(|r| r.status == 503).collect();
    assert!(ok >= 1, "at least one request runs");
    assert!(
        !busy.is_empty(),
        "with no queue, overlapping requests are turned away"
    );
    for response in busy {
        assert_eq!(response.header("retry-after"), Some("5"));
        assert_eq!(response.json()["error_code"], "SERVER_BUSY");
    }
}

for_each_persistent_backend!(
    hello_world_is_speech_from_the_builtin_voice,
    url_mode_answers_json_and_every_file_downloads,
    every_export_format_is_written_and_return_format_picks_the_stream,
    project_folders_hold_the_outputs,
    speed_changes_duration_and_trim_is_named,
    unbuilt_features_are_reported_not_ignored,
    bad_requests_are_refused_and_leave_nothing,
    cloning_without_the_bundle_is_503_naming_the_setting,
    a_full_queue_answers_503_with_retry_after,
);
