//! Both concatenation endpoints over HTTP, on the filesystem store and a real S3
//! server: silence tokens, seeded pauses, crossfade, trim, levelling, every export
//! format, stream and url modes, uploads reused by index, and every refusal leaving
//! nothing behind.

// Test helpers outside #[test] functions unwrap too: a failed step ends the test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use bytes::Bytes;
use serde_json::{Value, json};
use storage::{Key, ObjectStore};
use tests::fixtures::{decode, fixture, wav_padded, wav_tone};
use tests::multipart::Form;
use tests::stored_keys;
use tests::{Backend, TestApp, for_each_persistent_backend};

/// Three outputs: `a.wav` (1 s, 22.05 kHz), `book/b.wav` (0.5 s, 16 kHz), `c.flac` (1 s fixture).
async fn seed(store: &dyn ObjectStore) {
    store
        .put(
            &Key::new("outputs/a.wav").unwrap(),
            Bytes::from(wav_tone(1.0, 22_050, 440.0)),
        )
        .await
        .unwrap();
    store
        .put(
            &Key::new("outputs/book/b.wav").unwrap(),
            Bytes::from(wav_tone(0.5, 16_000, 220.0)),
        )
        .await
        .unwrap();
    store
        .put(
            &Key::new("outputs/c.flac").unwrap(),
            Bytes::from(fixture("tone.flac")),
        )
        .await
        .unwrap();
}

async fn post_concat(app: &TestApp, query: &str, body: Value) -> tests::TestResponse {
    let request = http::Request::post(format!("/api/v1/concat{query}"))
        .header("content-type", "application/json")
        .body(axum::body::Body::from(body.to_string()))
        .unwrap();
    app.request(request).await
}

fn seconds(pcm: &audio::Pcm) -> f64 {
    pcm.duration_seconds()
}

