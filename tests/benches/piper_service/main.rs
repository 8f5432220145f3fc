//! The Piper service against piper-tts, both over HTTP on loopback, as users run them:
//! our release `local-runner` binary (`--port 0 --storage file://<tmp>`, defaults otherwise)
//! and piper-tts's own Flask server (`python -m piper.http_server`), same voice file.
//!
//! It prints markdown tables (`just bench` writes them into `docs/benchmarks.md`) for:
//! 1. 20 sentences (the texts of `models/benches/piper.rs`) as 20 sequential requests per
//!    side, wall time and ratio, idle and then under load (two busy-loop processes at normal
//!    priority, started for those rows only), both phases in one table. The sides take turns within each round (the
//!    machine is shared, so every side sees the same background), and each ratio is taken
//!    within its round. Our rows: the default request (WAV answered, WAV + MP3 stored),
//!    `"export_formats":["wav"]` (no MP3 encode), and `--inference-threads 1` (the thread
//!    default, which gives Piper every CPU, justified by numbers).
//! 2. Where a request's time goes on our side for one sentence, median of N: the bare graph
//!    run, phonemisation, the engine call end to end, the encoders, one store write, and the
//!    HTTP request end to end (WAV only, and the WAV + MP3 default).
//! 3. Cold start of the binary: spawn to the first 200 of `/api/v1/health` and to the end of
//!    the first TTS answer, lazy (default) and `--preload`, median of fresh processes (with
//!    piper-tts's server beside it for context).
//!
//! Run: `BENCH_PYTHON=$PWD/.venv-bench/bin/python cargo bench -p tests --bench piper_service`
//! (`just bench` does; the Python side needs `bench/python/requirements.txt`, Flask included).
//! It builds `local-runner` in release first unless `BENCH_LOCAL_RUNNER` names a binary.
//! `BENCH_ROUNDS` (default 5) sets the rounds per phase, `BENCH_BREAKDOWN_RUNS` (15) the
//! breakdown's samples, `BENCH_COLD_RUNS` (5) the fresh processes per cold-start row.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod breakdown;
mod cold_start;
mod figures;
mod servers;

use std::process::Child;
use std::time::{Duration, Instant};

use serde_json::json;

use breakdown::breakdown;
use cold_start::cold_start;
use figures::{
    CpuShare, cpu_sample, cpu_times, load_average, max_f64, median_f64, median_range, min_f64,
    print_machine,
};
use servers::{Server, hog, local_runner};

/// The benchmark's sentences, one per line; `models/benches/piper.rs` and
/// `tests/benches/piper_service/` read the same file.
const SENTENCES_FILE: &str = include_str!("../../../bench/piper-sentences.txt");

/// The sentences of [`SENTENCES_FILE`].
fn sentences() -> Vec<&'static str> {
    SENTENCES_FILE
        .lines()
        .filter(|line| !line.is_empty())
        .collect()
}

/// The breakdown's sentence: mid-length, one clause, no numbers (about 2.5 s of speech).
const REPRESENTATIVE: &str = "The quick brown fox jumps over the lazy dog.";

/// Busy-loop processes for the loaded rows (one per CPU of the 2-vCPU machine the docs use).
const HOGS: usize = 2;

/// One way of answering the 20 sentences.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Side {
    /// Our service: which server (0 = default threads, 1 = one thread) and whether the
    /// request asks for WAV only.
    Ours { server: usize, wav_only: bool },
    /// piper-tts's HTTP server.
    Piper,
}

impl Side {
    fn label(self, threads: usize) -> String {
        match self {
            Self::Ours {
                server: 0,
                wav_only: false,
            } => format!("service, defaults ({threads} threads; WAV answered, WAV + MP3 stored)"),
            Self::Ours {
                server: 0,
                wav_only: true,
            } => "service, `\"export_formats\":[\"wav\"]`".into(),
            Self::Ours { wav_only, .. } => format!(
                "service, `--inference-threads 1`{}",
                if wav_only {
                    ", WAV only"
                } else {
                    " (WAV + MP3)"
                }
            ),
            Self::Piper => "piper-tts `piper.http_server`".into(),
        }
    }
}

