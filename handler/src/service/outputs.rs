//! Generated outputs: listing (newest first), folders and deletion. Every output has a
//! generation sidecar `<key>.json` beside it, so listings show its parameters.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use storage::ObjectStore;
use utoipa::ToSchema;

use super::DeletionResponse;
use super::area::{self, Area, Entry};
use super::pagination::{Page, PageInfo};
use crate::error::Result;
use crate::naming;

/// The generation sidecar written beside every output. Unknown keys are kept.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct OutputSidecar {
    /// `tts`, `vc` or `concat`.
    #[serde(rename = "type", default)]
    pub generation_type: Option<String>,
    /// When the output was generated (RFC 3339 UTC).
    #[serde(default)]
    pub timestamp: Option<String>,
    /// Duration in seconds.
    #[serde(default)]
    pub duration_seconds: Option<f64>,
    /// Sample rate in Hz.
    #[serde(default)]
    pub sample_rate: Option<u32>,
    /// Size in bytes.
    #[serde(default)]
    pub file_size_bytes: Option<u64>,
    /// Format (extension).
    #[serde(default)]
    pub format: Option<String>,
    /// Request parameters.
    #[serde(default)]
    pub parameters: Map<String, Value>,
    /// What generation reported (timings, seeds, concat details).
    #[serde(default)]
    pub generation_info: Value,
    /// Every format written by the same generation: `{format: filename}`.
    #[serde(default)]
    pub files: Map<String, Value>,
    /// Inputs the output was made from.
    #[serde(default)]
    pub source_files: Vec<String>,
    /// Keys written by other tools, preserved.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// An output as the listing shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct GeneratedFileMetadata {
    /// File name.
    pub filename: String,
    /// Path relative to the outputs area.
    pub path: String,
    /// Download URL (`/outputs/<path>`).
    pub url: String,
    /// `tts`, `vc`, `concat` or `unknown`.
    pub generation_type: String,
    /// When it was generated (RFC 3339 UTC).
    pub created_date: String,
    /// Size in bytes.
    pub file_size_bytes: u64,
    /// Duration in seconds (null when unknown).
    pub duration_seconds: Option<f64>,
    /// Sample rate in Hz (null when unknown).
    pub sample_rate: Option<u32>,
    /// Format (extension).
    pub format: String,
    /// Generation parameters from the sidecar.
    #[schema(value_type = Object)]
    pub parameters: Map<String, Value>,
    /// Inputs the output was made from.
    pub source_files: Vec<String>,
    /// Folder (project) relative to the outputs area, null at the root.
    pub folder_path: Option<String>,
}

impl GeneratedFileMetadata {
    fn build(entry: &Entry, sidecar: Option<OutputSidecar>) -> Self {
        let sidecar = sidecar.unwrap_or_default();
        let filename = entry.file_name().to_owned();
        Self {
            generation_type: sidecar
                .generation_type
                .clone()
                .unwrap_or_else(|| type_from_name(&filename).to_owned()),
            created_date: sidecar
                .timestamp
                .unwrap_or_else(|| super::iso(entry.modified)),
            url: naming::output_url(&entry.relative),
            path: entry.relative.clone(),
            file_size_bytes: entry.size,
            duration_seconds: sidecar.duration_seconds,
            sample_rate: sidecar.sample_rate,
            format: naming::extension(&filename).unwrap_or_default(),
            parameters: sidecar.parameters,
            source_files: sidecar.source_files,
            folder_path: entry.folder.clone(),
            filename,
        }
    }
}

/// The generation type a file name implies (`mixed_` files come from concat too).
pub fn type_from_name(name: &str) -> &'static str {
    if name.starts_with("tts_") {
        "tts"
    } else if name.starts_with("vc_") {
        "vc"
    } else if name.starts_with("concat_") || name.starts_with("mixed_") {
        "concat"
    } else {
        "unknown"
    }
}

/// `GET /outputs` query.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListOutputsQuery {
    /// Page number, from 1 (default 1).
    pub page: Option<i64>,
    /// Items per page, 1–100 (default 50).
    pub page_size: Option<i64>,
    /// Only `tts`, `vc` or `concat` outputs.
    pub generation_type: Option<String>,
    /// Case-insensitive substring of the file name or folder.
    pub search: Option<String>,
    /// Comma-separated names or paths; when given, every other filter is ignored.
    pub filenames: Option<String>,
    /// Only outputs in this folder (project) or below it.
    pub folder: Option<String>,
    /// Alias of `folder` (`folder` wins).
    pub project: Option<String>,
}

