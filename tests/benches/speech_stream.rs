//! Time to first byte, time to first audio (the first bytes after the container header)
//! and total time of `POST /v1/audio/speech` over real HTTP (the app served on loopback,
//! the built-in Piper voice), for one sentence and for ten, in the formats that stream
//! (pcm, mp3, opus, wav). Prints a markdown table; `just bench` runs it and writes the table
//! into `docs/benchmarks.md`.

// A benchmark stops on the first failed step.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use futures::StreamExt;
use handler::{AppState, Config};
use serde_json::json;

const RUNS: usize = 5;

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let mut config =
        Config::with_storage(format!("file://{}", dir.path().display()).parse().unwrap()).unwrap();
    if std::env::var_os("SPEECH_MODELS_DIR").is_none() {
        config.engines.models_dir = tests::engines::models_dir();
    }
    let state = AppState::from_config(config).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, handler::app(state)).await.unwrap() });
    let url = format!("http://{address}/v1/audio/speech");
    let client = reqwest::Client::new();

    let one = "Hello world, this is a short sentence.".to_owned();
    let ten = (1..=10)
        .map(|i| format!("This is sentence number {i}, spoken for the streaming benchmark."))
        .collect::<Vec<_>>()
        .join(" ");
    // Load the voice before measuring.
    measure(&client, &url, &one, "pcm").await;

    println!(
        "`POST /v1/audio/speech` on loopback, built-in Piper voice, 24 kHz; median of {RUNS} \
         requests per row (one request loads the voice first). 1 sentence: {one:?}; 10 \
         sentences: \"This is sentence number i, spoken for the streaming benchmark.\" for i \
         = 1 to 10."
    );
    println!();
    println!("| input | format | first byte | first audio | total | first audio / total |");
    println!("|---|---|---|---|---|---|");
    for (label, text) in [("1 sentence", &one), ("10 sentences", &ten)] {
        for format in ["pcm", "mp3", "opus", "wav"] {
            let mut runs = Vec::new();
            for _ in 0..RUNS {
                runs.push(measure(&client, &url, text, format).await);
            }
            let first = median(runs.iter().map(|r| r.0).collect());
            let audio = median(runs.iter().map(|r| r.1).collect());
            let total = median(runs.iter().map(|r| r.2).collect());
            println!(
                "| {label} | {format} | {:.0} ms | {:.0} ms | {:.0} ms | {:.2} |",
                first.as_secs_f64() * 1000.0,
                audio.as_secs_f64() * 1000.0,
                total.as_secs_f64() * 1000.0,
                audio.as_secs_f64() / total.as_secs_f64()
            );
        }
    }
}

/// Size of the container header a stream of `format` starts with (sent before any audio).
fn header_len(format: &str) -> usize {
    let format: audio::encode::ExportFormat = format.parse().unwrap();
    audio::encode::StreamEncoder::new(format, 24_000)
        .unwrap()
        .1
        .len()
}

/// (first byte, first audio byte, end) of one request.
async fn measure(
    client: &reqwest::Client,
    url: &str,
    text: &str,
    format: &str,
) -> (Duration, Duration, Duration) {
    let header = header_len(format);
    let started = Instant::now();
    let response = client
        .post(url)
        .json(
            &json!({"model": "tts-1", "voice": "alloy", "input": text, "response_format": format}),
        )
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{}", response.status());
    let mut stream = response.bytes_stream();
    let mut first = None;
    let mut first_audio = None;
    let mut received = 0;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.unwrap();
        if chunk.is_empty() {
            continue;
        }
        first.get_or_insert_with(|| started.elapsed());
        received += chunk.len();
        if received > header {
            first_audio.get_or_insert_with(|| started.elapsed());
        }
    }
    (first.unwrap(), first_audio.unwrap(), started.elapsed())
}

fn median(mut values: Vec<Duration>) -> Duration {
    values.sort();
    values[values.len() / 2]
}
