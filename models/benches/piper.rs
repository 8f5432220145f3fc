//! Piper benchmark: our Rust engine against the Python `piper-tts` package, same joe voice,
//! same sentences, one run.
//!
//! Measures, on each side: voice load time, time to first audio for a short sentence
//! (median; the voice already loaded, espeak-ng and the graph run included), wall time and
//! real-time factor for 20 sentences synthesised as separate requests (median of the run
//! totals; the two sides alternate run by run, since the machine is shared), and peak memory (resident set high-water mark of the measuring process; our
//! espeak-ng child is reported on its own). On our side alone it also times phonemising the
//! short sentence with a long-lived espeak-ng against one process per request. The Python
//! side is `bench/python/piper_bench.py`, run with the interpreter named by `BENCH_PYTHON`
//! (an absolute path: benchmarks run from the package folder); without it only our side is
//! printed.
//!
//! Run: `BENCH_PYTHON=$PWD/.venv-bench/bin/python cargo bench -p models --bench piper`
//! (`ORT_DYLIB_PATH` / `SPEECH_MODELS_DIR` as for the tests; `BENCH_RUNS` sets the run count,
//! default 5; `BENCH_THREADS` the intra-op threads of our session; `BENCH_ESPEAK_ONE_SHOT=1`
//! starts one espeak-ng process per request instead of keeping one, for comparison).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use models::piper::{EspeakPhonemizer, Phonemizer, PiperOptions, PiperVoice};
use models::{ExecutionProvider, OnnxRuntime, RuntimeSettings};

const SHORT: &str = "Hello world.";
const TTFA_RUNS: usize = 10;
const PHONEMIZE_RUNS: usize = 30;
/// The benchmark's sentences, one per line; `models/benches/piper.rs` and
/// `tests/benches/piper_service.rs` read the same file.
const SENTENCES_FILE: &str = include_str!("../../bench/piper-sentences.txt");

/// The sentences of [`SENTENCES_FILE`].
fn sentences() -> Vec<&'static str> {
    SENTENCES_FILE
        .lines()
        .filter(|line| !line.is_empty())
        .collect()
}

/// One side's figures.
#[derive(Debug, Default)]
struct Figures {
    load: Duration,
    ttfa: Duration,
    total: Duration,
    audio_seconds: f64,
    peak_rss_kib: u64,
}

/// One table row: its label, a note after our value, and how to print a side's value.
type Row<'a> = (&'static str, String, Box<dyn Fn(&Figures) -> String + 'a>);

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let runs: usize = env_number("BENCH_RUNS").unwrap_or(5);
    let models_dir = std::env::var_os("SPEECH_MODELS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.cache/models"));
    let library = std::env::var_os("ORT_DYLIB_PATH")
        .map(PathBuf::from)
        .unwrap_or_else(|| models_dir.join("onnxruntime-1.32.0/libonnxruntime.so"));
    let model = models_dir.join("piper/en_US-joe-medium.onnx");
    if !model.is_file() || !library.is_file() {
        return Err(format!(
            "{} or {} missing: run ./scripts/test.sh once to fetch them",
            model.display(),
            library.display()
        )
        .into());
    }
    let runtime = OnnxRuntime::load(RuntimeSettings {
        library,
        provider: ExecutionProvider::Cpu,
        // 0 lets the voice pick its default (1 thread); BENCH_THREADS overrides it.
        intra_threads: env_number("BENCH_THREADS").unwrap_or(0),
        spinning: models::Spinning::default(),
    })?;
    let start = Instant::now();
    let mut voice = PiperVoice::load(&runtime, &model, None)?;
    let one_shot = std::env::var_os("BENCH_ESPEAK_ONE_SHOT").is_some_and(|v| v == "1");
    if one_shot {
        voice = voice.with_phonemizer(EspeakPhonemizer::new().with_long_lived_processes(false));
    }
    let mut ours = Figures {
        load: start.elapsed(),
        ..Figures::default()
    };
    let dir = tempfile::tempdir()?;
    let sentences_file = dir.path().join("sentences.json");
    std::fs::write(&sentences_file, serde_json::to_string(&sentences())?)?;
    let mut python = PythonSide::start(&model, &sentences_file);

    // The machine is shared: the two sides take turns, run by run, so both see the same
    // background load.
    let mut theirs = Figures::default();
    let (mut our_ttfa, mut their_ttfa) = (Vec::new(), Vec::new());
    first_audio(&voice)?; // warm-up on both sides
    python.ask_seconds("ttfa", "ttfa_s");
    for _ in 0..TTFA_RUNS {
        our_ttfa.push(first_audio(&voice)?);
        their_ttfa.extend(python.ask_seconds("ttfa", "ttfa_s"));
    }
    let (mut our_totals, mut their_totals) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        let start = Instant::now();
        ours.audio_seconds = 0.0;
        for sentence in sentences() {
            ours.audio_seconds += voice
                .synthesize(sentence, &PiperOptions::default())?
                .duration_seconds();
        }
        our_totals.push(start.elapsed());
        if let Some(reply) = python.ask("total") {
            their_totals.push(Duration::from_secs_f64(
                reply["total_s"].as_f64().unwrap_or(0.0),
            ));
            theirs.audio_seconds = reply["audio_s"].as_f64().unwrap_or(0.0);
        }
    }
    ours.ttfa = median(&mut our_ttfa);
    ours.total = median(&mut our_totals);
    ours.peak_rss_kib = peak_rss_kib().unwrap_or(0);
    theirs.ttfa = median(&mut their_ttfa);
    theirs.total = median(&mut their_totals);
    theirs.peak_rss_kib = python
        .ask("rss")
        .and_then(|r| r["peak_rss_kib"].as_u64())
        .unwrap_or(0);
    let theirs = match python {
        PythonSide::Running { load, versions, .. } => {
            Python::Figures(Figures { load, ..theirs }, versions)
        }
        PythonSide::Unavailable(why) => Python::Unavailable(why),
    };
    print_report(&ours, espeak_peak_kib(), &theirs, runs);
    let (long_lived, per_request) = phonemize_times(&voice.config().espeak.voice)?;
    println!(
        "Phonemisation alone, {SHORT:?} (median of {PHONEMIZE_RUNS}, alternating): {} with a \
         long-lived espeak-ng, {} with one process per request.",
        ms(long_lived),
        ms(per_request)
    );
    println!(
        "Our side: espeak-ng as {}.",
        if one_shot {
            "one process per request"
        } else {
            "a long-lived process"
        }
    );
    Ok(())
}

