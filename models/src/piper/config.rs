//! A Piper voice's `<voice>.onnx.json`: sample rate, espeak voice, default scales and the
//! phoneme → id map.

use std::collections::HashMap;
use std::path::Path;

use serde::Deserialize;

use crate::ModelError;

/// The parts of a Piper voice config this engine uses (unknown fields are ignored).
#[derive(Debug, Clone, Deserialize)]
pub struct PiperConfig {
    /// Output audio settings.
    pub audio: AudioConfig,
    /// espeak-ng settings (absent for voices that do not phonemise with espeak).
    #[serde(default)]
    pub espeak: EspeakConfig,
    /// Default synthesis scales.
    #[serde(default)]
    pub inference: InferenceConfig,
    /// Phoneme (one or more codepoints) → model ids.
    pub phoneme_id_map: HashMap<String, Vec<i64>>,
    /// Number of speakers; a `sid` input is fed only when this is above 1.
    #[serde(default = "one")]
    pub num_speakers: u32,
    /// Speaker name → speaker id.
    #[serde(default)]
    pub speaker_id_map: HashMap<String, i64>,
    /// How text becomes phonemes; only `"espeak"` is supported here.
    #[serde(default = "espeak_type")]
    pub phoneme_type: String,
    /// Runs of phonemes that newer voices merge into one multi-codepoint phoneme (piper's
    /// `vowel_clusters`, e.g. `["a", "ɪ"]` → `"aɪ"`).
    #[serde(default)]
    pub vowel_clusters: Vec<Vec<String>>,
}

/// `audio` in the voice config.
#[derive(Debug, Clone, Deserialize)]
pub struct AudioConfig {
    /// Samples per second of the model's output.
    pub sample_rate: u32,
}

/// `espeak` in the voice config.
#[derive(Debug, Clone, Deserialize)]
pub struct EspeakConfig {
    /// espeak-ng voice name, e.g. `en-us`.
    pub voice: String,
}

impl Default for EspeakConfig {
    fn default() -> Self {
        Self {
            voice: "en-us".to_owned(),
        }
    }
}

/// `inference` in the voice config: the voice's default scales.
#[derive(Debug, Clone, Copy, Deserialize)]
pub struct InferenceConfig {
    /// Noise added to the generator (expressiveness).
    #[serde(default = "default_noise_scale")]
    pub noise_scale: f32,
    /// Phoneme duration multiplier; larger is slower speech.
    #[serde(default = "one_f32")]
    pub length_scale: f32,
    /// Noise added to the duration predictor.
    #[serde(default = "default_noise_w")]
    pub noise_w: f32,
}

impl Default for InferenceConfig {
    fn default() -> Self {
        Self {
            noise_scale: default_noise_scale(),
            length_scale: one_f32(),
            noise_w: default_noise_w(),
        }
    }
}

fn one() -> u32 {
    1
}
fn one_f32() -> f32 {
    1.0
}
fn default_noise_scale() -> f32 {
    0.667
}
fn default_noise_w() -> f32 {
    0.8
}
fn espeak_type() -> String {
    "espeak".to_owned()
}

impl PiperConfig {
    /// Parses a voice config from JSON text; `path` only names it in errors.
    pub fn from_json(json: &str, path: &Path) -> Result<Self, ModelError> {
        let config: Self = serde_json::from_str(json)
            .map_err(|e| ModelError::bad_model(path, format!("voice config: {e}")))?;
        config.validate(path)?;
        Ok(config)
    }

    /// Reads and parses a voice config file.
    pub fn from_file(path: &Path) -> Result<Self, ModelError> {
        let json = std::fs::read_to_string(path).map_err(|source| {
            if source.kind() == std::io::ErrorKind::NotFound {
                ModelError::MissingFile(path.to_path_buf())
            } else {
                ModelError::Io {
                    path: path.to_path_buf(),
                    source,
                }
            }
        })?;
        Self::from_json(&json, path)
    }

    fn validate(&self, path: &Path) -> Result<(), ModelError> {
        if self.phoneme_type != "espeak" {
            return Err(ModelError::bad_model(
                path,
                format!(
                    "phoneme_type {:?} is not supported (only espeak)",
                    self.phoneme_type
                ),
            ));
        }
        for symbol in ["^", "_", "$"] {
            if !self.phoneme_id_map.contains_key(symbol) {
                return Err(ModelError::bad_model(
                    path,
                    format!("phoneme_id_map has no {symbol:?}"),
                ));
            }
        }
        if self.audio.sample_rate == 0 {
            return Err(ModelError::bad_model(path, "audio.sample_rate is 0"));
        }
        // The voice name becomes a program argument; refuse anything that reads as an option.
        if self.espeak.voice.is_empty() || self.espeak.voice.starts_with('-') {
            return Err(ModelError::bad_model(
                path,
                format!("espeak.voice {:?} is not a voice name", self.espeak.voice),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"{
        "audio": {"sample_rate": 16000},
        "espeak": {"voice": "de"},
        "inference": {"noise_scale": 0.5, "length_scale": 1.2, "noise_w": 0.7},
        "phoneme_id_map": {"_": [0], "^": [1], "$": [2], "aɪ": [9, 10]},
        "num_speakers": 3,
        "speaker_id_map": {"anna": 2},
        "extra": true
    }"#;

    #[test]
    fn parses_fields_and_ignores_unknown_ones() {
        let config = PiperConfig::from_json(MINIMAL, Path::new("v.json")).unwrap();
        assert_eq!(config.audio.sample_rate, 16000);
        assert_eq!(config.espeak.voice, "de");
        assert_eq!(config.inference.length_scale, 1.2);
        assert_eq!(config.phoneme_id_map["aɪ"], [9, 10]);
        assert_eq!(config.num_speakers, 3);
        assert_eq!(config.speaker_id_map["anna"], 2);
        assert_eq!(config.phoneme_type, "espeak");
    }

    #[test]
    fn rejects_configs_it_cannot_use() {
        let no_bos = MINIMAL.replace(r#""^": [1], "#, "");
        assert!(PiperConfig::from_json(&no_bos, Path::new("v.json")).is_err());
        let text_type = MINIMAL.replace(r#""extra": true"#, r#""phoneme_type": "text""#);
        assert!(PiperConfig::from_json(&text_type, Path::new("v.json")).is_err());
        let option_voice = MINIMAL.replace(r#""de""#, r#""--path=/x""#);
        assert!(PiperConfig::from_json(&option_voice, Path::new("v.json")).is_err());
    }
}
