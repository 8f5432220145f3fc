//! `/api/v1/vc_input*` routes: list, upload, delete, folders.

use axum::Json;
use axum::extract::{DefaultBodyLimit, State};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::form::Form;
use super::voices::ConfirmQuery;
use crate::error::{ErrorBody, Result};
use crate::extract::{Multipart, Path, Query, StrictQuery};
use crate::service::area::{self, Area};
use crate::service::folders::{self, FoldersResponse};
use crate::service::vc_inputs::{
    self, DeleteVcInputsQuery, ListVcInputsQuery, VcInputUploadFields, VcInputUploadResponse,
    VcInputsResponse,
};
use crate::service::{self, DeletionResponse};
use crate::state::AppState;

/// Routes of this module. The upload route enforces its own per-file limit while reading.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_vc_inputs))
        .routes(routes!(delete_vc_input))
        .routes(routes!(delete_vc_inputs))
        .routes(routes!(vc_input_folders))
        .merge(
            OpenApiRouter::new()
                .routes(routes!(upload_vc_input))
                .layer(DefaultBodyLimit::disable()),
        )
}

/// List VC inputs, newest first.
#[utoipa::path(get, path = "/vc_inputs", tag = "vc_inputs", params(ListVcInputsQuery),
    responses((status = 200, body = VcInputsResponse), (status = 422, body = ErrorBody)))]
async fn list_vc_inputs(
    State(state): State<AppState>,
    Query(query): Query<ListVcInputsQuery>,
) -> Result<Json<VcInputsResponse>> {
    Ok(Json(vc_inputs::list(state.store().as_ref(), &query).await?))
}

/// The multipart fields of a VC-input upload (documentation only).
#[derive(ToSchema)]
#[allow(dead_code)]
struct VcInputUploadForm {
    /// The audio file: wav, mp3, flac, ogg, m4a or aac.
    #[schema(value_type = String, format = Binary)]
    vc_input_file: Vec<u8>,
    /// Transcript or notes.
    text: Option<String>,
    /// Folder to store the file in (wins over `project`).
    folder_path: Option<String>,
    /// Alias of `folder_path`.
    project: Option<String>,
    /// Replace an existing file of the same name (default false: 409).
    overwrite: Option<bool>,
}

/// Upload a VC input with its transcript.
#[utoipa::path(post, path = "/vc_input", tag = "vc_inputs",
    request_body(content = VcInputUploadForm, content_type = "multipart/form-data"),
    responses((status = 200, body = VcInputUploadResponse), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn upload_vc_input(
    State(state): State<AppState>,
    Multipart(multipart): Multipart,
) -> Result<Json<VcInputUploadResponse>> {
    let limits = &state.config().limits;
    let lease = state.memory().lease();
    let mut form = Form::read(
        multipart,
        &["vc_input_file"],
        limits.vc_input_upload_bytes(),
        limits.vc_input_upload_bytes(),
        &lease,
    )
    .await?;
    let file = form.take_file("vc_input_file")?;
    let fields = VcInputUploadFields {
        text: form.text("text"),
        folder_path: form.text("folder_path"),
        project: form.text("project"),
        overwrite: form.flag("overwrite", false)?,
    };
    Ok(Json(
        vc_inputs::upload(state.store(), file, fields, &limits.decode_limits()).await?,
    ))
}

/// Delete one VC input and its sidecar.
#[utoipa::path(delete, path = "/vc_input/{filename}", tag = "vc_inputs",
    params(("filename" = String, Path, description = "File name, or folder path with `/` encoded as %2F"), ConfirmQuery),
    responses((status = 200, body = DeletionResponse), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn delete_vc_input(
    State(state): State<AppState>,
    Path(filename): Path<String>,
    StrictQuery(query): StrictQuery<ConfirmQuery>,
) -> Result<Json<DeletionResponse>> {
    Ok(Json(
        service::delete_one(
            state.store().as_ref(),
            Area::VcInputs,
            &filename,
            query.confirm,
        )
        .await?,
    ))
}

/// Bulk-delete VC inputs; filters are ANDed; every file only with `all=true`.
#[utoipa::path(delete, path = "/vc_inputs", tag = "vc_inputs", params(DeleteVcInputsQuery),
    responses((status = 200, body = DeletionResponse), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn delete_vc_inputs(
    State(state): State<AppState>,
    StrictQuery(query): StrictQuery<DeleteVcInputsQuery>,
) -> Result<Json<DeletionResponse>> {
    Ok(Json(
        vc_inputs::delete_many(state.store().as_ref(), &query).await?,
    ))
}

/// The folder tree of the VC inputs.
#[utoipa::path(get, path = "/vc_inputs/folders", tag = "vc_inputs", responses((status = 200, body = FoldersResponse)))]
async fn vc_input_folders(State(state): State<AppState>) -> Result<Json<FoldersResponse>> {
    Ok(Json(folders::folder_tree(
        &area::entries(state.store().as_ref(), Area::VcInputs).await?,
    )))
}
