//! Loudness normalisation: EBU R128 (integrated loudness + true-peak ceiling), sample
//! peak, and the concat's RMS "level" normalisation (pydub dBFS semantics).
//!
//! Every method measures first and leaves the audio untouched when there is nothing to
//! measure (digital silence, or for EBU less than one 400 ms gating block of signal),
//! so the gain can never be NaN or infinite; the report says why it was skipped.
//!
//! **LRA.** The original passed `normalize_lra` to ffmpeg's `loudnorm`, whose dynamic
//! mode compresses towards it. We deliberately apply one *linear* gain instead: a
//! single TTS or VC utterance rarely has an LRA above 7 LU, and compressing speech to
//! hit a range target audibly pumps it. The input LRA is measured and reported
//! (`input_lra_lu`, `lra_above_target`) so a caller can see when the target was not met.
//!
//! **True peak.** When the gain would push the true peak over `normalize_tp`, a
//! look-ahead true-peak limiter (4x-oversampled detection, 5 ms attack, 50 ms release)
//! catches those peaks, and the gain is re-derived from the limited result (up to two
//! make-up rounds) so the integrated target still holds. A final measurement backs the
//! ceiling with a small static trim if any inter-sample peak slipped through: the
//! ceiling is a guarantee; the integrated target is met as closely as the peaks allow
//! (material whose every pitch period peaks loses up to the overshoot).

use std::collections::VecDeque;

use ebur128::{EbuR128, Mode};
use serde::{Deserialize, Serialize};

use crate::{AudioError, Pcm, ms_to_frames, values};

/// The concat "level" target: RMS at -20 dBFS, as the original's pydub code.
pub const LEVEL_TARGET_DBFS: f64 = -20.0;
/// Default integrated loudness target (`normalize_level`).
pub const DEFAULT_LUFS: f64 = -24.0;
/// Default true-peak ceiling (`normalize_tp`).
pub const DEFAULT_TRUE_PEAK_DBTP: f64 = -2.0;
/// Default loudness range target (`normalize_lra`).
pub const DEFAULT_LRA_LU: f64 = 7.0;
/// The limiter detects 4x-oversampled peaks; aim this far under the ceiling so the
/// estimator's small error rarely needs the static fallback.
const LIMITER_MARGIN_DB: f64 = 0.2;
const LIMITER_ATTACK_MS: f64 = 5.0;
const LIMITER_RELEASE_MS: f64 = 50.0;
/// Gain/limit rounds when the limiter engages (the first plus two make-up corrections).
const LIMITER_PASSES: usize = 3;
/// Loudness error (LU) below which no make-up round is attempted.
const LIMITER_TOLERANCE_LU: f64 = 0.1;
/// Extra headroom taken by the static fallback, so rounding never lands on the ceiling.
const FALLBACK_EPSILON_DB: f64 = 0.05;

/// How TTS/VC output is normalised (`normalize_method`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NormalizeMethod {
    /// EBU R128 integrated loudness with a true-peak ceiling.
    #[default]
    Ebu,
    /// Sample-peak normalisation to the `normalize_tp` level (dBFS).
    Peak,
}

/// EBU R128 targets (`normalize_level`, `normalize_tp`, `normalize_lra`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EbuTarget {
    /// Integrated loudness target, LUFS.
    pub integrated_lufs: f64,
    /// True-peak ceiling, dBTP.
    pub true_peak_dbtp: f64,
    /// Loudness range target, LU (reported against, not enforced; see the module docs).
    pub lra_lu: f64,
}

impl Default for EbuTarget {
    fn default() -> Self {
        Self {
            integrated_lufs: DEFAULT_LUFS,
            true_peak_dbtp: DEFAULT_TRUE_PEAK_DBTP,
            lra_lu: DEFAULT_LRA_LU,
        }
    }
}

