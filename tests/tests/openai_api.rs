//! The OpenAI-compatible API over HTTP (`/v1/audio/speech`, `/v1/models`,
//! `/v1/audio/voices`), on the filesystem store and a real S3 server: containers, speed,
//! progressive streaming, SSE, voice resolution, OpenAI-shaped errors and API keys.

// Test helpers outside #[test] functions unwrap too: a failed step ends the test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Instant;

use base64::Engine as _;
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tests::engines::{chatterbox_standins, is_adts, standin_audio};
use tests::fixtures::decode;
use tests::multipart::Form;
use tests::{Backend, TestApp, for_each_persistent_backend};

async fn speech(app: &TestApp, body: Value) -> tests::TestResponse {
    app.post_json("/v1/audio/speech", &body).await
}

/// Asserts the OpenAI error envelope (all four keys) and returns `error`.
fn openai_error(response: &tests::TestResponse, status: u16) -> Value {
    assert_eq!(response.status, status, "{}", response.text());
    let body = response.json();
    let error = body["error"].clone();
    for key in ["message", "type", "param", "code"] {
        assert!(error.get(key).is_some(), "error lacks {key}: {body}");
    }
    assert!(error["message"].as_str().is_some_and(|m| !m.is_empty()));
    error
}

fn pcm_seconds(bytes: &[u8]) -> f64 {
    assert_eq!(bytes.len() % 2, 0, "s16 samples");
    bytes.len() as f64 / 2.0 / 24_000.0
}

async fn default_is_mp3_with_openai_headers(b: Backend) {
    let app = TestApp::new(&b);
    let response = app
        .request(
            http::Request::post("/v1/audio/speech")
                .header("content-type", "application/json")
                .header("accept", "application/octet-stream")
                .header("x-stainless-lang", "python")
                .header("openai-organization", "org-123")
                .body(axum::body::Body::from(
                    json!({"model": "tts-1", "input": "Hello world.", "voice": "alloy"})
                        .to_string(),
                ))
                .unwrap(),
        )
        .await;
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(response.header("content-type"), Some("audio/mpeg"));
    assert!(
        response.body.starts_with(b"ID3")
            || (response.body[0] == 0xFF && response.body[1] & 0xE0 == 0xE0)
    );
    assert!(response.header("x-request-id").is_some());
    // The time to the first audio: the answer starts once the graph has spoken, so this is
    // the graph's time, not the 0-1 ms it takes to send headers.
    let processing_ms: u64 = response
        .header("openai-processing-ms")
        .unwrap()
        .parse()
        .unwrap();
    assert!(processing_ms >= 10, "{processing_ms} ms");
    assert_eq!(response.header("openai-version"), Some("2020-10-01"));
    assert_eq!(response.header("x-speech-engine"), Some("piper"));
    let pcm = decode(&response.body, "mp3");
    assert_eq!(pcm.sample_rate, 24_000);
    assert!(
        (0.5..3.5).contains(&pcm.duration_seconds()),
        "{}",
        pcm.duration_seconds()
    );
}