const SIDES: [Side; 4] = [
    Side::Ours {
        server: 0,
        wav_only: false,
    },
    Side::Ours {
        server: 0,
        wav_only: true,
    },
    Side::Ours {
        server: 1,
        wav_only: false,
    },
    Side::Piper,
];

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let rounds = env_number("BENCH_ROUNDS").unwrap_or(5);
    let breakdown_runs = env_number("BENCH_BREAKDOWN_RUNS").unwrap_or(15);
    let cold_runs = env_number("BENCH_COLD_RUNS").unwrap_or(5);
    let root = tests::engines::workspace_root();
    let models_dir = tests::engines::models_dir();
    let voice_file = models_dir.join("piper/en_US-joe-medium.onnx");
    let runner = local_runner(&root);
    let python = std::env::var("BENCH_PYTHON").expect(
        "BENCH_PYTHON must name the Python with bench/python/requirements.txt installed \
         (./scripts/bench.sh sets it up in .venv-bench)",
    );
    let threads = default_threads();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(300))
        .build()
        .unwrap();

    print_machine(&python, &runner);
    println!();
    let background = cpu_sample(Duration::from_secs(3));
    let before = format!(
        "Before the run: load average {}; over 3 s with nothing of this benchmark running, \
         the CPUs were {:.0}% busy and {:.0}% stolen by the hypervisor.",
        load_average(),
        background.busy * 100.0,
        background.steal * 100.0
    );

    // 1. Side by side, idle then loaded.
    let ours = [
        Server::ours(&runner, &root, &[]),
        Server::ours(&runner, &root, &["--inference-threads", "1"]),
    ];
    let piper = Server::piper(&client, &python, &voice_file).await;
    let targets = Targets {
        client: &client,
        ours: [ours[0].base.as_str(), ours[1].base.as_str()],
        piper: &piper.base,
    };
    eprintln!("warming up (one pass of 20 sentences per side)");
    for side in SIDES {
        targets.pass(side).await;
    }
    let idle = phase(&targets, rounds, "idle").await;
    let hogs: Vec<Child> = (0..HOGS).map(|_| hog()).collect();
    std::thread::sleep(Duration::from_secs(1));
    let loaded = phase(&targets, rounds, "loaded").await;
    for mut hog in hogs {
        let _ = hog.kill();
        let _ = hog.wait();
    }
    print_phases(&before, &idle, &loaded, threads);

    // 2. Where the time goes (idle again).
    std::thread::sleep(Duration::from_secs(3));
    breakdown(&client, &ours[0].base, threads, breakdown_runs).await;
    drop(ours);
    drop(piper);

    // 3. Cold start.
    cold_start(&client, &runner, &root, &python, &voice_file, cold_runs).await;
}

fn env_number(name: &str) -> Option<usize> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

/// The intra-op threads the service gives Piper at default settings (its own function).
fn default_threads() -> usize {
    let config = handler::Config::with_storage("memory://".parse().unwrap()).unwrap();
    config.engines.effective_threads()
}

/// The servers a pass talks to.
struct Targets<'a> {
    client: &'a reqwest::Client,
    ours: [&'a str; 2],
    piper: &'a str,
}

impl Targets<'_> {
    /// The 20 sentences as 20 sequential requests: wall time and seconds of audio answered.
    async fn pass(&self, side: Side) -> (Duration, f64) {
        let started = Instant::now();
        let mut audio = 0.0;
        for sentence in sentences() {
            audio += wav_seconds(&self.ask(side, sentence).await);
        }
        (started.elapsed(), audio)
    }

    /// One request; the WAV answered.
    async fn ask(&self, side: Side, text: &str) -> bytes::Bytes {
        let request = match side {
            Side::Ours { server, wav_only } => {
                let body = if wav_only {
                    json!({"text": text, "export_formats": ["wav"]})
                } else {
                    json!({"text": text})
                };
                self.client
                    .post(format!("{}/api/v1/tts", self.ours[server]))
                    .json(&body)
            }
            Side::Piper => self
                .client
                .post(format!("{}/synthesize", self.piper))
                .json(&json!({"text": text})),
        };
        let response = request.send().await.unwrap();
        assert!(
            response.status().is_success(),
            "{side:?}: {}",
            response.status()
        );
        response.bytes().await.unwrap()
    }
}

