//! Voices: reference audio for cloning and VC targets, each with a metadata sidecar
//! (name, description, tags, default parameters, usage statistics, audio facts).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use storage::{DynStore, ObjectStore};
use utoipa::ToSchema;

use super::area::{self, Area, Entry};
use super::pagination::{Page, PageInfo};
use super::upload::{AudioUpload, StoredAudio};
use crate::error::{Error, Result};
use crate::naming;

/// Days of per-day use a voice sidecar keeps.
pub const USAGE_DAYS_KEPT: usize = 90;

/// The voice sidecar `voices/<path>.json`. Unknown keys are kept on rewrite.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct VoiceSidecar {
    /// Display name (default: the file stem).
    #[serde(default)]
    pub name: Option<String>,
    /// Free-text description.
    #[serde(default)]
    pub description: Option<String>,
    /// Tags.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Generation parameters to apply when this voice is used.
    #[serde(default)]
    pub default_parameters: Map<String, Value>,
    /// Duration in seconds, measured at upload.
    #[serde(default)]
    pub duration_seconds: Option<f64>,
    /// Sample rate in Hz, measured at upload.
    #[serde(default)]
    pub sample_rate: Option<u32>,
    /// Channels, measured at upload.
    #[serde(default)]
    pub channels: Option<u16>,
    /// Size in bytes.
    #[serde(default)]
    pub file_size_bytes: Option<u64>,
    /// File format (extension).
    #[serde(default)]
    pub format: Option<String>,
    /// When the voice was first stored (RFC 3339 UTC).
    #[serde(default)]
    pub created_date: Option<String>,
    /// When the current file was uploaded.
    #[serde(default)]
    pub uploaded_date: Option<String>,
    /// When the metadata last changed.
    #[serde(default)]
    pub last_updated: Option<String>,
    /// How often the voice was used for generation.
    #[serde(default)]
    pub usage_count: u64,
    /// When the voice was last used.
    #[serde(default)]
    pub last_used: Option<String>,
    /// Uses by engine (`chatterbox`, ...).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub usage_by_engine: std::collections::BTreeMap<String, u64>,
    /// Uses by UTC day (`YYYY-MM-DD`), the newest [`USAGE_DAYS_KEPT`] days.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub usage_by_day: std::collections::BTreeMap<String, u64>,
    /// Path relative to `voices/`, usable as `reference_audio_filename`.
    #[serde(default)]
    pub url: Option<String>,
    /// The quality analysis (at upload, or `POST /voice/{filename}/analyze`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quality: Option<audio::analysis::QualityReport>,
    /// Folder relative to `voices/` (null at the root).
    #[serde(default)]
    pub folder_path: Option<String>,
    /// Keys written by other tools, preserved.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A voice as the API shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct VoiceMetadata {
    /// Display name.
    pub name: String,
    /// The stored file name.
    pub filename: String,
    /// Path relative to the voices area (`folder/name.wav`), usable as `reference_audio_filename`.
    pub url: String,
    /// Description (default `Voice file: <filename>`).
    pub description: String,
    /// Duration in seconds (null if the file has no sidecar yet).
    pub duration_seconds: Option<f64>,
    /// Sample rate in Hz (null if unknown).
    pub sample_rate: Option<u32>,
    /// Size in bytes.
    pub file_size_bytes: u64,
    /// Format (file extension without the dot).
    pub format: String,
    /// Default generation parameters.
    #[schema(value_type = Object)]
    pub default_parameters: Map<String, Value>,
    /// Tags.
    pub tags: Vec<String>,
    /// When the voice was created (RFC 3339 UTC).
    pub created_date: String,
    /// When it was last used (null if never).
    pub last_used: Option<String>,
    /// How often it was used.
    pub usage_count: u64,
    /// Uses by engine.
    pub usage_by_engine: std::collections::BTreeMap<String, u64>,
    /// Uses by UTC day, the newest 90 days.
    pub usage_by_day: std::collections::BTreeMap<String, u64>,
    /// The quality analysis of the reference (null for voices stored before analysis
    /// existed or copied in by hand: `POST /voice/{filename}/analyze` adds it).
    #[schema(value_type = Option<Object>)]
    pub quality: Option<audio::analysis::QualityReport>,
    /// Folder relative to the voices area (null at the root).
    pub folder_path: Option<String>,
}

impl VoiceMetadata {
    /// Whether the voice has `tag` (already lower-case), ignoring case.
    fn has_tag(&self, tag: &str) -> bool {
        self.tags.iter().any(|t| t.to_lowercase() == tag)
    }

