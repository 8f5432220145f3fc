//! Streaming synthesis: speaks a text sentence by sentence on a blocking thread (behind the
//! engine's gate) and hands each sentence's audio, already resampled and time-stretched, to
//! an [`AudioSink`] whose bytes flow to the client while later sentences are still being
//! made. The first bytes go out after the first sentence, not after the whole text.

use std::sync::Arc;

use audio::encode::Encoders;
use audio::encode::ExportFormat;
use audio::encode::stream::StreamEncoder;
use bytes::Bytes;
use futures::StreamExt;
use models::chatterbox::GenerationParams;
use models::text::{ChunkOptions, TextOptions};
use tokio::sync::mpsc;

use super::area::Entry;
use super::captions::{self, Captions};
use super::engines::EngineKind;
use super::script::Script;
use super::tts::speaker::Speaker;
use super::tts::synthesis::ChatterboxJob;
use super::voice_use;
use super::work;
use crate::error::{Error, Result};
use crate::state::AppState;

/// Blocks in flight between the engine and the client (each is one sentence).
const CHANNEL_BLOCKS: usize = 4;

/// Turns audio blocks into the bytes of a response (an encoder, or SSE events around one).
pub trait AudioSink: Send + 'static {
    /// Bytes to send before any audio (a container header); may be empty.
    fn start(&mut self) -> Result<Vec<u8>>;
    /// Bytes for the next block of mono samples at the stream's rate; may be empty.
    fn push(&mut self, samples: &[f32]) -> Result<Vec<u8>>;
    /// The last bytes, once every block was pushed.
    fn finish(self: Box<Self>, summary: &StreamSummary) -> Result<Vec<u8>>;
    /// Bytes that tell the client the stream failed after it began (empty: just stop).
    fn fail(self: Box<Self>, _error: &Error) -> Vec<u8> {
        Vec::new()
    }
}

/// What a finished stream produced.
#[derive(Debug, Clone, Copy)]
pub struct StreamSummary {
    /// Characters of input text.
    pub input_chars: usize,
    /// Seconds of audio sent.
    pub output_seconds: f64,
}

/// Chatterbox sampling for the streaming dialects: the knobs they expose, the native API's
/// defaults for the rest.
pub fn chatterbox_params(
    temperature: f64,
    exaggeration: f64,
    cfg_weight: f64,
    seed: u64,
    max_new_tokens: usize,
) -> GenerationParams {
    let defaults = super::tts::TtsRequest::default();
    GenerationParams {
        temperature: temperature as f32,
        exaggeration: exaggeration as f32,
        cfg_weight: cfg_weight as f32,
        top_p: defaults.top_p as f32,
        min_p: defaults.min_p as f32,
        top_k: 0,
        repetition_penalty: defaults.repetition_penalty as f32,
        seed,
        max_new_tokens,
    }
}

/// The text to speak, trimmed: refused (422 naming `text`) when empty or longer than
/// `limit` characters.
pub fn checked_text(text: &str, limit: usize) -> Result<String> {
    let text = text.trim();
    if text.is_empty() {
        return Err(Error::invalid("text", "text must not be empty"));
    }
    if text.chars().count() > limit {
        return Err(Error::invalid(
            "text",
            format!("text is longer than {limit} characters"),
        ));
    }
    Ok(text.to_owned())
}

/// A streaming synthesis request.
#[derive(Debug, Clone)]
pub struct StreamRequest {
    /// The engine to speak with.
    pub engine: EngineKind,
    /// The text (already validated: non-empty, within limits).
    pub text: String,
    /// A stored voice to clone (Chatterbox).
    pub voice: Option<Entry>,
    /// Chatterbox sampling settings (the seed is the request's).
    pub params: GenerationParams,
    /// Tempo factor, 0.25–4.0.
    pub speed: f64,
    /// Sample rate of the stream.
    pub sample_rate: u32,
    /// Read numbers, dates and symbols as words, drop Markdown and emoji
    /// (`models::text::normalize`), before the engine sees the text.
    pub normalize_text: bool,
    /// Pronunciation lexicons to apply first (earlier ones win).
    pub lexicons: Vec<Arc<super::lexicons::Lexicon>>,
    /// Read the text as SSML (`None`: when it starts with `<speak`).
    pub ssml: Option<bool>,
}

