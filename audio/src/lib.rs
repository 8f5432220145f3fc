//! Audio engine: decode untrusted input, resample, encode, and the speech DSP steps
//! (time stretch, trim, loudness, concatenation) over one shared PCM type.
//!
//! Nothing here knows about HTTP or storage; callers hand in bytes or [`Pcm`] and get
//! samples, encoded bytes, serialisable reports or typed [`AudioError`]s back. No sample
//! value makes any of it panic: decoders refuse NaN, infinities and magnitudes above
//! [`MAX_SAMPLE_MAGNITUDE`], and the DSP steps sanitise whatever else reaches them.
//!
//! The handler's entry points:
//! - decode: [`decode()`] / [`inspect()`] (wav, mp3, flac, ogg vorbis, ogg opus, m4a, aac),
//!   or [`decode_within()`] to reserve the decoded samples on a [`memory::Lease`] first;
//! - encode: [`encode::ExportFormat`] (parsed from `"wav"`, `"mp3"`, ...) and [`encode::encode`],
//!   or [`encode::FileEncoder`] to encode audio as it is produced;
//! - TTS / VC post-processing: [`postprocess::PostProcess::apply`];
//! - concatenation: [`timeline::parse_entries`] then [`timeline::concat`], or
//!   [`timeline::concat_streaming`] into a sink (with [`timeline::timeline_format`] to set
//!   the encoders up first) for timelines too long to hold in memory.

pub mod analysis;
mod decode;
pub mod encode;
mod error;
pub mod loudness;
pub mod memory;
mod ogg_opus;
pub mod postprocess;
pub mod resample;
pub mod tempo;
pub mod timeline;
pub mod trim;
mod values;
mod wav_fast;

pub use decode::{
    AudioInfo, ContainerFormat, DecodeLimits, MAX_CHANNELS, MAX_SAMPLE_RATE, decode, decode_within,
    inspect,
};
pub use error::AudioError;
pub use values::MAX_SAMPLE_MAGNITUDE;

/// Interleaved 32-bit float PCM at a known rate: the currency of every DSP step.
#[derive(Debug, Clone, PartialEq)]
pub struct Pcm {
    /// Sample rate in Hz.
    pub sample_rate: u32,
    /// Channel count (samples are interleaved).
    pub channels: u16,
    /// Samples, nominally in `[-1.0, 1.0]`, interleaved by channel. DSP steps may leave
    /// peaks above 1.0; encoders clamp before integer conversion. Decoded samples are
    /// always finite and within ±[`MAX_SAMPLE_MAGNITUDE`]; the DSP steps that compute on
    /// samples treat anything else (e.g. from a speech engine) as silence or clamp it.
    pub samples: Vec<f32>,
}

impl Pcm {
    /// Wraps interleaved samples.
    pub fn new(sample_rate: u32, channels: u16, samples: Vec<f32>) -> Self {
        Self {
            sample_rate,
            channels: channels.max(1),
            samples,
        }
    }

    /// Mono samples.
    pub fn mono(sample_rate: u32, samples: Vec<f32>) -> Self {
        Self::new(sample_rate, 1, samples)
    }

    /// `frames` frames of digital silence.
    pub fn silence(sample_rate: u32, channels: u16, frames: usize) -> Self {
        let channels = channels.max(1);
        Self::new(
            sample_rate,
            channels,
            vec![0.0; frames * usize::from(channels)],
        )
    }

    /// Frames (samples per channel).
    pub fn frames(&self) -> usize {
        self.samples.len() / usize::from(self.channels.max(1))
    }

    /// Duration in seconds.
    pub fn duration_seconds(&self) -> f64 {
        if self.sample_rate == 0 {
            0.0
        } else {
            self.frames() as f64 / f64::from(self.sample_rate)
        }
    }

    /// Duration in milliseconds.
    pub fn duration_ms(&self) -> f64 {
        self.duration_seconds() * 1000.0
    }

    /// Checks the invariants every DSP step relies on: a non-zero rate within
    /// [`MAX_SAMPLE_RATE`], 1..=[`MAX_CHANNELS`] channels and whole frames.
    pub fn validate(&self) -> Result<(), AudioError> {
        if self.sample_rate == 0 || self.sample_rate > MAX_SAMPLE_RATE {
            return Err(AudioError::InvalidPcm(format!(
                "sample rate {} Hz",
                self.sample_rate
            )));
        }
        let channels = usize::from(self.channels);
        if channels == 0 || channels > MAX_CHANNELS {
            return Err(AudioError::InvalidPcm(format!("{channels} channels")));
        }
        if !self.samples.len().is_multiple_of(channels) {
            return Err(AudioError::InvalidPcm(format!(
                "{} samples is not a whole number of {channels}-channel frames",
                self.samples.len()
            )));
        }
        Ok(())
    }

