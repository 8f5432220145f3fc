//! Cold start: spawn to the first health answer and to the first audio, lazy and
//! preloaded, with piper-tts's server beside it.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::figures::median_range;
use crate::servers::{first_ok, spawn_piper, spawn_runner};

/// Spawn to first 200 on `/api/v1/health` and to the end of the first TTS answer, for
/// fresh processes, lazy and preloaded, taking turns.
pub(crate) async fn cold_start(
    client: &reqwest::Client,
    runner: &Path,
    root: &Path,
    python: &str,
    voice: &Path,
    runs: usize,
) {
    let variants: [(&str, &[&str]); 2] = [
        ("`local-runner`, defaults (engine loaded on first use)", &[]),
        ("`local-runner --preload`", &["--preload"]),
    ];
    let mut health = vec![Vec::new(); variants.len() + 1];
    let mut first_audio = vec![Vec::new(); variants.len() + 1];
    for run in 0..runs {
        eprintln!("cold start: run {}/{runs}", run + 1);
        for (n, (_, extra)) in variants.iter().enumerate() {
            let (mut child, base, _storage, spawned) = spawn_runner(runner, root, extra);
            let (ready, spoken) = first_answers(
                client,
                &format!("{base}/api/v1/health"),
                &format!("{base}/api/v1/tts"),
                spawned,
            )
            .await;
            health[n].push(ready);
            first_audio[n].push(spoken);
            let _ = child.kill();
            let _ = child.wait();
        }
        // piper-tts's server, for context: it loads the voice before listening.
        let spawned = Instant::now();
        let (mut child, base) = spawn_piper(python, voice);
        let (ready, spoken) = first_answers(
            client,
            &format!("{base}/info"),
            &format!("{base}/synthesize"),
            spawned,
        )
        .await;
        health[2].push(ready);
        first_audio[2].push(spoken);
        let _ = child.kill();
        let _ = child.wait();
    }
    println!(
        "Cold start, spawn to the first answers, median of {runs} fresh processes (range), idle:"
    );
    println!();
    println!(
        "| binary | spawn to first 200 (health) | spawn to end of first TTS answer, \"Hello world.\" |"
    );
    println!("|---|---:|---:|");
    let labels = [
        variants[0].0,
        variants[1].0,
        "piper-tts `piper.http_server` (loads the voice before listening; `GET /info`)",
    ];
    for (n, label) in labels.iter().enumerate() {
        println!(
            "| {label} | {} | {} |",
            median_range(&health[n]),
            median_range(&first_audio[n]),
        );
    }
    println!();
}

/// The first 200 of `ready_url`, then one "Hello world." posted to `speech_url` and read to its
/// end: both as times since `spawned`.
async fn first_answers(
    client: &reqwest::Client,
    ready_url: &str,
    speech_url: &str,
    spawned: Instant,
) -> (Duration, Duration) {
    let ready = first_ok(client, ready_url, spawned).await;
    let response = client
        .post(speech_url)
        .json(&json!({"text": "Hello world."}))
        .send()
        .await
        .unwrap();
    assert!(
        response.status().is_success(),
        "{speech_url}: {}",
        response.status()
    );
    response.bytes().await.unwrap();
    (ready, spawned.elapsed())
}
