//! From measurements to warnings and a score: each finding costs a fixed or scaled
//! number of points, and the score is 100 minus their sum (never below 0).
//!
//! The penalties are policy, not measurement: they are sized so that one finding that
//! ruins a clone on its own (too short, heavy noise, music, heavy clipping) makes the
//! clip Poor, one that degrades it audibly makes it Usable at best, and cosmetic ones
//! (a long pause, a hot master) only cost a few points.

use super::metrics::Measurements;
use super::{QualityWarning, Thresholds, WarningCode};

/// Silence is never a usable reference.
const SILENT_PENALTY: u8 = 100;
/// Under 3 s: Poor on its own.
const TOO_SHORT_PENALTY: u8 = 55;
/// Under the conditioning window: works, with less of the voice to go on.
const SHORT_WINDOW_PENALTY: u8 = 10;
/// Too long only wastes upload and processing.
const TOO_LONG_PENALTY: u8 = 5;
/// Clipping over the ratio: 10 points at the threshold, 10 more per doubling, up to 40.
const CLIPPED_MIN_PENALTY: f64 = 10.0;
const CLIPPED_PER_DOUBLING: f64 = 10.0;
const CLIPPED_MAX_PENALTY: f64 = 40.0;
/// Flat-topped runs on top of the ratio: the stronger sign.
const CLIP_RUNS_PENALTY: u8 = 10;
/// Flat-topped runs while under the ratio: audible only as the odd click.
const CLIP_RUNS_ONLY_PENALTY: u8 = 5;
/// SNR under the strong threshold: Poor on its own (one step above the mild maximum).
const NOISY_PENALTY: u8 = 55;
/// Mild noise: 15 points at the mild threshold, 3 more per dB below it (45 at most).
const MILD_NOISY_MIN_PENALTY: f64 = 15.0;
const MILD_NOISY_PER_DB: f64 = 3.0;
const MILD_NOISY_MAX_PENALTY: f64 = 45.0;
const HIGH_NOISE_FLOOR_PENALTY: u8 = 5;
const LOW_LEVEL_PENALTY: u8 = 10;
const TOO_LOUD_PENALTY: u8 = 5;
const LONG_SILENCE_PENALTY: u8 = 5;
const LEADING_SILENCE_PENALTY: u8 = 5;
const LITTLE_SPEECH_PENALTY: u8 = 10;
const LOW_SAMPLE_RATE_PENALTY: u8 = 15;
/// Sustained sound with no speech rhythm is not a voice to clone: Poor on its own.
const LIKELY_MUSIC_PENALTY: u8 = 55;

