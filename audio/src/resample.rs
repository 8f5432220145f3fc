//! Sample-rate conversion with rubato's FFT resampler, any channel count, exact lengths.
//!
//! `Fft` + `process_all` is rubato's recommended one-shot path: it trims the filter
//! delay and returns exactly `ceil(frames * to / from)` frames, so clip durations
//! survive resampling to the frame.

use rubato::audioadapter_buffers::direct::InterleavedSlice;
use rubato::{Fft, FixedSync, Indexing, Resampler};

use crate::{AudioError, MAX_SAMPLE_RATE, Pcm, values};

/// FFT chunk size in input frames. rubato rounds it up to a multiple of the reduced
/// rate ratio; 1024 keeps the latency (and the per-call setup) small for speech clips.
const CHUNK_FRAMES: usize = 1024;

/// The number of frames [`resample`] returns for `frames` input frames.
pub fn output_frames(frames: usize, from_rate: u32, to_rate: u32) -> usize {
    if from_rate == to_rate || from_rate == 0 {
        return frames;
    }
    // Integer ceil(frames * to / from): the f64 product rubato uses is exact below 2^53.
    let num = frames as u128 * u128::from(to_rate);
    usize::try_from(num.div_ceil(u128::from(from_rate))).unwrap_or(usize::MAX)
}

/// Resamples `pcm` to `to_rate` Hz.
///
/// Returns exactly `ceil(frames * to_rate / sample_rate)` frames with the same channel
/// count; when the rates already match the input is returned as is (cloned).
///
/// Samples are sanitised first (NaN and infinities as 0, magnitudes clamped to
/// ±[`crate::MAX_SAMPLE_MAGNITUDE`]): one non-finite value would otherwise poison the
/// FFT and make rubato panic, and the output is always finite.
pub fn resample(pcm: &Pcm, to_rate: u32) -> Result<Pcm, AudioError> {
    pcm.validate()?;
    if to_rate == 0 || to_rate > MAX_SAMPLE_RATE {
        return Err(AudioError::param(
            "sample_rate",
            format!("{to_rate} Hz is outside 1..={MAX_SAMPLE_RATE}"),
        ));
    }
    let clean = values::sanitized(&pcm.samples);
    if pcm.sample_rate == to_rate {
        return Ok(Pcm::new(to_rate, pcm.channels, clean.into_owned()));
    }
    let frames = pcm.frames();
    if frames == 0 {
        return Ok(Pcm::new(to_rate, pcm.channels, Vec::new()));
    }
    let channels = usize::from(pcm.channels);
    let mut resampler = fft(pcm.sample_rate, to_rate, channels)?;
    let input = InterleavedSlice::new(&clean, channels, frames)
        .map_err(|e| AudioError::Resample(e.to_string()))?;
    let output = resampler
        .process_all(&input, frames, None)
        .map_err(|e| AudioError::Resample(e.to_string()))?;
    let mut samples = output.take_data();
    // process_all promises ceil(len * ratio); enforce it so callers can rely on the count.
    samples.resize(
        output_frames(frames, pcm.sample_rate, to_rate) * channels,
        0.0,
    );
    Ok(Pcm::new(to_rate, pcm.channels, samples))
}

/// The resampler both [`resample`] and [`StreamResampler`] use, so a stream resamples
/// exactly as the one-shot path does.
fn fft(from_rate: u32, to_rate: u32, channels: usize) -> Result<Fft<f32>, AudioError> {
    Fft::<f32>::new(
        from_rate as usize,
        to_rate as usize,
        CHUNK_FRAMES,
        channels,
        FixedSync::Both,
    )
    .map_err(|e| AudioError::Resample(e.to_string()))
}

