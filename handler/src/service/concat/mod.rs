//! Concatenation: resolve and decode the sources (server outputs and uploads), build
//! one timeline, encode it once per requested format, and store every file with its
//! generation sidecar. Nothing is written unless everything succeeded.

mod request;

use std::sync::Arc;
use std::time::Instant;

use audio::encode::FileEncoder;
use audio::memory::Lease;

use bytes::Bytes;
use serde_json::{Value, json};
use storage::{Key, ObjectStore};

use audio::encode::ExportFormat;
use audio::timeline::{
    Clip, ConcatOptions, ConcatReport, ProcessingDetail, SilenceToken, TimelineItem,
};

use super::area::{self, Area};
use super::outputs::OutputSidecar;
use super::publish;
pub use super::publish::OutputFile;
use super::upload;
use crate::error::{Error, Result};
use crate::naming;
use crate::state::AppState;
pub use request::{ConcatRequest, ConcatSettings, MixedConcatRequest, Segment};

/// Most items (files, uploads and silences) one concatenation may have.
pub const MAX_ITEMS: usize = 500;
/// Sources fetched and decoded at once (also bounds how many are in memory undecoded).
const FETCH_CONCURRENCY: usize = 4;

/// Where a timeline item comes from.
#[derive(Debug, Clone)]
pub enum Source {
    /// An existing output, by path relative to `outputs/` (or a bare name found in a folder).
    Server(String),
    /// An uploaded file (its bytes and the name it came with), reported as `upload <index>`.
    Upload {
        /// Position in `uploaded_files`.
        index: usize,
        /// The client's file name.
        file_name: String,
        /// The bytes.
        bytes: Bytes,
    },
    /// Exact silence.
    Silence(SilenceToken),
}

/// `/concat` (plain names) or `/concat/mixed` (uploads too): the file name prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `concat_…` names.
    Concat,
    /// `mixed_…` names.
    Mixed,
}

/// A validated concatenation request.
#[derive(Debug, Clone)]
pub struct Job {
    /// Which endpoint asked.
    pub kind: Kind,
    /// The items, in order.
    pub sources: Vec<Source>,
    /// Timeline options (the seed is already chosen).
    pub options: ConcatOptions,
    /// Formats to write, first one streamed.
    pub formats: Vec<ExportFormat>,
    /// Output folder under `outputs/` (`None` for the root).
    pub folder: Option<String>,
    /// Client-chosen name (extension replaced per format), if any.
    pub output_filename: Option<String>,
    /// The request's parameters as the sidecar records them.
    pub parameters: serde_json::Map<String, Value>,
    /// Join the clips' captions into the result's.
    pub captions: bool,
}

/// What a concatenation produced.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// Files written, in the order of the requested formats.
    pub files: Vec<OutputFile>,
    /// The timeline report, with file sizes added (the response's `metadata`).
    pub metadata: Value,
    /// Length of the result in seconds.
    pub total_duration_seconds: f64,
    /// Audio items joined.
    pub file_count: usize,
    /// Wall time of the whole request.
    pub processing_time_seconds: f64,
    /// The joined captions, when asked for and some clip had captions.
    pub captions: Option<super::captions::Captions>,
}

/// A decoded clip with what the report needs about its source.
struct Loaded {
    clip: Clip,
    size_bytes: u64,
    source_name: String,
}

