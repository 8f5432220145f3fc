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

/// The language model's state between steps: what its next run is fed, and the tokens so
/// far. Built by [`Chatterbox::prefill`], moved on by [`Chatterbox::step_feed`],
/// [`Chatterbox::run_step`] and [`Chatterbox::advance`].
pub(crate) struct Decoding {
    /// Batch rows: 2 with classifier-free guidance (conditional, unconditional), else 1.
    batch: usize,
    hidden: usize,
    /// Rows of the prefill (conditioning plus prompt ids).
    prompt_length: usize,
    /// Rows fed by the next run: the whole prompt first, then one token.
    sequence: usize,
    /// The next run's input embeddings, `[batch, sequence, hidden]` flattened.
    embeds: Vec<f32>,
    /// The cache: one past value per KV slot, in slot order.
    past: Vec<DynValue>,
    /// Turbo's position ids for the next run.
    lm_positions: Vec<i64>,
    /// Steps run so far.
    steps: usize,
    /// The start token, then every token chosen.
    generated: Vec<i64>,
}

impl Chatterbox {
    /// Speaks `text` in `voice`'s voice.
    pub fn generate(
        &self,
        text: &str,
        voice: &VoiceConditioning,
        params: &GenerationParams,
    ) -> Result<Generation, ModelError> {
        self.generate_until(text, voice, params, &AtomicBool::new(false))
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
        let mut state = self.prefill(text, voice, params)?;
        let settings = params.sampler();
        let mut rng = ChaCha8Rng::seed_from_u64(params.seed);
        let mut stopped = false;
        for _ in 0..params.max_new_tokens {
            if stop.load(Ordering::Relaxed) {
                return Err(ModelError::Stopped);
            }
            let feed = self.step_feed(&mut state)?;
            let logits = self.run_step(&mut state, feed, params.cfg_weight)?;
            if self.family == Family::Turbo && !logits.iter().any(|x| x.is_finite()) {
                break;
            }
            let token = self.choose(logits, &state, &settings, &mut rng)?;
            if token == STOP_SPEECH {
                state.generated.push(token);
                stopped = true;
                break;
            }
            self.advance(&mut state, token, params.exaggeration)?;
        }
        self.finish(state, voice, stopped)
    }

    /// Tokenizes `text` and embeds the prompt behind `voice`'s conditioning rows (twice,
    /// the second with text rows zeroed, under classifier-free guidance), with an empty
    /// cache.
    pub(crate) fn prefill(
        &self,
        text: &str,
        voice: &VoiceConditioning,
        params: &GenerationParams,
    ) -> Result<Decoding, ModelError> {
        self.check_voice(voice)?;
        params.validate()?;
        let normalized = prompt::punc_norm(text, self.family);
        let ids = self.tokenizer.encode(&normalized)?;
        if ids.is_empty() {
            return Err(ModelError::Tokenizer(format!(
                "{normalized:?} encodes to no ids"
            )));
        }
        let cfg = self.family == Family::Original && params.cfg_weight > 0.0;
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
        let past = self
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
        Ok(Decoding {
            batch,
            hidden,
            prompt_length,
            sequence: prompt_length,
            embeds,
            past,
            lm_positions: (0..batch)
                .flat_map(|_| 0..i64::try_from(prompt_length).unwrap_or(i64::MAX))
                .collect(),
            steps: 0,
            generated: vec![START_SPEECH],
        })
    }

