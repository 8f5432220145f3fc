//! Quality analysis on generated signals: clean, clipped, noisy, short, silent, music,
//! and inputs that must not break it.

use std::f64::consts::TAU;

use super::*;
use crate::test_signals::{sine, speech_like};

const RATE: u32 = 24_000;

/// Deterministic uniform white noise at `rms` (uniform in ±a has RMS a/√3).
fn white_noise(frames: usize, rms: f64, seed: u64) -> Vec<f32> {
    let mut state = seed | 1;
    let amplitude = rms * 3f64.sqrt();
    (0..frames)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let u = (state >> 11) as f64 / (1u64 << 53) as f64;
            (amplitude * (2.0 * u - 1.0)) as f32
        })
        .collect()
}

/// A read sentence: a 10-harmonic voice gliding around 150 Hz, syllables at 4 Hz,
/// 1.7 s phrases separated by 0.3 s pauses, over room noise at -70 dBFS.
fn voice(rate: u32, seconds: f64) -> Vec<f32> {
    let frames = (seconds * f64::from(rate)) as usize;
    let noise = white_noise(frames, 10f64.powf(-70.0 / 20.0), 7);
    let mut phase = 0.0f64;
    (0..frames)
        .map(|i| {
            let t = i as f64 / f64::from(rate);
            let f0 = 150.0 + 30.0 * (TAU * 0.5 * t).sin();
            phase += TAU * f0 / f64::from(rate);
            let harmonics: f64 = (1..=10)
                .map(|h| (phase * f64::from(h)).sin() / f64::from(h))
                .sum();
            let syllable = 0.5 + 0.5 * (TAU * 4.0 * t).sin();
            let envelope = 0.15 + 0.85 * syllable * syllable;
            // 20 ms ramps at the phrase edges, as a voice starts and stops.
            let in_phrase = t % 2.0;
            let gate = (in_phrase / 0.02)
                .min((1.7 - in_phrase) / 0.02)
                .clamp(0.0, 1.0);
            (0.3 * envelope * gate * harmonics) as f32 + noise[i]
        })
        .collect()
}

fn clean() -> Pcm {
    Pcm::mono(RATE, voice(RATE, 12.0))
}

/// `clean()` plus white noise `relative_db` under its measured speech level.
fn with_noise(relative_db: f64) -> Pcm {
    let pcm = clean();
    let r = analyze(&pcm);
    let speech = r.noise_floor_dbfs + r.snr_db;
    let noise = white_noise(
        pcm.samples.len(),
        10f64.powf((speech + relative_db) / 20.0),
        99,
    );
    let samples = pcm.samples.iter().zip(&noise).map(|(a, b)| a + b).collect();
    Pcm::mono(RATE, samples)
}

fn has(report: &QualityReport, code: WarningCode) -> bool {
    report.warnings.iter().any(|w| w.code == code)
}

fn codes(report: &QualityReport) -> Vec<WarningCode> {
    report.warnings.iter().map(|w| w.code).collect()
}

/// Serialises, checks that no number is NaN/inf or a required one null, and reads back.
fn json_round_trip(report: &QualityReport) {
    let json = serde_json::to_string(report).unwrap();
    assert!(!json.contains("NaN") && !json.contains("inf"), "{json}");
    let value: serde_json::Value = serde_json::from_str(&json).unwrap();
    for (key, v) in value.as_object().unwrap() {
        if key != "loudness_lufs" {
            assert!(!v.is_null(), "{key} is null in {json}");
        }
        if let Some(x) = v.as_f64() {
            assert!(x.is_finite(), "{key} = {x}");
        }
    }
    let back: QualityReport = serde_json::from_str(&json).unwrap();
    assert_eq!(&back, report);
}

#[test]
fn clean_speech_scores_good() {
    let r = analyze(&clean());
    assert!(r.score >= 75 && r.verdict == Verdict::Good, "{r:#?}");
    assert!(
        !has(&r, WarningCode::Clipped) && !has(&r, WarningCode::Noisy),
        "{r:#?}"
    );
    assert!(r.warnings.is_empty(), "{r:#?}");
    assert!((r.noise_floor_dbfs - -70.0).abs() < 2.0, "{r:#?}");
    assert!(r.snr_db > 50.0, "{r:#?}");
    // 1.7 s of every 2 s is voiced.
    assert!((0.75..=0.95).contains(&r.speech_ratio), "{r:#?}");
    assert!((r.longest_silence_seconds - 0.3).abs() < 0.07, "{r:#?}");
    assert!(r.leading_silence_seconds < 0.05, "{r:#?}");
    assert!((r.trailing_silence_seconds - 0.3).abs() < 0.07, "{r:#?}");
    assert_eq!(r.clipping_ratio, 0.0);
    assert_eq!(
        (r.sample_rate, r.channels, r.duration_seconds),
        (RATE, 1, 12.0)
    );
    json_round_trip(&r);

    // The crate's other speech-like generator is no music either.
    let other = analyze(&Pcm::mono(RATE, speech_like(RATE, 12 * RATE as usize)));
    assert!(!has(&other, WarningCode::LikelyMusic), "{other:#?}");
    assert_eq!(other.verdict, Verdict::Good, "{other:#?}");
}

