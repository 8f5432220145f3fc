//! Smaller hardening regressions: "nothing to speak" is a 4xx in both dialects, every
//! error is in its dialect's envelope (wrong methods, unknown paths, non-multipart voice
//! uploads, unknown docs files), health says less to strangers and asks for a retry,
//! engine errors name the right field and no server path, and URL-encoded mixed
//! concatenations work as they did in the original.

// Test helpers outside #[test] functions unwrap too: a failed step ends the test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use axum::body::Body;
use http::{Method, Request};
use serde_json::{Value, json};
use storage::Key;
use tests::engines::{chatterbox_standins, standin_audio};
use tests::fixtures::{decode, wav_tone};
use tests::multipart::Form;
use tests::{Backend, TestApp, TestResponse, stored_keys};

const NOTHING_TO_SPEAK: [&str; 9] = [
    "...",
    "-",
    "()",
    "!!!",
    "\0",
    "\u{200B}",
    "\u{FEFF}",
    "\u{202E}",
    "\u{7}\u{1b}\u{1}",
];

#[tokio::test]
async fn nothing_to_speak_is_a_4xx_naming_the_input() {
    let b = Backend::memory();
    let app = TestApp::new(&b);
    for text in NOTHING_TO_SPEAK {
        let native = app.post_json("/api/v1/tts", &json!({ "text": text })).await;
        let body = native.assert_error(422, "VALIDATION_ERROR");
        assert_eq!(body["detail"]["param"], "text", "{text:?}: {body}");

        let openai = app
            .post_json(
                "/v1/audio/speech",
                &json!({"model": "tts-1", "voice": "alloy", "input": text}),
            )
            .await;
        assert_eq!(openai.status, 400, "{text:?}: {}", openai.text());
        assert_eq!(openai.json()["error"]["param"], "input", "{text:?}");
    }
    assert!(stored_keys(b.store.as_ref(), "").await.is_empty());
    // Invisible characters around real words are removed, not refused.
    let spoken = app
        .post_json(
            "/api/v1/tts",
            &json!({"text": "\u{FEFF}Hello\u{200B} there\0."}),
        )
        .await;
    assert_eq!(spoken.status, 200, "{}", spoken.text());
}

/// Letters of a script the built-in voice has no sounds for (found by fuzzing the live
/// service with schemathesis): the text passes the "something to speak" check, the engine
/// produces no samples, and every dialect says so as a client error, storing nothing.
#[tokio::test]
async fn letters_the_voice_cannot_pronounce_are_a_4xx_not_a_fault() {
    let b = Backend::memory();
    let app = TestApp::new(&b);
    let text = "\u{14304}\u{A8046}";
    let native = app.post_json("/api/v1/tts", &json!({ "text": text })).await;
    let body = native.assert_error(422, "VALIDATION_ERROR");
    assert_eq!(body["detail"]["param"], "text", "{body}");
    for format in ["mp3", "wav", "pcm"] {
        let openai = app
            .post_json(
                "/v1/audio/speech",
                &json!({"model": "tts-1", "voice": "alloy", "input": text, "response_format": format}),
            )
            .await;
        let body = openai_error(&openai, 400);
        assert_eq!(body["error"]["param"], "input", "{format}: {body}");
    }
    let sillytavern = app.post_json("/tts", &json!({ "text": text })).await;
    sillytavern.assert_error(422, "VALIDATION_ERROR");
    // The streamed route answers with its first audio, so this is a status too, not a
    // stream cut after its headers (schemathesis found that one).
    for format in ["wav", "mp3", "opus"] {
        app.get(&format!(
            "/tts-stream?text=%F0%94%8C%84%F2%A8%81%86&output_format={format}"
        ))
        .await
        .assert_error(422, "VALIDATION_ERROR");
    }
    assert!(stored_keys(b.store.as_ref(), "").await.is_empty());
}

fn openai_error(response: &TestResponse, status: u16) -> Value {
    assert_eq!(response.status, status, "{}", response.text());
    let body = response.json();
    assert!(body["error"]["message"].is_string(), "{body}");
    assert!(body.get("success").is_none(), "native envelope: {body}");
    body
}

