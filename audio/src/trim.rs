//! Edge-silence trimming with the original's semantics (`librosa.effects.split`, top_db 40).
//!
//! Detection reproduces librosa exactly: centred frames of 2048 samples every 512
//! (zero-padded at both ends), per-channel RMS, dB relative to the loudest frame of
//! any channel (amplitude floor 1e-5), the loudest channel per frame, and "non-silent"
//! meaning above -40 dB. An edge is trimmed only when its silence is longer than the
//! threshold, and then only down to a 50 ms pad. Internal gaps are never touched and a
//! clip with no quiet edge (including an all-silent one, which librosa reports as
//! entirely "non-silent" because it is 0 dB below its own maximum) comes back unchanged.

use std::ops::Range;

use serde::Serialize;

use crate::{AudioError, Pcm, frames_to_ms, ms_to_frames};

/// librosa's `frame_length`.
pub const FRAME_LENGTH: usize = 2048;
/// librosa's `hop_length`.
pub const HOP_LENGTH: usize = 512;
/// Frames quieter than this many dB below the loudest frame are silence.
pub const TOP_DB: f64 = 40.0;
/// Silence kept at a trimmed edge.
pub const PAD_MS: f64 = 50.0;
/// Allowed `trim_threshold_ms` range.
pub const THRESHOLD_RANGE_MS: std::ops::RangeInclusive<u32> = 50..=1000;
/// The original's default `trim_threshold_ms`.
pub const DEFAULT_THRESHOLD_MS: u32 = 200;
/// librosa's `amplitude_to_db` floor.
const AMIN: f64 = 1e-5;

/// What trimming did to one clip (the original's `trim_info`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrimInfo {
    /// Whether anything was removed.
    pub trimmed: bool,
    /// Length before trimming, in milliseconds.
    pub original_duration_ms: f64,
    /// Length after trimming, in milliseconds.
    pub trimmed_duration_ms: f64,
    /// Leading silence removed, in milliseconds.
    pub leading_silence_removed_ms: f64,
    /// Trailing silence removed, in milliseconds.
    pub trailing_silence_removed_ms: f64,
}

/// Checks `trim_threshold_ms` against its 50..=1000 range.
pub fn validate_threshold(threshold_ms: u32) -> Result<(), AudioError> {
    if THRESHOLD_RANGE_MS.contains(&threshold_ms) {
        Ok(())
    } else {
        Err(AudioError::param(
            "trim_threshold_ms",
            format!("{threshold_ms} is outside 50..=1000 ms"),
        ))
    }
}

/// The non-silent region `[start, end)` in frames, as `librosa.effects.split` would
/// report it: start of its first interval, end of its last (clipped to the length).
pub fn non_silent_bounds(pcm: &Pcm) -> (usize, usize) {
    let len = pcm.frames();
    let channels = usize::from(pcm.channels.max(1));
    let n_frames = 1 + len / HOP_LENGTH;
    // Frame t spans [t*hop - 1024, t*hop + 1024) with zeros outside the signal: exactly
    // hop-sized blocks t-2..=t+1. Summing squares per 512-sample block once makes every
    // frame four additions, with no per-sample prefix array.
    const BLOCKS_PER_FRAME: usize = FRAME_LENGTH / HOP_LENGTH;
    let n_blocks = len.div_ceil(HOP_LENGTH);
    let mut frame_rms = vec![0f64; n_frames];
    let mut reference = 0f64;
    let mut blocks = vec![0f64; n_blocks];
    for c in 0..channels {
        for (j, block) in blocks.iter_mut().enumerate() {
            let lo = j * HOP_LENGTH;
            let hi = (lo + HOP_LENGTH).min(len);
            *block = sum_of_squares(&pcm.samples[lo * channels..hi * channels], c, channels);
        }
        for (t, rms) in frame_rms.iter_mut().enumerate() {
            let first = t as isize - (BLOCKS_PER_FRAME / 2) as isize;
            let energy: f64 = (first..first + BLOCKS_PER_FRAME as isize)
                .filter(|&j| j >= 0 && (j as usize) < n_blocks)
                .map(|j| blocks[j as usize])
                .sum();
            let value = (energy / FRAME_LENGTH as f64).sqrt();
            *rms = rms.max(value);
            reference = reference.max(value);
        }
    }
    let threshold_db = 20.0 * reference.max(AMIN).log10() - TOP_DB;
    let loud = |rms: f64| 20.0 * rms.max(AMIN).log10() > threshold_db;
    let first = frame_rms.iter().position(|&r| loud(r));
    let last = frame_rms.iter().rposition(|&r| loud(r));
    match (first, last) {
        (Some(first), Some(last)) => (
            (first * HOP_LENGTH).min(len),
            ((last + 1) * HOP_LENGTH).min(len),
        ),
        // Unreachable for finite input (the loudest frame is 0 dB); NaN input keeps everything.
        _ => (0, len),
    }
}

