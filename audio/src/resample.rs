//! Sample-rate conversion with rubato's FFT resampler, any channel count, exact lengths.
//!
//! `Fft` + `process_all` is rubato's recommended one-shot path: it trims the filter
//! delay and returns exactly `ceil(frames * to / from)` frames, so clip durations
//! survive resampling to the frame.

use rubato::audioadapter_buffers::direct::InterleavedSlice;
use rubato::{Fft, FixedSync, Resampler};

use crate::{AudioError, MAX_SAMPLE_RATE, Pcm};

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
pub fn resample(pcm: &Pcm, to_rate: u32) -> Result<Pcm, AudioError> {
    pcm.validate()?;
    if to_rate == 0 || to_rate > MAX_SAMPLE_RATE {
        return Err(AudioError::param(
            "sample_rate",
            format!("{to_rate} Hz is outside 1..={MAX_SAMPLE_RATE}"),
        ));
    }
    if pcm.sample_rate == to_rate {
        return Ok(pcm.clone());
    }
    let frames = pcm.frames();
    if frames == 0 {
        return Ok(Pcm::new(to_rate, pcm.channels, Vec::new()));
    }
    let channels = usize::from(pcm.channels);
    let mut resampler = Fft::<f32>::new(
        pcm.sample_rate as usize,
        to_rate as usize,
        CHUNK_FRAMES,
        channels,
        FixedSync::Both,
    )
    .map_err(|e| AudioError::Resample(e.to_string()))?;
    let input = InterleavedSlice::new(&pcm.samples, channels, frames)
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
    fn same_rate_is_identity_and_zero_rate_is_refused() {
        let pcm = Pcm::mono(24_000, sine(200.0, 24_000, 1000, 0.5));
        assert_eq!(resample(&pcm, 24_000).unwrap(), pcm);
        assert!(resample(&pcm, 0).is_err());
    }
}
