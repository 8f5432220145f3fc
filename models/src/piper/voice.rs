//! A loaded Piper voice: phonemise, map to ids, run the VITS graph once per sentence.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use ort::session::Session;
use ort::value::TensorRef;

use super::alignment::{TimedPhoneme, timed_phonemes};
use super::config::PiperConfig;
use super::espeak::{EspeakPhonemizer, Phonemizer};
use super::ids::{phoneme_ids, split_phonemes};
use crate::{ModelError, OnnxRuntime, Spinning, Waveform};

const GRAPH: &str = "piper";

/// Per-request synthesis settings; `None` takes the voice config's value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PiperOptions {
    /// Phoneme duration multiplier (larger is slower); speed `s` maps to `length_scale / s`.
    pub length_scale: Option<f32>,
    /// Generator noise.
    pub noise_scale: Option<f32>,
    /// Duration-predictor noise.
    pub noise_w: Option<f32>,
    /// Speaker for multi-speaker voices (ignored when the voice has one speaker).
    pub speaker_id: Option<i64>,
    /// Silence inserted between sentences, in seconds.
    pub sentence_silence_seconds: f32,
}

impl Default for PiperOptions {
    fn default() -> Self {
        Self {
            length_scale: None,
            noise_scale: None,
            noise_w: None,
            speaker_id: None,
            sentence_silence_seconds: 0.0,
        }
    }
}

/// A Piper voice ready to synthesise. The graph runs one sentence at a time (a session
/// needs `&mut` to run); callers bound concurrency with their own semaphore.
#[derive(Debug)]
pub struct PiperVoice {
    config: PiperConfig,
    sessions: Mutex<Sessions>,
    /// Sessions for sentences spoken beside the first (one intra-op thread each, built on
    /// first use); see [`PiperVoice::with_parallel_sessions`].
    helpers: Vec<Mutex<Sessions>>,
    phonemizer: Box<dyn Phonemizer>,
    model_path: PathBuf,
}

/// The voice's sessions: one whose intra-op threads spin, one whose threads sleep, each
/// built the first time the spinning policy asks for it (so a machine that is never busy,
/// or never idle, holds one copy of the model).
#[derive(Debug)]
struct Sessions {
    runtime: OnnxRuntime,
    threads: usize,
    policy: Spinning,
    spinning: Option<Session>,
    sleeping: Option<Session>,
    /// Whether sessions are built from the model with its phoneme durations exposed
    /// (see [`super::alignment`]).
    aligned: bool,
}

impl Sessions {
    /// The session for a run starting now. With one thread nothing spins, so one session
    /// serves whatever the policy says.
    fn for_run(&mut self, model: &Path) -> Result<&mut Session, ModelError> {
        let spin = self.threads > 1 && self.policy.spin_now();
        let slot = if spin {
            &mut self.spinning
        } else {
            &mut self.sleeping
        };
        match slot {
            Some(session) => Ok(session),
            None => {
                let session = if self.aligned {
                    aligned_session(&self.runtime, model, self.threads, spin)?
                } else {
                    None
                };
                let session = match session {
                    Some(session) => session,
                    None => self.runtime.request_session(model, self.threads, spin)?,
                };
                Ok(slot.insert(session))
            }
        }
    }
}

/// A session on the model with its duration tensor exposed, or `None` when the graph has
/// no such tensor. The file is read and rewritten in memory each time a session is built
/// (once or twice per process), so no second copy of the weights stays resident.
fn aligned_session(
    runtime: &OnnxRuntime,
    model: &Path,
    threads: usize,
    spin: bool,
) -> Result<Option<Session>, ModelError> {
    let bytes = std::fs::read(model).map_err(|_| ModelError::MissingFile(model.to_path_buf()))?;
    match super::alignment::with_duration_output(&bytes) {
        Some((patched, _)) => {
            drop(bytes);
            runtime
                .request_session_from_memory(model, &patched, threads, spin)
                .map(Some)
        }
        None => Ok(None),
    }
}

/// One sentence's audio and where its phonemes lie in it.
#[derive(Debug, Clone)]
pub struct Sentence {
    /// The audio (with the requested trailing silence, except after the last sentence).
    pub waveform: Waveform,
    /// Each spoken phoneme's samples; empty when the voice's graph gives no durations.
    pub phonemes: Vec<TimedPhoneme>,
}

