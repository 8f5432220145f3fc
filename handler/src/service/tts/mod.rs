//! Text to speech: validate, pick the engine, prepare the text, synthesise (behind the
//! engine's gate), post-process, encode every requested format and publish the files
//! with their sidecars. Nothing is written until the audio exists, and a failure
//! removes whatever was written.

pub mod request;
pub mod speaker;
pub mod synthesis;

use std::time::Instant;

use models::chatterbox::GenerationParams;
use models::text::{ChunkOptions, TextOptions};
use serde_json::{Map, Value, json};

use super::area::Entry;
use super::captions::{self, Captions, Span};
use super::engines::EngineKind;
use super::generation::{self, abandoned, encode};
use super::outputs::OutputSidecar;
use super::publish::{self, OutputFile};
use super::script::Script;
use super::voice_use::{self, ConditioningSource};
use super::work;
use crate::error::{Error, Result};
use crate::naming;
use crate::state::AppState;
pub use request::{ModelChoice, TtsPlan, TtsRequest};
use speaker::Speaker;
use synthesis::{ChatterboxJob, ChunkReport};

/// What a TTS request produced.
#[derive(Debug, Clone)]
pub struct TtsOutcome {
    /// Files written, in the order of `export_formats`.
    pub files: Vec<OutputFile>,
    /// The seed used (the request's, or the one picked for seed 0); `None` for an engine
    /// whose audio no seed reproduces (Piper draws its noise inside its graph).
    pub seed: Option<u64>,
    /// The engine that spoke.
    pub engine: EngineKind,
    /// Length of the result in seconds.
    pub duration_seconds: f64,
    /// Sample rate of the result.
    pub sample_rate: u32,
    /// Wall time of the request.
    pub processing_time_seconds: f64,
    /// Requested features that are not built.
    pub warnings: Vec<String>,
    /// Where each sentence is in the audio, when the request asked for captions.
    pub captions: Option<Captions>,
}

/// The audio and what generating it reported.
struct Spoken {
    samples: Vec<f32>,
    sample_rate: u32,
    chunks: Vec<ChunkReport>,
    spans: Vec<Span>,
    voice: Option<(Entry, ConditioningSource)>,
}

