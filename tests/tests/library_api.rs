//! Building the library in bulk and judging references, over HTTP on the filesystem store
//! and a real S3 server: a bulk upload with good and bad files stores the good ones (with
//! their sidecars) and reports each bad one; quality analysis passes a clean reference and
//! flags a clipped and a noisy one, at upload, on demand and for a file not stored.

// Test helpers outside #[test] functions unwrap too: a failed step ends the test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Cursor;

use serde_json::{Value, json};
use storage::Key;
use tests::fixtures::{decode, wav};
use tests::multipart::Form;
use tests::{Backend, TestApp, for_each_persistent_backend, stored_keys};

/// About twelve seconds of the built-in voice: a clean reference.
async fn clean_speech(app: &TestApp) -> audio::Pcm {
    let text = "The quiet harbour woke slowly under a pale grey sky. Fishing boats rocked \
                against the pier while gulls argued over scraps. An old man mended his nets \
                and hummed a song his mother used to sing. Nobody hurried, because the tide \
                would turn when it wanted to, and the sea had never cared for clocks.";
    let response = app
        .post_json(
            "/api/v1/tts",
            &json!({"text": text, "export_formats": ["wav"]}),
        )
        .await;
    assert_eq!(response.status, 200, "{}", response.text());
    decode(&response.body, "wav")
}