/// `GET /outputs` response.
#[derive(Debug, Serialize, ToSchema)]
pub struct GeneratedFilesResponse {
    /// Outputs on this page, newest first.
    pub files: Vec<GeneratedFileMetadata>,
    /// Pagination.
    #[serde(flatten)]
    pub page: PageInfo,
    /// Outputs matching the filters, over all pages.
    pub total_files: usize,
}

/// Lists outputs, newest first. Only the page's sidecars are read, except for
/// custom-named files when filtering by type (their type is in the sidecar only).
pub async fn list(
    store: &dyn ObjectStore,
    query: &ListOutputsQuery,
) -> Result<GeneratedFilesResponse> {
    let page = Page::new(query.page, query.page_size)?;
    let entries = area::entries(store, Area::Outputs).await?;
    let filter = area::FileFilter {
        filenames: query.filenames.as_deref(),
        folder: query.folder.as_deref(),
        project: query.project.as_deref(),
        search: query.search.as_deref(),
    };
    let (mut selected, by_name) = area::filter_files(&entries, &filter)?;
    if let Some(wanted) = query
        .generation_type
        .as_deref()
        .filter(|t| !t.is_empty() && !by_name)
    {
        selected = filter_by_type(store, selected, wanted).await;
    }
    let (files, info, total) =
        area::newest_first_page(store, selected, page, GeneratedFileMetadata::build).await;
    Ok(GeneratedFilesResponse {
        files,
        page: info,
        total_files: total,
    })
}

async fn filter_by_type<'a>(
    store: &dyn ObjectStore,
    entries: Vec<&'a Entry>,
    wanted: &str,
) -> Vec<&'a Entry> {
    let (known, custom): (Vec<&Entry>, Vec<&Entry>) = entries
        .into_iter()
        .partition(|e| type_from_name(e.file_name()) != "unknown");
    let mut kept: Vec<&Entry> = known
        .into_iter()
        .filter(|e| type_from_name(e.file_name()) == wanted)
        .collect();
    let custom_kept =
        area::filter_by_sidecar(store, custom, |_, sidecar: Option<&OutputSidecar>| {
            sidecar
                .and_then(|s| s.generation_type.as_deref())
                .unwrap_or("unknown")
                == wanted
        })
        .await;
    kept.extend(custom_kept);
    kept
}

/// `DELETE /outputs` query; all filters are ANDed.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeleteOutputsQuery {
    /// Must be `true`.
    pub confirm: Option<bool>,
    /// Only outputs in this folder (project) or below.
    pub folder: Option<String>,
    /// Alias of `folder`.
    pub project: Option<String>,
    /// Only `tts`, `vc` or `concat` outputs.
    pub generation_type: Option<String>,
    /// Only outputs whose file name contains this (case-insensitive).
    pub search: Option<String>,
    /// Only these comma-separated names or paths.
    pub filenames: Option<String>,
    /// Must be `true` to delete every file when no filter is given (with `confirm=true`).
    pub all: Option<bool>,
}

/// Bulk-deletes outputs matching every given filter (all outputs only with `all=true`).
pub async fn delete_many(
    store: &dyn ObjectStore,
    query: &DeleteOutputsQuery,
) -> Result<DeletionResponse> {
    area::require_confirm(query.confirm, "Deletion")?;
    let names = area::comma_list(query.filenames.as_deref());
    let has_filter = !names.is_empty()
        || area::any_given(&[
            query.folder.as_deref(),
            query.project.as_deref(),
            query.generation_type.as_deref(),
            query.search.as_deref(),
        ]);
    area::require_scope(has_filter, query.all, "output")?;
    let folder = area::folder_filter(query.folder.as_deref(), query.project.as_deref())?;
    let entries = area::entries(store, Area::Outputs).await?;
    let search = area::filter_term(query.search.as_deref());
    let named: Option<Vec<&Entry>> = if names.is_empty() {
        None
    } else {
        Some(area::select_listed(&entries, &names)?)
    };
    let mut selected: Vec<&Entry> = entries
        .iter()
        .filter(|e| {
            named
                .as_ref()
                .is_none_or(|n| n.iter().any(|x| x.key == e.key))
        })
        .filter(|e| folder.as_deref().is_none_or(|f| e.in_folder(f)))
        .filter(|e| {
            search
                .as_deref()
                .is_none_or(|s| area::matches_search(s, &[e.file_name()]))
        })
        .collect();
    if let Some(wanted) = query.generation_type.as_deref().filter(|t| !t.is_empty()) {
        selected = filter_by_type(store, selected, wanted).await;
    }
    let not_found = area::unmatched_names(&entries, &names);
    super::delete_selection(store, &entries, &selected, not_found, "output").await
}
