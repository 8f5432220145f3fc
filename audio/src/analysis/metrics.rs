//! The measurements behind a quality report: one pass over the samples for the 30 ms
//! frame RMS of the mono downmix, the sample peak and clipping on every channel sample;
//! one EBU R128 meter pass for the integrated loudness; then noise floor, speech level,
//! voice activity, silences and the music features from the frame levels alone.

use std::f64::consts::{LN_2, TAU};

use ebur128::{EbuR128, Mode};

use super::{
    ACTIVE_OVER_FLOOR_DB, FRAME_MS, LEVEL_FLOOR_DBFS, NOISE_FLOOR_PERCENTILE,
    SPEECH_LEVEL_PERCENTILE, Thresholds, VAD_BELOW_SPEECH_DB, VAD_HANGOVER_MS, VAD_MIN_SNR_DB,
    VAD_MIN_SPEECH_MS, VAD_OVER_FLOOR_DB,
};
use crate::{Pcm, values};

/// Centre of the syllable-rate band of the envelope, Hz (speech's modulation spectrum
/// peaks at 3-5 Hz).
const MODULATION_HZ: f64 = 4.0;
/// Width of that band, octaves: 2-8 Hz.
const MODULATION_OCTAVES: f64 = 2.0;
/// The envelope must be sampled at least this fast for the band filter to mean anything
/// (it is 33 Hz with 30 ms frames; only absurd sample rates of a few Hz fall below).
const MIN_ENVELOPE_RATE_HZ: f64 = 20.0;

/// Everything [`super::score`] judges, plus what the report shows.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Measurements {
    pub duration_seconds: f64,
    pub sample_rate: u32,
    pub peak_dbfs: f64,
    pub loudness_lufs: Option<f64>,
    pub clipping_ratio: f64,
    /// Runs of at least [`Thresholds::clip_run_samples`] clipped samples in one channel.
    pub clip_runs: usize,
    /// RMS of the loudest frame, dBFS.
    pub max_level_dbfs: f64,
    pub noise_floor_dbfs: f64,
    pub snr_db: f64,
    pub speech_ratio: f64,
    pub speech_seconds: f64,
    pub longest_silence_seconds: f64,
    pub leading_silence_seconds: f64,
    pub trailing_silence_seconds: f64,
    /// `None` when the clip is too short (or the rate too low) to measure a rhythm.
    pub music: Option<MusicFeatures>,
}

/// The two envelope features of Scheirer & Slaney's speech/music discriminator.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct MusicFeatures {
    /// RMS of the 2-8 Hz band of the frame-amplitude envelope over its mean.
    pub modulation: f64,
    /// Fraction of frames under half the mean frame power.
    pub low_energy_ratio: f64,
}

/// Measures `pcm`. A zero sample rate is measured as an empty clip (there is no time
/// axis to put frames on); a ragged tail is ignored, as [`Pcm::frames`] does.
pub(super) fn measure(pcm: &Pcm, thresholds: &Thresholds) -> Measurements {
    let channels = usize::from(pcm.channels.max(1));
    let rate = pcm.sample_rate;
    let frames = if rate == 0 {
        0
    } else {
        pcm.samples.len() / channels
    };
    let samples = &pcm.samples[..frames * channels];
    let duration_seconds = if rate == 0 {
        0.0
    } else {
        frames as f64 / f64::from(rate)
    };
    // At least one sample per frame: only rates under 34 Hz round to none.
    let frame_len = ((FRAME_MS * f64::from(rate) / 1000.0).round() as usize).max(1);
    let frame_seconds = if rate == 0 {
        0.0
    } else {
        frame_len as f64 / f64::from(rate)
    };

    let pass = frame_pass(samples, channels, frame_len, thresholds);
    let loudness_lufs = loudness(samples, pcm.channels.max(1), rate);
    let levels: Vec<f64> = pass.power.iter().map(|&p| power_db(p)).collect();

    let mut sorted = levels.clone();
    sorted.sort_unstable_by(f64::total_cmp);
    let noise_floor_dbfs = percentile(&sorted, NOISE_FLOOR_PERCENTILE);
    let max_level_dbfs = sorted.last().copied().unwrap_or(LEVEL_FLOOR_DBFS);
    // The speech level comes from the frames clearly above the floor, so that a clip
    // that is mostly silence still measures its voice, not its silence.
    let mut active: Vec<f64> = sorted
        .iter()
        .copied()
        .filter(|&l| l > noise_floor_dbfs + ACTIVE_OVER_FLOOR_DB)
        .collect();
    if active.is_empty() {
        active.push(max_level_dbfs);
    }
    let speech_level_dbfs = percentile(&active, SPEECH_LEVEL_PERCENTILE);
    let snr_db = (speech_level_dbfs - noise_floor_dbfs).max(0.0);

    let speech = voice_activity(
        &levels,
        noise_floor_dbfs,
        speech_level_dbfs,
        thresholds.silent_dbfs,
        frame_seconds,
    );
    let activity = Activity::of(&speech, frame_seconds, duration_seconds);
    let music = (duration_seconds >= thresholds.music_min_seconds)
        .then(|| music_features(&pass.power, &levels, frame_seconds, thresholds))
        .flatten();

    let total_samples = samples.len();
    Measurements {
        duration_seconds,
        sample_rate: rate,
        peak_dbfs: amplitude_db(f64::from(pass.peak)),
        loudness_lufs,
        clipping_ratio: if total_samples == 0 {
            0.0
        } else {
            pass.clipped as f64 / total_samples as f64
        },
        clip_runs: pass.clip_runs,
        max_level_dbfs,
        noise_floor_dbfs,
        snr_db,
        speech_ratio: activity.ratio,
        speech_seconds: activity.speech_seconds,
        longest_silence_seconds: activity.longest_silence_seconds,
        leading_silence_seconds: activity.leading_silence_seconds,
        trailing_silence_seconds: activity.trailing_silence_seconds,
        music,
    }
}

