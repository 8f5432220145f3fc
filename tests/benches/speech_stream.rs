//! Time to first byte and total time of `POST /v1/audio/speech` over real HTTP (the app
//! served on loopback, the built-in Piper voice), for one sentence and for ten, in the
//! formats that stream (pcm, mp3, opus, wav). Prints a markdown table; run by `just bench`.

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
        "| input | format | time to first byte (median) | total (median) | first byte / total |"
    );
    println!("|---|---|---|---|---|");
    for (label, text) in [("1 sentence", &one), ("10 sentences", &ten)] {
        for format in ["pcm", "mp3", "opus", "wav"] {
            let mut firsts = Vec::new();
            let mut totals = Vec::new();
            for _ in 0..RUNS {
                let (first, total) = measure(&client, &url, text, format).await;
                firsts.push(first);
                totals.push(total);
            }
            let first = median(firsts);
            let total = median(totals);
            println!(
                "| {label} | {format} | {:.0} ms | {:.0} ms | {:.2} |",
                first.as_secs_f64() * 1000.0,
                total.as_secs_f64() * 1000.0,
                first.as_secs_f64() / total.as_secs_f64()
            );
        }
    }
}

async fn measure(
    client: &reqwest::Client,
    url: &str,
    text: &str,
    format: &str,
) -> (Duration, Duration) {
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
    while let Some(chunk) = stream.next().await {
        if !chunk.unwrap().is_empty() {
            first.get_or_insert_with(|| started.elapsed());
        }
    }
    (first.unwrap(), started.elapsed())
}

fn median(mut values: Vec<Duration>) -> Duration {
    values.sort();
    values[values.len() / 2]
}