/// Runs a concatenation end to end. Fetched and decoded audio and the encoded files are
/// reserved on `lease` (the process's audio memory budget) before they are allocated, and
/// the timeline is encoded as it is joined, never held whole.
pub async fn run(state: &AppState, job: Job, lease: Arc<Lease>) -> Result<Outcome> {
    let started = Instant::now();
    if job.sources.len() > MAX_ITEMS {
        return Err(Error::invalid(
            "files",
            format!("at most {MAX_ITEMS} items can be concatenated at once"),
        ));
    }
    let store = state.store().as_ref();
    let limits = state.config().limits.decode_limits();
    let silence_seconds: f64 = job
        .sources
        .iter()
        .filter_map(|s| {
            if let Source::Silence(t) = s {
                Some(f64::from(t.duration_ms) / 1000.0)
            } else {
                None
            }
        })
        .sum();
    let budget = Budget::new(limits.max_duration_seconds - silence_seconds);
    let loaded = load_sources(store, &job.sources, &limits, &budget, &lease).await?;

    // The longest the result can be: every clip, every silence and the longest pauses.
    let clip_seconds: f64 = loaded
        .iter()
        .flatten()
        .map(|l| l.clip.pcm.duration_seconds())
        .sum();
    let gaps = loaded.iter().flatten().count().saturating_sub(1) as f64;
    let pause_seconds =
        gaps * f64::from(job.options.pause_duration_ms + job.options.pause_variation_ms) / 1000.0;
    let total_seconds = clip_seconds + silence_seconds + pause_seconds;
    if total_seconds > limits.max_duration_seconds {
        return Err(Error::TooLarge(format!(
            "the result would last up to {total_seconds:.0} s, over the {:.0} s limit",
            limits.max_duration_seconds
        )));
    }
    let mut sizes = Vec::new();
    let mut source_names = Vec::new();
    let mut clip_captions = Vec::new();
    let mut items = Vec::with_capacity(job.sources.len());
    for (source, loaded) in job.sources.iter().zip(loaded) {
        match (source, loaded) {
            (Source::Silence(token), _) => items.push(TimelineItem::Silence(token.clone())),
            (source, Some(loaded)) => {
                if job.captions {
                    clip_captions.push(
                        matches!(source, Source::Server(_)).then(|| loaded.source_name.clone()),
                    );
                }
                sizes.push(loaded.size_bytes);
                source_names.push(loaded.source_name);
                items.push(TimelineItem::Clip(loaded.clip));
            }
            (_, None) => return Err(Error::Internal("a source was not loaded".into())),
        }
    }

    let options = job.options.clone();
    let formats = job.formats.clone();
    let encoding_lease = Arc::clone(&lease);
    let (report, encoded) = {
        let programs = state.encoders().clone();
        blocking(move || encode_timeline(items, &options, &formats, encoding_lease, &programs))
            .await?
    };
    let captions = if job.captions {
        use futures::StreamExt;
        let reads: Vec<_> = clip_captions
            .into_iter()
            .map(|name| stored_captions(store, name))
            .collect();
        let stored: Vec<_> = futures::stream::iter(reads)
            .buffered(FETCH_CONCURRENCY)
            .collect()
            .await;
        super::captions::joined(&placed_clips(&report, stored))
    } else {
        None
    };
    let names = output_names(&job, &report)?;
    let timestamp = super::now_iso();
    let processing_time = started.elapsed().as_secs_f64();
    let metadata = report_with_sizes(&report, &sizes, processing_time);
    let formats: Vec<_> = encoded.iter().map(|audio| audio.format).collect();
    let mut extra = serde_json::Map::new();
    if let Some(captions) = &captions {
        extra.insert("captions".into(), json!(captions));
    }
    let sidecar = OutputSidecar {
        extra,
        generation_type: Some("concat".into()),
        timestamp: Some(timestamp),
        duration_seconds: Some(report.total_duration_seconds),
        parameters: job.parameters.clone(),
        generation_info: metadata.clone(),
        files: publish::name_map(&formats, &names),
        source_files: source_names,
        ..OutputSidecar::default()
    };
    let encodings = encoded.into_iter().map(publish::encoded).collect();
    let files = publish::store_outputs(
        state.store(),
        job.folder.as_deref(),
        encodings,
        names,
        &formats,
        sidecar,
    )
    .await?;
    let processing_seconds = started.elapsed().as_secs_f64();
    super::usage::record(
        state,
        super::usage::Generated {
            timing: crate::monitoring::GenerationTiming {
                kind: "concat",
                engine: "none",
                audio_seconds: report.total_duration_seconds,
                processing_seconds,
                first_audio: None,
            },
            project: job.folder.clone(),
            bytes: files.iter().map(|f| f.size_bytes).sum(),
            voice: None,
        },
    )
    .await;
    Ok(Outcome {
        files,
        total_duration_seconds: report.total_duration_seconds,
        file_count: report.file_count,
        processing_time_seconds: started.elapsed().as_secs_f64(),
        metadata,
        captions,
    })
}

