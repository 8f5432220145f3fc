//! Text-to-speech: the language-model loop with KV cache over `embed_tokens` and
//! `language_model`, then the conditional decoder. Mirrors
//! `tests/fixtures/chatterbox-standins/reference_generate.py` step for step.

use std::sync::atomic::{AtomicBool, Ordering};

use ort::value::DynValue;
use rand::SeedableRng;
use rand::rngs::ChaCha8Rng;

use super::graph::{Feed, expect_shape, float_tensor, i64_tensor};
use super::prompt::{self, START_SPEECH, STOP_SPEECH, TURBO_SILENCE};
use super::sampler::{self, SamplerSettings};
use super::{Chatterbox, Family, SAMPLE_RATE, VoiceConditioning};
use crate::{ModelError, Waveform};

/// How to sample speech tokens. Turbo ignores `cfg_weight`, `exaggeration` and `min_p`.
#[derive(Debug, Clone, PartialEq)]
pub struct GenerationParams {
    /// Softmax temperature; 0 picks the most likely token (greedy, deterministic).
    pub temperature: f32,
    /// Nucleus sampling mass (1 = off).
    pub top_p: f32,
    /// Drop tokens below this fraction of the top probability (0 = off; original only).
    pub min_p: f32,
    /// Keep only the k most likely tokens (0 = off; applied by the Turbo sampler).
    pub top_k: usize,
    /// HF repetition penalty over the distinct ids generated so far (1 = off).
    pub repetition_penalty: f32,
    /// Classifier-free guidance weight (0 = no CFG, a single batch row; original only).
    pub cfg_weight: f32,
    /// Emotion exaggeration in 0..=2, passed to `embed_tokens` as is (original only).
    pub exaggeration: f32,
    /// Seed of the sampling RNG: same seed and inputs give the same output.
    pub seed: u64,
    /// Cap on generated speech tokens (25 per second of audio).
    pub max_new_tokens: usize,
}

impl Default for GenerationParams {
    /// Upstream's PyTorch defaults for the original model.
    fn default() -> Self {
        Self {
            temperature: 0.8,
            top_p: 1.0,
            min_p: 0.05,
            top_k: 1000,
            repetition_penalty: 1.2,
            cfg_weight: 0.5,
            exaggeration: 0.5,
            seed: 0,
            max_new_tokens: 1000,
        }
    }
}

impl GenerationParams {
    /// Rejects values the sampler cannot use.
    fn validate(&self) -> Result<(), ModelError> {
        let check = |ok: bool, what: &str| {
            if ok {
                Ok(())
            } else {
                Err(ModelError::InvalidInput(format!(
                    "generation parameter {what}"
                )))
            }
        };
        check(
            self.temperature.is_finite() && self.temperature >= 0.0,
            "temperature must be ≥ 0",
        )?;
        check((0.0..=1.0).contains(&self.top_p), "top_p must be in 0..=1")?;
        check((0.0..=1.0).contains(&self.min_p), "min_p must be in 0..=1")?;
        check(
            self.repetition_penalty.is_finite() && self.repetition_penalty > 0.0,
            "repetition_penalty must be > 0",
        )?;
        check(
            self.cfg_weight.is_finite() && self.cfg_weight >= 0.0,
            "cfg_weight must be ≥ 0",
        )?;
        check(
            (0.0..=2.0).contains(&self.exaggeration),
            "exaggeration must be in 0..=2",
        )?;
        check(self.max_new_tokens > 0, "max_new_tokens must be ≥ 1")
    }

    fn sampler(&self) -> SamplerSettings {
        SamplerSettings {
            temperature: self.temperature,
            top_p: self.top_p,
            min_p: self.min_p,
            top_k: self.top_k,
            repetition_penalty: self.repetition_penalty,
        }
    }
}

