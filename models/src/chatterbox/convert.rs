//! Voice conversion with only the speech encoder and the conditional decoder (spec B6):
//! the source's speech tokens decoded with the target's speaker tensors, chunk by chunk,
//! joined with a linear crossfade.

use std::sync::atomic::{AtomicBool, Ordering};

use super::{Chatterbox, SAMPLE_RATE, SAMPLES_PER_TOKEN, VoiceConditioning};
use crate::{ModelError, Waveform};

/// The speech encoder only tokenises the first 10 s of what it is given, so sources are fed
/// to it in windows of this many samples (a whole number of tokens).
const ENCODER_WINDOW: usize = 10 * SAMPLE_RATE as usize;

/// How the source is cut for conversion.
#[derive(Debug, Clone, PartialEq)]
pub struct ConversionOptions {
    /// Length of each decoded chunk in seconds (at least one 40 ms token; rounded down to
    /// whole tokens).
    pub chunk_sec: f32,
    /// Overlap between consecutive chunks in seconds, crossfaded linearly; must be shorter
    /// than a chunk.
    pub overlap_sec: f32,
}

impl Default for ConversionOptions {
    /// 20 s chunks (one decoder call for most clips) with a 0.4 s crossfade.
    fn default() -> Self {
        Self {
            chunk_sec: 20.0,
            overlap_sec: 0.4,
        }
    }
}

impl ConversionOptions {
    /// (chunk, overlap) in samples; the chunk is whole tokens so each decoded chunk lines up
    /// with its source span.
    fn in_samples(&self) -> Result<(usize, usize), ModelError> {
        let invalid = |why: String| Err(ModelError::InvalidInput(why));
        if !(self.chunk_sec.is_finite() && self.overlap_sec.is_finite()) || self.overlap_sec < 0.0 {
            return invalid(format!(
                "chunk_sec ({}) and overlap_sec ({}) must be finite, overlap ≥ 0",
                self.chunk_sec, self.overlap_sec
            ));
        }
        if self.overlap_sec >= self.chunk_sec {
            return invalid(format!(
                "overlap_sec ({}) must be shorter than chunk_sec ({})",
                self.overlap_sec, self.chunk_sec
            ));
        }
        let seconds_to_samples =
            |seconds: f32| (f64::from(seconds) * f64::from(SAMPLE_RATE)).round();
        let chunk_samples = seconds_to_samples(self.chunk_sec);
        // Bounded so the float-to-int conversion below cannot saturate into nonsense.
        if !(f64::from(SAMPLES_PER_TOKEN as u32)..=1e12).contains(&chunk_samples) {
            return invalid(format!(
                "chunk_sec ({}) must be between 0.04 s and about 11 hours",
                self.chunk_sec
            ));
        }
        let chunk = chunk_samples as usize / SAMPLES_PER_TOKEN * SAMPLES_PER_TOKEN;
        let overlap = seconds_to_samples(self.overlap_sec) as usize;
        if overlap >= chunk {
            return invalid(format!(
                "overlap_sec ({}) must be shorter than chunk_sec rounded to whole 40 ms tokens ({} s)",
                self.overlap_sec,
                chunk as f64 / f64::from(SAMPLE_RATE)
            ));
        }
        Ok((chunk, overlap))
    }
}

impl Chatterbox {
    /// Re-speaks `source_24k` (24 kHz mono) in `target`'s voice. The output has the
    /// source's length; any failing chunk fails the call.
    pub fn convert(
        &self,
        source_24k: &[f32],
        target: &VoiceConditioning,
        options: &ConversionOptions,
    ) -> Result<Waveform, ModelError> {
        self.convert_until(source_24k, target, options, &AtomicBool::new(false))
    }

    /// [`Self::convert`] that checks `stop` before every chunk and returns
    /// [`ModelError::Stopped`] once it is set.
    pub fn convert_until(
        &self,
        source_24k: &[f32],
        target: &VoiceConditioning,
        options: &ConversionOptions,
        stop: &AtomicBool,
    ) -> Result<Waveform, ModelError> {
        self.check_voice(target)?;
        let (chunk, overlap) = options.in_samples()?;
        if source_24k.len() < SAMPLES_PER_TOKEN {
            return Err(ModelError::InvalidInput(format!(
                "source audio is too short: {} samples, need at least {SAMPLES_PER_TOKEN} (40 ms at 24 kHz)",
                source_24k.len()
            )));
        }
        let step = chunk - overlap;
        let mut output: Vec<f32> = Vec::with_capacity(source_24k.len());
        let mut start = 0;
        loop {
            if stop.load(Ordering::Relaxed) {
                return Err(ModelError::Stopped);
            }
            let end = (start + chunk).min(source_24k.len());
            let decoded = self.convert_chunk(&source_24k[start..end], target)?;
            // Everything already written from `start` on is the previous chunk's tail.
            let faded = output.len() - start;
            for (index, (old, new)) in output[start..].iter_mut().zip(&decoded).enumerate() {
                let weight = (index + 1) as f32 / (faded + 1) as f32;
                *old = *old * (1.0 - weight) + new * weight;
            }
            output.extend_from_slice(&decoded[faded..]);
            if end == source_24k.len() {
                break;
            }
            start += step;
        }
        Ok(Waveform::new(output, SAMPLE_RATE))
    }

    /// One chunk: tokens from the speech encoder (in ≤ 10 s windows; the last token padded
    /// with silence), decoded after the target's prompt tokens; returns exactly
    /// `piece.len()` samples.
    fn convert_chunk(
        &self,
        piece: &[f32],
        target: &VoiceConditioning,
    ) -> Result<Vec<f32>, ModelError> {
        let padded_len = piece.len().div_ceil(SAMPLES_PER_TOKEN) * SAMPLES_PER_TOKEN;
        let mut padded = piece.to_vec();
        padded.resize(padded_len, 0.0);
        let mut tokens = target.audio_tokens.clone();
        for window in padded.chunks(ENCODER_WINDOW) {
            tokens.extend_from_slice(&self.run_speech_encoder(window)?.audio_tokens);
        }
        let mut samples = self.decode(tokens, target)?;
        // The decoder gives 960 samples per source token; allow one token of slack from
        // exports that round differently, but never pad a real shortfall with silence.
        if samples.len() + SAMPLES_PER_TOKEN < piece.len() {
            return Err(ModelError::inference(
                self.conditional_decoder.label,
                format!(
                    "decoded {} samples for a {}-sample chunk",
                    samples.len(),
                    piece.len()
                ),
            ));
        }
        samples.resize(piece.len(), 0.0);
        Ok(samples)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_become_whole_token_chunks() {
        let options = ConversionOptions {
            chunk_sec: 1.0,
            overlap_sec: 0.1,
        };
        assert_eq!(options.in_samples().unwrap(), (24_000, 2_400));
        let odd = ConversionOptions {
            chunk_sec: 1.03,
            overlap_sec: 0.0,
        };
        assert_eq!(odd.in_samples().unwrap().0, 24_000);
    }

    #[test]
    fn bad_options_are_rejected() {
        for (chunk_sec, overlap_sec) in [
            (1.0, 1.0),
            (1.0, 2.0),
            (0.01, 0.0),
            (f32::NAN, 0.0),
            (1.0, -0.1),
            (0.05, 0.045),
            (f32::INFINITY, 0.0),
        ] {
            let options = ConversionOptions {
                chunk_sec,
                overlap_sec,
            };
            assert!(
                matches!(options.in_samples(), Err(ModelError::InvalidInput(_))),
                "{chunk_sec} {overlap_sec}"
            );
        }
    }
}