/// The captions stored with a server clip (`None` for uploads and clips without any).
async fn stored_captions(
    store: &dyn ObjectStore,
    name: Option<String>,
) -> Option<super::captions::Captions> {
    super::captions::stored(store, name.as_deref()?).await
}

/// Each clip's captions with where the timeline put it (clips in order, as reported).
fn placed_clips(
    report: &ConcatReport,
    captions: Vec<Option<super::captions::Captions>>,
) -> Vec<super::captions::PlacedClip> {
    report
        .processing_details
        .iter()
        .filter_map(|detail| match detail {
            ProcessingDetail::File {
                duration_seconds,
                start_seconds,
                trim_info,
                ..
            } => Some(super::captions::PlacedClip {
                captions: None,
                start: *start_seconds,
                trimmed_lead: trim_info
                    .as_ref()
                    .map_or(0.0, |t| t.leading_silence_removed_ms / 1000.0),
                duration: *duration_seconds,
            }),
            _ => None,
        })
        .zip(captions)
        .map(|(placed, captions)| super::captions::PlacedClip { captions, ..placed })
        .collect()
}

/// Joins the timeline and encodes it into every format as it is produced: only one clip and
/// one crossfade window of samples are ever held beyond the decoded clips, which are
/// released as they are appended.
fn encode_timeline(
    items: Vec<TimelineItem>,
    options: &ConcatOptions,
    formats: &[ExportFormat],
    lease: Arc<Lease>,
    programs: &audio::encode::Encoders,
) -> Result<(ConcatReport, Vec<audio::encode::EncodedAudio>), audio::AudioError> {
    let format = audio::timeline::timeline_format(&items)?;
    let frames = frames_at_most(&items, options, format.sample_rate);
    let mut encoders = formats
        .iter()
        .map(|f| {
            let mut encoder =
                programs.file(*f, format.sample_rate, format.channels, Arc::clone(&lease))?;
            // One reservation of the final size instead of growing step by step.
            encoder.expect_frames(frames)?;
            Ok(encoder)
        })
        .collect::<Result<Vec<_>, audio::AudioError>>()?;
    let (_, report) = audio::timeline::concat_streaming(items, options, &lease, &mut |chunk| {
        encoders
            .iter_mut()
            .try_for_each(|encoder| encoder.push(chunk))
    })?;
    let encoded = encoders
        .into_iter()
        .map(FileEncoder::finish)
        .collect::<Result<Vec<_>, _>>()?;
    Ok((report, encoded))
}

/// The most frames the joined timeline can have at `rate`: every clip, every silence and
/// the longest pauses (crossfades and trimming only make it shorter).
fn frames_at_most(items: &[TimelineItem], options: &ConcatOptions, rate: u32) -> u64 {
    let ms = |ms: f64| (ms * f64::from(rate) / 1000.0).ceil() as u64;
    let mut clips = 0u64;
    let mut frames = 0u64;
    for item in items {
        frames += match item {
            TimelineItem::Clip(clip) => {
                clips += 1;
                audio::resample::output_frames(clip.pcm.frames(), clip.pcm.sample_rate, rate) as u64
            }
            TimelineItem::Silence(token) => ms(f64::from(token.duration_ms)),
        };
    }
    let pause = options.pause_duration_ms + options.pause_variation_ms;
    frames + clips.saturating_sub(1) * ms(f64::from(pause))
}

/// Seconds of audio the clips of one request may still decode into. Each decode may use
/// what is left, so a request of many long files stops at the cap instead of decoding
/// every file first (memory stays within `FETCH_CONCURRENCY` times the cap).
struct Budget {
    limit_seconds: f64,
    used_millis: std::sync::atomic::AtomicU64,
}

impl Budget {
    fn new(limit_seconds: f64) -> Self {
        Self {
            limit_seconds: limit_seconds.max(0.0),
            used_millis: std::sync::atomic::AtomicU64::new(0),
        }
    }

