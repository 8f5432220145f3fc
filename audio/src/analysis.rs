//! Quality analysis of a voice-cloning reference: level, clipping, noise, silences,
//! speech activity and a crude music check, folded into a 0-100 score with warnings.
//!
//! The speech engines clone whatever the reference contains, hiss, clipping and room
//! included, and they only look at its first seconds, so this module tells an uploader
//! *before* they clone what is wrong with a clip and how much it matters. Everything is
//! measured in one pass over the samples (30 ms frame RMS of the downmixed signal, plus
//! clipping on every channel sample) and one EBU R128 meter pass for the integrated
//! loudness; only O(frames) vectors are allocated.
//!
//! **What it cannot tell.** The speech/noise split is energy based: the quietest frames
//! are taken as the noise floor and the loudest as the voice, so a recording with no
//! pauses at all reads as having a higher floor than it has, and a noise gate (digital
//! silence between words) hides the noise under the speech. The music check
//! ([`WarningCode::LikelyMusic`]) only recognises *sustained* sound, a level that never
//! pauses or pulses at the syllable rate; music with a beat or with singing passes as
//! speech. Several speakers in one clip are not detected at all.
//!
//! No input makes it panic or report a non-finite number: samples are sanitised as
//! everywhere in this crate, levels of silence are floored at [`LEVEL_FLOOR_DBFS`], and a
//! buffer that breaks the [`Pcm`] invariants (rate 0, ragged frames) is measured as far
//! as it makes sense (a zero rate has no duration and scores as silent).

mod metrics;
mod score;

use serde::{Deserialize, Serialize};

use crate::Pcm;

/// Floor for every dBFS figure in the report: digital silence has no finite level, and
/// JSON has no `-inf`. 120 dB is below the noise of any 20-bit converter.
pub const LEVEL_FLOOR_DBFS: f64 = -120.0;
/// Length of the analysis frames, ms. 30 ms holds a few pitch periods of any voice and
/// is short enough to resolve syllables (the usual 20-40 ms of speech analysis).
pub const FRAME_MS: f64 = 30.0;
/// Percentile of frame RMS taken as the noise floor: the quiet frames between words.
pub const NOISE_FLOOR_PERCENTILE: f64 = 0.10;
/// Percentile of the active frames' RMS taken as the speech level: the syllable
/// nuclei, as NIST's `stnr` tool (SPQA) takes the 95th percentile of frame energies.
pub const SPEECH_LEVEL_PERCENTILE: f64 = 0.95;
/// Frames at least this far above the noise floor count towards the speech level.
pub const ACTIVE_OVER_FLOOR_DB: f64 = 6.0;
/// Voice activity: a frame is speech when it is this far above the floor (or half the
/// SNR when that is smaller)...
pub const VAD_OVER_FLOOR_DB: f64 = 6.0;
/// ...and no more than this far below the speech level (40 dB is librosa's `top_db`
/// for trimming; 30 dB keeps breaths and room tails out of the speech time).
pub const VAD_BELOW_SPEECH_DB: f64 = 30.0;
/// Below this SNR no frame is called speech: voice and background cannot be told apart.
pub const VAD_MIN_SNR_DB: f64 = 6.0;
/// Pauses shorter than this between speech frames count as speech (stop closures and
/// syllable dips; pause studies start counting at 200-250 ms).
pub const VAD_HANGOVER_MS: f64 = 200.0;
/// Speech bursts shorter than this (after bridging) are clicks, not speech.
pub const VAD_MIN_SPEECH_MS: f64 = 60.0;

/// Verdict bands of [`QualityReport::score`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Score of 75 or more: clone away.
    Good,
    /// Score of 50 to 74: works, but the warnings will be audible in the clone.
    Usable,
    /// Score under 50: record or pick another clip.
    Poor,
}

impl Verdict {
    /// Lowest score that is [`Verdict::Good`].
    pub const GOOD_FROM: u8 = 75;
    /// Lowest score that is [`Verdict::Usable`].
    pub const USABLE_FROM: u8 = 50;

