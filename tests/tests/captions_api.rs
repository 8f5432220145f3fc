//! Captions over HTTP on the filesystem store and a real S3 server: `captions: true` on
//! `/api/v1/tts` returns sentence timings in the final audio (after speed and trim) with the
//! words as the request wrote them, stores them in the sidecar and serves them as SRT,
//! WebVTT and JSON; an SSML pause lies exactly between its neighbours' captions.

// Test helpers outside #[test] functions unwrap too: a failed step ends the test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::{Value, json};
use tests::engines::{chatterbox_standins, standin_audio};
use tests::fixtures::decode;
use tests::multipart::Form;
use tests::{Backend, TestApp, for_each_persistent_backend};

const TEXT: &str = "The meeting starts at 3:30pm.  It costs $5 per person! Please bring a pen.";

/// The JSON answer of a TTS request with captions.
async fn captioned(app: &TestApp, extra: Value) -> Value {
    let mut body = json!({"text": TEXT, "captions": true, "smart_batch_short_sentences": false,
                          "export_formats": ["wav"]});
    for (key, value) in extra.as_object().unwrap() {
        body[key] = value.clone();
    }
    let response = app.post_json("/api/v1/tts?response_mode=url", &body).await;
    response.ok_json()
}

fn segments(answer: &Value) -> Vec<Value> {
    answer["captions"]["segments"].as_array().unwrap().clone()
}

async fn tts_captions_follow_the_audio(b: Backend) {
    let app = TestApp::new(&b);
    let answer = captioned(&app, json!({})).await;
    assert_eq!(answer["captions"]["level"], "word");
    let segments = segments(&answer);
    let written: Vec<&str> = segments
        .iter()
        .map(|s| s["text"].as_str().unwrap())
        .collect();
    assert_eq!(
        written,
        [
            "The meeting starts at 3:30pm.",
            "It costs $5 per person!",
            "Please bring a pen."
        ]
    );
    assert!(
        segments[1]["spoken"]
            .as_str()
            .unwrap()
            .contains("five dollars")
    );
    for segment in &segments {
        let (start, end) = (
            segment["source_start"].as_u64().unwrap() as usize,
            segment["source_end"].as_u64().unwrap() as usize,
        );
        let slice: String = TEXT.chars().skip(start).take(end - start).collect();
        assert_eq!(slice, segment["text"].as_str().unwrap());
    }
    let duration = answer["duration_seconds"].as_f64().unwrap();
    let mut previous_end = 0.0;
    for segment in &segments {
        let (start, end) = (
            segment["start"].as_f64().unwrap(),
            segment["end"].as_f64().unwrap(),
        );
        assert!(start >= previous_end - 1e-9 && end > start, "{segments:?}");
        previous_end = end;
    }
    assert_eq!(segments[0]["start"], 0.0);
    assert!(
        (previous_end - duration).abs() < 0.002,
        "{previous_end} vs {duration}"
    );

    // Twice as fast: every time halves (within a millisecond of rounding).
    let fast = captioned(&app, json!({"speed_factor": 2.0})).await;
    let fast_end = segments_end(&fast);
    let fast_duration = fast["duration_seconds"].as_f64().unwrap();
    assert!((fast_end - fast_duration).abs() < 0.002);
    assert!(
        (fast_duration / duration - 0.5).abs() < 0.1,
        "{fast_duration} vs {duration}"
    );

    // Stored: each format rendered from the sidecar.
    let name = answer["output_files"][0]["filename"].as_str().unwrap();
    let vtt = app.get(&format!("/api/v1/output/{name}/captions")).await;
    assert_eq!(vtt.status, 200, "{}", vtt.text());
    assert_eq!(vtt.header("content-type"), Some("text/vtt; charset=utf-8"));
    let vtt = vtt.text();
    assert!(
        vtt.starts_with("WEBVTT\n\n00:00:00.000 --> 00:00:0"),
        "{vtt}"
    );
    assert!(vtt.contains("It costs $5 per person!"), "{vtt}");
    let srt = app
        .get(&format!("/api/v1/output/{name}/captions?format=srt"))
        .await;
    assert_eq!(
        srt.header("content-type"),
        Some("application/x-subrip; charset=utf-8")
    );
    let srt = srt.text();
    assert!(srt.starts_with("1\n00:00:00,000 --> "), "{srt}");
    assert_eq!(srt.matches(" --> ").count(), 3, "{srt}");
    let stored = app
        .get(&format!("/api/v1/output/{name}/captions?format=json"))
        .await
        .ok_json();
    assert_eq!(stored, answer["captions"]);
    let bad = app
        .get(&format!("/api/v1/output/{name}/captions?format=ass"))
        .await;
    bad.assert_error(422, "VALIDATION_ERROR");
    let typo = app
        .get(&format!("/api/v1/output/{name}/captions?fromat=srt"))
        .await;
    typo.assert_error(422, "VALIDATION_ERROR");

    // An output made without captions has none; an unknown one is not there at all.
    let plain = app
        .post_json(
            "/api/v1/tts?response_mode=url",
            &json!({"text": "No captions here.", "export_formats": ["wav"]}),
        )
        .await
        .ok_json();
    assert!(plain.get("captions").is_none(), "{plain}");
    let plain_name = plain["output_files"][0]["filename"].as_str().unwrap();
    let none = app
        .get(&format!("/api/v1/output/{plain_name}/captions"))
        .await
        .assert_error(404, "RESOURCE_NOT_FOUND");
    assert!(
        none["error"].as_str().unwrap().starts_with("Captions"),
        "{none}"
    );
    let missing = app
        .get("/api/v1/output/nope.wav/captions")
        .await
        .assert_error(404, "RESOURCE_NOT_FOUND");
    assert!(
        missing["error"]
            .as_str()
            .unwrap()
            .starts_with("Output file"),
        "{missing}"
    );
}