    /// The inputs of the next language-model run: the embeddings, an attention mask over
    /// the whole cache plus the new rows, Turbo's positions, and the cache as `past_*`.
    pub(crate) fn step_feed(&self, state: &mut Decoding) -> Result<Feed<'static>, ModelError> {
        let lm = &self.language_model;
        let (batch, sequence) = (state.batch, state.sequence);
        let mut feed: Feed = Vec::with_capacity(state.past.len() + 3);
        let inputs_embeds = lm.float_input(
            "inputs_embeds",
            vec![batch, sequence, state.hidden],
            std::mem::take(&mut state.embeds),
        )?;
        feed.push(("inputs_embeds".into(), inputs_embeds.into()));
        let mask_len = self.cache_rows_after_step(state);
        let mask = i64_tensor(lm.label, vec![batch, mask_len], vec![1; batch * mask_len])?;
        feed.push(("attention_mask".into(), mask.into()));
        if self.family == Family::Turbo {
            let ids = std::mem::take(&mut state.lm_positions);
            let position_ids = i64_tensor(lm.label, vec![batch, sequence], ids)?;
            feed.push(("position_ids".into(), position_ids.into()));
        }
        for (slot, value) in self.kv_slots.iter().zip(state.past.drain(..)) {
            feed.push((slot.past.clone(), value.into()));
        }
        Ok(feed)
    }

    /// Cache rows once the next run is done: the prefill, then one more per step.
    fn cache_rows_after_step(&self, state: &Decoding) -> usize {
        state.prompt_length + state.steps
    }

    /// Runs the language model on `feed`, checks that each present grew by the step's rows
    /// and keeps it as the next past, and returns the last row's logits (combined across
    /// the batch rows under classifier-free guidance).
    pub(crate) fn run_step(
        &self,
        state: &mut Decoding,
        feed: Feed<'_>,
        cfg_weight: f32,
    ) -> Result<Vec<f32>, ModelError> {
        let lm = &self.language_model;
        let (batch, sequence) = (state.batch, state.sequence);
        let total = self.cache_rows_after_step(state);
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
            state.past.push(present);
        }
        state.steps += 1;
        let last_row = |row: usize| {
            let start = (row * sequence + sequence - 1) * vocab;
            &logits[start..start + vocab]
        };
        Ok(if batch == 2 {
            sampler::cfg_combine(last_row(0), last_row(1), cfg_weight)
        } else {
            last_row(0).to_vec()
        })
    }

    /// Samples the next token from a step's logits.
    fn choose(
        &self,
        logits: Vec<f32>,
        state: &Decoding,
        settings: &SamplerSettings,
        rng: &mut ChaCha8Rng,
    ) -> Result<i64, ModelError> {
        let token = sampler::choose(logits, &state.generated, settings, self.family, rng);
        i64::try_from(token)
            .map_err(|_| ModelError::inference(self.language_model.label, "token index overflow"))
    }

    /// Takes `token` as generated and makes it the next run's single input row.
    pub(crate) fn advance(
        &self,
        state: &mut Decoding,
        token: i64,
        exaggeration: f32,
    ) -> Result<(), ModelError> {
        state.generated.push(token);
        let step = state.generated.len() - 1;
        let next_position = i64::try_from(step).unwrap_or(i64::MAX);
        let next = self.embed(&[token], &[next_position], exaggeration, state.hidden)?;
        state.embeds = next.repeat(state.batch);
        if self.family == Family::Turbo {
            state.lm_positions = vec![
                i64::try_from(self.cache_rows_after_step(state) - 1)
                    .unwrap_or(i64::MAX);
                state.batch
            ];
        }
        state.sequence = 1;
        Ok(())
    }

    /// Decodes the generated speech tokens behind `voice`'s prompt tokens into audio.
    pub(crate) fn finish(
        &self,
        state: Decoding,
        voice: &VoiceConditioning,
        stopped: bool,
    ) -> Result<Generation, ModelError> {
        let speech_tokens: Vec<i64> = state.generated[1..]
            .iter()
            .copied()
            .filter(|&token| token < START_SPEECH)
            .collect();
        let mut decoder_tokens = voice.audio_tokens.clone();
        decoder_tokens.extend_from_slice(&speech_tokens);
        if self.family == Family::Turbo {
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
            prompt_length: state.prompt_length,
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

    /// Greedy speech tokens for "Hi." through the loop's own pieces, with `tamper`
    /// applied to every step's inputs.
    fn greedy_tokens(
        model: &Chatterbox,
        voice: &VoiceConditioning,
        tamper: impl Fn(&Chatterbox, &Decoding, &mut Feed<'static>),
    ) -> Result<Vec<i64>, ModelError> {
        let params = greedy();
        let mut state = model.prefill("Hi.", voice, &params)?;
        let settings = params.sampler();
        let mut rng = ChaCha8Rng::seed_from_u64(params.seed);
        for _ in 0..params.max_new_tokens {
            let mut feed = model.step_feed(&mut state)?;
            tamper(model, &state, &mut feed);
            let logits = model.run_step(&mut state, feed, params.cfg_weight)?;
            let token = model.choose(logits, &state, &settings, &mut rng)?;
            if token == STOP_SPEECH {
                break;
            }
            model.advance(&mut state, token, params.exaggeration)?;
        }
        Ok(state.generated[1..].to_vec())
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
        // The pieces run untouched are the loop itself.
        let untouched = greedy_tokens(&model, &voice, |_, _, _| {}).unwrap();
        assert_eq!(untouched, correct.speech_tokens);

        // An attention mask one entry longer than the cache is refused by the graph.
        let longer_mask = greedy_tokens(&model, &voice, |model, state, feed| {
            let rows = model.cache_rows_after_step(state) + 1;
            let mask = i64_tensor("test", vec![1, rows], vec![1; rows]).unwrap();
            let entry = feed
                .iter_mut()
                .find(|(name, _)| name == "attention_mask")
                .unwrap();
            entry.1 = mask.into();
        })
        .unwrap_err();
        assert!(
            matches!(longer_mask, ModelError::Inference { .. }),
            "{longer_mask}"
        );

        // Feeding the first two presents into each other's past inputs changes the speech.
        let crossed = greedy_tokens(&model, &voice, |model, _, feed| {
            let position = |name: &str| feed.iter().position(|(n, _)| n == name).unwrap();
            let (first, second) = (
                position(&model.kv_slots[0].past),
                position(&model.kv_slots[1].past),
            );
            let (head, tail) = feed.split_at_mut(second);
            std::mem::swap(&mut head[first].1, &mut tail[0].1);
        })
        .unwrap();
        assert_ne!(crossed.len(), correct.speech_tokens.len());
    }
}