    /// The band `score` falls in.
    pub fn from_score(score: u8) -> Self {
        if score >= Self::GOOD_FROM {
            Self::Good
        } else if score >= Self::USABLE_FROM {
            Self::Usable
        } else {
            Self::Poor
        }
    }
}

/// What a [`QualityWarning`] is about (serialised in snake_case, e.g. `"too_short"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WarningCode {
    /// Under [`Thresholds::min_duration_seconds`]: too little voice to clone from.
    TooShort,
    /// Shorter than the engines' conditioning window, or too little speech in it.
    ShorterThanConditioningWindow,
    /// Longer than [`Thresholds::max_duration_seconds`]: the rest is not used.
    TooLong,
    /// Samples at full scale: the clone reproduces the distortion.
    Clipped,
    /// Background noise close to the voice level.
    Noisy,
    /// A high noise floor although the voice is loud enough above it.
    HighNoiseFloor,
    /// Integrated loudness under [`Thresholds::min_loudness_lufs`].
    LowLevel,
    /// Integrated loudness over [`Thresholds::max_loudness_lufs`].
    TooLoud,
    /// A pause longer than [`Thresholds::max_internal_silence_seconds`].
    LongSilence,
    /// Silence at the start eats into the engines' conditioning window.
    LeadingSilence,
    /// Speech in under [`Thresholds::min_speech_ratio`] of the clip.
    LittleSpeech,
    /// Sample rate under [`Thresholds::min_sample_rate`].
    LowSampleRate,
    /// Sustained sound with no speech rhythm: music, a held tone or steady noise.
    LikelyMusic,
    /// Nothing louder than [`Thresholds::silent_dbfs`].
    Silent,
}

/// One finding, with what it cost the score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QualityWarning {
    /// What it is about.
    pub code: WarningCode,
    /// A sentence for the uploader, with the measured figures.
    pub message: String,
    /// Points taken off the score (100 in all at most).
    pub penalty: u8,
}

/// The analysis of one reference clip (stored in the voice sidecar under `quality`).
/// Every number is finite; levels of silence read [`LEVEL_FLOOR_DBFS`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QualityReport {
    /// Length in seconds.
    pub duration_seconds: f64,
    /// Sample rate, Hz.
    pub sample_rate: u32,
    /// Channel count (analysed as a mono downmix, except for clipping).
    pub channels: u16,
    /// Sample peak over all channels, dBFS.
    pub peak_dbfs: f64,
    /// Integrated loudness (BS.1770 / EBU R128, gated), LUFS; `None` when the gates
    /// leave nothing (under 400 ms of signal, or silence) or the meter refuses the
    /// format (rate under 16 Hz, over 64 channels). There is no true-peak figure: the
    /// 4x-oversampling meter would more than double the analysis time, and for a
    /// reference clip the sample peak and clipping ratio say what matters.
    pub loudness_lufs: Option<f64>,
    /// Fraction of channel samples at or above [`Thresholds::clipping_level`], 0..=1.
    pub clipping_ratio: f64,
    /// RMS of the quietest frames ([`NOISE_FLOOR_PERCENTILE`] of 30 ms frames), dBFS.
    pub noise_floor_dbfs: f64,
    /// Speech level ([`SPEECH_LEVEL_PERCENTILE`] of the active frames) minus the noise
    /// floor, dB. Reads some 5 dB above a mean-power SNR, as NIST's `stnr` does.
    pub snr_db: f64,
    /// Fraction of frames judged speech, 0..=1.
    pub speech_ratio: f64,
    /// Longest pause between the first and the last speech, seconds.
    pub longest_silence_seconds: f64,
    /// Silence before the first speech, seconds (the whole clip when there is none).
    pub leading_silence_seconds: f64,
    /// Silence after the last speech, seconds (0 when there is no speech).
    pub trailing_silence_seconds: f64,
    /// 100 minus the warnings' penalties, 0..=100.
    pub score: u8,
    /// The band the score falls in.
    pub verdict: Verdict,
    /// Findings, the costliest first.
    pub warnings: Vec<QualityWarning>,
}