fn env_number(name: &str) -> Option<usize> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

/// Median time to phonemise [`SHORT`] with a long-lived espeak-ng process and with one
/// process per request, taking turns.
fn phonemize_times(voice: &str) -> Result<(Duration, Duration), models::ModelError> {
    let long_lived = EspeakPhonemizer::new();
    let per_request = EspeakPhonemizer::new().with_long_lived_processes(false);
    long_lived.phonemize(voice, SHORT)?; // starts the process
    let (mut kept, mut fresh) = (Vec::new(), Vec::new());
    for _ in 0..PHONEMIZE_RUNS {
        for (phonemizer, times) in [(&long_lived, &mut kept), (&per_request, &mut fresh)] {
            let start = Instant::now();
            phonemizer.phonemize(voice, SHORT)?;
            times.push(start.elapsed());
        }
    }
    Ok((median(&mut kept), median(&mut fresh)))
}

/// Time from the call to the first sentence's audio for [`SHORT`].
fn first_audio(voice: &PiperVoice) -> Result<Duration, models::ModelError> {
    let start = Instant::now();
    let mut first = None;
    voice.synthesize_each_sentence(SHORT, &PiperOptions::default(), &mut |_| {
        first.get_or_insert_with(|| start.elapsed());
        Ok(())
    })?;
    Ok(first.unwrap_or_default())
}

fn median(values: &mut [Duration]) -> Duration {
    values.sort();
    values.get(values.len() / 2).copied().unwrap_or_default()
}

