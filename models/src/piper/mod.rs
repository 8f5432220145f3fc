//! Piper (VITS) text-to-speech: the small, fast CPU voice the service embeds by default.
//!
//! Text is phonemised by the `espeak-ng` program (long-lived processes, clause punctuation
//! kept as piper keeps it), mapped to ids with the voice's `phoneme_id_map`, and each
//! sentence runs through the ONNX graph once (spec: `chatterbox-onnx.md` §D).

pub mod alignment;
mod clauses;
mod config;
mod espeak;
mod ids;
mod voice;

pub use config::{AudioConfig, EspeakConfig, InferenceConfig, PiperConfig};
pub use espeak::{EspeakPhonemizer, Phonemizer};
pub use ids::{phoneme_ids, split_phonemes};
pub use voice::{PiperOptions, PiperVoice, Sentence};
