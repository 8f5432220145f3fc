//! Audio engine: decode untrusted input, and the PCM type every DSP step shares.
//!
//! Nothing here knows about HTTP or storage; callers hand in bytes and get samples
//! or typed errors back.

mod decode;
mod error;

pub use decode::{
    AudioInfo, ContainerFormat, DecodeLimits, MAX_CHANNELS, MAX_SAMPLE_RATE, decode, inspect,
};
pub use error::AudioError;

/// Interleaved 32-bit float PCM at a known rate: the currency of every DSP step.
#[derive(Debug, Clone, PartialEq)]
pub struct Pcm {
    /// Sample rate in Hz.
    pub sample_rate: u32,
    /// Channel count (samples are interleaved).
    pub channels: u16,
    /// Samples in `[-1.0, 1.0]`, interleaved by channel.
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
}
