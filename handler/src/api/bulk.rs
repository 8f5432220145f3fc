//! Bulk uploads: many voices (`POST /api/v1/voices/bulk`) or VC inputs
//! (`POST /api/v1/vc_inputs/bulk`) in one multipart request, read and stored one file at a
//! time, so memory holds one file whatever the request's size. Each file gets its own
//! result (created, overwritten, skipped, rejected and why); a bad file does not stop the
//! others, and each stored file is complete with its sidecar.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{DefaultBodyLimit, State};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::form::{human_size, multipart_error, read_limited};
use crate::error::{Error, ErrorBody, Result};
use crate::extract::Multipart;
use crate::service::area::{self, Area};
use crate::service::upload::AudioUpload;
use crate::service::{vc_inputs, voices};
use crate::state::AppState;

/// Most files in one request.
const MAX_FILES: usize = 1000;
/// Longest text field (the manifest included).
const MAX_TEXT: usize = 1024 * 1024;

/// The bulk routes (bodies are limited per file, not as a whole).
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(bulk_voices))
        .routes(routes!(bulk_vc_inputs))
        .layer(DefaultBodyLimit::disable())
}

/// Metadata for one file of a bulk upload (in `manifest`, keyed by the file's name).
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FileMetadata {
    /// Display name (voices).
    pub name: Option<String>,
    /// Description (voices).
    pub description: Option<String>,
    /// Comma-separated tags (voices; replaces the request's `tags`).
    pub tags: Option<String>,
    /// Default generation parameters, a JSON object (voices).
    #[schema(value_type = Option<Object>)]
    pub default_parameters: Option<serde_json::Value>,
    /// Folder for this file (replaces the request's `folder_path`).
    pub folder_path: Option<String>,
    /// Transcript or notes (VC inputs).
    pub text: Option<String>,
}

/// What happened to one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FileStatus {
    /// Stored; the path was free.
    Created,
    /// Stored over an existing file (`overwrite=true`).
    Overwritten,
    /// Not stored: the path is taken and `overwrite` is false.
    Skipped,
    /// Not stored: the file or its metadata was refused.
    Rejected,
}

/// One file's result.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FileResult {
    /// The name the client sent.
    pub filename: String,
    /// Where it is stored, relative to the area (null unless stored).
    pub path: Option<String>,
    /// What happened.
    pub status: FileStatus,
    /// The error code when skipped or rejected (`FILE_EXISTS`, `INVALID_AUDIO`, ...).
    pub error_code: Option<String>,
    /// Why, when skipped or rejected.
    pub reason: Option<String>,
    /// The quality score of a stored voice (0–100; voices only).
    pub quality_score: Option<u8>,
}

/// The answer of a bulk upload: 200 whenever the request could be read, with one result
/// per file in the order sent.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BulkResponse {
    /// True when no file was rejected.
    pub success: bool,
    /// Files stored at a free path.
    pub created: usize,
    /// Files stored over existing ones.
    pub overwritten: usize,
    /// Files left out because their path was taken.
    pub skipped: usize,
    /// Files refused.
    pub rejected: usize,
    /// Per file, in order.
    pub results: Vec<FileResult>,
}

/// The multipart fields of a bulk upload (documentation only). Text fields apply to the
/// files after them, so send them first.
#[derive(ToSchema)]
#[allow(dead_code)]
struct BulkForm {
    /// The files (the field may repeat; `voice_file` / `vc_input_file` are accepted too).
    #[schema(value_type = Vec<String>, format = Binary)]
    files: Vec<Vec<u8>>,
    /// Folder for every file (a manifest entry's `folder_path` wins).
    folder_path: Option<String>,
    /// Comma-separated tags for every voice.
    tags: Option<String>,
    /// Replace files that exist (default false: they are skipped).
    overwrite: Option<bool>,
    /// JSON object: file name → metadata (`name`, `description`, `tags`,
    /// `default_parameters`, `folder_path`, `text`).
    #[schema(value_type = Option<Object>)]
    manifest: Option<String>,
}