#[test]
fn hard_clipping_is_flagged_and_costs() {
    let clean = clean();
    let clipped = Pcm::mono(
        RATE,
        clean
            .samples
            .iter()
            .map(|s| (s * 4.0).clamp(-1.0, 1.0))
            .collect(),
    );
    let r = analyze(&clipped);
    assert!(has(&r, WarningCode::Clipped), "{r:#?}");
    assert!(r.clipping_ratio > MAX_CLIPPING_RATIO, "{r:#?}");
    assert!(
        r.score < analyze(&clean).score && r.verdict != Verdict::Good,
        "{r:#?}"
    );
    assert_eq!(r.peak_dbfs, 0.0);
}

#[test]
fn clipping_counts_every_channel_sample_and_flat_runs() {
    // Only the left channel clips: the ratio is over all channel samples.
    let left: Vec<f32> = voice(RATE, 12.0)
        .iter()
        .map(|s| (s * 4.0).clamp(-1.0, 1.0))
        .collect();
    let mono = analyze(&Pcm::mono(RATE, left.clone()));
    let right = voice(RATE, 12.0);
    let stereo = Pcm::from_channels(RATE, vec![left, right]);
    let r = analyze(&stereo);
    assert!(
        (r.clipping_ratio - mono.clipping_ratio / 2.0).abs() < 1e-5,
        "{} vs {}",
        r.clipping_ratio,
        mono.clipping_ratio
    );
    assert!(has(&r, WarningCode::Clipped));

    // One flat top of 5 samples in a clean clip: under the ratio, still flagged lightly.
    let mut samples = voice(RATE, 12.0);
    samples[RATE as usize..RATE as usize + 5].fill(1.0);
    let r = analyze(&Pcm::mono(RATE, samples));
    let w = r
        .warnings
        .iter()
        .find(|w| w.code == WarningCode::Clipped)
        .unwrap();
    assert!(w.penalty <= 5 && r.verdict == Verdict::Good, "{r:#?}");
    // Isolated full-scale samples (a normalised master) are not clipping.
    let mut samples = voice(RATE, 12.0);
    for i in (0..samples.len()).step_by(RATE as usize) {
        samples[i] = 1.0;
    }
    assert!(!has(
        &analyze(&Pcm::mono(RATE, samples)),
        WarningCode::Clipped
    ));
}

#[test]
fn background_noise_is_measured_and_flagged() {
    // The SNR is speech level (95th percentile of active frames) over the noise floor,
    // so noise mixed 25 dB under that level measures 25 dB: the mild band's edge.
    let edge = analyze(&with_noise(-25.0));
    assert!((edge.snr_db - 25.0).abs() < 1.0, "{edge:#?}");

    let mild = analyze(&with_noise(-20.0));
    assert!(has(&mild, WarningCode::Noisy), "{mild:#?}");
    assert!(mild.snr_db < 25.0 && mild.snr_db > 15.0, "{mild:#?}");
    assert_eq!(mild.verdict, Verdict::Usable, "{mild:#?}");

    let heavy = analyze(&with_noise(-8.0));
    assert!(
        has(&heavy, WarningCode::Noisy) && heavy.snr_db < 15.0,
        "{heavy:#?}"
    );
    assert_eq!(heavy.verdict, Verdict::Poor, "{heavy:#?}");
    assert!(!has(&heavy, WarningCode::LikelyMusic), "{heavy:#?}");
}

