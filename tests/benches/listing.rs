//! Listing at scale: 10,000 outputs with sidecars, one page of 50 newest first, on the
//! filesystem store and on the loopback S3 server (with and without the listing cache, and
//! with the cache reading its change marker before every read). Prints a markdown table.
//!
//! Run with `just bench` (or `cargo bench -p tests --bench listing`). Timed through the
//! real router in-process (no socket): median of several runs after one warm-up.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::StreamExt;
use storage::{CacheSettings, CachingStore, Key, ObjectStore};
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

/// Median time of `runs` requests (after one warm-up that checks the answer).
async fn measure(app: &TestApp, uri: &str, expected_total: usize, runs: usize) -> Duration {
    let first = app.get(uri).await.ok_json();
    assert_eq!(
        first["total_files"].as_u64(),
        Some(expected_total as u64),
        "{uri}"
    );
    assert_eq!(first["files"].as_array().unwrap().len(), 50);
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let started = Instant::now();
        let response = app.get(uri).await;
        times.push(started.elapsed());
        assert_eq!(response.status, 200);
    }
    times.sort();
    times[runs / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

async fn row(label: &str, app: &TestApp, runs: usize) {
    let first = measure(app, "/api/v1/outputs?page=1&page_size=50", OUTPUTS, runs).await;
    let last = measure(app, "/api/v1/outputs?page=200&page_size=50", OUTPUTS, runs).await;
    let filtered = measure(
        app,
        "/api/v1/outputs?project=project07&page_size=50",
        OUTPUTS / 20,
        runs,
    )
    .await;
    println!(
        "| {label} | {} | {} | {} |",
        ms(first),
        ms(last),
        ms(filtered)
    );
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        println!("Listing {OUTPUTS} outputs (+ {OUTPUTS} sidecars) in 20 projects: one page of 50, newest first.\n");
        let fs = Backend::fs().await;
        let started = Instant::now();
        seed(fs.store.as_ref()).await;
        let fs_seed = started.elapsed();
        let mut s3 = Backend::s3().await;
        let started = Instant::now();
        seed(s3.store.as_ref()).await;
        let s3_seed = started.elapsed();
        let outputs = storage::KeyPrefix::new("outputs").unwrap();
        let started = Instant::now();
        assert_eq!(storage::list_all(fs.store.as_ref(), &outputs, false).await.unwrap().objects.len(), 2 * OUTPUTS);
        let fs_raw = started.elapsed();
        let started = Instant::now();
        assert_eq!(storage::list_all(s3.store.as_ref(), &outputs, false).await.unwrap().objects.len(), 2 * OUTPUTS);
        let s3_raw = started.elapsed();

        println!("| store | page 1 | page 200 (last) | one project |");
        println!("|---|---|---|---|");
        row(&format!("filesystem (each request re-checks every directory; median of {RUNS})"), &TestApp::new(&fs), RUNS).await;
        row(
            &format!("local S3, listing cache and replica check at their defaults (5 s, 1 s; median of {RUNS})"),
            &TestApp::with_config(&s3, |c| {
                c.listing_cache_seconds = None;
                c.replica_check_seconds = 1.0;
            }),
            RUNS,
        )
        .await;
        // The cache in front of the store by hand, so its marker check can be set to "always"
        // (`check_every` 0): the worst case of the replica check, a marker GET for the
        // listing and for each sidecar read of the page.
        let raw = s3.store.clone();
        s3.store = Arc::new(CachingStore::with_settings(
            raw.clone(),
            CacheSettings {
                check_every: Duration::ZERO,
                refresh_after: Duration::from_secs(60),
                max_age: Duration::from_secs(720),
            },
        ));
        row(
            &format!("local S3, listing cache on, change marker read before every listing and sidecar read (median of {RUNS})"),
            &TestApp::with_config(&s3, |c| c.listing_cache_seconds = Some(0.0)),
            RUNS,
        )
        .await;
        s3.store = raw;
        row("local S3, listing cache off (every request lists 20,000 keys; one run)", &TestApp::with_config(&s3, |c| c.listing_cache_seconds = Some(0.0)), 1)
            .await;
        println!(
            "\nSeeding: {:.1} s (filesystem), {:.1} s (S3). One full listing of the 20,000 keys: {} (filesystem), {} (S3, {} ListObjectsV2 calls).",
            fs_seed.as_secs_f64(),
            s3_seed.as_secs_f64(),
            ms(fs_raw),
            ms(s3_raw),
            (2 * OUTPUTS).div_ceil(1000)
        );
    });
}