/// EBU R128 measurements of a buffer. `None` where there was nothing to measure.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Measurement {
    /// Integrated loudness, LUFS.
    pub integrated_lufs: Option<f64>,
    /// Highest true peak over all channels, dBTP.
    pub true_peak_dbtp: Option<f64>,
    /// Loudness range, LU.
    pub lra_lu: Option<f64>,
}

/// What a normalisation step did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NormalizationReport {
    /// `ebu`, `peak` or `rms`.
    pub method: &'static str,
    /// Whether a gain was applied.
    pub applied: bool,
    /// Why nothing was applied, when it was not.
    pub skipped_reason: Option<&'static str>,
    /// The static gain applied, dB (limiter reduction not included).
    pub gain_db: f64,
    /// The target: LUFS (ebu), dBFS peak (peak) or dBFS RMS (rms).
    pub target: f64,
    /// Input level in the target's unit.
    pub input_level: Option<f64>,
    /// Output level in the target's unit.
    pub output_level: Option<f64>,
    /// EBU only: output true peak, dBTP.
    pub output_true_peak_dbtp: Option<f64>,
    /// EBU only: input loudness range, LU.
    pub input_lra_lu: Option<f64>,
    /// EBU only: whether the input LRA exceeds `normalize_lra` (not corrected, see module docs).
    pub lra_above_target: bool,
    /// EBU only: whether the true-peak limiter had to act.
    pub limiter_applied: bool,
}

impl NormalizationReport {
    fn skipped(method: &'static str, target: f64, reason: &'static str) -> Self {
        Self {
            method,
            applied: false,
            skipped_reason: Some(reason),
            gain_db: 0.0,
            target,
            input_level: None,
            output_level: None,
            output_true_peak_dbtp: None,
            input_lra_lu: None,
            lra_above_target: false,
            limiter_applied: false,
        }
    }
}

fn finite(x: f64) -> Option<f64> {
    x.is_finite().then_some(x)
}

fn db(linear: f64) -> f64 {
    20.0 * linear.log10()
}

/// Measures integrated loudness, true peak and loudness range (of the sanitised samples:
/// NaN and infinities count as silence, magnitudes are clamped to
/// ±[`crate::MAX_SAMPLE_MAGNITUDE`], as every normaliser here treats them).
pub fn measure(pcm: &Pcm) -> Result<Measurement, AudioError> {
    pcm.validate()?;
    let samples = values::sanitized(&pcm.samples);
    let channels = u32::from(pcm.channels);
    let mut meter = EbuR128::new(
        channels,
        pcm.sample_rate,
        Mode::I | Mode::TRUE_PEAK | Mode::LRA,
    )
    .map_err(|e| AudioError::InvalidPcm(format!("loudness meter: {e}")))?;
    meter
        .add_frames_f32(&samples)
        .map_err(|e| AudioError::InvalidPcm(format!("loudness meter: {e}")))?;
    let integrated = meter.loudness_global().ok().and_then(finite);
    let lra = meter.loudness_range().ok().and_then(finite);
    let mut peak = 0f64;
    for c in 0..channels {
        peak = peak.max(meter.true_peak(c).unwrap_or(0.0));
    }
    let true_peak = if peak > 0.0 { finite(db(peak)) } else { None };
    Ok(Measurement {
        integrated_lufs: integrated,
        true_peak_dbtp: true_peak,
        lra_lu: lra,
    })
}