/// Sum of squares of channel `c` in an interleaved slice, over four f64 lanes.
fn sum_of_squares(interleaved: &[f32], c: usize, channels: usize) -> f64 {
    if channels == 1 {
        let mut lanes = [0f64; 4];
        let mut chunks = interleaved.chunks_exact(4);
        for chunk in &mut chunks {
            for (lane, &s) in lanes.iter_mut().zip(chunk) {
                *lane += f64::from(s) * f64::from(s);
            }
        }
        let tail: f64 = chunks
            .remainder()
            .iter()
            .map(|&s| f64::from(s) * f64::from(s))
            .sum();
        return lanes.iter().sum::<f64>() + tail;
    }
    interleaved
        .iter()
        .skip(c)
        .step_by(channels)
        .map(|&s| f64::from(s) * f64::from(s))
        .sum()
}

/// Where [`trim`] would cut, without touching the audio: the kept frame range and the
/// report. Concat uses it to copy only the kept frames once.
pub fn plan(pcm: &Pcm, threshold_ms: u32) -> Result<(Range<usize>, TrimInfo), AudioError> {
    validate_threshold(threshold_ms)?;
    pcm.validate()?;
    let rate = pcm.sample_rate;
    let len = pcm.frames();
    let (start, end) = non_silent_bounds(pcm);
    let pad = ms_to_frames(PAD_MS, rate);
    let threshold = f64::from(threshold_ms);
    let cut_front = if frames_to_ms(start, rate) > threshold {
        start.saturating_sub(pad)
    } else {
        0
    };
    let cut_back = if frames_to_ms(len - end, rate) > threshold {
        (len - end).saturating_sub(pad)
    } else {
        0
    };
    let kept = cut_front..len - cut_back;
    let info = TrimInfo {
        trimmed: cut_front > 0 || cut_back > 0,
        original_duration_ms: frames_to_ms(len, rate),
        trimmed_duration_ms: frames_to_ms(kept.len(), rate),
        leading_silence_removed_ms: frames_to_ms(cut_front, rate),
        trailing_silence_removed_ms: frames_to_ms(cut_back, rate),
    };
    Ok((kept, info))
}