/// Starts speaking: loads the engine, takes a generation slot and (for a cloned voice)
/// its conditioning before returning, so those failures are still ordinary error
/// responses; then returns the bytes as they are produced. A client that goes away
/// stops the synthesis at the next sentence.
pub async fn start(
    state: &AppState,
    request: StreamRequest,
    mut sink: Box<dyn AudioSink>,
) -> Result<mpsc::Receiver<Result<Bytes>>> {
    let (script, speaker, slot) = ready(state, &request).await?;
    let header = sink.start()?;
    let (sender, receiver) = mpsc::channel(CHANNEL_BLOCKS);
    let input_chars = request.text.chars().count();
    // The work hands back the stream's last message (and the channel) instead of sending
    // it, so the slot is free before the client sees the end: a client that asks again at
    // once must not find its own finished request still holding the slot.
    // A stream's client leaving does not drop a future here (the work runs on its own
    // task): it closes the channel, which the work sees when it next sends. Counted then.
    let client_left = super::generation::abandoned(state);
    let started = std::time::Instant::now();
    // (first audio after, seconds of audio sent), read once the stream has finished.
    let timing = Arc::new(std::sync::Mutex::new((None::<f64>, 0.0_f64)));
    let work_timing = Arc::clone(&timing);
    let work = work::run(slot, super::generation::abandoned(state), move |stop| {
        if !header.is_empty() && sender.blocking_send(Ok(Bytes::from(header))).is_err() {
            tracing::info!("speech stream stopped: the client went away");
            client_left();
            return Ok((false, Vec::new(), sender));
        }
        let mut sent_seconds = 0.0;
        let mut emit =
            |samples: Vec<f32>, rate: u32, sink: &mut Box<dyn AudioSink>| -> Result<bool> {
                let block = shape(samples, rate, request.sample_rate, request.speed)?;
                sent_seconds += block.len() as f64 / f64::from(request.sample_rate);
                if let Ok(mut timing) = work_timing.lock() {
                    timing
                        .0
                        .get_or_insert_with(|| started.elapsed().as_secs_f64());
                    timing.1 = sent_seconds;
                }
                let bytes = sink.push(&block)?;
                Ok(bytes.is_empty() || sender.blocking_send(Ok(Bytes::from(bytes))).is_ok())
            };
        let rate = speaker.sample_rate();
        let outcome = speaker
            .speak(&script, stop, &mut |block| {
                emit(block.samples, rate, &mut sink)
            })
            .map(|spoken| spoken.finished);
        let (finished, last): (bool, Vec<Result<Bytes>>) = match outcome {
            // Letters of a script the voice has no sounds for: the client's to fix, and
            // said before any audio (the dialects answer with the first audio).
            Ok(true) if sent_seconds == 0.0 => (
                false,
                vec![Err(Error::invalid(
                    "input",
                    "nothing in the input could be spoken by this voice: it produced no audio",
                ))],
            ),
            Ok(true) => {
                let summary = StreamSummary {
                    input_chars,
                    output_seconds: sent_seconds,
                };
                match sink.finish(&summary) {
                    Ok(tail) => (true, vec![Ok(Bytes::from(tail))]),
                    Err(e) => (false, vec![Err(e)]),
                }
            }
            // The client went away: nothing more to say.
            Ok(false) => {
                tracing::info!("speech stream stopped: the client went away");
                client_left();
                (false, Vec::new())
            }
            Err(Error::Abandoned) => (false, Vec::new()),
            Err(e) => {
                tracing::error!(error = %e, "speech stream failed after it began");
                let notice = sink.fail(&e);
                let mut last = Vec::new();
                if !notice.is_empty() {
                    last.push(Ok(Bytes::from(notice)));
                }
                last.push(Err(e));
                (false, last)
            }
        };
        Ok((finished, last, sender))
    });
    // The stream outlives this call: the work runs on its own task, and a client that goes
    // away closes the channel, which stops it at the next sentence.
    let worker = tokio::spawn(async move {
        let (finished, last, sender) = work.await?;
        let mut delivered = finished;
        for message in last {
            delivered &= sender.send(message).await.is_ok();
        }
        Ok::<bool, Error>(delivered)
    });
    let state = state.clone();
    let engine = request.engine;
    tokio::spawn(async move {
        if let Ok(Ok(true)) = worker.await {
            if let Some(voice) = &request.voice {
                voice_use::record_use(
                    state.store().as_ref(),
                    state.voice_use(),
                    voice,
                    engine.name(),
                )
                .await;
            }
            let (first_audio, audio_seconds) = timing.lock().map(|t| *t).unwrap_or((None, 0.0));
            super::usage::record(
                &state,
                super::usage::Generated {
                    timing: crate::monitoring::GenerationTiming {
                        kind: "speech",
                        engine: engine.name(),
                        audio_seconds,
                        processing_seconds: started.elapsed().as_secs_f64(),
                        first_audio: first_audio.map(|s| (s, true)),
                    },
                    project: None,
                    bytes: 0,
                    voice: request.voice.as_ref().map(|v| v.relative.clone()),
                },
            )
            .await;
        }
    });
    Ok(receiver)
}

