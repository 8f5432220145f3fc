//! Listing at scale: 10,000 outputs with sidecars, one page of 50 newest first, on the
//! filesystem store and on the loopback S3 server (the listing cache at the service's own
//! defaults, the cache reading its change marker before every read, and no cache). Prints
//! two markdown tables: the page views against their targets, and one full listing of the
//! keys without the service around it.
//!
//! Run with `just bench` (or `cargo bench -p tests --bench listing`), which writes the
//! tables into `docs/benchmarks.md`. Timed through the real router in-process (no socket):
//! median of [`RUNS`] requests after one warm-up (the cache-off row: one request).

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::StreamExt;
use storage::{CacheSettings, CachingStore, Key, ObjectStore};
use tests::{Backend, TestApp};

/// Targets for one page view (the `target` column of `docs/benchmarks.md`): filesystem, S3.
const FS_TARGET: Duration = Duration::from_millis(50);
const S3_TARGET: Duration = Duration::from_millis(300);

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
    let ms = d.as_secs_f64() * 1e3;
    if ms >= 1000.0 {
        format!("{:.1} s", d.as_secs_f64())
    } else {
        format!("{ms:.1} ms")
    }
}

fn seconds(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s.fract() == 0.0 {
        format!("{s:.0} s")
    } else {
        format!("{s} s")
    }
}

/// One row: page 1, the last page and one project's first page, against `target`.
async fn row(label: &str, app: &TestApp, runs: usize, target: Option<Duration>) {
    let first = measure(app, "/api/v1/outputs?page=1&page_size=50", OUTPUTS, runs).await;
    let last = measure(app, "/api/v1/outputs?page=200&page_size=50", OUTPUTS, runs).await;
    let filtered = measure(
        app,
        "/api/v1/outputs?project=project07&page_size=50",
        OUTPUTS / 20,
        runs,
    )
    .await;
    let target = target.map_or(String::new(), |target| {
        let met = first.max(last).max(filtered) < target;
        format!(
            "< {}: {}",
            ms(target).replace(".0 ms", " ms"),
            if met { "met" } else { "**not met**" }
        )
    });
    println!(
        "| {label} | {} | {} | {} | {target} |",
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
        let s3_calls = (2 * OUTPUTS).div_ceil(1000);

        // The service's own defaults for S3, read from its configuration (never restated
        // here, so the row follows them).
        let defaults = TestApp::new(&s3);
        let config = defaults.state.config();
        let refresh_after = config.listing_cache().expect("S3 listings are cached by default");
        let check_every = Duration::from_secs_f64(config.replica_check_seconds);

        println!(
            "{OUTPUTS} outputs (+ {OUTPUTS} sidecars) in 20 projects; `GET /api/v1/outputs`, one page \
             of 50, newest first, with `total_files`. Median of {RUNS} requests after one warm-up \
             (cache-off row: one request after one warm-up).\n"
        );
        println!("| store | page 1 | page 200 (last) | one project | target |");
        println!("|---|---|---|---|---|");
        row("filesystem (each request re-checks every directory)", &TestApp::new(&fs), RUNS, Some(FS_TARGET)).await;
        row(
            &format!(
                "local S3 (s3s-fs), listing cache and replica check at their defaults ({}, {})",
                seconds(refresh_after),
                seconds(check_every)
            ),
            &defaults,
            RUNS,
            Some(S3_TARGET),
        )
        .await;
        // The cache in front of the store by hand, so its marker check can be set to "always"
        // (`check_every` 0): the worst case of the replica check, a marker GET for the
        // listing and for each sidecar read of the page. Everything else at the defaults.
        let raw = s3.store.clone();
        s3.store = Arc::new(CachingStore::with_settings(
            raw.clone(),
            CacheSettings {
                check_every: Duration::ZERO,
                refresh_after,
                max_age: refresh_after * 12,
            },
        ));
        row(
            "local S3, change marker read before every listing and sidecar read (`check_every` 0, the worst case of the replica check)",
            &TestApp::with_config(&s3, |c| c.listing_cache_seconds = Some(0.0)),
            RUNS,
            Some(S3_TARGET),
        )
        .await;
        s3.store = raw;
        row(
            &format!("local S3 (s3s-fs), listing cache off (every request lists {} keys)", 2 * OUTPUTS),
            &TestApp::with_config(&s3, |c| c.listing_cache_seconds = Some(0.0)),
            1,
            None,
        )
        .await;
        println!();
        println!("| one full listing of the {} keys, without the service | time | calls | per call |", 2 * OUTPUTS);
        println!("|---|---|---|---|");
        println!("| filesystem (first walk, every file stat-ed) | {} | one pass | |", ms(fs_raw));
        println!(
            "| local S3 (s3s-fs) | {} | {s3_calls} `ListObjectsV2` | {} |",
            ms(s3_raw),
            ms(s3_raw / s3_calls as u32)
        );
        println!();
        println!(
            "Seeding: {:.1} s (filesystem), {:.1} s (S3).",
            fs_seed.as_secs_f64(),
            s3_seed.as_secs_f64(),
        );
    });
}
