//! What every generating use case (TTS, VC, concatenation, the streaming dialects) shares:
//! where its files go (`project`/`folder`), which formats they are written in (with
//! bitrates), how a seed is chosen, how chunks are bounded, how audio is encoded, and what
//! happens when the client leaves. One copy, so the use cases cannot disagree.

use std::sync::Arc;

use audio::encode::{Encoders, ExportFormat};
use audio::postprocess::{PostProcess, PostProcessReport};
use futures::FutureExt;

use super::publish;
use super::work;
use crate::error::{Error, Result};
use crate::naming;
use crate::state::AppState;

/// Most characters in one chunk handed to an engine (sentences longer than this are split
/// at clause, then word, boundaries).
pub const MAX_CHUNK_CHARS: usize = 300;

/// A fresh seed for a request that named none: 32 of the 122 random bits of a v4 UUID
/// (the OS's generator), never 0.
pub fn fresh_seed() -> u64 {
    (uuid::Uuid::new_v4().as_u128() as u64) % u64::from(u32::MAX) + 1
}

/// `project` / `folder` (aliases) as an output folder under `outputs/` (`None`: the root).
/// Both given with different values (ignoring surrounding spaces and trailing slashes) is
/// a 422; `"unnamed"` is refused, as the original did.
pub fn output_folder(project: Option<&str>, folder: Option<&str>) -> Result<Option<String>> {
    let same = |a: &str, b: &str| a.trim().trim_end_matches('/') == b.trim().trim_end_matches('/');
    let (param, raw) = match (project, folder) {
        (Some(p), Some(f)) if !same(p, f) => {
            return Err(Error::invalid(
                "folder",
                format!(
                    "project ({p:?}) and folder ({f:?}) are aliases; give one, or the same value"
                ),
            ));
        }
        (Some(p), _) => ("project", Some(p)),
        (None, Some(f)) => ("folder", Some(f)),
        (None, None) => ("project", None),
    };
    if raw.is_some_and(|r| r.trim() == "unnamed") {
        return Err(Error::invalid(
            param,
            "\"unnamed\" is not a valid project name",
        ));
    }
    naming::folder_param(param, raw)
}

/// Bitrates that override those of the formats named (`mp3_bitrate_kbps`,
/// `opus_bitrate_kbps`); `None` keeps each format's own.
#[derive(Debug, Clone, Copy, Default)]
pub struct Bitrates {
    /// MP3, in kbit/s.
    pub mp3_kbps: Option<u16>,
    /// Opus, in kbit/s.
    pub opus_kbps: Option<u16>,
}

/// `export_formats` as formats, in order, each named once (a second `mp3` is dropped),
/// with `bitrates` applied. An empty list or an unknown name is a 422.
pub fn export_formats(names: &[String], bitrates: Bitrates) -> Result<Vec<ExportFormat>> {
    if names.is_empty() {
        return Err(Error::invalid(
            "export_formats",
            "export_formats must name at least one format",
        ));
    }
    let mut formats: Vec<ExportFormat> = Vec::with_capacity(names.len());
    for name in names {
        let format = match (name.parse()?, bitrates) {
            (
                ExportFormat::Mp3 { .. },
                Bitrates {
                    mp3_kbps: Some(kbps),
                    ..
                },
            ) => ExportFormat::mp3(kbps)?,
            (
                ExportFormat::Opus { .. },
                Bitrates {
                    opus_kbps: Some(kbps),
                    ..
                },
            ) => ExportFormat::opus(kbps)?,
            (format, _) => format,
        };
        if !formats.iter().any(|f| f.name() == format.name()) {
            formats.push(format);
        }
    }
    Ok(formats)
}

/// What to do when a generation of this request stops because its client left: count it.
pub fn abandoned(state: &AppState) -> impl FnOnce() + Send + 'static {
    let state = state.clone();
    move || state.engines().note_abandoned()
}

/// Post-processes off the async threads, then starts every format's encoder, each on its
/// own blocking thread (so they run side by side, and beside the writes of those done).
pub async fn encode(
    encoders: &Encoders,
    samples: Vec<f32>,
    sample_rate: u32,
    post: PostProcess,
    formats: &[ExportFormat],
) -> Result<(Vec<publish::Encoding>, PostProcessReport)> {
    let (pcm, report) = work::blocking("post-processing", move || {
        if samples.is_empty() {
            return Err(Error::Generation("the engine produced no audio".into()));
        }
        Ok(post.apply(audio::Pcm::mono(sample_rate, samples))?)
    })
    .await??;
    let pcm = Arc::new(pcm);
    let encodings = formats
        .iter()
        .map(|&format| {
            let pcm = Arc::clone(&pcm);
            let encoders = encoders.clone();
            // Started now, not when first polled: encoding runs while the plan is written.
            let task = work::spawn_blocking_in_span(move || encoders.encode(&pcm, format));
            async move { Ok(work::joined(task, "encoder task").await??) }.boxed()
        })
        .collect();
    Ok((encodings, report))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn formats_keep_order_drop_repeats_and_take_bitrates() {
        let formats = export_formats(
            &names(&["mp3", "wav", "mp3", "opus"]),
            Bitrates {
                mp3_kbps: Some(192),
                opus_kbps: Some(32),
            },
        )
        .unwrap();
        assert_eq!(
            formats,
            vec![
                ExportFormat::Mp3 { bitrate_kbps: 192 },
                ExportFormat::Wav,
                ExportFormat::Opus { bitrate_kbps: 32 },
            ]
        );
        assert!(export_formats(&[], Bitrates::default()).is_err());
        assert!(export_formats(&names(&["wav", "mp4"]), Bitrates::default()).is_err());
        let bad_rate = Bitrates {
            mp3_kbps: Some(7),
            ..Bitrates::default()
        };
        assert!(export_formats(&names(&["mp3"]), bad_rate).is_err());
        // A bitrate for a format not asked for changes nothing.
        assert_eq!(
            export_formats(&names(&["flac"]), bad_rate).unwrap(),
            vec![ExportFormat::Flac]
        );
    }

    #[test]
    fn project_and_folder_are_one_setting() {
        assert_eq!(output_folder(None, None).unwrap(), None);
        assert_eq!(
            output_folder(Some("book1"), None).unwrap().as_deref(),
            Some("book1")
        );
        assert_eq!(
            output_folder(None, Some("book1")).unwrap().as_deref(),
            Some("book1")
        );
        assert_eq!(
            output_folder(Some("book1/"), Some(" book1"))
                .unwrap()
                .as_deref(),
            Some("book1")
        );
        assert!(output_folder(Some("book1"), Some("book2")).is_err());
        assert!(output_folder(Some("unnamed"), None).is_err());
        assert!(output_folder(None, Some("../up")).is_err());
    }
}
