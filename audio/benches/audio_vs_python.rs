//! Rust-vs-Python benchmark of the audio crate against the original's Python stack.
//!
//! One run generates the inputs (30 s of 24 kHz speech-like audio and 50 clips of
//! 1-4 s), writes them as 16-bit WAV to a temp dir, times the Rust implementation
//! (release, median of several iterations), then runs `bench/python/audio_bench.py`
//! on the same files with the interpreter named by `BENCH_PYTHON` and prints one
//! markdown table with both timings and the ratio. Without `BENCH_PYTHON`, or if the
//! Python packages fail to import, only the Rust timings are printed.
//!
//! Run: `BENCH_PYTHON=.venv-bench/bin/python cargo bench -p audio --bench audio_vs_python`
//! (`BENCH_ITERATIONS` overrides the iteration count, default 7).

use std::collections::BTreeMap;
use std::f64::consts::TAU;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use audio::encode::{ExportFormat, encode};
use audio::loudness::{EbuTarget, normalize_ebu};
use audio::timeline::{Clip, ConcatOptions, TimelineItem, concat};
use audio::{DecodeLimits, Pcm, decode, resample, tempo, trim};

const RATE: u32 = 24_000;
const CLIPS: usize = 50;

/// A timed Rust-only step over the 30 s input.
type Step<'a> = dyn Fn(Pcm) -> Result<(), Box<dyn std::error::Error>> + 'a;

/// One table row: what was timed on each side.
struct Row {
    operation: &'static str,
    rust: Duration,
    python_key: Option<&'static str>,
    python_tool: &'static str,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let iterations: usize = std::env::var("BENCH_ITERATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(7);
    let dir = tempfile::tempdir()?;
    let speech = Pcm::mono(RATE, speech_like(30 * RATE as usize, 1));
    let speech_path = dir.path().join("speech30.wav");
    std::fs::write(&speech_path, encode(&speech, ExportFormat::Wav)?.bytes)?;
    // Work on what the file holds (16-bit), exactly like the Python side.
    let speech = read_wav(&speech_path)?;
    let clip_dir = dir.path().join("clips");
    std::fs::create_dir(&clip_dir)?;
    let mut clip_paths = Vec::new();
    for i in 0..CLIPS {
        let seconds = 1.0 + 3.0 * ((i * 37 % 50) as f64 / 49.0);
        let clip = Pcm::mono(
            RATE,
            speech_like((seconds * f64::from(RATE)) as usize, i as u64 + 2),
        );
        let path = clip_dir.join(format!("clip{i:02}.wav"));
        std::fs::write(&path, encode(&clip, ExportFormat::Wav)?.bytes)?;
        clip_paths.push(path);
    }
    let out_dir = dir.path().join("rs_out");
    std::fs::create_dir(&out_dir)?;

    let mut rows = Vec::new();
    for (speed, label_mem, label_file, key_mem, key_file) in [
        (
            0.8,
            "time-stretch 0.8x, 30 s (in memory)",
            "time-stretch 0.8x, 30 s (wav file -> wav file)",
            "stretch_0.8_librosa",
            "stretch_0.8_audiostretchy",
        ),
        (
            1.25,
            "time-stretch 1.25x, 30 s (in memory)",
            "time-stretch 1.25x, 30 s (wav file -> wav file)",
            "stretch_1.25_librosa",
            "stretch_1.25_audiostretchy",
        ),
    ] {
        let rust = median(
            iterations,
            || speech.clone(),
            |pcm| Ok(tempo::change_speed(pcm, speed).map(drop)?),
        )?;
        rows.push(Row {
            operation: label_mem,
            rust,
            python_key: Some(key_mem),
            python_tool: "librosa.effects.time_stretch (phase vocoder)",
        });
        let out = out_dir.join("stretch.wav");
        let rust = median(
            iterations,
            || (),
            |()| {
                let pcm = read_wav(&speech_path)?;
                let stretched = tempo::change_speed(pcm, speed)?;
                std::fs::write(&out, encode(&stretched, ExportFormat::Wav)?.bytes)?;
                Ok(())
            },
        )?;
        rows.push(Row {
            operation: label_file,
            rust,
            python_key: Some(key_file),
            python_tool: "audiostretchy.stretch_audio (TDHS, file to file)",
        });
    }
    let rust = median(
        iterations,
        || speech.clone(),
        |pcm| Ok(trim::trim(pcm, 200).map(drop)?),
    )?;
    rows.push(Row {
        operation: "trim edges, 30 s",
        rust,
        python_key: Some("trim_librosa"),
        python_tool: "librosa.effects.split + slicing",
    });

