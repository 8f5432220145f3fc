//! `/api/v1/voice*` routes: list, upload, update metadata, delete, folders.

use axum::Json;
use axum::extract::{DefaultBodyLimit, State};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::form::Form;
use crate::error::{ErrorBody, Result};
use crate::extract::{self, Multipart, Path, Query, StrictQuery};
use crate::service::area::{self, Area};
use crate::service::folders::{self, FoldersResponse};
use crate::service::quality::{self, AnalysisResponse};
use crate::service::voices::{
    self, DeleteVoicesQuery, ListVoicesQuery, VoiceMetadataUpdate, VoiceUploadFields,
    VoiceUploadResponse, VoicesResponse,
};
use crate::service::{self, DeletionResponse};
use crate::state::AppState;

/// Routes of this module. The upload route enforces its own per-file limit while reading.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_voices))
        .routes(routes!(update_voice_metadata))
        .routes(routes!(delete_voice))
        .routes(routes!(delete_voices))
        .routes(routes!(voice_folders))
        .routes(routes!(analyze_voice))
        .merge(
            OpenApiRouter::new()
                .routes(routes!(upload_voice))
                .routes(routes!(analyze_upload))
                .layer(DefaultBodyLimit::disable()),
        )
}

/// List voices with folder filter, search and pagination.
#[utoipa::path(get, path = "/voices", tag = "voices", params(ListVoicesQuery),
    responses((status = 200, body = VoicesResponse), (status = 422, body = ErrorBody)))]
async fn list_voices(
    State(state): State<AppState>,
    Query(query): Query<ListVoicesQuery>,
) -> Result<Json<VoicesResponse>> {
    Ok(Json(voices::list(state.store().as_ref(), &query).await?))
}

/// The multipart fields of a voice upload (documentation only).
#[derive(ToSchema)]
#[allow(dead_code)]
struct VoiceUploadForm {
    /// The audio file: wav, mp3, flac, ogg, m4a or aac.
    #[schema(value_type = String, format = Binary)]
    voice_file: Vec<u8>,
    /// Display name (default: the file stem).
    name: Option<String>,
    /// Description.
    description: Option<String>,
    /// Comma-separated tags.
    tags: Option<String>,
    /// Folder to store the voice in, e.g. `narrators/en`.
    folder_path: Option<String>,
    /// JSON object of default generation parameters.
    default_parameters: Option<String>,
    /// Replace an existing file of the same name (default false: 409).
    overwrite: Option<bool>,
}