fn segments_end(answer: &Value) -> f64 {
    segments(answer).last().unwrap()["end"].as_f64().unwrap()
}

async fn an_ssml_pause_lies_between_captions(b: Backend) {
    let app = TestApp::new(&b);
    let response = app
        .post_json(
            "/api/v1/tts?response_mode=url",
            &json!({"text": r#"<speak>First comes this. <break time="2s"/> Then that.</speak>"#,
                    "captions": true, "export_formats": ["wav"]}),
        )
        .await
        .ok_json();
    let segments = segments(&response);
    assert_eq!(segments.len(), 2, "{segments:?}");
    assert_eq!(segments[0]["source_start"], Value::Null);
    let gap_start = segments[0]["end"].as_f64().unwrap();
    let gap_end = segments[1]["start"].as_f64().unwrap();
    assert!((gap_end - gap_start - 2.0).abs() < 0.01, "{segments:?}");
    // The audio between the two captions is the break's exact silence.
    let name = response["output_files"][0]["path"].as_str().unwrap();
    let wav = app.get(&format!("/outputs/{name}")).await;
    assert_eq!(wav.status, 200);
    let pcm = decode(&wav.body, "wav");
    let rate = f64::from(pcm.sample_rate);
    let inside =
        &pcm.samples[((gap_start + 0.005) * rate) as usize..((gap_end - 0.005) * rate) as usize];
    assert!(inside.iter().all(|s| *s == 0.0));
}

async fn chatterbox_captions_per_chunk(b: Backend) {
    let app = TestApp::with_config(&b, |c| {
        c.engines.chatterbox_dir = Some(chatterbox_standins("original"));
    });
    let voice = Form::new().file("voice_file", "anna.wav", standin_audio("ref_7s.wav"));
    app.post_form("/api/v1/voice", &voice).await.assert_ok();
    let answer = captioned(
        &app,
        json!({"reference_audio_filename": "anna", "temperature": 0, "trim": true}),
    )
    .await;
    assert_eq!(answer["captions"]["level"], "sentence");
    let segments = segments(&answer);
    assert_eq!(segments.len(), 3, "{segments:?}");
    assert_eq!(segments[2]["text"], "Please bring a pen.");
    assert!(segments[0].get("words").is_none(), "{segments:?}");
    let duration = answer["duration_seconds"].as_f64().unwrap();
    assert!(segments_end(&answer) <= duration + 1e-9);
}

/// Onsets of sound after at least 60 ms of quiet, in seconds: 10 ms frames, quiet below
/// -30 dB of the loudest frame. An estimate that knows nothing of the engine's timings.
fn energy_onsets(samples: &[f32], rate: u32) -> Vec<f64> {
    let frame = (rate / 100) as usize;
    let levels: Vec<f32> = samples
        .chunks(frame)
        .map(|f| (f.iter().map(|s| s * s).sum::<f32>() / f.len() as f32).sqrt())
        .collect();
    let loudest = levels.iter().copied().fold(0.0, f32::max);
    let threshold = loudest * 0.0316;
    let mut onsets = Vec::new();
    let mut quiet = 0;
    for (n, level) in levels.iter().enumerate() {
        if *level < threshold {
            quiet += 1;
        } else {
            if quiet >= 6 {
                onsets.push(n as f64 * 0.01);
            }
            quiet = 0;
        }
    }
    onsets
}

