//! The concatenation requests as clients send them (the original's names and defaults),
//! checked and turned into a [`Job`]: the timeline's sources, the joining options, the
//! output target. Everything is validated here, before any file is read.

use std::collections::BTreeSet;

use audio::timeline::{ConcatOptions, Entry, SilenceToken};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::{Job, Kind, Source};
use crate::error::{Error, Result};
use crate::naming;
use crate::service::generation::{self, Bitrates};
use crate::service::upload::AudioUpload;

fn default_formats() -> Vec<String> {
    vec!["wav".into()]
}
fn default_true() -> bool {
    true
}
fn default_variation() -> u32 {
    200
}
fn default_trim_threshold() -> u32 {
    200
}

/// Settings shared by both concat endpoints (the original's names and defaults).
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
pub struct ConcatSettings {
    /// Formats to write: `wav` (16-bit), `wav32` (float), `mp3`, `flac`, `opus`, `aac`, `pcm`. The first is streamed.
    #[serde(default = "default_formats")]
    #[schema(default = json!(["wav"]))]
    pub export_formats: Vec<String>,
    /// Level each clip to -20 dBFS RMS before joining.
    #[serde(default = "default_true")]
    #[schema(default = true)]
    pub normalize_levels: bool,
    /// Crossfade between directly adjacent clips, 0–5000 ms (clamped to the shorter clip).
    #[serde(default)]
    pub crossfade_ms: u32,
    /// Natural pause between consecutive clips, 0–3000 ms (0: none).
    #[serde(default)]
    pub pause_duration_ms: u32,
    /// Random ± variation of each pause, 0–500 ms, below `pause_duration_ms` when that is set.
    #[serde(default = "default_variation")]
    #[schema(default = 200)]
    pub pause_variation_ms: u32,
    /// Trim each clip's leading and trailing silence.
    #[serde(default)]
    pub trim: bool,
    /// Edge silence longer than this is trimmed (50–1000 ms), leaving 50 ms.
    #[serde(default = "default_trim_threshold")]
    #[schema(default = 200)]
    pub trim_threshold_ms: u32,
    /// Output file name (a plain name; its extension is replaced per format; an existing file is replaced).
    pub output_filename: Option<String>,
    /// Output folder under `outputs/` (empty: the root).
    pub project: Option<String>,
    /// Alias of `project`; giving both with different values is an error.
    pub folder: Option<String>,
    /// Seed for the pause variation (same seed, same pauses); random when absent, reported in the metadata.
    pub seed: Option<u64>,
    /// MP3 bitrate in kbit/s (default 320; at most 160 below 32 kHz, as the format allows).
    pub mp3_bitrate_kbps: Option<u16>,
    /// Opus bitrate in kbit/s (default 48).
    pub opus_bitrate_kbps: Option<u16>,
    /// Store captions with the result: each server clip's own captions (made with
    /// `captions: true`) moved to where the clip lies after trimming, pauses and
    /// crossfades (see `docs/api.md`, "Captions").
    #[serde(default)]
    pub captions: bool,
}

/// `POST /concat` body.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
pub struct ConcatRequest {
    /// Output files (paths under `outputs/`, e.g. `book1/ch1.wav`) and silence tokens such as `(500ms)` or `(1.5s)` (50 ms–10 s).
    pub files: Vec<String>,
    /// Settings.
    #[serde(flatten)]
    pub settings: ConcatSettings,
    /// `stream` (default) or `url`; the query parameter wins when both are given.
    pub response_mode: Option<String>,
}

/// One segment of a mixed concatenation.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
pub struct Segment {
    /// `server_file`, `upload` or `silence`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The output path (`server_file`) or the silence token (`silence`).
    pub source: Option<String>,
    /// Index into `uploaded_files` (`upload`); one upload may be used several times.
    pub index: Option<i64>,
}

/// The `request_json` field of `POST /concat/mixed`.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
pub struct MixedConcatRequest {
    /// The timeline.
    pub segments: Vec<Segment>,
    /// Settings.
    #[serde(flatten)]
    pub settings: ConcatSettings,
    /// `stream` (default) or `url`; the query parameter wins when both are given.
    pub response_mode: Option<String>,
}

impl ConcatRequest {
    /// The job this request describes.
    pub fn job(&self) -> Result<Job> {
        let sources = audio::timeline::parse_entries(&self.files)?
            .into_iter()
            .map(|entry| match entry {
                Entry::Silence(token) => Source::Silence(token),
                Entry::File(name) => Source::Server(name),
            })
            .collect();
        build_job(Kind::Concat, sources, &self.settings, parameters_of(self))
    }
}

impl MixedConcatRequest {
    /// The job this request describes, with `uploads` (the form's files, in order) placed
    /// where `upload` segments name them.
    pub fn job(&self, uploads: Vec<AudioUpload>) -> Result<Job> {
        let sources = mixed_sources(&self.segments, uploads)?;
        build_job(Kind::Mixed, sources, &self.settings, parameters_of(self))
    }
}