/// Chatterbox's S3Gen decoder prompt, `DEC_COND_LEN` (10 s at 24 kHz).
pub const CONDITIONING_WINDOW_SECONDS: f64 = 10.0;
/// Chatterbox's tokenizer-side prompt, `ENC_COND_LEN` (6 s at 16 kHz): the speech the
/// voice is actually encoded from.
pub const MIN_SPEECH_SECONDS: f64 = 6.0;
/// Under 3 s there is too little voice for either engine to catch a timbre from
/// (rule of thumb: half the 6 s tokenizer prompt).
pub const MIN_DURATION_SECONDS: f64 = 3.0;
/// Over 30 s is only wasted upload: the engines use the first 10 s.
pub const MAX_DURATION_SECONDS: f64 = 30.0;
/// A sample at or above 0.999 of full scale (-0.009 dBFS) counts as clipped: clipping
/// converters and float-to-int clamps leave values at exactly full scale, while a
/// normalised clean recording rarely touches the top thousandth.
pub const CLIPPING_LEVEL: f32 = 0.999;
/// Clipping matters above 0.1 % of the samples (rule of thumb: a few isolated
/// full-scale samples are inaudible, a thousandth is a click every few milliseconds).
pub const MAX_CLIPPING_RATIO: f64 = 0.001;
/// Runs of this many consecutive clipped samples in one channel are flat-topped
/// waveforms, the unmistakable sign of clipping (a peak touching full scale is one
/// sample; 3 in a row is the usual detector's threshold, e.g. Audacity's "Find Clipping").
pub const CLIP_RUN_SAMPLES: usize = 3;
/// SNR under 15 dB: noisy (ITU-T P.563-style bands; the noise will be cloned).
pub const NOISY_SNR_DB: f64 = 15.0;
/// SNR under 25 dB: mildly noisy (rule of thumb; voice-cloning guides such as
/// ElevenLabs' and Coqui's ask for "clean audio, no background noise").
pub const MILD_NOISY_SNR_DB: f64 = 25.0;
/// Noise floor over -50 dBFS is worth a mention even when the voice is loud (the same
/// guides recommend a floor under -60 dBFS).
pub const MAX_NOISE_FLOOR_DBFS: f64 = -50.0;
/// Integrated loudness under -35 LUFS: too quiet (rule of thumb: 12 LU under the EBU
/// R128 broadcast target of -23 LUFS, where converter and codec noise start to tell).
pub const MIN_LOUDNESS_LUFS: f64 = -35.0;
/// Integrated loudness over -10 LUFS: over-compressed or clipped-looking (rule of
/// thumb: louder than the loudest streaming masters, -14 LUFS, by 4 LU).
pub const MAX_LOUDNESS_LUFS: f64 = -10.0;
/// Internal pauses over 1.5 s waste the conditioning window (rule of thumb: sentence
/// pauses in read speech are under a second).
pub const MAX_INTERNAL_SILENCE_SECONDS: f64 = 1.5;
/// Leading silence over 1 s eats into the engines' first-seconds window (rule of thumb).
pub const MAX_LEADING_SILENCE_SECONDS: f64 = 1.0;
/// Speech in under half of the clip (rule of thumb: read speech is 70-90 % active).
pub const MIN_SPEECH_RATIO: f64 = 0.5;
/// Both engines resample to 16 kHz (tokenizer, speaker encoder) and 24 kHz (decoder);
/// below 16 kHz the band above 8 kHz is missing and the clone sounds muffled.
pub const MIN_SAMPLE_RATE: u32 = 16_000;
/// A clip whose loudest frame is under -70 dBFS is silent: the absolute gate of
/// BS.1770 / EBU R128 does not even count such blocks as signal.
pub const SILENT_DBFS: f64 = -70.0;
/// The music check needs this much audio to measure a syllable rhythm.
pub const MUSIC_MIN_SECONDS: f64 = 3.0;
/// Music check: the envelope's 2-8 Hz modulation (RMS over mean) is under this. Speech
/// measures 0.3-1 (syllables at ~4 Hz, Houtgast & Steeneken's modulation spectrum;
/// the "4 Hz modulation energy" of Scheirer & Slaney's speech/music discriminator,
/// ICASSP 1997); a held chord or steady noise under 0.05. Heuristic.
pub const MUSIC_MAX_MODULATION: f64 = 0.1;
/// Music check: under this fraction of frames below half the mean power (Scheirer &
/// Slaney's "percentage of low-energy frames": speech pauses give it 0.3-0.7, sustained
/// music under 0.1). Heuristic.
pub const MUSIC_MAX_LOW_ENERGY_RATIO: f64 = 0.15;

