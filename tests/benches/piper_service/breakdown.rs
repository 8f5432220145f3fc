//! Where one request's time goes on our side: the engine's stages measured in-process
//! beside the same request over HTTP.

use std::time::{Duration, Instant};

use models::piper::PiperOptions;
use serde_json::{Value, json};

use crate::REPRESENTATIVE;
use crate::figures::{median, ms, span};

/// Where one request's time goes on our side, for [`REPRESENTATIVE`].
pub(crate) async fn breakdown(client: &reqwest::Client, base: &str, threads: usize, runs: usize) {
    // The engine as the service builds it: same library, voice and thread count.
    let voice = tests::engines::piper_voice(threads);
    // What the service feeds the engine after its default text preparation (lower case…).
    let text = models::text::preprocess(
        REPRESENTATIVE,
        &models::text::TextOptions {
            to_lowercase: true,
            normalize_spacing: true,
            fix_dot_letters: true,
            remove_reference_numbers: true,
        },
    );
    let options = PiperOptions::default();
    let ids = voice.sentence_phoneme_ids(&text).unwrap();
    assert_eq!(ids.len(), 1, "one sentence");
    let ids = &ids[0];
    let waveform = voice.synthesize(&text, &options).unwrap();
    let pcm = audio::Pcm::mono(waveform.sample_rate, waveform.samples.clone());
    let wav = audio::encode::encode(&pcm, audio::encode::ExportFormat::Wav).unwrap();
    let store_dir = tempfile::tempdir().unwrap();
    let store = storage::open(
        &format!("file://{}", store_dir.path().display())
            .parse()
            .unwrap(),
        &storage::S3Settings::default(),
        &storage::StoreTimeouts::default(),
    )
    .await
    .unwrap();
    let wav_bytes = bytes::Bytes::from(wav.bytes);
    // One TTS request, read to its last byte.
    let post = |body: Value, query: &'static str| async move {
        client
            .post(format!("{base}/api/v1/tts{query}"))
            .json(&body)
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap()
    };
    // Warm-up of every path.
    for _ in 0..2 {
        post(json!({"text": REPRESENTATIVE}), "").await;
    }

    let labels = [
        "bare graph run (`synthesize_ids`, ids pre-computed)",
        "phonemisation (long-lived espeak-ng)",
        "engine call end to end (`PiperVoice::synthesize`)",
        "WAV encode (16-bit)",
        "MP3 encode (320 kbps requested, the `/api/v1/tts` default)",
        "one store write (file://, fsync'd temp file + rename)",
        "HTTP `GET /ping` (the HTTP floor)",
        "`POST /api/v1/tts`, WAV only, server-side (`processing_time_seconds`)",
        "`POST /api/v1/tts`, WAV only, end to end",
        "`POST /api/v1/tts`, defaults (WAV + MP3), end to end",
    ];
    let mut samples: Vec<Vec<Duration>> = vec![Vec::new(); labels.len()];
    for run in 0..runs {
        eprintln!("breakdown: run {}/{runs}", run + 1);
        let t = Instant::now();
        voice.synthesize_ids(ids, &options).unwrap();
        samples[0].push(t.elapsed());
        let t = Instant::now();
        voice.sentence_phonemes(&text).unwrap();
        samples[1].push(t.elapsed());
        let t = Instant::now();
        voice.synthesize(&text, &options).unwrap();
        samples[2].push(t.elapsed());
        let t = Instant::now();
        audio::encode::encode(&pcm, audio::encode::ExportFormat::Wav).unwrap();
        samples[3].push(t.elapsed());
        let t = Instant::now();
        audio::encode::encode(&pcm, audio::encode::ExportFormat::Mp3 { bitrate_kbps: 320 })
            .unwrap();
        samples[4].push(t.elapsed());
        let key = storage::Key::new(format!("outputs/run{run}.wav")).unwrap();
        let t = Instant::now();
        store.put(&key, wav_bytes.clone()).await.unwrap();
        samples[5].push(t.elapsed());
        let t = Instant::now();
        let ping = client.get(format!("{base}/ping")).send().await.unwrap();
        ping.bytes().await.unwrap();
        samples[6].push(t.elapsed());
        let answer: Value = serde_json::from_slice(
            &post(
                json!({"text": REPRESENTATIVE, "export_formats": ["wav"]}),
                "?response_mode=url",
            )
            .await,
        )
        .unwrap();
        samples[7].push(Duration::from_secs_f64(
            answer["processing_time_seconds"].as_f64().unwrap(),
        ));
        let t = Instant::now();
        post(
            json!({"text": REPRESENTATIVE, "export_formats": ["wav"]}),
            "",
        )
        .await;
        samples[8].push(t.elapsed());
        let t = Instant::now();
        post(json!({"text": REPRESENTATIVE}), "").await;
        samples[9].push(t.elapsed());
    }
    let medians: Vec<Duration> = samples.iter().map(|s| median(s)).collect();
    println!(
        "Where one request's time goes on our side ({REPRESENTATIVE:?}, {:.2} s of audio, median \
         of {runs}, idle):",
        waveform.duration_seconds()
    );
    println!();
    println!("| stage | median | range |");
    println!("|---|---:|---:|");
    for (n, label) in labels.iter().enumerate() {
        println!("| {label} | {} | {} |", ms(medians[n]), span(&samples[n]));
    }
    let engine = medians[2];
    let overhead = |total: Duration| total.saturating_sub(engine);
    println!();
    println!(
        "Service overhead (end to end minus the engine call): {} with WAV only ({:.0}% of the \
         request), {} at defaults ({:.0}%); server-side time beyond the engine call with WAV \
         only: {}.",
        ms(overhead(medians[8])),
        100.0 * overhead(medians[8]).as_secs_f64() / medians[8].as_secs_f64(),
        ms(overhead(medians[9])),
        100.0 * overhead(medians[9]).as_secs_f64() / medians[9].as_secs_f64(),
        ms(medians[7].saturating_sub(engine)),
    );
    println!();
}