/// Runs a TTS request end to end.
pub async fn run(state: &AppState, request: TtsRequest) -> Result<TtsOutcome> {
    let started = Instant::now();
    let engines = state.engines();
    let plan = request.validate(engines.settings().max_text_length)?;
    let engine = match plan.model {
        ModelChoice::Piper => EngineKind::Piper,
        ModelChoice::Chatterbox => EngineKind::Chatterbox,
        ModelChoice::Auto if plan.voice.is_some() => EngineKind::Chatterbox,
        ModelChoice::Auto => EngineKind::Piper,
    };
    let seed = match u64::try_from(request.seed) {
        Ok(0) | Err(_) => generation::fresh_seed(),
        Ok(seed) => seed,
    };
    let mut warnings = plan.warnings.clone();
    let reported_seed = match engine {
        EngineKind::Chatterbox => Some(seed),
        EngineKind::Piper => {
            if request.seed != 0 {
                warnings.push(piper_seed_warning(request.seed));
            }
            None
        }
    };
    let lexicons =
        super::lexicons::load(state.store().as_ref(), "lexicons", &request.lexicons).await?;
    let script = super::script::prepare(
        &plan.text,
        &super::script::ScriptOptions {
            ssml: request.ssml,
            normalize: request.normalize_text,
            text: TextOptions {
                to_lowercase: request.to_lowercase,
                normalize_spacing: request.normalize_spacing,
                fix_dot_letters: request.fix_dot_letters,
                remove_reference_numbers: request.remove_reference_numbers,
            },
            chunks: ChunkOptions {
                enable_batching: request.enable_batching,
                smart_batch_short_sentences: request.smart_batch_short_sentences,
                max_chunk_chars: generation::MAX_CHUNK_CHARS,
            },
            lexicons: &lexicons,
            field: "text",
        },
    )?;
    warnings.extend(script.warnings.iter().cloned());
    if engine == EngineKind::Chatterbox
        && script
            .parts
            .iter()
            .any(|part| matches!(part, super::script::Part::Phonemes { .. }))
    {
        warnings
            .push("chatterbox cannot read IPA: each <phoneme> was spoken as its text".to_owned());
    }
    let processed_text_length: usize = script.chunks().map(|c| c.chars().count()).sum();

    let script_is_ssml = script.ssml;
    let mut spoken = match engine {
        EngineKind::Piper => speak_piper(state, &script).await?,
        EngineKind::Chatterbox => speak_chatterbox(state, &plan, &request, seed, &script).await?,
    };
    let sample_rate = spoken.sample_rate;
    let spans = std::mem::take(&mut spoken.spans);
    let post = plan.post.clone();
    if spoken.samples.is_empty() {
        // Text of characters the voice has no sounds for (letters of scripts it does not
        // speak): the client's to fix, not a fault.
        return Err(Error::invalid(
            "text",
            "nothing in the text could be spoken by this voice: it produced no audio",
        ));
    }
    let (encodings, report) = encode(
        state.encoders(),
        spoken.samples,
        sample_rate,
        post,
        &plan.formats,
    )
    .await?;

    let captions = request
        .captions
        .then(|| captions::build(&script, &plan.text, &spans, sample_rate, &report));
    let now = chrono::Utc::now();
    let params = name_params(&request, engine);
    let names = publish::names_per_format("tts", &params, &plan.formats, now);
    let parameters = sidecar_parameters(&request, &plan, engine, reported_seed);
    let generation_info = json!({
        "engine": engine.name(),
        "processing_time_seconds": started.elapsed().as_secs_f64(),
        "seed_used": reported_seed,
        "chunks_processed": spoken.chunks.len().max(1),
        "text_length": plan.text.chars().count(),
        "processed_text_length": processed_text_length,
        "ssml": script_is_ssml,
        "sample_rate": sample_rate,
        "duration_seconds": report.output_duration_seconds,
        "chunks": spoken.chunks,
        "voice_conditioning": spoken.voice.as_ref().map(|(_, source)| *source),
        "postprocess": report,
        "warnings": warnings,
    });
    let timestamp = super::iso(now);
    let voice_path = spoken
        .voice
        .as_ref()
        .map(|(entry, _)| entry.relative.clone());
    let mut extra = Map::new();
    if let Some(captions) = &captions {
        extra.insert("captions".into(), json!(captions));
    }
    let sidecar = OutputSidecar {
        extra,
        generation_type: Some("tts".into()),
        timestamp: Some(timestamp),
        duration_seconds: Some(report.output_duration_seconds),
        parameters,
        generation_info,
        files: publish::name_map(&plan.formats, &names),
        source_files: voice_path.into_iter().collect(),
        ..OutputSidecar::default()
    };
    let files = publish::store_outputs(
        state.store(),
        plan.folder.as_deref(),
        encodings,
        names,
        &plan.formats,
        sidecar,
    )
    .await?;
    if let Some((entry, _)) = &spoken.voice {
        voice_use::record_use(
            state.store().as_ref(),
            state.voice_use(),
            entry,
            engine.name(),
        )
        .await;
    }
    let processing_seconds = started.elapsed().as_secs_f64();
    super::usage::record(
        state,
        super::usage::Generated {
            timing: crate::monitoring::GenerationTiming {
                kind: "tts",
                engine: engine.name(),
                audio_seconds: report.output_duration_seconds,
                processing_seconds,
                first_audio: Some((processing_seconds, false)),
            },
            project: plan.folder.clone(),
            bytes: files.iter().map(|f| f.size_bytes).sum(),
            voice: spoken
                .voice
                .as_ref()
                .map(|(entry, _)| entry.relative.clone()),
        },
    )
    .await;
    Ok(TtsOutcome {
        files,
        seed: reported_seed,
        engine,
        duration_seconds: report.output_duration_seconds,
        sample_rate,
        processing_time_seconds: started.elapsed().as_secs_f64(),
        warnings,
        captions,
    })
}

async fn speak_piper(state: &AppState, script: &Script) -> Result<Spoken> {
    let engines = state.engines();
    let voice = engines.piper().await?;
    let options = engines.settings().piper_options();
    let slot = engines.admit(EngineKind::Piper).await?;
    let sample_rate = voice.sample_rate();
    let speaker = Speaker::Piper {
        voice,
        options,
        threads: Some(std::sync::Arc::clone(engines.synthesis_threads())),
    };
    let script = script.clone();
    let (samples, _, spans) = work::run(slot, abandoned(state), move |stop| {
        collect(&speaker, &script, stop)
    })
    .await?;
    Ok(Spoken {
        samples,
        sample_rate,
        chunks: Vec::new(),
        spans,
        voice: None,
    })
}

/// Speaks a whole script into one buffer at the engine's rate.
fn collect(
    speaker: &Speaker,
    script: &Script,
    stop: &work::StopSignal,
) -> Result<(Vec<f32>, Vec<ChunkReport>, Vec<Span>)> {
    let collected = speaker.collect(script, stop, &mut |samples| Ok(samples))?;
    Ok((collected.samples, collected.reports, collected.spans))
}

