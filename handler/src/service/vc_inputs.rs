//! VC inputs: source recordings for voice conversion, each with a sidecar holding
//! its transcript (`text`) and audio facts.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use storage::{DynStore, ObjectStore};
use utoipa::ToSchema;

use super::DeletionResponse;
use super::area::{self, Area, Entry};
use super::pagination::{Page, PageInfo};
use super::upload::{AudioUpload, StoredAudio};
use crate::error::Result;
use crate::naming;

/// The VC-input sidecar `vc_inputs/<path>.json`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct VcInputSidecar {
    /// File name.
    #[serde(default)]
    pub filename: String,
    /// Folder relative to the VC-input area (null at the root).
    #[serde(default)]
    pub folder_path: Option<String>,
    /// Transcript or notes.
    #[serde(default)]
    pub text: Option<String>,
    /// Size in bytes.
    #[serde(default)]
    pub file_size_bytes: u64,
    /// Duration in seconds.
    #[serde(default)]
    pub duration_seconds: Option<f64>,
    /// Sample rate in Hz.
    #[serde(default)]
    pub sample_rate: Option<u32>,
    /// Channels.
    #[serde(default)]
    pub channels: Option<u16>,
    /// Format (extension).
    #[serde(default)]
    pub format: Option<String>,
    /// When the file was first stored (RFC 3339 UTC).
    #[serde(default)]
    pub created_date: Option<String>,
    /// When the current file was uploaded.
    #[serde(default)]
    pub upload_date: Option<String>,
    /// Keys written by other tools, preserved.
    #[serde(flatten)]
    #[schema(value_type = Object)]
    pub extra: Map<String, Value>,
}

/// A VC input as the listing shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct VcInputFileMetadata {
    /// File name.
    pub filename: String,
    /// Path relative to the VC-input area, usable as `input_audio_source`.
    pub path: String,
    /// When it was stored (RFC 3339 UTC).
    pub created_date: String,
    /// Size in bytes.
    pub file_size_bytes: u64,
    /// Duration in seconds (null when unknown).
    pub duration_seconds: Option<f64>,
    /// Sample rate in Hz (null when unknown).
    pub sample_rate: Option<u32>,
    /// Format (extension).
    pub format: String,
    /// Transcript or notes.
    pub text: Option<String>,
    /// Folder relative to the VC-input area (null at the root).
    pub folder_path: Option<String>,
}

impl VcInputFileMetadata {
    fn build(entry: &Entry, sidecar: Option<VcInputSidecar>) -> Self {
        let sidecar = sidecar.unwrap_or_default();
        let filename = entry.file_name().to_owned();
        Self {
            path: entry.relative.clone(),
            created_date: sidecar
                .created_date
                .unwrap_or_else(|| super::iso(entry.modified)),
            file_size_bytes: entry.size,
            duration_seconds: sidecar.duration_seconds,
            sample_rate: sidecar.sample_rate,
            format: naming::extension(&filename).unwrap_or_default(),
            text: sidecar.text,
            folder_path: entry.folder.clone(),
            filename,
        }
    }
}

/// `GET /vc_inputs` query.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListVcInputsQuery {
    /// Page number, from 1 (default 1).
    pub page: Option<i64>,
    /// Items per page, 1–100 (default 50).
    pub page_size: Option<i64>,
    /// Case-insensitive substring of the file name or folder.
    pub search: Option<String>,
    /// Comma-separated names or paths; when given, every other filter is ignored.
    pub filenames: Option<String>,
    /// Only files in this folder or below it.
    pub folder: Option<String>,
    /// Alias of `folder` (`folder` wins).
    pub project: Option<String>,
}

/// `GET /vc_inputs` response.
#[derive(Debug, Serialize, ToSchema)]
pub struct VcInputsResponse {
    /// VC inputs on this page, newest first.
    pub files: Vec<VcInputFileMetadata>,
    /// Pagination.
    #[serde(flatten)]
    pub page: PageInfo,
    /// Files matching the filters, over all pages.
    pub total_files: usize,
}

/// Lists VC inputs, newest first.
pub async fn list(store: &dyn ObjectStore, query: &ListVcInputsQuery) -> Result<VcInputsResponse> {
    let page = Page::new(query.page, query.page_size)?;
    let entries = area::entries(store, Area::VcInputs).await?;
    let filter = area::FileFilter {
        filenames: query.filenames.as_deref(),
        folder: query.folder.as_deref(),
        project: query.project.as_deref(),
        search: query.search.as_deref(),
    };
    let (selected, _) = area::filter_files(&entries, &filter)?;
    let (files, info, total) =
        area::newest_first_page(store, selected, page, VcInputFileMetadata::build).await;
    Ok(VcInputsResponse {
        files,
        page: info,
        total_files: total,
    })
}