    fn build(entry: &Entry, sidecar: Option<VoiceSidecar>) -> Self {
        let sidecar = sidecar.unwrap_or_default();
        let filename = entry.file_name().to_owned();
        Self {
            name: sidecar
                .name
                .unwrap_or_else(|| naming::stem(&filename).to_owned()),
            description: sidecar
                .description
                .unwrap_or_else(|| format!("Voice file: {filename}")),
            url: entry.relative.clone(),
            duration_seconds: sidecar.duration_seconds,
            sample_rate: sidecar.sample_rate,
            file_size_bytes: entry.size,
            format: naming::extension(&filename).unwrap_or_default(),
            default_parameters: sidecar.default_parameters,
            tags: sidecar.tags,
            created_date: sidecar
                .created_date
                .unwrap_or_else(|| super::iso(entry.modified)),
            last_used: sidecar.last_used,
            usage_count: sidecar.usage_count,
            usage_by_engine: sidecar.usage_by_engine,
            usage_by_day: sidecar.usage_by_day,
            quality: sidecar.quality,
            folder_path: entry.folder.clone(),
            filename,
        }
    }
}

/// `GET /voices` query.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListVoicesQuery {
    /// Page number, from 1 (default 1).
    pub page: Option<i64>,
    /// Items per page, 1–100 (default 50).
    pub page_size: Option<i64>,
    /// Case-insensitive substring of name, description, folder or any tag.
    pub search: Option<String>,
    /// Only voices with this tag (case-insensitive, exact); ANDed with `search`.
    pub tag: Option<String>,
    /// Folder filter: this folder and everything below it.
    pub folder: Option<String>,
    /// Alias of `folder` (`folder` wins).
    pub project: Option<String>,
}

/// `GET /voices` response.
#[derive(Debug, Serialize, ToSchema)]
pub struct VoicesResponse {
    /// Voices on this page, ordered by path.
    pub voices: Vec<VoiceMetadata>,
    /// Pagination.
    #[serde(flatten)]
    pub page: PageInfo,
    /// Voices matching the filters, over all pages.
    pub total_voices: usize,
}

/// Lists voices with folder filter, search and pagination.
pub async fn list(store: &dyn ObjectStore, query: &ListVoicesQuery) -> Result<VoicesResponse> {
    let page = Page::new(query.page, query.page_size)?;
    let folder = area::folder_filter(query.folder.as_deref(), query.project.as_deref())?;
    let entries = area::entries(store, Area::Voices).await?;
    let candidates: Vec<&Entry> = entries
        .iter()
        .filter(|e| folder.as_deref().is_none_or(|f| e.in_folder(f)))
        .collect();

    let search = area::filter_term(query.search.as_deref());
    let tag = area::filter_term(query.tag.as_deref());
    let (total, voices) = match (search, tag) {
        (None, None) => {
            // Only this page's sidecars are read.
            let range = page.range(candidates.len());
            let on_page = &candidates[range];
            let sidecars: Vec<Option<VoiceSidecar>> = area::read_sidecars(store, on_page).await;
            let voices = on_page
                .iter()
                .zip(sidecars)
                .map(|(e, s)| VoiceMetadata::build(e, s))
                .collect();
            (candidates.len(), voices)
        }
        // Searching name, description and tags needs every candidate's sidecar.
        (search, tag) => {
            let sidecars: Vec<Option<VoiceSidecar>> = area::read_sidecars(store, &candidates).await;
            let matching: Vec<VoiceMetadata> = candidates
                .iter()
                .zip(sidecars)
                .map(|(entry, sidecar)| VoiceMetadata::build(entry, sidecar))
                .filter(|v| {
                    search
                        .as_deref()
                        .is_none_or(|needle| voice_matches(v, needle))
                })
                .filter(|v| tag.as_deref().is_none_or(|t| v.has_tag(t)))
                .collect();
            let range = page.range(matching.len());
            (matching.len(), matching[range].to_vec())
        }
    };
    let info = page.info(total, voices.len());
    Ok(VoicesResponse {
        voices,
        page: info,
        total_voices: total,
    })
}

fn voice_matches(voice: &VoiceMetadata, needle: &str) -> bool {
    let folder = voice.folder_path.as_deref().unwrap_or("");
    let mut fields = vec![
        voice.name.as_str(),
        voice.description.as_str(),
        folder,
        voice.filename.as_str(),
    ];
    fields.extend(voice.tags.iter().map(String::as_str));
    area::matches_search(needle, &fields)
}

/// Fields of a voice upload besides the file.
#[derive(Debug, Default)]
pub struct VoiceUploadFields {
    /// Display name.
    pub name: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Comma-separated tags.
    pub tags: Option<String>,
    /// Folder (validated).
    pub folder_path: Option<String>,
    /// JSON object of default parameters.
    pub default_parameters: Option<String>,
    /// Replace an existing file.
    pub overwrite: bool,
}