async fn every_format_matches_its_container(b: Backend) {
    tests::engines::ffmpeg();
    let app = TestApp::new(&b);
    for (format, content_type) in [
        ("mp3", "audio/mpeg"),
        ("opus", "audio/ogg"),
        ("flac", "audio/flac"),
        ("wav", "audio/wav"),
        ("pcm", "audio/pcm"),
        ("aac", "audio/aac"),
    ] {
        let response = speech(&app, json!({"model": "tts-1", "input": "Formats.", "voice": "nova", "response_format": format})).await;
        assert_eq!(response.status, 200, "{format}: {}", response.text());
        assert!(
            response
                .header("content-type")
                .unwrap()
                .starts_with(content_type),
            "{format}"
        );
        let body = &response.body;
        match format {
            "opus" => {
                assert!(body.starts_with(b"OggS"));
                assert!(body.windows(8).any(|w| w == b"OpusHead"));
            }
            "flac" => assert!(body.starts_with(b"fLaC")),
            "wav" => {
                assert!(body.starts_with(b"RIFF") && &body[8..12] == b"WAVE");
                // Streamed WAV carries OpenAI's "unknown length" sizes.
                assert_eq!(&body[4..8], &[0xFF; 4]);
                assert_eq!(decode(body, "wav").sample_rate, 24_000);
            }
            "pcm" => {
                assert!(!body.starts_with(b"RIFF"));
                assert!(pcm_seconds(body) > 0.3);
            }
            "aac" => {
                assert!(is_adts(body), "{:02x?}", &body[..body.len().min(4)]);
                let pcm = decode(body, "aac");
                assert_eq!(pcm.sample_rate, 24_000);
                assert!(pcm.duration_seconds() > 0.3, "{}", pcm.duration_seconds());
            }
            _ => {}
        }
    }
    let bogus = speech(
        &app,
        json!({"model": "tts-1", "input": "Hi.", "voice": "nova", "response_format": "ogg"}),
    )
    .await;
    assert_eq!(openai_error(&bogus, 400)["param"], "response_format");
}

async fn speed_scales_duration(b: Backend) {
    let app = TestApp::new(&b);
    let text = "The quick brown fox jumps over the lazy dog.";
    let mut seconds = Vec::new();
    for speed in [1.0, 0.5, 2.0] {
        let response = speech(&app, json!({"model": "tts-1", "input": text, "voice": "echo", "response_format": "pcm", "speed": speed})).await;
        assert_eq!(response.status, 200, "{}", response.text());
        seconds.push(pcm_seconds(&response.body));
    }
    let slow = seconds[1] / seconds[0];
    let fast = seconds[2] / seconds[0];
    assert!(
        (1.6..2.4).contains(&slow),
        "speed 0.5 gave {slow}× the duration"
    );
    assert!(
        (0.4..0.6).contains(&fast),
        "speed 2.0 gave {fast}× the duration"
    );
    let out_of_range = speech(
        &app,
        json!({"model": "tts-1", "input": text, "voice": "echo", "speed": 4.5}),
    )
    .await;
    assert_eq!(openai_error(&out_of_range, 400)["param"], "speed");
}

async fn ten_sentences_stream_progressively(b: Backend) {
    let app = TestApp::new(&b);
    // Load the voice first: streaming is about synthesis, not the one-time model load.
    let warm = speech(
        &app,
        json!({"model": "tts-1", "input": "Warm up.", "voice": "alloy", "response_format": "pcm"}),
    )
    .await;
    assert_eq!(warm.status, 200);
    let text = (1..=10)
        .map(|i| format!("This is sentence number {i} of the streaming test."))
        .collect::<Vec<_>>()
        .join(" ");
    let request = http::Request::post("/v1/audio/speech")
        .header("content-type", "application/json")
        .body(axum::body::Body::from(
            json!({"model": "tts-1", "input": text, "voice": "alloy", "response_format": "pcm"})
                .to_string(),
        ))
        .unwrap();
    let started = Instant::now();
    let response = app.request_streaming(request).await;
    assert_eq!(response.status(), 200);
    let mut body = response.into_body();
    let mut first_audio = None;
    let mut frames = 0;
    let mut bytes = 0;
    while let Some(frame) = body.frame().await {
        let frame = frame.unwrap();
        if let Some(data) = frame.data_ref()
            && !data.is_empty()
        {
            first_audio.get_or_insert_with(|| started.elapsed());
            frames += 1;
            bytes += data.len();
        }
    }
    let total = started.elapsed();
    let first = first_audio.unwrap();
    assert!(
        frames >= 10,
        "one piece per sentence at least, got {frames}"
    );
    assert!(
        pcm_seconds(&vec![0; bytes]) > 12.0,
        "ten sentences of speech"
    );
    assert!(
        first < total / 3,
        "first audio after {first:?} of {total:?}: not progressive"
    );
}

