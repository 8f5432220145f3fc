//! SSML over HTTP on the filesystem store and a real S3 server: `<break>` is silence of
//! the asked length, `<prosody rate>` changes the pace, `<phoneme>` IPA is spoken by the
//! built-in voice (and refused by name when the voice has no such sound), anything outside
//! the subset is a 4xx naming the tag with nothing stored, in the native and OpenAI
//! dialects; `"ssml": false` reads markup as text, and Chatterbox is told it cannot read IPA.

// Test helpers outside #[test] functions unwrap too: a failed step ends the test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::{Value, json};
use storage::Key;
use tests::engines::{chatterbox_standins, standin_audio};
use tests::fixtures::decode;
use tests::multipart::Form;
use tests::{Backend, TestApp, for_each_persistent_backend, stored_keys};

/// Seconds of the WAV a native TTS request answers with.
async fn tts_seconds(app: &TestApp, body: Value) -> f64 {
    let response = app.post_json("/api/v1/tts", &body).await;
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(response.header("content-type"), Some("audio/wav"));
    let pcm = decode(&response.body, "wav");
    pcm.frames() as f64 / f64::from(pcm.sample_rate)
}

/// The longest run of exact digital silence in a WAV, in seconds: Piper's own pauses are
/// never exactly zero, a `<break>` is.
fn longest_zero_run(bytes: &[u8]) -> f64 {
    let pcm = decode(bytes, "wav");
    let (mut longest, mut run) = (0usize, 0usize);
    for sample in &pcm.samples {
        if *sample == 0.0 {
            run += 1;
            longest = longest.max(run);
        } else {
            run = 0;
        }
    }
    longest as f64 / f64::from(pcm.sample_rate)
}