/// Every threshold the warnings use; [`Thresholds::default()`] holds the documented
/// constants above (see each for its value and source).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Thresholds {
    /// [`WarningCode::TooShort`] under this many seconds ([`MIN_DURATION_SECONDS`], 3).
    pub min_duration_seconds: f64,
    /// [`WarningCode::ShorterThanConditioningWindow`] under this many seconds of audio
    /// ([`CONDITIONING_WINDOW_SECONDS`], 10).
    pub conditioning_window_seconds: f64,
    /// ... or under this many seconds of speech ([`MIN_SPEECH_SECONDS`], 6).
    pub min_speech_seconds: f64,
    /// [`WarningCode::TooLong`] over this many seconds ([`MAX_DURATION_SECONDS`], 30).
    pub max_duration_seconds: f64,
    /// A channel sample at or above this magnitude is clipped ([`CLIPPING_LEVEL`], 0.999).
    pub clipping_level: f32,
    /// [`WarningCode::Clipped`] over this fraction of samples ([`MAX_CLIPPING_RATIO`], 0.001).
    pub max_clipping_ratio: f64,
    /// ... or on any run of this many clipped samples ([`CLIP_RUN_SAMPLES`], 3).
    pub clip_run_samples: usize,
    /// [`WarningCode::Noisy`] (strong) under this SNR ([`NOISY_SNR_DB`], 15 dB).
    pub noisy_snr_db: f64,
    /// [`WarningCode::Noisy`] (mild) under this SNR ([`MILD_NOISY_SNR_DB`], 25 dB).
    pub mild_noisy_snr_db: f64,
    /// [`WarningCode::HighNoiseFloor`] over this floor ([`MAX_NOISE_FLOOR_DBFS`], -50 dBFS).
    pub max_noise_floor_dbfs: f64,
    /// [`WarningCode::LowLevel`] under this loudness ([`MIN_LOUDNESS_LUFS`], -35 LUFS).
    pub min_loudness_lufs: f64,
    /// [`WarningCode::TooLoud`] over this loudness ([`MAX_LOUDNESS_LUFS`], -10 LUFS).
    pub max_loudness_lufs: f64,
    /// [`WarningCode::LongSilence`] over this pause ([`MAX_INTERNAL_SILENCE_SECONDS`], 1.5 s).
    pub max_internal_silence_seconds: f64,
    /// [`WarningCode::LeadingSilence`] over this ([`MAX_LEADING_SILENCE_SECONDS`], 1 s).
    pub max_leading_silence_seconds: f64,
    /// [`WarningCode::LittleSpeech`] under this speech ratio ([`MIN_SPEECH_RATIO`], 0.5).
    pub min_speech_ratio: f64,
    /// [`WarningCode::LowSampleRate`] under this rate ([`MIN_SAMPLE_RATE`], 16 kHz).
    pub min_sample_rate: u32,
    /// [`WarningCode::Silent`] when no frame reaches this ([`SILENT_DBFS`], -70 dBFS).
    pub silent_dbfs: f64,
    /// Music check: at least this long ([`MUSIC_MIN_SECONDS`], 3 s)...
    pub music_min_seconds: f64,
    /// ... syllable-rate modulation under this ([`MUSIC_MAX_MODULATION`], 0.1) ...
    pub music_max_modulation: f64,
    /// ... and low-energy frames under this ([`MUSIC_MAX_LOW_ENERGY_RATIO`], 0.15).
    pub music_max_low_energy_ratio: f64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Self {
            min_duration_seconds: MIN_DURATION_SECONDS,
            conditioning_window_seconds: CONDITIONING_WINDOW_SECONDS,
            min_speech_seconds: MIN_SPEECH_SECONDS,
            max_duration_seconds: MAX_DURATION_SECONDS,
            clipping_level: CLIPPING_LEVEL,
            max_clipping_ratio: MAX_CLIPPING_RATIO,
            clip_run_samples: CLIP_RUN_SAMPLES,
            noisy_snr_db: NOISY_SNR_DB,
            mild_noisy_snr_db: MILD_NOISY_SNR_DB,
            max_noise_floor_dbfs: MAX_NOISE_FLOOR_DBFS,
            min_loudness_lufs: MIN_LOUDNESS_LUFS,
            max_loudness_lufs: MAX_LOUDNESS_LUFS,
            max_internal_silence_seconds: MAX_INTERNAL_SILENCE_SECONDS,
            max_leading_silence_seconds: MAX_LEADING_SILENCE_SECONDS,
            min_speech_ratio: MIN_SPEECH_RATIO,
            min_sample_rate: MIN_SAMPLE_RATE,
            silent_dbfs: SILENT_DBFS,
            music_min_seconds: MUSIC_MIN_SECONDS,
            music_max_modulation: MUSIC_MAX_MODULATION,
            music_max_low_energy_ratio: MUSIC_MAX_LOW_ENERGY_RATIO,
        }
    }
}