/// What the single pass over the samples collects.
struct FramePass {
    /// Mean square of the mono downmix per frame.
    power: Vec<f64>,
    peak: f32,
    clipped: usize,
    clip_runs: usize,
}

/// Frame power of the downmix, sample peak and clipping, in one pass. A last partial
/// frame counts when it is at least half a frame (or the only one): a few stray samples
/// would otherwise make a frame of their own with a meaningless level.
fn frame_pass(
    samples: &[f32],
    channels: usize,
    frame_len: usize,
    thresholds: &Thresholds,
) -> FramePass {
    let level = thresholds.clipping_level;
    let run_len = thresholds.clip_run_samples.max(1);
    let mut power = Vec::with_capacity((samples.len() / channels).div_ceil(frame_len));
    let mut runs = vec![0usize; channels];
    let (mut peak, mut clipped, mut clip_runs) = (0f32, 0usize, 0usize);
    let scale = 1.0 / channels as f32;
    for block in samples.chunks(frame_len.saturating_mul(channels)) {
        let mut sum_sq = 0f64;
        for frame in block.chunks_exact(channels) {
            let mut sum = 0f32;
            for (run, &x) in runs.iter_mut().zip(frame) {
                let s = values::sanitize(x);
                let a = s.abs();
                peak = peak.max(a);
                if a >= level {
                    clipped += 1;
                    *run += 1;
                    // Count each run once, when it reaches the length.
                    if *run == run_len {
                        clip_runs += 1;
                    }
                } else {
                    *run = 0;
                }
                sum += s;
            }
            let mono = f64::from(sum * scale);
            sum_sq += mono * mono;
        }
        let n = block.len() / channels;
        if 2 * n >= frame_len || power.is_empty() {
            power.push(sum_sq / n.max(1) as f64);
        }
    }
    FramePass {
        power,
        peak,
        clipped,
        clip_runs,
    }
}

/// Integrated loudness from an EBU R128 meter; `None` when the gates leave nothing or
/// the meter refuses the format (rates under 16 Hz, over 64 channels).
fn loudness(samples: &[f32], channels: u16, rate: u32) -> Option<f64> {
    let mut meter = EbuR128::new(u32::from(channels), rate, Mode::I).ok()?;
    // The meter's filters must never see NaN or 3e38 (a copy only for such input).
    meter.add_frames_f32(&values::sanitized(samples)).ok()?;
    meter.loudness_global().ok().filter(|l| l.is_finite())
}

/// Voice activity per frame: above the floor by [`VAD_OVER_FLOOR_DB`] (half the SNR
/// when that is less), within [`VAD_BELOW_SPEECH_DB`] of the speech level and above the
/// silence gate; then pauses under [`VAD_HANGOVER_MS`] are bridged and bursts under
/// [`VAD_MIN_SPEECH_MS`] dropped. Under [`VAD_MIN_SNR_DB`] nothing is speech.
fn voice_activity(
    levels: &[f64],
    floor: f64,
    speech: f64,
    silent_dbfs: f64,
    frame_seconds: f64,
) -> Vec<bool> {
    let snr = speech - floor;
    if snr < VAD_MIN_SNR_DB {
        return vec![false; levels.len()];
    }
    let threshold = (floor + VAD_OVER_FLOOR_DB.min(snr / 2.0))
        .max(speech - VAD_BELOW_SPEECH_DB)
        .max(silent_dbfs);
    let mut active: Vec<bool> = levels.iter().map(|&l| l > threshold).collect();
    let frames_of = |ms: f64| {
        if frame_seconds > 0.0 {
            (ms / 1000.0 / frame_seconds).round() as usize
        } else {
            0
        }
    };
    // Bridge short pauses first, so syllables merge into words before short bursts go.
    set_short_runs(&mut active, false, frames_of(VAD_HANGOVER_MS), true);
    set_short_runs(&mut active, true, frames_of(VAD_MIN_SPEECH_MS), false);
    active
}