/// Incremental resampling for streams whose blocks arrive one at a time.
///
/// Feeds rubato whole chunks as they fill, trims the startup delay and, at
/// [`StreamResampler::finish`], pads the tail so the total is exactly
/// `ceil(frames * to / from)` frames: the same samples [`resample`] returns for the
/// concatenated input (same resampler, same chunking).
pub(crate) struct StreamResampler {
    resampler: Fft<f32>,
    channels: usize,
    from_rate: u32,
    to_rate: u32,
    /// Interleaved input not yet handed to rubato (less than one chunk between calls).
    pending: Vec<f32>,
    /// Output frames of startup delay still to drop.
    to_trim: usize,
    /// Frames received and frames returned so far.
    frames_in: usize,
    frames_out: usize,
    /// Scratch output buffer, one chunk's worst case.
    scratch: Vec<f32>,
}

impl StreamResampler {
    /// A resampler from `from_rate` to `to_rate` Hz for `channels` interleaved channels.
    pub(crate) fn new(from_rate: u32, to_rate: u32, channels: usize) -> Result<Self, AudioError> {
        if from_rate == 0
            || to_rate == 0
            || from_rate > MAX_SAMPLE_RATE
            || to_rate > MAX_SAMPLE_RATE
        {
            return Err(AudioError::param(
                "sample_rate",
                format!("{from_rate} -> {to_rate} Hz is outside 1..={MAX_SAMPLE_RATE}"),
            ));
        }
        let channels = channels.max(1);
        let resampler = fft(from_rate, to_rate, channels)?;
        let to_trim = resampler.output_delay();
        let scratch = vec![0.0; resampler.output_frames_max() * channels];
        Ok(Self {
            resampler,
            channels,
            from_rate,
            to_rate,
            pending: Vec::new(),
            to_trim,
            frames_in: 0,
            frames_out: 0,
            scratch,
        })
    }

    /// Takes the next interleaved block (whole frames; a ragged tail is dropped) and
    /// returns the output frames that are ready. Samples are sanitised as [`resample`]
    /// does, so both still agree sample for sample.
    pub(crate) fn push(&mut self, samples: &[f32]) -> Result<Vec<f32>, AudioError> {
        let whole = samples.len() - samples.len() % self.channels;
        self.pending
            .extend(samples[..whole].iter().map(|&s| values::sanitize(s)));
        self.frames_in += whole / self.channels;
        let mut out = Vec::new();
        loop {
            let need = self.resampler.input_frames_next();
            if self.pending.len() / self.channels < need {
                break;
            }
            let used = self.run(need, &mut out)?;
            self.pending.drain(..used * self.channels);
        }
        Ok(out)
    }

    /// Resamples what is left, padding with silence, and returns the last frames so the
    /// stream's total is exactly `ceil(frames_in * to / from)`.
    pub(crate) fn finish(mut self) -> Result<Vec<f32>, AudioError> {
        let expected = output_frames(self.frames_in, self.from_rate, self.to_rate);
        let mut out = Vec::new();
        let left = self.pending.len() / self.channels;
        if left > 0 {
            self.run(left, &mut out)?;
            self.pending.clear();
        }
        // Pump silence until the delay line has given up the last real frame. Each call
        // yields at least one frame for any sane ratio; the bound only guards the loop.
        let mut guard = 0usize;
        while self.frames_out < expected && guard < 1 + expected + self.to_trim {
            let before = self.frames_out + self.to_trim;
            self.run(0, &mut out)?;
            if self.frames_out + self.to_trim == before {
                guard += 1;
            }
        }
        let excess = self.frames_out.saturating_sub(expected);
        out.truncate(out.len().saturating_sub(excess * self.channels));
        out.resize(
            out.len() + expected.saturating_sub(self.frames_out) * self.channels,
            0.0,
        );
        Ok(out)
    }

