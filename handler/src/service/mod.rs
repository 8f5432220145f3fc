//! Transport-free use cases. Route handlers parse and shape; everything else is here.

pub mod area;
pub mod backup;
pub mod captions;
pub mod concat;
pub mod engines;
pub mod folders;
pub mod generation;
pub mod jobs;
pub mod journal;
pub mod lexicons;
pub mod maintenance;
pub mod outputs;
pub mod pagination;
pub mod publish;
pub mod quality;
pub mod script;
pub mod sidecar_update;
pub mod speech_stream;
pub mod tts;
pub mod upload;
pub mod usage;
pub mod vc;
pub mod vc_inputs;
pub mod voice_use;
pub mod voices;
pub mod word_timing;
pub mod work;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::Result;
use area::{Area, Entry};
use storage::ObjectStore;

/// A timestamp as the API writes them: RFC 3339, UTC, microseconds.
pub fn iso(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// The current time as [`iso`] writes it.
pub fn now_iso() -> String {
    iso(Utc::now())
}

/// Response of every delete endpoint.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeletionResponse {
    /// Always true.
    pub success: bool,
    /// What happened.
    pub message: String,
    /// Paths deleted (relative to the area), sidecars included.
    pub deleted_files: Vec<String>,
    /// Audio files deleted (sidecars not counted).
    pub deleted_count: usize,
    /// Names asked for in `filenames` that matched nothing.
    pub not_found: Vec<String>,
}

/// Resolves a `filenames` list: each name is a path or a unique bare name. Unknown
/// names are reported, not fatal; unsafe or ambiguous names are refused.
pub fn select_by_names<'a>(
    entries: &'a [Entry],
    area: Area,
    names: &[String],
) -> Result<(Vec<&'a Entry>, Vec<String>)> {
    let mut selected: Vec<&Entry> = Vec::new();
    let mut not_found = Vec::new();
    for name in names {
        match area::resolve(entries, area, "filenames", name) {
            Ok(entry) => {
                if !selected.iter().any(|e| e.key == entry.key) {
                    selected.push(entry);
                }
            }
            Err(crate::error::Error::NotFound { .. }) => not_found.push(name.clone()),
            Err(other) => return Err(other),
        }
    }
    Ok((selected, not_found))
}

/// Deletes the selected entries of a bulk delete and reports it in the original's words
/// ("already clean" when nothing matched; emptied folders counted).
pub async fn delete_selection(
    store: &dyn ObjectStore,
    entries: &[Entry],
    selected: &[&Entry],
    not_found: Vec<String>,
    noun: &str,
) -> Result<DeletionResponse> {
    if selected.is_empty() {
        return Ok(DeletionResponse {
            success: true,
            message: format!("No {noun} files found matching criteria (already clean)"),
            deleted_files: Vec::new(),
            deleted_count: 0,
            not_found,
        });
    }
    let emptied = area::emptied_folders(entries, selected);
    let deleted_files = area::delete_entries(store, selected).await?;
    Ok(DeletionResponse {
        success: true,
        message: deletion_message(selected.len(), emptied, noun),
        deleted_count: selected.len(),
        deleted_files,
        not_found,
    })
}

/// The original's deletion message: `Deleted N output file(s)[ and cleaned up M empty folder(s)]`.
pub fn deletion_message(count: usize, emptied: usize, noun: &str) -> String {
    let mut message = format!("Deleted {count} {noun} file(s)");
    if emptied > 0 {
        message.push_str(&format!(" and cleaned up {emptied} empty folder(s)"));
    }
    message
}

/// Deletes one file of an area (and its sidecar) by name or path.
pub async fn delete_one(
    store: &dyn ObjectStore,
    area: Area,
    name: &str,
    confirm: Option<bool>,
) -> Result<DeletionResponse> {
    area::require_confirm(confirm, "Deletion")?;
    let entry = &area::lookup(store, area, "filename", name).await?;
    let deleted_files = area::delete_entries(store, &[entry]).await?;
    let label = match area {
        Area::Voices => "Voice",
        Area::VcInputs => "VC input",
        Area::Outputs => "Output file",
    };
    Ok(DeletionResponse {
        success: true,
        message: format!("{label} '{}' deleted successfully", entry.relative),
        deleted_count: 1,
        deleted_files,
        not_found: Vec::new(),
    })
}