async fn word_onsets_match_the_audio(b: Backend) {
    let app = TestApp::new(&b);
    for speed in [1.0, 1.5] {
        let answer = app
            .post_json(
                "/api/v1/tts?response_mode=url",
                &json!({"text": "Alpha, bravo, charlie, delta, echo, foxtrot, golf, hotel, india.",
                        "captions": true, "speed_factor": speed, "export_formats": ["wav"]}),
            )
            .await
            .ok_json();
        let path = answer["output_files"][0]["path"].as_str().unwrap();
        let wav = app.get(&format!("/outputs/{path}")).await;
        let pcm = decode(&wav.body, "wav");
        let onsets = energy_onsets(&pcm.samples, pcm.sample_rate);
        let words = answer["captions"]["segments"][0]["words"]
            .as_array()
            .unwrap()
            .clone();
        assert_eq!(words.len(), 9, "{words:?}");
        // Every word after a comma starts after a pause: the estimate has an onset there.
        let mut errors: Vec<f64> = words[1..]
            .iter()
            .map(|w| {
                let start = w["start"].as_f64().unwrap();
                onsets
                    .iter()
                    .map(|o| (o - start).abs())
                    .fold(f64::INFINITY, f64::min)
            })
            .collect();
        errors.sort_by(f64::total_cmp);
        let median = errors[errors.len() / 2];
        eprintln!(
            "speed {speed}: median word-onset error {median:.3} s (max {:.3} s)",
            errors[errors.len() - 1]
        );
        assert!(
            median < 0.060,
            "speed {speed}: median onset error {median} s; errors {errors:?}, onsets {onsets:?}, words {words:?}"
        );
    }
}

async fn openai_captioned_speech_gives_audio_and_word_timestamps(b: Backend) {
    use base64::Engine as _;
    let app = TestApp::new(&b);
    for path in ["/v1/audio/speech/captioned", "/dev/captioned_speech"] {
        let answer = app
            .post_json(
                path,
                &json!({"model": "tts-1", "voice": "alloy", "input": "Hello there, it costs $5.",
                        "response_format": "wav", "speed": 1.25}),
            )
            .await
            .ok_json();
        assert_eq!(answer["audio_format"], "wav");
        assert_eq!(answer["engine"], "piper");
        let wav = base64::engine::general_purpose::STANDARD
            .decode(answer["audio"].as_str().unwrap())
            .unwrap();
        let pcm = decode(&wav, "wav");
        assert_eq!(pcm.sample_rate, 24_000);
        let seconds = pcm.frames() as f64 / 24_000.0;
        let timestamps = answer["timestamps"].as_array().unwrap();
        let words: Vec<&str> = timestamps
            .iter()
            .map(|t| t["word"].as_str().unwrap())
            .collect();
        assert_eq!(words, ["hello", "there", "it", "costs", "five", "dollars"]);
        let last_end = timestamps.last().unwrap()["end_time"].as_f64().unwrap();
        assert!(
            last_end <= seconds + 1e-6 && last_end > seconds - 0.5,
            "{last_end} of {seconds}"
        );
        assert_eq!(
            answer["captions"]["segments"][0]["text"],
            "Hello there, it costs $5."
        );
    }
    // The speech route's own errors, in OpenAI's envelope; SSE makes no sense here.
    let sse = app
        .post_json(
            "/v1/audio/speech/captioned",
            &json!({"model": "gpt-4o-mini-tts", "voice": "alloy", "input": "Hi.", "stream_format": "sse"}),
        )
        .await;
    assert_eq!(sse.status, 400, "{}", sse.text());
    assert_eq!(sse.json()["error"]["param"], "stream_format");
    let empty = app
        .post_json(
            "/v1/audio/speech/captioned",
            &json!({"model": "tts-1", "voice": "alloy", "input": ""}),
        )
        .await;
    assert_eq!(empty.status, 400, "{}", empty.text());
    assert!(stored_nothing(&b).await);
}

