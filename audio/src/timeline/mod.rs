//! Concatenation: clips and silences in, one PCM plus the original's report out.
//!
//! Pure functions over decoded audio: the caller resolves file names (see
//! [`parse_entries`]), decodes, and encodes the single result into every requested
//! format (so all formats share one timeline, unlike the original which re-ran the
//! whole concatenation per format with fresh random pauses).
//!
//! Per-gap rules (reference-api §6.3, minus its bugs):
//! - a silence token inserts exactly that silence, never crossfaded or normalised;
//! - between two consecutive clips, `pause_duration_ms > 0` inserts a natural pause of
//!   `pause_duration_ms ± pause_variation_ms` (uniform integer ms, floored at 50 ms);
//! - a crossfade happens only between two directly adjacent clips (no pause or silence
//!   between), clamped to the shorter of the two;
//! - each clip is trimmed (if asked) and then level-normalised (if asked) before joining;
//! - nothing is appended after the last item (the original's basic path ended on a pause).
//!
//! Clips may differ in rate and channels: everything is resampled to the highest rate
//! present, and the output is stereo if any clip has two or more channels (mono clips
//! are duplicated), mono otherwise ([`timeline_format`]).
//!
//! [`concat()`] returns the whole timeline as one [`Pcm`]; [`concat_streaming`] produces
//! the same samples into a sink as it goes, holding only one clip and one crossfade
//! window, for timelines too long to hold whole. Both share the per-clip arithmetic
//! below (level, crossfade, pauses, report), so their outputs are identical.

mod report;
mod stream;
mod token;

use std::ops::Range;

use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};

pub use report::{ConcatReport, ProcessingDetail, TrimSummary};
pub use stream::concat_streaming;
pub use token::{Entry, MAX_SILENCE_MS, MIN_SILENCE_MS, SilenceToken, parse_entries};

use crate::loudness::{LEVEL_TARGET_DBFS, linear_gain, sum_of_squares};
use crate::trim::{self, TrimInfo, validate_threshold};
use crate::{AudioError, Pcm, ms_to_frames, values};

/// Longest allowed crossfade.
pub const MAX_CROSSFADE_MS: u32 = 5_000;
/// Longest allowed natural pause.
pub const MAX_PAUSE_MS: u32 = 3_000;
/// Largest allowed pause variation.
pub const MAX_PAUSE_VARIATION_MS: u32 = 500;
/// Samples copied per step while summing their energy (16 KiB: stays in L1).
const COPY_CHUNK: usize = 4096;
/// Shortest natural pause after variation.
pub const MIN_PAUSE_MS: i64 = 50;

/// A decoded clip and the label it is reported under.
#[derive(Debug, Clone, PartialEq)]
pub struct Clip {
    /// File name, or e.g. `upload 0`.
    pub label: String,
    /// The decoded audio.
    pub pcm: Pcm,
}

/// One timeline item.
#[derive(Debug, Clone, PartialEq)]
pub enum TimelineItem {
    /// Audio.
    Clip(Clip),
    /// Exact silence.
    Silence(SilenceToken),
}

/// Concat options, named as in the API.
#[derive(Debug, Clone, PartialEq)]
pub struct ConcatOptions {
    /// RMS-normalise each clip to -20 dBFS.
    pub normalize_levels: bool,
    /// Crossfade between directly adjacent clips, 0..=5000 ms.
    pub crossfade_ms: u32,
    /// Natural pause between consecutive clips, 0..=3000 ms (0 = none).
    pub pause_duration_ms: u32,
    /// Random ± variation of the pause, 0..=500 ms, below `pause_duration_ms` when that is > 0.
    pub pause_variation_ms: u32,
    /// Trim each clip's edge silence.
    pub trim: bool,
    /// Edge silence longer than this is trimmed, 50..=1000 ms.
    pub trim_threshold_ms: u32,
    /// Seed for the pause variation; the caller picks a random one when the client sent none.
    pub seed: u64,
}

impl Default for ConcatOptions {
    /// The original's `ConcatRequest` defaults (seed 0).
    fn default() -> Self {
        Self {
            normalize_levels: true,
            crossfade_ms: 0,
            pause_duration_ms: 0,
            pause_variation_ms: 200,
            trim: false,
            trim_threshold_ms: crate::trim::DEFAULT_THRESHOLD_MS,
            seed: 0,
        }
    }
}

