//! `concat_streaming` against `concat`: bit-identical samples and reports over the
//! timeline test cases and random timelines, and the memory it holds on its lease.

use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};

use super::super::{
    Clip, ConcatOptions, ConcatReport, SilenceToken, StreamFormat, TimelineItem, concat,
    timeline_format,
};
use super::{FLUSH_SAMPLES, concat_streaming, concat_streaming_with};
use crate::memory::{Lease, MemoryBudget};
use crate::test_signals::{sine, speech_like};
use crate::{AudioError, Pcm};

const RATE: u32 = 24_000;

fn clip(label: &str, pcm: Pcm) -> TimelineItem {
    TimelineItem::Clip(Clip {
        label: label.into(),
        pcm,
    })
}

fn tone(label: &str, ms: usize, amp: f32) -> TimelineItem {
    let frames = ms * RATE as usize / 1000;
    clip(label, Pcm::mono(RATE, sine(220.0, RATE, frames, amp)))
}

fn silence(token: &str) -> TimelineItem {
    TimelineItem::Silence(SilenceToken::parse(token).unwrap())
}

fn plain() -> ConcatOptions {
    ConcatOptions {
        normalize_levels: false,
        ..ConcatOptions::default()
    }
}

/// Runs `concat_streaming` with `flush`, collecting what the sink receives.
fn streamed(
    items: Vec<TimelineItem>,
    options: &ConcatOptions,
    flush: usize,
) -> Result<(StreamFormat, Vec<f32>, ConcatReport, usize), AudioError> {
    let lease = Lease::unlimited();
    let mut out = Vec::new();
    let mut calls = 0;
    let (format, report) = concat_streaming_with(items, options, &lease, flush, &mut |chunk| {
        assert!(!chunk.is_empty(), "the sink is never called with nothing");
        calls += 1;
        out.extend_from_slice(chunk);
        Ok(())
    })?;
    assert_eq!(lease.held_bytes(), 0, "work buffers are all released");
    Ok((format, out, report, calls))
}

fn bits(samples: &[f32]) -> Vec<u32> {
    samples.iter().map(|s| s.to_bits()).collect()
}

/// Asserts that streaming (with the default flush size and with `flush`) reproduces
/// `concat` bit for bit, format and report included (errors must agree too).
fn assert_same(items: Vec<TimelineItem>, options: &ConcatOptions, flush: usize, what: &str) {
    let expected = concat(items.clone(), options);
    for flush in [FLUSH_SAMPLES, flush] {
        let got = streamed(items.clone(), options, flush);
        match (&expected, got) {
            (Ok((pcm, report)), Ok((format, samples, streamed_report, _))) => {
                assert_eq!(
                    (format.sample_rate, format.channels),
                    (pcm.sample_rate, pcm.channels),
                    "{what}: format"
                );
                assert_eq!(
                    timeline_format(&items).unwrap(),
                    format,
                    "{what}: timeline_format"
                );
                assert_eq!(samples.len(), pcm.samples.len(), "{what}: length");
                assert!(
                    bits(&samples) == bits(&pcm.samples),
                    "{what} (flush {flush}): samples differ at {:?}",
                    samples
                        .iter()
                        .zip(&pcm.samples)
                        .position(|(a, b)| a.to_bits() != b.to_bits())
                );
                assert_eq!(&streamed_report, report, "{what}: report");
            }
            (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string(), "{what}: error"),
            (a, b) => panic!(
                "{what}: concat {:?} but streaming {:?}",
                a.is_ok(),
                b.is_ok()
            ),
        }
    }
}