    /// One rubato call on the first `frames` pending frames (fewer than a chunk are
    /// padded with silence); appends the output after trimming the startup delay and
    /// returns the input frames consumed.
    fn run(&mut self, frames: usize, out: &mut Vec<f32>) -> Result<usize, AudioError> {
        let err = |e: &dyn std::fmt::Display| AudioError::Resample(e.to_string());
        let need = self.resampler.input_frames_next();
        let available = self.pending.len() / self.channels;
        let input =
            InterleavedSlice::new(&self.pending, self.channels, available).map_err(|e| err(&e))?;
        let out_frames = self.scratch.len() / self.channels;
        let mut output = InterleavedSlice::new_mut(&mut self.scratch, self.channels, out_frames)
            .map_err(|e| err(&e))?;
        let indexing = Indexing {
            input_offset: 0,
            output_offset: 0,
            partial_len: (frames < need).then_some(frames.min(available)),
            active_channels_mask: None,
        };
        let (used, produced) = self
            .resampler
            .process_into_buffer(&input, &mut output, Some(&indexing))
            .map_err(|e| err(&e))?;
        let skip = self.to_trim.min(produced);
        self.to_trim -= skip;
        out.extend_from_slice(&self.scratch[skip * self.channels..produced * self.channels]);
        self.frames_out += produced - skip;
        Ok(used.min(frames))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_signals::{sine, zero_crossing_hz};

    #[test]
    fn length_is_exact_ceil_of_ratio() {
        for (from, to, frames) in [
            (44_100, 24_000, 44_101),
            (24_000, 48_000, 12_345),
            (22_050, 16_000, 1),
            (48_000, 44_100, 4_800),
        ] {
            let pcm = Pcm::mono(from, sine(440.0, from, frames, 0.5));
            let out = resample(&pcm, to).unwrap();
            let expected = (frames as u64 * u64::from(to)).div_ceil(u64::from(from)) as usize;
            assert_eq!(out.frames(), expected, "{from}->{to} of {frames}");
            assert_eq!(out.sample_rate, to);
        }
    }

    #[test]
    fn tone_keeps_its_frequency() {
        let pcm = Pcm::mono(24_000, sine(440.0, 24_000, 24_000, 0.5));
        let out = resample(&pcm, 44_100).unwrap();
        let hz = zero_crossing_hz(&out.samples[2000..out.samples.len() - 2000], 44_100);
        assert!((hz - 440.0).abs() < 440.0 * 0.005, "{hz} Hz");
    }

    #[test]
    fn stereo_channels_stay_separate() {
        let left = sine(300.0, 16_000, 8_000, 0.5);
        let right = vec![0.0; 8_000];
        let pcm = Pcm::from_channels(16_000, vec![left, right]);
        let out = resample(&pcm, 48_000).unwrap();
        assert_eq!(out.frames(), 24_000);
        assert!(out.channel(0).iter().any(|s| s.abs() > 0.4));
        assert!(out.channel(1).iter().all(|s| s.abs() < 1e-3));
    }

    #[test]
    fn streaming_matches_one_shot_sample_for_sample() {
        for (from, to, frames) in [
            (22_050, 24_000, 30_001),
            (44_100, 48_000, 700),
            (7_000, 8_000, 0),
        ] {
            let pcm = Pcm::mono(from, sine(440.0, from, frames, 0.5));
            let one_shot = resample(&pcm, to).unwrap();
            let mut stream = StreamResampler::new(from, to, 1).unwrap();
            let mut out = Vec::new();
            let mut at = 0;
            for size in [1000, 17, 0, 4096, 3].iter().cycle() {
                if at >= frames {
                    break;
                }
                let end = (at + size).min(frames);
                out.extend(stream.push(&pcm.samples[at..end]).unwrap());
                at = end;
            }
            out.extend(stream.finish().unwrap());
            assert_eq!(
                out.len(),
                one_shot.samples.len(),
                "{from}->{to} of {frames}"
            );
            let worst = out
                .iter()
                .zip(&one_shot.samples)
                .fold(0.0f32, |m, (a, b)| m.max((a - b).abs()));
            assert!(worst < 1e-6, "{from}->{to}: {worst}");
        }
    }

    #[test]
    fn same_rate_is_identity_and_zero_rate_is_refused() {
        let pcm = Pcm::mono(24_000, sine(200.0, 24_000, 1000, 0.5));
        assert_eq!(resample(&pcm, 24_000).unwrap(), pcm);
        assert!(resample(&pcm, 0).is_err());
    }
}
