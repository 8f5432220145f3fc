//! Speaking a [`Script`] with a loaded engine, block by block: the buffered TTS route
//! collects the blocks, the streaming dialects send each one as it is made. One place
//! decides what SSML means to each engine: pauses are silence, `<prosody rate>` is the
//! built-in voice's phoneme length (Chatterbox: a pitch-keeping time stretch),
//! `<emphasis>` is a longer phoneme length or more exaggeration, and IPA is read by the
//! built-in voice and replaced by its text for Chatterbox.

use std::sync::Arc;

use models::chatterbox::{Chatterbox, VoiceConditioning};
use models::piper::alignment::TimedPhoneme;
use models::piper::{PiperOptions, PiperVoice, Sentence};

use super::synthesis::{self, ChatterboxJob, ChunkReport};
use crate::error::Result;
use crate::service::captions::Span;
use crate::service::engines::ThreadBudget;
use crate::service::script::{self, Part, Script};
use crate::service::work::StopSignal;

/// A loaded engine and its per-request settings.
pub enum Speaker {
    /// The built-in voice.
    Piper {
        /// The voice.
        voice: Arc<PiperVoice>,
        /// Its synthesis settings.
        options: PiperOptions,
        /// Threads to borrow for speaking a run's chunks side by side; `None` speaks one
        /// at a time (streams, whose first audio must not wait for later chunks).
        threads: Option<Arc<ThreadBudget>>,
    },
    /// A cloned voice.
    Chatterbox {
        /// The engine.
        engine: Arc<Chatterbox>,
        /// The voice's conditioning.
        conditioning: Arc<VoiceConditioning>,
        /// Sampling and candidate settings.
        job: ChatterboxJob,
    },
}

/// One piece of audio at the engine's rate.
#[derive(Debug)]
pub struct Block {
    /// Mono samples.
    pub samples: Vec<f32>,
    /// The chunk of text it speaks (index into [`Script::chunks`]), `None` for a pause.
    pub chunk: Option<usize>,
    /// Where each phoneme lies in `samples`, when the engine says (the built-in voice).
    pub phonemes: Vec<TimedPhoneme>,
}

/// What speaking a script reported.
#[derive(Debug, Default)]
pub struct Spoken {
    /// Whether every block was taken (false: the receiver stopped listening).
    pub finished: bool,
    /// Chatterbox's report per chunk (empty for the built-in voice).
    pub reports: Vec<ChunkReport>,
}

/// A script spoken whole (see [`Speaker::collect`]).
#[derive(Debug)]
pub struct Collected {
    /// The samples.
    pub samples: Vec<f32>,
    /// Chatterbox's report per chunk.
    pub reports: Vec<ChunkReport>,
    /// Where each chunk's audio went.
    pub spans: Vec<Span>,
}

impl Speaker {
    /// The rate of the samples it makes.
    pub fn sample_rate(&self) -> u32 {
        match self {
            Self::Piper { voice, .. } => voice.sample_rate(),
            Self::Chatterbox { .. } => models::chatterbox::SAMPLE_RATE,
        }
    }

    /// Speaks `script` in order, handing over each block (a sentence of the built-in voice,
    /// a chunk of Chatterbox's, a pause) as soon as it exists; `emit` returns false when
    /// nobody listens any more, which ends the work early. Stops between blocks once
    /// `stop` is raised.
    pub fn speak(
        &self,
        script: &Script,
        stop: &StopSignal,
        emit: &mut dyn FnMut(Block) -> Result<bool>,
    ) -> Result<Spoken> {
        let mut spoken = Spoken::default();
        let mut chunk_index = 0;
        for part in &script.parts {
            stop.check()?;
            let listening = match part {
                Part::Pause { seconds } => {
                    let frames = (f64::from(*seconds) * f64::from(self.sample_rate())) as usize;
                    emit(Block {
                        samples: vec![0.0; frames],
                        chunk: None,
                        phonemes: Vec::new(),
                    })?
                }
                Part::Speech {
                    chunks,
                    rate,
                    emphasis,
                } => {
                    let listening = self.speak_chunks(
                        chunks,
                        chunk_index,
                        *rate,
                        *emphasis,
                        stop,
                        &mut spoken.reports,
                        emit,
                    )?;
                    chunk_index += chunks.len();
                    listening
                }
                Part::Phonemes {
                    ipa,
                    fallback,
                    rate,
                } => {
                    let listening = match self {
                        Self::Piper { voice, options, .. } => {
                            let ids = voice.ipa_phoneme_ids(ipa)?;
                            let options = piper_options(voice, options, *rate, Default::default());
                            let samples = voice.synthesize_ids(&ids, &options)?;
                            emit(Block {
                                samples,
                                chunk: Some(chunk_index),
                                phonemes: Vec::new(),
                            })?
                        }
                        Self::Chatterbox { .. } => self.speak_chunks(
                            fallback,
                            chunk_index,
                            *rate,
                            Default::default(),
                            stop,
                            &mut spoken.reports,
                            emit,
                        )?,
                    };
                    chunk_index += fallback.len();
                    listening
                }
            };
            if !listening {
                return Ok(spoken);
            }
        }
        spoken.finished = true;
        Ok(spoken)
    }