/// Analyses `pcm` against the default [`Thresholds`].
pub fn analyze(pcm: &Pcm) -> QualityReport {
    analyze_with(pcm, &Thresholds::default())
}

/// Analyses `pcm` against `thresholds`. Deterministic: the same input gives the same report.
pub fn analyze_with(pcm: &Pcm, thresholds: &Thresholds) -> QualityReport {
    let m = metrics::measure(pcm, thresholds);
    let warnings = score::assess(&m, thresholds);
    let score = score::score(&warnings);
    // Rounded to what the figures mean (0.01 dB, 1 ms): the sidecar shows them, and
    // 0.30000000000000004 s helps nobody.
    QualityReport {
        duration_seconds: rounded(m.duration_seconds, 0.0, 3),
        sample_rate: pcm.sample_rate,
        channels: pcm.channels,
        peak_dbfs: rounded(m.peak_dbfs, LEVEL_FLOOR_DBFS, 2),
        loudness_lufs: m
            .loudness_lufs
            .filter(|x| x.is_finite())
            .map(|x| rounded(x, 0.0, 2)),
        clipping_ratio: rounded(m.clipping_ratio, 0.0, 6),
        noise_floor_dbfs: rounded(m.noise_floor_dbfs, LEVEL_FLOOR_DBFS, 2),
        snr_db: rounded(m.snr_db, 0.0, 2),
        speech_ratio: rounded(m.speech_ratio, 0.0, 4),
        longest_silence_seconds: rounded(m.longest_silence_seconds, 0.0, 3),
        leading_silence_seconds: rounded(m.leading_silence_seconds, 0.0, 3),
        trailing_silence_seconds: rounded(m.trailing_silence_seconds, 0.0, 3),
        score,
        verdict: Verdict::from_score(score),
        warnings,
    }
}

/// `x` to `decimals` places, or `fallback` where it is not finite (the report must
/// serialise as JSON). Dividing by a power of ten gives the double nearest the decimal.
fn rounded(x: f64, fallback: f64, decimals: i32) -> f64 {
    let x = if x.is_finite() { x } else { fallback };
    let scale = 10f64.powi(decimals);
    let r = (x * scale).round() / scale;
    if r.is_finite() { r } else { fallback }
}

#[cfg(test)]
mod tests;