/// Sets runs of `value` shorter than `min_len` to `!value`; with `inner_only` only runs
/// with other values on both sides (a pause is only a pause between two words).
fn set_short_runs(flags: &mut [bool], value: bool, min_len: usize, inner_only: bool) {
    let n = flags.len();
    let mut i = 0;
    while i < n {
        if flags[i] != value {
            i += 1;
            continue;
        }
        let start = i;
        while i < n && flags[i] == value {
            i += 1;
        }
        let inner = start > 0 && i < n;
        if i - start < min_len && (inner || !inner_only) {
            flags[start..i].fill(!value);
        }
    }
}

/// Speech time and the silences around and between it.
struct Activity {
    ratio: f64,
    speech_seconds: f64,
    longest_silence_seconds: f64,
    leading_silence_seconds: f64,
    trailing_silence_seconds: f64,
}

impl Activity {
    fn of(speech: &[bool], frame_seconds: f64, duration: f64) -> Self {
        let count = speech.iter().filter(|&&s| s).count();
        let (Some(first), Some(last)) = (
            speech.iter().position(|&s| s),
            speech.iter().rposition(|&s| s),
        ) else {
            return Self {
                ratio: 0.0,
                speech_seconds: 0.0,
                longest_silence_seconds: 0.0,
                leading_silence_seconds: duration,
                trailing_silence_seconds: 0.0,
            };
        };
        let mut longest = 0usize;
        let mut run = 0usize;
        for &s in &speech[first..=last] {
            run = if s { 0 } else { run + 1 };
            longest = longest.max(run);
        }
        // The last frame may be partial: clamp the times to the clip.
        let seconds = |frames: usize| (frames as f64 * frame_seconds).min(duration);
        Self {
            ratio: count as f64 / speech.len() as f64,
            speech_seconds: seconds(count),
            longest_silence_seconds: seconds(longest),
            leading_silence_seconds: seconds(first),
            trailing_silence_seconds: (duration - seconds(last + 1)).max(0.0),
        }
    }
}

/// Scheirer & Slaney's 4 Hz modulation energy and low-energy frame ratio, over the
/// span from the first to the last frame above the silence gate (digital silence
/// around a clip says nothing about what is in it).
fn music_features(
    power: &[f64],
    levels: &[f64],
    frame_seconds: f64,
    thresholds: &Thresholds,
) -> Option<MusicFeatures> {
    if frame_seconds <= 0.0 || 1.0 / frame_seconds < MIN_ENVELOPE_RATE_HZ {
        return None;
    }
    let first = levels.iter().position(|&l| l > thresholds.silent_dbfs)?;
    let last = levels.iter().rposition(|&l| l > thresholds.silent_dbfs)?;
    let span = &power[first..=last];
    if (span.len() as f64) * frame_seconds < thresholds.music_min_seconds {
        return None;
    }
    let n = span.len() as f64;
    let mean_power = span.iter().sum::<f64>() / n;
    let mean_amplitude = span.iter().map(|p| p.sqrt()).sum::<f64>() / n;
    if !(mean_power > 0.0 && mean_amplitude > 0.0) {
        return None;
    }
    let low = span.iter().filter(|&&p| p < 0.5 * mean_power).count();

    // RBJ band-pass (0 dB peak) over the normalised amplitude envelope. Its history
    // starts at the first value with zero output: the steady state for a constant
    // input, so the start of the clip does not ring as if it were a syllable.
    let w0 = TAU * MODULATION_HZ * frame_seconds;
    let alpha = w0.sin() * (LN_2 / 2.0 * MODULATION_OCTAVES * w0 / w0.sin()).sinh();
    let a0 = 1.0 + alpha;
    let (b0, a1, a2) = (alpha / a0, -2.0 * w0.cos() / a0, (1.0 - alpha) / a0);
    let x0 = span[0].sqrt() / mean_amplitude;
    let (mut x1, mut x2, mut y1, mut y2) = (x0, x0, 0.0, 0.0);
    let mut energy = 0.0;
    for &p in span {
        let x = p.sqrt() / mean_amplitude;
        let y = b0 * (x - x2) - a1 * y1 - a2 * y2;
        energy += y * y;
        (x2, x1, y2, y1) = (x1, x, y1, y);
    }
    let modulation = (energy / n).sqrt();
    modulation.is_finite().then_some(MusicFeatures {
        modulation,
        low_energy_ratio: low as f64 / n,
    })
}

/// Nearest-rank percentile of ascending `sorted` values; the floor level when empty.
fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return LEVEL_FLOOR_DBFS;
    }
    let index = (p.clamp(0.0, 1.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

/// Mean square to dBFS, floored (a full-scale square wave is 0 dBFS).
fn power_db(power: f64) -> f64 {
    if power > 0.0 {
        (10.0 * power.log10()).max(LEVEL_FLOOR_DBFS)
    } else {
        LEVEL_FLOOR_DBFS
    }
}

/// Amplitude to dBFS, floored.
fn amplitude_db(amplitude: f64) -> f64 {
    if amplitude > 0.0 {
        (20.0 * amplitude.log10()).max(LEVEL_FLOOR_DBFS)
    } else {
        LEVEL_FLOOR_DBFS
    }
}
