//! The post-processing step shared by TTS and VC: speed, then trim, then loudness
//! normalisation (the original's order), with validation that names the bad field.

use serde::{Deserialize, Serialize};

use crate::loudness::{self, EbuTarget, NormalizationReport, NormalizeMethod};
use crate::tempo::{self, validate_speed};
use crate::trim::{self, TrimInfo, validate_threshold};
use crate::{AudioError, Pcm, values};

/// Allowed `normalize_level` (LUFS), as ffmpeg `loudnorm`'s `I`.
pub const LEVEL_RANGE_LUFS: std::ops::RangeInclusive<f64> = -70.0..=-5.0;
/// Allowed `normalize_tp` (dBTP), as `loudnorm`'s `TP`.
pub const TRUE_PEAK_RANGE_DBTP: std::ops::RangeInclusive<f64> = -9.0..=0.0;
/// Allowed `normalize_lra` (LU), as `loudnorm`'s `LRA`.
pub const LRA_RANGE_LU: std::ops::RangeInclusive<f64> = 1.0..=50.0;

/// Post-processing settings, with the API's field names and the original's defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PostProcess {
    /// Tempo factor, 0.25..=4.0; exactly 1.0 skips the step.
    pub speed_factor: f64,
    /// Trim edge silence.
    pub trim: bool,
    /// Edge silence longer than this is trimmed, 50..=1000 ms.
    pub trim_threshold_ms: u32,
    /// Normalise loudness.
    pub normalize_audio: bool,
    /// `ebu` (integrated loudness + true-peak ceiling) or `peak` (sample peak to `normalize_tp`).
    pub normalize_method: NormalizeMethod,
    /// EBU integrated loudness target, LUFS (-70..=-5).
    pub normalize_level: f64,
    /// EBU true-peak ceiling in dBTP, and the `peak` method's target in dBFS (-9..=0).
    pub normalize_tp: f64,
    /// EBU loudness range target, LU (1..=50); measured and reported, not enforced.
    pub normalize_lra: f64,
}

impl Default for PostProcess {
    fn default() -> Self {
        Self {
            speed_factor: 1.0,
            trim: false,
            trim_threshold_ms: trim::DEFAULT_THRESHOLD_MS,
            normalize_audio: false,
            normalize_method: NormalizeMethod::Ebu,
            normalize_level: loudness::DEFAULT_LUFS,
            normalize_tp: loudness::DEFAULT_TRUE_PEAK_DBTP,
            normalize_lra: loudness::DEFAULT_LRA_LU,
        }
    }
}

/// What [`PostProcess::apply`] did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PostProcessReport {
    /// Duration before any step, seconds.
    pub input_duration_seconds: f64,
    /// Duration after all steps, seconds.
    pub output_duration_seconds: f64,
    /// The speed factor applied, or `null` when the step was skipped (1.0).
    pub speed_factor_applied: Option<f64>,
    /// Trim details, or `null` when trimming was off.
    pub trim_info: Option<TrimInfo>,
    /// Normalisation details, or `null` when it was off.
    pub normalization: Option<NormalizationReport>,
}

fn check_range(
    field: &'static str,
    value: f64,
    range: &std::ops::RangeInclusive<f64>,
) -> Result<(), AudioError> {
    if range.contains(&value) {
        Ok(())
    } else {
        Err(AudioError::param(
            field,
            format!("{value} is outside {}..={}", range.start(), range.end()),
        ))
    }
}

impl PostProcess {
    /// Checks every field that will be used; fields of disabled steps are not checked
    /// (a `trim_threshold_ms` of 0 with `trim: false` is harmless).
    pub fn validate(&self) -> Result<(), AudioError> {
        validate_speed(self.speed_factor)?;
        if self.trim {
            validate_threshold(self.trim_threshold_ms)?;
        }
        if self.normalize_audio {
            check_range("normalize_tp", self.normalize_tp, &TRUE_PEAK_RANGE_DBTP)?;
            if self.normalize_method == NormalizeMethod::Ebu {
                check_range("normalize_level", self.normalize_level, &LEVEL_RANGE_LUFS)?;
                check_range("normalize_lra", self.normalize_lra, &LRA_RANGE_LU)?;
            }
        }
        Ok(())
    }

    /// Whether any step would change the audio.
    pub fn is_noop(&self) -> bool {
        self.speed_factor == 1.0 && !self.trim && !self.normalize_audio
    }