/// Upload a voice with its metadata.
#[utoipa::path(post, path = "/voice", tag = "voices",
    request_body(content = VoiceUploadForm, content_type = "multipart/form-data"),
    responses((status = 200, body = VoiceUploadResponse), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn upload_voice(
    State(state): State<AppState>,
    Multipart(multipart): Multipart,
) -> Result<Json<VoiceUploadResponse>> {
    let lease = state.memory().lease();
    let mut form = read_voice_form(&state, multipart, &lease).await?;
    let file = form.take_file("voice_file")?;
    let fields = VoiceUploadFields {
        name: form.text("name"),
        description: form.text("description"),
        tags: form.text("tags"),
        folder_path: form.text("folder_path"),
        default_parameters: form.text("default_parameters"),
        overwrite: form.flag("overwrite", false)?,
    };
    Ok(Json(voices::upload(&state, file, fields).await?))
}

/// Analyse a stored voice as a cloning reference and save the report in its sidecar:
/// duration, level, clipping, noise floor and SNR, speech and silence, a 0–100 score and
/// warnings (thresholds in `docs/api.md`).
#[utoipa::path(post, path = "/voice/{filename}/analyze", tag = "voices",
    params(("filename" = String, Path, description = "File name, or folder path with `/` encoded as %2F")),
    responses((status = 200, body = AnalysisResponse), (status = 404, body = ErrorBody), (status = 415, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn analyze_voice(
    State(state): State<AppState>,
    Path(filename): Path<String>,
    StrictQuery(_none): StrictQuery<crate::extract::NoParams>,
) -> Result<Json<AnalysisResponse>> {
    Ok(Json(quality::analyze_stored(&state, &filename).await?))
}

/// Analyse a file as a cloning reference without storing it (multipart field `voice_file`).
#[utoipa::path(post, path = "/voices/analyze", tag = "voices",
    request_body(content = AnalyzeForm, content_type = "multipart/form-data"),
    responses((status = 200, body = AnalysisResponse), (status = 413, body = ErrorBody), (status = 415, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn analyze_upload(
    State(state): State<AppState>,
    Multipart(multipart): Multipart,
) -> Result<Json<AnalysisResponse>> {
    let lease = state.memory().lease();
    let mut form = read_voice_form(&state, multipart, &lease).await?;
    if let Some(field) = form.texts.keys().next() {
        return Err(crate::error::Error::invalid(
            field.clone(),
            format!("unknown form field {field:?}; this route takes voice_file only"),
        ));
    }
    let file = form.take_file("voice_file")?;
    let filename = crate::service::upload::accepted_name(&file)?;
    let quality = quality::analyze_bytes(&state, file.bytes, &filename).await?;
    Ok(Json(AnalysisResponse {
        success: true,
        filename,
        stored: false,
        quality,
    }))
}

/// Reads a form carrying one `voice_file` within the voice upload limit.
async fn read_voice_form(
    state: &AppState,
    multipart: axum::extract::Multipart,
    lease: &audio::memory::Lease,
) -> Result<Form> {
    let limit = state.config().limits.voice_upload_bytes();
    Form::read(multipart, &["voice_file"], limit, limit, lease).await
}

/// The multipart field of an analysis (documentation only).
#[derive(ToSchema)]
#[allow(dead_code)]
struct AnalyzeForm {
    /// The audio file: wav, mp3, flac, ogg, opus, m4a or aac.
    #[schema(value_type = String, format = Binary)]
    voice_file: Vec<u8>,
}

/// Update a voice's metadata; a new `folder_path` moves the voice and its sidecar.
#[utoipa::path(put, path = "/voice/{filename}/metadata", tag = "voices",
    params(("filename" = String, Path, description = "File name, or folder path with `/` encoded as %2F")),
    request_body = VoiceMetadataUpdate,
    responses((status = 200, body = VoiceUploadResponse), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
async fn update_voice_metadata(
    State(state): State<AppState>,
    Path(filename): Path<String>,
    extract::Json(update): extract::Json<VoiceMetadataUpdate>,
) -> Result<Json<VoiceUploadResponse>> {
    Ok(Json(
        voices::update_metadata(state.store(), state.voice_use(), &filename, update).await?,
    ))
}

/// `confirm` query of single deletes.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ConfirmQuery {
    /// Must be `true`.
    pub confirm: Option<bool>,
}

/// Delete one voice and its sidecar.
#[utoipa::path(delete, path = "/voice/{filename}", tag = "voices",
    params(("filename" = String, Path, description = "File name, or folder path with `/` encoded as %2F"), ConfirmQuery),
    responses((status = 200, body = DeletionResponse), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn delete_voice(
    State(state): State<AppState>,
    Path(filename): Path<String>,
    StrictQuery(query): StrictQuery<ConfirmQuery>,
) -> Result<Json<DeletionResponse>> {
    Ok(Json(
        service::delete_one(
            state.store().as_ref(),
            Area::Voices,
            &filename,
            query.confirm,
        )
        .await?,
    ))
}

/// Bulk-delete voices by folder, tag, search or names; every voice only with `all=true`.
#[utoipa::path(delete, path = "/voices", tag = "voices", params(DeleteVoicesQuery),
    responses((status = 200, body = DeletionResponse), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn delete_voices(
    State(state): State<AppState>,
    StrictQuery(query): StrictQuery<DeleteVoicesQuery>,
) -> Result<Json<DeletionResponse>> {
    Ok(Json(
        voices::delete_many(state.store().as_ref(), &query).await?,
    ))
}

/// The folder tree of the voice library.
#[utoipa::path(get, path = "/voices/folders", tag = "voices", responses((status = 200, body = FoldersResponse)))]
async fn voice_folders(State(state): State<AppState>) -> Result<Json<FoldersResponse>> {
    Ok(Json(folders::folder_tree(
        &area::entries(state.store().as_ref(), Area::Voices).await?,
    )))
}
