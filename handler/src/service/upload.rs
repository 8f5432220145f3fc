//! Storing uploaded audio: name checks, proof that the bytes are audio, the
//! overwrite rule, and writing object + sidecar so that failures leave nothing behind.

use std::sync::Arc;

use bytes::Bytes;
use storage::{DynStore, Key, ObjectStore};

use super::area::{self, Area, Entry};
use super::journal;
use crate::error::{Error, Result};
use crate::naming;

/// An uploaded file as received: the client's file name and the bytes.
#[derive(Debug, Clone)]
pub struct AudioUpload {
    /// The multipart field the file came in (for error messages).
    pub field: &'static str,
    /// The file name the client sent.
    pub file_name: String,
    /// The content.
    pub bytes: Bytes,
}

/// The upload's file name made safe, refused (415) unless its extension is an audio
/// format we decode.
pub fn accepted_name(upload: &AudioUpload) -> Result<String> {
    let filename = naming::sanitize_file_name(upload.field, &upload.file_name)?;
    let extension = naming::extension(&filename).unwrap_or_default();
    if audio::ContainerFormat::from_extension(&extension).is_none() {
        return Err(Error::UnsupportedMedia {
            message: format!(
                "Unsupported file type {:?}; accepted: {}",
                upload.file_name,
                audio::ContainerFormat::EXTENSIONS.join(", ")
            ),
            code: "UNSUPPORTED_FORMAT",
        });
    }
    Ok(filename)
}

/// An upload that passed every check and is ready to be written.
#[derive(Debug)]
pub struct StoredAudio {
    /// Destination key.
    pub key: Key,
    /// Path relative to the area root.
    pub relative: String,
    /// Sanitised file name.
    pub filename: String,
    /// Destination folder (relative), `None` at the root.
    pub folder: Option<String>,
    /// What decoding established.
    pub info: audio::AudioInfo,
    bytes: Bytes,
}

impl StoredAudio {
    /// Checks an upload: safe name, accepted extension, free destination (unless
    /// `overwrite`), and bytes that decode completely as audio within `limits`.
    pub async fn prepare(
        store: &dyn ObjectStore,
        area: Area,
        folder: Option<&str>,
        upload: AudioUpload,
        overwrite: bool,
        limits: &audio::DecodeLimits,
    ) -> Result<Self> {
        let filename = accepted_name(&upload)?;
        let extension = naming::extension(&filename).unwrap_or_default();
        if upload.bytes.is_empty() {
            return Err(Error::BadRequest(format!(
                "File is empty: {}",
                upload.file_name
            )));
        }
        let key = area.key_in(folder, &filename)?;
        let relative = key
            .strip_prefix(&area.prefix())
            .unwrap_or(key.as_str())
            .to_owned();
        if !overwrite && area::exists(store, &key).await? {
            return Err(Error::Conflict(format!(
                "{} already exists: {relative}. Use overwrite=true to replace.",
                area.noun()
            )));
        }
        let info =
            inspect_audio(upload.bytes.clone(), &extension, *limits, &upload.file_name).await?;
        // The file is served by its extension's content type, so the name must tell the truth.
        let claimed = audio::ContainerFormat::from_extension(&extension);
        let consistent = match (claimed, info.format) {
            (Some(claimed), actual) if claimed == actual => true,
            // Ogg is the container of both Vorbis and Opus.
            (Some(audio::ContainerFormat::Ogg), audio::ContainerFormat::Opus) => true,
            _ => false,
        };
        if !consistent {
            return Err(Error::UnsupportedMedia {
                message: format!(
                    "{} holds {} audio but is named .{extension}; name it .{}",
                    upload.file_name,
                    info.format.extension().to_ascii_uppercase(),
                    info.format.extension()
                ),
                code: "UNSUPPORTED_FORMAT",
            });
        }
        Ok(Self {
            key,
            relative,
            filename,
            folder: folder.map(str::to_owned),
            info,
            bytes: upload.bytes,
        })
    }