#[tokio::test]
async fn every_error_uses_its_dialects_envelope() {
    let app = TestApp::new(&Backend::memory());
    let send = |method: Method, uri: &str, content_type: &str, body: &'static str| {
        Request::builder()
            .method(method)
            .uri(uri)
            .header("content-type", content_type)
            .body(Body::from(body))
            .unwrap()
    };
    // A voice upload that is not multipart.
    let not_multipart = app
        .request(send(
            Method::POST,
            "/v1/audio/voices",
            "text/plain",
            "hello",
        ))
        .await;
    openai_error(&not_multipart, 400);
    // Wrong methods and unknown paths of the OpenAI dialect.
    openai_error(&app.get("/v1/audio/speech").await, 405);
    openai_error(&app.get("/audio/speech").await, 405);
    openai_error(&app.get("/audio/transcriptions").await, 404);
    openai_error(&app.delete("/v1/models").await, 405);
    // Unknown files of the documentation get the native envelope, not an empty 404.
    app.get("/docs/no-such-file.js")
        .await
        .assert_error(404, "ROUTE_NOT_FOUND");
    app.delete("/api/v1/health")
        .await
        .assert_error(405, "METHOD_NOT_ALLOWED");
}

#[tokio::test]
async fn health_tells_strangers_less_when_keys_are_on() {
    let b = Backend::fs().await;
    let app = TestApp::with_config(&b, |c| c.access.api_keys = vec!["sesame".into()]);
    let anonymous = app.get("/api/v1/health").await.ok_json();
    assert_eq!(anonymous["storage"]["location"], Value::Null, "{anonymous}");
    assert_eq!(anonymous["storage"]["reachable"], true);
    let trusted = app
        .get_with("/api/v1/health", &[("authorization", "Bearer sesame")])
        .await
        .ok_json();
    assert!(
        trusted["storage"]["location"]
            .as_str()
            .is_some_and(|l| l.starts_with("file://")),
        "{trusted}"
    );
    // Without keys, everyone is trusted (local use).
    let open = TestApp::new(&b).get("/api/v1/health").await.ok_json();
    assert!(open["storage"]["location"].is_string());
}

#[tokio::test]
async fn model_errors_name_no_server_path() {
    let app = TestApp::new(&Backend::memory());
    app.post_form(
        "/api/v1/voice",
        &Form::new().file("voice_file", "anna.wav", standin_audio("ref_7s.wav")),
    )
    .await
    .assert_ok();
    let missing = app
        .post_json(
            "/api/v1/tts",
            &json!({"text": "Hi.", "reference_audio_filename": "anna.wav"}),
        )
        .await;
    let body = missing.assert_error(503, "MODEL_NOT_INSTALLED");
    let message = body["error"].as_str().unwrap();
    assert!(message.contains("SPEECH_CHATTERBOX_DIR"), "{message}");
    let dir = std::env::temp_dir().display().to_string();
    assert!(!message.contains(&dir), "a server path leaked: {message}");
    assert!(!message.contains("speech-api-tests"), "{message}");
}

#[tokio::test]
async fn a_too_short_voice_names_the_voice_field() {
    let b = Backend::memory();
    let app = TestApp::with_config(&b, |c| {
        c.engines.chatterbox_dir = Some(chatterbox_standins("original"));
    });
    // 20 ms: shorter than one 40 ms speech token.
    app.post_form(
        "/api/v1/voice",
        &Form::new().file("voice_file", "blip.wav", wav_tone(0.02, 24_000, 220.0)),
    )
    .await
    .assert_ok();
    let tts = app
        .post_json(
            "/api/v1/tts",
            &json!({"text": "Hi.", "reference_audio_filename": "blip.wav"}),
        )
        .await;
    let body = tts.assert_error(422, "VALIDATION_ERROR");
    assert_eq!(
        body["detail"]["param"], "reference_audio_filename",
        "{body}"
    );
    assert!(stored_keys(b.store.as_ref(), "outputs").await.is_empty());
}

#[tokio::test]
async fn mixed_concat_accepts_a_url_encoded_form() {
    let b = Backend::memory();
    let app = TestApp::new(&b);
    b.store
        .put(
            &Key::new("outputs/demo/a.wav").unwrap(),
            wav_tone(0.5, 22_050, 330.0).into(),
        )
        .await
        .unwrap();
    let request_json = json!({
        "segments": [
            {"type": "server_file", "source": "demo/a.wav"},
            {"type": "silence", "source": "(250ms)"},
            {"type": "server_file", "source": "demo/a.wav"}
        ],
        "export_formats": ["wav"]
    })
    .to_string();
    let body = serde_urlencoded_body(&[("request_json", &request_json)]);
    let response = app
        .request(
            Request::builder()
                .method(Method::POST)
                .uri("/api/v1/concat/mixed")
                .header("content-type", "application/x-www-form-urlencoded")
                .body(Body::from(body))
                .unwrap(),
        )
        .await;
    assert_eq!(response.status, 200, "{}", response.text());
    let pcm = decode(&response.body, "wav");
    assert!(
        (pcm.duration_seconds() - 1.25).abs() < 0.01,
        "{}",
        pcm.duration_seconds()
    );
}