async fn silence_tokens_stream_the_first_format(b: Backend) {
    let app = TestApp::new(&b);
    seed(b.store.as_ref()).await;
    let response = post_concat(
        &app,
        "",
        json!({"files": ["a.wav", "(500ms)", "book/b.wav", "(0.25s)", "c.flac"], "export_formats": ["wav", "mp3"], "project": "joined"}),
    )
    .await;
    assert_eq!(
        response.status,
        200,
        "{}",
        String::from_utf8_lossy(&response.body)
    );
    assert_eq!(response.header("content-type"), Some("audio/wav"));
    let disposition = response.header("content-disposition").unwrap();
    assert!(
        disposition.starts_with("attachment; filename=\"concat_"),
        "{disposition}"
    );
    assert!(
        disposition.ends_with("_3files_sil2_leveled.wav\""),
        "{disposition}"
    );
    let alternatives = response.header("x-alternative-formats").unwrap();
    assert!(
        alternatives.starts_with("mp3:/outputs/joined/concat_") && alternatives.ends_with(".mp3"),
        "{alternatives}"
    );
    let pcm = decode(&response.body, "wav");
    assert_eq!(pcm.sample_rate, 22_050, "the highest input rate");
    assert!(
        (seconds(&pcm) - 3.25).abs() < 0.002,
        "1 + 0.5 + 0.5 + 0.25 + 1 s, got {}",
        seconds(&pcm)
    );

    // Both formats and their sidecars are stored in the project folder; the mp3 has the same timeline.
    let keys = stored_keys(b.store.as_ref(), "outputs").await;
    let stored: Vec<&String> = keys
        .iter()
        .filter(|k| k.starts_with("outputs/joined/"))
        .collect();
    assert_eq!(stored.len(), 4, "{keys:?}");
    let mp3_key = stored.iter().find(|k| k.ends_with(".mp3")).unwrap();
    let mp3 = b
        .store
        .get(&Key::new(mp3_key.as_str()).unwrap())
        .await
        .unwrap();
    assert!((seconds(&decode(&mp3, "mp3")) - 3.25).abs() < 0.01);
    let sidecar: Value = serde_json::from_slice(
        &b.store
            .get(&Key::new(format!("{mp3_key}.json")).unwrap())
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(sidecar["type"], "concat");
    assert_eq!(sidecar["format"], "mp3");
    assert_eq!(sidecar["parameters"]["files"][1], "(500ms)");
    assert_eq!(sidecar["parameters"]["project"], "joined");
    assert!(sidecar["files"]["wav"].as_str().unwrap().ends_with(".wav"));
    assert_eq!(
        sidecar["source_files"],
        json!(["a.wav", "book/b.wav", "c.flac"])
    );
    assert!((sidecar["duration_seconds"].as_f64().unwrap() - 3.25).abs() < 0.002);

    // The listing sees them as concat outputs with their parameters.
    let listed = app.get("/api/v1/outputs?project=joined").await.ok_json();
    assert_eq!(listed["total_files"], 2);
    assert!(
        listed["files"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["generation_type"] == "concat")
    );
    assert_eq!(
        listed["files"][0]["parameters"]["export_formats"],
        json!(["wav", "mp3"])
    );
}

async fn seeded_pauses_are_reproducible_and_never_trail(b: Backend) {
    let app = TestApp::new(&b);
    seed(b.store.as_ref()).await;
    let body = json!({"files": ["a.wav", "c.flac", "a.wav"], "pause_duration_ms": 400, "pause_variation_ms": 100, "seed": 42});
    let first = post_concat(&app, "?response_mode=url", body.clone())
        .await
        .ok_json();
    let second = post_concat(&app, "?response_mode=url", body)
        .await
        .ok_json();
    assert_eq!(
        first["message"],
        "Audio concatenation completed successfully"
    );
    let meta = &first["metadata"];
    assert_eq!(meta["seed"], 42);
    assert_eq!(meta["natural_pauses"], 2);
    let pauses: Vec<u64> = meta["processing_details"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["type"] == "natural_pause")
        .map(|d| d["duration_ms"].as_u64().unwrap())
        .collect();
    assert_eq!(pauses.len(), 2);
    assert!(pauses.iter().all(|p| (300..=500).contains(p)), "{pauses:?}");
    assert_eq!(
        first["metadata"]["processing_details"], second["metadata"]["processing_details"],
        "same seed, same pauses"
    );
    let expected = 3.0 + pauses.iter().sum::<u64>() as f64 / 1000.0;
    assert!(
        (first["total_duration_seconds"].as_f64().unwrap() - expected).abs() < 0.002,
        "no trailing pause"
    );
    assert!(
        first["output_files"][0]
            .as_str()
            .unwrap()
            .contains("_3files_pause400v100_leveled.")
    );
    let files = first["metadata"]["processing_details"].as_array().unwrap();
    assert_eq!(files[0]["filename"], "a.wav");
    assert_eq!(files[0]["size_bytes"], wav_tone(1.0, 22_050, 440.0).len());
    // A bare name held by one folder resolves to it.
    let bare = post_concat(
        &app,
        "?response_mode=url",
        json!({"files": ["a.wav", "b.wav"]}),
    )
    .await
    .ok_json();
    assert_eq!(
        bare["metadata"]["processing_details"][1]["filename"],
        "book/b.wav"
    );
    // Without a seed one is chosen and reported.
    let random = post_concat(
        &app,
        "?response_mode=url",
        json!({"files": ["a.wav", "c.flac"], "pause_duration_ms": 300}),
    )
    .await
    .ok_json();
    assert!(random["metadata"]["seed"].is_u64());
}

async fn crossfade_trim_and_levels(b: Backend) {
    let app = TestApp::new(&b);
    let store = b.store.as_ref();
    seed(store).await;
    let faded = post_concat(
        &app,
        "?response_mode=url",
        json!({"files": ["a.wav", "c.flac"], "crossfade_ms": 200}),
    )
    .await
    .ok_json();
    assert!(
        (faded["total_duration_seconds"].as_f64().unwrap() - 1.8).abs() < 0.002,
        "{faded}"
    );
    // A crossfade longer than a clip is clamped to the shorter clip instead of failing.
    let clamped = post_concat(
        &app,
        "?response_mode=url",
        json!({"files": ["a.wav", "book/b.wav"], "crossfade_ms": 5000}),
    )
    .await
    .ok_json();
    assert!(
        (clamped["total_duration_seconds"].as_f64().unwrap() - 1.0).abs() < 0.002,
        "{clamped}"
    );

    // Trim: 1 s of leading and 0.8 s of trailing silence go, down to 50 ms pads.
    store
        .put(
            &Key::new("outputs/padded.wav").unwrap(),
            Bytes::from(wav_padded(1.0, 1.0, 0.8, 22_050, 440.0, 0.5)),
        )
        .await
        .unwrap();
    let trimmed = post_concat(
        &app,
        "?response_mode=url",
        json!({"files": ["padded.wav", "a.wav"], "trim": true, "trim_threshold_ms": 200}),
    )
    .await
    .ok_json();
    let summary = &trimmed["metadata"]["trim_summary"];
    assert_eq!(
        (
            summary["files_trimmed"].as_u64(),
            summary["files_not_trimmed"].as_u64()
        ),
        (Some(1), Some(1)),
        "{summary}"
    );
    let total = trimmed["total_duration_seconds"].as_f64().unwrap();
    // Non-silence is found per 2048-sample frame (as librosa does), so up to ~0.1 s of
    // the edges counts as sound besides the 50 ms pads: 1.1-1.3 s of the padded clip remain.
    assert!(
        (2.1..2.3).contains(&total),
        "the padded clip's 1.8 s of edge silence should go: {total}"
    );
    assert!(
        trimmed["output_files"][0]
            .as_str()
            .unwrap()
            .ends_with("_trim200.wav")
    );

    // Levelling: a loud and a quiet clip come out at the same RMS.
    store
        .put(
            &Key::new("outputs/loud.wav").unwrap(),
            Bytes::from(wav_padded(0.0, 1.0, 0.0, 22_050, 440.0, 0.8)),
        )
        .await
        .unwrap();
    store
        .put(
            &Key::new("outputs/quiet.wav").unwrap(),
            Bytes::from(wav_padded(0.0, 1.0, 0.0, 22_050, 440.0, 0.05)),
        )
        .await
        .unwrap();
    let levelled = post_concat(&app, "", json!({"files": ["loud.wav", "quiet.wav"]})).await;
    let pcm = decode(&levelled.body, "wav");
    let rms =
        |s: &[f32]| (s.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>() / s.len() as f64).sqrt();
    let (first, second) = pcm.samples.split_at(22_050);
    let db = |x: f64| 20.0 * x.log10();
    assert!(
        (db(rms(first)) + 20.0).abs() < 0.5,
        "first clip at {} dBFS",
        db(rms(first))
    );
    assert!((db(rms(first)) - db(rms(second))).abs() < 0.5);
    let raw = post_concat(
        &app,
        "",
        json!({"files": ["loud.wav", "quiet.wav"], "normalize_levels": false}),
    )
    .await;
    let pcm = decode(&raw.body, "wav");
    let (first, second) = pcm.samples.split_at(22_050);
    assert!(
        db(rms(first)) - db(rms(second)) > 20.0,
        "without levelling the clips keep their levels"
    );
}

async fn every_export_format_decodes_to_the_same_length(b: Backend) {
    let app = TestApp::new(&b);
    seed(b.store.as_ref()).await;
    let body = json!({"files": ["a.wav", "(1s)"], "export_formats": ["wav", "wav32", "mp3", "flac", "opus", "pcm", "MP3"], "mp3_bitrate_kbps": 128});
    let result = post_concat(&app, "?response_mode=url", body)
        .await
        .ok_json();
    let files = result["files"].as_array().unwrap();
    assert_eq!(files.len(), 6, "duplicates are dropped: {files:?}");
    for file in files {
        let path = file["path"].as_str().unwrap();
        let download = app.get(file["url"].as_str().unwrap()).await;
        assert_eq!(download.status, 200, "{path}");
        assert_eq!(
            download.body.len() as u64,
            file["size_bytes"].as_u64().unwrap()
        );
        let format = file["format"].as_str().unwrap();
        let duration = if format == "pcm" {
            download.body.len() as f64 / 2.0 / 22_050.0
        } else {
            seconds(&decode(&download.body, path.rsplit('.').next().unwrap()))
        };
        assert!((duration - 2.0).abs() < 0.01, "{format}: {duration}");
    }
    let names: Vec<&str> = files
        .iter()
        .map(|f| f["filename"].as_str().unwrap())
        .collect();
    assert_eq!(
        names.iter().filter(|n| n.ends_with(".wav")).count(),
        2,
        "wav and wav32 both kept: {names:?}"
    );
    // A format we do not write is a 400 that names the ones we do.
    for format in ["m4a", "ogg"] {
        let body = post_concat(
            &app,
            "",
            json!({"files": ["a.wav", "(1s)"], "export_formats": [format]}),
        )
        .await
        .assert_error(400, "UNSUPPORTED_FORMAT");
        assert!(
            body["error"]
                .as_str()
                .unwrap()
                .contains("wav, wav32, mp3, flac, opus, aac, pcm"),
            "{body}"
        );
    }
    post_concat(
        &app,
        "",
        json!({"files": ["a.wav", "(1s)"], "export_formats": ["mp3"], "mp3_bitrate_kbps": 100}),
    )
    .await
    .assert_error(422, "VALIDATION_ERROR");
}

async fn custom_output_names_and_return_format(b: Backend) {
    let app = TestApp::new(&b);
    seed(b.store.as_ref()).await;
    let response = post_concat(
        &app,
        "?return_format=flac",
        json!({"files": ["a.wav", "c.flac"], "export_formats": ["mp3", "flac"], "output_filename": "My Book.wav", "folder": "books"}),
    )
    .await;
    assert_eq!(response.status, 200);
    assert_eq!(response.header("content-type"), Some("audio/flac"));
    assert_eq!(
        response.header("content-disposition"),
        Some("attachment; filename=\"My Book.flac\"")
    );
    assert_eq!(
        response.header("x-alternative-formats"),
        Some("mp3:/outputs/books/My%20Book.mp3")
    );
    let keys = stored_keys(b.store.as_ref(), "outputs").await;
    assert!(
        keys.contains(&"outputs/books/My Book.mp3".to_owned())
            && keys.contains(&"outputs/books/My Book.flac.json".to_owned()),
        "{keys:?}"
    );
    // The same name again replaces the files (as the original did).
    post_concat(&app, "", json!({"files": ["a.wav", "(1s)"], "export_formats": ["mp3"], "output_filename": "My Book", "project": "books"})).await.assert_ok();
    assert_eq!(
        stored_keys(b.store.as_ref(), "outputs").await.len(),
        keys.len()
    );
    // Custom-named outputs still count as concat outputs.
    assert_eq!(
        app.get("/api/v1/outputs?generation_type=concat&project=books")
            .await
            .ok_json()["total_files"],
        2
    );
}

async fn bad_requests_leave_nothing_behind(b: Backend) {
    let app = TestApp::with_config(&b, |c| c.limits.max_audio_seconds = 60);
    seed(b.store.as_ref()).await;
    let before = stored_keys(b.store.as_ref(), "outputs").await;
    for token in ["(1 s)", "(abc)", "(20s)", "(1S)", "(10ms)", "()"] {
        let body = post_concat(&app, "", json!({"files": ["a.wav", token, "c.flac"]}))
            .await
            .assert_error(422, "VALIDATION_ERROR");
        assert!(
            body["error"].as_str().unwrap().contains(token),
            "{token}: {body}"
        );
    }
    let missing = post_concat(&app, "", json!({"files": ["a.wav", "nope.wav"]}))
        .await
        .assert_error(404, "RESOURCE_NOT_FOUND");
    assert!(missing["error"].as_str().unwrap().contains("nope.wav"));
    for traversal in ["../voices/v.wav", "/etc/passwd.wav", "book/../../x.wav"] {
        post_concat(&app, "", json!({"files": ["a.wav", traversal]}))
            .await
            .assert_error(422, "INVALID_PATH");
    }
    post_concat(&app, "", json!({"files": ["a.wav", "notes.txt"]}))
        .await
        .assert_error(415, "UNSUPPORTED_FORMAT");
    b.store
        .put(
            &Key::new("outputs/fake.wav").unwrap(),
            Bytes::from_static(b"RIFF not really"),
        )
        .await
        .unwrap();
    post_concat(&app, "", json!({"files": ["a.wav", "fake.wav"]}))
        .await
        .assert_error(415, "INVALID_AUDIO");
    b.store
        .delete(&Key::new("outputs/fake.wav").unwrap())
        .await
        .unwrap();
    post_concat(&app, "", json!({"files": ["a.wav"]}))
        .await
        .assert_error(422, "VALIDATION_ERROR");
    post_concat(&app, "", json!({"files": ["(1s)"]}))
        .await
        .assert_error(422, "VALIDATION_ERROR");
    post_concat(&app, "", json!({"files": []}))
        .await
        .assert_error(422, "VALIDATION_ERROR");
    post_concat(
        &app,
        "",
        json!({"files": ["a.wav", "c.flac"], "pause_duration_ms": 150}),
    )
    .await
    .assert_error(422, "VALIDATION_ERROR");
    post_concat(
        &app,
        "",
        json!({"files": ["a.wav", "c.flac"], "crossfade_ms": 6000}),
    )
    .await
    .assert_error(422, "VALIDATION_ERROR");
    post_concat(
        &app,
        "",
        json!({"files": ["a.wav", "c.flac"], "trim": true, "trim_threshold_ms": 10}),
    )
    .await
    .assert_error(422, "VALIDATION_ERROR");
    post_concat(
        &app,
        "",
        json!({"files": ["a.wav", "c.flac"], "crossfade_ms": -1}),
    )
    .await
    .assert_error(422, "VALIDATION_ERROR");
    post_concat(
        &app,
        "",
        json!({"files": ["a.wav", "c.flac"], "project": "a", "folder": "b"}),
    )
    .await
    .assert_error(422, "VALIDATION_ERROR");
    post_concat(
        &app,
        "",
        json!({"files": ["a.wav", "c.flac"], "project": "../voices"}),
    )
    .await
    .assert_error(422, "INVALID_PATH");
    for name in ["../escape.wav", "sub/dir.wav", ".."] {
        post_concat(
            &app,
            "",
            json!({"files": ["a.wav", "c.flac"], "output_filename": name}),
        )
        .await
        .assert_error(422, "INVALID_PATH");
    }
    post_concat(
        &app,
        "",
        json!({"files": ["a.wav", "(10s)", "(10s)", "(10s)", "(10s)", "(10s)", "(10s)", "c.flac"]}),
    )
    .await
    .assert_error(413, "FILE_TOO_LARGE");
    // Many clips stop at the cap while decoding, before the timeline is built.
    let tight = TestApp::with_config(&b, |c| c.limits.max_audio_seconds = 5);
    let body = post_concat(
        &tight,
        "",
        json!({"files": ["a.wav", "a.wav", "a.wav", "a.wav", "a.wav", "a.wav", "a.wav", "a.wav"]}),
    )
    .await
    .assert_error(413, "FILE_TOO_LARGE");
    assert!(
        body["error"].as_str().unwrap().contains("5 s limit"),
        "{body}"
    );
    let malformed = http::Request::post("/api/v1/concat")
        .header("content-type", "application/json")
        .body(axum::body::Body::from("{\"files\": ["))
        .unwrap();
    app.request(malformed)
        .await
        .assert_error(400, "BAD_REQUEST");
    assert_eq!(
        stored_keys(b.store.as_ref(), "outputs").await,
        before,
        "a refused request wrote something"
    );
}

fn mixed_form(request: Value, uploads: &[(&str, Vec<u8>)]) -> Form {
    let mut form = Form::new().text("request_json", &request.to_string());
    for (name, data) in uploads {
        form = form.file("uploaded_files", name, data.clone());
    }
    form
}

async fn mixed_reuses_uploads_by_index(b: Backend) {
    let app = TestApp::new(&b);
    seed(b.store.as_ref()).await;
    let request = json!({
        "segments": [
            {"type": "upload", "index": 0},
            {"type": "silence", "source": "(250ms)"},
            {"type": "server_file", "source": "a.wav"},
            {"type": "upload", "index": 0},
            {"type": "upload", "index": 1}
        ],
        "export_formats": ["opus", "wav"],
        "normalize_levels": false,
        "project": "mixes"
    });
    let uploads = [
        ("intro.m4a", fixture("tone.m4a")),
        ("outro.wav", wav_tone(0.5, 44_100, 330.0)),
    ];
    let response = app
        .post_form(
            "/api/v1/concat/mixed?response_mode=url",
            &mixed_form(request.clone(), &uploads),
        )
        .await
        .ok_json();
    let meta = &response["metadata"];
    assert_eq!(meta["file_count"], 4);
    assert_eq!(meta["silence_segments"], 1);
    let labels: Vec<&str> = meta["processing_details"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|d| d["filename"].as_str())
        .collect();
    assert_eq!(labels, ["upload 0", "a.wav", "upload 0", "upload 1"]);
    let total = response["total_duration_seconds"].as_f64().unwrap();
    // 1 + 0.25 + 1 + 1 + 0.5 s; m4a has no gapless info, so it decodes a little over 1 s (twice).
    assert!((3.75..3.95).contains(&total), "{total}");
    let names = response["output_files"].as_array().unwrap();
    assert!(
        names[0].as_str().unwrap().starts_with("mixed_")
            && names[0].as_str().unwrap().ends_with("_4files_sil1.opus"),
        "{names:?}"
    );
    // Uploads are used, not stored: only the two outputs and their sidecars appear.
    let keys = stored_keys(b.store.as_ref(), "outputs").await;
    assert_eq!(
        keys.iter()
            .filter(|k| k.starts_with("outputs/mixes/"))
            .count(),
        4,
        "{keys:?}"
    );
    let listed = app.get("/api/v1/outputs?project=mixes").await.ok_json();
    assert!(
        listed["files"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["generation_type"] == "concat")
    );

    let streamed = app
        .post_form("/api/v1/concat/mixed", &mixed_form(request, &uploads))
        .await;
    assert_eq!(streamed.status, 200);
    assert_eq!(
        streamed.header("content-type"),
        Some("audio/ogg; codecs=opus")
    );
    assert!(
        streamed
            .header("x-alternative-formats")
            .unwrap()
            .starts_with("wav:/outputs/mixes/mixed_")
    );
    assert!((seconds(&decode(&streamed.body, "opus")) - total).abs() < 0.01);
}

async fn mixed_refusals_leave_nothing_behind(b: Backend) {
    let app = TestApp::with_config(&b, |c| c.limits.max_concat_upload_mb = 1);
    seed(b.store.as_ref()).await;
    let before = stored_keys(b.store.as_ref(), "outputs").await;
    let one = [("x.wav", wav_tone(0.5, 22_050, 440.0))];
    let two = [
        ("x.wav", wav_tone(0.5, 22_050, 440.0)),
        ("y.wav", wav_tone(0.5, 22_050, 440.0)),
    ];
    let upload0 = json!({"segments": [{"type": "upload", "index": 0}, {"type": "server_file", "source": "a.wav"}]});
    let post = |form: Form| {
        let app = &app;
        async move { app.post_form("/api/v1/concat/mixed", &form).await }
    };
    post(mixed_form(upload0.clone(), &two))
        .await
        .assert_error(400, "BAD_REQUEST");
    post(mixed_form(upload0.clone(), &[]))
        .await
        .assert_error(400, "BAD_REQUEST");
    let gap = json!({"segments": [{"type": "upload", "index": 0}, {"type": "upload", "index": 2}]});
    post(mixed_form(gap, &two))
        .await
        .assert_error(422, "VALIDATION_ERROR");
    for segment in [
        json!({"type": "upload"}),
        json!({"type": "upload", "index": -1}),
        json!({"type": "upload", "index": 0, "source": "a.wav"}),
        json!({"type": "server_file"}),
        json!({"type": "server_file", "source": "a.wav", "index": 0}),
        json!({"type": "silence", "source": "(1 s)"}),
        json!({"type": "video", "source": "a.wav"}),
    ] {
        let request = json!({"segments": [segment, {"type": "server_file", "source": "a.wav"}]});
        post(mixed_form(request, &one))
            .await
            .assert_error(422, "VALIDATION_ERROR");
    }
    let only_silence = json!({"segments": [{"type": "silence", "source": "(1s)"}]});
    post(mixed_form(only_silence, &[]))
        .await
        .assert_error(422, "VALIDATION_ERROR");
    post(mixed_form(
        upload0.clone(),
        &[("notes.wav", b"plain text, not audio".to_vec())],
    ))
    .await
    .assert_error(415, "INVALID_AUDIO");
    post(mixed_form(
        upload0.clone(),
        &[("big.wav", wav_tone(30.0, 22_050, 440.0))],
    ))
    .await
    .assert_error(413, "FILE_TOO_LARGE");
    let traversal = json!({"segments": [{"type": "server_file", "source": "../voices/v.wav"}]});
    post(mixed_form(traversal, &[]))
        .await
        .assert_error(422, "INVALID_PATH");
    post(Form::new().text("request_json", "{not json"))
        .await
        .assert_error(400, "BAD_REQUEST");
    post(Form::new().text("request_json", r#"{"segments": "nope"}"#))
        .await
        .assert_error(422, "VALIDATION_ERROR");
    post(Form::new().file("uploaded_files", "x.wav", wav_tone(0.5, 22_050, 440.0)))
        .await
        .assert_error(400, "BAD_REQUEST");
    assert_eq!(
        stored_keys(b.store.as_ref(), "outputs").await,
        before,
        "a refused request wrote something"
    );
}

for_each_persistent_backend!(
    silence_tokens_stream_the_first_format,
    seeded_pauses_are_reproducible_and_never_trail,
    crossfade_trim_and_levels,
    every_export_format_decodes_to_the_same_length,
    custom_output_names_and_return_format,
    bad_requests_leave_nothing_behind,
    mixed_reuses_uploads_by_index,
    mixed_refusals_leave_nothing_behind,
);