    /// Speaks a whole script into one buffer, each block passed through `shape` first
    /// (resampling, tempo; the identity for the engine's own audio), noting where each
    /// chunk's audio and phonemes went.
    pub fn collect(
        &self,
        script: &Script,
        stop: &StopSignal,
        shape: &mut dyn FnMut(Vec<f32>) -> Result<Vec<f32>>,
    ) -> Result<Collected> {
        let mut samples: Vec<f32> = Vec::new();
        let mut spans = Vec::new();
        let spoken = self.speak(script, stop, &mut |block| {
            let raw = block.samples.len();
            let shaped = shape(block.samples)?;
            let start = samples.len();
            samples.extend_from_slice(&shaped);
            if let Some(chunk) = block.chunk {
                spans.push(Span::placed(
                    chunk,
                    block.phonemes,
                    raw,
                    start,
                    samples.len(),
                ));
            }
            Ok(true)
        })?;
        Ok(Collected {
            samples,
            reports: spoken.reports,
            spans,
        })
    }

    /// Speaks a run of chunks at one rate and emphasis; false when nobody listens.
    #[allow(clippy::too_many_arguments)]
    fn speak_chunks(
        &self,
        chunks: &[String],
        first_index: usize,
        rate: f32,
        emphasis: models::text::ssml::Emphasis,
        stop: &StopSignal,
        reports: &mut Vec<ChunkReport>,
        emit: &mut dyn FnMut(Block) -> Result<bool>,
    ) -> Result<bool> {
        for (offset, chunk) in chunks.iter().enumerate() {
            stop.check()?;
            let index = first_index + offset;
            match self {
                Self::Piper {
                    voice,
                    options,
                    threads,
                } => {
                    let options = piper_options(voice, options, rate, emphasis);
                    if let Some(threads) = threads
                        && chunks.len() - offset > 1
                        && voice.parallel_workers() > 1
                    {
                        return piper_side_by_side(
                            voice,
                            &chunks[offset..],
                            index,
                            &options,
                            threads,
                            stop,
                            emit,
                        );
                    }
                    if !piper_sentences(voice, chunk, index, &options, stop, emit)? {
                        return Ok(false);
                    }
                }
                Self::Chatterbox {
                    engine,
                    conditioning,
                    job,
                } => {
                    let mut job = job.clone();
                    job.params.exaggeration =
                        script::chatterbox_exaggeration(job.params.exaggeration, emphasis);
                    let (mut samples, report) = synthesis::chatterbox_chunk(
                        engine,
                        conditioning,
                        index,
                        chunk,
                        &job,
                        stop,
                    )?;
                    reports.push(report);
                    if rate != 1.0 {
                        let pcm = audio::Pcm::mono(models::chatterbox::SAMPLE_RATE, samples);
                        samples = audio::tempo::change_speed(pcm, f64::from(rate))?.samples;
                    }
                    if !emit(Block {
                        samples,
                        chunk: Some(index),
                        phonemes: Vec::new(),
                    })? {
                        return Ok(false);
                    }
                }
            }
        }
        Ok(true)
    }
}