async fn sse_streams_deltas_then_done_with_usage(b: Backend) {
    let app = TestApp::new(&b);
    let response = speech(
        &app,
        json!({"model": "gpt-4o-mini-tts", "input": "First sentence. Second sentence.", "voice": "coral",
               "response_format": "pcm", "stream_format": "sse"}),
    )
    .await;
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(response.header("content-type"), Some("text/event-stream"));
    let text = response.text();
    let events: Vec<Value> = text
        .split("\n\n")
        .filter(|e| !e.trim().is_empty())
        .map(|e| serde_json::from_str(e.strip_prefix("data: ").unwrap()).unwrap())
        .collect();
    let (done, deltas) = events.split_last().unwrap();
    assert!(deltas.len() >= 2, "{} deltas", deltas.len());
    let mut audio = Vec::new();
    for delta in deltas {
        assert_eq!(delta["type"], "speech.audio.delta");
        assert_eq!(
            delta.as_object().unwrap().len(),
            2,
            "only type and audio: {delta}"
        );
        audio.extend(
            base64::engine::general_purpose::STANDARD
                .decode(delta["audio"].as_str().unwrap())
                .unwrap(),
        );
    }
    assert!(pcm_seconds(&audio) > 1.0);
    assert_eq!(done["type"], "speech.audio.done");
    let usage = &done["usage"];
    assert_eq!(
        usage["total_tokens"].as_u64().unwrap(),
        usage["input_tokens"].as_u64().unwrap() + usage["output_tokens"].as_u64().unwrap()
    );
    assert!(usage["output_tokens"].as_u64().unwrap() > 0);
    // OpenAI refuses SSE for tts-1 and tts-1-hd.
    let refused = speech(
        &app,
        json!({"model": "tts-1", "input": "Hi.", "voice": "coral", "stream_format": "sse"}),
    )
    .await;
    assert_eq!(openai_error(&refused, 400)["param"], "stream_format");
}

async fn bad_requests_get_openai_errors(b: Backend) {
    let app = TestApp::new(&b);
    let cases: Vec<(Value, u16, &str)> = vec![
        (json!({"input": "Hi.", "voice": "alloy"}), 400, "model"),
        (json!({"model": "tts-1", "voice": "alloy"}), 400, "input"),
        (json!({"model": "tts-1", "input": "Hi."}), 400, "voice"),
        (
            json!({"model": "tts-1", "input": "  ", "voice": "alloy"}),
            400,
            "input",
        ),
        (
            json!({"model": "tts-1", "input": "x".repeat(4097), "voice": "alloy"}),
            400,
            "input",
        ),
        (
            json!({"model": "tts-1", "input": "Hi.", "voice": {"id": "alloy", "extra": 1}}),
            400,
            "voice",
        ),
        (
            json!({"model": "tts-1", "input": "Hi.", "voice": "alloy", "exaggeration": 3}),
            400,
            "exaggeration",
        ),
        (
            json!({"model": "tts-1", "input": "Hi.", "voice": "alloy", "extra_body": {"seed": -1}}),
            400,
            "seed",
        ),
        (
            json!({"model": "tts-9", "input": "Hi.", "voice": "alloy"}),
            404,
            "model",
        ),
        (
            json!({"model": "tts-1", "input": "Hi.", "voice": "nobody"}),
            404,
            "voice",
        ),
    ];
    for (body, status, param) in cases {
        let response = speech(&app, body.clone()).await;
        let error = openai_error(&response, status);
        assert_eq!(error["param"], param, "{body}");
        assert_eq!(response.header("x-should-retry"), Some("false"), "{body}");
    }
    let unknown = openai_error(
        &speech(
            &app,
            json!({"model": "tts-1", "input": "Hi.", "voice": "nobody"}),
        )
        .await,
        404,
    );
    assert_eq!(unknown["code"], "voice_not_found");
    let long = openai_error(
        &speech(
            &app,
            json!({"model": "tts-1", "input": "x".repeat(4097), "voice": "alloy"}),
        )
        .await,
        400,
    );
    assert_eq!(long["code"], "string_above_max_length");
    let broken = app
        .request(
            http::Request::post("/v1/audio/speech")
                .header("content-type", "application/json")
                .body(axum::body::Body::from("{\"model\":"))
                .unwrap(),
        )
        .await;
    openai_error(&broken, 400);
    openai_error(&app.get("/v1/nothing-here").await, 404);
    // The native API keeps its own envelope.
    assert_eq!(app.get("/api/v1/nothing").await.json()["success"], false);
    // The bare path works too, and extension fields are accepted at the top level and in extra_body.
    let bare = app
        .post_json(
            "/audio/speech",
            &json!({"model": "tts-1", "input": "Hi.", "voice": "alloy",
                   "seed": 3, "temperature": 0.5, "extra_body": {"cfg_weight": 0.3}}),
        )
        .await;
    assert_eq!(bare.status, 200, "{}", bare.text());
    // tts-1 with a built-in name speaks with Piper, which no seed reproduces.
    assert_eq!(bare.header("x-speech-engine"), Some("piper"));
    assert_eq!(bare.header("x-generation-seed"), None);
    assert!(
        bare.header("x-speech-warnings")
            .is_some_and(|w| w.starts_with("seed 3 is not used by the built-in voice")),
        "{:?}",
        bare.header("x-speech-warnings")
    );
}