/// Upload many voices, each analysed and stored with its sidecar as it arrives.
#[utoipa::path(post, path = "/voices/bulk", tag = "voices",
    request_body(content = BulkForm, content_type = "multipart/form-data"),
    responses((status = 200, body = BulkResponse), (status = 422, body = ErrorBody)))]
async fn bulk_voices(
    State(state): State<AppState>,
    Multipart(multipart): Multipart,
) -> Result<Json<BulkResponse>> {
    Ok(Json(bulk(&state, multipart, Area::Voices).await?))
}

/// Upload many VC inputs, each stored with its sidecar as it arrives.
#[utoipa::path(post, path = "/vc_inputs/bulk", tag = "vc_inputs",
    request_body(content = BulkForm, content_type = "multipart/form-data"),
    responses((status = 200, body = BulkResponse), (status = 422, body = ErrorBody)))]
async fn bulk_vc_inputs(
    State(state): State<AppState>,
    Multipart(multipart): Multipart,
) -> Result<Json<BulkResponse>> {
    Ok(Json(bulk(&state, multipart, Area::VcInputs).await?))
}

/// Settings the text fields give the files after them.
#[derive(Default)]
struct Common {
    folder_path: Option<String>,
    tags: Option<String>,
    overwrite: bool,
    manifest: HashMap<String, FileMetadata>,
}

async fn bulk(
    state: &AppState,
    mut multipart: axum::extract::Multipart,
    area: Area,
) -> Result<BulkResponse> {
    let limit = match area {
        Area::Voices => state.config().limits.voice_upload_bytes(),
        _ => state.config().limits.vc_input_upload_bytes(),
    };
    let file_fields = ["files", "voice_file", "vc_input_file"];
    let mut common = Common::default();
    let mut results = Vec::new();
    while let Some(field) = multipart.next_field().await.map_err(multipart_error)? {
        let name = field.name().unwrap_or_default().to_owned();
        if !file_fields.contains(&name.as_str()) {
            if !results.is_empty() {
                // Settings must not change half-way through: the field is refused and
                // reported; the files around it are not affected by it.
                results.push(FileResult {
                    filename: name.clone(),
                    path: None,
                    status: FileStatus::Rejected,
                    error_code: Some("BAD_REQUEST".into()),
                    reason: Some(format!(
                        "form field {name:?} comes after files and was ignored: send text \
                         fields before the files"
                    )),
                    quality_score: None,
                });
                continue;
            }
            let bytes = read_limited(field, MAX_TEXT, None).await?.ok_or_else(|| {
                Error::TooLarge(format!(
                    "form field {name:?} is larger than {}",
                    human_size(MAX_TEXT)
                ))
            })?;
            let text = String::from_utf8(bytes.to_vec()).map_err(|_| {
                Error::BadRequest(format!("Form field {name:?} is not valid UTF-8"))
            })?;
            set_common(&mut common, &name, text.trim())?;
            continue;
        }
        let file_name = field.file_name().unwrap_or_default().to_owned();
        if results.len() >= MAX_FILES {
            // Reported, not read: the files before it stay stored and listed.
            results.push(rejected(
                file_name,
                &Error::TooLarge(format!("a bulk upload takes at most {MAX_FILES} files")),
            ));
            continue;
        }
        // Each file has its own lease: its memory is returned before the next one is read.
        let lease = state.memory().lease();
        let read = read_limited(field, limit, Some(&lease)).await;
        let result = match read {
            Ok(Some(bytes)) => store_one(state, area, &common, file_name, bytes).await,
            Ok(None) => rejected(
                file_name.clone(),
                &Error::TooLarge(format!(
                    "{file_name} is larger than the {} limit",
                    human_size(limit)
                )),
            ),
            // A file that does not fit the memory budget now is this file's problem; a
            // broken body ends the request.
            Err(e @ (Error::MemoryBusy(_) | Error::TooLarge(_))) => rejected(file_name, &e),
            Err(e) => return Err(e),
        };
        results.push(result);
    }
    if results.is_empty() {
        return Err(Error::BadRequest(
            "no files: send them in repeated `files` fields".into(),
        ));
    }
    let count = |status| results.iter().filter(|r| r.status == status).count();
    Ok(BulkResponse {
        success: count(FileStatus::Rejected) == 0,
        created: count(FileStatus::Created),
        overwritten: count(FileStatus::Overwritten),
        skipped: count(FileStatus::Skipped),
        rejected: count(FileStatus::Rejected),
        results,
    })
}