impl ConcatOptions {
    /// Checks every range and the variation < pause rule.
    pub fn validate(&self) -> Result<(), AudioError> {
        if self.crossfade_ms > MAX_CROSSFADE_MS {
            return Err(AudioError::param(
                "crossfade_ms",
                format!("{} is outside 0..=5000", self.crossfade_ms),
            ));
        }
        if self.pause_duration_ms > MAX_PAUSE_MS {
            return Err(AudioError::param(
                "pause_duration_ms",
                format!("{} is outside 0..=3000", self.pause_duration_ms),
            ));
        }
        if self.pause_variation_ms > MAX_PAUSE_VARIATION_MS {
            return Err(AudioError::param(
                "pause_variation_ms",
                format!("{} is outside 0..=500", self.pause_variation_ms),
            ));
        }
        if self.pause_duration_ms > 0 && self.pause_variation_ms >= self.pause_duration_ms {
            return Err(AudioError::param(
                "pause_variation_ms",
                format!(
                    "{} must be less than pause_duration_ms ({})",
                    self.pause_variation_ms, self.pause_duration_ms
                ),
            ));
        }
        if self.trim {
            validate_threshold(self.trim_threshold_ms)?;
        }
        Ok(())
    }
}

/// The rate and channel count a timeline is produced at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamFormat {
    /// Sample rate in Hz: the highest of the clips'.
    pub sample_rate: u32,
    /// 2 if any clip has two or more channels, else 1.
    pub channels: u16,
}

/// The rate and channels [`concat()`] (and [`concat_streaming`]) would produce for `items`:
/// the highest clip rate, stereo if any clip has two or more channels. Lets a caller set
/// up encoders before the first sample exists.
pub fn timeline_format(items: &[TimelineItem]) -> Result<StreamFormat, AudioError> {
    format_of(items.iter().filter_map(|item| match item {
        TimelineItem::Clip(clip) => Some(&clip.pcm),
        TimelineItem::Silence(_) => None,
    }))
}

fn format_of<'a>(clips: impl Iterator<Item = &'a Pcm> + Clone) -> Result<StreamFormat, AudioError> {
    let Some(sample_rate) = clips.clone().map(|pcm| pcm.sample_rate).max() else {
        return Err(AudioError::param(
            "files",
            "at least one audio file is required",
        ));
    };
    let channels = if clips.into_iter().any(|pcm| pcm.channels >= 2) {
        2
    } else {
        1
    };
    Ok(StreamFormat {
        sample_rate,
        channels,
    })
}

/// A clip with its trim range decided but not applied: the kept frames are read once,
/// straight into the output, where the level gain is applied while they are hot.
struct Prepared {
    label: String,
    pcm: Pcm,
    /// Frames kept after trimming.
    kept: Range<usize>,
    trim_info: Option<TrimInfo>,
}

impl Prepared {
    fn samples(&self) -> &[f32] {
        let ch = usize::from(self.pcm.channels);
        &self.pcm.samples[self.kept.start * ch..self.kept.end * ch]
    }

    fn frames(&self) -> usize {
        self.kept.len()
    }
}

/// A timeline item after per-clip processing.
enum Step {
    Clip(Prepared),
    Silence(SilenceToken),
}

/// Builds the timeline. See the module docs for the rules.
pub fn concat(
    items: Vec<TimelineItem>,
    options: &ConcatOptions,
) -> Result<(Pcm, ConcatReport), AudioError> {
    options.validate()?;
    let steps = items
        .into_iter()
        .map(|item| {
            Ok(match item {
                TimelineItem::Clip(clip) => Step::Clip(prepare(clip, options)?),
                TimelineItem::Silence(token) => Step::Silence(token),
            })
        })
        .collect::<Result<Vec<Step>, AudioError>>()?;
    let StreamFormat {
        sample_rate: rate,
        channels,
    } = format_of(steps.iter().filter_map(|s| match s {
        Step::Clip(c) => Some(&c.pcm),
        Step::Silence(_) => None,
    }))?;

    let mut joiner = Joiner::new(rate, channels, options);
    // Upper bound of the output (no crossfade, longest pauses): one allocation.
    let bound: usize = steps
        .iter()
        .map(|s| match s {
            Step::Clip(c) => crate::resample::output_frames(c.frames(), c.pcm.sample_rate, rate),
            Step::Silence(t) => ms_to_frames(f64::from(t.duration_ms), rate),
        })
        .sum::<usize>()
        + if options.pause_duration_ms > 0 {
            steps.len()
                * ms_to_frames(
                    f64::from(options.pause_duration_ms + options.pause_variation_ms),
                    rate,
                )
        } else {
            0
        };
    joiner.out.reserve(bound * usize::from(channels));
    let next_is_clip: Vec<bool> = steps
        .iter()
        .skip(1)
        .map(|s| matches!(s, Step::Clip(_)))
        .chain([false])
        .collect();
    for (step, next_is_clip) in steps.into_iter().zip(next_is_clip) {
        match step {
            Step::Silence(token) => joiner.silence(token),
            Step::Clip(clip) => {
                if clip.pcm.sample_rate == rate && clip.pcm.channels == channels {
                    joiner.clip(&clip, clip.samples());
                } else {
                    let kept = Pcm::new(
                        clip.pcm.sample_rate,
                        clip.pcm.channels,
                        clip.samples().to_vec(),
                    );
                    let converted = crate::resample::resample(&kept, rate)?.into_channels(channels);
                    joiner.clip(&clip, &converted.samples);
                }
                if options.pause_duration_ms > 0 && next_is_clip {
                    joiner.pause();
                }
            }
        }
    }
    Ok(joiner.finish())
}