impl PiperVoice {
    /// Loads the model and its config (default: the model path with `.json` appended). The
    /// session uses 1 intra-op thread unless the runtime's settings ask for a number: one
    /// thread is the fastest on small machines (spec D1), and requests run side by side.
    pub fn load(
        runtime: &OnnxRuntime,
        model: &Path,
        config: Option<&Path>,
    ) -> Result<Self, ModelError> {
        let config_path = config.map_or_else(
            || {
                let mut path = model.as_os_str().to_owned();
                path.push(".json");
                PathBuf::from(path)
            },
            Path::to_path_buf,
        );
        let config = PiperConfig::from_file(&config_path)?;
        let threads = match runtime.settings().intra_threads {
            0 => 1,
            n => n,
        };
        let mut sessions = Sessions {
            runtime: runtime.clone(),
            threads,
            policy: runtime.settings().spinning,
            spinning: None,
            sleeping: None,
            aligned: true,
        };
        if let Err(e) = sessions.for_run(model) {
            if !model.is_file() {
                return Err(e);
            }
            // ONNX Runtime refused the rewritten graph: speak without word timings.
            tracing::warn!(model = %model.display(), error = %e, "phoneme durations unavailable; loading the voice as it is");
            sessions.aligned = false;
        }
        let session = sessions.for_run(model)?;
        let has_durations = session.outputs().len() > 1;
        let names: Vec<String> = session
            .inputs()
            .iter()
            .map(|i| i.name().to_owned())
            .collect();
        sessions.aligned = has_durations;
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        for required in ["input", "input_lengths", "scales"] {
            if !names.contains(&required) {
                return Err(ModelError::bad_model(
                    model,
                    format!("no {required:?} input (inputs: {names:?})"),
                ));
            }
        }
        if config.num_speakers > 1 && !names.contains(&"sid") {
            return Err(ModelError::bad_model(
                model,
                "the config has several speakers but the graph has no \"sid\" input",
            ));
        }
        Ok(Self {
            config,
            sessions: Mutex::new(sessions),
            helpers: Vec::new(),
            phonemizer: Box::new(EspeakPhonemizer::new()),
            model_path: model.to_path_buf(),
        })
    }

    /// Lets `workers` threads synthesise side by side ([`Self::synthesize_each_sentence_on`]
    /// with workers `1..=workers`), each on a session of its own with one intra-op thread
    /// that never spins, built the first time it is used (each holds another copy of the
    /// model, ~60–100 MB). Worker 0 is the voice's own session, with the runtime's threads:
    /// the fastest for one sentence at a time, but several of those side by side would
    /// fight over the cores. One worker or fewer adds none.
    pub fn with_parallel_sessions(mut self, workers: usize) -> Self {
        let (runtime, aligned) = match self.sessions.get_mut() {
            Ok(sessions) => (sessions.runtime.clone(), sessions.aligned),
            Err(_) => return self,
        };
        let helpers = if workers > 1 { workers } else { 0 };
        self.helpers = (0..helpers)
            .map(|_| {
                Mutex::new(Sessions {
                    runtime: runtime.clone(),
                    threads: 1,
                    policy: Spinning::Never,
                    spinning: None,
                    sleeping: None,
                    aligned,
                })
            })
            .collect();
        self
    }

    /// How many threads may synthesise side by side (see [`Self::with_parallel_sessions`]):
    /// workers `1..=n`; 0 when only the voice's own session exists.
    pub fn parallel_workers(&self) -> usize {
        self.helpers.len()
    }

    /// Replaces the phonemizer (another espeak-ng path or timeout, or a stand-in).
    pub fn with_phonemizer(mut self, phonemizer: impl Phonemizer + 'static) -> Self {
        self.phonemizer = Box::new(phonemizer);
        self
    }

    /// The voice config.
    pub fn config(&self) -> &PiperConfig {
        &self.config
    }

    /// The model's output sample rate.
    pub fn sample_rate(&self) -> u32 {
        self.config.audio.sample_rate
    }

    /// The phonemes of each sentence (NFD, with clause punctuation), as fed to the ids.
    pub fn sentence_phonemes(&self, text: &str) -> Result<Vec<String>, ModelError> {
        self.phonemizer.phonemize(&self.config.espeak.voice, text)
    }

    /// The model input ids of each sentence of `text`.
    pub fn sentence_phoneme_ids(&self, text: &str) -> Result<Vec<Vec<i64>>, ModelError> {
        Ok(self
            .sentence_phonemes(text)?
            .iter()
            .map(|sentence| self.ids(sentence))
            .collect())
    }

