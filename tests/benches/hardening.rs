//! Hardening figures: peak memory of the process for concurrent decode bombs (a 58-minute
//! 48 kHz stereo FLAC of silence, 2–3 MB on the wire, sent to `/api/v1/concat/mixed`), with
//! the memory budget and, for one bomb, without it; and how long a stalled S3 server
//! (SIGSTOP) takes to turn into a 503. Prints markdown tables.
//!
//! Run with `just bench` (or `cargo bench -p tests --bench hardening`). The router runs
//! in-process, so the process's peak resident memory (`VmHWM`, reset between scenarios
//! through `/proc/self/clear_refs`) is the server's.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::time::{Duration, Instant};

use serde_json::json;
use tests::multipart::Form;
use tests::process_memory::{current_rss_mib, peak_rss_mib, reset_peak};
use tests::{Backend, TestApp};

const GIB: f64 = 1024.0 * 1024.0 * 1024.0;

/// Seconds of audio in the bomb (the figure: just under the one-hour limit).
const BOMB_SECONDS: u32 = 58 * 60;

/// The bomb: 58 minutes of 48 kHz stereo silence as FLAC, made by the ffmpeg the setup
/// step fetched (our own encoder would need the whole 1.3 GB of samples in memory).
fn bomb() -> Vec<u8> {
    let ffmpeg = tests::engines::ffmpeg();
    let path = std::env::temp_dir().join("speech-bench-bomb.flac");
    if !path.exists() {
        let status = std::process::Command::new(ffmpeg)
            .args(["-loglevel", "error", "-y", "-f", "lavfi", "-i"])
            .arg("anullsrc=r=48000:cl=stereo")
            .args(["-t", &BOMB_SECONDS.to_string(), "-c:a", "flac"])
            .arg(&path)
            .status()
            .unwrap();
        assert!(status.success(), "ffmpeg could not write the bomb");
    }
    std::fs::read(&path).unwrap()
}

/// Sends `count` bombs at once; returns the statuses, the peak RSS above the starting RSS
/// (MiB), the budget's own high-water mark (MiB) and the wall time.
async fn storm(app: &TestApp, bomb: &[u8], count: usize) -> (Vec<u16>, f64, f64, Duration) {
    let form = Form::new()
        .text(
            "request_json",
            &json!({"segments": [{"type": "upload", "index": 0}], "export_formats": ["wav"]})
                .to_string(),
        )
        .file("uploaded_files", "bomb.flac", bomb.to_vec());
    // Let the allocator return what earlier scenarios freed before measuring from here.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let baseline = current_rss_mib();
    reset_peak();
    let started = Instant::now();
    let requests =
        (0..count).map(|_| app.post_form("/api/v1/concat/mixed?response_mode=url", &form));
    let responses = futures::future::join_all(requests).await;
    let took = started.elapsed();
    let statuses = responses.iter().map(|r| r.status.as_u16()).collect();
    let budget_peak = app.state.memory().peak_bytes() as f64 / (1024.0 * 1024.0);
    (statuses, peak_rss_mib() - baseline, budget_peak, took)
}

fn summary(statuses: &[u16]) -> String {
    let mut counts = std::collections::BTreeMap::new();
    for s in statuses {
        *counts.entry(*s).or_insert(0) += 1;
    }
    counts
        .iter()
        .map(|(s, n)| format!("{n}× {s}"))
        .collect::<Vec<_>>()
        .join(", ")
}

async fn decode_bombs() {
    let bomb = bomb();
    // The decoded samples (f32) and the 16-bit WAV written from them.
    let frames = f64::from(BOMB_SECONDS) * 48_000.0 * 2.0;
    println!(
        "Bomb: {} minutes of 48 kHz stereo silence as FLAC, {:.1} MB on the wire ({:.2} GiB of \
         samples once decoded, a {:.2} GiB WAV once exported); `POST /api/v1/concat/mixed` with \
         it as the only segment, exported as wav.\n",
        BOMB_SECONDS / 60,
        bomb.len() as f64 / 1e6,
        frames * 4.0 / GIB,
        frames * 2.0 / GIB,
    );
    println!("| scenario | answers | peak RSS above idle | budget high-water mark | wall time |");
    println!("|---|---|---|---|---|");
    // The service's own default, read from its configuration.
    let default_mb = handler::Config::with_storage("memory://".parse().unwrap())
        .unwrap()
        .limits
        .memory_budget_mb;
    for (label, budget_mb, count) in [
        (
            "1 bomb, no budget (`--memory-budget-mb` 100000)".to_owned(),
            100_000u64,
            1usize,
        ),
        (
            format!("1 bomb, default budget ({default_mb} MB)"),
            default_mb,
            1,
        ),
        (
            format!("8 bombs at once, default budget ({default_mb} MB)"),
            default_mb,
            8,
        ),
        ("8 bombs at once, budget 1024 MB".to_owned(), 1024, 8),
    ] {
        let backend = Backend::memory();
        let app = TestApp::with_config(&backend, |c| {
            c.limits.memory_budget_mb = budget_mb;
            c.limits.max_concat_upload_mb = 100;
        });
        let (statuses, peak, budget_peak, took) = storm(&app, &bomb, count).await;
        println!(
            "| {label} | {} | {peak:.0} MiB | {budget_peak:.0} MiB | {:.1} s |",
            summary(&statuses),
            took.as_secs_f64()
        );
    }
}

async fn stalled_store() {
    let mut backend = Backend::s3().await;
    let app = TestApp::with_config(&backend, |c| c.listing_cache_seconds = Some(0.0));
    app.get("/api/v1/voices").await.ok_json();
    backend.s3.as_mut().unwrap().pause();
    let deadlines = &app.state.config().store_deadlines;
    println!(
        "\nA stalled store: the loopback S3 server stopped with SIGSTOP (connections accepted, \
         never answered); default deadlines ({} s per store call, {} s per attempt).\n",
        deadlines.storage_timeout_seconds, deadlines.storage_attempt_timeout_seconds
    );
    println!("| request | answer | time to answer |");
    println!("|---|---|---|");
    for uri in ["/api/v1/health", "/api/v1/voices", "/outputs/book/a.wav"] {
        let started = Instant::now();
        let response = app.get(uri).await;
        let took = started.elapsed();
        let code = serde_json::from_slice::<serde_json::Value>(&response.body)
            .ok()
            .and_then(|body| body["error_code"].as_str().map(|c| format!(" `{c}`")))
            .unwrap_or_default();
        println!(
            "| `GET {uri}` | {}{code} | {:.1} s |",
            response.status.as_u16(),
            took.as_secs_f64()
        );
    }
    backend.s3.as_mut().unwrap().resume();
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    decode_bombs().await;
    stalled_store().await;
}
