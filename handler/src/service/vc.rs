//! Voice conversion: a recording (stored in `vc_inputs/` or uploaded with the request)
//! re-spoken in a stored voice by Chatterbox, chunked by `chunk_sec` with an
//! `overlap_sec` crossfade. A failing chunk fails the request (the original silently
//! inserted silence). Outputs, formats, sidecars and response modes are those of TTS.

use std::sync::Arc;
use std::time::Instant;

use audio::memory::Lease;

use models::chatterbox::ConversionOptions;
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::ToSchema;

use super::area::Area;
use super::generation::{self, Bitrates, export_formats, output_folder};
use super::outputs::OutputSidecar;
use super::publish::{self, OutputFile};
use super::upload::AudioUpload;
use super::voice_use;
use super::work;
use crate::error::{Error, Result};
use crate::naming;
use crate::state::AppState;

/// The body of `POST /api/v1/vc` (JSON), and the fields of its multipart form.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(default)]
pub struct VcRequest {
    /// The recording to convert: a path under `vc_inputs/`, a bare name, or a name without
    /// extension (JSON mode; the multipart form uploads `input_audio` instead).
    pub input_audio_source: String,
    /// The voice to speak in: a path under `voices/`, a bare name, or a name without extension.
    pub target_voice_source: String,
    /// Seconds of source converted per chunk, 1–300.
    #[schema(default = 60, minimum = 1, maximum = 300)]
    pub chunk_sec: i64,
    /// Crossfade between chunks in seconds, 0–5 and less than `chunk_sec`.
    #[schema(default = 0.1, minimum = 0.0, maximum = 5.0)]
    pub overlap_sec: f64,
    /// Accepted for compatibility; no watermark is applied (`false` is reported in `warnings`).
    #[schema(default = true)]
    pub disable_watermark: bool,
    /// Formats to write: wav, wav32, mp3, flac, opus, aac, pcm. The first is streamed.
    #[schema(default = json!(["wav", "mp3"]))]
    pub export_formats: Vec<String>,
    /// Output folder under `outputs/` (the original always wrote to the root).
    pub project: Option<String>,
    /// Alias of `project`.
    pub folder: Option<String>,
    /// `stream` (default) or `url`; the query parameter wins.
    pub response_mode: Option<String>,
}

impl Default for VcRequest {
    fn default() -> Self {
        Self {
            input_audio_source: String::new(),
            target_voice_source: String::new(),
            chunk_sec: 60,
            overlap_sec: 0.1,
            disable_watermark: true,
            export_formats: vec!["wav".into(), "mp3".into()],
            project: None,
            folder: None,
            response_mode: None,
        }
    }
}

/// The defaults applied to omitted fields, as `/api/v1/config` reports them.
pub fn defaults_json() -> Value {
    let d = VcRequest::default();
    json!({
        "chunk_sec": d.chunk_sec,
        "overlap_sec": d.overlap_sec,
        "disable_watermark": d.disable_watermark,
        "export_formats": d.export_formats,
    })
}

/// Where the recording to convert comes from.
#[derive(Debug)]
pub enum VcSource {
    /// A file in `vc_inputs/`, by name.
    Stored(String),
    /// Uploaded with the request (not stored).
    Upload(AudioUpload),
}

/// What a conversion produced.
#[derive(Debug, Clone)]
pub struct VcOutcome {
    /// Files written, in the order of `export_formats`.
    pub files: Vec<OutputFile>,
    /// Length of the result in seconds.
    pub duration_seconds: f64,
    /// Wall time.
    pub processing_time_seconds: f64,
    /// Requested features that are not built.
    pub warnings: Vec<String>,
}