/// Speech with its captions, whole: what the captioned-speech routes answer.
#[derive(Debug)]
pub struct CaptionedSpeech {
    /// Mono samples at the request's rate and tempo.
    pub samples: Vec<f32>,
    /// Where each sentence (and, for the built-in voice, each word) is in `samples`.
    pub captions: Captions,
}

/// Speaks a request whole (no streaming) and times its sentences and words in the audio
/// as delivered: each block is resampled and time-stretched on its own, so its times are
/// scaled by the same ratio.
pub async fn captioned(state: &AppState, request: StreamRequest) -> Result<CaptionedSpeech> {
    let started = std::time::Instant::now();
    let (script, speaker, slot) = ready(state, &request).await?;
    let rate = speaker.sample_rate();
    let script_for_work = script.clone();
    let work_request = request.clone();
    let (samples, spans) = work::run(slot, super::generation::abandoned(state), move |stop| {
        let request = work_request;
        let collected = speaker.collect(&script_for_work, stop, &mut |samples| {
            shape(samples, rate, request.sample_rate, request.speed)
        })?;
        Ok((collected.samples, collected.spans))
    })
    .await?;
    if samples.is_empty() {
        return Err(Error::invalid(
            "input",
            "nothing in the input could be spoken by this voice: it produced no audio",
        ));
    }
    let report = audio::postprocess::PostProcessReport {
        input_duration_seconds: samples.len() as f64 / f64::from(request.sample_rate),
        output_duration_seconds: samples.len() as f64 / f64::from(request.sample_rate),
        speed_factor_applied: None,
        trim_info: None,
        normalization: None,
    };
    let captions = captions::build(&script, &request.text, &spans, request.sample_rate, &report);
    if let Some(voice) = &request.voice {
        voice_use::record_use(
            state.store().as_ref(),
            state.voice_use(),
            voice,
            request.engine.name(),
        )
        .await;
    }
    let processing_seconds = started.elapsed().as_secs_f64();
    super::usage::record(
        state,
        super::usage::Generated {
            timing: crate::monitoring::GenerationTiming {
                kind: "speech",
                engine: request.engine.name(),
                audio_seconds: report.output_duration_seconds,
                processing_seconds,
                first_audio: Some((processing_seconds, false)),
            },
            project: None,
            bytes: 0,
            voice: request.voice.as_ref().map(|v| v.relative.clone()),
        },
    )
    .await;
    Ok(CaptionedSpeech { samples, captions })
}

/// Everything a synthesis needs before it starts: the script (refusals are 4xx), the
/// engine loaded (a missing model is a quick 503) and a generation slot, so the gate
/// bounds every inference.
async fn ready(state: &AppState, request: &StreamRequest) -> Result<(Script, Speaker, work::Slot)> {
    let script = super::script::prepare(
        &request.text,
        &super::script::ScriptOptions {
            ssml: request.ssml,
            normalize: request.normalize_text,
            text: TextOptions::default(),
            // One sentence per block, so the first bytes wait for one sentence only.
            chunks: ChunkOptions {
                enable_batching: false,
                smart_batch_short_sentences: false,
                max_chunk_chars: super::generation::MAX_CHUNK_CHARS,
            },
            lexicons: &request.lexicons,
            field: "input",
        },
    )?;
    let voice = match request.engine {
        EngineKind::Piper => None,
        EngineKind::Chatterbox => Some(
            request
                .voice
                .as_ref()
                .ok_or_else(|| Error::invalid("voice", "voice cloning needs a stored voice"))?,
        ),
    };
    let (speaker, slot) =
        one_at_a_time(state, request.engine, voice, &request.params, "voice").await?;
    Ok((script, speaker, slot))
}

/// An engine ready to speak one chunk at a time (one Chatterbox candidate per chunk, the
/// built-in voice on its own session), loaded (a missing model is a quick 503) and holding a
/// generation slot, so the gate bounds every inference. `voice` is the stored voice to clone
/// (Chatterbox), named `param` in errors.
pub async fn one_at_a_time(
    state: &AppState,
    engine: EngineKind,
    voice: Option<&Entry>,
    params: &GenerationParams,
    param: &'static str,
) -> Result<(Speaker, work::Slot)> {
    let engines = state.engines();
    match (engine, voice) {
        (EngineKind::Chatterbox, Some(voice)) => {
            let cloning = voice_use::prepare_cloning(state, voice, param).await?;
            let job = ChatterboxJob {
                params: params.clone(),
                max_new_tokens_cap: engines.settings().chatterbox_max_new_tokens,
                candidates: 1,
                attempts: 2,
            };
            let speaker = Speaker::Chatterbox {
                engine: cloning.engine,
                conditioning: cloning.conditioning,
                job,
            };
            Ok((speaker, cloning.slot))
        }
        (EngineKind::Chatterbox, None) => {
            Err(Error::invalid(param, "voice cloning needs a stored voice"))
        }
        (EngineKind::Piper, _) => {
            let voice = engines.piper().await?;
            let options = engines.settings().piper_options();
            let slot = engines.admit(EngineKind::Piper).await?;
            let speaker = Speaker::Piper {
                voice,
                options,
                threads: None,
            };
            Ok((speaker, slot))
        }
    }
}