/// Trims leading/trailing silence longer than `threshold_ms`, keeping a 50 ms pad.
pub fn trim(pcm: Pcm, threshold_ms: u32) -> Result<(Pcm, TrimInfo), AudioError> {
    let (kept, info) = plan(&pcm, threshold_ms)?;
    if !info.trimmed {
        return Ok((pcm, info));
    }
    let channels = usize::from(pcm.channels);
    let mut samples = pcm.samples;
    samples.truncate(kept.end * channels);
    samples.drain(..kept.start * channels);
    Ok((Pcm::new(pcm.sample_rate, pcm.channels, samples), info))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_signals::sine;

    const RATE: u32 = 24_000;

    /// silence(lead ms) + tone(ms) + silence(gap ms) + tone(ms) + silence(trail ms).
    fn signal(lead: usize, tone: usize, gap: usize, trail: usize) -> Vec<f32> {
        let f = |ms: usize| ms * RATE as usize / 1000;
        let mut x = vec![0.0; f(lead)];
        x.extend(sine(200.0, RATE, f(tone), 0.5));
        x.extend(vec![0.0; f(gap)]);
        x.extend(sine(200.0, RATE, f(tone), 0.5));
        x.extend(vec![0.0; f(trail)]);
        x
    }

    #[test]
    fn detection_matches_librosa() {
        // Expected values are what librosa 0.11.0 `effects.split(y, top_db=40,
        // frame_length=2048, hop_length=512)` returns for the same signals (first
        // interval start, last interval end).
        for (shape, expected) in [
            ((500, 1000, 0, 500), (11_264, 61_440)),
            ((800, 500, 600, 900), (18_432, 58_880)),
            ((450, 400, 100, 750), (10_240, 33_792)),
        ] {
            let (lead, tone, gap, trail) = shape;
            let pcm = Pcm::mono(RATE, signal(lead, tone, gap, trail));
            assert_eq!(non_silent_bounds(&pcm), expected, "{shape:?}");
        }
    }

    #[test]
    fn long_edges_are_trimmed_to_a_50ms_pad_and_gaps_kept() {
        let pcm = Pcm::mono(RATE, signal(800, 500, 600, 900));
        let len = pcm.frames();
        let (start, end) = non_silent_bounds(&pcm);
        let (out, info) = trim(pcm.clone(), 200).unwrap();
        assert!(info.trimmed);
        let pad = 1200;
        assert_eq!(
            info.leading_silence_removed_ms,
            frames_to_ms(start - pad, RATE)
        );
        assert_eq!(
            info.trailing_silence_removed_ms,
            frames_to_ms(len - end - pad, RATE)
        );
        assert_eq!(out.frames(), end - start + 2 * pad);
        assert_eq!(&out.samples[..], &pcm.samples[start - pad..end + pad]);
        // The 600 ms internal gap survives intact.
        let gap_start = pad + (start..end).len() / 2;
        let zeros = out.samples.iter().filter(|s| **s == 0.0).count();
        assert!(
            zeros >= 600 * 24 - 2 * 1024,
            "internal gap lost: {zeros} zero samples, around {gap_start}"
        );
        assert!((info.trimmed_duration_ms - out.duration_ms()).abs() < 1e-9);
    }

    #[test]
    fn edges_below_the_threshold_are_untouched() {
        // Leading silence ~ 450 ms (below 500), trailing ~ 750 ms (above 500).
        let pcm = Pcm::mono(RATE, signal(450, 400, 100, 750));
        let (out, info) = trim(pcm.clone(), 500).unwrap();
        assert_eq!(info.leading_silence_removed_ms, 0.0);
        assert!(info.trailing_silence_removed_ms > 0.0);
        assert_eq!(&out.samples[..100], &pcm.samples[..100]);
        let (same, info) = trim(pcm.clone(), 1000).unwrap();
        assert!(!info.trimmed);
        assert_eq!(same, pcm);
    }

    #[test]
    fn all_silent_and_empty_clips_are_untouched() {
        let silent = Pcm::mono(RATE, vec![0.0; 48_000]);
        let (out, info) = trim(silent.clone(), 200).unwrap();
        assert!(!info.trimmed);
        assert_eq!(out, silent);
        let (out, info) = trim(Pcm::mono(RATE, Vec::new()), 200).unwrap();
        assert!(!info.trimmed && out.samples.is_empty());
    }

    #[test]
    fn stereo_uses_the_loudest_channel() {
        let mono = signal(700, 500, 0, 700);
        let left: Vec<f32> = mono.iter().map(|s| s * 0.5).collect();
        let right = vec![0.0; mono.len()];
        let pcm = Pcm::from_channels(RATE, vec![left, right]);
        let (out, info) = trim(pcm, 200).unwrap();
        assert!(info.trimmed && out.channels == 2);
        assert_eq!(
            out.frames(),
            Pcm::mono(RATE, mono).frames()
                - ms_to_frames(
                    info.leading_silence_removed_ms + info.trailing_silence_removed_ms,
                    RATE
                )
        );
    }

    #[test]
    fn threshold_range_is_enforced() {
        let pcm = Pcm::mono(RATE, vec![0.0; 100]);
        assert!(trim(pcm.clone(), 49).is_err());
        assert!(trim(pcm, 1001).is_err());
    }
}