/// This process's resident-set high-water mark (`VmHWM`).
fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Peak memory of one espeak-ng run over all sentences (via `/usr/bin/time`), if available.
fn espeak_peak_kib() -> Option<u64> {
    use std::io::Write;
    let mut child = Command::new("/usr/bin/time")
        .args([
            "-f",
            "%M",
            "espeak-ng",
            "-q",
            "-b",
            "1",
            "--ipa",
            "-v",
            "en-us",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .ok()?;
    let mut stdin = child.stdin.take()?;
    stdin.write_all(sentences().join("\n").as_bytes()).ok()?;
    drop(stdin);
    let output = child.wait_with_output().ok()?;
    String::from_utf8_lossy(&output.stderr)
        .lines()
        .last()?
        .trim()
        .parse()
        .ok()
}

/// Python figures and versions, or why there are none.
enum Python {
    Figures(Figures, String),
    Unavailable(String),
}

/// The Python script, running and waiting for commands, or why it is not.
enum PythonSide {
    Running {
        child: Child,
        stdin: ChildStdin,
        stdout: BufReader<ChildStdout>,
        load: Duration,
        versions: String,
    },
    Unavailable(String),
}

impl PythonSide {
    fn start(model: &Path, sentences: &Path) -> Self {
        let Ok(python) = std::env::var("BENCH_PYTHON") else {
            return Self::Unavailable("BENCH_PYTHON is not set".into());
        };
        let script =
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../bench/python/piper_bench.py");
        let spawned = Command::new(&python)
            .arg(&script)
            .arg("--model")
            .arg(model)
            .arg("--sentences")
            .arg(sentences)
            .args(["--short", SHORT])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn();
        let mut child = match spawned {
            Ok(child) => child,
            Err(e) => return Self::Unavailable(format!("could not run {python}: {e}")),
        };
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            return Self::Unavailable("no pipes to the Python script".into());
        };
        let mut stdout = BufReader::new(stdout);
        let hello = match read_json(&mut stdout) {
            Ok(value) => value,
            Err(why) => return Self::Unavailable(why),
        };
        if let Some(error) = hello.get("error").and_then(|e| e.as_str()) {
            return Self::Unavailable(format!("piper-tts unavailable ({error})"));
        }
        let versions = hello["versions"]
            .as_object()
            .map(|m| {
                m.iter()
                    .map(|(k, v)| format!("{k} {}", v.as_str().unwrap_or("?")))
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .unwrap_or_default();
        Self::Running {
            child,
            stdin,
            stdout,
            load: Duration::from_secs_f64(hello["load_s"].as_f64().unwrap_or(0.0)),
            versions,
        }
    }

    /// Sends one command and reads its reply; a failure makes the side unavailable.
    fn ask(&mut self, command: &str) -> Option<serde_json::Value> {
        use std::io::Write;
        let Self::Running {
            child,
            stdin,
            stdout,
            ..
        } = self
        else {
            return None;
        };
        let reply = writeln!(stdin, "{command}")
            .and_then(|()| stdin.flush())
            .map_err(|e| format!("writing to the Python script: {e}"))
            .and_then(|()| read_json(stdout));
        match reply {
            Ok(value) => Some(value),
            Err(why) => {
                let _ = child.kill();
                *self = Self::Unavailable(why);
                None
            }
        }
    }

    fn ask_seconds(&mut self, command: &str, key: &str) -> Option<Duration> {
        let reply = self.ask(command)?;
        Some(Duration::from_secs_f64(reply[key].as_f64()?))
    }
}

fn read_json(stdout: &mut BufReader<ChildStdout>) -> Result<serde_json::Value, String> {
    let mut line = String::new();
    stdout
        .read_line(&mut line)
        .map_err(|e| format!("reading from the Python script: {e}"))?;
    serde_json::from_str(&line).map_err(|_| format!("no JSON from the Python script: {line:?}"))
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn rtf(f: &Figures) -> f64 {
    f.total.as_secs_f64() / f.audio_seconds.max(f64::EPSILON)
}

fn mib(kib: u64) -> String {
    format!("{:.0} MiB", kib as f64 / 1024.0)
}

fn print_report(ours: &Figures, espeak_kib: Option<u64>, theirs: &Python, runs: usize) {
    println!(
        "Piper, joe-medium voice: {} sentences as separate requests (median of {runs} runs), \
         time to first audio for {SHORT:?} (median of {TTFA_RUNS}).",
        sentences().len()
    );
    println!();
    let espeak = espeak_kib.map_or(String::new(), |k| format!(" (+ espeak-ng {})", mib(k)));
    let rows: [Row; 5] = [
        ("voice load", String::new(), Box::new(|f| ms(f.load))),
        (
            "time to first audio, short sentence",
            String::new(),
            Box::new(|f| ms(f.ttfa)),
        ),
        (
            "20 sentences, wall time",
            String::new(),
            Box::new(|f| format!("{} ({:.1} s audio)", ms(f.total), f.audio_seconds)),
        ),
        (
            "real-time factor (lower is faster)",
            String::new(),
            Box::new(|f| format!("{:.3}", rtf(f))),
        ),
        (
            "peak memory (RSS)",
            espeak,
            Box::new(|f| mib(f.peak_rss_kib)),
        ),
    ];
    match theirs {
        Python::Figures(python, versions) => {
            let ratios = [
                python.load.as_secs_f64() / ours.load.as_secs_f64(),
                python.ttfa.as_secs_f64() / ours.ttfa.as_secs_f64(),
                python.total.as_secs_f64() / ours.total.as_secs_f64(),
                rtf(python) / rtf(ours),
            ];
            println!("| Measure | Rust (models::piper) | Python (piper-tts) | Rust speed-up |");
            println!("|---|---:|---:|---:|");
            for (n, (label, extra, value)) in rows.iter().enumerate() {
                let ratio = ratios.get(n).map_or(String::new(), |r| format!("{r:.2}x"));
                println!(
                    "| {label} | {}{extra} | {} | {ratio} |",
                    value(ours),
                    value(python)
                );
            }
            println!();
            println!("Python side: {versions}.");
        }
        Python::Unavailable(why) => {
            println!("| Measure | Rust (models::piper) |");
            println!("|---|---:|");
            for (label, extra, value) in &rows {
                println!("| {label} | {}{extra} |", value(ours));
            }
            println!();
            println!("Python side not run: {why}.");
        }
    }
}