    fn remaining(&self) -> f64 {
        let used = self.used_millis.load(std::sync::atomic::Ordering::Relaxed) as f64 / 1000.0;
        (self.limit_seconds - used).max(0.0)
    }

    /// Records a decoded clip; fails once the clips together pass the limit.
    fn spend(&self, seconds: f64) -> Result<()> {
        let millis = (seconds * 1000.0).ceil() as u64;
        let used = self
            .used_millis
            .fetch_add(millis, std::sync::atomic::Ordering::Relaxed)
            + millis;
        if used as f64 / 1000.0 > self.limit_seconds {
            return Err(Error::TooLarge(format!(
                "the clips and silences add up to more than the {:.0} s limit",
                self.limit_seconds
            )));
        }
        Ok(())
    }
}

/// Fetches and decodes every audio source (a few at a time), in order.
async fn load_sources(
    store: &dyn ObjectStore,
    sources: &[Source],
    limits: &audio::DecodeLimits,
    budget: &Budget,
    lease: &Arc<Lease>,
) -> Result<Vec<Option<Loaded>>> {
    use futures::StreamExt;
    // Names are checked before any I/O, so an unsafe or non-audio name fails fast.
    let keys = sources
        .iter()
        .map(|source| match source {
            Source::Server(name) => check_server_name(name).map(Some),
            _ => Ok(None),
        })
        .collect::<Result<Vec<Option<Key>>>>()?;
    let scan = tokio::sync::OnceCell::new();
    let loads: Vec<_> = sources
        .iter()
        .zip(keys)
        .map(|(source, key)| load_one(store, source, key, &scan, *limits, budget, lease))
        .collect();
    futures::stream::iter(loads)
        .buffered(FETCH_CONCURRENCY)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect()
}

async fn load_one(
    store: &dyn ObjectStore,
    source: &Source,
    key: Option<Key>,
    scan: &tokio::sync::OnceCell<Vec<area::Entry>>,
    limits: audio::DecodeLimits,
    budget: &Budget,
    lease: &Arc<Lease>,
) -> Result<Option<Loaded>> {
    let mut fetched = 0;
    let (label, source_name, bytes, file_name) = match (source, key) {
        (Source::Silence(_), _) => return Ok(None),
        (Source::Server(name), Some(key)) => {
            let (relative, bytes) = fetch_server_file(store, name, &key, scan).await?;
            // Held until decoded (uploads were reserved as they arrived).
            lease.reserve(bytes.len() as u64)?;
            fetched = bytes.len() as u64;
            (relative.clone(), relative.clone(), bytes, relative)
        }
        (
            Source::Upload {
                index,
                file_name,
                bytes,
            },
            _,
        ) => (
            format!("upload {index}"),
            format!("upload {index}: {file_name}"),
            bytes.clone(),
            file_name.clone(),
        ),
        (Source::Server(name), None) => {
            return Err(Error::Internal(format!("{name} has no key")));
        }
    };
    let size_bytes = bytes.len() as u64;
    let extension = naming::extension(&file_name);
    let limits = audio::DecodeLimits {
        max_duration_seconds: limits.max_duration_seconds.min(budget.remaining()),
        max_decoded_samples: limits.max_decoded_samples,
    };
    let decoding_lease = Arc::clone(lease);
    let decoded = super::work::blocking("decode task", move || {
        audio::decode_within(bytes, extension.as_deref(), &limits, &decoding_lease)
    })
    .await?;
    lease.release(fetched);
    let (_, pcm) = decoded.map_err(|e| match e {
        audio::AudioError::TooLong { .. } => Error::TooLarge(format!(
            "{file_name}: the clips and silences add up to more than the {:.0} s limit",
            budget.limit_seconds
        )),
        other => upload::audio_error(other, &file_name),
    })?;
    budget.spend(pcm.duration_seconds())?;
    Ok(Some(Loaded {
        clip: Clip { label, pcm },
        size_bytes,
        source_name,
    }))
}