/// Runs a conversion end to end.
pub async fn run(
    state: &AppState,
    source: VcSource,
    request: VcRequest,
    lease: Arc<Lease>,
) -> Result<VcOutcome> {
    let started = Instant::now();
    if !(1..=300).contains(&request.chunk_sec) {
        return Err(Error::invalid(
            "chunk_sec",
            "chunk_sec must be between 1 and 300",
        ));
    }
    if !(request.overlap_sec.is_finite() && (0.0..=5.0).contains(&request.overlap_sec)) {
        return Err(Error::invalid(
            "overlap_sec",
            "overlap_sec must be between 0 and 5",
        ));
    }
    if request.overlap_sec >= request.chunk_sec as f64 {
        return Err(Error::invalid(
            "overlap_sec",
            "overlap_sec must be shorter than chunk_sec",
        ));
    }
    let target_name = request.target_voice_source.trim();
    if target_name.is_empty() {
        return Err(Error::invalid(
            "target_voice_source",
            "target_voice_source is required",
        ));
    }
    let formats = export_formats(&request.export_formats, Bitrates::default())?;
    let folder = output_folder(request.project.as_deref(), request.folder.as_deref())?;
    let mut warnings = Vec::new();
    if !request.disable_watermark {
        warnings.push(
            "no watermark is applied: the Perth watermark has no ONNX implementation".to_owned(),
        );
    }
    let store = state.store().as_ref();
    let limits = state.config().limits.decode_limits();

    let target = voice_use::find_voice(store, "target_voice_source", target_name).await?;
    let (input_label, input_bytes, input_name) = match source {
        VcSource::Stored(name) => {
            let entry =
                voice_use::find_in(store, Area::VcInputs, "input_audio_source", &name).await?;
            let bytes = voice_use::read_entry(store, Area::VcInputs, &entry).await?;
            lease.reserve(bytes.len() as u64)?;
            (entry.relative.clone(), bytes, entry.file_name().to_owned())
        }
        VcSource::Upload(upload) => {
            let name = super::upload::accepted_name(&upload)?;
            (format!("upload: {name}"), upload.bytes, name)
        }
    };
    let source_samples = voice_use::decode_mono(
        input_bytes,
        input_name,
        limits,
        models::chatterbox::SAMPLE_RATE,
        &lease,
    )
    .await?;
    if source_samples.len() < 960 {
        return Err(Error::UnsupportedMedia {
            message: "the recording to convert is shorter than 40 ms".into(),
            code: "INVALID_AUDIO",
        });
    }

    let voice_use::Cloning {
        engine,
        conditioning,
        source: conditioning_source,
        slot,
    } = voice_use::prepare_cloning(state, &target, "target_voice_source").await?;
    let options = ConversionOptions {
        chunk_sec: request.chunk_sec as f32,
        overlap_sec: request.overlap_sec as f32,
    };
    let waveform = work::run(slot, generation::abandoned(state), move |stop| {
        Ok(engine.convert_until(&source_samples, &conditioning, &options, stop.flag())?)
    })
    .await?;
    let duration_seconds = waveform.duration_seconds();
    let (encodings, _) = generation::encode(
        state.encoders(),
        waveform.samples,
        waveform.sample_rate,
        audio::postprocess::PostProcess::default(),
        &formats,
    )
    .await?;

    let now = chrono::Utc::now();
    let names = publish::names_per_format(
        "vc",
        &name_params(&request, target.file_name()),
        &formats,
        now,
    );
    let parameters = match json!({
        "input_audio_source": input_label,
        "target_voice_source": target.relative,
        "chunk_sec": request.chunk_sec,
        "overlap_sec": request.overlap_sec,
        "disable_watermark": request.disable_watermark,
        "export_formats": formats.iter().map(|f| f.name()).collect::<Vec<_>>(),
        "project": folder,
    }) {
        Value::Object(map) => map,
        _ => serde_json::Map::new(),
    };
    let generation_info = json!({
        "engine": "chatterbox",
        "processing_time_seconds": started.elapsed().as_secs_f64(),
        "input_path": input_label,
        "target_path": target.relative,
        "duration_seconds": duration_seconds,
        "sample_rate": models::chatterbox::SAMPLE_RATE,
        "voice_conditioning": conditioning_source,
        "warnings": warnings,
    });
    let timestamp = super::iso(now);
    let sidecar = OutputSidecar {
        generation_type: Some("vc".into()),
        timestamp: Some(timestamp),
        duration_seconds: Some(duration_seconds),
        parameters,
        generation_info,
        files: publish::name_map(&formats, &names),
        source_files: vec![input_label.clone(), target.relative.clone()],
        ..OutputSidecar::default()
    };
    let files = publish::store_outputs(
        state.store(),
        folder.as_deref(),
        encodings,
        names,
        &formats,
        sidecar,
    )
    .await?;
    voice_use::record_use(store, state.voice_use(), &target, "chatterbox").await;
    let processing_seconds = started.elapsed().as_secs_f64();
    super::usage::record(
        state,
        super::usage::Generated {
            timing: crate::monitoring::GenerationTiming {
                kind: "vc",
                engine: "chatterbox",
                audio_seconds: duration_seconds,
                processing_seconds,
                first_audio: Some((processing_seconds, false)),
            },
            project: folder.clone(),
            bytes: files.iter().map(|f| f.size_bytes).sum(),
            voice: Some(target.relative.clone()),
        },
    )
    .await;
    Ok(VcOutcome {
        files,
        duration_seconds,
        processing_time_seconds: started.elapsed().as_secs_f64(),
        warnings,
    })
}

/// The original's VC name parameters: `chunk{n}` and `overlap{x}` when not default, then
/// `voice{stem}` (characters outside `[A-Za-z0-9_-]` removed, at most 10).
fn name_params(request: &VcRequest, target_file: &str) -> Vec<String> {
    let mut params = Vec::new();
    if request.chunk_sec != 60 {
        params.push(format!("chunk{}", request.chunk_sec));
    }
    if request.overlap_sec != 0.1 {
        params.push(format!("overlap{}", naming::py_float(request.overlap_sec)));
    }
    let stem: String = naming::stem(target_file)
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
        .take(10)
        .collect();
    params.push(format!("voice{stem}"));
    params
}
