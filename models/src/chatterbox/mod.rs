//! Chatterbox over its public ONNX exports: text-to-speech with voice cloning (both the
//! "original" and the "turbo" interface families) and voice conversion.
//!
//! A bundle is a directory with `tokenizer.json` and `onnx/` holding four graphs
//! (`speech_encoder`, `embed_tokens`, `language_model`, `conditional_decoder`), each with its
//! `.onnx_data` sidecar. Interfaces are read from the graphs' declared inputs and outputs
//! (family, KV-cache names, dtypes, heads), never hard-coded; see
//! `shared/spec/chatterbox-onnx.md` sections B2–B7.

mod bundle;
mod convert;
mod generate;
mod graph;
mod prompt;
mod sampler;
mod voice;

use std::path::{Path, PathBuf};

pub use bundle::{Family, Precision};
pub use convert::ConversionOptions;
pub use generate::{Generation, GenerationParams};
pub use prompt::{EXAGGERATION_SLOT, START_SPEECH, STOP_SPEECH, TURBO_SILENCE, punc_norm};
pub use voice::VoiceConditioning;

use bundle::{BundleFiles, KvSlot};
use graph::{Feed, Graph, expect_shape, i64_tensor};
use prompt::PromptTokenizer;

use crate::{ModelError, OnnxRuntime};

/// Output (and expected input) sample rate of every Chatterbox graph.
pub const SAMPLE_RATE: u32 = 24_000;
/// Samples per speech token (25 tokens per second at 24 kHz).
pub const SAMPLES_PER_TOKEN: usize = 960;

/// Where the bundle is and how to load it.
#[derive(Debug, Clone)]
pub struct ChatterboxSettings {
    /// Bundle root: `tokenizer.json` and `onnx/`.
    pub dir: PathBuf,
    /// Which weight files to load.
    pub precision: Precision,
    /// Intra-op threads for the language model session (0 = the runtime's setting); the LM
    /// loop runs one small step per token, where many threads mostly add overhead.
    pub lm_threads: usize,
}

/// A loaded Chatterbox bundle. Shareable across threads; runs serialise per graph.
#[derive(Debug)]
pub struct Chatterbox {
    family: Family,
    tokenizer: PromptTokenizer,
    speech_encoder: Graph,
    embed_tokens: Graph,
    language_model: Graph,
    conditional_decoder: Graph,
    kv_slots: Vec<KvSlot>,
}

impl Chatterbox {
    /// Checks that every file of the bundle is present for `precision` (`MissingFile` names
    /// the first absent path) without creating sessions.
    pub fn bundle_status(dir: &Path, precision: Precision) -> Result<(), ModelError> {
        BundleFiles::locate(dir, precision).map(|_| ())
    }

    /// Loads the four graphs and the tokenizer, and reads the interface they declare.
    pub fn load(runtime: &OnnxRuntime, settings: &ChatterboxSettings) -> Result<Self, ModelError> {
        let files = BundleFiles::locate(&settings.dir, settings.precision)?;
        let tokenizer = PromptTokenizer::load(&files.tokenizer)?;
        let lm_threads = (settings.lm_threads > 0).then_some(settings.lm_threads);
        let speech_encoder =
            Graph::open(runtime, &files.speech_encoder, bundle::SPEECH_ENCODER, None)?;
        let embed_tokens = Graph::open(runtime, &files.embed_tokens, bundle::EMBED_TOKENS, None)?;
        let language_model = Graph::open(
            runtime,
            &files.language_model,
            bundle::LANGUAGE_MODEL,
            lm_threads,
        )?;
        let conditional_decoder = Graph::open(
            runtime,
            &files.conditional_decoder,
            bundle::CONDITIONAL_DECODER,
            None,
        )?;
        speech_encoder.require(
            &["audio_values"],
            &[
                "audio_features",
                "audio_tokens",
                "speaker_embeddings",
                "speaker_features",
            ],
        )?;
        embed_tokens.require(&["input_ids"], &["inputs_embeds"])?;
        language_model.require(&["inputs_embeds", "attention_mask"], &["logits"])?;
        conditional_decoder.require(
            &["speech_tokens", "speaker_embeddings", "speaker_features"],
            &["waveform"],
        )?;
        let family = bundle::detect_family(&embed_tokens, &language_model)?;
        let kv_slots = bundle::kv_layout(&language_model)?;
        tracing::debug!(
            ?family,
            kv_tensors = kv_slots.len(),
            lm = %files.language_model.display(),
            "chatterbox bundle loaded"
        );
        Ok(Self {
            family,
            tokenizer,
            speech_encoder,
            embed_tokens,
            language_model,
            conditional_decoder,
            kv_slots,
        })
    }

    /// The interface family of the loaded graphs.
    pub fn family(&self) -> Family {
        self.family
    }