/// The key a server file name designates under `outputs/`: unsafe names are 422,
/// names without an audio extension 415.
fn check_server_name(name: &str) -> Result<Key> {
    naming::relative_path_param("files", name)?;
    if !naming::is_listed_audio(name) {
        return Err(Error::UnsupportedMedia {
            message: format!(
                "{name} is not an audio file (expected one of {})",
                naming::LISTED_EXTENSIONS.join(", ")
            ),
            code: "UNSUPPORTED_FORMAT",
        });
    }
    Area::Outputs.key(name)
}

/// Reads a server file: the exact path under `outputs/`, else a bare name held by exactly
/// one folder (the area is listed once per request, only when a bare name is missing at
/// the root). Returns the path relative to `outputs/` and the bytes; missing files are 404.
async fn fetch_server_file(
    store: &dyn ObjectStore,
    name: &str,
    key: &Key,
    scan: &tokio::sync::OnceCell<Vec<area::Entry>>,
) -> Result<(String, Bytes)> {
    let missing = || Error::not_found("Server file", name);
    match store.get(key).await {
        Ok(bytes) => return Ok((name.to_owned(), bytes)),
        Err(e) if !e.is_not_found() => return Err(e.into()),
        Err(_) if name.contains('/') => return Err(missing()),
        Err(_) => {}
    }
    let entries = scan
        .get_or_try_init(|| area::entries(store, Area::Outputs))
        .await?;
    let entry = area::resolve(entries, Area::Outputs, "files", name).map_err(|e| {
        if matches!(e, Error::NotFound { .. }) {
            missing()
        } else {
            e
        }
    })?;
    let bytes = store.get(&entry.key).await.map_err(|e| {
        if e.is_not_found() {
            missing()
        } else {
            e.into()
        }
    })?;
    Ok((entry.relative.clone(), bytes))
}

/// One name per format: the client's (extension forced) or the enhanced pattern.
fn output_names(job: &Job, report: &ConcatReport) -> Result<Vec<String>> {
    let now = chrono::Utc::now();
    let params = name_params(&job.options, report);
    let kind = match job.kind {
        Kind::Concat => "concat",
        Kind::Mixed => "mixed",
    };
    let mut names: Vec<String> = Vec::with_capacity(job.formats.len());
    for format in &job.formats {
        let name = match &job.output_filename {
            Some(custom) => {
                naming::custom_output_name("output_filename", custom, format.extension())?
            }
            None => naming::enhanced_filename(kind, &params, format.extension(), now),
        };
        names.push(publish::distinct(&names, name, *format));
    }
    Ok(names)
}

/// The original's concat name parameters (reference §4.1).
fn name_params(options: &ConcatOptions, report: &ConcatReport) -> Vec<String> {
    let mut params = vec![format!("{}files", report.file_count)];
    if report.silence_segments > 0 {
        params.push(format!("sil{}", report.silence_segments));
    } else if options.pause_duration_ms > 0 {
        params.push(if options.pause_variation_ms > 0 {
            format!(
                "pause{}v{}",
                options.pause_duration_ms, options.pause_variation_ms
            )
        } else {
            format!("pause{}", options.pause_duration_ms)
        });
    }
    if options.crossfade_ms > 0 {
        params.push(format!("fade{}", options.crossfade_ms));
    }
    if options.normalize_levels {
        params.push("leveled".into());
    }
    if options.trim {
        params.push(format!("trim{}", options.trim_threshold_ms));
    }
    params
}

/// The report as JSON, with each file item's `size_bytes` and the processing time added.
fn report_with_sizes(report: &ConcatReport, sizes: &[u64], processing_time: f64) -> Value {
    let mut value = serde_json::to_value(report).unwrap_or(Value::Null);
    if let Some(details) = value
        .get_mut("processing_details")
        .and_then(Value::as_array_mut)
    {
        let files = details.iter_mut().filter(|d| d["type"] == "file");
        for (detail, size) in files.zip(sizes) {
            detail["size_bytes"] = json!(size);
        }
    }
    value["processing_time_seconds"] = json!(processing_time);
    debug_assert!(
        report
            .processing_details
            .iter()
            .filter(|d| matches!(d, ProcessingDetail::File { .. }))
            .count()
            == sizes.len()
    );
    value
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, audio::AudioError> + Send + 'static,
) -> Result<T> {
    Ok(super::work::blocking("audio task", f).await??)
}
