//! Running a job: claim it, speak each chapter chunk by chunk (every finished chunk is an
//! object in the store, so a worker that stops resumes after the last one), have each
//! chapter and then the book put together (`assemble`), and mark the job done. Every
//! chunk waits for a generation slot like any request, so a long job shares the engines
//! fairly with interactive traffic.

use std::time::{Duration, Instant};

use audio::encode::ExportFormat;
use audio::postprocess::PostProcessReport;
use chrono::Utc;
use models::chatterbox::GenerationParams;
use storage::{Key, ObjectStore, Precondition};

use super::assemble;
use super::plan::{CheckedJob, JobRequest};
use super::{JobRecord, JobStatus, record_key};
use crate::error::{Error, Result};
use crate::service::area::Entry;
use crate::service::captions::{self, Captions};
use crate::service::script::{self, Part, Script, ScriptOptions};
use crate::service::{generation, sidecar_update, speech_stream, voice_use, work};
use crate::state::AppState;

/// How a run ended.
#[derive(Debug)]
pub enum Ran {
    /// The job reached this final state (or already was in it).
    Finished(JobStatus),
    /// Another worker's claim is live; try again after this long.
    HeldElsewhere(Duration),
    /// The time given ran out between chunks: every finished chunk is kept and the claim
    /// released, so the next run (on any worker) goes on from there.
    Paused,
}

/// Whether a failed run should be tried again later rather than fail the job: the store,
/// the queue, the memory budget or the engines were unavailable for a while. The job's
/// finished chunks are kept.
pub fn is_transient(error: &Error) -> bool {
    matches!(
        error,
        Error::StorageUnavailable(_)
            | Error::QueueUnavailable(_)
            | Error::MemoryBusy(_)
            | Error::Busy { .. }
    )
}

/// Settles a run that ended in an error: a transient one releases the claim (the job
/// waits for its next offer), any other fails the job for good and removes its chunks.
/// Whether the job should be offered again.
pub async fn settle_error(state: &AppState, id: &str, error: &Error) -> bool {
    let store = state.store().as_ref();
    if is_transient(error) {
        tracing::warn!(job = %id, error = %error, "job interrupted; it will be tried again");
        release(state, id).await;
        return true;
    }
    tracing::error!(job = %id, error = %error, "job failed");
    let message = error.to_string();
    // A failed job is final: its finished chunks will not be used again. Removed first, so
    // a failed job never shows parts.
    remove_parts(store, id).await;
    let _ = update(store, id, |job| {
        if !job.status.is_final() {
            job.status = JobStatus::Failed;
            job.error = Some(message.clone());
            job.lease = None;
        }
    })
    .await;
    false
}

/// Gives up this worker's claim on a job (when it pauses or is interrupted), so the next
/// worker need not wait for the lease to lapse.
async fn release(state: &AppState, id: &str) {
    let me = state.jobs().worker_id().to_owned();
    let released = update(state.store().as_ref(), id, |job| {
        if job.lease.as_ref().is_some_and(|lease| lease.owner == me) {
            job.lease = None;
        }
    })
    .await;
    if let Err(e) = released {
        tracing::warn!(job = %id, error = %e, "could not release the job's claim; it lapses");
    }
}

/// The lease length (`--job-lease-seconds`).
fn lease_length(state: &AppState) -> chrono::Duration {
    chrono::Duration::seconds(state.config().engines.job_lease_seconds.max(1) as i64)
}

/// Updates a job's document on the version read, stamping `updated_at`.
pub(super) async fn update(
    store: &dyn ObjectStore,
    id: &str,
    mut change: impl FnMut(&mut JobRecord),
) -> Result<JobRecord> {
    sidecar_update::update_existing_json(store, &record_key(id)?, |job: &mut JobRecord| {
        change(job);
        job.updated_at = Some(Utc::now());
    })
    .await
}