/// EBU R128 normalisation: one linear gain to the integrated target, then the true-peak
/// ceiling (see the module docs for the limiter and what happens to LRA). Non-finite
/// samples become silence and magnitudes are clamped first, so the output is finite.
pub fn normalize_ebu(
    mut pcm: Pcm,
    target: &EbuTarget,
) -> Result<(Pcm, NormalizationReport), AudioError> {
    pcm.validate()?;
    values::sanitize_in_place(&mut pcm.samples);
    let before = measure(&pcm)?;
    let Some(input_lufs) = before.integrated_lufs else {
        let reason = "too short or silent to measure (EBU R128 needs at least 400 ms of signal)";
        return Ok((
            pcm,
            NormalizationReport::skipped("ebu", target.integrated_lufs, reason),
        ));
    };
    let ceiling_db = target.true_peak_dbtp;
    let threshold = 10f64.powf((ceiling_db - LIMITER_MARGIN_DB) / 20.0);
    let mut gain_db = target.integrated_lufs - input_lufs;
    let mut limiter_applied = false;
    let mut after = before;
    if before
        .true_peak_dbtp
        .is_some_and(|p| p + gain_db > ceiling_db)
    {
        // Limiting removes a little loudness; re-derive the gain from the limited result
        // (at most twice) so the integrated target is still met where the peaks allow.
        let original = pcm.clone();
        for attempt in 0..LIMITER_PASSES {
            pcm.samples.clone_from(&original.samples);
            apply_gain_db(&mut pcm, gain_db);
            limiter_applied |= limit(&mut pcm, threshold);
            after = measure(&pcm)?;
            let deficit = after
                .integrated_lufs
                .map_or(0.0, |l| target.integrated_lufs - l);
            if deficit.abs() < LIMITER_TOLERANCE_LU || attempt + 1 == LIMITER_PASSES {
                break;
            }
            gain_db += deficit;
        }
    } else {
        // A linear gain shifts loudness and true peak by exactly the gain; no re-measure.
        apply_gain_db(&mut pcm, gain_db);
        after.integrated_lufs = Some(target.integrated_lufs);
        after.true_peak_dbtp = before.true_peak_dbtp.map(|p| p + gain_db);
    }
    if let Some(peak) = after.true_peak_dbtp
        && peak > ceiling_db
    {
        // Overs the limiter's 4x estimator missed (rare): a small static trim.
        let trim = ceiling_db - peak - FALLBACK_EPSILON_DB;
        apply_gain_db(&mut pcm, trim);
        after.true_peak_dbtp = Some(peak + trim);
        after.integrated_lufs = after.integrated_lufs.map(|l| l + trim);
        limiter_applied = true;
    }
    let report = NormalizationReport {
        method: "ebu",
        applied: true,
        skipped_reason: None,
        gain_db,
        target: target.integrated_lufs,
        input_level: Some(input_lufs),
        output_level: after.integrated_lufs,
        output_true_peak_dbtp: after.true_peak_dbtp,
        input_lra_lu: before.lra_lu,
        lra_above_target: before.lra_lu.is_some_and(|lra| lra > target.lra_lu),
        limiter_applied,
    };
    Ok((pcm, report))
}

/// Scales so the sample peak sits at `peak_dbfs` (after sanitising, as [`normalize_ebu`]).
pub fn normalize_peak(
    mut pcm: Pcm,
    peak_dbfs: f64,
) -> Result<(Pcm, NormalizationReport), AudioError> {
    pcm.validate()?;
    values::sanitize_in_place(&mut pcm.samples);
    let peak = f64::from(pcm.peak());
    if !(peak > 0.0 && peak.is_finite()) {
        return Ok((
            pcm,
            NormalizationReport::skipped("peak", peak_dbfs, "silent (no peak to normalise)"),
        ));
    }
    let gain_db = peak_dbfs - db(peak);
    let Some(gain) = linear_gain(gain_db) else {
        return Ok((
            pcm,
            NormalizationReport::skipped("peak", peak_dbfs, TOO_QUIET),
        ));
    };
    scale(&mut pcm, gain);
    let report = NormalizationReport {
        applied: true,
        skipped_reason: None,
        gain_db,
        input_level: Some(db(peak)),
        output_level: Some(db(f64::from(pcm.peak()))),
        ..NormalizationReport::skipped("peak", peak_dbfs, "")
    };
    Ok((pcm, report))
}

/// RMS level in dBFS over all samples of all channels, as pydub's `AudioSegment.dBFS`
/// (`None` for silence, where pydub would say -inf).
pub fn rms_dbfs(pcm: &Pcm) -> Option<f64> {
    rms_dbfs_of(&pcm.samples)
}