/// Response to an upload or a metadata update.
#[derive(Debug, Serialize, ToSchema)]
pub struct VoiceUploadResponse {
    /// Always true.
    pub success: bool,
    /// What happened.
    pub message: String,
    /// The stored voice.
    pub voice_metadata: VoiceMetadata,
    /// The stored file name.
    pub filename: String,
}

/// Stores an uploaded voice and its sidecar, with its quality analysis.
pub async fn upload(
    state: &crate::state::AppState,
    file: AudioUpload,
    fields: VoiceUploadFields,
) -> Result<VoiceUploadResponse> {
    let store = state.store();
    let limits = &state.config().limits.decode_limits();
    let folder = naming::folder_param("folder_path", fields.folder_path.as_deref())?;
    let default_parameters = parse_default_parameters(fields.default_parameters.as_deref())?;
    let stored = StoredAudio::prepare(
        store.as_ref(),
        Area::Voices,
        folder.as_deref(),
        file,
        fields.overwrite,
        limits,
    )
    .await?;
    let quality =
        super::quality::analyze_bytes(state, stored.bytes().clone(), &stored.filename).await?;
    let now = super::now_iso();
    let sidecar = VoiceSidecar {
        name: fields
            .name
            .filter(|n| !n.trim().is_empty())
            .or_else(|| Some(naming::stem(&stored.filename).to_owned())),
        description: fields.description.filter(|d| !d.trim().is_empty()),
        tags: area::comma_list(fields.tags.as_deref()),
        default_parameters,
        duration_seconds: Some(stored.info.duration_seconds()),
        sample_rate: Some(stored.info.sample_rate),
        channels: Some(stored.info.channels),
        file_size_bytes: Some(stored.size()),
        format: naming::extension(&stored.filename),
        created_date: Some(now.clone()),
        uploaded_date: Some(now.clone()),
        last_updated: Some(now),
        usage_count: 0,
        last_used: None,
        usage_by_engine: Default::default(),
        usage_by_day: Default::default(),
        quality: Some(quality),
        url: Some(stored.relative.clone()),
        folder_path: folder.clone(),
        extra: Map::new(),
    };
    let entry = stored.commit(store, &sidecar).await?;
    let voice_metadata = VoiceMetadata::build(&entry, Some(sidecar));
    Ok(VoiceUploadResponse {
        success: true,
        message: format!("Voice '{}' uploaded successfully", voice_metadata.name),
        filename: entry.file_name().to_owned(),
        voice_metadata,
    })
}

fn parse_default_parameters(raw: Option<&str>) -> Result<Map<String, Value>> {
    match raw.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(Map::new()),
        Some(text) => match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(map)) => Ok(map),
            Ok(_) => Err(Error::invalid(
                "default_parameters",
                "default_parameters must be a JSON object",
            )),
            Err(e) => Err(Error::invalid(
                "default_parameters",
                format!("Invalid JSON in default_parameters field: {e}"),
            )),
        },
    }
}

/// `PUT /voice/{filename}/metadata` body; absent and null fields are left unchanged.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct VoiceMetadataUpdate {
    /// New display name.
    pub name: Option<String>,
    /// New description.
    pub description: Option<String>,
    /// New tags (replaces the old list).
    pub tags: Option<Vec<String>>,
    /// Move the voice to this folder (`""` for the root); its sidecar moves with it.
    pub folder_path: Option<String>,
    /// New default parameters (replaces the old object).
    #[schema(value_type = Option<Object>)]
    pub default_parameters: Option<Map<String, Value>>,
}