async fn speak_chatterbox(
    state: &AppState,
    plan: &TtsPlan,
    request: &TtsRequest,
    seed: u64,
    script: &Script,
) -> Result<Spoken> {
    let engines = state.engines();
    let store = state.store().as_ref();
    let Some(voice_name) = plan.voice.as_deref() else {
        return Err(Error::invalid(
            "reference_audio_filename",
            "the chatterbox engine needs a reference voice: upload one (POST /api/v1/voice) and name it here",
        ));
    };
    // Find the voice before loading the model, so a typo is a quick 404.
    let entry = voice_use::find_voice(store, "reference_audio_filename", voice_name).await?;
    let voice_use::Cloning {
        engine,
        conditioning,
        source,
        slot,
    } = voice_use::prepare_cloning(state, &entry, "reference_audio_filename").await?;
    let job = ChatterboxJob {
        params: GenerationParams {
            temperature: request.temperature as f32,
            top_p: request.top_p as f32,
            min_p: request.min_p as f32,
            top_k: 0,
            repetition_penalty: request.repetition_penalty as f32,
            cfg_weight: request.cfg_weight as f32,
            exaggeration: request.exaggeration as f32,
            seed,
            max_new_tokens: engines.settings().chatterbox_max_new_tokens,
        },
        max_new_tokens_cap: engines.settings().chatterbox_max_new_tokens,
        candidates: request.num_candidates_per_chunk,
        attempts: request.max_attempts_per_candidate,
    };
    let speaker = Speaker::Chatterbox {
        engine,
        conditioning,
        job,
    };
    let script = script.clone();
    let (samples, reports, spans) = work::run(slot, abandoned(state), move |stop| {
        collect(&speaker, &script, stop)
    })
    .await?;
    Ok(Spoken {
        samples,
        sample_rate: models::chatterbox::SAMPLE_RATE,
        chunks: reports,
        spans,
        voice: Some((entry, source)),
    })
}

/// The original's TTS name parameters (reference §4.1), naming only what shaped the audio:
/// the built-in voice takes no temperature, seed or exaggeration, so its names carry none.
fn name_params(request: &TtsRequest, engine: EngineKind) -> Vec<String> {
    let mut params = Vec::new();
    if engine == EngineKind::Chatterbox {
        params.push(format!("temp{}", naming::py_float(request.temperature)));
        if request.seed != 0 {
            params.push(format!("seed{}", request.seed));
        }
        if request.exaggeration != 0.5 {
            params.push(format!("exag{}", naming::py_float(request.exaggeration)));
        }
    }
    if request.speed_factor != 1.0 {
        params.push(format!("speed{}", naming::py_float(request.speed_factor)));
    }
    if request.trim {
        params.push(format!("trim{}", request.trim_threshold_ms));
    }
    params
}

/// What a request that names a seed hears when the built-in voice speaks.
pub fn piper_seed_warning(seed: impl std::fmt::Display) -> String {
    format!(
        "seed {seed} is not used by the built-in voice (piper): it draws its noise inside its \
         graph, so the same seed does not give the same audio; only chatterbox reproduces by seed"
    )
}

/// The sidecar's `parameters`: the original's keys (with the actual seed, null where the
/// engine takes none) plus ours.
fn sidecar_parameters(
    request: &TtsRequest,
    plan: &TtsPlan,
    engine: EngineKind,
    seed: Option<u64>,
) -> Map<String, Value> {
    let value = json!({
        "text": plan.text,
        "model": engine.name(),
        "reference_audio_filename": plan.voice,
        "temperature": request.temperature,
        "seed": seed,
        "exaggeration": request.exaggeration,
        "cfg_weight": request.cfg_weight,
        "top_p": request.top_p,
        "min_p": request.min_p,
        "repetition_penalty": request.repetition_penalty,
        "speed_factor": request.speed_factor,
        "trim": request.trim,
        "trim_threshold_ms": request.trim_threshold_ms,
        "normalize_audio": request.normalize_audio,
        "num_candidates_per_chunk": request.num_candidates_per_chunk,
        "max_attempts_per_candidate": request.max_attempts_per_candidate,
        "bypass_whisper_checking": request.bypass_whisper_checking.unwrap_or(false),
        "whisper_model_name": request.whisper_model_name.as_deref().unwrap_or("medium"),
        "use_faster_whisper": request.use_faster_whisper.unwrap_or(true),
        "enable_batching": request.enable_batching,
        "export_formats": plan.formats.iter().map(|f| f.name()).collect::<Vec<_>>(),
        "project": plan.folder,
    });
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}