fn prepare(clip: Clip, options: &ConcatOptions) -> Result<Prepared, AudioError> {
    clip.pcm.validate()?;
    let (kept, trim_info) = if options.trim {
        let (kept, info) = trim::plan(&clip.pcm, options.trim_threshold_ms)?;
        (kept, Some(info))
    } else {
        (0..clip.pcm.frames(), None)
    };
    Ok(Prepared {
        label: clip.label,
        pcm: clip.pcm,
        kept,
        trim_info,
    })
}

/// The output buffer and the running report.
struct Joiner<'a> {
    rate: u32,
    channels: usize,
    options: &'a ConcatOptions,
    rng: ChaCha8Rng,
    out: Vec<f32>,
    /// Frames of the previous item when it was a clip directly before (crossfade candidate).
    previous_clip_frames: Option<usize>,
    report: ConcatReport,
}

impl<'a> Joiner<'a> {
    fn new(rate: u32, channels: u16, options: &'a ConcatOptions) -> Self {
        Self {
            rate,
            channels: usize::from(channels),
            options,
            rng: ChaCha8Rng::seed_from_u64(options.seed),
            out: Vec::new(),
            previous_clip_frames: None,
            report: new_report(options),
        }
    }

    fn append_silence(&mut self, ms: u32) {
        let frames = ms_to_frames(f64::from(ms), self.rate);
        self.out
            .resize(self.out.len() + frames * self.channels, 0.0);
    }

    fn silence(&mut self, token: SilenceToken) {
        self.append_silence(token.duration_ms);
        record_silence(&mut self.report, token);
        self.previous_clip_frames = None;
    }

    /// Appends a clip already at the output rate and channel count, level-normalising
    /// it on the way (the RMS is summed as the samples are copied, then the copied
    /// region, still in cache, is scaled: one read of the source instead of two).
    /// Copied samples are sanitised in cache too, so a NaN or 3e38 in a clip becomes
    /// silence or ±[`crate::MAX_SAMPLE_MAGNITUDE`] instead of poisoning the level or the
    /// crossfade.
    fn clip(&mut self, clip: &Prepared, samples: &[f32]) {
        let ch = self.channels;
        let frames = samples.len() / ch;
        let overlap = overlap_frames(self.previous_clip_frames, self.options, self.rate, frames);
        let (head, body) = samples.split_at(overlap * ch);
        let head = values::sanitized(head);
        let body_start = self.out.len();
        let mut energy = sum_of_squares(&head);
        for chunk in body.chunks(COPY_CHUNK) {
            self.out.extend_from_slice(chunk);
            let copied = self.out.len() - chunk.len();
            values::sanitize_in_place(&mut self.out[copied..]);
            energy += sum_of_squares(&self.out[copied..]);
        }
        let gain = clip_gain(energy, samples.len(), self.options);
        if gain != 1.0 {
            for s in &mut self.out[body_start..] {
                *s *= gain;
            }
        }
        let tail_start = body_start - overlap * ch;
        crossfade(&mut self.out[tail_start..body_start], &head, gain, ch);
        self.previous_clip_frames = Some(frames);
        record_clip(
            &mut self.report,
            clip.label.clone(),
            clip.frames(),
            clip.pcm.sample_rate,
            (tail_start / ch) as f64 / f64::from(self.rate),
            clip.trim_info.clone(),
        );
    }

    fn pause(&mut self) {
        let duration_ms = draw_pause(&mut self.rng, self.options, &mut self.report);
        self.append_silence(duration_ms);
        self.previous_clip_frames = None;
    }

    fn finish(mut self) -> (Pcm, ConcatReport) {
        let pcm = Pcm::new(self.rate, self.channels as u16, self.out);
        finish_report(&mut self.report, pcm.frames(), self.rate);
        (pcm, self.report)
    }
}

// The arithmetic both joiners share: keeping it in one place is what makes
// `concat_streaming` produce exactly `concat`'s samples.