/// The built-in voice's settings for a run: a rate is a shorter or longer phoneme length
/// (the graph's own tempo control, cleaner than stretching its audio), and so is emphasis.
fn piper_options(
    voice: &PiperVoice,
    options: &PiperOptions,
    rate: f32,
    emphasis: models::text::ssml::Emphasis,
) -> PiperOptions {
    if rate == 1.0 && emphasis == models::text::ssml::Emphasis::None {
        return *options;
    }
    let base = options
        .length_scale
        .unwrap_or(voice.config().inference.length_scale);
    PiperOptions {
        length_scale: Some(base * script::piper_emphasis_length(emphasis) / rate),
        ..*options
    }
}

/// Speaks chunks on as many threads as can be borrowed now (the calling thread and up to
/// one per further chunk, each on a one-thread helper session of the voice), then hands
/// the blocks over in order; false when nobody listens. Without a free thread it speaks
/// them one at a time on the voice's own session.
fn piper_side_by_side(
    voice: &PiperVoice,
    chunks: &[String],
    first_index: usize,
    options: &PiperOptions,
    threads: &ThreadBudget,
    stop: &StopSignal,
    emit: &mut dyn FnMut(Block) -> Result<bool>,
) -> Result<bool> {
    let extra = threads.take((chunks.len() - 1).min(voice.parallel_workers() - 1));
    if extra == 0 {
        // Nothing to borrow now: one at a time, on the voice's own (multi-threaded) session.
        for (n, chunk) in chunks.iter().enumerate() {
            stop.check()?;
            if !piper_sentences(voice, chunk, first_index + n, options, stop, emit)? {
                return Ok(false);
            }
        }
        return Ok(true);
    }
    let spoken: Vec<std::sync::Mutex<Option<Result<Vec<Sentence>>>>> =
        chunks.iter().map(|_| std::sync::Mutex::new(None)).collect();
    let next = std::sync::atomic::AtomicUsize::new(0);
    let work = |worker: usize| {
        loop {
            let n = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let Some(chunk) = chunks.get(n) else { break };
            let result = if stop.is_raised() {
                Err(crate::error::Error::Abandoned)
            } else {
                let mut sentences = Vec::new();
                voice
                    .synthesize_each_sentence_on(worker, chunk, options, &mut |sentence| {
                        sentences.push(sentence);
                        Ok(())
                    })
                    .map(|()| sentences)
                    .map_err(Into::into)
            };
            if let Ok(mut slot) = spoken[n].lock() {
                *slot = Some(result);
            }
        }
    };
    // Workers 1..=extra+1: the helper sessions, one intra-op thread each.
    std::thread::scope(|scope| {
        let work = &work;
        for worker in 2..=extra + 1 {
            scope.spawn(move || work(worker));
        }
        work(1);
    });
    threads.give_back(extra);
    for (n, slot) in spoken.into_iter().enumerate() {
        let sentences =
            slot.into_inner()
                .ok()
                .flatten()
                .unwrap_or(Err(crate::error::Error::Internal(
                    "a chunk was not spoken".into(),
                )))?;
        for sentence in sentences {
            let block = Block {
                samples: sentence.waveform.samples,
                chunk: Some(first_index + n),
                phonemes: sentence.phonemes,
            };
            if !emit(block)? {
                return Ok(false);
            }
        }
    }
    Ok(true)
}

/// Speaks one chunk sentence by sentence; false when nobody listens.
fn piper_sentences(
    voice: &PiperVoice,
    chunk: &str,
    index: usize,
    options: &PiperOptions,
    stop: &StopSignal,
    emit: &mut dyn FnMut(Block) -> Result<bool>,
) -> Result<bool> {
    let mut listening = true;
    let mut failure = None;
    let outcome = voice.synthesize_each_sentence(chunk, options, &mut |sentence| {
        let block = Block {
            samples: sentence.waveform.samples,
            chunk: Some(index),
            phonemes: sentence.phonemes,
        };
        match emit(block) {
            Ok(true) if !stop.is_raised() => Ok(()),
            Ok(true) => Err(models::ModelError::Stopped),
            Ok(false) => {
                listening = false;
                Err(models::ModelError::Stopped)
            }
            Err(e) => {
                failure = Some(e);
                Err(models::ModelError::Stopped)
            }
        }
    });
    if let Some(e) = failure {
        return Err(e);
    }
    match outcome {
        Ok(()) => Ok(listening),
        Err(_) if !listening => Ok(false),
        Err(models::ModelError::Stopped) => Err(crate::error::Error::Abandoned),
        Err(e) => Err(e.into()),
    }
}