fn to_wav(pcm: &audio::Pcm, transform: impl Fn(usize, f32) -> f32) -> Vec<u8> {
    let spec = hound::WavSpec {
        channels: pcm.channels,
        sample_rate: pcm.sample_rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut cursor = Cursor::new(Vec::new());
    {
        let mut writer = hound::WavWriter::new(&mut cursor, spec).unwrap();
        for (i, sample) in pcm.samples.iter().enumerate() {
            let value = transform(i, *sample).clamp(-1.0, 1.0);
            writer.write_sample((value * 32767.0) as i16).unwrap();
        }
        writer.finalize().unwrap();
    }
    cursor.into_inner()
}

/// Deterministic white noise in [-1, 1].
fn noise(i: usize) -> f32 {
    let mut x = (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xD1B5_4A32_D192_ED03;
    x ^= x >> 31;
    x = x.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x ^= x >> 29;
    (x % 20_001) as f32 / 10_000.0 - 1.0
}

fn warning_codes(quality: &Value) -> Vec<String> {
    quality["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["code"].as_str().unwrap().to_owned())
        .collect()
}

async fn analysis_passes_a_clean_reference_and_flags_clipped_and_noisy_ones(b: Backend) {
    let app = TestApp::new(&b);
    let speech = clean_speech(&app).await;
    let clean = to_wav(&speech, |_, s| s);
    let clipped = to_wav(&speech, |_, s| s * 6.0);
    let noisy = to_wav(&speech, |i, s| s + 0.08 * noise(i));

    // At upload: the report is in the answer, the sidecar and the listing.
    let upload = |name: &str, data: Vec<u8>| Form::new().file("voice_file", name, data);
    let stored = app
        .post_form("/api/v1/voice", &upload("clean.wav", clean.clone()))
        .await
        .ok_json();
    let quality = &stored["voice_metadata"]["quality"];
    assert!(quality["score"].as_u64().unwrap() >= 75, "{quality}");
    assert_eq!(quality["verdict"], "good");
    let codes = warning_codes(quality);
    assert!(
        !codes.iter().any(|c| c == "clipped" || c == "noisy"),
        "{codes:?}"
    );
    assert!(quality["duration_seconds"].as_f64().unwrap() > 8.0);
    assert_eq!(quality["sample_rate"], speech.sample_rate);
    let sidecar: Value = serde_json::from_slice(
        &b.store
            .get(&Key::new("voices/clean.wav.json").unwrap())
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(sidecar["quality"]["score"], quality["score"]);
    let listed = app.get("/api/v1/voices").await.ok_json();
    assert_eq!(listed["voices"][0]["quality"]["score"], quality["score"]);

    let clipped_report = app
        .post_form("/api/v1/voice", &upload("clipped.wav", clipped))
        .await
        .ok_json();
    let clipped_quality = &clipped_report["voice_metadata"]["quality"];
    assert!(
        warning_codes(clipped_quality).contains(&"clipped".to_owned()),
        "{clipped_quality}"
    );
    assert!(clipped_quality["clipping_ratio"].as_f64().unwrap() > 0.001);
    assert!(clipped_quality["score"].as_u64() < quality["score"].as_u64());

    // Not stored: the same measurement, nothing written.
    let before = stored_keys(b.store.as_ref(), "voices/").await;
    let unstored = app
        .post_form("/api/v1/voices/analyze", &upload("noisy.wav", noisy))
        .await
        .ok_json();
    assert_eq!(unstored["stored"], false);
    assert!(
        warning_codes(&unstored["quality"]).contains(&"noisy".to_owned()),
        "{unstored}"
    );
    assert!(unstored["quality"]["snr_db"].as_f64().unwrap() < 25.0);
    assert_eq!(stored_keys(b.store.as_ref(), "voices/").await, before);
    app.post_form(
        "/api/v1/voices/analyze",
        &Form::new().file("voice_file", "notes.txt", b"hello".to_vec()),
    )
    .await
    .assert_error(415, "UNSUPPORTED_FORMAT");

    // On demand for a stored voice whose sidecar lacks it (copied in by hand).
    b.store
        .put(&Key::new("voices/manual.wav").unwrap(), clean.into())
        .await
        .unwrap();
    let analysed = app.post("/api/v1/voice/manual.wav/analyze").await.ok_json();
    assert_eq!(analysed["stored"], true);
    assert_eq!(analysed["filename"], "manual.wav");
    let sidecar: Value = serde_json::from_slice(
        &b.store
            .get(&Key::new("voices/manual.wav.json").unwrap())
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(sidecar["quality"]["verdict"], "good", "{sidecar}");
    app.post("/api/v1/voice/missing.wav/analyze")
        .await
        .assert_error(404, "RESOURCE_NOT_FOUND");
}

async fn a_bulk_upload_stores_the_good_files_and_reports_the_bad(b: Backend) {
    let app = TestApp::with_config(&b, |c| c.limits.max_voice_upload_mb = 1);
    app.post_form(
        "/api/v1/voice",
        &Form::new().file("voice_file", "taken.wav", wav()),
    )
    .await
    .assert_ok();
    let big = tests::fixtures::wav_tone(40.0, 22_050, 300.0);
    assert!(big.len() > 1024 * 1024);
    let manifest = json!({"one.wav": {"name": "First", "tags": "calm,low", "description": "From the manifest"}});
    let form = Form::new()
        .text("folder_path", "batch")
        .text("manifest", &manifest.to_string())
        .file("files", "one.wav", wav())
        .file(
            "files",
            "two.wav",
            tests::fixtures::wav_tone(1.5, 16_000, 330.0),
        )
        .file("files", "notes.txt", b"not audio".to_vec())
        .file("files", "fake.wav", b"RIFF....WAVEjunk".to_vec())
        .file("files", "big.wav", big)
        .file("files", "three.mp3", tests::fixtures::fixture("tone.mp3"));
    let response = app.post_form("/api/v1/voices/bulk", &form).await.ok_json();
    assert_eq!(response["created"], 3, "{response}");
    assert_eq!(response["rejected"], 3, "{response}");
    assert_eq!(response["success"], false);
    let results = response["results"].as_array().unwrap();
    let status_of = |name: &str| {
        let result = results.iter().find(|r| r["filename"] == name).unwrap();
        (
            result["status"].as_str().unwrap().to_owned(),
            result["error_code"].as_str().map(str::to_owned),
        )
    };
    assert_eq!(status_of("one.wav").0, "created");
    assert_eq!(
        status_of("notes.txt"),
        ("rejected".into(), Some("UNSUPPORTED_FORMAT".into()))
    );
    assert_eq!(
        status_of("fake.wav"),
        ("rejected".into(), Some("INVALID_AUDIO".into()))
    );
    assert_eq!(
        status_of("big.wav"),
        ("rejected".into(), Some("FILE_TOO_LARGE".into()))
    );
    assert_eq!(results[0]["path"], "batch/one.wav");
    assert!(results[0]["quality_score"].is_u64());

    let keys = stored_keys(b.store.as_ref(), "voices/").await;
    assert_eq!(
        keys,
        [
            "voices/batch/one.wav",
            "voices/batch/one.wav.json",
            "voices/batch/three.mp3",
            "voices/batch/three.mp3.json",
            "voices/batch/two.wav",
            "voices/batch/two.wav.json",
            "voices/taken.wav",
            "voices/taken.wav.json",
        ]
    );
    let listed = app.get("/api/v1/voices?search=First").await.ok_json();
    assert_eq!(listed["voices"][0]["description"], "From the manifest");
    assert_eq!(listed["voices"][0]["tags"], json!(["calm", "low"]));

    // Again, without overwrite: every path is taken, so everything is skipped; with it, replaced.
    let again = Form::new()
        .file("files", "taken.wav", wav())
        .file("files", "other.wav", wav());
    let skipped = app.post_form("/api/v1/voices/bulk", &again).await.ok_json();
    assert_eq!(skipped["skipped"], 1, "{skipped}");
    assert_eq!(skipped["created"], 1);
    let replaced = Form::new()
        .text("overwrite", "true")
        .file("files", "taken.wav", wav());
    let replaced = app
        .post_form("/api/v1/voices/bulk", &replaced)
        .await
        .ok_json();
    assert_eq!(replaced["overwritten"], 1, "{replaced}");

    // VC inputs take the same route shape.
    let inputs = Form::new()
        .text("folder_path", "takes")
        .file("files", "a.wav", wav())
        .file("files", "b.flac", tests::fixtures::fixture("tone.flac"));
    let stored = app
        .post_form("/api/v1/vc_inputs/bulk", &inputs)
        .await
        .ok_json();
    assert_eq!(stored["created"], 2, "{stored}");
    assert_eq!(
        stored_keys(b.store.as_ref(), "vc_inputs/").await.len(),
        4,
        "two files and their sidecars"
    );

    // A misspelt setting refuses the request before any file is stored.
    let typo = Form::new()
        .text("folder", "x")
        .file("files", "z.wav", wav());
    app.post_form("/api/v1/voices/bulk", &typo)
        .await
        .assert_error(422, "VALIDATION_ERROR");
    assert!(
        !stored_keys(b.store.as_ref(), "")
            .await
            .iter()
            .any(|k| k.contains("z.wav"))
    );
}

for_each_persistent_backend!(
    analysis_passes_a_clean_reference_and_flags_clipped_and_noisy_ones,
    a_bulk_upload_stores_the_good_files_and_reports_the_bad,
);