/// An empty report for `options`.
fn new_report(options: &ConcatOptions) -> ConcatReport {
    ConcatReport {
        total_duration_seconds: 0.0,
        file_count: 0,
        silence_segments: 0,
        natural_pauses: 0,
        total_segments: 0,
        processing_details: Vec::new(),
        crossfade_ms: options.crossfade_ms,
        normalized: options.normalize_levels,
        trim_summary: options.trim.then_some(TrimSummary {
            trim_applied: true,
            trim_threshold_ms: options.trim_threshold_ms,
            total_files: 0,
            files_trimmed: 0,
            files_not_trimmed: 0,
            total_silence_removed_seconds: 0.0,
        }),
        seed: options.seed,
    }
}

/// Records a silence token.
fn record_silence(report: &mut ConcatReport, token: SilenceToken) {
    report.silence_segments += 1;
    report
        .processing_details
        .push(ProcessingDetail::ManualSilence {
            duration_ms: token.duration_ms,
            duration_seconds: f64::from(token.duration_ms) / 1000.0,
            notation: token.notation,
        });
}

/// Records a clip of `frames` kept frames at its own `rate`.
fn record_clip(
    report: &mut ConcatReport,
    label: String,
    frames: usize,
    rate: u32,
    start_seconds: f64,
    trim_info: Option<TrimInfo>,
) {
    report.file_count += 1;
    if let (Some(summary), Some(info)) = (report.trim_summary.as_mut(), trim_info.as_ref()) {
        summary.total_files += 1;
        if info.trimmed {
            summary.files_trimmed += 1;
        } else {
            summary.files_not_trimmed += 1;
        }
        summary.total_silence_removed_seconds +=
            (info.leading_silence_removed_ms + info.trailing_silence_removed_ms) / 1000.0;
    }
    report.processing_details.push(ProcessingDetail::File {
        filename: label,
        duration_seconds: frames as f64 / f64::from(rate),
        start_seconds,
        trim_info,
    });
}

/// Draws and records the next natural pause; returns its duration in ms.
fn draw_pause(rng: &mut ChaCha8Rng, options: &ConcatOptions, report: &mut ConcatReport) -> u32 {
    let base = i64::from(options.pause_duration_ms);
    let spread = i64::from(options.pause_variation_ms);
    let drawn = rng.random_range(-spread..=spread);
    let duration = (base + drawn).max(MIN_PAUSE_MS);
    // In range by construction: 50..=3500.
    let duration_ms = u32::try_from(duration).unwrap_or(u32::MAX);
    report.natural_pauses += 1;
    report
        .processing_details
        .push(ProcessingDetail::NaturalPause {
            duration_ms,
            duration_seconds: f64::from(duration_ms) / 1000.0,
            base_duration_ms: options.pause_duration_ms,
            variation_applied_ms: duration - base,
        });
    duration_ms
}

/// Frames of a clip of `frames` frames that crossfade into the output's tail: only
/// directly after a clip (`previous` frames long), clamped to the shorter of the two.
fn overlap_frames(
    previous: Option<usize>,
    options: &ConcatOptions,
    rate: u32,
    frames: usize,
) -> usize {
    let wanted = ms_to_frames(f64::from(options.crossfade_ms), rate);
    match previous {
        Some(previous) if wanted > 0 => wanted.min(previous).min(frames),
        _ => 0,
    }
}

/// The level-normalising gain of a clip of `samples` samples whose sanitised samples'
/// squares sum to `energy`.
fn clip_gain(energy: f64, samples: usize, options: &ConcatOptions) -> f32 {
    // Silence has no level and keeps unit gain (the original's -inf dBFS broke here).
    let level = (samples > 0 && energy > 0.0).then(|| 10.0 * (energy / samples as f64).log10());
    // Near-silence of subnormal samples would ask for a gain beyond f32: keep unit gain.
    match level {
        Some(level) if options.normalize_levels && level.is_finite() => {
            linear_gain(LEVEL_TARGET_DBFS - level).unwrap_or(1.0)
        }
        _ => 1.0,
    }
}

/// Blends `head` (a clip's first frames, sanitised, before its gain) into `tail` (the
/// output's last frames, as long): a linear equal-gain crossfade, as pydub's
/// `append(crossfade=...)`.
fn crossfade(tail: &mut [f32], head: &[f32], gain: f32, channels: usize) {
    let overlap = head.len() / channels;
    for j in 0..overlap {
        let w = (j as f32 + 0.5) / overlap as f32;
        for c in 0..channels {
            let o = &mut tail[j * channels + c];
            *o = *o * (1.0 - w) + head[j * channels + c] * gain * w;
        }
    }
}

/// Fills in the totals once the last item is joined.
fn finish_report(report: &mut ConcatReport, frames: usize, rate: u32) {
    // `Pcm::duration_seconds`'s formula, so both joiners report the same value.
    report.total_duration_seconds = if rate == 0 {
        0.0
    } else {
        frames as f64 / f64::from(rate)
    };
    report.total_segments = report.file_count + report.silence_segments + report.natural_pauses;
}

#[cfg(test)]
mod tests;