/// The inputs of the timeline tests in `tests.rs`, each with its options.
fn timeline_cases() -> Vec<(&'static str, Vec<TimelineItem>, ConcatOptions)> {
    let padded = |label: &str| {
        let frames = |ms: usize| ms * RATE as usize / 1000;
        let mut x = vec![0.0; frames(600)];
        x.extend(sine(220.0, RATE, frames(500), 0.5));
        x.extend(vec![0.0; frames(100)]);
        clip(label, Pcm::mono(RATE, x))
    };
    let six = (0..6)
        .map(|i| tone(&format!("{i}.wav"), 400, 0.5))
        .collect::<Vec<_>>();
    let crossfade = |ms| ConcatOptions {
        crossfade_ms: ms,
        ..plain()
    };
    vec![
        (
            "silence tokens",
            vec![
                tone("a.wav", 1000, 0.5),
                silence("(500ms)"),
                tone("b.wav", 700, 0.5),
                silence("(1.5s)"),
                silence("(50ms)"),
                tone("c.wav", 300, 0.5),
            ],
            plain(),
        ),
        (
            "seeded pauses",
            six.clone(),
            ConcatOptions {
                pause_duration_ms: 600,
                pause_variation_ms: 200,
                seed: 42,
                ..plain()
            },
        ),
        (
            "floored pauses",
            six,
            ConcatOptions {
                pause_duration_ms: 60,
                pause_variation_ms: 59,
                seed: 3,
                ..plain()
            },
        ),
        (
            "pauses only between clips",
            vec![
                tone("a", 300, 0.5),
                silence("(1s)"),
                tone("b", 300, 0.5),
                tone("c", 300, 0.5),
            ],
            ConcatOptions {
                pause_duration_ms: 500,
                pause_variation_ms: 0,
                ..plain()
            },
        ),
        (
            "crossfade",
            vec![tone("a", 1000, 0.5), tone("b", 800, 0.5)],
            crossfade(100),
        ),
        (
            "crossfade clamped to the shorter clip",
            vec![tone("a", 1000, 0.5), tone("b", 300, 0.5)],
            crossfade(5000),
        ),
        (
            "crossfade chain",
            vec![
                tone("a", 200, 0.5),
                tone("b", 1000, 0.5),
                tone("c", 1000, 0.5),
            ],
            crossfade(400),
        ),
        (
            "no crossfade across silence",
            vec![tone("a", 500, 0.5), silence("(100ms)"), tone("b", 500, 0.5)],
            crossfade(300),
        ),
        (
            "no crossfade across a pause",
            vec![tone("a", 500, 0.5), tone("b", 500, 0.5)],
            ConcatOptions {
                pause_duration_ms: 200,
                pause_variation_ms: 0,
                ..crossfade(300)
            },
        ),
        (
            "normalised levels and a silent clip",
            vec![
                tone("quiet", 500, 0.01),
                tone("loud", 500, 0.9),
                clip("silent", Pcm::mono(RATE, vec![0.0; 12_000])),
            ],
            ConcatOptions::default(),
        ),
        (
            "mixed rates and channels",
            vec![
                clip("a", Pcm::mono(16_000, sine(220.0, 16_000, 16_000, 0.5))),
                silence("(250ms)"),
                clip(
                    "b",
                    Pcm::mono(RATE, sine(220.0, RATE, RATE as usize, 0.5)).into_channels(2),
                ),
            ],
            plain(),
        ),
        (
            "trim",
            vec![padded("a"), tone("b", 300, 0.5)],
            ConcatOptions {
                trim: true,
                trim_threshold_ms: 200,
                ..plain()
            },
        ),
        (
            "report keys",
            vec![
                tone("a.wav", 300, 0.5),
                silence("(100ms)"),
                tone("b.wav", 300, 0.5),
                tone("c.wav", 300, 0.5),
            ],
            ConcatOptions {
                pause_duration_ms: 300,
                pause_variation_ms: 100,
                seed: 7,
                ..ConcatOptions::default()
            },
        ),
        (
            "hostile samples in converted clips",
            vec![
                clip("surround", {
                    let mut pcm = Pcm::mono(RATE, sine(220.0, RATE, 6_000, 0.5)).into_channels(3);
                    pcm.samples[300] = f32::NAN;
                    pcm.samples[301] = 0.25;
                    pcm.samples[900] = 3e30;
                    pcm.samples[1500] = -5000.0;
                    pcm
                }),
                clip("mono", {
                    let mut pcm = Pcm::mono(RATE, sine(330.0, RATE, 6_000, 0.5));
                    pcm.samples[10] = f32::INFINITY;
                    pcm.samples[11] = 2000.0;
                    pcm
                }),
                clip("resampled", {
                    let mut pcm =
                        Pcm::mono(16_000, sine(220.0, 16_000, 4_000, 0.5)).into_channels(3);
                    pcm.samples[30] = f32::NAN;
                    pcm.samples[31] = 1024.0;
                    pcm.samples[32] = 1024.0;
                    pcm
                }),
                clip(
                    "stereo",
                    Pcm::mono(RATE, sine(110.0, RATE, 3_000, 0.5)).into_channels(2),
                ),
            ],
            ConcatOptions {
                crossfade_ms: 50,
                ..ConcatOptions::default()
            },
        ),
        ("only silence", vec![silence("(1s)")], plain()),
        (
            "invalid options",
            vec![tone("a", 100, 0.5)],
            ConcatOptions {
                crossfade_ms: 5001,
                ..plain()
            },
        ),
    ]
}

#[test]
fn streaming_matches_concat_on_the_timeline_cases() {
    for (what, items, options) in timeline_cases() {
        for flush in [1, 777, 4096] {
            assert_same(items.clone(), &options, flush, what);
        }
    }
}

