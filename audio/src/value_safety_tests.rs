//! Value-safety property tests: seeded random float buffers full of NaN, infinities, huge,
//! subnormal and ordinary values go through every public DSP stage, encoder and `Pcm`
//! helper. Every call must return `Ok` or `Err`, never panic; the stages that compute new
//! samples (resampling, tempo, loudness, post-processing, concatenation) must moreover never
//! hand back a non-finite sample, whatever they were given (samples also come from the
//! ONNX engines, not only from the decoders, which refuse such values).
//!
//! Deterministic (a fixed xorshift seed) and bounded: a few dozen buffers of at most a few
//! thousand frames, so the whole module runs in seconds in a debug build.

use std::panic::{AssertUnwindSafe, catch_unwind};

use crate::encode::{ExportFormat, StreamEncoder, encode};
use crate::loudness::{self, EbuTarget, NormalizeMethod};
use crate::postprocess::PostProcess;
use crate::resample::{StreamResampler, resample};
use crate::tempo::change_speed;
use crate::timeline::{Clip, ConcatOptions, SilenceToken, TimelineItem, concat};
use crate::{AudioError, Pcm, trim};

/// The rates every buffer is generated at (cycled through).
const RATES: [u32; 5] = [8_000, 22_050, 24_000, 44_100, 48_000];

/// The awkward values: non-finite, absurdly large, the edge of the accepted range,
/// subnormal and signed zeros.
const SPECIALS: [f32; 16] = [
    f32::NAN,
    f32::INFINITY,
    f32::NEG_INFINITY,
    3e38,
    -3e38,
    f32::MAX,
    f32::MIN,
    1024.0,
    -1025.0,
    4.0,
    1e-40,
    -1e-42,
    f32::MIN_POSITIVE,
    0.0,
    -0.0,
    1.0,
];

/// A 64-bit xorshift generator: deterministic, dependency-free, good enough to mix cases.
struct XorShift(u64);