/// Claims the job for this worker (or renews the claim); `None` when another worker's
/// claim is live or the job is finished.
async fn claim(state: &AppState, id: &str) -> Result<JobRecord> {
    let me = state.jobs().worker_id().to_owned();
    let length = lease_length(state);
    update(state.store().as_ref(), id, |job| {
        let now = Utc::now();
        let free = job
            .lease
            .as_ref()
            .is_none_or(|lease| lease.owner == me || lease.expires_at <= now);
        if !job.status.is_final() && free {
            job.status = JobStatus::Running;
            job.started_at.get_or_insert(now);
            job.lease = Some(super::JobLease {
                owner: me.clone(),
                expires_at: now + length,
            });
        }
    })
    .await
}

/// Whether the record is claimed by this worker.
fn is_mine(state: &AppState, job: &JobRecord) -> bool {
    job.lease
        .as_ref()
        .is_some_and(|lease| lease.owner == state.jobs().worker_id())
}

/// Runs a job as far as it goes: to its end, or until `stop_at` passes (checked between
/// chunks; `None`: no limit).
pub async fn run(state: &AppState, id: &str, stop_at: Option<Instant>) -> Result<Ran> {
    let store = state.store().as_ref();
    let job = claim(state, id).await?;
    tracing::debug!(job = %id, status = ?job.status, mine = is_mine(state, &job),
        worker = state.jobs().worker_id(), "job claimed");
    if job.status.is_final() {
        return Ok(Ran::Finished(job.status));
    }
    if !is_mine(state, &job) {
        let wait = job
            .lease
            .as_ref()
            .and_then(|lease| (lease.expires_at - Utc::now()).to_std().ok())
            .unwrap_or_default();
        return Ok(Ran::HeldElsewhere(wait + Duration::from_millis(200)));
    }
    let request: JobRequest = serde_json::from_value(job.request.clone())
        .map_err(|e| Error::Internal(format!("the stored request is unreadable: {e}")))?;
    let checked = request.check(state).await?;
    // Stopped however the run ends, even when its future is dropped mid-way (a Lambda
    // invocation cut short): a dead worker must not keep renewing its claim.
    let heartbeat = AbortOnDrop(Some(spawn_heartbeat(state.clone(), id.to_owned())));
    let outcome = speak_job(state, id, &request, &checked, stop_at).await;
    drop(heartbeat);
    match outcome? {
        Spoken::Paused => {
            release(state, id).await;
            Ok(Ran::Paused)
        }
        Spoken::Ended(JobStatus::Cancelled) => {
            remove_parts(store, id).await;
            Ok(Ran::Finished(JobStatus::Cancelled))
        }
        Spoken::Ended(status) => {
            // Parts first: a completed job never shows any (a crash in between only means
            // the job is taken up again and finds every output written).
            remove_parts(store, id).await;
            update(store, id, |job| {
                if !job.status.is_final() {
                    job.status = status;
                    job.lease = None;
                }
            })
            .await?;
            tracing::debug!(job = %id, ?status, "job settled");
            Ok(Ran::Finished(status))
        }
    }
}

/// Renews the claim while the job runs, at a third of the lease length.
fn spawn_heartbeat(state: AppState, id: String) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let every = (lease_length(&state) / 3)
            .to_std()
            .unwrap_or(Duration::from_secs(10));
        loop {
            tokio::time::sleep(every).await;
            if let Err(e) = claim(&state, &id).await {
                tracing::warn!(job = %id, error = %e, "could not renew the job's claim");
            }
        }
    })
}

/// A task aborted when this is dropped.
pub(super) struct AbortOnDrop(pub(super) Option<tokio::task::JoinHandle<()>>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        if let Some(task) = self.0.take() {
            task.abort();
        }
    }
}

/// A piece of a chapter: a chunk of text to speak (checkpointed), or a pause.
pub(super) enum Unit {
    Chunk(Script),
    Pause(f32),
}