#[test]
fn short_clips_are_flagged() {
    let r = analyze(&Pcm::mono(RATE, voice(RATE, 2.0)));
    assert!(has(&r, WarningCode::TooShort), "{r:#?}");
    assert_eq!(r.verdict, Verdict::Poor);

    let r = analyze(&Pcm::mono(RATE, voice(RATE, 7.0)));
    assert_eq!(codes(&r), vec![WarningCode::ShorterThanConditioningWindow]);
    assert_eq!(r.verdict, Verdict::Good);

    // Long enough, but only 4 s of it is speech.
    let mut samples = voice(RATE, 4.0);
    samples.extend(white_noise(8 * RATE as usize, 10f64.powf(-70.0 / 20.0), 5));
    let r = analyze(&Pcm::mono(RATE, samples));
    assert!(
        has(&r, WarningCode::ShorterThanConditioningWindow),
        "{r:#?}"
    );
    assert!(has(&r, WarningCode::LittleSpeech), "{r:#?}");
    assert!(r.trailing_silence_seconds > 8.0, "{r:#?}");

    let r = analyze(&Pcm::mono(RATE, voice(RATE, 31.0)));
    assert_eq!(codes(&r), vec![WarningCode::TooLong]);
}

#[test]
fn silences_are_measured() {
    let quiet = |seconds: f64| white_noise((seconds * f64::from(RATE)) as usize, 1e-4, 3);
    let mut samples = quiet(1.5);
    samples.extend(voice(RATE, 5.7));
    samples.extend(quiet(2.5));
    samples.extend(voice(RATE, 5.7));
    samples.extend(quiet(0.5));
    let r = analyze(&Pcm::mono(RATE, samples));
    assert!((r.leading_silence_seconds - 1.5).abs() < 0.06, "{r:#?}");
    // 5.7 s of `voice` ends on the end of a phrase: the gaps are exactly the quiet parts.
    assert!((r.longest_silence_seconds - 2.5).abs() < 0.06, "{r:#?}");
    assert!((r.trailing_silence_seconds - 0.5).abs() < 0.06, "{r:#?}");
    assert!(has(&r, WarningCode::LongSilence) && has(&r, WarningCode::LeadingSilence));
}