    fn ids(&self, sentence: &str) -> Vec<i64> {
        let phonemes = split_phonemes(sentence, &self.config.vowel_clusters);
        phoneme_ids(&phonemes, &self.config.phoneme_id_map)
    }

    /// Synthesises all of `text`, sentences joined with the requested silence.
    pub fn synthesize(&self, text: &str, options: &PiperOptions) -> Result<Waveform, ModelError> {
        let mut samples = Vec::new();
        self.synthesize_each_sentence(text, options, &mut |sentence| {
            if samples.is_empty() {
                samples = sentence.waveform.samples;
            } else {
                samples.extend_from_slice(&sentence.waveform.samples);
            }
            Ok(())
        })?;
        Ok(Waveform::new(samples, self.sample_rate()))
    }

    /// Synthesises sentence by sentence, handing each one over as soon as it is ready (for
    /// streaming). Every sentence but the last carries the requested trailing silence. The
    /// text is phonemised once, up front, in a single espeak-ng run.
    pub fn synthesize_each_sentence(
        &self,
        text: &str,
        options: &PiperOptions,
        on_sentence: &mut dyn FnMut(Sentence) -> Result<(), ModelError>,
    ) -> Result<(), ModelError> {
        self.synthesize_each_sentence_on(0, text, options, on_sentence)
    }

    /// Like [`Self::synthesize_each_sentence`] on worker `worker`'s session (see
    /// [`Self::with_parallel_sessions`]; an unknown worker uses the voice's own session).
    pub fn synthesize_each_sentence_on(
        &self,
        worker: usize,
        text: &str,
        options: &PiperOptions,
        on_sentence: &mut dyn FnMut(Sentence) -> Result<(), ModelError>,
    ) -> Result<(), ModelError> {
        let sentences = self.sentence_phonemes(text)?;
        let silence =
            (options.sentence_silence_seconds.max(0.0) * self.sample_rate() as f32) as usize;
        let count = sentences.len();
        for (n, sentence) in sentences.iter().enumerate() {
            let phonemes = split_phonemes(sentence, &self.config.vowel_clusters);
            let ids = phoneme_ids(&phonemes, &self.config.phoneme_id_map);
            let (mut samples, id_samples) = self.run_graph(worker, &ids, options)?;
            let phonemes = id_samples.map_or_else(Vec::new, |id_samples| {
                timed_phonemes(&phonemes, &self.config.phoneme_id_map, &id_samples)
            });
            if n + 1 < count {
                samples.resize(samples.len() + silence, 0.0);
            }
            on_sentence(Sentence {
                waveform: Waveform::new(samples, self.sample_rate()),
                phonemes,
            })?;
        }
        Ok(())
    }

    /// Whether the voice reports where each phoneme lies in its audio (its graph exposes
    /// the rounded durations; every stock Piper voice does once rewritten at load).
    pub fn has_phoneme_timings(&self) -> bool {
        self.sessions.lock().is_ok_and(|sessions| sessions.aligned)
    }