/// The warnings for `m`, the costliest first (ties keep the order below).
pub(super) fn assess(m: &Measurements, t: &Thresholds) -> Vec<QualityWarning> {
    let mut warnings = Vec::new();
    let mut warn = |code, penalty, message: String| {
        warnings.push(QualityWarning {
            code,
            message,
            penalty,
        });
    };
    if m.max_level_dbfs < t.silent_dbfs {
        warn(
            WarningCode::Silent,
            SILENT_PENALTY,
            format!(
                "the clip is silent: nothing reaches {:.0} dBFS",
                t.silent_dbfs
            ),
        );
        return warnings;
    }
    // A steady sound has no pauses to measure noise in nor a rhythm to find speech by:
    // when it looks like music, that one warning replaces the noise and speech ones.
    let music = m.duration_seconds >= t.music_min_seconds
        && m.music.is_some_and(|f| {
            f.modulation < t.music_max_modulation
                && f.low_energy_ratio < t.music_max_low_energy_ratio
        });
    let d = m.duration_seconds;

    if d < t.min_duration_seconds {
        warn(
            WarningCode::TooShort,
            TOO_SHORT_PENALTY,
            format!(
                "only {d:.1} s long: at least {:.0} s is needed, {:.0} s or more is best",
                t.min_duration_seconds, t.conditioning_window_seconds
            ),
        );
    } else if d < t.conditioning_window_seconds {
        warn(
            WarningCode::ShorterThanConditioningWindow,
            SHORT_WINDOW_PENALTY,
            format!(
                "{d:.1} s long: the engines condition on up to {:.0} s, so a longer clip \
                 gives them more of the voice",
                t.conditioning_window_seconds
            ),
        );
    } else if !music && m.speech_seconds < t.min_speech_seconds {
        warn(
            WarningCode::ShorterThanConditioningWindow,
            SHORT_WINDOW_PENALTY,
            format!(
                "only {:.1} s of speech: the engines condition on {:.0} s of it",
                m.speech_seconds, t.min_speech_seconds
            ),
        );
    }
    if d > t.max_duration_seconds {
        warn(
            WarningCode::TooLong,
            TOO_LONG_PENALTY,
            format!(
                "{d:.0} s long: only the first {:.0} s are used, trim it to the best part",
                t.conditioning_window_seconds
            ),
        );
    }

    let over = m.clipping_ratio > t.max_clipping_ratio;
    if over || m.clip_runs > 0 {
        let percent = m.clipping_ratio * 100.0;
        let (penalty, message) = if over {
            let doublings = (m.clipping_ratio / t.max_clipping_ratio).log2();
            let scaled = (CLIPPED_MIN_PENALTY + CLIPPED_PER_DOUBLING * doublings)
                .clamp(CLIPPED_MIN_PENALTY, CLIPPED_MAX_PENALTY);
            let runs = if m.clip_runs > 0 {
                CLIP_RUNS_PENALTY
            } else {
                0
            };
            (
                points(scaled).saturating_add(runs),
                format!(
                    "{percent:.2} % of samples are clipped ({} flat-topped runs): the \
                     distortion will be cloned; record with more headroom",
                    m.clip_runs
                ),
            )
        } else {
            (
                CLIP_RUNS_ONLY_PENALTY,
                format!(
                    "{} flat-topped runs of clipped samples: some peaks are distorted",
                    m.clip_runs
                ),
            )
        };
        warn(WarningCode::Clipped, penalty, message);
    }

    if !music {
        let floor = m.noise_floor_dbfs;
        if m.snr_db < t.noisy_snr_db {
            warn(
                WarningCode::Noisy,
                NOISY_PENALTY,
                format!(
                    "the voice is only {:.0} dB above the background ({floor:.0} dBFS): \
                     the noise will be cloned with it",
                    m.snr_db
                ),
            );
        } else if m.snr_db < t.mild_noisy_snr_db {
            let scaled = (MILD_NOISY_MIN_PENALTY
                + MILD_NOISY_PER_DB * (t.mild_noisy_snr_db - m.snr_db))
                .clamp(MILD_NOISY_MIN_PENALTY, MILD_NOISY_MAX_PENALTY);
            warn(
                WarningCode::Noisy,
                points(scaled),
                format!(
                    "audible background noise: the voice is {:.0} dB above it ({floor:.0} \
                     dBFS); {:.0} dB or more is clean",
                    m.snr_db, t.mild_noisy_snr_db
                ),
            );
        } else if floor > t.max_noise_floor_dbfs {
            warn(
                WarningCode::HighNoiseFloor,
                HIGH_NOISE_FLOOR_PENALTY,
                format!(
                    "the background between words is at {floor:.0} dBFS; under -60 dBFS \
                     is clean"
                ),
            );
        }
    }

    match m.loudness_lufs {
        Some(l) if l < t.min_loudness_lufs => warn(
            WarningCode::LowLevel,
            LOW_LEVEL_PENALTY,
            format!(
                "very quiet ({l:.0} LUFS, under {:.0}): record closer to the microphone",
                t.min_loudness_lufs
            ),
        ),
        Some(l) if l > t.max_loudness_lufs => warn(
            WarningCode::TooLoud,
            TOO_LOUD_PENALTY,
            format!(
                "very loud ({l:.0} LUFS, over {:.0}): likely over-compressed or clipped",
                t.max_loudness_lufs
            ),
        ),
        _ => {}
    }

    if m.longest_silence_seconds > t.max_internal_silence_seconds {
        warn(
            WarningCode::LongSilence,
            LONG_SILENCE_PENALTY,
            format!(
                "a {:.1} s pause: it takes up conditioning time without any voice",
                m.longest_silence_seconds
            ),
        );
    }
    if m.leading_silence_seconds > t.max_leading_silence_seconds && m.speech_seconds > 0.0 {
        warn(
            WarningCode::LeadingSilence,
            LEADING_SILENCE_PENALTY,
            format!(
                "{:.1} s of silence before the voice starts: the engines use the first \
                 seconds, trim it",
                m.leading_silence_seconds
            ),
        );
    }
    if !music && m.speech_ratio < t.min_speech_ratio {
        warn(
            WarningCode::LittleSpeech,
            LITTLE_SPEECH_PENALTY,
            format!("speech in only {:.0} % of the clip", m.speech_ratio * 100.0),
        );
    }
    if m.sample_rate < t.min_sample_rate {
        warn(
            WarningCode::LowSampleRate,
            LOW_SAMPLE_RATE_PENALTY,
            format!(
                "{} Hz sample rate: under {} Hz the high frequencies are missing and the \
                 clone sounds muffled",
                m.sample_rate, t.min_sample_rate
            ),
        );
    }
    if music {
        warn(
            WarningCode::LikelyMusic,
            LIKELY_MUSIC_PENALTY,
            "the level never pauses or pulses like syllables do: this sounds like music, \
             a held tone or steady noise rather than a voice (heuristic)"
                .to_owned(),
        );
    }
    // Stable: equal penalties keep the order above.
    warnings.sort_by_key(|w| std::cmp::Reverse(w.penalty));
    warnings
}

/// 100 minus the penalties, saturating at 0.
pub(super) fn score(warnings: &[QualityWarning]) -> u8 {
    let total: u32 = warnings.iter().map(|w| u32::from(w.penalty)).sum();
    100u8.saturating_sub(u8::try_from(total.min(100)).unwrap_or(100))
}

/// A scaled penalty as whole points (the scales are clamped to 0..=100 by the callers).
fn points(x: f64) -> u8 {
    if x.is_finite() {
        x.round().clamp(0.0, 100.0) as u8
    } else {
        0
    }
}
