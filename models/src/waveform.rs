//! Mono audio produced by an engine: samples in [-1, 1] at the engine's own rate.

/// Mono floating-point audio as an engine produced it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Waveform {
    /// Samples, nominally in [-1, 1].
    pub samples: Vec<f32>,
    /// Samples per second.
    pub sample_rate: u32,
}

impl Waveform {
    /// Wraps samples at a rate.
    pub fn new(samples: Vec<f32>, sample_rate: u32) -> Self {
        Self {
            samples,
            sample_rate,
        }
    }

    /// Length in seconds.
    pub fn duration_seconds(&self) -> f64 {
        if self.sample_rate == 0 {
            return 0.0;
        }
        self.samples.len() as f64 / f64::from(self.sample_rate)
    }
}