/// The result of [`Chatterbox::generate`].
#[derive(Debug, Clone, PartialEq)]
pub struct Generation {
    /// The speech, 24 kHz mono.
    pub waveform: Waveform,
    /// Generated speech ids below 6561 (no start or stop token, no Turbo silence padding).
    pub speech_tokens: Vec<i64>,
    /// Whether the model produced the stop token before `max_new_tokens`.
    pub stopped: bool,
    /// Rows of the prefill: conditioning rows plus prompt ids (the first attention-mask
    /// length; the mask then grows by one per step).
    pub prompt_length: usize,
}

/// Deliberate wiring faults, so tests can show that the mask length and the present → past
/// mapping really matter (the defaults are the correct loop).
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct LoopFaults {
    /// Make the attention mask this many entries longer than the cache.
    pub(crate) mask_extra: usize,
    /// Feed the first two presents into each other's past inputs.
    pub(crate) swap_first_pair: bool,
}

impl Chatterbox {
    /// Speaks `text` in `voice`'s voice.
    pub fn generate(
        &self,
        text: &str,
        voice: &VoiceConditioning,
        params: &GenerationParams,
    ) -> Result<Generation, ModelError> {
        let never = AtomicBool::new(false);
        self.generate_with_faults(text, voice, params, &never, LoopFaults::default())
    }

    /// [`Self::generate`] that checks `stop` before every token and returns
    /// [`ModelError::Stopped`] once it is set, so abandoned work ends within one step.
    pub fn generate_until(
        &self,
        text: &str,
        voice: &VoiceConditioning,
        params: &GenerationParams,
        stop: &AtomicBool,
    ) -> Result<Generation, ModelError> {
        self.generate_with_faults(text, voice, params, stop, LoopFaults::default())
    }

