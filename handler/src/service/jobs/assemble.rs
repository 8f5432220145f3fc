//! Putting a job's pieces together: a chapter's finished chunks joined (pauses, tempo,
//! captions moved into place) and written as its outputs, then the chapters joined into
//! the book by the concat engine.

use std::sync::Arc;
use std::time::Duration;

use audio::postprocess::PostProcess;
use serde_json::json;

use super::JobOutput;
use super::plan::{self, CheckedJob, JobRequest};
use super::worker::{Unit, part_key, update};
use crate::error::{Error, Result};
use crate::service::captions::{self, Captions};
use crate::service::{concat, generation, outputs::OutputSidecar, publish};
use crate::state::AppState;

/// Joins a chapter's parts, applies the tempo, writes its outputs and records them.
pub(super) async fn write_chapter(
    state: &AppState,
    id: &str,
    request: &JobRequest,
    checked: &CheckedJob,
    number: usize,
    units: &[Unit],
) -> Result<()> {
    let store = state.store().as_ref();
    let limits = state.config().limits.decode_limits();
    // The chapter is held whole while its tempo is changed and it is encoded: its samples
    // (twice: the tempo change copies) are reserved on the process's memory budget first.
    let lease = state.memory().lease();
    let mut samples: Vec<f32> = Vec::new();
    let mut rate = 0u32;
    let mut segments = Vec::new();
    let mut words_everywhere = true;
    for (index, unit) in units.iter().enumerate() {
        match unit {
            Unit::Pause(seconds) => {
                let frames = (f64::from(*seconds) * f64::from(rate.max(1))) as usize;
                samples.resize(samples.len() + frames, 0.0);
            }
            Unit::Chunk(_) => {
                let bytes = store.get(&part_key(id, number, index, "wav")?).await?;
                let too_long = || {
                    Error::TooLarge(format!(
                        "chapter {} lasts more than the {:.0} s any output may last \
                         (--max-audio-seconds): split it into shorter chapters",
                        number + 1,
                        limits.max_duration_seconds
                    ))
                };
                let (_, pcm) = audio::decode(bytes, Some("wav"), &limits).map_err(|e| match e {
                    audio::AudioError::TooLong { .. } => too_long(),
                    other => other.into(),
                })?;
                rate = pcm.sample_rate;
                let offset = samples.len() as f64 / f64::from(rate);
                if offset + pcm.duration_seconds() > limits.max_duration_seconds {
                    return Err(too_long());
                }
                reserve_waiting(&lease, pcm.samples.len() as u64 * 8).await?;
                let unit_captions: Option<Captions> =
                    crate::service::area::read_json(store, &part_key(id, number, index, "json")?)
                        .await;
                for mut segment in unit_captions.map(|c| c.segments).unwrap_or_default() {
                    segment.start += offset;
                    segment.end += offset;
                    for word in &mut segment.words {
                        word.start += offset;
                        word.end += offset;
                    }
                    words_everywhere &= !segment.words.is_empty();
                    segments.push(segment);
                }
                samples.extend_from_slice(&pcm.samples);
            }
        }
    }
    let speed = request.speed_factor.unwrap_or(1.0);
    let post = PostProcess {
        speed_factor: speed,
        ..PostProcess::default()
    };
    let (encodings, report) =
        generation::encode(state.encoders(), samples, rate, post, &checked.formats).await?;
    let scale =
        |t: f64| ((t / speed).min(report.output_duration_seconds) * 1000.0).round() / 1000.0;
    for segment in &mut segments {
        segment.start = scale(segment.start);
        segment.end = scale(segment.end);
        for word in &mut segment.words {
            word.start = scale(word.start);
            word.end = scale(word.end);
        }
    }
    let chapter_captions = Captions {
        level: if words_everywhere && !segments.is_empty() {
            captions::CaptionLevel::Word
        } else {
            captions::CaptionLevel::Sentence
        },
        segments,
    };
    let title = &checked.chapters[number].title;
    let book = plan::slug(request.title.as_deref().unwrap_or("book"));
    let stem = format!("{book}-{:02}-{}", number + 1, plan::slug(title));
    let names: Vec<String> = checked
        .formats
        .iter()
        .map(|f| format!("{stem}.{}", f.extension()))
        .collect();
    let mut extra = serde_json::Map::new();
    if request.captions.unwrap_or(true) {
        extra.insert("captions".into(), json!(chapter_captions));
    }
    let sidecar = OutputSidecar {
        extra,
        generation_type: Some("job".into()),
        timestamp: Some(crate::service::now_iso()),
        duration_seconds: Some(report.output_duration_seconds),
        parameters: match json!({"job_id": id, "chapter": number + 1, "title": title}) {
            serde_json::Value::Object(map) => map,
            _ => serde_json::Map::new(),
        },
        generation_info: json!({"engine": checked.engine.name(), "postprocess": report}),
        files: publish::name_map(&checked.formats, &names),
        ..OutputSidecar::default()
    };
    let files = publish::store_outputs(
        state.store(),
        checked.folder.as_deref(),
        encodings,
        names,
        &checked.formats,
        sidecar,
    )
    .await?;
    update(store, id, |job| {
        if let Some(progress) = job.chapters.get_mut(number) {
            progress.output = files.first().map(|f| f.path.clone());
            progress.duration_seconds = Some(report.output_duration_seconds);
        }
        job.outputs.retain(|o| o.chapter != Some(number + 1));
        job.outputs.extend(files.iter().map(|f| JobOutput {
            kind: "chapter".into(),
            chapter: Some(number + 1),
            format: f.format.clone(),
            path: f.path.clone(),
            url: f.url.clone(),
        }));
    })
    .await?;
    Ok(())
}

