//! What the codec decisions (`docs/decisions/audio-codecs.md`) rest on, measured on real
//! speech: 30 s of the built-in Piper voice (the sentences of `bench/piper-sentences.txt`,
//! resampled to 24 kHz mono, the rate the OpenAI endpoint speaks at). Prints two markdown
//! tables:
//!
//! 1. libopus at complexity 6 (what `audio::encode` sets) against 7-10 (7 and above add
//!    libopus's speech/music analysis; 10 is libopus's default), 48 kbps, 20 ms frames,
//!    raw frames without the Ogg container;
//! 2. every export format through `audio::encode::Encoders::encode` as the service calls it
//!    (AAC through the ffmpeg program, one process per file, as the service runs it).
//!
//! Median of [`RUNS`] encodes after one warm-up. Run with `just bench` (which writes the
//! tables into `docs/benchmarks.md`) or `cargo bench -p tests --bench codecs`; it needs the
//! runtime assets of the setup step (ONNX Runtime, the Piper voice, ffmpeg).

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::time::{Duration, Instant};

use audio::Pcm;
use audio::encode::{Encoders, ExportFormat};
use models::piper::PiperOptions;

const RUNS: usize = 7;
const SECONDS: usize = 30;
const RATE: u32 = 24_000;
/// The service's Opus bitrate and libopus complexity (`audio/src/encode/opus.rs`).
const OPUS_KBPS: u16 = 48;
const SERVICE_COMPLEXITY: i32 = 6;

const SENTENCES_FILE: &str = include_str!("../../bench/piper-sentences.txt");

/// 30 s of Piper speech at 24 kHz mono (sentences synthesised back to back, repeated if
/// needed, cut to length).
fn speech() -> Pcm {
    let voice = tests::engines::piper_voice(0);
    let mut samples = Vec::new();
    let mut rate = 0;
    for sentence in SENTENCES_FILE.lines().filter(|l| !l.is_empty()).cycle() {
        let waveform = voice
            .synthesize(sentence, &PiperOptions::default())
            .unwrap();
        rate = waveform.sample_rate;
        samples.extend_from_slice(&waveform.samples);
        if samples.len() >= SECONDS * rate as usize {
            break;
        }
    }
    samples.truncate(SECONDS * rate as usize);
    audio::resample::resample(&Pcm::mono(rate, samples), RATE).unwrap()
}

/// Median wall time of `op` over [`RUNS`] runs after one warm-up.
fn median(mut op: impl FnMut()) -> Duration {
    op();
    let mut times: Vec<Duration> = (0..RUNS)
        .map(|_| {
            let started = Instant::now();
            op();
            started.elapsed()
        })
        .collect();
    times.sort();
    times[RUNS / 2]
}

/// All of `samples` through a fresh libopus encoder at `complexity`, 20 ms frames.
fn opus_frames(samples: &[f32], complexity: i32) -> usize {
    let mut encoder =
        opus::Encoder::new(RATE, opus::Channels::Mono, opus::Application::Audio).unwrap();
    encoder
        .set_bitrate(opus::Bitrate::Bits(i32::from(OPUS_KBPS) * 1000))
        .unwrap();
    encoder.set_complexity(complexity).unwrap();
    let frame = RATE as usize / 50;
    let mut packet = [0u8; 4000];
    let mut bytes = 0;
    for chunk in samples.chunks(frame) {
        let mut input = chunk.to_vec();
        input.resize(frame, 0.0);
        bytes += encoder.encode_float(&input, &mut packet).unwrap();
    }
    bytes
}

fn ms(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1000.0;
    if ms >= 10.0 {
        format!("{ms:.0} ms")
    } else {
        format!("{ms:.2} ms")
    }
}

fn main() {
    let encoders = Encoders::with_ffmpeg(tests::engines::ffmpeg());
    let speech = speech();
    let seconds = speech.samples.len() as f64 / f64::from(RATE);
    let samples = &speech.samples;

    println!(
        "{seconds:.0} s of Piper speech (`en_US-joe-medium`, resampled to 24 kHz mono); median \
         of {RUNS} encodes after one warm-up, one thread.\n"
    );
    println!(
        "| libopus complexity ({OPUS_KBPS} kbps, 20 ms frames, no container) | encode {seconds:.0} s | relative to {SERVICE_COMPLEXITY} | bytes |"
    );
    println!("|---|---:|---:|---:|");
    let mut base = None;
    for complexity in SERVICE_COMPLEXITY..=10 {
        let mut bytes = 0;
        let took = median(|| bytes = opus_frames(samples, complexity));
        let base = *base.get_or_insert(took);
        let label = match complexity {
            SERVICE_COMPLEXITY => format!("{complexity} (the service's)"),
            7 => "7 (speech/music analysis on from here)".to_owned(),
            10 => "10 (libopus's default)".to_owned(),
            _ => complexity.to_string(),
        };
        println!(
            "| {label} | {} | {:.1}x | {bytes} |",
            ms(took),
            took.as_secs_f64() / base.as_secs_f64()
        );
    }

    println!();
    println!(
        "| `audio::encode::encode`, as the service encodes | encode {seconds:.0} s | × real time | bytes |"
    );
    println!("|---|---:|---:|---:|");
    for (label, format) in [
        ("wav (16-bit)", ExportFormat::Wav),
        ("flac (flacenc)", ExportFormat::Flac),
        (
            "mp3 (LAME, 320 kbps requested: 160 at 24 kHz)",
            ExportFormat::mp3(320).unwrap(),
        ),
        (
            "opus (libopus, 48 kbps, Ogg)",
            ExportFormat::opus(OPUS_KBPS).unwrap(),
        ),
        (
            "aac (ffmpeg's native encoder, 64 kbps, one process per file)",
            ExportFormat::aac(64).unwrap(),
        ),
    ] {
        let mut bytes = 0;
        let took = median(|| bytes = encoders.encode(&speech, format).unwrap().bytes.len());
        println!(
            "| {label} | {} | {:.0}x | {bytes} |",
            ms(took),
            seconds / took.as_secs_f64()
        );
    }
    println!();
}
