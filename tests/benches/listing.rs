//! Listing at scale: 10,000 outputs with sidecars, one page of 50 newest first, on the
//! filesystem store and on the loopback S3 server. Prints a markdown table.
//!
//! Run with `just bench` (or `cargo bench -p tests --bench listing`). Timed through the
//! real router in-process (no socket), median of several runs after one warm-up.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::StreamExt;
use storage::{Key, ObjectStore};
use tests::{Backend, TestApp};

const OUTPUTS: usize = 10_000;
const RUNS: usize = 7;

async fn seed(store: &dyn ObjectStore) {
    let audio = Bytes::from(tests::fixtures::wav_tone(0.05, 24_000, 440.0));
    let writes = (0..OUTPUTS).map(|i| {
        let audio = audio.clone();
        async move {
            let project = format!("project{:02}", i % 20);
            let name = format!("tts_2026-01-01_{:06}_{:06}_temp0.75.wav", i / 1000, i % 1_000_000);
            let key = Key::new(format!("outputs/{project}/{name}")).unwrap();
            let sidecar = serde_json::json!({"type": "tts", "duration_seconds": 0.05, "parameters": {"text": format!("line {i}")}});
            store.put(&key, audio).await.unwrap();
            store.put(&key.with_suffix(".json").unwrap(), Bytes::from(sidecar.to_string())).await.unwrap();
        }
    });
    futures::stream::iter(writes)
        .buffer_unordered(32)
        .collect::<Vec<_>>()
        .await;
}

async fn measure(app: &TestApp, uri: &str) -> Duration {
    let first = app.get(uri).await.ok_json();
    assert_eq!(first["total_files"].as_u64(), Some(OUTPUTS as u64), "{uri}");
    assert_eq!(first["files"].as_array().unwrap().len(), 50);
    let mut times = Vec::with_capacity(RUNS);
    for _ in 0..RUNS {
        let started = Instant::now();
        let response = app.get(uri).await;
        times.push(started.elapsed());
        assert_eq!(response.status, 200);
    }
    times.sort();
    times[RUNS / 2]
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        println!("Listing {OUTPUTS} outputs (+ {OUTPUTS} sidecars), page of 50, newest first; median of {RUNS} runs\n");
        println!("| store | seed time | raw listing (20k keys) | page 1 | page 200 (last) | filtered by project |");
        println!("|---|---|---|---|---|---|");
        for (label, backend) in [("filesystem", Backend::fs().await), ("local S3 (s3s-fs)", Backend::s3().await)] {
            let seeded = Instant::now();
            seed(backend.store.as_ref()).await;
            let seed_time = seeded.elapsed();
            let prefix = storage::KeyPrefix::new("outputs").unwrap();
            let started = Instant::now();
            let raw = storage::list_all(backend.store.as_ref(), &prefix, false).await.unwrap();
            let raw_time = started.elapsed();
            assert_eq!(raw.objects.len(), 2 * OUTPUTS);
            let app = TestApp::new(&backend);
            let first = measure(&app, "/api/v1/outputs?page=1&page_size=50").await;
            let last = measure(&app, "/api/v1/outputs?page=200&page_size=50").await;
            let started = Instant::now();
            let filtered = app.get("/api/v1/outputs?project=project07&page_size=50").await.ok_json();
            let filtered_time = started.elapsed();
            assert_eq!(filtered["total_files"].as_u64(), Some((OUTPUTS / 20) as u64));
            println!(
                "| {label} | {:.1} s | {:.1} ms | {:.1} ms | {:.1} ms | {:.1} ms |",
                seed_time.as_secs_f64(),
                raw_time.as_secs_f64() * 1e3,
                first.as_secs_f64() * 1e3,
                last.as_secs_f64() * 1e3,
                filtered_time.as_secs_f64() * 1e3
            );
        }
    });
}