/// The chapter's script cut into units, each chunk a script of its own keeping its
/// offsets into the chapter's text.
fn units(script: &Script) -> Vec<Unit> {
    let mut units = Vec::new();
    let mut index = 0;
    let single = |part: Part, sources: Vec<Option<std::ops::Range<usize>>>| Script {
        parts: vec![part],
        ssml: script.ssml,
        warnings: Vec::new(),
        sources,
    };
    for part in &script.parts {
        match part {
            Part::Pause { seconds } => units.push(Unit::Pause(*seconds)),
            Part::Speech {
                chunks,
                rate,
                emphasis,
            } => {
                for chunk in chunks {
                    let source = script.sources.get(index).cloned().flatten();
                    units.push(Unit::Chunk(single(
                        Part::Speech {
                            chunks: vec![chunk.clone()],
                            rate: *rate,
                            emphasis: *emphasis,
                        },
                        vec![source],
                    )));
                    index += 1;
                }
            }
            Part::Phonemes { fallback, .. } => {
                let sources = script
                    .sources
                    .iter()
                    .skip(index)
                    .take(fallback.len())
                    .cloned()
                    .collect();
                units.push(Unit::Chunk(single(part.clone(), sources)));
                index += fallback.len();
            }
        }
    }
    units
}

/// A chapter's part key (`jobs/<id>/parts/<chapter>/<unit>.wav` and `.json`).
pub(super) fn part_key(id: &str, chapter: usize, unit: usize, extension: &str) -> Result<Key> {
    Ok(Key::new(format!(
        "jobs/{id}/parts/{chapter:04}/{unit:06}.{extension}"
    ))?)
}

/// How far [`speak_job`] went.
enum Spoken {
    /// To this final status.
    Ended(JobStatus),
    /// Until its time ran out, between chunks.
    Paused,
}

/// Speaks every chapter not yet written, then the book; the final status.
async fn speak_job(
    state: &AppState,
    id: &str,
    request: &JobRequest,
    checked: &CheckedJob,
    stop_at: Option<Instant>,
) -> Result<Spoken> {
    let store = state.store().as_ref();
    let lexicons = crate::service::lexicons::load(
        store,
        "lexicons",
        request.lexicons.as_deref().unwrap_or_default(),
    )
    .await?;
    let seed = request
        .seed
        .filter(|s| *s != 0)
        .unwrap_or_else(|| uuid::Uuid::parse_str(id).map_or(1, |u| u.as_u64_pair().0 >> 32));
    // The voice is found and the sampling settled once per job, not per chunk.
    let voice = match &request.reference_audio_filename {
        Some(name) => Some(voice_use::find_voice(store, "reference_audio_filename", name).await?),
        None => None,
    };
    let defaults = crate::service::tts::TtsRequest::default();
    let params = speech_stream::chatterbox_params(
        request.temperature.unwrap_or(defaults.temperature),
        request.exaggeration.unwrap_or(defaults.exaggeration),
        request.cfg_weight.unwrap_or(defaults.cfg_weight),
        seed,
        state.engines().settings().chatterbox_max_new_tokens,
    );
    for (number, chapter) in checked.chapters.iter().enumerate() {
        let record = super::get(store, id).await?;
        if record.status == JobStatus::Cancelled {
            return Ok(Spoken::Ended(JobStatus::Cancelled));
        }
        if record
            .chapters
            .get(number)
            .is_some_and(|c| c.output.is_some())
        {
            continue;
        }
        let script = script::prepare(
            &chapter.text,
            &ScriptOptions {
                ssml: None,
                normalize: request.normalize_text.unwrap_or(true),
                text: models::text::TextOptions::default(),
                chunks: models::text::ChunkOptions {
                    max_chunk_chars: generation::MAX_CHUNK_CHARS,
                    ..Default::default()
                },
                lexicons: &lexicons,
                field: "text",
            },
        )?;
        let units = units(&script);
        let chunks_total = units.iter().filter(|u| matches!(u, Unit::Chunk(_))).count();
        update(store, id, |job| {
            if let Some(progress) = job.chapters.get_mut(number) {
                progress.chunks_total = chunks_total;
            }
        })
        .await?;
        let mut done = 0;
        for (index, unit) in units.iter().enumerate() {
            let Unit::Chunk(unit_script) = unit else {
                continue;
            };
            done += 1;
            if crate::service::area::exists(store, &part_key(id, number, index, "wav")?).await? {
                continue;
            }
            if super::get(store, id).await?.status == JobStatus::Cancelled {
                return Ok(Spoken::Ended(JobStatus::Cancelled));
            }
            if stop_at.is_some_and(|stop_at| Instant::now() >= stop_at) {
                return Ok(Spoken::Paused);
            }
            let started = Instant::now();
            let (samples, rate, unit_captions) = speak_unit(
                state,
                checked,
                voice.as_ref(),
                &params,
                unit_script,
                &chapter.text,
            )
            .await?;
            let seconds = samples.len() as f64 / f64::from(rate);
            let encoded = state
                .encoders()
                .encode(&audio::Pcm::mono(rate, samples), ExportFormat::WavFloat)?;
            store
                .put(
                    &part_key(id, number, index, "json")?,
                    crate::service::area::sidecar_bytes(&unit_captions)?,
                )
                .await?;
            // The audio last: its presence is what marks the chunk finished.
            match store
                .put_if(
                    &part_key(id, number, index, "wav")?,
                    encoded.bytes.into(),
                    Precondition::Absent,
                )
                .await
            {
                Ok(_) => {}
                Err(e) if e.is_precondition_failed() => continue,
                Err(e) => return Err(e.into()),
            }
            let work_seconds = started.elapsed().as_secs_f64();
            update(store, id, |job| {
                job.chunks_written += 1;
                job.audio_seconds += seconds;
                job.work_seconds += work_seconds;
                if let Some(progress) = job.chapters.get_mut(number) {
                    progress.chunks_done = progress.chunks_done.max(done);
                }
            })
            .await?;
        }
        assemble::write_chapter(state, id, request, checked, number, &units).await?;
    }
    assemble::write_book(state, id, request, checked).await?;
    Ok(Spoken::Ended(JobStatus::Completed))
}