/// `application/x-www-form-urlencoded` encoding of `pairs`.
fn serde_urlencoded_body(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            b' ' => "+".to_owned(),
            other => format!("%{other:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn a_file_and_a_folder_of_one_name_conflict_on_the_filesystem() {
    let b = Backend::fs().await;
    let app = TestApp::new(&b);
    let upload = |name: &str, folder: &str| {
        Form::new()
            .file("voice_file", name, wav_tone(0.3, 16_000, 220.0))
            .text("folder_path", folder)
    };
    app.post_form("/api/v1/voice", &upload("a.wav", ""))
        .await
        .assert_ok();
    app.post_form("/api/v1/voice", &upload("b.wav", "a.wav"))
        .await
        .assert_error(409, "FILE_EXISTS");
    // The other way round: a folder named like the file to upload.
    app.post_form("/api/v1/voice", &upload("c.wav", "f.wav"))
        .await
        .assert_ok();
    app.post_form("/api/v1/voice", &upload("f.wav", ""))
        .await
        .assert_error(409, "FILE_EXISTS");
    // Nothing half-written is left: every object has its sidecar, no plan remains.
    let keys = stored_keys(b.store.as_ref(), "").await;
    assert!(!keys.iter().any(|k| k.starts_with("journal/")), "{keys:?}");
    for k in keys.iter().filter(|k| !k.ends_with(".json")) {
        assert!(
            keys.contains(&format!("{k}.json")),
            "{k} has no sidecar: {keys:?}"
        );
    }
}

/// A 32-bit float WAV of 0.2 s at 16 kHz whose middle sample is `poison`.
fn float_wav_with(poison: f32) -> Vec<u8> {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 16_000,
        bits_per_sample: 32,
        sample_format: hound::SampleFormat::Float,
    };
    let mut cursor = std::io::Cursor::new(Vec::new());
    let mut writer = hound::WavWriter::new(&mut cursor, spec).unwrap();
    for i in 0..3200 {
        let value = if i == 1600 {
            poison
        } else {
            (i as f32 * 0.05).sin() * 0.3
        };
        writer.write_sample(value).unwrap();
    }
    writer.finalize().unwrap();
    cursor.into_inner()
}

#[tokio::test]
async fn non_finite_audio_is_refused_everywhere_with_a_4xx() {
    let b = Backend::memory();
    let app = TestApp::with_config(&b, |c| {
        c.engines.chatterbox_dir = Some(chatterbox_standins("original"));
    });
    app.post_form(
        "/api/v1/voice",
        &Form::new().file("voice_file", "anna.wav", standin_audio("ref_7s.wav")),
    )
    .await
    .assert_ok();
    let before = stored_keys(b.store.as_ref(), "").await;
    for poison in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY, 3e38] {
        let file = float_wav_with(poison);
        app.post_form(
            "/api/v1/voice",
            &Form::new().file("voice_file", "bad.wav", file.clone()),
        )
        .await
        .assert_error(415, "INVALID_AUDIO");
        app.post_form(
            "/api/v1/vc_input",
            &Form::new().file("vc_input_file", "bad.wav", file.clone()),
        )
        .await
        .assert_error(415, "INVALID_AUDIO");
        let mixed = Form::new()
            .text(
                "request_json",
                &json!({"segments": [{"type": "upload", "index": 0}]}).to_string(),
            )
            .file("uploaded_files", "bad.wav", file.clone());
        app.post_form("/api/v1/concat/mixed", &mixed)
            .await
            .assert_error(415, "INVALID_AUDIO");
        let vc = Form::new().text("target_voice_source", "anna.wav").file(
            "input_audio",
            "bad.wav",
            file,
        );
        app.post_form("/api/v1/vc", &vc)
            .await
            .assert_error(415, "INVALID_AUDIO");
    }
    assert_eq!(stored_keys(b.store.as_ref(), "").await, before);
}

