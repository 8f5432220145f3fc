//! Timeline tests: exact token durations, seeded pauses, clamped crossfades, mixed formats.

use super::*;
use crate::test_signals::{rms, sine};

const RATE: u32 = 24_000;

fn tone(label: &str, ms: usize, amp: f32) -> TimelineItem {
    let frames = ms * RATE as usize / 1000;
    TimelineItem::Clip(Clip {
        label: label.into(),
        pcm: Pcm::mono(RATE, sine(220.0, RATE, frames, amp)),
    })
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

fn frames(ms: usize) -> usize {
    ms * RATE as usize / 1000
}

#[test]
fn silence_tokens_insert_exact_durations() {
    let items = vec![
        tone("a.wav", 1000, 0.5),
        silence("(500ms)"),
        tone("b.wav", 700, 0.5),
        silence("(1.5s)"),
        silence("(50ms)"),
        tone("c.wav", 300, 0.5),
    ];
    let (pcm, report) = concat(items, &plain()).unwrap();
    assert_eq!(pcm.frames(), frames(1000 + 500 + 700 + 1500 + 50 + 300));
    assert!(
        pcm.samples[frames(1000)..frames(1500)]
            .iter()
            .all(|&s| s == 0.0)
    );
    assert!(
        pcm.samples[frames(2200)..frames(3750)]
            .iter()
            .all(|&s| s == 0.0)
    );
    // The clips are copied verbatim (no normalisation asked for).
    assert_eq!(
        &pcm.samples[frames(1500)..frames(2200)],
        &sine(220.0, RATE, frames(700), 0.5)[..]
    );
    assert_eq!(
        (
            report.file_count,
            report.silence_segments,
            report.natural_pauses,
            report.total_segments
        ),
        (3, 3, 0, 6)
    );
    assert!((report.total_duration_seconds - 4.05).abs() < 1e-9);
}

#[test]
fn natural_pauses_are_seeded_bounded_and_never_trailing() {
    let items = || {
        (0..6)
            .map(|i| tone(&format!("{i}.wav"), 400, 0.5))
            .collect::<Vec<_>>()
    };
    let options = ConcatOptions {
        pause_duration_ms: 600,
        pause_variation_ms: 200,
        seed: 42,
        ..plain()
    };
    let (a, report_a) = concat(items(), &options).unwrap();
    let (b, report_b) = concat(items(), &options).unwrap();
    assert_eq!(a, b, "same seed, same audio");
    assert_eq!(report_a, report_b);
    assert_eq!(report_a.seed, 42);
    let pauses: Vec<u32> = report_a
        .processing_details
        .iter()
        .filter_map(|d| {
            if let ProcessingDetail::NaturalPause { duration_ms, .. } = d {
                Some(*duration_ms)
            } else {
                None
            }
        })
        .collect();
    assert_eq!(
        pauses.len(),
        5,
        "one pause per gap, none after the last clip"
    );
    assert!(pauses.iter().all(|p| (400..=800).contains(p)), "{pauses:?}");
    assert!(
        pauses.windows(2).any(|w| w[0] != w[1]),
        "pauses should vary: {pauses:?}"
    );
    let total_ms = 6 * 400 + pauses.iter().sum::<u32>() as usize;
    assert_eq!(a.frames(), frames(total_ms));
    // The output ends on the last clip's final sample, not on silence.
    assert_eq!(a.samples.last(), sine(220.0, RATE, frames(400), 0.5).last());
    assert!(matches!(
        report_a.processing_details.last(),
        Some(ProcessingDetail::File { .. })
    ));

    let (c, _) = concat(
        items(),
        &ConcatOptions {
            seed: 43,
            ..options.clone()
        },
    )
    .unwrap();
    assert_ne!(a, c, "another seed gives other pauses");
}

#[test]
fn pauses_are_floored_at_50ms() {
    let options = ConcatOptions {
        pause_duration_ms: 60,
        pause_variation_ms: 59,
        ..plain()
    };
    let mut seen_floor = false;
    for seed in 0..40 {
        let items = vec![
            tone("a", 100, 0.5),
            tone("b", 100, 0.5),
            tone("c", 100, 0.5),
        ];
        let (_, report) = concat(
            items,
            &ConcatOptions {
                seed,
                ..options.clone()
            },
        )
        .unwrap();
        for d in &report.processing_details {
            if let ProcessingDetail::NaturalPause {
                duration_ms,
                variation_applied_ms,
                base_duration_ms,
                ..
            } = d
            {
                assert!((50..=119).contains(duration_ms));
                assert_eq!(
                    i64::from(*duration_ms) - i64::from(*base_duration_ms),
                    *variation_applied_ms
                );
                seen_floor |= *duration_ms == 50;
            }
        }
    }
    assert!(seen_floor, "draws below 50 ms should have been floored");
}

#[test]
fn pauses_only_between_two_clips() {
    let items = vec![
        tone("a", 300, 0.5),
        silence("(1s)"),
        tone("b", 300, 0.5),
        tone("c", 300, 0.5),
    ];
    let options = ConcatOptions {
        pause_duration_ms: 500,
        pause_variation_ms: 0,
        ..plain()
    };
    let (pcm, report) = concat(items, &options).unwrap();
    assert_eq!(
        report.natural_pauses, 1,
        "a-silence-b gets only the silence; b-c gets a pause"
    );
    assert_eq!(pcm.frames(), frames(300 + 1000 + 300 + 500 + 300));
}

#[test]
fn crossfade_shortens_by_the_clamped_overlap() {
    let options = |crossfade_ms| ConcatOptions {
        crossfade_ms,
        ..plain()
    };
    let (pcm, _) = concat(
        vec![tone("a", 1000, 0.5), tone("b", 800, 0.5)],
        &options(100),
    )
    .unwrap();
    assert_eq!(pcm.frames(), frames(1000 + 800 - 100));
    // Clamped to the shorter clip (300 ms), where the original raised a 500.
    let (pcm, _) = concat(
        vec![tone("a", 1000, 0.5), tone("b", 300, 0.5)],
        &options(5000),
    )
    .unwrap();
    assert_eq!(pcm.frames(), frames(1000));
    let (pcm, _) = concat(
        vec![
            tone("a", 200, 0.5),
            tone("b", 1000, 0.5),
            tone("c", 1000, 0.5),
        ],
        &options(400),
    )
    .unwrap();
    assert_eq!(pcm.frames(), frames(200 + 1000 + 1000 - 200 - 400));
    // Never across a silence token or a pause.
    let (pcm, _) = concat(
        vec![tone("a", 500, 0.5), silence("(100ms)"), tone("b", 500, 0.5)],
        &options(300),
    )
    .unwrap();
    assert_eq!(pcm.frames(), frames(1100));
    let paused = ConcatOptions {
        pause_duration_ms: 200,
        pause_variation_ms: 0,
        ..options(300)
    };
    let (pcm, _) = concat(vec![tone("a", 500, 0.5), tone("b", 500, 0.5)], &paused).unwrap();
    assert_eq!(pcm.frames(), frames(1200));
}

#[test]
fn crossfade_blends_without_a_gap_or_a_jump() {
    // Two DC-free tones in phase: a linear crossfade of identical material is seamless.
    let (pcm, _) = concat(
        vec![tone("a", 500, 0.5), tone("b", 500, 0.5)],
        &ConcatOptions {
            crossfade_ms: 100,
            ..plain()
        },
    )
    .unwrap();
    let join = &pcm.samples[frames(380)..frames(520)];
    assert!(
        (rms(join) - 0.5 / 2f64.sqrt()).abs() < 0.02,
        "level dips or bumps in the crossfade: {}",
        rms(join)
    );
}

#[test]
fn levels_are_normalised_per_clip_and_silence_is_safe() {
    let items = vec![
        tone("quiet", 500, 0.01),
        tone("loud", 500, 0.9),
        TimelineItem::Clip(Clip {
            label: "silent".into(),
            pcm: Pcm::mono(RATE, vec![0.0; frames(500)]),
        }),
    ];
    let (pcm, report) = concat(items, &ConcatOptions::default()).unwrap();
    assert!(report.normalized);
    for k in 0..2 {
        let part = &pcm.samples[frames(500 * k)..frames(500 * (k + 1))];
        let level = 20.0 * rms(part).log10();
        assert!((level - -20.0).abs() < 0.05, "clip {k}: {level} dBFS");
    }
    assert!(pcm.samples.iter().all(|s| s.is_finite()));
    assert!(pcm.samples[frames(1000)..].iter().all(|&s| s == 0.0));
}

#[test]
fn mixed_rates_and_channels_meet_at_the_highest_rate_in_stereo() {
    let mono16k = TimelineItem::Clip(Clip {
        label: "a".into(),
        pcm: Pcm::mono(16_000, sine(220.0, 16_000, 16_000, 0.5)),
    });
    let stereo24k = TimelineItem::Clip(Clip {
        label: "b".into(),
        pcm: Pcm::mono(RATE, sine(220.0, RATE, RATE as usize, 0.5)).into_channels(2),
    });
    let (pcm, _) = concat(vec![mono16k, silence("(250ms)"), stereo24k], &plain()).unwrap();
    assert_eq!((pcm.sample_rate, pcm.channels), (RATE, 2));
    assert_eq!(pcm.frames(), 24_000 + 6_000 + 24_000);
    // The mono clip was duplicated into both channels.
    assert_eq!(pcm.channel(0)[..24_000], pcm.channel(1)[..24_000]);
}

#[test]
fn trimming_runs_per_clip_and_is_summarised() {
    let padded = |label: &str| {
        let mut x = vec![0.0; frames(600)];
        x.extend(sine(220.0, RATE, frames(500), 0.5));
        x.extend(vec![0.0; frames(100)]);
        TimelineItem::Clip(Clip {
            label: label.into(),
            pcm: Pcm::mono(RATE, x),
        })
    };
    let options = ConcatOptions {
        trim: true,
        trim_threshold_ms: 200,
        ..plain()
    };
    let (_, report) = concat(vec![padded("a"), tone("b", 300, 0.5)], &options).unwrap();
    let summary = report.trim_summary.unwrap();
    assert_eq!(
        (
            summary.total_files,
            summary.files_trimmed,
            summary.files_not_trimmed
        ),
        (2, 1, 1)
    );
    assert!(
        summary.total_silence_removed_seconds > 0.4 && summary.total_silence_removed_seconds < 0.6
    );
    let ProcessingDetail::File {
        trim_info: Some(info),
        ..
    } = &report.processing_details[0]
    else {
        panic!()
    };
    assert!(info.trimmed && info.trailing_silence_removed_ms == 0.0);
}

#[test]
fn options_are_validated_with_field_names() {
    let cases = [
        (
            ConcatOptions {
                crossfade_ms: 5001,
                ..plain()
            },
            "crossfade_ms",
        ),
        (
            ConcatOptions {
                pause_duration_ms: 3001,
                pause_variation_ms: 0,
                ..plain()
            },
            "pause_duration_ms",
        ),
        (
            ConcatOptions {
                pause_duration_ms: 1000,
                pause_variation_ms: 501,
                ..plain()
            },
            "pause_variation_ms",
        ),
        (
            ConcatOptions {
                pause_duration_ms: 200,
                pause_variation_ms: 200,
                ..plain()
            },
            "pause_variation_ms",
        ),
        (
            ConcatOptions {
                trim: true,
                trim_threshold_ms: 49,
                ..plain()
            },
            "trim_threshold_ms",
        ),
    ];
    for (options, expected) in cases {
        match concat(vec![tone("a", 100, 0.5), tone("b", 100, 0.5)], &options) {
            Err(AudioError::InvalidParameter { field, .. }) => assert_eq!(field, expected),
            other => panic!("{expected}: {other:?}"),
        }
    }
    // Variation is irrelevant without a pause (the original's default is 200 with pause 0).
    assert!(
        ConcatOptions {
            pause_duration_ms: 0,
            pause_variation_ms: 200,
            ..plain()
        }
        .validate()
        .is_ok()
    );
    assert!(concat(vec![silence("(1s)")], &plain()).is_err());
}

#[test]
fn report_serialises_with_the_original_keys() {
    let items = vec![
        tone("a.wav", 300, 0.5),
        silence("(100ms)"),
        tone("b.wav", 300, 0.5),
        tone("c.wav", 300, 0.5),
    ];
    let options = ConcatOptions {
        pause_duration_ms: 300,
        pause_variation_ms: 100,
        seed: 7,
        ..ConcatOptions::default()
    };
    let (_, report) = concat(items, &options).unwrap();
    let json = serde_json::to_value(&report).unwrap();
    for key in [
        "total_duration_seconds",
        "file_count",
        "silence_segments",
        "natural_pauses",
        "total_segments",
        "processing_details",
        "crossfade_ms",
        "normalized",
        "trim_summary",
        "seed",
    ] {
        assert!(json.get(key).is_some(), "missing {key}");
    }
    assert!(json["trim_summary"].is_null());
    let details = json["processing_details"].as_array().unwrap();
    let types: Vec<&str> = details
        .iter()
        .map(|d| d["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        ["file", "manual_silence", "file", "natural_pause", "file"]
    );
    assert_eq!(details[1]["notation"], "(100ms)");
    assert_eq!(details[1]["duration_ms"], 100);
    assert!(details[0]["trim_info"].is_null());
    assert_eq!(details[3]["base_duration_ms"], 300);
    assert!(details[3].get("variation_applied_ms").is_some());
}

#[test]
fn clip_starts_follow_silences_and_crossfades() {
    let starts = |report: &ConcatReport| -> Vec<f64> {
        report
            .processing_details
            .iter()
            .filter_map(|d| match d {
                ProcessingDetail::File { start_seconds, .. } => Some(*start_seconds),
                _ => None,
            })
            .collect()
    };
    let items = || {
        vec![
            tone("a.wav", 1000, 0.5),
            tone("b.wav", 700, 0.5),
            silence("(500ms)"),
            tone("c.wav", 300, 0.5),
        ]
    };
    let faded = ConcatOptions {
        crossfade_ms: 100,
        ..plain()
    };
    let (_, report) = concat(items(), &faded).unwrap();
    assert_eq!(starts(&report), [0.0, 0.9, 2.1]);
    let lease = crate::memory::Lease::unlimited();
    let (_, streamed) = concat_streaming(items(), &faded, &lease, &mut |_| Ok(())).unwrap();
    assert_eq!(starts(&streamed), [0.0, 0.9, 2.1]);
}