    /// Runs speed, then trim, then normalisation.
    ///
    /// The output never holds a non-finite sample: NaN and infinities (which a speech
    /// engine can produce) are treated as silence and magnitudes clamped to
    /// ±[`crate::MAX_SAMPLE_MAGNITUDE`] before any step, even when every step is off.
    pub fn apply(&self, mut pcm: Pcm) -> Result<(Pcm, PostProcessReport), AudioError> {
        self.validate()?;
        pcm.validate()?;
        values::sanitize_in_place(&mut pcm.samples);
        let input_duration_seconds = pcm.duration_seconds();
        let speed_factor_applied = (self.speed_factor != 1.0).then_some(self.speed_factor);
        let pcm = tempo::change_speed(pcm, self.speed_factor)?;
        let (pcm, trim_info) = if self.trim {
            let (pcm, info) = trim::trim(pcm, self.trim_threshold_ms)?;
            (pcm, Some(info))
        } else {
            (pcm, None)
        };
        let (pcm, normalization) = if self.normalize_audio {
            let (pcm, report) = match self.normalize_method {
                NormalizeMethod::Ebu => {
                    let target = EbuTarget {
                        integrated_lufs: self.normalize_level,
                        true_peak_dbtp: self.normalize_tp,
                        lra_lu: self.normalize_lra,
                    };
                    loudness::normalize_ebu(pcm, &target)?
                }
                NormalizeMethod::Peak => loudness::normalize_peak(pcm, self.normalize_tp)?,
            };
            (pcm, Some(report))
        } else {
            (pcm, None)
        };
        let report = PostProcessReport {
            input_duration_seconds,
            output_duration_seconds: pcm.duration_seconds(),
            speed_factor_applied,
            trim_info,
            normalization,
        };
        Ok((pcm, report))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_signals::{sine, speech_like};

    const RATE: u32 = 24_000;

    #[test]
    fn default_is_a_noop_that_returns_the_input() {
        let pcm = Pcm::mono(RATE, speech_like(RATE, 12_000));
        let (out, report) = PostProcess::default().apply(pcm.clone()).unwrap();
        assert!(PostProcess::default().is_noop());
        assert_eq!(out, pcm);
        assert_eq!(
            (
                report.speed_factor_applied,
                report.trim_info,
                report.normalization
            ),
            (None, None, None)
        );
    }

    #[test]
    fn steps_run_in_order_speed_trim_normalise() {
        // 1 s silence + 2 s voice + 1 s silence. At 2x that is 0.5 + 1 + 0.5 s, and the
        // trim must see the *sped-up* silences (500 ms each, above the 200 ms threshold).
        let mut x = vec![0.0; RATE as usize];
        x.extend(speech_like(RATE, 2 * RATE as usize));
        x.extend(vec![0.0; RATE as usize]);
        let settings = PostProcess {
            speed_factor: 2.0,
            trim: true,
            normalize_audio: true,
            ..PostProcess::default()
        };
        let (out, report) = settings.apply(Pcm::mono(RATE, x)).unwrap();
        assert_eq!(report.speed_factor_applied, Some(2.0));
        let trim = report.trim_info.unwrap();
        assert!(trim.trimmed);
        assert!(
            (trim.original_duration_ms - 2000.0).abs() < 1e-6,
            "trim ran after speed"
        );
        assert!(trim.leading_silence_removed_ms > 350.0 && trim.leading_silence_removed_ms < 500.0);
        let normalization = report.normalization.unwrap();
        assert!(normalization.applied);
        let lufs = loudness::measure(&out).unwrap().integrated_lufs.unwrap();
        assert!((lufs - -24.0).abs() <= 0.5, "normalised last: {lufs}");
        assert!((report.output_duration_seconds - out.duration_seconds()).abs() < 1e-12);
    }

    #[test]
    fn peak_method_uses_normalize_tp() {
        let settings = PostProcess {
            normalize_audio: true,
            normalize_method: NormalizeMethod::Peak,
            normalize_tp: -3.0,
            ..PostProcess::default()
        };
        let (out, _) = settings
            .apply(Pcm::mono(RATE, sine(200.0, RATE, 4800, 0.1)))
            .unwrap();
        assert!((20.0 * f64::from(out.peak()).log10() - -3.0).abs() < 0.01);
    }

    #[test]
    fn validation_names_the_field() {
        let cases = [
            (
                PostProcess {
                    speed_factor: 4.5,
                    ..PostProcess::default()
                },
                "speed_factor",
            ),
            (
                PostProcess {
                    speed_factor: 0.2,
                    ..PostProcess::default()
                },
                "speed_factor",
            ),
            (
                PostProcess {
                    trim: true,
                    trim_threshold_ms: 1500,
                    ..PostProcess::default()
                },
                "trim_threshold_ms",
            ),
            (
                PostProcess {
                    normalize_audio: true,
                    normalize_level: 0.0,
                    ..PostProcess::default()
                },
                "normalize_level",
            ),
            (
                PostProcess {
                    normalize_audio: true,
                    normalize_tp: 1.0,
                    ..PostProcess::default()
                },
                "normalize_tp",
            ),
            (
                PostProcess {
                    normalize_audio: true,
                    normalize_lra: f64::NAN,
                    ..PostProcess::default()
                },
                "normalize_lra",
            ),
        ];
        for (settings, expected) in cases {
            match settings.apply(Pcm::mono(RATE, vec![0.0; 100])) {
                Err(AudioError::InvalidParameter { field, .. }) => assert_eq!(field, expected),
                other => panic!("{expected}: {other:?}"),
            }
        }
        // Disabled steps are not validated.
        assert!(
            PostProcess {
                trim_threshold_ms: 0,
                normalize_level: 99.0,
                ..PostProcess::default()
            }
            .validate()
            .is_ok()
        );
    }

    #[test]
    fn deserialises_with_api_names_and_defaults() {
        let settings: PostProcess =
            serde_json::from_str(r#"{"speed_factor": 1.25, "normalize_method": "peak"}"#).unwrap();
        assert_eq!(settings.speed_factor, 1.25);
        assert_eq!(settings.normalize_method, NormalizeMethod::Peak);
        assert_eq!(settings.trim_threshold_ms, 200);
        assert!(serde_json::from_str::<PostProcess>(r#"{"normalize_method": "rms"}"#).is_err());
    }
}
