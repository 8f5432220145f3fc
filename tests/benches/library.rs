//! Library figures: peak memory of the process while a bulk upload of 256 MiB and of 1 GiB
//! streams in (`POST /api/v1/voices/bulk`, every voice analysed), and while a backup of a
//! 256 MiB and a 1 GiB library streams out (`GET /api/v1/backup`): flat, not proportional
//! to the request; then the time the quality analysis takes for a 30 s reference. Prints
//! markdown tables.
//!
//! Run with `just bench` (or `cargo bench -p tests --bench library`). The router runs
//! in-process over a filesystem store in a temporary folder, and request and response
//! bodies are generated and consumed as streams, so the process's peak resident memory
//! (`VmHWM`, reset between scenarios through `/proc/self/clear_refs`) is the server's.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::time::{Duration, Instant};

use axum::body::Body;
use bytes::Bytes;
use futures::StreamExt;
use http_body_util::BodyExt;
use storage::Key;
use tests::process_memory::{current_rss_mib, peak_rss_mib, reset_peak};
use tests::{Backend, TestApp};

const MIB: u64 = 1024 * 1024;
/// Each file of the bulk upload and each object of the backed-up library.
const FILE_BYTES: u64 = 32 * MIB;
/// The chunk the generated bodies are made of (one buffer, shared).
const CHUNK: usize = MIB as usize;

/// One MiB of a 16-bit 220 Hz tone at 22.05 kHz (the body of every generated WAV).
fn tone_chunk() -> Bytes {
    let samples = CHUNK / 2;
    let mut out = Vec::with_capacity(CHUNK);
    for i in 0..samples {
        let t = i as f64 / 22_050.0;
        let s = (0.3 * (2.0 * std::f64::consts::PI * 220.0 * t).sin() * 32767.0) as i16;
        out.extend_from_slice(&s.to_le_bytes());
    }
    Bytes::from(out)
}

/// A 44-byte WAV header for `data` bytes of 16-bit mono at 22.05 kHz.
fn wav_header(data: u64) -> Bytes {
    let data = data as u32;
    let mut h = Vec::with_capacity(44);
    h.extend_from_slice(b"RIFF");
    h.extend_from_slice(&(36 + data).to_le_bytes());
    h.extend_from_slice(b"WAVEfmt ");
    h.extend_from_slice(&16u32.to_le_bytes());
    h.extend_from_slice(&1u16.to_le_bytes());
    h.extend_from_slice(&1u16.to_le_bytes());
    h.extend_from_slice(&22_050u32.to_le_bytes());
    h.extend_from_slice(&(22_050u32 * 2).to_le_bytes());
    h.extend_from_slice(&2u16.to_le_bytes());
    h.extend_from_slice(&16u16.to_le_bytes());
    h.extend_from_slice(b"data");
    h.extend_from_slice(&data.to_le_bytes());
    Bytes::from(h)
}

/// The chunks of one WAV file of `FILE_BYTES` (header included).
fn wav_chunks(chunk: &Bytes) -> Vec<Bytes> {
    let data = FILE_BYTES - 44;
    let mut parts = vec![wav_header(data)];
    let mut left = data;
    while left > 0 {
        let n = left.min(CHUNK as u64) as usize;
        parts.push(chunk.slice(..n));
        left -= n as u64;
    }
    parts
}

const BOUNDARY: &str = "bench-boundary-7e1f";

/// A multipart body of `files` WAV files, generated as it is sent.
fn bulk_body(files: usize) -> Body {
    let chunk = tone_chunk();
    let parts = (0..files).flat_map(move |i| {
        let head = Bytes::from(format!(
            "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"files\"; \
             filename=\"voice{i:03}.wav\"\r\nContent-Type: audio/wav\r\n\r\n"
        ));
        std::iter::once(head)
            .chain(wav_chunks(&chunk))
            .chain(std::iter::once(Bytes::from_static(b"\r\n")))
    });
    let tail = std::iter::once(Bytes::from(format!("--{BOUNDARY}--\r\n")));
    // Like a socket, the body has only so much ready at a time: it pauses after each chunk.
    // (An always-ready body would be read ahead whole by the multipart parser, which reads
    // whatever is ready; a connection has at most its receive window ready.)
    Body::from_stream(
        futures::stream::iter(parts.chain(tail)).then(|chunk| async move {
            tokio::task::yield_now().await;
            Ok::<_, std::io::Error>(chunk)
        }),
    )
}

fn app_over(backend: &Backend) -> TestApp {
    TestApp::with_config(backend, |c| {
        c.limits.max_voice_upload_mb = 64;
        c.limits.max_vc_input_upload_mb = 64;
        c.limits.max_audio_seconds = 3600;
        c.request_timeout_seconds = 3600;
    })
}