/// `seconds` of 48 kHz stereo silence as FLAC: a few KB that decode to 384 KB a second.
fn silent_flac(seconds: f64) -> Vec<u8> {
    let frames = (seconds * 48_000.0) as usize;
    let pcm = audio::Pcm::silence(48_000, 2, frames);
    audio::encode::encode(&pcm, "flac".parse().unwrap())
        .unwrap()
        .bytes
}

fn concat_form(file: &[u8]) -> Form {
    Form::new()
        .text(
            "request_json",
            &json!({"segments": [{"type": "upload", "index": 0}], "export_formats": ["wav"]})
                .to_string(),
        )
        .file("uploaded_files", "bomb.flac", file.to_vec())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn decoded_audio_stays_within_the_memory_budget() {
    let b = Backend::memory();
    // 32 MB for all requests together.
    let app = TestApp::with_config(&b, |c| c.limits.memory_budget_mb = 32);
    let budget = app.state.memory().clone();
    let limit = budget.limit_bytes();
    // 30 s decodes to 11.5 MB of samples (plus 5.8 MB of wav): fits alone.
    let small = silent_flac(30.0);
    assert!(small.len() < 200_000, "{} bytes", small.len());
    let done = app
        .post_form("/api/v1/concat/mixed", &concat_form(&small))
        .await;
    assert_eq!(done.status, 200, "{}", done.text());
    assert_eq!(budget.used_bytes(), 0, "the request gave everything back");

    // While other requests hold most of the budget, the same request is a 503 to retry.
    let others = budget.lease();
    others.reserve(limit - 4 * 1024 * 1024).unwrap();
    let busy = app
        .post_form("/api/v1/concat/mixed", &concat_form(&small))
        .await;
    busy.assert_error(503, "SERVER_BUSY");
    assert_eq!(busy.header("retry-after"), Some("5"));
    // A voice upload is refused the same way, while it streams in, and nothing is stored.
    let upload = app
        .post_form(
            "/api/v1/voice",
            &Form::new().file("voice_file", "big.wav", wav_tone(180.0, 24_000, 200.0)),
        )
        .await;
    upload.assert_error(503, "SERVER_BUSY");
    drop(others);
    assert_eq!(budget.used_bytes(), 0);

    // 120 s decodes to 46 MB: more than the whole budget, so never: 413, not 503.
    let bomb = silent_flac(120.0);
    app.post_form("/api/v1/concat/mixed", &concat_form(&bomb))
        .await
        .assert_error(413, "FILE_TOO_LARGE");

    // Six at once: each answered 200 or 503, never more than the ceiling held.
    let form = concat_form(&small);
    let storm = (0..6).map(|_| app.post_form("/api/v1/concat/mixed", &form));
    let statuses: Vec<u16> = futures::future::join_all(storm)
        .await
        .iter()
        .map(|r| r.status.as_u16())
        .collect();
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 503),
        "{statuses:?}"
    );
    assert!(statuses.contains(&200), "{statuses:?}");
    assert!(budget.peak_bytes() <= limit);
    assert_eq!(budget.used_bytes(), 0);
    // Only the successful ones stored anything, each a wav and its sidecar.
    let stored = stored_keys(b.store.as_ref(), "outputs").await;
    let ok = 1 + statuses.iter().filter(|s| **s == 200).count();
    assert_eq!(stored.len(), ok * 2, "{stored:?}");
}

#[tokio::test]
async fn an_upload_must_be_named_for_what_it_holds() {
    let b = Backend::memory();
    let app = TestApp::new(&b);
    for name in ["mislabelled.opus", "mislabelled.mp3", "mislabelled.aac"] {
        let body = app
            .post_form(
                "/api/v1/voice",
                &Form::new().file("voice_file", name, wav_tone(0.3, 16_000, 220.0)),
            )
            .await
            .assert_error(415, "UNSUPPORTED_FORMAT");
        assert!(body["error"].as_str().unwrap().contains(".wav"), "{body}");
    }
    assert!(stored_keys(b.store.as_ref(), "").await.is_empty());
    // Ogg is the container of Opus as well as Vorbis: both names fit an Ogg Opus file.
    let opus = audio::encode::encode(
        &audio::Pcm::mono(48_000, vec![0.1; 48_000]),
        "opus".parse().unwrap(),
    )
    .unwrap()
    .bytes;
    for name in ["speech.opus", "speech.ogg"] {
        app.post_form(
            "/api/v1/voice",
            &Form::new().file("voice_file", name, opus.clone()),
        )
        .await
        .assert_ok();
    }
}