#[test]
fn silence_scores_zero_and_serialises() {
    for pcm in [
        Pcm::silence(RATE, 1, 12 * RATE as usize),
        Pcm::silence(48_000, 2, 48_000),
        Pcm::mono(RATE, Vec::new()),
        Pcm::mono(RATE, white_noise(RATE as usize * 5, 1e-5, 1)),
    ] {
        let r = analyze(&pcm);
        assert_eq!(codes(&r), vec![WarningCode::Silent], "{r:#?}");
        assert_eq!((r.score, r.verdict), (0, Verdict::Poor));
        assert!(r.loudness_lufs.is_none() || pcm.samples.iter().any(|&s| s != 0.0));
        json_round_trip(&r);
    }
    let r = analyze(&Pcm::silence(RATE, 1, RATE as usize));
    assert_eq!(r.peak_dbfs, LEVEL_FLOOR_DBFS);
    assert_eq!(r.noise_floor_dbfs, LEVEL_FLOOR_DBFS);
    let json = serde_json::to_string(&r).unwrap();
    assert!(json.contains(r#""verdict":"poor""#) && json.contains(r#""code":"silent""#));
}

#[test]
fn sustained_music_is_flagged_and_not_good() {
    // A held C major chord for 12 s: no pauses, no syllable rhythm.
    let frames = 12 * RATE as usize;
    let mut chord = vec![0f32; frames];
    for hz in [261.63, 329.63, 392.0, 523.25] {
        for (c, s) in chord.iter_mut().zip(sine(hz, RATE, frames, 0.1)) {
            *c += s;
        }
    }
    let r = analyze(&Pcm::mono(RATE, chord));
    assert!(has(&r, WarningCode::LikelyMusic), "{r:#?}");
    assert_eq!(r.verdict, Verdict::Poor);
    // The music warning replaces the noise/speech ones it would otherwise trip.
    assert!(!has(&r, WarningCode::Noisy) && !has(&r, WarningCode::LittleSpeech));

    // Steady noise looks the same to an energy heuristic (the message says so).
    let r = analyze(&Pcm::mono(RATE, white_noise(frames, 0.05, 3)));
    assert!(has(&r, WarningCode::LikelyMusic), "{r:#?}");
    // Too short to judge a rhythm: no music verdict, the length speaks.
    let r = analyze(&Pcm::mono(RATE, sine(440.0, RATE, 2 * RATE as usize, 0.3)));
    assert!(!has(&r, WarningCode::LikelyMusic) && has(&r, WarningCode::TooShort));
}

#[test]
fn loudness_matches_bs1770_for_a_sine() {
    // A full-scale 997 Hz sine is -3.01 LUFS; at -20 dBFS peak, -23.01.
    let rate = 48_000;
    let r = analyze(&Pcm::mono(rate, sine(1000.0, rate, 5 * rate as usize, 0.1)));
    let lufs = r.loudness_lufs.unwrap();
    assert!((lufs - -23.01).abs() < 0.5, "{lufs}");
    assert!((r.peak_dbfs - -20.0).abs() < 0.01, "{}", r.peak_dbfs);

    // Too quiet a voice.
    let quiet: Vec<f32> = voice(RATE, 12.0).iter().map(|s| s * 0.02).collect();
    let r = analyze(&Pcm::mono(RATE, quiet));
    assert!(has(&r, WarningCode::LowLevel), "{r:#?}");
}

#[test]
fn low_sample_rate_is_flagged() {
    let rate = 8_000;
    let r = analyze(&Pcm::mono(rate, voice(rate, 12.0)));
    assert_eq!(codes(&r), vec![WarningCode::LowSampleRate], "{r:#?}");
    assert_eq!(r.verdict, Verdict::Good);
}

#[test]
fn hostile_inputs_never_panic_nor_report_non_finite_numbers() {
    let mut wild = white_noise(8 * 24_000, 600.0, 11);
    wild[3] = f32::NAN;
    wild[7] = f32::INFINITY;
    wild[11] = f32::MIN;
    let inputs = [
        Pcm::mono(RATE, Vec::new()),
        Pcm::mono(RATE, vec![0.5]),
        Pcm::mono(RATE, vec![crate::MAX_SAMPLE_MAGNITUDE]),
        Pcm::new(RATE, 8, wild.clone()),
        Pcm::new(RATE, 8, vec![-crate::MAX_SAMPLE_MAGNITUDE; 8 * 24_000]),
        Pcm::mono(RATE, wild.clone()),
        Pcm::mono(0, vec![0.5; 100]),
        Pcm::mono(1, vec![0.5; 100]),
        Pcm::mono(15, vec![0.5, -0.5, 0.25]),
        Pcm::mono(crate::MAX_SAMPLE_RATE, vec![0.5; 3]),
        Pcm::mono(u32::MAX, vec![0.5; 3]),
        Pcm::new(RATE, 2, vec![0.5; 3]),
        Pcm {
            sample_rate: RATE,
            channels: 0,
            samples: vec![0.5; 10],
        },
        Pcm::new(RATE, 100, vec![0.5; 100 * 1000]),
    ];
    for pcm in &inputs {
        let r = analyze(pcm);
        assert!(r.score <= 100);
        json_round_trip(&r);
        let numbers = [
            r.duration_seconds,
            r.peak_dbfs,
            r.clipping_ratio,
            r.noise_floor_dbfs,
            r.snr_db,
            r.speech_ratio,
            r.longest_silence_seconds,
            r.leading_silence_seconds,
            r.trailing_silence_seconds,
        ];
        assert!(numbers.iter().all(|x| x.is_finite()), "{r:#?}");
        assert!((0.0..=1.0).contains(&r.clipping_ratio) && (0.0..=1.0).contains(&r.speech_ratio));
    }
    // Odd thresholds do not panic either.
    let odd = Thresholds {
        max_clipping_ratio: 0.0,
        clip_run_samples: 0,
        mild_noisy_snr_db: f64::NAN,
        ..Thresholds::default()
    };
    for pcm in &inputs {
        json_round_trip(&analyze_with(pcm, &odd));
    }
}

#[test]
fn thirty_seconds_of_48k_stereo_is_analysed() {
    // Release builds take a few tens of ms (mostly the R128 meter); no timing asserted.
    let rate = 48_000;
    let pcm = Pcm::mono(rate, voice(rate, 30.0)).into_channels(2);
    let r = analyze(&pcm);
    assert_eq!((r.duration_seconds, r.channels), (30.0, 2));
    assert_eq!(r.verdict, Verdict::Good, "{r:#?}");
    assert_eq!(r, analyze(&pcm), "deterministic");
}

#[test]
fn verdict_bands() {
    assert_eq!(Verdict::from_score(100), Verdict::Good);
    assert_eq!(Verdict::from_score(75), Verdict::Good);
    assert_eq!(Verdict::from_score(74), Verdict::Usable);
    assert_eq!(Verdict::from_score(50), Verdict::Usable);
    assert_eq!(Verdict::from_score(49), Verdict::Poor);
    assert_eq!(Verdict::from_score(0), Verdict::Poor);
    let warning = |penalty| QualityWarning {
        code: WarningCode::Noisy,
        message: String::new(),
        penalty,
    };
    assert_eq!(score::score(&[warning(80), warning(80)]), 0);
    assert_eq!(score::score(&[warning(10), warning(5)]), 85);
    assert_eq!(
        serde_json::to_string(&WarningCode::ShorterThanConditioningWindow).unwrap(),
        r#""shorter_than_conditioning_window""#
    );
}