/// Speaks one chunk with a generation slot held, like any request.
async fn speak_unit(
    state: &AppState,
    checked: &CheckedJob,
    voice: Option<&Entry>,
    params: &GenerationParams,
    script: &Script,
    chapter_text: &str,
) -> Result<(Vec<f32>, u32, Captions)> {
    let (speaker, slot) = speech_stream::one_at_a_time(
        state,
        checked.engine,
        voice,
        params,
        "reference_audio_filename",
    )
    .await?;
    let rate = speaker.sample_rate();
    let unit = script.clone();
    // A job has no client to lose: it stops only when cancelled, between chunks.
    let (samples, spans) = work::run(
        slot,
        || {},
        move |stop| {
            let collected = speaker.collect(&unit, stop, &mut |samples| Ok(samples))?;
            Ok((collected.samples, collected.spans))
        },
    )
    .await?;
    let seconds = samples.len() as f64 / f64::from(rate);
    let report = PostProcessReport {
        input_duration_seconds: seconds,
        output_duration_seconds: seconds,
        speed_factor_applied: None,
        trim_info: None,
        normalization: None,
    };
    let captions = captions::build(script, chapter_text, &spans, rate, &report);
    Ok((samples, rate, captions))
}

/// Removes a job's finished chunks (once its outputs are written, or it was cancelled).
pub async fn remove_parts(store: &dyn ObjectStore, id: &str) {
    let Ok(prefix) = storage::KeyPrefix::new(format!("jobs/{id}/parts/")) else {
        return;
    };
    match storage::list_all(store, &prefix, false).await {
        Ok(listing) => {
            let keys: Vec<Key> = listing.objects.into_iter().map(|o| o.key).collect();
            if let Err(e) = store.delete_many(&keys).await {
                tracing::warn!(job = %id, error = %e, "could not remove the job's parts");
            }
        }
        Err(e) => tracing::warn!(job = %id, error = %e, "could not list the job's parts"),
    }
}
