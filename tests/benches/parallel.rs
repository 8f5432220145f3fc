//! Sentences side by side: one 20-sentence request and a 10-minute chapter through
//! `POST /api/v1/tts` (in process, memory store, WAV out) with `--synthesis-threads` 1 and
//! 2, and piper-tts on the same text in the same run (`bench/python/piper_bench.py`'s
//! `total`: its `PiperVoice.synthesize` over the text, sentence after sentence, ONNX
//! Runtime's default threads). Rounds alternate the three sides; medians are reported.
//!
//! Run: `BENCH_PYTHON=$PWD/.venv-bench/bin/python cargo bench -p tests --bench parallel`
//! (`just bench` does).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::Instant;

use serde_json::{Value, json};
use tests::{Backend, TestApp};

/// Twenty sentences of ordinary prose.
fn twenty_sentences() -> String {
    [
        "The morning train was late again, and nobody on the platform seemed surprised.",
        "A woman in a green coat checked her watch twice and then gave up.",
        "Two students argued quietly about a film they had both disliked.",
        "The station clock, which had been wrong for years, said it was noon.",
        "Somewhere behind the ticket office a radio played an old song.",
        "When the train finally arrived, it was almost empty.",
        "The conductor apologised to everyone in a voice that did not sound sorry.",
        "Outside the windows the fields were grey and flat and wet.",
        "A boy near the door counted the telegraph poles under his breath.",
        "His father read the same page of the newspaper for twenty minutes.",
        "At the second stop an old man climbed on with a box of apples.",
        "He offered one to the boy, who looked at his father before taking it.",
        "The apple was sour, but the boy ate all of it anyway.",
        "Rain began to fall as the train crossed the long iron bridge.",
        "The river below was brown and fast and full of branches.",
        "Nobody spoke while the bridge rattled under the wheels.",
        "On the far side the sun came out for a moment and then went in again.",
        "The woman in the green coat fell asleep with her mouth slightly open.",
        "By the time they reached the city, the rain had stopped.",
        "Everyone got off without a word, as if the journey had never happened.",
    ]
    .join(" ")
}

/// About ten minutes of speech: the twenty sentences, eight times over.
fn chapter() -> String {
    vec![twenty_sentences(); 8].join("\n\n")
}

/// piper-tts in a Python process that answers `total` for `text`.
struct PiperTts {
    child: std::process::Child,
    reader: BufReader<std::process::ChildStdout>,
}

impl PiperTts {
    fn start(
        python: &str,
        voice: &std::path::Path,
        text: &str,
        dir: &std::path::Path,
    ) -> Option<Self> {
        let sentences = dir.join(format!("text-{}.json", text.len()));
        std::fs::write(&sentences, json!([text]).to_string()).unwrap();
        let script = tests::engines::workspace_root().join("bench/python/piper_bench.py");
        let mut child = Command::new(python)
            .arg(script)
            .arg("--model")
            .arg(voice)
            .arg("--sentences")
            .arg(&sentences)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("python");
        let mut reader = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        let hello: Value = serde_json::from_str(&line).unwrap();
        if hello.get("error").is_some() {
            eprintln!("piper-tts unavailable: {hello}");
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        Some(Self { child, reader })
    }

    /// Seconds to speak the text once.
    fn total(&mut self) -> f64 {
        let stdin = self.child.stdin.as_mut().unwrap();
        writeln!(stdin, "total").unwrap();
        stdin.flush().unwrap();
        let mut line = String::new();
        self.reader.read_line(&mut line).unwrap();
        let reply: Value = serde_json::from_str(&line).unwrap();
        reply["total_s"].as_f64().unwrap()
    }
}

impl Drop for PiperTts {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Seconds for one `POST /api/v1/tts` of `text`, and the audio's length.
async fn ours(app: &TestApp, text: &str) -> (f64, f64) {
    let started = Instant::now();
    let answer = app
        .post_json(
            "/api/v1/tts?response_mode=url",
            &json!({"text": text, "export_formats": ["wav"]}),
        )
        .await
        .ok_json();
    (
        started.elapsed().as_secs_f64(),
        answer["duration_seconds"].as_f64().unwrap(),
    )
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

async fn table() {
    let python = std::env::var("BENCH_PYTHON").expect(
        "BENCH_PYTHON must name the Python with bench/python/requirements.txt installed \
         (scripts/bench.sh sets it)",
    );
    let voice = tests::engines::models_dir().join("piper/en_US-joe-medium.onnx");
    let dir = tempfile::tempdir().unwrap();
    // One intra-op thread per session on both sides, so "threads" counts what runs: one
    // sentence at a time on one core, or two side by side.
    let app = |threads: usize| {
        TestApp::with_config(&Backend::memory(), |c| {
            c.engines.synthesis_threads = threads;
            c.engines.inference_threads = 1;
            c.engines.max_text_length = 50_000;
        })
    };
    let (one, two) = (app(1), app(2));
    let cpus = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    println!(
        "Machine: {cpus} CPUs. Each row: median of the rounds (each round runs the three sides \
         one after the other); ours is the whole request (speech, WAV encoding, the store write)."
    );
    println!();
    println!(
        "| text | audio | ours, 1 thread | ours, 2 threads | 2 threads vs 1 | piper-tts | piper-tts / ours (2 threads) |"
    );
    println!("|---|---|---|---|---|---|---|");
    for (name, text, rounds) in [
        ("20 sentences (one request)", twenty_sentences(), 5),
        ("a 10-minute chapter (one request)", chapter(), 1),
    ] {
        // Warm-up: each app loads the voice (and its helper session) once.
        ours(&one, "Warm up.").await;
        ours(&two, "Warm up. Both threads.").await;
        let mut piper = PiperTts::start(&python, &voice, &text, dir.path());
        let (mut a, mut b, mut p) = (Vec::new(), Vec::new(), Vec::new());
        let mut audio = 0.0;
        for _ in 0..rounds {
            let (seconds, length) = ours(&one, &text).await;
            a.push(seconds);
            audio = length;
            b.push(ours(&two, &text).await.0);
            if let Some(piper) = piper.as_mut() {
                p.push(piper.total());
            }
        }
        let (a, b) = (median(&mut a), median(&mut b));
        let (piper_cell, ratio_cell) = if p.is_empty() {
            ("(not installed)".to_owned(), "".to_owned())
        } else {
            let p = median(&mut p);
            (format!("{p:.2} s"), format!("{:.2}x", p / b))
        };
        println!(
            "| {name} | {audio:.0} s | {a:.2} s | {b:.2} s | {:.2}x | {piper_cell} | {ratio_cell} |",
            a / b
        );
    }
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(table());
}