    /// [`Self::generate_until`] with optional wiring faults (tests only pass non-default ones).
    pub(crate) fn generate_with_faults(
        &self,
        text: &str,
        voice: &VoiceConditioning,
        params: &GenerationParams,
        stop: &AtomicBool,
        faults: LoopFaults,
    ) -> Result<Generation, ModelError> {
        self.check_voice(voice)?;
        params.validate()?;
        let family = self.family;
        let normalized = prompt::punc_norm(text, family);
        let ids = self.tokenizer.encode(&normalized)?;
        if ids.is_empty() {
            return Err(ModelError::Tokenizer(format!(
                "{normalized:?} encodes to no ids"
            )));
        }
        let cfg = family == Family::Original && params.cfg_weight > 0.0;
        let batch = if cfg { 2 } else { 1 };
        let hidden = voice.hidden;

        let positions = prompt::original_position_ids(&ids);
        let prompt_embeds = self.embed(&ids, &positions, params.exaggeration, hidden)?;
        let prompt_length = voice.cond_rows + ids.len();
        let mut embeds = Vec::with_capacity(batch * prompt_length * hidden);
        embeds.extend_from_slice(&voice.audio_features);
        embeds.extend_from_slice(&prompt_embeds);
        if cfg {
            // The unconditional row: same prefix and speech rows, text rows zeroed.
            let mut uncond = embeds.clone();
            for row in prompt::text_rows(&ids) {
                let start = (voice.cond_rows + row) * hidden;
                uncond[start..start + hidden].fill(0.0);
            }
            embeds.extend_from_slice(&uncond);
        }

        let lm = &self.language_model;
        let mut past: Vec<DynValue> = self
            .kv_slots
            .iter()
            .map(|slot| {
                float_tensor(
                    slot.dtype,
                    vec![batch, slot.heads, 0, slot.head_dim],
                    Vec::new(),
                )
                .map_err(|e| ModelError::inference(lm.label, e))
            })
            .collect::<Result<_, _>>()?;
        let mut sequence = prompt_length;
        let mut lm_positions: Vec<i64> = (0..batch)
            .flat_map(|_| 0..i64::try_from(prompt_length).unwrap_or(i64::MAX))
            .collect();
        let settings = params.sampler();
        let mut rng = ChaCha8Rng::seed_from_u64(params.seed);
        let mut generated = vec![START_SPEECH];
        let mut stopped = false;

        for step in 0..params.max_new_tokens {
            if stop.load(Ordering::Relaxed) {
                return Err(ModelError::Stopped);
            }
            // Cache rows after this step's run: the prefill, then one more per step.
            let total = prompt_length + step;
            let mut feed: Feed = Vec::with_capacity(past.len() + 3);
            let inputs_embeds = lm.float_input(
                "inputs_embeds",
                vec![batch, sequence, hidden],
                std::mem::take(&mut embeds),
            )?;
            feed.push(("inputs_embeds".into(), inputs_embeds.into()));
            let mask_len = total + faults.mask_extra;
            let mask = i64_tensor(lm.label, vec![batch, mask_len], vec![1; batch * mask_len])?;
            feed.push(("attention_mask".into(), mask.into()));
            if family == Family::Turbo {
                let ids = std::mem::take(&mut lm_positions);
                let position_ids = i64_tensor(lm.label, vec![batch, sequence], ids)?;
                feed.push(("position_ids".into(), position_ids.into()));
            }
            if faults.swap_first_pair && past.len() >= 2 {
                past.swap(0, 1);
            }
            for (slot, value) in self.kv_slots.iter().zip(past.drain(..)) {
                feed.push((slot.past.clone(), value.into()));
            }
            let mut outputs = lm.run(feed)?;

            let (logits_shape, logits) = outputs.f32("logits")?;
            expect_shape(
                lm.label,
                "logits",
                &logits_shape,
                &[Some(batch), Some(sequence), None],
            )?;
            let vocab = logits_shape[2];
            if vocab == 0 {
                return Err(ModelError::inference(lm.label, "logits have no vocabulary"));
            }
            for slot in &self.kv_slots {
                let present = outputs.take(&slot.present)?;
                let shape: Vec<i64> = present
                    .dtype()
                    .tensor_shape()
                    .map(|shape| shape.to_vec())
                    .unwrap_or_default();
                let expected = [batch, slot.heads, total, slot.head_dim].map(|d| d as i64);
                if shape != expected {
                    return Err(ModelError::inference(
                        lm.label,
                        format!(
                            "{} has shape {shape:?}, expected {expected:?} (the cache must grow by the step's rows)",
                            slot.present
                        ),
                    ));
                }
                past.push(present);
            }

            let last_row = |row: usize| {
                let start = (row * sequence + sequence - 1) * vocab;
                &logits[start..start + vocab]
            };
            let combined = if cfg {
                sampler::cfg_combine(last_row(0), last_row(1), params.cfg_weight)
            } else {
                last_row(0).to_vec()
            };
            if family == Family::Turbo && !combined.iter().any(|x| x.is_finite()) {
                break;
            }
            let token = sampler::choose(combined, &generated, &settings, family, &mut rng);
            let token = i64::try_from(token)
                .map_err(|_| ModelError::inference(lm.label, "token index overflow"))?;
            generated.push(token);
            if token == STOP_SPEECH {
                stopped = true;
                break;
            }

            let next_position = i64::try_from(step + 1).unwrap_or(i64::MAX);
            let next = self.embed(&[token], &[next_position], params.exaggeration, hidden)?;
            embeds = next.repeat(batch);
            if family == Family::Turbo {
                lm_positions = vec![i64::try_from(total).unwrap_or(i64::MAX); batch];
            }
            sequence = 1;
        }

        let speech_tokens: Vec<i64> = generated[1..]
            .iter()
            .copied()
            .filter(|&token| token < START_SPEECH)
            .collect();
        let mut decoder_tokens = voice.audio_tokens.clone();
        decoder_tokens.extend_from_slice(&speech_tokens);
        if family == Family::Turbo {
            decoder_tokens.extend_from_slice(&[TURBO_SILENCE; 3]);
        }
        let samples = self.decode(decoder_tokens, voice)?;
        tracing::debug!(
            generated = speech_tokens.len(),
            stopped,
            samples = samples.len(),
            "chatterbox generation done"
        );
        Ok(Generation {
            waveform: Waveform::new(samples, SAMPLE_RATE),
            speech_tokens,
            stopped,
            prompt_length,
        })
    }