/// A random clip: rate, channels, length and content (with the odd out-of-range or
/// non-finite sample, as a speech engine might produce).
fn random_clip(rng: &mut ChaCha8Rng, index: usize) -> TimelineItem {
    let rate = [8_000, 16_000, 22_050, 24_000, 44_100, 48_000][rng.random_range(0..6usize)];
    let channels: u16 = [1, 1, 2, 2, 3][rng.random_range(0..5usize)];
    let frames = match rng.random_range(0..10u32) {
        0 => 0,
        1 => rng.random_range(1..50usize),
        _ => rng.random_range(50..rate as usize * 3 / 4),
    };
    let lead = rng.random_range(0..frames.max(1));
    let amp = [0.0f32, 1e-3, 0.3, 0.9][rng.random_range(0..4usize)];
    let voice = speech_like(rate, frames);
    let mut samples = Vec::with_capacity(frames * usize::from(channels));
    for (i, v) in voice.into_iter().enumerate() {
        // Edge silence to trim, and channels that differ.
        let v = if i < lead / 2 { 0.0 } else { v * amp };
        for c in 0..channels {
            samples.push(v * (1.0 - 0.3 * f32::from(c)));
        }
    }
    if !samples.is_empty() && rng.random_range(0..6u32) == 0 {
        let at = rng.random_range(0..samples.len());
        samples[at] = [f32::NAN, 3e30, -5000.0, f32::INFINITY][rng.random_range(0..4usize)];
    }
    clip(&format!("clip {index}"), Pcm::new(rate, channels, samples))
}

fn random_options(rng: &mut ChaCha8Rng) -> ConcatOptions {
    let pause_duration_ms = if rng.random_range(0..3u32) == 0 {
        rng.random_range(60..=3000)
    } else {
        0
    };
    ConcatOptions {
        normalize_levels: rng.random_range(0..2u32) == 0,
        crossfade_ms: [0, 10, 300, 1200, 5000][rng.random_range(0..5usize)],
        pause_duration_ms,
        pause_variation_ms: if pause_duration_ms > 0 {
            rng.random_range(0..pause_duration_ms.min(501))
        } else {
            rng.random_range(0..=500)
        },
        trim: rng.random_range(0..3u32) == 0,
        trim_threshold_ms: rng.random_range(50..=1000),
        seed: rng.random_range(0..u64::MAX),
    }
}

#[test]
fn streaming_matches_concat_on_random_timelines() {
    for seed in 0..40 {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let count = rng.random_range(1..7usize);
        let items: Vec<TimelineItem> = (0..count)
            .map(|i| {
                if rng.random_range(0..4u32) == 0 {
                    let ms = rng.random_range(50..=600u32);
                    silence(&format!("({ms}ms)"))
                } else {
                    random_clip(&mut rng, i)
                }
            })
            .collect();
        let options = random_options(&mut rng);
        let flush = rng.random_range(1..20_000usize);
        assert_same(items, &options, flush, &format!("seed {seed}"));
    }
}

#[test]
fn the_sink_is_called_once_per_item_at_least_and_its_errors_stop_the_timeline() {
    let items = vec![tone("a", 300, 0.5), silence("(100ms)"), tone("b", 300, 0.5)];
    let (_, _, _, calls) = streamed(items.clone(), &plain(), FLUSH_SAMPLES).unwrap();
    assert!(calls >= 3, "{calls} sink calls for three items");

    let budget = MemoryBudget::new(u64::MAX);
    let lease = budget.lease();
    let items = reserved(&lease, items);
    let result = concat_streaming(items, &plain(), &lease, &mut |_| {
        Err(AudioError::encode("wav", "disk full"))
    });
    assert!(
        matches!(result, Err(AudioError::Encode { .. })),
        "{result:?}"
    );
    assert_eq!(lease.held_bytes(), 0, "every clip was released");
}

/// Reserves every clip's `capacity * 4` on `lease`, as `decode_within` would have.
fn reserved(lease: &Lease, items: Vec<TimelineItem>) -> Vec<TimelineItem> {
    for item in &items {
        if let TimelineItem::Clip(clip) = item {
            lease
                .reserve(clip.pcm.samples.capacity() as u64 * 4)
                .unwrap();
        }
    }
    items
}

/// A cheap deterministic stereo clip (no transcendental functions: debug builds are slow).
fn triangle(rate: u32, channels: u16, seconds: usize, seed: usize) -> Pcm {
    let frames = rate as usize * seconds;
    let period = 97 + seed;
    let samples = (0..frames)
        .flat_map(|i| {
            let x = (i % period) as f32 / period as f32 - 0.5;
            (0..channels).map(move |c| x * (0.5 - 0.1 * f32::from(c)))
        })
        .collect();
    Pcm::new(rate, channels, samples)
}