    /// The model ids of phonemes written in IPA (`<phoneme alphabet="ipa" ph="…">`): the
    /// same symbols espeak-ng gives this voice, so the graph reads them directly. Symbols
    /// the voice has no id for are refused by name rather than skipped, so a typo in `ph`
    /// is not silently dropped.
    pub fn ipa_phoneme_ids(&self, ipa: &str) -> Result<Vec<i64>, ModelError> {
        use unicode_normalization::UnicodeNormalization;
        let ipa: String = ipa.trim().nfd().collect();
        let phonemes = split_phonemes(&ipa, &self.config.vowel_clusters);
        let mut unknown: Vec<&str> = phonemes
            .iter()
            .map(String::as_str)
            .filter(|p| !self.config.phoneme_id_map.contains_key(*p))
            .collect();
        unknown.dedup();
        if !unknown.is_empty() {
            return Err(ModelError::InvalidInput(format!(
                "the voice has no phoneme for {} in the IPA {ipa:?}",
                unknown
                    .iter()
                    .map(|p| format!("{p:?}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        if phonemes.iter().all(|p| p.trim().is_empty()) {
            return Err(ModelError::InvalidInput("the IPA string is empty".into()));
        }
        Ok(phoneme_ids(&phonemes, &self.config.phoneme_id_map))
    }

    /// Runs the graph on one sentence's ids; samples are clipped to [-1, 1] as piper does.
    pub fn synthesize_ids(
        &self,
        ids: &[i64],
        options: &PiperOptions,
    ) -> Result<Vec<f32>, ModelError> {
        Ok(self.synthesize_ids_aligned(ids, options)?.0)
    }

    /// Like [`Self::synthesize_ids`], with the samples each id was given when the graph
    /// exposes its durations (frame counts times the frames' hop, which the audio's length
    /// over the frame total gives exactly).
    pub fn synthesize_ids_aligned(
        &self,
        ids: &[i64],
        options: &PiperOptions,
    ) -> Result<(Vec<f32>, Option<Vec<usize>>), ModelError> {
        self.run_graph(0, ids, options)
    }

    /// Runs the graph on worker `worker`'s session.
    fn run_graph(
        &self,
        worker: usize,
        ids: &[i64],
        options: &PiperOptions,
    ) -> Result<(Vec<f32>, Option<Vec<usize>>), ModelError> {
        if ids.is_empty() {
            return Err(ModelError::InvalidInput(
                "no phoneme ids to synthesise".into(),
            ));
        }
        let inference = &self.config.inference;
        let scales = [
            options.noise_scale.unwrap_or(inference.noise_scale),
            options.length_scale.unwrap_or(inference.length_scale),
            options.noise_w.unwrap_or(inference.noise_w),
        ];
        if scales.iter().any(|s| !s.is_finite() || *s < 0.0) || scales[1] == 0.0 {
            return Err(ModelError::InvalidInput(format!(
                "scales must be finite, non-negative and length_scale > 0 (got {scales:?})"
            )));
        }
        let lengths = [ids.len() as i64];
        let speaker = [self.speaker_id(options.speaker_id)?];
        let tensor_error = |e: ort::Error| ModelError::inference(GRAPH, e);
        let input = TensorRef::from_array_view(([1usize, ids.len()], ids)).map_err(tensor_error)?;
        let input_lengths =
            TensorRef::from_array_view(([1usize], &lengths[..])).map_err(tensor_error)?;
        let scales = TensorRef::from_array_view(([3usize], &scales[..])).map_err(tensor_error)?;
        let mut inputs = ort::inputs![
            "input" => input,
            "input_lengths" => input_lengths,
            "scales" => scales,
        ];
        if self.config.num_speakers > 1 {
            let sid = TensorRef::from_array_view(([1usize], &speaker[..])).map_err(tensor_error)?;
            inputs.push(("sid".into(), sid.into()));
        }
        let slot = worker
            .checked_sub(1)
            .and_then(|helper| self.helpers.get(helper))
            .unwrap_or(&self.sessions);
        let mut sessions = slot
            .lock()
            .map_err(|_| ModelError::inference(GRAPH, "session lock poisoned"))?;
        let session = sessions.for_run(&self.model_path)?;
        let outputs = session.run(inputs).map_err(tensor_error)?;
        let (_, audio) = outputs[0]
            .try_extract_tensor::<f32>()
            .map_err(tensor_error)?;
        let samples: Vec<f32> = audio.iter().map(|s| s.clamp(-1.0, 1.0)).collect();
        let id_samples = if outputs.len() > 1 {
            outputs[1]
                .try_extract_tensor::<f32>()
                .ok()
                .and_then(|(_, frames)| samples_per_id(frames, samples.len()))
        } else {
            None
        };
        Ok((samples, id_samples))
    }

    /// The `sid` to feed: the requested one (checked against the speaker count) or 0.
    fn speaker_id(&self, requested: Option<i64>) -> Result<i64, ModelError> {
        let speakers = i64::from(self.config.num_speakers);
        match requested {
            Some(id) if speakers > 1 && !(0..speakers).contains(&id) => {
                Err(ModelError::InvalidInput(format!(
                    "speaker id {id} is out of range for {} ({speakers} speakers)",
                    self.model_path.display()
                )))
            }
            Some(id) if speakers > 1 => Ok(id),
            _ => Ok(0),
        }
    }
}

/// Frame counts per id as sample counts: the audio is the frames times a fixed hop, so the
/// hop is the audio's length over the frame total. `None` when they do not divide (not a
/// duration tensor after all).
fn samples_per_id(frames: &[f32], audio_len: usize) -> Option<Vec<usize>> {
    if frames.iter().any(|f| !f.is_finite() || *f < 0.0) {
        return None;
    }
    let counts: Vec<usize> = frames.iter().map(|f| *f as usize).collect();
    let total: usize = counts.iter().sum();
    if total == 0 || !audio_len.is_multiple_of(total) {
        return None;
    }
    let hop = audio_len / total;
    Some(counts.into_iter().map(|c| c * hop).collect())
}