    /// The uploaded bytes.
    pub fn bytes(&self) -> &Bytes {
        &self.bytes
    }

    /// Size of the upload in bytes.
    pub fn size(&self) -> u64 {
        self.bytes.len() as u64
    }

    /// Writes the object and then its sidecar (removing the object if the sidecar fails).
    pub async fn commit<T: serde::Serialize>(self, store: &DynStore, sidecar: &T) -> Result<Entry> {
        let meta = super::publish::put_with_sidecar(store, &self.key, self.bytes, sidecar).await?;
        Ok(Entry {
            key: self.key,
            relative: self.relative,
            folder: self.folder,
            size: meta.size,
            modified: meta.last_modified,
            has_sidecar: true,
        })
    }
}

/// Decodes the bytes on a blocking thread to prove they are audio and measure them.
pub async fn inspect_audio(
    bytes: Bytes,
    extension: &str,
    limits: audio::DecodeLimits,
    file_name: &str,
) -> Result<audio::AudioInfo> {
    let extension = extension.to_owned();
    let outcome = super::work::blocking("audio inspection task", move || {
        audio::inspect(bytes, Some(&extension), &limits)
    })
    .await?;
    outcome.map_err(|e| audio_error(e, file_name))
}

/// Maps a decoding failure of an upload to its client error.
pub fn audio_error(err: audio::AudioError, file_name: &str) -> Error {
    match err {
        audio::AudioError::TooLong { .. } | audio::AudioError::MemoryTooLarge { .. } => {
            Error::TooLarge(format!("{file_name}: {err}"))
        }
        e @ audio::AudioError::MemoryBusy { .. } => Error::MemoryBusy(e.to_string()),
        audio::AudioError::Empty => Error::BadRequest(format!("File is empty: {file_name}")),
        other => Error::UnsupportedMedia {
            message: format!("{file_name} is not valid audio: {other}"),
            code: "INVALID_AUDIO",
        },
    }
}

/// Moves an entry to `to` with `sidecar` as its new sidecar, under a write plan (see
/// `journal`) and on its own task: the new sidecar is written first, then the object is
/// moved, then the old sidecar and cached conditioning are removed. A crash at any point
/// is settled by the next sweep: finished when the object reached `to`, undone otherwise,
/// so a voice never stays in two folders.
pub async fn move_entry(
    store: &DynStore,
    area: Area,
    entry: &Entry,
    to: &Key,
    sidecar: Bytes,
) -> Result<Entry> {
    let new_sidecar = area::sidecar_key(to)?;
    let old_sidecar = entry.sidecar_key()?;
    let old_conditioning = entry.key.with_suffix(".cond")?;
    let plan = journal::Plan::Move {
        moves: vec![
            journal::Moved {
                from: entry.key.to_string(),
                to: to.to_string(),
                size: entry.size,
            },
            journal::Moved {
                from: old_sidecar.to_string(),
                to: new_sidecar.to_string(),
                size: sidecar.len() as u64,
            },
        ],
        drop: vec![old_conditioning.to_string()],
    };
    let (store, from) = (Arc::clone(store), entry.key.clone());
    let target = to.clone();
    journal::detached(async move {
        let store = store.as_ref();
        let intent = journal::Intent::begin(store, plan).await?;
        store.put(&new_sidecar, sidecar).await?;
        store.rename(&from, &target).await?;
        store.delete_many(&[old_sidecar, old_conditioning]).await?;
        intent.done(store).await;
        Ok(())
    })
    .await?;
    let relative = to
        .strip_prefix(&area.prefix())
        .unwrap_or(to.as_str())
        .to_owned();
    Ok(Entry {
        key: to.clone(),
        folder: relative.rsplit_once('/').map(|(f, _)| f.to_owned()),
        relative,
        size: entry.size,
        modified: entry.modified,
        has_sidecar: true,
    })
}