    // Concat: the join itself from decoded clips (both sides start from memory), then a
    // whole request from files to a written WAV.
    let mut clips = Vec::with_capacity(CLIPS);
    for path in &clip_paths {
        clips.push(TimelineItem::Clip(Clip {
            label: path.display().to_string(),
            pcm: read_wav(path)?,
        }));
    }
    let options = |crossfade_ms, pause_duration_ms| ConcatOptions {
        crossfade_ms,
        pause_duration_ms,
        pause_variation_ms: 100,
        seed: 42,
        ..ConcatOptions::default()
    };
    for (label, key, crossfade_ms, pause_ms) in [
        (
            "concat 50 clips (127 s): level + 400+-100 ms pauses, in memory",
            "concat_pauses_mem_pydub",
            0,
            400,
        ),
        (
            "concat 50 clips (127 s): level + 100 ms crossfades, in memory",
            "concat_crossfade_mem_pydub",
            100,
            0,
        ),
        (
            "concat 50 clips (127 s): level + crossfade 100 + pause 400+-100, in memory [1]",
            "concat_both_mem_pydub",
            100,
            400,
        ),
    ] {
        let options = options(crossfade_ms, pause_ms);
        let rust = median(
            iterations,
            || clips.clone(),
            |items| Ok(concat(items, &options).map(drop)?),
        )?;
        rows.push(Row {
            operation: label,
            rust,
            python_key: Some(key),
            python_tool: "pydub AudioSegment: apply_gain, append(crossfade), +",
        });
    }
    let both = options(100, 400);
    let out = out_dir.join("concat.wav");
    let rust = median(
        iterations,
        || (),
        |()| {
            let mut items = Vec::with_capacity(CLIPS);
            for path in &clip_paths {
                items.push(TimelineItem::Clip(Clip {
                    label: path.display().to_string(),
                    pcm: read_wav(path)?,
                }));
            }
            let (pcm, _) = concat(items, &both)?;
            std::fs::write(&out, encode(&pcm, ExportFormat::Wav)?.bytes)?;
            Ok(())
        },
    )?;
    rows.push(Row {
        operation: "concat 50 clips as above [1], 50 wav files -> wav file",
        rust,
        python_key: Some("concat_both_files_pydub"),
        python_tool: "pydub from_wav ... export(wav)",
    });

    let mp3_out = out_dir.join("speech30.mp3");
    let rust = median(
        iterations,
        || (),
        |()| {
            std::fs::write(
                &mp3_out,
                encode(&speech, ExportFormat::Mp3 { bitrate_kbps: 320 })?.bytes,
            )?;
            Ok(())
        },
    )?;
    rows.push(Row {
        operation: "mp3 encode 30 s, 320k requested (160k at 24 kHz), to file",
        rust,
        python_key: Some("mp3_pydub"),
        python_tool: "pydub export -> ffmpeg libmp3lame",
    });