    /// `embed_tokens` on one row of ids, feeding positions and exaggeration only where the
    /// graph declares them; returns the [1, n, hidden] embeddings flattened.
    fn embed(
        &self,
        ids: &[i64],
        positions: &[i64],
        exaggeration: f32,
        hidden: usize,
    ) -> Result<Vec<f32>, ModelError> {
        let graph = &self.embed_tokens;
        let count = ids.len();
        let mut feed: Feed = vec![(
            "input_ids".into(),
            i64_tensor(graph.label, vec![1, count], ids.to_vec())?.into(),
        )];
        if graph.declares_input("position_ids") {
            let positions = i64_tensor(graph.label, vec![1, count], positions.to_vec())?;
            feed.push(("position_ids".into(), positions.into()));
        }
        if graph.declares_input("exaggeration") {
            let exaggeration = graph.float_input("exaggeration", vec![1], vec![exaggeration])?;
            feed.push(("exaggeration".into(), exaggeration.into()));
        }
        let mut outputs = graph.run(feed)?;
        let (shape, embeds) = outputs.f32("inputs_embeds")?;
        expect_shape(
            graph.label,
            "inputs_embeds",
            &shape,
            &[Some(1), Some(count), Some(hidden)],
        )?;
        Ok(embeds)
    }
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use super::*;
    use crate::chatterbox::{ChatterboxSettings, Precision};
    use crate::{ExecutionProvider, OnnxRuntime, RuntimeSettings};

    fn standin_original() -> Chatterbox {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let library = std::env::var_os("ORT_DYLIB_PATH")
            .map(PathBuf::from)
            .filter(|path| path.is_file())
            .unwrap_or_else(|| root.join("../.cache/models/onnxruntime-1.32.0/libonnxruntime.so"));
        assert!(
            library.is_file(),
            "ONNX Runtime not found at {}; run ./scripts/test.sh once to fetch it (or set ORT_DYLIB_PATH)",
            library.display()
        );
        let runtime = OnnxRuntime::load(RuntimeSettings {
            library,
            provider: ExecutionProvider::Cpu,
            intra_threads: 1,
            spinning: crate::Spinning::default(),
        })
        .unwrap();
        let settings = ChatterboxSettings {
            dir: root.join("tests/fixtures/chatterbox-standins/original"),
            precision: Precision::Fp32,
            lm_threads: 1,
        };
        Chatterbox::load(&runtime, &settings).unwrap()
    }

    fn greedy() -> GenerationParams {
        GenerationParams {
            temperature: 0.0,
            cfg_weight: 0.0,
            ..GenerationParams::default()
        }
    }

    #[test]
    fn the_loop_wiring_is_load_bearing() {
        let model = standin_original();
        // 2 s of a 220 Hz tone is enough conditioning for the stand-in.
        let audio: Vec<f32> = (0..48_000)
            .map(|n| 0.3 * (2.0 * std::f32::consts::PI * 220.0 * n as f32 / 24_000.0).sin())
            .collect();
        let voice = model.encode_voice(&audio).unwrap();
        let correct = model.generate("Hi.", &voice, &greedy()).unwrap();
        assert!(correct.stopped);
        assert_eq!(correct.speech_tokens.len(), 10);

        let longer_mask = LoopFaults {
            mask_extra: 1,
            ..LoopFaults::default()
        };
        let error = model
            .generate_with_faults(
                "Hi.",
                &voice,
                &greedy(),
                &AtomicBool::new(false),
                longer_mask,
            )
            .unwrap_err();
        assert!(matches!(error, ModelError::Inference { .. }), "{error}");

        let swapped = LoopFaults {
            swap_first_pair: true,
            ..LoopFaults::default()
        };
        let crossed = model
            .generate_with_faults("Hi.", &voice, &greedy(), &AtomicBool::new(false), swapped)
            .unwrap();
        assert_ne!(crossed.speech_tokens.len(), correct.speech_tokens.len());
    }
}