/// Length of a 16-bit WAV answer.
fn wav_seconds(bytes: &[u8]) -> f64 {
    let reader = hound::WavReader::new(std::io::Cursor::new(bytes)).expect("a WAV answer");
    f64::from(reader.duration()) / f64::from(reader.spec().sample_rate)
}

/// The figures of one phase: per side, each round's total; the audio length per side.
struct Phase {
    totals: Vec<Vec<Duration>>,
    audio: Vec<f64>,
    load: String,
    cpu: CpuShare,
}

/// `rounds` rounds; in each every side does one pass, the order rotating so no side is
/// always first after a pause.
async fn phase(targets: &Targets<'_>, rounds: usize, name: &str) -> Phase {
    let mut totals = vec![Vec::new(); SIDES.len()];
    let mut audio = vec![0.0; SIDES.len()];
    let before = cpu_times();
    for round in 0..rounds {
        eprintln!("{name}: round {}/{rounds}", round + 1);
        for k in 0..SIDES.len() {
            let n = (round + k) % SIDES.len();
            let (total, seconds) = targets.pass(SIDES[n]).await;
            totals[n].push(total);
            audio[n] = seconds;
        }
    }
    Phase {
        totals,
        audio,
        load: load_average(),
        cpu: cpu_times().share_since(&before),
    }
}

/// One table for both phases: per side, the wall time of the 20 requests (median and range
/// of the rounds) and piper-tts's time over ours (median and range of the rounds' ratios).
fn print_phases(before: &str, idle: &Phase, loaded: &Phase, threads: usize) {
    let piper = SIDES.iter().position(|s| *s == Side::Piper).unwrap();
    let rounds = idle.totals[piper].len();
    println!("{before}");
    println!(
        "20 sentences as 20 sequential HTTP requests per side, {rounds} rounds per phase, the \
         sides taking turns within each round; each ratio is taken within its round. Loaded: \
         {HOGS} busy-loop processes at normal priority."
    );
    println!();
    println!(
        "| side | idle: wall time, median (range) | idle: piper-tts / ours | loaded: wall time | loaded: piper-tts / ours |"
    );
    println!("|---|---:|---:|---:|---:|");
    let ratio = |phase: &Phase, n: usize| {
        if n == piper {
            return "1.00x".to_owned();
        }
        let ratios: Vec<f64> = phase.totals[n]
            .iter()
            .zip(&phase.totals[piper])
            .map(|(ours, theirs)| theirs.as_secs_f64() / ours.as_secs_f64())
            .collect();
        let median = format!("{:.2}x", median_f64(&ratios));
        // Bold: the service at its default thread count, what the comparison is about.
        let median = match SIDES[n] {
            Side::Ours { server: 0, .. } => format!("**{median}**"),
            _ => median,
        };
        format!("{median} ({:.2}-{:.2})", min_f64(&ratios), max_f64(&ratios))
    };
    for (n, side) in SIDES.iter().enumerate() {
        println!(
            "| {} | {} | {} | {} | {} |",
            side.label(threads),
            median_range(&idle.totals[n]),
            ratio(idle, n),
            median_range(&loaded.totals[n]),
            ratio(loaded, n),
        );
    }
    println!();
    println!(
        "Load average at the end: {} (idle), {} (loaded). CPU over each phase (both CPUs, \
         everything on the machine): {:.0}% busy and {:.0}% stolen idle, {:.0}% busy and {:.0}% \
         stolen loaded. Audio answered per pass of 20 sentences: {:.1} s (ours), {:.1} s \
         (piper-tts).",
        idle.load,
        loaded.load,
        idle.cpu.busy * 100.0,
        idle.cpu.steal * 100.0,
        loaded.cpu.busy * 100.0,
        loaded.cpu.steal * 100.0,
        idle.audio[0],
        idle.audio[piper],
    );
    println!();
}