    /// Averages the channels into one.
    pub fn into_mono(self) -> Self {
        if self.channels <= 1 {
            return self;
        }
        let channels = usize::from(self.channels);
        let scale = 1.0 / channels as f32;
        let samples = self
            .samples
            .chunks_exact(channels)
            .map(|frame| frame.iter().sum::<f32>() * scale)
            .collect();
        Self::mono(self.sample_rate, samples)
    }

    /// Converts to `channels` channels: mono is duplicated into every channel; anything
    /// else is first averaged to mono (speech sits in the centre, so averaging a 5.1 or
    /// stereo file keeps the voice, whereas keeping "the first two channels" could drop it).
    /// Stereo to stereo (same count) is returned unchanged.
    pub fn into_channels(self, channels: u16) -> Self {
        let channels = channels.max(1);
        if self.channels == channels {
            return self;
        }
        let mono = self.into_mono();
        if channels == 1 {
            return mono;
        }
        let n = usize::from(channels);
        let mut samples = Vec::with_capacity(mono.samples.len() * n);
        for &s in &mono.samples {
            samples.extend(std::iter::repeat_n(s, n));
        }
        Self::new(mono.sample_rate, channels, samples)
    }

    /// One channel's samples, de-interleaved.
    pub(crate) fn channel(&self, index: usize) -> Vec<f32> {
        let channels = usize::from(self.channels.max(1));
        self.samples
            .iter()
            .skip(index)
            .step_by(channels)
            .copied()
            .collect()
    }

    /// Builds interleaved PCM from per-channel buffers (cut to the shortest); a single
    /// buffer is moved, not copied.
    pub(crate) fn from_channels(sample_rate: u32, mut planes: Vec<Vec<f32>>) -> Self {
        let frames = planes.iter().map(Vec::len).min().unwrap_or(0);
        if planes.len() <= 1 {
            let mut only = planes.pop().unwrap_or_default();
            only.truncate(frames);
            return Self::mono(sample_rate, only);
        }
        let channels = planes.len();
        let mut samples = Vec::with_capacity(frames * channels);
        for i in 0..frames {
            samples.extend(planes.iter().map(|p| p[i]));
        }
        Self::new(
            sample_rate,
            u16::try_from(channels).unwrap_or(u16::MAX),
            samples,
        )
    }

    /// Sample peak over all channels (absolute value).
    pub fn peak(&self) -> f32 {
        self.samples.iter().fold(0.0f32, |m, s| m.max(s.abs()))
    }
}

/// Converts milliseconds to frames at `sample_rate`, rounding to the nearest frame.
pub(crate) fn ms_to_frames(ms: f64, sample_rate: u32) -> usize {
    let frames = (ms * f64::from(sample_rate) / 1000.0).round();
    if frames.is_finite() && frames > 0.0 {
        frames as usize
    } else {
        0
    }
}

/// Converts frames to milliseconds at `sample_rate`.
pub(crate) fn frames_to_ms(frames: usize, sample_rate: u32) -> f64 {
    if sample_rate == 0 {
        0.0
    } else {
        frames as f64 * 1000.0 / f64::from(sample_rate)
    }
}

#[cfg(test)]
mod hostile_tests;
#[cfg(test)]
pub(crate) mod test_signals;
#[cfg(test)]
mod value_safety_tests;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channel_conversion_duplicates_and_averages() {
        let mono = Pcm::mono(8000, vec![0.5, -0.25]);
        let stereo = mono.clone().into_channels(2);
        assert_eq!(stereo.samples, vec![0.5, 0.5, -0.25, -0.25]);
        let back = Pcm::new(8000, 2, vec![1.0, 0.0, 0.2, 0.4]).into_channels(1);
        assert_eq!(back.samples, vec![0.5, 0.3]);
        assert_eq!(
            Pcm::from_channels(8000, vec![vec![1.0, 2.0], vec![3.0, 4.0]]).samples,
            vec![1.0, 3.0, 2.0, 4.0]
        );
    }

    #[test]
    fn validate_rejects_ragged_buffers() {
        assert!(Pcm::new(8000, 2, vec![0.0; 3]).validate().is_err());
        assert!(Pcm::new(0, 1, vec![0.0; 3]).validate().is_err());
        assert!(Pcm::new(8000, 2, vec![0.0; 4]).validate().is_ok());
    }
}
