//! Sample-value hygiene: the range a float sample may take, the check the decoders use to
//! refuse anything else, and the sanitiser the DSP stages apply so that no value (NaN,
//! infinity, 3e38) can make them panic or spread non-finite samples downstream.
//!
//! Two lines of defence, because samples reach the DSP stages from two places: decoded
//! uploads are refused at decode ([`crate::AudioError::InvalidSamples`]), while samples
//! from the speech engines are never refused, only sanitised (non-finite values become
//! silence, absurd magnitudes are clamped) by each stage that computes on them.

use std::borrow::Cow;

use crate::AudioError;

/// Largest sample magnitude accepted, +60 dBFS (full scale is 1.0).
///
/// No real recording is that hot, even a float file with generous headroom, while values
/// near `f32::MAX` (3e38) overflow to infinity in any filter or FFT. Decoders refuse float
/// samples beyond it; DSP stages clamp to it.
pub const MAX_SAMPLE_MAGNITUDE: f32 = 1024.0;

/// Whether `x` is finite and within ±[`MAX_SAMPLE_MAGNITUDE`]. One comparison covers
/// all three conditions: NaN compares false and infinities exceed the bound.
#[inline]
pub(crate) fn in_range(x: f32) -> bool {
    x.abs() <= MAX_SAMPLE_MAGNITUDE
}

/// `x` as the DSP stages treat it: unchanged when in range, 0 when non-finite (there is
/// no meaningful value to keep), clamped to ±[`MAX_SAMPLE_MAGNITUDE`] otherwise.
#[inline]
pub(crate) fn sanitize(x: f32) -> f32 {
    if in_range(x) {
        x
    } else if x.is_finite() {
        x.clamp(-MAX_SAMPLE_MAGNITUDE, MAX_SAMPLE_MAGNITUDE)
    } else {
        0.0
    }
}

/// Whether every sample is in range. Blocks are folded without an early exit so the
/// compiler can vectorise the scan; only whole blocks short-circuit.
pub(crate) fn all_in_range(samples: &[f32]) -> bool {
    samples
        .chunks(256)
        .all(|block| block.iter().fold(true, |ok, &x| ok & in_range(x)))
}

/// Refuses samples that are not all in range, saying what is wrong with them.
pub(crate) fn check(samples: &[f32]) -> Result<(), AudioError> {
    if all_in_range(samples) {
        Ok(())
    } else {
        Err(invalid_samples(samples.iter().any(|x| !x.is_finite())))
    }
}

/// The decode error for out-of-range samples; `non_finite` picks the message (NaN and
/// infinities are named first when a file holds both kinds).
pub(crate) fn invalid_samples(non_finite: bool) -> AudioError {
    let reason = if non_finite {
        "the audio contains non-finite sample values (NaN or infinity)".to_owned()
    } else {
        format!(
            "the audio contains sample values far outside the audio range \
             (|x| > {MAX_SAMPLE_MAGNITUDE}, i.e. louder than +60 dBFS)"
        )
    };
    AudioError::InvalidSamples { reason }
}

/// `samples` with every value sanitised: borrowed (no copy) when all are in range, which
/// is the case for everything but broken engine output.
pub(crate) fn sanitized(samples: &[f32]) -> Cow<'_, [f32]> {
    if all_in_range(samples) {
        Cow::Borrowed(samples)
    } else {
        Cow::Owned(samples.iter().map(|&x| sanitize(x)).collect())
    }
}

/// Sanitises `samples` in place; a read-only scan when they are all in range.
pub(crate) fn sanitize_in_place(samples: &mut [f32]) {
    if !all_in_range(samples) {
        for s in samples {
            *s = sanitize(*s);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitize_keeps_the_range_and_fixes_the_rest() {
        for x in [0.0, -0.0, 1.0, -1.0, 4.0, 1024.0, -1024.0, 1e-40] {
            assert_eq!(sanitize(x).to_bits(), x.to_bits(), "{x}");
        }
        assert_eq!(sanitize(f32::NAN), 0.0);
        assert_eq!(sanitize(f32::INFINITY), 0.0);
        assert_eq!(sanitize(f32::NEG_INFINITY), 0.0);
        assert_eq!(sanitize(3e38), MAX_SAMPLE_MAGNITUDE);
        assert_eq!(sanitize(f32::MIN), -MAX_SAMPLE_MAGNITUDE);
        assert_eq!(sanitize(1024.5), MAX_SAMPLE_MAGNITUDE);
    }

    #[test]
    fn sanitized_borrows_clean_buffers_and_fixes_dirty_ones() {
        let clean = vec![0.5; 1_000];
        assert!(matches!(sanitized(&clean), Cow::Borrowed(_)));
        let mut dirty = clean.clone();
        dirty[777] = f32::NAN;
        dirty[3] = -5e30;
        let fixed = sanitized(&dirty).into_owned();
        assert_eq!((fixed[777], fixed[3], fixed[4]), (0.0, -1024.0, 0.5));
        sanitize_in_place(&mut dirty);
        assert_eq!(&dirty[..], &fixed[..]);
    }

    #[test]
    fn check_names_non_finite_values_before_huge_ones() {
        assert!(check(&[0.0, 1024.0, -1024.0]).is_ok());
        let message = |x: &[f32]| check(x).map_err(|e| e.to_string()).unwrap_err();
        assert!(message(&[0.0, 2e3]).contains("|x| > 1024"));
        assert!(message(&[2e3, f32::INFINITY]).contains("non-finite"));
        assert!(message(&[f32::NAN]).contains("NaN or infinity"));
    }
}