/// Reserves `bytes` on `lease`, waiting (up to five minutes) while other work holds the
/// budget: a job is not in a hurry, and failing it for a busy moment would waste it.
async fn reserve_waiting(lease: &audio::memory::Lease, bytes: u64) -> Result<()> {
    for _ in 0..300 {
        match lease.reserve(bytes) {
            Ok(()) => return Ok(()),
            Err(audio::AudioError::MemoryBusy { .. }) => {
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(Error::MemoryBusy(
        "the memory budget stayed full for five minutes while a job waited for it".into(),
    ))
}

/// Joins the chapters into the book with the concat engine (chapter pauses, captions);
/// a book of one chapter is that chapter.
pub(super) async fn write_book(
    state: &AppState,
    id: &str,
    request: &JobRequest,
    checked: &CheckedJob,
) -> Result<()> {
    let store = state.store().as_ref();
    let record = super::get(store, id).await?;
    if record.chapters.len() < 2 || record.outputs.iter().any(|o| o.kind == "book") {
        return Ok(());
    }
    let pause = request.chapter_pause_ms.unwrap_or(2000);
    let limit = state.config().limits.decode_limits().max_duration_seconds;
    let length: f64 = record
        .chapters
        .iter()
        .map(|c| c.duration_seconds.unwrap_or(0.0))
        .sum::<f64>()
        + f64::from(pause) / 1000.0 * (record.chapters.len() - 1) as f64;
    if length > limit {
        let warning = format!(
            "the book was not joined: it would last {length:.0} s, over the {limit:.0} s any \
             output may last (--max-audio-seconds); its chapters are complete"
        );
        update(store, id, |job| {
            if !job.warnings.contains(&warning) {
                job.warnings.push(warning.clone());
            }
        })
        .await?;
        return Ok(());
    }
    let mut sources = Vec::new();
    for (n, chapter) in record.chapters.iter().enumerate() {
        let path = chapter
            .output
            .clone()
            .ok_or_else(|| Error::Internal(format!("chapter {} has no output to join", n + 1)))?;
        if n > 0 && pause >= 50 {
            let token = audio::timeline::SilenceToken::parse(&format!("({pause}ms)"))?;
            sources.push(concat::Source::Silence(token));
        }
        sources.push(concat::Source::Server(path));
    }
    let book = plan::slug(request.title.as_deref().unwrap_or("book"));
    let job = concat::Job {
        kind: concat::Kind::Concat,
        sources,
        options: audio::timeline::ConcatOptions {
            normalize_levels: false,
            crossfade_ms: 0,
            pause_duration_ms: 0,
            pause_variation_ms: 0,
            trim: false,
            trim_threshold_ms: 200,
            seed: 0,
        },
        formats: checked.formats.clone(),
        folder: checked.folder.clone(),
        output_filename: Some(format!("{book}.{}", checked.formats[0].extension())),
        parameters: match json!({"job_id": id, "title": request.title, "chapter_pause_ms": pause}) {
            serde_json::Value::Object(map) => map,
            _ => serde_json::Map::new(),
        },
        captions: request.captions.unwrap_or(true),
    };
    let outcome = concat::run(state, job, Arc::new(state.memory().lease())).await?;
    update(store, id, |job| {
        job.outputs.retain(|o| o.kind != "book");
        job.outputs.extend(outcome.files.iter().map(|f| JobOutput {
            kind: "book".into(),
            chapter: None,
            format: f.format.clone(),
            path: f.path.clone(),
            url: f.url.clone(),
        }));
    })
    .await?;
    Ok(())
}