async fn breaks_and_rates_shape_the_audio(b: Backend) {
    let app = TestApp::new(&b);
    let wav = |text: &str| json!({"text": text, "export_formats": ["wav"]});
    let with_break = app
        .post_json(
            "/api/v1/tts",
            &wav(r#"<speak>Hello there. <break time="1500ms"/> Goodbye now.</speak>"#),
        )
        .await;
    assert_eq!(with_break.status, 200, "{}", with_break.text());
    let pause = longest_zero_run(&with_break.body);
    assert!((1.45..1.6).contains(&pause), "break of {pause} s");

    let normal = tts_seconds(
        &app,
        wav("<speak>The quick brown fox jumps over the lazy dog.</speak>"),
    )
    .await;
    let slow = tts_seconds(
        &app,
        wav(r#"<speak><prosody rate="x-slow">The quick brown fox jumps over the lazy dog.</prosody></speak>"#),
    )
    .await;
    let ratio = slow / normal;
    assert!((1.6..2.4).contains(&ratio), "x-slow is {ratio}x as long");

    // The sidecar says the text was SSML and keeps the document as sent.
    let response = app
        .post_json(
            "/api/v1/tts?response_mode=url",
            &wav(r#"<speak><say-as interpret-as="characters">abc</say-as></speak>"#),
        )
        .await;
    let name = response.ok_json()["output_files"][0]["filename"]
        .as_str()
        .unwrap()
        .to_owned();
    let sidecar: Value = serde_json::from_slice(
        &b.store
            .get(&Key::new(format!("outputs/{name}.json")).unwrap())
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(sidecar["generation_info"]["ssml"], true);
    assert!(
        sidecar["parameters"]["text"]
            .as_str()
            .unwrap()
            .starts_with("<speak>")
    );
}

async fn phonemes_are_spoken_or_refused_by_name(b: Backend) {
    let app = TestApp::new(&b);
    let body = |ph: &str| {
        json!({"text": format!(r#"<speak>Say <phoneme alphabet="ipa" ph="{ph}">tomato</phoneme>.</speak>"#),
               "export_formats": ["wav"]})
    };
    let spoken = tts_seconds(&app, body("təmˈɑːtoʊ")).await;
    assert!(spoken > 0.5, "{spoken} s");
    let before = stored_keys(b.store.as_ref(), "outputs/").await;
    let refused = app.post_json("/api/v1/tts", &body("tə☃ˈmɑːtoʊ")).await;
    let error = refused.assert_error(422, "VALIDATION_ERROR");
    assert!(error["error"].as_str().unwrap().contains('☃'), "{error}");
    assert_eq!(stored_keys(b.store.as_ref(), "outputs/").await, before);
}

async fn unsupported_markup_is_refused_with_nothing_stored(b: Backend) {
    let app = TestApp::new(&b);
    let refused = app
        .post_json(
            "/api/v1/tts",
            &json!({"text": r#"<speak>Hi <audio src="https://example.com/a.wav"/></speak>"#}),
        )
        .await;
    let error = refused.assert_error(422, "VALIDATION_ERROR");
    assert_eq!(error["detail"]["param"], "text");
    assert!(
        error["error"].as_str().unwrap().contains("<audio>"),
        "{error}"
    );
    let malformed = app
        .post_json(
            "/api/v1/tts",
            &json!({"text": "<speak>Hi <break time='1s'></speak>"}),
        )
        .await;
    malformed.assert_error(422, "VALIDATION_ERROR");
    let required = app
        .post_json(
            "/api/v1/tts",
            &json!({"text": "Plain words.", "ssml": true}),
        )
        .await;
    let error = required.assert_error(422, "VALIDATION_ERROR");
    assert!(
        error["error"].as_str().unwrap().contains("<speak>"),
        "{error}"
    );
    assert!(stored_keys(b.store.as_ref(), "outputs/").await.is_empty());

    // Markup read as text when asked: the tags are not refused.
    let plain = app
        .post_json(
            "/api/v1/tts",
            &json!({"text": "<speak>Hi <audio/></speak>", "ssml": false, "export_formats": ["wav"]}),
        )
        .await;
    assert_eq!(plain.status, 200, "{}", plain.text());

    // The OpenAI dialect: the same refusal in OpenAI's envelope, and breaks honoured.
    let openai = app
        .post_json(
            "/v1/audio/speech",
            &json!({"model": "tts-1", "voice": "alloy", "input": "<speak><voice name='x'>Hi</voice></speak>"}),
        )
        .await;
    assert_eq!(openai.status, 400, "{}", openai.text());
    let error = openai.json();
    assert_eq!(error["error"]["param"], "input", "{error}");
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("<voice>"),
        "{error}"
    );
    let speech = app
        .post_json(
            "/v1/audio/speech",
            &json!({"model": "tts-1", "voice": "alloy", "response_format": "wav",
                    "input": r#"<speak>One. <break time="2s"/> Two.</speak>"#}),
        )
        .await;
    assert_eq!(speech.status, 200, "{}", speech.text());
    let pause = longest_zero_run(&speech.body);
    assert!((1.9..2.2).contains(&pause), "break of {pause} s");
}

async fn chatterbox_is_told_it_cannot_read_ipa(b: Backend) {
    let app = TestApp::with_config(&b, |c| {
        c.engines.chatterbox_dir = Some(chatterbox_standins("original"));
    });
    let voice = Form::new().file("voice_file", "anna.wav", standin_audio("ref_7s.wav"));
    app.post_form("/api/v1/voice", &voice).await.assert_ok();
    let response = app
        .post_json(
            "/api/v1/tts?response_mode=url",
            &json!({"text": r#"<speak><emphasis level="strong">Say</emphasis> <phoneme ph="təmˈɑːtoʊ">tomato</phoneme>.</speak>"#,
                    "reference_audio_filename": "anna", "temperature": 0, "export_formats": ["wav"]}),
        )
        .await;
    let body = response.ok_json();
    let warnings = body["warnings"].to_string();
    assert!(warnings.contains("cannot read IPA"), "{body}");
    let name = body["output_files"][0]["filename"].as_str().unwrap();
    let sidecar: Value = serde_json::from_slice(
        &b.store
            .get(&Key::new(format!("outputs/{name}.json")).unwrap())
            .await
            .unwrap(),
    )
    .unwrap();
    let chunks: Vec<&str> = sidecar["generation_info"]["chunks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["text"].as_str().unwrap())
        .collect();
    assert!(chunks.iter().any(|c| c.contains("tomato")), "{chunks:?}");
}

for_each_persistent_backend!(
    breaks_and_rates_shape_the_audio,
    phonemes_are_spoken_or_refused_by_name,
    unsupported_markup_is_refused_with_nothing_stored,
    chatterbox_is_told_it_cannot_read_ipa,
);