    /// Number of `past_key_values.*` tensors the language model declares (keys and values).
    pub fn kv_tensor_count(&self) -> usize {
        self.kv_slots.len()
    }

    /// Runs the speech encoder on a reference clip (24 kHz mono), trimmed to whole 960-sample
    /// frames so the feature frames are exactly twice the tokens.
    pub fn encode_voice(&self, audio_24k_mono: &[f32]) -> Result<VoiceConditioning, ModelError> {
        let usable = audio_24k_mono.len() / SAMPLES_PER_TOKEN * SAMPLES_PER_TOKEN;
        if usable == 0 {
            return Err(ModelError::InvalidInput(format!(
                "reference audio is too short: {} samples, need at least {SAMPLES_PER_TOKEN} (40 ms at 24 kHz)",
                audio_24k_mono.len()
            )));
        }
        self.run_speech_encoder(&audio_24k_mono[..usable])
    }

    /// The speech encoder on `audio` as given, outputs validated.
    fn run_speech_encoder(&self, audio: &[f32]) -> Result<VoiceConditioning, ModelError> {
        if audio.iter().any(|x| !x.is_finite()) {
            return Err(ModelError::InvalidInput(
                "audio contains non-finite samples".into(),
            ));
        }
        let graph = &self.speech_encoder;
        let audio_values =
            graph.float_input("audio_values", vec![1, audio.len()], audio.to_vec())?;
        let feed: Feed = vec![("audio_values".into(), audio_values.into())];
        let mut outputs = graph.run(feed)?;
        let label = graph.label;
        let (features_shape, audio_features) = outputs.f32("audio_features")?;
        expect_shape(
            label,
            "audio_features",
            &features_shape,
            &[Some(1), None, None],
        )?;
        let (tokens_shape, audio_tokens) = outputs.i64("audio_tokens")?;
        expect_shape(label, "audio_tokens", &tokens_shape, &[Some(1), None])?;
        let (embedding_shape, speaker_embeddings) = outputs.f32("speaker_embeddings")?;
        expect_shape(
            label,
            "speaker_embeddings",
            &embedding_shape,
            &[Some(1), None],
        )?;
        let (speaker_shape, speaker_features) = outputs.f32("speaker_features")?;
        expect_shape(
            label,
            "speaker_features",
            &speaker_shape,
            &[Some(1), None, None],
        )?;
        if audio_tokens.iter().any(|t| !(0..START_SPEECH).contains(t)) {
            return Err(ModelError::inference(label, "audio_tokens outside 0..6561"));
        }
        Ok(VoiceConditioning {
            family: self.family,
            audio_features,
            cond_rows: features_shape[1],
            hidden: features_shape[2],
            audio_tokens,
            speaker_embeddings,
            speaker_features,
            frames: speaker_shape[1],
            mel_bins: speaker_shape[2],
        })
    }

    /// Fails unless `voice` came from this family's speech encoder.
    fn check_voice(&self, voice: &VoiceConditioning) -> Result<(), ModelError> {
        if voice.family == self.family {
            Ok(())
        } else {
            Err(ModelError::InvalidInput(format!(
                "this voice was conditioned by a {:?}-family model and cannot be used with the loaded {:?} model",
                voice.family, self.family
            )))
        }
    }

    /// The conditional decoder on `tokens` (prompt tokens first) with `voice`'s speaker
    /// tensors; returns the samples of batch row 0.
    fn decode(&self, tokens: Vec<i64>, voice: &VoiceConditioning) -> Result<Vec<f32>, ModelError> {
        let graph = &self.conditional_decoder;
        let count = tokens.len();
        let speech_tokens = i64_tensor(graph.label, vec![1, count], tokens)?;
        let embeddings = graph.float_input(
            "speaker_embeddings",
            vec![1, voice.speaker_embeddings.len()],
            voice.speaker_embeddings.clone(),
        )?;
        let features = graph.float_input(
            "speaker_features",
            vec![1, voice.frames, voice.mel_bins],
            voice.speaker_features.clone(),
        )?;
        let feed: Feed = vec![
            ("speech_tokens".into(), speech_tokens.into()),
            ("speaker_embeddings".into(), embeddings.into()),
            ("speaker_features".into(), features.into()),
        ];
        let mut outputs = graph.run(feed)?;
        let (shape, samples) = outputs.f32("waveform")?;
        // Some exports return [B, N], others [B, 1, N]; either way row 0 is the audio.
        let rows = shape.first().copied().unwrap_or(0);
        if shape.len() < 2 || rows == 0 || samples.len() % rows != 0 {
            return Err(ModelError::inference(
                graph.label,
                format!("waveform has shape {shape:?}"),
            ));
        }
        let per_row = samples.len() / rows;
        let mut samples = samples;
        samples.truncate(per_row);
        Ok(samples)
    }
}