async fn concat_moves_each_clips_captions(b: Backend) {
    let app = TestApp::new(&b);
    let make = |text: &str| json!({"text": text, "captions": true, "export_formats": ["wav"], "project": "book"});
    let first = app
        .post_json(
            "/api/v1/tts?response_mode=url",
            &make("Chapter one. It begins."),
        )
        .await
        .ok_json();
    let second = app
        .post_json(
            "/api/v1/tts?response_mode=url",
            &make("Chapter two. It ends."),
        )
        .await
        .ok_json();
    let path = |answer: &Value| {
        answer["output_files"][0]["path"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let first_seconds = first["duration_seconds"].as_f64().unwrap();
    let joined = app
        .post_json(
            "/api/v1/concat?response_mode=url",
            &json!({"files": [path(&first), "(1s)", path(&second)], "captions": true,
                    "normalize_levels": false}),
        )
        .await
        .ok_json();
    let captions = &joined["captions"];
    assert_eq!(captions["level"], "word");
    let segments = captions["segments"].as_array().unwrap();
    let texts: Vec<&str> = segments
        .iter()
        .map(|s| s["text"].as_str().unwrap())
        .collect();
    assert_eq!(
        texts,
        ["Chapter one. It begins."]
            .iter()
            .chain(["Chapter two. It ends."].iter())
            .copied()
            .collect::<Vec<_>>()
    );
    let own = second["captions"]["segments"][0]["start"].as_f64().unwrap();
    let moved = segments[1]["start"].as_f64().unwrap();
    assert!(
        (moved - (first_seconds + 1.0 + own)).abs() < 0.002,
        "{moved} vs {first_seconds} + 1 + {own}"
    );
    let own_word = second["captions"]["segments"][0]["words"][1]["start"]
        .as_f64()
        .unwrap();
    let moved_word = segments[1]["words"][1]["start"].as_f64().unwrap();
    assert!((moved_word - (first_seconds + 1.0 + own_word)).abs() < 0.002);
    assert_eq!(segments[1]["source_start"], Value::Null);
    // Stored with the result, and named in the streamed answer.
    let name = joined["files"][0]["path"]
        .as_str()
        .unwrap()
        .replace('/', "%2F");
    let vtt = app.get(&format!("/api/v1/output/{name}/captions")).await;
    assert_eq!(vtt.status, 200, "{}", vtt.text());
    assert_eq!(vtt.text().matches(" --> ").count(), 2);
    let streamed = app
        .post_json(
            "/api/v1/concat",
            &json!({"files": [path(&first), path(&second)], "captions": true, "crossfade_ms": 200}),
        )
        .await;
    assert_eq!(streamed.status, 200);
    let url = streamed.header("x-captions-url").unwrap().to_owned();
    let stored = app.get(&format!("{url}?format=json")).await.ok_json();
    let starts: Vec<f64> = stored["segments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["start"].as_f64().unwrap())
        .collect();
    // The second clip starts 200 ms before the first ends.
    assert!(
        (starts[1] - (first_seconds - 0.2 + own)).abs() < 0.002,
        "{starts:?}"
    );
}

/// Nothing was written to the outputs area (the OpenAI dialect stores nothing).
async fn stored_nothing(b: &Backend) -> bool {
    tests::stored_keys(b.store.as_ref(), "outputs/")
        .await
        .is_empty()
}

for_each_persistent_backend!(
    concat_moves_each_clips_captions,
    openai_captioned_speech_gives_audio_and_word_timestamps,
    word_onsets_match_the_audio,
    tts_captions_follow_the_audio,
    an_ssml_pause_lies_between_captions,
    chatterbox_captions_per_chunk,
);

/// Sentences spoken side by side (`--synthesis-threads`) come back in order and sound as
/// when spoken one at a time: with the voice's noise off, the same audio.
async fn sentences_side_by_side_match_one_at_a_time(b: Backend) {
    let text = "First things first. Second, the middle part. Third, almost done. \
                Fourth and last of all.";
    let mut answers = Vec::new();
    for threads in [1, 3] {
        let app = TestApp::with_config(&b, |c| {
            c.engines.synthesis_threads = threads;
            c.engines.piper_noise_scale = Some(0.0);
            c.engines.piper_noise_w = Some(0.0);
        });
        let answer = app
            .post_json(
                "/api/v1/tts?response_mode=url",
                &json!({"text": text, "captions": true, "smart_batch_short_sentences": false,
                        "export_formats": ["wav"]}),
            )
            .await
            .ok_json();
        let path = answer["output_files"][0]["path"]
            .as_str()
            .unwrap()
            .to_owned();
        let wav = app.get(&format!("/outputs/{path}")).await;
        answers.push((answer, decode(&wav.body, "wav")));
    }
    let (one, side) = (&answers[0], &answers[1]);
    let texts = |a: &Value| -> Vec<String> {
        segments(a)
            .iter()
            .map(|s| s["text"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(texts(&one.0).len(), 4);
    assert_eq!(texts(&one.0), texts(&side.0));
    let (a, b) = (&one.1.samples, &side.1.samples);
    let longest = a.len().max(b.len()) as f64;
    assert!(
        (a.len() as f64 - b.len() as f64).abs() / longest < 0.01,
        "{} vs {}",
        a.len(),
        b.len()
    );
    let n = a.len().min(b.len());
    let energy: f64 = a[..n].iter().map(|s| f64::from(*s).powi(2)).sum();
    let error: f64 = a[..n]
        .iter()
        .zip(&b[..n])
        .map(|(x, y)| f64::from(x - y).powi(2))
        .sum();
    assert!(
        error < energy * 0.01,
        "side by side differs: error {error} of {energy}"
    );
}

mod side_by_side {
    use super::*;
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn fs() {
        sentences_side_by_side_match_one_at_a_time(Backend::fs().await).await;
    }
}
