//! Loudness tests on generated speech-like signals, checked with an independent meter pass.

use super::*;
use crate::test_signals::{rms, sine, speech_like};

const RATE: u32 = 24_000;

fn speech(seconds: usize, gain: f32) -> Pcm {
    Pcm::mono(
        RATE,
        speech_like(RATE, seconds * RATE as usize)
            .into_iter()
            .map(|s| s * gain)
            .collect(),
    )
}

#[test]
fn ebu_hits_the_integrated_target_and_respects_the_ceiling() {
    for (input_gain, target) in [(1.0, -24.0), (0.05, -24.0), (1.0, -16.0), (0.3, -30.0)] {
        let spec = EbuTarget {
            integrated_lufs: target,
            ..EbuTarget::default()
        };
        let (out, report) = normalize_ebu(speech(6, input_gain), &spec).unwrap();
        let m = measure(&out).unwrap();
        let lufs = m.integrated_lufs.unwrap();
        assert!(
            (lufs - target).abs() <= 0.5,
            "gain {input_gain}: {lufs} LUFS for target {target}"
        );
        assert!(m.true_peak_dbtp.unwrap() <= spec.true_peak_dbtp, "{:?}", m);
        assert!(report.applied && report.gain_db.is_finite());
        assert!((report.output_level.unwrap() - lufs).abs() < 0.05);
    }
}

#[test]
fn limiter_catches_sparse_peaks_without_costing_loudness() {
    // Speech with a few clicks: the clicks set the true peak, the speech sets the loudness.
    let mut input = speech(6, 0.3);
    for (k, i) in (0..input.samples.len()).step_by(RATE as usize).enumerate() {
        input.samples[i] = if k % 2 == 0 { 0.95 } else { -0.95 };
    }
    let before = measure(&input).unwrap();
    let ceiling = -2.0;
    // A target that puts the clicks 6 dB over the ceiling.
    let target = before.integrated_lufs.unwrap() + (ceiling - before.true_peak_dbtp.unwrap()) + 6.0;
    let spec = EbuTarget {
        integrated_lufs: target,
        true_peak_dbtp: ceiling,
        lra_lu: 7.0,
    };
    let (out, report) = normalize_ebu(input, &spec).unwrap();
    let m = measure(&out).unwrap();
    assert!(report.limiter_applied);
    assert!(m.true_peak_dbtp.unwrap() <= ceiling, "{m:?}");
    assert!(
        (m.integrated_lufs.unwrap() - target).abs() <= 0.5,
        "{m:?} for target {target}"
    );
}

#[test]
fn true_peak_ceiling_holds_even_on_dense_peaks() {
    // Every pitch period of this synthetic voice peaks, so limiting it by 3 dB costs up
    // to that much loudness; the ceiling must hold regardless.
    let input = speech(6, 0.5);
    let before = measure(&input).unwrap();
    let ceiling = -3.0;
    let target = ceiling - (before.true_peak_dbtp.unwrap() - before.integrated_lufs.unwrap()) + 3.0;
    let spec = EbuTarget {
        integrated_lufs: target,
        true_peak_dbtp: ceiling,
        lra_lu: 7.0,
    };
    let (out, report) = normalize_ebu(input, &spec).unwrap();
    let m = measure(&out).unwrap();
    assert!(report.limiter_applied);
    assert!(m.true_peak_dbtp.unwrap() <= ceiling, "{m:?}");
    let lufs = m.integrated_lufs.unwrap();
    assert!(
        lufs <= target + 0.1 && lufs >= target - 3.5,
        "{m:?} for target {target}"
    );
    assert!(out.samples.iter().all(|s| s.is_finite()));
}

#[test]
fn silent_or_too_short_input_is_left_unchanged() {
    let silent = Pcm::mono(RATE, vec![0.0; 2 * RATE as usize]);
    let (out, report) = normalize_ebu(silent.clone(), &EbuTarget::default()).unwrap();
    assert_eq!(out, silent);
    assert!(!report.applied && report.skipped_reason.is_some());

    let short = Pcm::mono(RATE, sine(200.0, RATE, RATE as usize * 3 / 10, 0.5));
    let (out, report) = normalize_ebu(short.clone(), &EbuTarget::default()).unwrap();
    assert_eq!(out, short);
    assert!(!report.applied);

    let (out, report) = normalize_peak(silent.clone(), -1.0).unwrap();
    assert_eq!(out, silent);
    assert!(!report.applied);
    let (out, report) = normalize_rms(silent.clone(), LEVEL_TARGET_DBFS);
    assert_eq!(out, silent);
    assert!(!report.applied && report.gain_db == 0.0);
}

#[test]
fn peak_normalisation_sets_the_sample_peak() {
    let (out, report) = normalize_peak(speech(2, 0.1), -2.0).unwrap();
    let peak_db = 20.0 * f64::from(out.peak()).log10();
    assert!((peak_db - -2.0).abs() < 0.01, "{peak_db}");
    assert!(report.applied);
}

#[test]
fn rms_normalisation_reaches_minus_20_dbfs() {
    for gain in [0.01, 0.3, 1.0] {
        let (out, report) = normalize_rms(speech(2, gain), LEVEL_TARGET_DBFS);
        let level = 20.0 * rms(&out.samples).log10();
        assert!((level - -20.0).abs() < 0.01, "{level}");
        assert!((report.output_level.unwrap() - -20.0).abs() < 0.01);
    }
}

#[test]
fn stereo_is_measured_across_channels() {
    let mono = speech(5, 0.5);
    let stereo = mono.clone().into_channels(2);
    let m1 = measure(&mono).unwrap().integrated_lufs.unwrap();
    let m2 = measure(&stereo).unwrap().integrated_lufs.unwrap();
    // Two identical channels sum their power: +3 dB (BS.1770 channel weights are 1.0).
    assert!((m2 - m1 - 3.01).abs() < 0.05, "{m1} {m2}");
    let (out, _) = normalize_ebu(stereo, &EbuTarget::default()).unwrap();
    assert!((measure(&out).unwrap().integrated_lufs.unwrap() - -24.0).abs() <= 0.5);
}

#[test]
fn lra_is_reported_not_enforced() {
    // Alternate loud and quiet 3 s sections: a wide loudness range.
    let mut samples = Vec::new();
    for i in 0..6 {
        let gain = if i % 2 == 0 { 0.8 } else { 0.12 };
        samples.extend(speech(3, gain).samples);
    }
    let (_, report) = normalize_ebu(Pcm::mono(RATE, samples), &EbuTarget::default()).unwrap();
    assert!(report.input_lra_lu.unwrap() > 7.0, "{report:?}");
    assert!(report.lra_above_target);
}