#[test]
fn a_long_timeline_holds_one_window_beyond_its_clips_and_releases_them_all() {
    for (crossfade_ms, normalize_levels) in [(0, true), (5000, true), (300, false)] {
        let budget = MemoryBudget::new(u64::MAX);
        let lease = budget.lease();
        let items: Vec<TimelineItem> = (0..10)
            .map(|i| clip(&format!("{i}"), triangle(48_000, 2, 10, i)))
            .collect();
        let clips_bytes: u64 = items
            .iter()
            .map(|item| match item {
                TimelineItem::Clip(c) => c.pcm.samples.capacity() as u64 * 4,
                TimelineItem::Silence(_) => 0,
            })
            .sum();
        let items = reserved(&lease, items);
        let options = ConcatOptions {
            crossfade_ms,
            normalize_levels,
            ..ConcatOptions::default()
        };
        let mut frames = 0usize;
        let (format, report) = concat_streaming(items, &options, &lease, &mut |chunk| {
            frames += chunk.len() / 2;
            Ok(())
        })
        .unwrap();
        assert_eq!((format.sample_rate, format.channels), (48_000, 2));
        assert_eq!(report.file_count, 10);
        let crossfade_frames = 48 * crossfade_ms as usize;
        assert_eq!(frames, 10 * 480_000 - 9 * crossfade_frames);
        // The clips (all held by the caller at the start), one crossfade window (kept tail
        // plus the clip head blended into it), the output buffer and one chunk.
        let window = (2 * crossfade_frames * 2 + FLUSH_SAMPLES + super::COPY_CHUNK) as u64 * 4;
        let peak = budget.peak_bytes();
        assert!(
            peak <= clips_bytes + window,
            "crossfade {crossfade_ms}: peak {peak} > clips {clips_bytes} + window {window}"
        );
        assert_eq!(lease.held_bytes(), 0, "clips and buffers all released");
        assert_eq!(budget.used_bytes(), 0);
    }
}

#[test]
fn resampled_clips_cost_one_copy_at_a_time() {
    let budget = MemoryBudget::new(u64::MAX);
    let lease = budget.lease();
    // 44.1 kHz mono clips joined at 48 kHz stereo: each is resampled, then duplicated
    // into two channels a chunk at a time.
    let mut items: Vec<TimelineItem> = (0..4)
        .map(|i| clip(&format!("{i}"), triangle(44_100, 1, 3, i)))
        .collect();
    items.push(clip("stereo", triangle(48_000, 2, 1, 9)));
    let clips_bytes: u64 = items
        .iter()
        .map(|item| match item {
            TimelineItem::Clip(c) => c.pcm.samples.capacity() as u64 * 4,
            TimelineItem::Silence(_) => 0,
        })
        .sum();
    let expected = concat(items.clone(), &ConcatOptions::default()).unwrap().0;
    let items = reserved(&lease, items);
    let mut out = Vec::new();
    concat_streaming(items, &ConcatOptions::default(), &lease, &mut |chunk| {
        out.extend_from_slice(chunk);
        Ok(())
    })
    .unwrap();
    assert!(bits(&out) == bits(&expected.samples));
    // One resampled copy of a 3 s mono clip at 48 kHz (plus the resampler's slack).
    let copy = ((3 * 48_000 + 8_000) * 4) as u64;
    let buffers = ((FLUSH_SAMPLES + super::COPY_CHUNK) * 4) as u64;
    let peak = budget.peak_bytes();
    assert!(peak <= clips_bytes + copy + buffers, "peak {peak}");
    assert_eq!(lease.held_bytes(), 0);
}

#[test]
fn a_budget_too_small_for_the_work_buffers_fails_and_releases_every_clip() {
    let items = vec![
        clip("a", triangle(16_000, 1, 1, 0)),
        clip("b", triangle(8_000, 1, 1, 1)),
    ];
    let clips_bytes: u64 = 16_000 * 4 + 8_000 * 4;
    // Room for the clips and the output buffer, not for the resampled copy of `b`.
    let budget = MemoryBudget::new(clips_bytes + ((FLUSH_SAMPLES + super::COPY_CHUNK) * 4) as u64);
    let lease = budget.lease();
    let items = reserved(&lease, items);
    let result = concat_streaming(items, &plain(), &lease, &mut |_| Ok(()));
    assert!(
        matches!(
            result,
            Err(AudioError::MemoryTooLarge { .. } | AudioError::MemoryBusy { .. })
        ),
        "{result:?}"
    );
    assert_eq!(lease.held_bytes(), 0);
    assert_eq!(budget.used_bytes(), 0);
}
