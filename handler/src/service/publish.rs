//! Publishing objects with their sidecars, all or nothing: uploads, and every encoded
//! file of a generation written to `outputs/` with its generation sidecar. Each write runs
//! under a write plan (see `journal`) on its own task, so neither a failure, nor a crash,
//! nor a client that goes away leaves an object without its metadata.

use std::sync::Arc;

use bytes::Bytes;
use serde::Serialize;
use serde_json::{Value, json};
use storage::{DynStore, Key, ObjectMeta};
use utoipa::ToSchema;

use audio::encode::EncodedAudio;

use super::area::{self, Area};
use super::journal;
use super::outputs::OutputSidecar;
use crate::error::{Error, Result};
use crate::naming;

/// One written file.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OutputFile {
    /// Format name (`wav`, `mp3`, ...).
    pub format: String,
    /// File name.
    pub filename: String,
    /// Download URL, `/outputs/<project>/<filename>`.
    pub url: String,
    /// Path relative to the outputs area.
    pub path: String,
    /// Size in bytes.
    pub size_bytes: u64,
    /// The Content-Type it is served with.
    #[serde(skip)]
    pub content_type: &'static str,
    /// The bytes (kept for streaming the response without a second read).
    #[serde(skip)]
    pub bytes: Bytes,
}

/// Writes every encoded file and its sidecar, all or nothing (see
/// [`publish_together`]: one write plan, its own task, a failure removes what was
/// written).
pub async fn store_outputs(
    store: &DynStore,
    folder: Option<&str>,
    encoded: Vec<EncodedAudio>,
    names: Vec<String>,
    sidecar_for: impl Fn(&serde_json::Map<String, Value>) -> OutputSidecar,
) -> Result<Vec<OutputFile>> {
    let name_map: serde_json::Map<String, Value> = encoded
        .iter()
        .zip(&names)
        .map(|(e, n)| (e.format.name().to_owned(), json!(n)))
        .collect();
    let mut files = Vec::with_capacity(encoded.len());
    let mut writes = Vec::with_capacity(encoded.len());
    for (audio, name) in encoded.into_iter().zip(names) {
        let key = Area::Outputs.key_in(folder, &name)?;
        let relative = key
            .strip_prefix(&Area::Outputs.prefix())
            .unwrap_or(key.as_str())
            .to_owned();
        let bytes = Bytes::from(audio.bytes);
        let mut sidecar = sidecar_for(&name_map);
        sidecar.sample_rate = Some(audio.sample_rate);
        sidecar.file_size_bytes = Some(bytes.len() as u64);
        sidecar.format = Some(audio.format.name().to_owned());
        writes.push((key, bytes.clone(), area::sidecar_bytes(&sidecar)?));
        files.push(OutputFile {
            format: audio.format.name().to_owned(),
            url: naming::output_url(&relative),
            size_bytes: bytes.len() as u64,
            content_type: audio.format.content_type(),
            filename: name,
            path: relative,
            bytes,
        });
    }
    publish_together(store, writes).await?;
    Ok(files)
}

/// Stores an object and then its sidecar (see [`publish_together`]).
pub async fn put_with_sidecar<T: Serialize>(
    store: &DynStore,
    key: &Key,
    body: Bytes,
    sidecar: &T,
) -> Result<ObjectMeta> {
    let files = vec![(key.clone(), body, area::sidecar_bytes(sidecar)?)];
    let mut written = publish_together(store, files).await?;
    written
        .pop()
        .ok_or_else(|| Error::Internal("nothing was written".into()))
}

/// Stores objects with their sidecars, all or nothing: the plan is recorded first, the
/// writes run on their own task, and a failure removes what was written.
pub async fn publish_together(
    store: &DynStore,
    files: Vec<(Key, Bytes, Bytes)>,
) -> Result<Vec<ObjectMeta>> {
    let mut writes = Vec::with_capacity(files.len() * 2);
    let mut planned = Vec::with_capacity(files.len() * 2);
    for (key, body, sidecar) in files {
        let sidecar_key = area::sidecar_key(&key)?;
        planned.push(journal::Planned {
            key: key.to_string(),
            size: body.len() as u64,
        });
        planned.push(journal::Planned {
            key: sidecar_key.to_string(),
            size: sidecar.len() as u64,
        });
        writes.push((key, body, sidecar_key, sidecar));
    }
    let store = Arc::clone(store);
    journal::detached(async move {
        let store = store.as_ref();
        let intent =
            journal::Intent::begin(store, journal::Plan::Publish { writes: planned }).await?;
        // The files go up side by side (each before its own sidecar), so a request waits
        // for about one write's round trip whatever the number of formats.
        let outcomes = futures::future::join_all(writes.into_iter().map(
            |(key, body, sidecar_key, sidecar)| async move {
                let mut done = Vec::with_capacity(2);
                let meta = match store.put(&key, body).await {
                    Ok(meta) => meta,
                    Err(e) => return (done, Err(e)),
                };
                done.push(key);
                match store.put(&sidecar_key, sidecar).await {
                    Ok(_) => {
                        done.push(sidecar_key);
                        (done, Ok(meta))
                    }
                    Err(e) => (done, Err(e)),
                }
            },
        ))
        .await;
        let mut done: Vec<Key> = Vec::new();
        let mut metas = Vec::with_capacity(outcomes.len());
        let mut failure = None;
        for (written, outcome) in outcomes {
            done.extend(written);
            match outcome {
                Ok(meta) => metas.push(meta),
                Err(e) => failure = failure.or(Some(e)),
            }
        }
        if let Some(e) = failure {
            // All or nothing. If the removal fails too, the plan stays behind and the next
            // sweep removes what is left.
            match store.delete_many(&done).await {
                Ok(()) => intent.done(store).await,
                Err(cleanup) => tracing::error!(
                    error = %cleanup,
                    "could not remove the objects of a failed write; cleanup will"
                ),
            }
            return Err(e.into());
        }
        intent.done(store).await;
        Ok(metas)
    })
    .await
}

/// One output name per format from the enhanced pattern; `wav` and `wav32` share an
/// extension, so the second gets its format name added to stay distinct.
pub fn names_per_format(
    kind: &str,
    params: &[String],
    formats: &[audio::encode::ExportFormat],
    at: chrono::DateTime<chrono::Utc>,
) -> Vec<String> {
    let mut names: Vec<String> = Vec::with_capacity(formats.len());
    for format in formats {
        let name = naming::enhanced_filename(kind, params, format.extension(), at);
        names.push(distinct(&names, name, *format));
    }
    names
}

/// `name`, or, when an earlier format already took it (`wav` and `wav32` share an
/// extension), `name` with the format's name added before the extension.
pub fn distinct(taken: &[String], name: String, format: audio::encode::ExportFormat) -> String {
    if taken.contains(&name) {
        format!(
            "{}_{}.{}",
            naming::stem(&name),
            format.name(),
            format.extension()
        )
    } else {
        name
    }
}
