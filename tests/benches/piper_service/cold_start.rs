//! Cold start: spawn to the first health answer and to the first audio, lazy and
//! preloaded, with piper-tts's server beside it.

use std::path::Path;
use std::time::Instant;

use serde_json::json;

use crate::figures::{median, ms};
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
        ("service, defaults (engine loaded on first use)", &[]),
        ("service, `--preload`", &["--preload"]),
    ];
    let mut health = vec![Vec::new(); variants.len() + 1];
    let mut first_audio = vec![Vec::new(); variants.len() + 1];
    for run in 0..runs {
        eprintln!("cold start: run {}/{runs}", run + 1);
        for (n, (_, extra)) in variants.iter().enumerate() {
            let (mut child, base, _storage, spawned) = spawn_runner(runner, root, extra);
            health[n].push(first_ok(client, &format!("{base}/api/v1/health"), spawned).await);
            let response = client
                .post(format!("{base}/api/v1/tts"))
                .json(&json!({"text": "Hello world."}))
                .send()
                .await
                .unwrap();
            assert!(response.status().is_success());
            response.bytes().await.unwrap();
            first_audio[n].push(spawned.elapsed());
            let _ = child.kill();
            let _ = child.wait();
        }
        // piper-tts's server, for context: it loads the voice before listening.
        let spawned = Instant::now();
        let (mut child, base) = spawn_piper(python, voice);
        health[2].push(first_ok(client, &format!("{base}/info"), spawned).await);
        let response = client
            .post(format!("{base}/synthesize"))
            .json(&json!({"text": "Hello world."}))
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success());
        response.bytes().await.unwrap();
        first_audio[2].push(spawned.elapsed());
        let _ = child.kill();
        let _ = child.wait();
    }
    println!(
        "### Cold start: process spawn to the first answers, median of {runs} fresh processes (range), idle"
    );
    println!();
    println!(
        "| binary | spawn to first 200 (health) | spawn to end of first TTS answer, \"Hello world.\" |"
    );
    println!("|---|---:|---:|");
    let labels = [
        variants[0].0,
        variants[1].0,
        "piper-tts `piper.http_server` (loads the voice before listening; first 200 of `GET /info`)",
    ];
    for (n, label) in labels.iter().enumerate() {
        println!(
            "| {label} | {} ({}-{}) | {} ({}-{}) |",
            ms(median(&health[n])),
            ms(*health[n].iter().min().unwrap()),
            ms(*health[n].iter().max().unwrap()),
            ms(median(&first_audio[n])),
            ms(*first_audio[n].iter().min().unwrap()),
            ms(*first_audio[n].iter().max().unwrap()),
        );
    }
    println!();
}
