//! Publishing generated audio: every encoded file is written to `outputs/` with its
//! generation sidecar beside it, all or nothing (a failure removes what was written).

use bytes::Bytes;
use serde::Serialize;
use serde_json::{Value, json};
use storage::DynStore;
use utoipa::ToSchema;

use audio::encode::EncodedAudio;

use super::area::{self, Area};
use super::outputs::OutputSidecar;
use crate::error::Result;
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
/// [`area::publish_together`]: one write plan, its own task, a failure removes what was
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
    area::publish_together(store, writes).await?;
    Ok(files)
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