impl XorShift {
    fn new(seed: u64) -> Self {
        // Splitmix the seed once so nearby seeds start far apart (and never at 0).
        let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        Self((z ^ (z >> 31)) | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    /// Uniform in `[-1, 1)`.
    fn unit(&mut self) -> f32 {
        (self.next() >> 40) as f32 / (1u64 << 23) as f32 - 1.0
    }

    fn special(&mut self) -> f32 {
        SPECIALS[self.below(SPECIALS.len())]
    }
}

/// One generated input and how to name it in a failure report.
struct Case {
    label: String,
    pcm: Pcm,
}

/// `len` samples of one of several shapes: speech-level noise, noise sprinkled with
/// specials, runs of constant values, one special throughout, or specials everywhere.
fn buffer(rng: &mut XorShift, len: usize) -> (Vec<f32>, &'static str) {
    match rng.below(6) {
        0 => ((0..len).map(|_| 0.3 * rng.unit()).collect(), "noise"),
        1 => (
            (0..len)
                .map(|_| {
                    if rng.below(40) == 0 {
                        rng.special()
                    } else {
                        0.3 * rng.unit()
                    }
                })
                .collect(),
            "noise with sprinkled specials",
        ),
        2 => {
            let mut x = Vec::with_capacity(len);
            while x.len() < len {
                let run = 1 + rng.below(len / 3 + 1);
                let value = if rng.below(2) == 0 {
                    rng.special()
                } else {
                    rng.unit()
                };
                x.extend(std::iter::repeat_n(value, run.min(len - x.len())));
            }
            (x, "runs of constants")
        }
        3 => (vec![rng.special(); len], "one special throughout"),
        4 => (
            (0..len).map(|_| 1e-39 * rng.unit()).collect(),
            "subnormal noise",
        ),
        _ => (
            (0..len)
                .map(|_| {
                    if rng.below(2) == 0 {
                        rng.special()
                    } else {
                        rng.unit()
                    }
                })
                .collect(),
            "half specials",
        ),
    }
}

/// The inputs every stage is run on: one tone with a run of each special value, then
/// random buffers of random shapes and lengths (including 0, 1, 2, odd and ragged
/// stereo), cycling through the rates and channel counts.
fn cases() -> Vec<Case> {
    let mut cases = Vec::new();
    for (i, &value) in SPECIALS.iter().enumerate() {
        let rate = RATES[i % RATES.len()];
        let channels = 1 + (i % 2) as u16;
        let frames = 4_000;
        let mut samples: Vec<f32> = (0..frames * usize::from(channels))
            .map(|n| 0.1 * (n as f32 * 0.05).sin())
            .collect();
        samples[1_000..1_100].fill(value);
        samples[3_001] = value;
        cases.push(Case {
            label: format!("tone with a run of {value:e} ({rate} Hz x{channels})"),
            pcm: Pcm::new(rate, channels, samples),
        });
    }
    let mut rng = XorShift::new(0x5EED_A0D1);
    let lengths = [0, 1, 2, 3, 17, 511, 1_024, 2_049, 4_096, 6_001];
    for i in 0..40 {
        let rate = RATES[i % RATES.len()];
        let channels = 1 + ((i / RATES.len()) % 2) as u16;
        let len = if i % 4 == 3 {
            rng.below(6_000)
        } else {
            lengths[rng.below(lengths.len())] * usize::from(channels)
        };
        let (samples, shape) = buffer(&mut rng, len);
        cases.push(Case {
            label: format!("random #{i}: {shape}, {len} samples ({rate} Hz x{channels})"),
            pcm: Pcm::new(rate, channels, samples),
        });
    }
    cases
}

/// What a stage hands back for checking: samples it computed (which must be finite),
/// or nothing to check beyond "it returned".
type Outcome = Result<Vec<f32>, AudioError>;

/// One public entry point under test, named for the failure report.
struct Stage {
    name: String,
    run: Box<dyn Fn(&Pcm) -> Outcome>,
}

fn stage(name: impl Into<String>, run: impl Fn(&Pcm) -> Outcome + 'static) -> Stage {
    Stage {
        name: name.into(),
        run: Box::new(run),
    }
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-string panic".into())
}

/// Runs every stage on every case and fails with the full list of stages that panicked
/// or computed non-finite samples, each with the input that did it.
fn check_stages(stages: &[Stage]) {
    let mut failures = Vec::new();
    for case in cases() {
        for Stage { name, run } in stages {
            match catch_unwind(AssertUnwindSafe(|| run(&case.pcm))) {
                Err(payload) => failures.push(format!(
                    "{name} panicked on {}: {}",
                    case.label,
                    panic_message(payload.as_ref())
                )),
                Ok(Ok(samples)) => {
                    if let Some(at) = samples.iter().position(|s| !s.is_finite()) {
                        failures.push(format!(
                            "{name} computed a non-finite sample ({}) at index {at} from {}",
                            samples[at], case.label
                        ));
                    }
                }
                Ok(Err(_)) => {}
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The stage's output must be checked for finiteness.
fn samples(pcm: Pcm) -> Outcome {
    Ok(pcm.samples)
}

/// Only "no panic" is asserted (reports, bytes, selections of the input).
fn returned<T>(_: T) -> Outcome {
    Ok(Vec::new())
}

#[test]
fn resampling_survives_any_value() {
    let mut stages = Vec::new();
    for to in [8_000, 16_000, 24_000, 44_100, 48_000] {
        stages.push(stage(format!("resample to {to} Hz"), move |pcm: &Pcm| {
            resample(pcm, to).and_then(samples)
        }));
    }
    for to in [24_000, 48_000] {
        stages.push(stage(
            format!("stream resample to {to} Hz"),
            move |pcm: &Pcm| -> Outcome {
                let mut stream = StreamResampler::new(pcm.sample_rate, to, 1)?;
                let mono = pcm.clone().into_mono();
                let mut out = Vec::new();
                for block in mono.samples.chunks(1_000) {
                    out.extend(stream.push(block)?);
                }
                out.extend(stream.finish()?);
                Ok(out)
            },
        ));
    }
    check_stages(&stages);
}

#[test]
fn tempo_survives_any_value() {
    let stages: Vec<Stage> = [0.25, 0.8, 1.0, 1.5, 4.0]
        .into_iter()
        .map(|factor| {
            stage(format!("change_speed {factor}"), move |pcm: &Pcm| {
                change_speed(pcm.clone(), factor).and_then(samples)
            })
        })
        .collect();
    check_stages(&stages);
}

#[test]
fn trim_and_loudness_survive_any_value() {
    let loud = EbuTarget {
        integrated_lufs: -5.0,
        true_peak_dbtp: 0.0,
        lra_lu: 1.0,
    };
    check_stages(&[
        stage("non_silent_bounds", |pcm: &Pcm| {
            returned(trim::non_silent_bounds(pcm))
        }),
        stage("trim::plan", |pcm: &Pcm| {
            trim::plan(pcm, 50).and_then(returned)
        }),
        stage("trim::trim", |pcm: &Pcm| {
            trim::trim(pcm.clone(), 200).and_then(returned)
        }),
        stage("loudness::measure", |pcm: &Pcm| {
            loudness::measure(pcm).and_then(returned)
        }),
        stage("normalize_ebu default", |pcm: &Pcm| {
            loudness::normalize_ebu(pcm.clone(), &EbuTarget::default())
                .and_then(|(p, _)| samples(p))
        }),
        stage("normalize_ebu -5 LUFS / 0 dBTP", move |pcm: &Pcm| {
            loudness::normalize_ebu(pcm.clone(), &loud).and_then(|(p, _)| samples(p))
        }),
        stage("normalize_peak -1 dBFS", |pcm: &Pcm| {
            loudness::normalize_peak(pcm.clone(), -1.0).and_then(|(p, _)| samples(p))
        }),
        stage("normalize_rms -20 dBFS", |pcm: &Pcm| {
            samples(loudness::normalize_rms(pcm.clone(), -20.0).0)
        }),
        stage("rms_dbfs", |pcm: &Pcm| returned(loudness::rms_dbfs(pcm))),
    ]);
}

#[test]
fn postprocess_survives_any_value() {
    let settings = [
        PostProcess::default(),
        PostProcess {
            speed_factor: 0.5,
            trim: true,
            normalize_audio: true,
            ..PostProcess::default()
        },
        PostProcess {
            speed_factor: 2.0,
            normalize_audio: true,
            normalize_method: NormalizeMethod::Peak,
            normalize_tp: -1.0,
            ..PostProcess::default()
        },
        PostProcess {
            speed_factor: 4.0,
            trim: true,
            trim_threshold_ms: 50,
            normalize_audio: true,
            normalize_level: -5.0,
            normalize_tp: 0.0,
            normalize_lra: 1.0,
            ..PostProcess::default()
        },
        PostProcess {
            speed_factor: 0.25,
            normalize_audio: true,
            normalize_level: -70.0,
            normalize_tp: -9.0,
            ..PostProcess::default()
        },
    ];
    let stages: Vec<Stage> = settings
        .into_iter()
        .enumerate()
        .map(|(i, settings)| {
            stage(
                format!("PostProcess::apply settings #{i}"),
                move |pcm: &Pcm| settings.apply(pcm.clone()).and_then(|(p, _)| samples(p)),
            )
        })
        .collect();
    check_stages(&stages);
}

/// A clean clip at another channel count and, depending on the case, twice the rate (the
/// hostile clip is resampled; 2:1 keeps rubato's FFTs small in a debug build) or 8 kHz
/// (it is copied as is): either way it is converted, crossfaded and level-matched
/// against the hostile one.
fn partner(pcm: &Pcm) -> Pcm {
    let rate = if pcm.samples.len().is_multiple_of(2) && pcm.sample_rate <= 24_000 {
        2 * pcm.sample_rate
    } else {
        8_000
    };
    let channels = 3 - pcm.channels.min(2);
    Pcm::new(
        rate,
        channels,
        (0..2_400 * usize::from(channels))
            .map(|n| 0.2 * (n as f32 * 0.03).sin())
            .collect(),
    )
}

#[test]
fn concat_survives_any_value() {
    let configs = [
        ("defaults", ConcatOptions::default()),
        (
            "crossfade + trim",
            ConcatOptions {
                crossfade_ms: 50,
                trim: true,
                ..ConcatOptions::default()
            },
        ),
        (
            "long crossfade, no normalisation",
            ConcatOptions {
                normalize_levels: false,
                crossfade_ms: 5_000,
                ..ConcatOptions::default()
            },
        ),
        (
            "pauses",
            ConcatOptions {
                pause_duration_ms: 300,
                pause_variation_ms: 100,
                seed: 7,
                ..ConcatOptions::default()
            },
        ),
    ];
    let stages: Vec<Stage> = configs
        .into_iter()
        .map(|(name, options)| {
            stage(format!("concat {name}"), move |pcm: &Pcm| -> Outcome {
                let clip = |label: &str, pcm: Pcm| {
                    TimelineItem::Clip(Clip {
                        label: label.into(),
                        pcm,
                    })
                };
                let items = vec![
                    clip("hostile", pcm.clone()),
                    clip("partner", partner(pcm)),
                    TimelineItem::Silence(SilenceToken::parse("(100ms)")?),
                    clip("hostile again", pcm.clone()),
                ];
                concat(items, &options).and_then(|(p, _)| samples(p))
            })
        })
        .collect();
    check_stages(&stages);
}

/// Every format we can write without the external ffmpeg (AAC needs it).
fn formats() -> Vec<ExportFormat> {
    vec![
        ExportFormat::Wav,
        ExportFormat::WavFloat,
        ExportFormat::Pcm,
        ExportFormat::Flac,
        ExportFormat::Mp3 { bitrate_kbps: 320 },
        ExportFormat::Mp3 { bitrate_kbps: 8 },
        ExportFormat::Opus { bitrate_kbps: 48 },
    ]
}

#[test]
fn encoders_survive_any_value() {
    let mut stages = Vec::new();
    for format in formats() {
        stages.push(stage(format!("encode {format:?}"), move |pcm: &Pcm| {
            encode(pcm, format).and_then(returned)
        }));
        stages.push(stage(
            format!("StreamEncoder {format:?}"),
            move |pcm: &Pcm| -> Outcome {
                // The stream is mono: interleaved stereo goes in as one long mono signal.
                let (mut stream, _) = StreamEncoder::new(format, pcm.sample_rate)?;
                for block in pcm.samples.chunks(733) {
                    stream.push(block)?;
                }
                stream.finish().and_then(returned)
            },
        ));
    }
    check_stages(&stages);
}

#[test]
fn pcm_helpers_survive_any_value() {
    let mut stages = vec![
        stage("Pcm::into_mono", |pcm: &Pcm| {
            returned(pcm.clone().into_mono())
        }),
        stage("Pcm::peak", |pcm: &Pcm| returned(pcm.peak())),
        stage("Pcm::validate", |pcm: &Pcm| {
            pcm.validate().and_then(returned)
        }),
        stage("Pcm durations", |pcm: &Pcm| {
            returned((pcm.frames(), pcm.duration_seconds(), pcm.duration_ms()))
        }),
    ];
    for channels in [1, 2, 3] {
        stages.push(stage(
            format!("Pcm::into_channels({channels})"),
            move |pcm: &Pcm| returned(pcm.clone().into_channels(channels)),
        ));
    }
    check_stages(&stages);
}
