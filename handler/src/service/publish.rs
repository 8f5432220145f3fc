//! Publishing objects with their sidecars, all or nothing: uploads, and every encoded
//! file of a generation written to `outputs/` with its generation sidecar. Each write runs
//! under a write plan (see `journal`) on its own task, so neither a failure, nor a crash,
//! nor a client that goes away leaves an object without its metadata.

use std::sync::Arc;

use bytes::Bytes;
use serde::Serialize;
use storage::{DynStore, Key, ObjectMeta};
use utoipa::ToSchema;

use audio::encode::{EncodedAudio, ExportFormat};
use futures::FutureExt;
use futures::future::BoxFuture;

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

/// An output being encoded: started already (on a blocking thread), awaited by the write.
pub type Encoding = BoxFuture<'static, Result<EncodedAudio>>;

/// The sidecar's `files`: each format's name, mapped to its file name.
pub fn name_map(
    formats: &[ExportFormat],
    names: &[String],
) -> serde_json::Map<String, serde_json::Value> {
    formats
        .iter()
        .zip(names)
        .map(|(format, name)| {
            (
                format.name().to_owned(),
                serde_json::Value::from(name.as_str()),
            )
        })
        .collect()
}

/// An encoding that is already done.
pub fn encoded(audio: EncodedAudio) -> Encoding {
    futures::future::ready(Ok(audio)).boxed()
}

/// Writes every encoded file and its sidecar, all or nothing (see
/// [`publish_together`]: one write plan, its own task, a failure removes what was
/// written). Each file is written as soon as its encoding is done, so the slowest format's
/// encoder runs while the others are being stored.
pub async fn store_outputs(
    store: &DynStore,
    folder: Option<&str>,
    encodings: Vec<Encoding>,
    names: Vec<String>,
    formats: &[ExportFormat],
    sidecar: OutputSidecar,
) -> Result<Vec<OutputFile>> {
    let mut writes = Vec::with_capacity(encodings.len());
    let mut files = Vec::with_capacity(encodings.len());
    for ((encoding, name), format) in encodings.into_iter().zip(names).zip(formats) {
        let key = Area::Outputs.key_in(folder, &name)?;
        let relative = key
            .strip_prefix(&Area::Outputs.prefix())
            .unwrap_or(key.as_str())
            .to_owned();
        let mut sidecar = sidecar.clone();
        let body: Body = async move {
            let audio = encoding.await?;
            sidecar.sample_rate = Some(audio.sample_rate);
            sidecar.file_size_bytes = Some(audio.bytes.len() as u64);
            sidecar.format = Some(audio.format.name().to_owned());
            let sidecar = area::sidecar_bytes(&sidecar)?;
            Ok((Bytes::from(audio.bytes), sidecar))
        }
        .boxed();
        writes.push((key, None, body));
        files.push(OutputFile {
            format: format.name().to_owned(),
            url: naming::output_url(&relative),
            size_bytes: 0,
            content_type: format.content_type(),
            filename: name,
            path: relative,
            bytes: Bytes::new(),
        });
    }
    let written = publish_as_ready(store, writes).await?;
    for (file, (_, body)) in files.iter_mut().zip(written) {
        file.size_bytes = body.len() as u64;
        file.bytes = body;
    }
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
    let writes = files
        .into_iter()
        .map(|(key, body, sidecar)| {
            let sizes = Some((body.len() as u64, sidecar.len() as u64));
            let ready: Body = futures::future::ready(Ok((body, sidecar))).boxed();
            (key, sizes, ready)
        })
        .collect();
    let written = publish_as_ready(store, writes).await?;
    Ok(written.into_iter().map(|(meta, _)| meta).collect())
}

/// An object's body and its sidecar's, once made.
type Body = BoxFuture<'static, Result<(Bytes, Bytes)>>;

/// One object of a publish: its key, its body's and sidecar's sizes when known up front,
/// and the bodies.
type Pending = (Key, Option<(u64, u64)>, Body);

/// [`publish_together`] for bodies still being made: each object (then its sidecar) is
/// written as soon as its body is ready. The plan records the sizes known up front (none
/// for bodies still being made: objects are written whole or not at all, so existing is
/// enough to count as complete). Answers each object's metadata and body, in order.
async fn publish_as_ready(
    store: &DynStore,
    files: Vec<Pending>,
) -> Result<Vec<(ObjectMeta, Bytes)>> {
    let mut writes = Vec::with_capacity(files.len());
    let mut planned = Vec::with_capacity(files.len() * 2);
    for (key, sizes, body) in files {
        let sidecar_key = area::sidecar_key(&key)?;
        planned.push(journal::Planned {
            key: key.to_string(),
            size: sizes.map(|(body, _)| body),
        });
        planned.push(journal::Planned {
            key: sidecar_key.to_string(),
            size: sizes.map(|(_, sidecar)| sidecar),
        });
        writes.push((key, body, sidecar_key));
    }
    let store = Arc::clone(store);
    journal::detached(async move {
        let store = store.as_ref();
        let intent =
            journal::Intent::begin(store, journal::Plan::Publish { writes: planned }).await?;
        // The files go up side by side (each before its own sidecar), so a request waits
        // for about one write's round trip whatever the number of formats.
        let outcomes = futures::future::join_all(writes.into_iter().map(
            |(key, body, sidecar_key)| async move {
                let mut done = Vec::with_capacity(2);
                let (body, sidecar) = match body.await {
                    Ok(made) => made,
                    Err(e) => return (done, Err(e)),
                };
                let meta = match store.put(&key, body.clone()).await {
                    Ok(meta) => meta,
                    Err(e) => return (done, Err(e.into())),
                };
                done.push(key);
                match store.put(&sidecar_key, sidecar).await {
                    Ok(_) => {
                        done.push(sidecar_key);
                        (done, Ok((meta, body)))
                    }
                    Err(e) => (done, Err(e.into())),
                }
            },
        ))
        .await;
        let mut done: Vec<Key> = Vec::new();
        let mut written = Vec::with_capacity(outcomes.len());
        let mut failure = None;
        for (keys, outcome) in outcomes {
            done.extend(keys);
            match outcome {
                Ok(object) => written.push(object),
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
            return Err(e);
        }
        intent.done(store).await;
        Ok(written)
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