/// Fields of a VC-input upload besides the file.
#[derive(Debug, Default)]
pub struct VcInputUploadFields {
    /// Transcript or notes.
    pub text: Option<String>,
    /// Folder (wins over `project`).
    pub folder_path: Option<String>,
    /// Alias of `folder_path`.
    pub project: Option<String>,
    /// Replace an existing file.
    pub overwrite: bool,
}

/// Response to a VC-input upload.
#[derive(Debug, Serialize, ToSchema)]
pub struct VcInputUploadResponse {
    /// Always true.
    pub success: bool,
    /// What happened.
    pub message: String,
    /// The stored sidecar.
    pub metadata: VcInputSidecar,
    /// Stored file name.
    pub filename: String,
}

/// Stores an uploaded VC input and its sidecar.
pub async fn upload(
    store: &DynStore,
    file: AudioUpload,
    fields: VcInputUploadFields,
    limits: &audio::DecodeLimits,
) -> Result<VcInputUploadResponse> {
    let folder = match fields.folder_path.as_deref() {
        Some(path) => naming::folder_param("folder_path", Some(path))?,
        None => naming::folder_param("project", fields.project.as_deref())?,
    };
    let stored = StoredAudio::prepare(
        store.as_ref(),
        Area::VcInputs,
        folder.as_deref(),
        file,
        fields.overwrite,
        limits,
    )
    .await?;
    let now = super::now_iso();
    let metadata = VcInputSidecar {
        filename: stored.filename.clone(),
        folder_path: folder,
        text: fields.text.filter(|t| !t.trim().is_empty()),
        file_size_bytes: stored.size(),
        duration_seconds: Some(stored.info.duration_seconds()),
        sample_rate: Some(stored.info.sample_rate),
        channels: Some(stored.info.channels),
        format: naming::extension(&stored.filename),
        created_date: Some(now.clone()),
        upload_date: Some(now),
        extra: Map::new(),
    };
    let entry = stored.commit(store, &metadata).await?;
    Ok(VcInputUploadResponse {
        success: true,
        message: format!("VC input '{}' uploaded successfully", entry.relative),
        filename: entry.file_name().to_owned(),
        metadata,
    })
}

/// `DELETE /vc_inputs` query; all filters are ANDed.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeleteVcInputsQuery {
    /// Must be `true`.
    pub confirm: Option<bool>,
    /// Only files in this folder or below.
    pub folder: Option<String>,
    /// Alias of `folder`.
    pub project: Option<String>,
    /// Only files whose name, folder or text contains this (case-insensitive).
    pub search: Option<String>,
    /// Only these comma-separated names or paths.
    pub filenames: Option<String>,
    /// Must be `true` to delete every file when no filter is given (with `confirm=true`).
    pub all: Option<bool>,
}

/// Bulk-deletes VC inputs matching every given filter (all only with `all=true`).
pub async fn delete_many(
    store: &dyn ObjectStore,
    query: &DeleteVcInputsQuery,
) -> Result<DeletionResponse> {
    area::require_confirm(query.confirm, "Deletion")?;
    let names = area::comma_list(query.filenames.as_deref());
    let has_filter = !names.is_empty()
        || area::any_given(&[
            query.folder.as_deref(),
            query.project.as_deref(),
            query.search.as_deref(),
        ]);
    area::require_scope(has_filter, query.all, "VC input")?;
    let folder = area::folder_filter(query.folder.as_deref(), query.project.as_deref())?;
    let entries = area::entries(store, Area::VcInputs).await?;
    let by_name: Option<Vec<&Entry>> = if names.is_empty() {
        None
    } else {
        Some(area::select_listed(&entries, &names)?)
    };
    let candidates: Vec<&Entry> = entries
        .iter()
        .filter(|e| {
            by_name
                .as_ref()
                .is_none_or(|n| n.iter().any(|x| x.key == e.key))
        })
        .filter(|e| folder.as_deref().is_none_or(|f| e.in_folder(f)))
        .collect();
    let selected = match area::filter_term(query.search.as_deref()) {
        Some(needle) => {
            area::filter_by_sidecar(
                store,
                candidates,
                |entry, sidecar: Option<&VcInputSidecar>| {
                    let text = sidecar.and_then(|s| s.text.as_deref()).unwrap_or("");
                    area::matches_search(
                        &needle,
                        &[
                            entry.file_name(),
                            entry.folder.as_deref().unwrap_or(""),
                            text,
                        ],
                    )
                },
            )
            .await
        }
        None => candidates,
    };
    let not_found = area::unmatched_names(&entries, &names);
    super::delete_selection(store, &entries, &selected, not_found, "VC input").await
}