async fn voices_resolve_by_alias_id_and_fallback(b: Backend) {
    let app = TestApp::with_config(&b, |c| {
        c.engines.chatterbox_dir = Some(chatterbox_standins("original"));
        c.access.voice_aliases = vec!["shimmer=narrators/anna.wav".into()];
    });
    let upload = Form::new().text("name", "Anna K").file(
        "audio_sample",
        "sample.wav",
        standin_audio("ref_7s.wav"),
    );
    let created = app.post_form("/v1/audio/voices", &upload).await;
    assert_eq!(created.status, 200, "{}", created.text());
    let created = created.json();
    assert_eq!(created["object"], "audio.voice");
    assert_eq!(created["name"], "Anna K");
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(id, "Anna_K.wav");
    assert!(created["created_at"].as_i64().unwrap() > 1_700_000_000);
    let voice = Form::new().text("folder_path", "narrators").file(
        "voice_file",
        "anna.wav",
        standin_audio("ref_7s.wav"),
    );
    assert_eq!(app.post_form("/api/v1/voice", &voice).await.status, 200);

    let by_id = speech(&app, json!({"model": "tts-1-hd", "input": "Hi.", "voice": {"id": id}, "response_format": "wav", "temperature": 0})).await;
    assert_eq!(by_id.status, 200, "{}", by_id.text());
    assert_eq!(by_id.header("x-speech-engine"), Some("chatterbox"));
    assert_eq!(decode(&by_id.body, "wav").sample_rate, 24_000);
    // The listed name works too, whatever its case, in both dialects.
    let by_name = speech(&app, json!({"model": "tts-1-hd", "input": "Hi.", "voice": "anna k", "response_format": "wav", "temperature": 0})).await;
    assert_eq!(by_name.status, 200, "{}", by_name.text());
    assert_eq!(by_name.header("x-speech-engine"), Some("chatterbox"));
    let native = app
        .post_json(
            "/api/v1/tts?response_mode=url",
            &json!({"text": "Hi.", "reference_audio_filename": "ANNA K", "temperature": 0,
                    "num_candidates_per_chunk": 1, "export_formats": ["wav"]}),
        )
        .await;
    assert_eq!(native.status, 200, "{}", native.text());
    assert_eq!(native.json()["model"], "chatterbox");
    let aliased = speech(&app, json!({"model": "tts-1", "input": "Hi.", "voice": "shimmer", "response_format": "pcm", "temperature": 0})).await;
    assert_eq!(aliased.status, 200, "{}", aliased.text());
    assert_eq!(aliased.header("x-speech-engine"), Some("chatterbox"));
    let builtin = speech(
        &app,
        json!({"model": "tts-1-hd", "input": "Hi.", "voice": "alloy"}),
    )
    .await;
    assert_eq!(builtin.header("x-speech-engine"), Some("piper"));
    let piper_cannot_clone = speech(
        &app,
        json!({"model": "piper", "input": "Hi.", "voice": "shimmer"}),
    )
    .await;
    assert_eq!(openai_error(&piper_cannot_clone, 400)["param"], "model");

    let listing = app.get("/v1/audio/voices").await.json();
    let ids: Vec<&str> = listing["voices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["id"].as_str().unwrap())
        .collect();
    for expected in [
        "alloy",
        "shimmer",
        "cedar",
        "en_US-joe-medium",
        "Anna_K.wav",
        "narrators/anna.wav",
    ] {
        assert!(ids.contains(&expected), "{expected} missing from {ids:?}");
    }
    // Each voice names its engine; with the bundle installed, every one is usable.
    for voice in listing["voices"].as_array().unwrap() {
        assert_eq!(voice["usable"], true, "{voice}");
    }
    let engine_of = |id: &str| {
        listing["voices"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["id"] == id)
            .map(|v| v["engine"].clone())
    };
    assert_eq!(engine_of("alloy"), Some(json!("piper")));
    assert_eq!(engine_of("shimmer"), Some(json!("chatterbox")));
    assert_eq!(engine_of("Anna_K.wav"), Some(json!("chatterbox")));
    // TTS-WebUI's per-model lists: what that model speaks with, as value/label pairs.
    let per_model = |model: &str| {
        let app = &app;
        let path = format!("/v1/audio/voices/{model}");
        async move {
            let body = app.get(&path).await.ok_json();
            body["voices"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| {
                    assert!(v["label"].is_string(), "{v}");
                    v["value"].as_str().unwrap().to_owned()
                })
                .collect::<Vec<String>>()
        }
    };
    let piper = per_model("piper").await;
    assert!(
        piper.contains(&"en_US-joe-medium".to_owned()) && piper.contains(&"alloy".to_owned()),
        "{piper:?}"
    );
    assert!(
        !piper.contains(&"Anna_K.wav".to_owned()) && !piper.contains(&"shimmer".to_owned()),
        "{piper:?}"
    );
    let chatterbox = per_model("chatterbox").await;
    assert!(
        chatterbox.contains(&"Anna_K.wav".to_owned()) && chatterbox.contains(&"shimmer".to_owned()),
        "{chatterbox:?}"
    );
    assert!(!chatterbox.contains(&"alloy".to_owned()), "{chatterbox:?}");
    assert_eq!(per_model("tts-1").await.len(), ids.len());
    assert_eq!(
        openai_error(&app.get("/v1/audio/voices/tts-9").await, 404)["code"],
        "model_not_found"
    );
    // Uses through the OpenAI endpoint count like any other.
    let sidecar = b
        .store
        .get(&storage::Key::new("voices/narrators/anna.wav.json").unwrap())
        .await
        .unwrap();
    let sidecar: Value = serde_json::from_slice(&sidecar).unwrap();
    assert_eq!(sidecar["usage_count"], 1);

    let with_fallback =
        TestApp::with_config(&b, |c| c.access.fallback_voice = Some("alloy".into()));
    let fell_back = speech(
        &with_fallback,
        json!({"model": "tts-1", "input": "Hi.", "voice": "nobody"}),
    )
    .await;
    assert_eq!(fell_back.status, 200);
    assert_eq!(fell_back.header("x-speech-voice-fallback"), Some("nobody"));
}

async fn models_list_what_is_installed(b: Backend) {
    let app = TestApp::new(&b);
    let list = app.get("/v1/models").await.json();
    assert_eq!(list["object"], "list");
    let ids: Vec<&str> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert!(
        ids.contains(&"tts-1") && ids.contains(&"tts-1-hd") && ids.contains(&"piper"),
        "{ids:?}"
    );
    assert!(!ids.contains(&"chatterbox"), "not installed: {ids:?}");
    assert_eq!(list["data"][0]["object"], "model");
    assert_eq!(list["data"][0]["owned_by"], "speech-api");
    assert_eq!(app.get("/v1/models/tts-1").await.json()["id"], "tts-1");
    // Open WebUI's model list, with and without `/v1` in the base URL: the same ids.
    for path in ["/v1/audio/models", "/audio/models"] {
        let answer = app.get(path).await;
        assert_eq!(answer.status, 200, "{path}");
        let listed: Vec<String> = answer.json()["models"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["id"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(listed, ids, "{path}");
    }
    let voices = app.get("/audio/voices").await;
    assert_eq!(voices.status, 200);
    assert_eq!(voices.json(), app.get("/v1/audio/voices").await.json());
    assert_eq!(
        openai_error(&app.get("/v1/models/chatterbox").await, 404)["code"],
        "model_not_found"
    );
    let with_bundle = TestApp::with_config(&b, |c| {
        c.engines.chatterbox_dir = Some(chatterbox_standins("turbo"))
    });
    let ids = with_bundle.get("/v1/models").await.json()["data"].to_string();
    assert!(ids.contains("\"chatterbox\""), "{ids}");
    // A cloned voice without the bundle: 503 naming what to install, at once final: no
    // Retry-After, and `x-should-retry: false` so the official SDKs do not retry for a minute.
    let voice = Form::new().file("voice_file", "anna.wav", standin_audio("ref_7s.wav"));
    assert_eq!(app.post_form("/api/v1/voice", &voice).await.status, 200);
    let missing = speech(
        &app,
        json!({"model": "tts-1-hd", "input": "Hi.", "voice": "anna"}),
    )
    .await;
    let error = openai_error(&missing, 503);
    assert_eq!(error["code"], "model_not_installed");
    assert_eq!(missing.header("retry-after"), None);
    assert_eq!(missing.header("x-should-retry"), Some("false"));
    // The list said so beforehand: the stored voice is marked unusable, the built-in is not,
    // and per-model lists leave it out.
    let listing = app.get("/v1/audio/voices").await.ok_json();
    let usable = |id: &str| {
        listing["voices"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["id"] == id)
            .map(|v| v["usable"].clone())
    };
    assert_eq!(usable("anna.wav"), Some(json!(false)), "{listing}");
    assert_eq!(usable("en_US-joe-medium"), Some(json!(true)), "{listing}");
    let hd = app.get("/v1/audio/voices/tts-1-hd").await.ok_json();
    assert!(!hd.to_string().contains("anna.wav"), "{hd}");
}

async fn api_keys_guard_both_dialects(b: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let hashed = dir.path().join("keys.sha256");
    let app = TestApp::with_config(&b, |c| {
        c.access.api_keys = vec!["sk-test-123".into()];
    });
    let body =
        json!({"model": "tts-1", "input": "Hi.", "voice": "alloy", "response_format": "pcm"});
    let none = speech(&app, body.clone()).await;
    assert_eq!(openai_error(&none, 401)["code"], "invalid_api_key");
    let wrong = app
        .request(
            http::Request::post("/v1/audio/speech")
                .header("authorization", "Bearer sk-wrong")
                .header("content-type", "application/json")
                .body(axum::body::Body::from(body.to_string()))
                .unwrap(),
        )
        .await;
    openai_error(&wrong, 401);
    let right = app
        .request(
            http::Request::post("/v1/audio/speech")
                .header("authorization", "Bearer sk-test-123")
                .header("content-type", "application/json")
                .body(axum::body::Body::from(body.to_string()))
                .unwrap(),
        )
        .await;
    assert_eq!(right.status, 200);
    let native = app.get("/api/v1/voices").await;
    native.assert_error(401, "UNAUTHORIZED");
    assert_eq!(
        app.get_with("/api/v1/voices", &[("authorization", "Bearer sk-test-123")])
            .await
            .status,
        200
    );
    assert_eq!(
        app.get("/api/v1/health").await.status,
        200,
        "health stays open"
    );
    // Each router attaches its dialect's guard: downloads and the SillyTavern routes answer
    // in the native envelope; the index, readiness and the docs attach none.
    for path in [
        "/outputs/a.wav",
        "/get_reference_files",
        "/get_predefined_voices",
    ] {
        app.get(path).await.assert_error(401, "UNAUTHORIZED");
    }
    app.post_json("/tts", &json!({"text": "Hi."}))
        .await
        .assert_error(401, "UNAUTHORIZED");
    for path in ["/", "/ping", "/openapi.json", "/docs/"] {
        assert_eq!(app.get(path).await.status, 200, "{path} stays open");
    }
    // Lists need the key too, unless --public-lists opens them (Open WebUI fetches keyless);
    // speech and the native API stay guarded either way.
    openai_error(&app.get("/v1/audio/voices").await, 401);
    let open_lists = TestApp::with_config(&b, |c| {
        c.access.api_keys = vec!["sk-test-123".into()];
        c.access.public_lists = true;
    });
    for path in [
        "/v1/models",
        "/v1/models/tts-1",
        "/v1/audio/models",
        "/audio/models",
        "/v1/audio/voices",
        "/audio/voices",
        "/v1/audio/voices/tts-1",
    ] {
        assert_eq!(open_lists.get(path).await.status, 200, "{path}");
    }
    openai_error(&open_lists.post_json("/v1/audio/speech", &body).await, 401);
    open_lists
        .get("/api/v1/voices")
        .await
        .assert_error(401, "UNAUTHORIZED");
    let upload = Form::new().text("name", "Sneaky").file(
        "audio_sample",
        "s.wav",
        standin_audio("ref_7s.wav"),
    );
    openai_error(
        &open_lists.post_form("/v1/audio/voices", &upload).await,
        401,
    );
    // Keys kept as digests in a file, as `printf %s sk-hashed | sha256sum` prints them.
    let digest = {
        use sha2::Digest;
        sha2::Sha256::digest(b"sk-hashed")
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    };
    std::fs::write(&hashed, format!("# team keys\n{digest}  -\n")).unwrap();
    let from_file = TestApp::with_config(&b, |c| c.access.api_keys_file = Some(hashed.clone()));
    assert_eq!(
        from_file
            .get_with("/v1/models", &[("authorization", "Bearer sk-hashed")])
            .await
            .status,
        200
    );
    openai_error(&from_file.get("/v1/models").await, 401);
}

async fn a_full_queue_is_429_with_retry_after(b: Backend) {
    let app = TestApp::with_config(&b, |c| {
        c.engines.max_concurrent_generations = 1;
        c.engines.max_queued_generations = 0;
    });
    assert_eq!(speech(&app, json!({"model": "tts-1", "input": "Warm up.", "voice": "alloy", "response_format": "pcm"})).await.status, 200);
    let text = "This sentence is long enough to keep the engine busy for a while. And here is another one.";
    let body = json!({"model": "tts-1", "input": text, "voice": "alloy", "response_format": "pcm"});
    let responses = futures::future::join_all((0..4).map(|_| speech(&app, body.clone()))).await;
    let limited: Vec<_> = responses.iter().filter(|r| r.status == 429).collect();
    assert!(responses.iter().any(|r| r.status == 200));
    assert!(
        !limited.is_empty(),
        "overlapping requests beyond the queue are refused"
    );
    for response in limited {
        assert_eq!(openai_error(response, 429)["type"], "rate_limit_error");
        assert_eq!(response.header("retry-after"), Some("5"));
        assert!(
            response.header("x-should-retry").is_none(),
            "a full queue is worth retrying"
        );
    }
}

for_each_persistent_backend!(
    default_is_mp3_with_openai_headers,
    every_format_matches_its_container,
    speed_scales_duration,
    ten_sentences_stream_progressively,
    sse_streams_deltas_then_done_with_usage,
    bad_requests_get_openai_errors,
    voices_resolve_by_alias_id_and_fallback,
    models_list_what_is_installed,
    api_keys_guard_both_dialects,
    a_full_queue_is_429_with_retry_after,
);