/// [`rms_dbfs`] of a slice of interleaved samples.
pub fn rms_dbfs_of(samples: &[f32]) -> Option<f64> {
    if samples.is_empty() {
        return None;
    }
    let rms = (sum_of_squares(samples) / samples.len() as f64).sqrt();
    (rms > 0.0).then(|| db(rms)).and_then(finite)
}

/// The concat's level normalisation: RMS to `target_dbfs` (the original used -20 dBFS).
/// Silence is left alone instead of breaking the gain as the original did. Peaks may
/// exceed full scale afterwards (pydub clipped them); the encoders clamp. Samples are
/// sanitised first, as [`normalize_ebu`] does.
pub fn normalize_rms(mut pcm: Pcm, target_dbfs: f64) -> (Pcm, NormalizationReport) {
    values::sanitize_in_place(&mut pcm.samples);
    let Some(input) = rms_dbfs(&pcm) else {
        return (
            pcm,
            NormalizationReport::skipped("rms", target_dbfs, "silent (RMS is zero)"),
        );
    };
    let gain_db = target_dbfs - input;
    let Some(gain) = linear_gain(gain_db) else {
        return (
            pcm,
            NormalizationReport::skipped("rms", target_dbfs, TOO_QUIET),
        );
    };
    scale(&mut pcm, gain);
    let report = NormalizationReport {
        applied: true,
        skipped_reason: None,
        gain_db,
        input_level: Some(input),
        // A linear gain moves the RMS level by exactly the gain.
        output_level: Some(target_dbfs),
        ..NormalizationReport::skipped("rms", target_dbfs, "")
    };
    (pcm, report)
}

/// Sum of squares in f64 over four independent lanes (breaks the add dependency chain,
/// and f64 keeps hours of audio exact enough).
pub(crate) fn sum_of_squares(x: &[f32]) -> f64 {
    let mut lanes = [0f64; 4];
    let mut chunks = x.chunks_exact(4);
    for c in &mut chunks {
        for (lane, &s) in lanes.iter_mut().zip(c) {
            *lane += f64::from(s) * f64::from(s);
        }
    }
    let tail: f64 = chunks
        .remainder()
        .iter()
        .map(|&s| f64::from(s) * f64::from(s))
        .sum();
    lanes.iter().sum::<f64>() + tail
}

/// Why a peak or RMS normalisation of near-silence was skipped.
const TOO_QUIET: &str = "too quiet to normalise (the gain needed overflows)";

/// The linear factor for `gain_db`, or `None` when it overflows an f32: a buffer of
/// subnormal near-silence asks for some +700 dB, and `0 * inf` would be NaN.
pub(crate) fn linear_gain(gain_db: f64) -> Option<f32> {
    let gain = 10f64.powf(gain_db / 20.0) as f32;
    gain.is_finite().then_some(gain)
}

fn scale(pcm: &mut Pcm, gain: f32) {
    for s in &mut pcm.samples {
        *s *= gain;
    }
}

/// EBU gains are bounded (the -70 LUFS gate keeps them under +65 dB), so they always fit.
fn apply_gain_db(pcm: &mut Pcm, gain_db: f64) {
    scale(pcm, 10f64.powf(gain_db / 20.0) as f32);
}