/// `text` as it should be spoken (`normalize`: numbers, dates, money, units, abbreviations,
/// URLs and e-mail addresses as words, Markdown and emoji dropped), or as given. Runs before
/// `preprocess`, which would otherwise lowercase abbreviations and split "e.g." first.
pub fn normalized(text: &str, normalize: bool) -> String {
    let options = models::text::normalize::NormalizeOptions {
        enabled: normalize,
        ..Default::default()
    };
    models::text::normalize::normalize(text, &options)
}

/// One sentence's audio at the stream's rate and tempo.
fn shape(samples: Vec<f32>, from_rate: u32, to_rate: u32, speed: f64) -> Result<Vec<f32>> {
    let mut pcm = audio::Pcm::mono(from_rate, samples);
    if from_rate != to_rate {
        pcm = audio::resample::resample(&pcm, to_rate)?;
    }
    if speed != 1.0 {
        pcm = audio::tempo::change_speed(pcm, speed)?;
    }
    Ok(pcm.samples)
}

/// Raw audio: the encoder's bytes as they come.
pub struct RawSink {
    encoder: Option<StreamEncoder>,
    header: Vec<u8>,
}

impl RawSink {
    /// A sink sending `header` first, then what `encoder` makes.
    pub fn new(encoder: StreamEncoder, header: Vec<u8>) -> Self {
        Self {
            encoder: Some(encoder),
            header,
        }
    }

    /// How many messages a stream through this sink sends up to its first audio: the
    /// container header (when the format has one), then the audio. See [`from_first_audio`].
    pub fn messages_to_first_audio(&self) -> usize {
        if self.header.is_empty() { 1 } else { 2 }
    }

    /// A sink encoding to `format` at `sample_rate` with `encoders`, its container header
    /// first.
    pub fn encoding(encoders: &Encoders, format: ExportFormat, sample_rate: u32) -> Result<Self> {
        let (encoder, header) = encoders.stream(format, sample_rate)?;
        Ok(Self::new(encoder, header))
    }
}

/// Waits for a started stream's first audio (the first `leading` messages: its container
/// header, if any, then audio) and returns the whole body: those, then the rest as it comes.
/// A failure before any audio is returned as the error, so the answer gets a real status
/// instead of a stream cut after its headers.
pub async fn from_first_audio(
    mut receiver: mpsc::Receiver<Result<Bytes>>,
    leading: usize,
) -> Result<impl futures::Stream<Item = std::io::Result<Bytes>> + Send + 'static> {
    let mut first = Vec::with_capacity(leading);
    while first.len() < leading {
        match receiver.recv().await {
            Some(Ok(bytes)) => first.push(Ok(bytes)),
            Some(Err(error)) => return Err(error),
            None => break,
        }
    }
    Ok(futures::stream::iter(first).chain(byte_stream(receiver)))
}

/// A started stream's messages as the bytes of a response body; an error ends the body
/// early (the client sees it cut short).
pub fn byte_stream(
    receiver: mpsc::Receiver<Result<Bytes>>,
) -> impl futures::Stream<Item = std::io::Result<Bytes>> + Send + 'static {
    futures::stream::unfold(receiver, |mut receiver| async move {
        let item = receiver.recv().await?;
        Some((
            item.map_err(|e| std::io::Error::other(e.to_string())),
            receiver,
        ))
    })
}

impl AudioSink for RawSink {
    fn start(&mut self) -> Result<Vec<u8>> {
        Ok(std::mem::take(&mut self.header))
    }

    fn push(&mut self, samples: &[f32]) -> Result<Vec<u8>> {
        match self.encoder.as_mut() {
            Some(encoder) => Ok(encoder.push(samples)?),
            None => Ok(Vec::new()),
        }
    }

    fn finish(mut self: Box<Self>, _summary: &StreamSummary) -> Result<Vec<u8>> {
        match self.encoder.take() {
            Some(encoder) => Ok(encoder.finish()?),
            None => Ok(Vec::new()),
        }
    }
}