fn set_common(common: &mut Common, name: &str, text: &str) -> Result<()> {
    match name {
        "folder_path" | "project" => {
            common.folder_path = Some(text.to_owned()).filter(|t| !t.is_empty())
        }
        "tags" => common.tags = Some(text.to_owned()).filter(|t| !t.is_empty()),
        "overwrite" => {
            common.overwrite = match text.to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" | "on" => true,
                "false" | "0" | "no" | "off" | "" => false,
                other => {
                    return Err(Error::invalid(
                        "overwrite",
                        format!("overwrite must be true or false, got {other:?}"),
                    ));
                }
            }
        }
        "manifest" => {
            common.manifest = serde_json::from_str(text).map_err(|e| {
                Error::invalid(
                    "manifest",
                    format!("manifest must be a JSON object of file name → metadata: {e}"),
                )
            })?;
        }
        // A typo must not quietly drop a setting for a thousand files.
        other => {
            return Err(Error::invalid(
                other,
                format!(
                    "unknown form field {other:?}; this route takes files, folder_path, tags, \
                     overwrite and manifest"
                ),
            ));
        }
    }
    Ok(())
}

async fn store_one(
    state: &AppState,
    area: Area,
    common: &Common,
    file_name: String,
    bytes: bytes::Bytes,
) -> FileResult {
    let meta = common.manifest.get(&file_name).cloned().unwrap_or_default();
    let folder = meta
        .folder_path
        .clone()
        .or_else(|| common.folder_path.clone());
    let upload = AudioUpload {
        field: "files",
        file_name: file_name.clone(),
        bytes,
    };
    // Whether an overwrite replaces something (for the result), by the name it will get.
    let existed = match crate::service::upload::accepted_name(&upload)
        .and_then(|name| area.key_in(folder.as_deref(), &name))
    {
        Ok(key) if common.overwrite => area::exists(state.store().as_ref(), &key)
            .await
            .unwrap_or(false),
        _ => false,
    };
    let stored = match area {
        Area::Voices => {
            let fields = voices::VoiceUploadFields {
                name: meta.name,
                description: meta.description,
                tags: meta.tags.or_else(|| common.tags.clone()),
                folder_path: folder,
                default_parameters: meta.default_parameters.map(|v| v.to_string()),
                overwrite: common.overwrite,
            };
            voices::upload(state, upload, fields).await.map(|r| {
                (
                    r.voice_metadata.url,
                    r.voice_metadata.quality.map(|q| q.score),
                )
            })
        }
        _ => {
            let fields = vc_inputs::VcInputUploadFields {
                text: meta.text,
                folder_path: folder.clone(),
                project: None,
                overwrite: common.overwrite,
            };
            let limits = state.config().limits.decode_limits();
            vc_inputs::upload(state.store(), upload, fields, &limits)
                .await
                .map(|r| {
                    // The folder as the service stored it (validated and normalised).
                    let folder = crate::naming::folder_param("folder_path", folder.as_deref())
                        .ok()
                        .flatten();
                    let path = match folder {
                        Some(folder) => format!("{folder}/{}", r.filename),
                        None => r.filename,
                    };
                    (path, None)
                })
        }
    };
    match stored {
        Ok((path, quality_score)) => FileResult {
            filename: file_name,
            path: Some(path),
            status: if existed {
                FileStatus::Overwritten
            } else {
                FileStatus::Created
            },
            error_code: None,
            reason: None,
            quality_score,
        },
        Err(e @ Error::Conflict(_)) => FileResult {
            status: FileStatus::Skipped,
            ..rejected(file_name, &e)
        },
        Err(e) => rejected(file_name, &e),
    }
}

fn rejected(filename: String, error: &Error) -> FileResult {
    FileResult {
        filename,
        path: None,
        status: FileStatus::Rejected,
        error_code: Some(error.code().to_owned()),
        reason: Some(error.to_string()),
        quality_score: None,
    }
}