/// Sends a bulk upload of `files` files; returns (stored files, peak RSS above idle in MiB,
/// seconds).
async fn bulk_upload(files: usize) -> (u64, f64, f64) {
    let backend = Backend::fs().await;
    let app = app_over(&backend);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let baseline = current_rss_mib();
    reset_peak();
    let started = Instant::now();
    let response = app
        .request(
            http::Request::post(
                std::env::var("BENCH_BULK_ROUTE").unwrap_or("/api/v1/voices/bulk".into()),
            )
            .header(
                "content-type",
                format!("multipart/form-data; boundary={BOUNDARY}"),
            )
            .body(bulk_body(files))
            .unwrap(),
        )
        .await;
    let took = started.elapsed().as_secs_f64();
    let peak = peak_rss_mib() - baseline;
    let json = response.json();
    assert_eq!(response.status, 200, "{json}");
    (json["created"].as_u64().unwrap(), peak, took)
}

/// Backs up a library of `files` objects of `FILE_BYTES`; returns (archive bytes, peak RSS
/// above idle in MiB, seconds).
async fn backup(files: usize) -> (u64, f64, f64) {
    let backend = Backend::fs().await;
    let chunk = tone_chunk();
    let object: Bytes = wav_chunks(&chunk).concat().into();
    for i in 0..files {
        backend
            .store
            .put(
                &Key::new(format!("outputs/book/part{i:03}.wav")).unwrap(),
                object.clone(),
            )
            .await
            .unwrap();
    }
    drop(object);
    let app = app_over(&backend);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let baseline = current_rss_mib();
    reset_peak();
    let started = Instant::now();
    let response = app
        .request_streaming(
            http::Request::get("/api/v1/backup")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(response.status(), 200);
    let mut body = response.into_body();
    let mut bytes = 0u64;
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame.unwrap().into_data() {
            bytes += data.len() as u64;
        }
    }
    let took = started.elapsed().as_secs_f64();
    (bytes, peak_rss_mib() - baseline, took)
}

async fn memory_tables() {
    println!(
        "Peak memory while a bulk upload streams in (`POST /api/v1/voices/bulk`, {} MiB WAV \
         files of 16-bit mono at 22.05 kHz, each analysed and stored with its sidecar on the \
         filesystem store), and while a backup of a library of such files streams out \
         (`GET /api/v1/backup`, the archive read and discarded as it arrives). Peak RSS is the \
         process's high-water mark above its idle size.\n",
        FILE_BYTES / MIB
    );
    println!("| scenario | size | peak RSS above idle | wall time | throughput |");
    println!("|---|---|---|---|---|");
    for files in [8usize, 32] {
        let (created, peak, took) = bulk_upload(files).await;
        let size = files as f64 * FILE_BYTES as f64 / MIB as f64;
        assert_eq!(created, files as u64);
        println!(
            "| bulk upload, {files} files | {size:.0} MiB | {peak:.0} MiB | {took:.1} s | {:.0} MiB/s |",
            size / took
        );
    }
    for files in [8usize, 32] {
        let (bytes, peak, took) = backup(files).await;
        let size = bytes as f64 / MIB as f64;
        println!(
            "| backup, {files} files | {size:.0} MiB | {peak:.0} MiB | {took:.1} s | {:.0} MiB/s |",
            size / took
        );
    }
    println!(
        "\nBoth stay flat: a bulk upload holds one file (and its decoded samples, for the \
         analysis) at a time, a backup one chunk of one object; four times the data costs no \
         more memory.\n"
    );
}

fn analysis_table() {
    println!(
        "Quality analysis (`audio::analysis::analyze`) of a 30 s reference, median of 9 runs.\n"
    );
    println!("| reference | analysis time | real-time factor |");
    println!("|---|---|---|");
    for (label, rate, channels) in [
        ("30 s, 24 kHz mono", 24_000u32, 1u16),
        ("30 s, 48 kHz stereo", 48_000, 2),
    ] {
        let frames = 30 * rate as usize;
        let samples: Vec<f32> = (0..frames * channels as usize)
            .map(|i| {
                let t = (i / channels as usize) as f32 / rate as f32;
                // A voiced tone with a 4 Hz syllabic envelope and quiet noise.
                let envelope = (0.5 + 0.5 * (2.0 * std::f32::consts::PI * 4.0 * t).sin()).powi(2);
                0.3 * envelope * (2.0 * std::f32::consts::PI * 180.0 * t).sin()
                    + 0.0003
                        * (((i as u32).wrapping_mul(2_654_435_761) >> 16) as f32 / 65_535.0 - 0.5)
            })
            .collect();
        let pcm = audio::Pcm::new(rate, channels, samples);
        let mut times: Vec<f64> = (0..9)
            .map(|_| {
                let started = Instant::now();
                let report = audio::analysis::analyze(&pcm);
                std::hint::black_box(report);
                started.elapsed().as_secs_f64()
            })
            .collect();
        times.sort_by(f64::total_cmp);
        let median = times[times.len() / 2];
        println!(
            "| {label} | {:.1} ms | {:.4} |",
            median * 1000.0,
            median / 30.0
        );
    }
    println!();
}

fn main() {
    // The bulk route under test is the voices one unless told otherwise (vc_inputs/bulk skips
    // the analysis).
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(memory_tables());
    analysis_table();
}