/// Validates segments and pairs upload indices with the uploaded files.
fn mixed_sources(segments: &[Segment], uploads: Vec<AudioUpload>) -> Result<Vec<Source>> {
    if segments.is_empty() {
        return Err(Error::invalid(
            "segments",
            "at least one segment is required",
        ));
    }
    let mut indices = BTreeSet::new();
    let mut sources = Vec::with_capacity(segments.len());
    for (position, segment) in segments.iter().enumerate() {
        let field = |what: &str| format!("segments[{position}]: {what}");
        let source = segment
            .source
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty());
        sources.push(match segment.kind.as_str() {
            "server_file" => match (source, segment.index) {
                (Some(name), None) => Source::Server(name.to_owned()),
                (None, _) => {
                    return Err(Error::invalid(
                        "segments",
                        field("a server_file segment needs a source"),
                    ));
                }
                (Some(_), Some(_)) => {
                    return Err(Error::invalid(
                        "segments",
                        field("a server_file segment takes no index"),
                    ));
                }
            },
            "upload" => match (segment.index, source) {
                (Some(index), None) if index >= 0 => {
                    let index = usize::try_from(index)
                        .map_err(|_| Error::invalid("segments", field("index is too large")))?;
                    indices.insert(index);
                    Source::Upload {
                        index,
                        file_name: String::new(),
                        bytes: bytes::Bytes::new(),
                    }
                }
                (Some(_), None) => {
                    return Err(Error::invalid("segments", field("index must be 0 or more")));
                }
                (None, _) => {
                    return Err(Error::invalid(
                        "segments",
                        field("an upload segment needs an index"),
                    ));
                }
                (Some(_), Some(_)) => {
                    return Err(Error::invalid(
                        "segments",
                        field("an upload segment takes no source"),
                    ));
                }
            },
            "silence" => match (source, segment.index) {
                (Some(token), None) => Source::Silence(SilenceToken::parse(token)?),
                (None, _) => {
                    return Err(Error::invalid(
                        "segments",
                        field("a silence segment needs a source such as (500ms)"),
                    ));
                }
                (Some(_), Some(_)) => {
                    return Err(Error::invalid(
                        "segments",
                        field("a silence segment takes no index"),
                    ));
                }
            },
            other => {
                return Err(Error::invalid(
                    "segments",
                    field(&format!(
                        "unknown type {other:?}; use server_file, upload or silence"
                    )),
                ));
            }
        });
    }
    if !sources.iter().any(|s| !matches!(s, Source::Silence(_))) {
        return Err(Error::invalid(
            "segments",
            "at least one audio segment (server_file or upload) is required",
        ));
    }
    let expected = indices.iter().next_back().map_or(0, |max| max + 1);
    if indices.len() != expected {
        let missing: Vec<String> = (0..expected)
            .filter(|i| !indices.contains(i))
            .map(|i| i.to_string())
            .collect();
        return Err(Error::invalid(
            "segments",
            format!(
                "upload indices must run from 0 without gaps; missing {}",
                missing.join(", ")
            ),
        ));
    }
    if uploads.len() != expected {
        return Err(Error::BadRequest(format!(
            "Expected {expected} uploaded files, got {}",
            uploads.len()
        )));
    }
    for source in &mut sources {
        if let Source::Upload {
            index,
            file_name,
            bytes,
        } = source
        {
            let upload = &uploads[*index];
            file_name.clone_from(&upload.file_name);
            *bytes = upload.bytes.clone();
        }
    }
    Ok(sources)
}

fn parameters_of<T: Serialize>(request: &T) -> serde_json::Map<String, Value> {
    match serde_json::to_value(request) {
        Ok(Value::Object(map)) => map,
        _ => serde_json::Map::new(),
    }
}

fn build_job(
    kind: Kind,
    sources: Vec<Source>,
    settings: &ConcatSettings,
    mut parameters: serde_json::Map<String, Value>,
) -> Result<Job> {
    let folder =
        generation::output_folder(settings.project.as_deref(), settings.folder.as_deref())?;
    let formats = generation::export_formats(
        &settings.export_formats,
        Bitrates {
            mp3_kbps: settings.mp3_bitrate_kbps,
            opus_kbps: settings.opus_bitrate_kbps,
        },
    )?;
    let seed = settings
        .seed
        .unwrap_or_else(|| uuid::Uuid::new_v4().as_u64_pair().0);
    let options = ConcatOptions {
        normalize_levels: settings.normalize_levels,
        crossfade_ms: settings.crossfade_ms,
        pause_duration_ms: settings.pause_duration_ms,
        pause_variation_ms: settings.pause_variation_ms,
        trim: settings.trim,
        trim_threshold_ms: settings.trim_threshold_ms,
        seed,
    };
    options.validate()?;
    if let Some(name) = &settings.output_filename {
        // Checked now so a bad name fails before any work.
        naming::custom_output_name("output_filename", name, "wav")?;
    }
    parameters.insert("seed".into(), seed.into());
    parameters.insert("project".into(), folder.clone().into());
    parameters.remove("folder");
    Ok(Job {
        captions: settings.captions,
        kind,
        sources,
        options,
        formats,
        folder,
        output_filename: settings.output_filename.clone(),
        parameters,
    })
}