/// Look-ahead true-peak limiter, linked across channels. Returns whether it reduced anything.
///
/// Per frame the needed gain is `min(1, threshold / peak)`. A moving minimum over the
/// next `attack` frames followed by a moving average over the same length gives a
/// smooth gain that is, at every frame, at most that frame's need (each averaged value
/// covers the frame); a one-pole release then lets it recover slowly.
fn limit(pcm: &mut Pcm, threshold: f64) -> bool {
    let channels = usize::from(pcm.channels);
    let frames = pcm.frames();
    let attack = ms_to_frames(LIMITER_ATTACK_MS, pcm.sample_rate).max(1);
    let need: Vec<f64> = true_peak_envelope(pcm)
        .into_iter()
        .map(|peak| {
            let peak = f64::from(peak);
            if peak > threshold {
                threshold / peak
            } else {
                1.0
            }
        })
        .collect();
    if need.iter().all(|&g| g >= 1.0) {
        return false;
    }
    // Padded index i covers original frame i - (attack - 1).
    let padded: Vec<f64> = std::iter::repeat_n(1.0, attack - 1)
        .chain(need.iter().copied())
        .collect();
    let mut window_min = vec![1.0; padded.len()];
    let mut deque: VecDeque<usize> = VecDeque::new();
    for i in (0..padded.len()).rev() {
        while deque.back().is_some_and(|&j| padded[j] >= padded[i]) {
            deque.pop_back();
        }
        deque.push_back(i);
        while deque.front().is_some_and(|&j| j >= i + attack) {
            deque.pop_front();
        }
        window_min[i] = deque.front().map_or(1.0, |&j| padded[j]);
    }
    let release = (-1.0 / (LIMITER_RELEASE_MS / 1000.0 * f64::from(pcm.sample_rate))).exp();
    let mut running = window_min[..attack.min(window_min.len())]
        .iter()
        .sum::<f64>();
    let mut gain = 1.0f64;
    for n in 0..frames {
        let smooth = running / attack as f64;
        gain = smooth.min(1.0 - (1.0 - gain) * release);
        for s in &mut pcm.samples[n * channels..(n + 1) * channels] {
            *s = (f64::from(*s) * gain) as f32;
        }
        running -= window_min[n];
        running += window_min.get(n + attack).copied().unwrap_or(1.0);
    }
    true
}

/// Taps each side of an interpolated point in the true-peak estimator.
const TP_HALF_TAPS: isize = 8;
/// Oversampling factor of the true-peak estimator (BS.1770 uses 4 below 96 kHz).
const TP_OVERSAMPLE: usize = 4;

/// Per-frame peak including inter-sample peaks: the largest of the sample and the three
/// 4x-oversampled points after it, over all channels (Hann-windowed sinc interpolation).
/// Detecting true peaks lets the limiter aim just under the ceiling instead of leaving
/// a dB of safety margin.
fn true_peak_envelope(pcm: &Pcm) -> Vec<f32> {
    let channels = usize::from(pcm.channels);
    let frames = pcm.frames();
    let mut kernels = [[0f32; 2 * TP_HALF_TAPS as usize]; TP_OVERSAMPLE - 1];
    for (k, kernel) in kernels.iter_mut().enumerate() {
        let frac = (k + 1) as f64 / TP_OVERSAMPLE as f64;
        for (j, tap) in kernel.iter_mut().enumerate() {
            let offset = j as isize - TP_HALF_TAPS + 1;
            let t = frac - offset as f64;
            let sinc = if t == 0.0 {
                1.0
            } else {
                (std::f64::consts::PI * t).sin() / (std::f64::consts::PI * t)
            };
            let window = 0.5 + 0.5 * (std::f64::consts::PI * t / TP_HALF_TAPS as f64).cos();
            *tap = (sinc * window) as f32;
        }
    }
    let mut envelope = vec![0f32; frames];
    for c in 0..channels {
        let x = pcm.channel(c);
        for (n, env) in envelope.iter_mut().enumerate() {
            let mut peak = x[n].abs();
            let lo = n as isize - TP_HALF_TAPS + 1;
            for kernel in &kernels {
                let mut acc = 0f32;
                for (j, tap) in kernel.iter().enumerate() {
                    let i = lo + j as isize;
                    if i >= 0 && (i as usize) < frames {
                        acc += tap * x[i as usize];
                    }
                }
                peak = peak.max(acc.abs());
            }
            *env = env.max(peak);
        }
    }
    envelope
}

#[cfg(test)]
mod tests;