    // Rust-only rows: what the service does around the compared steps. The WAV is read
    // once, before the timed region: the decode row times decoding bytes already in memory
    // (cloning `Bytes` only bumps a reference count).
    let speech_wav = bytes::Bytes::from(std::fs::read(&speech_path)?);
    let rust_only: [(&'static str, Box<Step<'_>>); 6] = [
        (
            "decode wav 30 s (from memory)",
            Box::new(|_| {
                decode(speech_wav.clone(), Some("wav"), &DecodeLimits::default())
                    .map(drop)
                    .map_err(Into::into)
            }),
        ),
        (
            "resample 24 -> 48 kHz, 30 s",
            Box::new(|pcm| {
                resample::resample(&pcm, 48_000)
                    .map(drop)
                    .map_err(Into::into)
            }),
        ),
        (
            "EBU R128 normalise to -24 LUFS, 30 s",
            Box::new(|pcm| {
                normalize_ebu(pcm, &EbuTarget::default())
                    .map(drop)
                    .map_err(Into::into)
            }),
        ),
        (
            "flac encode 30 s",
            Box::new(|pcm| {
                encode(&pcm, ExportFormat::Flac)
                    .map(drop)
                    .map_err(Into::into)
            }),
        ),
        (
            "opus encode 30 s (48 kbps)",
            Box::new(|pcm| {
                encode(&pcm, ExportFormat::Opus { bitrate_kbps: 48 })
                    .map(drop)
                    .map_err(Into::into)
            }),
        ),
        (
            "wav16 encode 30 s",
            Box::new(|pcm| {
                encode(&pcm, ExportFormat::Wav)
                    .map(drop)
                    .map_err(Into::into)
            }),
        ),
    ];
    for (label, op) in rust_only {
        let rust = median(iterations, || speech.clone(), &op)?;
        rows.push(Row {
            operation: label,
            rust,
            python_key: None,
            python_tool: "-",
        });
    }

    let python = run_python(dir.path(), iterations.min(5));
    print_report(&rows, &python, iterations);
    Ok(())
}

/// Python timings, or why there are none.
enum Python {
    Timings {
        versions: BTreeMap<String, String>,
        seconds: BTreeMap<String, f64>,
    },
    Unavailable(String),
}

fn run_python(dir: &Path, iterations: usize) -> Python {
    let Ok(python) = std::env::var("BENCH_PYTHON") else {
        return Python::Unavailable("BENCH_PYTHON is not set".into());
    };
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../bench/python/audio_bench.py");
    let output = match Command::new(&python)
        .arg(&script)
        .arg("--dir")
        .arg(dir)
        .arg("--iterations")
        .arg(iterations.to_string())
        .output()
    {
        Ok(output) => output,
        Err(e) => return Python::Unavailable(format!("could not run {python}: {e}")),
    };
    let stdout = String::from_utf8_lossy(&output.stdout);
    let Some(line) = stdout
        .lines()
        .rev()
        .find(|l| l.trim_start().starts_with('{'))
    else {
        return Python::Unavailable(format!(
            "no JSON from the Python script: {}",
            String::from_utf8_lossy(&output.stderr)
        ));
    };
    let value: serde_json::Value = match serde_json::from_str(line) {
        Ok(v) => v,
        Err(e) => return Python::Unavailable(format!("bad JSON from the Python script: {e}")),
    };
    if let Some(error) = value.get("error").and_then(|e| e.as_str()) {
        return Python::Unavailable(format!("Python packages unavailable ({error})"));
    }
    let map = |key: &str| {
        value
            .get(key)
            .and_then(|v| v.as_object())
            .cloned()
            .unwrap_or_default()
    };
    Python::Timings {
        versions: map("versions")
            .into_iter()
            .map(|(k, v)| (k, v.as_str().unwrap_or("?").to_owned()))
            .collect(),
        seconds: map("timings_s")
            .into_iter()
            .filter_map(|(k, v)| v.as_f64().map(|s| (k, s)))
            .collect(),
    }
}