/// Updates a voice's metadata, moving it when `folder_path` changes.
pub async fn update_metadata(
    store: &DynStore,
    voice_use: &super::voice_use::VoiceUse,
    name: &str,
    update: VoiceMetadataUpdate,
) -> Result<VoiceUploadResponse> {
    let entry = area::lookup(store.as_ref(), Area::Voices, "filename", name).await?;
    // Usage counting rewrites the same sidecar; take its lock so neither update is lost.
    let lock = voice_use.lock_for(&entry.key);
    let _held = lock.lock().await;
    let target_folder = match &update.folder_path {
        Some(raw) => naming::folder_param("folder_path", Some(raw))?,
        None => entry.folder.clone(),
    };
    // The edits, applied to whatever the sidecar holds when it is written (another
    // replica may be counting a use of this voice at the same moment).
    let apply = |sidecar: &mut VoiceSidecar| {
        if let Some(name) = &update.name {
            sidecar.name = Some(name.clone());
        }
        if let Some(description) = &update.description {
            sidecar.description = Some(description.clone());
        }
        if let Some(tags) = &update.tags {
            sidecar.tags = tags
                .iter()
                .map(|t| t.trim().to_owned())
                .filter(|t| !t.is_empty())
                .collect();
        }
        if let Some(parameters) = &update.default_parameters {
            sidecar.default_parameters = parameters.clone();
        }
        sidecar.last_updated = Some(super::now_iso());
        sidecar.file_size_bytes = Some(entry.size);
        sidecar
            .created_date
            .get_or_insert_with(|| super::iso(entry.modified));
    };

    let (entry, sidecar) = if target_folder != entry.folder {
        let key = Area::Voices.key_in(target_folder.as_deref(), entry.file_name())?;
        if area::exists(store.as_ref(), &key).await? {
            return Err(Error::Conflict(format!(
                "Voice file already exists: {}",
                key.strip_prefix(&Area::Voices.prefix())
                    .unwrap_or(key.as_str())
            )));
        }
        let relative = key
            .strip_prefix(&Area::Voices.prefix())
            .unwrap_or(key.as_str())
            .to_owned();
        let mut sidecar: VoiceSidecar = match entry.sidecar_key() {
            Ok(key) => area::read_json(store.as_ref(), &key)
                .await
                .unwrap_or_default(),
            Err(_) => VoiceSidecar::default(),
        };
        apply(&mut sidecar);
        sidecar.folder_path = target_folder.clone();
        sidecar.url = Some(relative);
        let body = area::sidecar_bytes(&sidecar)?;
        let moved = super::upload::move_entry(store, Area::Voices, &entry, &key, body).await?;
        (moved, sidecar)
    } else {
        let sidecar = super::sidecar_update::update_sidecar(
            store.as_ref(),
            &entry.key,
            |sidecar: &mut VoiceSidecar| {
                apply(sidecar);
                sidecar.folder_path = entry.folder.clone();
                sidecar.url = Some(entry.relative.clone());
            },
        )
        .await?;
        (
            Entry {
                has_sidecar: true,
                ..entry.clone()
            },
            sidecar,
        )
    };
    let voice_metadata = VoiceMetadata::build(&entry, Some(sidecar));
    Ok(VoiceUploadResponse {
        success: true,
        message: format!(
            "Voice '{}' metadata updated successfully",
            voice_metadata.name
        ),
        filename: entry.file_name().to_owned(),
        voice_metadata,
    })
}

/// `DELETE /voices` query.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeleteVoicesQuery {
    /// Must be `true`.
    pub confirm: Option<bool>,
    /// Only voices in this folder or below.
    pub folder: Option<String>,
    /// Alias of `folder`.
    pub project: Option<String>,
    /// Only voices with this tag (case-insensitive, exact).
    pub tag: Option<String>,
    /// Only voices whose name, description or file name contains this (case-insensitive).
    pub search: Option<String>,
    /// Comma-separated file names or paths; when given, only these are deleted and the other filters are ignored.
    pub filenames: Option<String>,
    /// Must be `true` to delete every file when no filter is given (with `confirm=true`).
    pub all: Option<bool>,
}

/// Bulk-deletes voices. With no filter, every voice is deleted only with `all=true` besides `confirm=true`.
pub async fn delete_many(
    store: &dyn ObjectStore,
    query: &DeleteVoicesQuery,
) -> Result<super::DeletionResponse> {
    area::require_confirm(query.confirm, "Deletion")?;
    let names = area::comma_list(query.filenames.as_deref());
    let has_filter = !names.is_empty()
        || area::any_given(&[
            query.folder.as_deref(),
            query.project.as_deref(),
            query.tag.as_deref(),
            query.search.as_deref(),
        ]);
    area::require_scope(has_filter, query.all, "voice")?;
    let folder = area::folder_filter(query.folder.as_deref(), query.project.as_deref())?;
    let entries = area::entries(store, Area::Voices).await?;
    let (selected, not_found) = if !names.is_empty() {
        super::select_by_names(&entries, Area::Voices, &names)?
    } else {
        let candidates: Vec<&Entry> = entries
            .iter()
            .filter(|e| folder.as_deref().is_none_or(|f| e.in_folder(f)))
            .collect();
        let tag = area::filter_term(query.tag.as_deref());
        let search = area::filter_term(query.search.as_deref());
        let selected = if tag.is_some() || search.is_some() {
            area::filter_by_sidecar(
                store,
                candidates,
                |entry, sidecar: Option<&VoiceSidecar>| {
                    let voice = VoiceMetadata::build(entry, sidecar.cloned());
                    let tag_ok = tag.as_deref().is_none_or(|t| voice.has_tag(t));
                    let search_ok = search.as_ref().is_none_or(|s| {
                        area::matches_search(s, &[&voice.name, &voice.description, &voice.filename])
                    });
                    tag_ok && search_ok
                },
            )
            .await
        } else {
            candidates
        };
        (selected, Vec::new())
    };
    let deleted_files = area::delete_entries(store, &selected).await?;
    Ok(super::DeletionResponse {
        success: true,
        message: format!("Deleted {} voice files", selected.len()),
        deleted_count: selected.len(),
        deleted_files,
        not_found,
    })
}