fn print_report(rows: &[Row], python: &Python, iterations: usize) {
    println!("\n## Audio: Rust vs the original's Python stack\n");
    println!(
        "Machine: {} ({} CPUs visible). Medians of {iterations} Rust runs (release) and of up to 5 Python runs.",
        cpu_model(),
        num_cpus()
    );
    match python {
        Python::Timings { versions, .. } => {
            let list: Vec<String> = versions.iter().map(|(k, v)| format!("{k} {v}")).collect();
            println!("Python side: {}.\n", list.join(", "));
        }
        Python::Unavailable(why) => println!("Python side not run: {why}. Rust timings only.\n"),
    }
    println!("| Operation | Rust | Python | Python implementation | Rust speed-up |");
    println!("|---|---:|---:|---|---:|");
    for row in rows {
        let py = match (python, row.python_key) {
            (Python::Timings { seconds, .. }, Some(key)) => seconds.get(key).copied(),
            _ => None,
        };
        let (py_cell, ratio) = match py {
            Some(s) => (fmt_ms(s), format!("{:.1}x", s / row.rust.as_secs_f64())),
            None => ("-".into(), "-".into()),
        };
        println!(
            "| {} | {} | {} | {} | {} |",
            row.operation,
            fmt_ms(row.rust.as_secs_f64()),
            py_cell,
            row.python_tool,
            ratio
        );
    }
    println!(
        "\n[1] The same request (crossfade_ms=100, pause_duration_ms=400, pause_variation_ms=100). The original's \
         basic path crossfaded each clip onto the output and then appended a pause after it (ending on a pause); \
         our timeline crossfades only directly adjacent clips, so this request yields the pauses without crossfades."
    );
}

fn fmt_ms(seconds: f64) -> String {
    let ms = seconds * 1000.0;
    if ms < 10.0 {
        format!("{ms:.2} ms")
    } else {
        format!("{ms:.1} ms")
    }
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into())
}

fn num_cpus() -> usize {
    std::thread::available_parallelism()
        .map(usize::from)
        .unwrap_or(1)
}

fn read_wav(path: &Path) -> Result<Pcm, Box<dyn std::error::Error>> {
    Ok(decode(
        std::fs::read(path)?.into(),
        Some("wav"),
        &DecodeLimits::default(),
    )?
    .1)
}

/// Median wall time of `op` over `iterations` runs; `setup` is not timed.
fn median<T>(
    iterations: usize,
    mut setup: impl FnMut() -> T,
    mut op: impl FnMut(T) -> Result<(), Box<dyn std::error::Error>>,
) -> Result<Duration, Box<dyn std::error::Error>> {
    op(setup())?; // warm caches and lazily built state
    let mut times = Vec::with_capacity(iterations);
    for _ in 0..iterations.max(1) {
        let input = setup();
        let start = Instant::now();
        op(input)?;
        times.push(start.elapsed());
    }
    times.sort();
    Ok(times[times.len() / 2])
}

/// Speech-like audio: phrases of "syllables" (a 100-250 Hz harmonic voice with vibrato
/// and formant-ish harmonic weights under a 4-6 Hz amplitude envelope) separated by
/// pauses, plus low noise; starts with 0.8 s and ends with 1.2 s of near-silence so
/// trimming has work to do.
fn speech_like(frames: usize, seed: u64) -> Vec<f32> {
    let rate = f64::from(RATE);
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut noise = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 40) as f64 / (1u64 << 24) as f64 - 0.5
    };
    let base = 110.0 + (seed % 7) as f64 * 20.0;
    let lead = (0.8 * rate) as usize;
    let tail = (1.2 * rate) as usize;
    let mut phase = 0.0f64;
    (0..frames)
        .map(|i| {
            let t = i as f64 / rate;
            let edge = i < lead.min(frames / 4) || i + tail.min(frames / 4) >= frames;
            // 2.5 s phrases with a 0.4 s breath between them.
            let in_phrase = (t % 2.9) < 2.5;
            let f0 = base * (1.0 + 0.15 * (TAU * 0.3 * t).sin()) + 3.0 * (TAU * 5.5 * t).sin();
            phase += TAU * f0 / rate;
            let voice: f64 = (1..=12)
                .map(|h| (phase * h as f64).sin() * formant_weight(h as f64 * f0))
                .sum();
            let syllable = (0.5 - 0.5 * (TAU * 4.5 * t).cos()).powf(1.5);
            let speech = if edge || !in_phrase {
                0.0
            } else {
                0.3 * syllable * voice
            };
            (speech + 0.002 * noise()) as f32
        })
        .collect()
}

/// Rough vowel-like spectral envelope: peaks near 500 Hz and 1500 Hz.
fn formant_weight(hz: f64) -> f64 {
    let peak = |centre: f64, width: f64| (-((hz - centre) / width).powi(2)).exp();
    0.15 + peak(500.0, 200.0) + 0.6 * peak(1500.0, 300.0)
}
