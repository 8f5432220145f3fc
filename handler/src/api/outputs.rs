//! `/api/v1/output*` routes: list, delete, folders, captions.

use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::voices::ConfirmQuery;
use crate::error::{ErrorBody, Result};
use crate::extract::{Path, Query, StrictQuery};
use crate::service::area::{self, Area};
use crate::service::captions::{self, CaptionFormat, Captions};
use crate::service::folders::{self, FoldersResponse};
use crate::service::outputs::{self, DeleteOutputsQuery, GeneratedFilesResponse, ListOutputsQuery};
use crate::service::{self, DeletionResponse};
use crate::state::AppState;

/// Routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_outputs))
        .routes(routes!(delete_output))
        .routes(routes!(delete_outputs))
        .routes(routes!(output_folders))
        .routes(routes!(output_captions))
}

/// `format` of the captions route.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CaptionsQuery {
    /// `srt`, `vtt` or `json` (default `vtt`).
    #[param(inline)]
    pub format: Option<CaptionFormat>,
}

/// The captions of an output (made with `captions: true`): SRT, WebVTT or JSON.
#[utoipa::path(get, path = "/output/{filename}/captions", tag = "outputs",
    params(("filename" = String, Path, description = "File name (any of the output's formats), or folder path with `/` encoded as %2F"), CaptionsQuery),
    responses((status = 200, description = "The captions",
            content(("text/vtt"), ("application/x-subrip"), (Captions = "application/json"))),
        (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn output_captions(
    State(state): State<AppState>,
    Path(filename): Path<String>,
    StrictQuery(query): StrictQuery<CaptionsQuery>,
) -> Result<Response> {
    let format = query.format.unwrap_or(CaptionFormat::Vtt);
    let captions = captions::for_output(state.store().as_ref(), &filename).await?;
    let body = captions::render(&captions, format)?;
    Ok(([(header::CONTENT_TYPE, format.content_type())], body).into_response())
}

/// List generated files, newest first.
#[utoipa::path(get, path = "/outputs", tag = "outputs", params(ListOutputsQuery),
    responses((status = 200, body = GeneratedFilesResponse), (status = 422, body = ErrorBody)))]
async fn list_outputs(
    State(state): State<AppState>,
    Query(query): Query<ListOutputsQuery>,
) -> Result<Json<GeneratedFilesResponse>> {
    Ok(Json(outputs::list(state.store().as_ref(), &query).await?))
}

/// Delete one output and its sidecar.
#[utoipa::path(delete, path = "/output/{filename}", tag = "outputs",
    params(("filename" = String, Path, description = "File name, or folder path with `/` encoded as %2F"), ConfirmQuery),
    responses((status = 200, body = DeletionResponse), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn delete_output(
    State(state): State<AppState>,
    Path(filename): Path<String>,
    StrictQuery(query): StrictQuery<ConfirmQuery>,
) -> Result<Json<DeletionResponse>> {
    Ok(Json(
        service::delete_one(
            state.store().as_ref(),
            Area::Outputs,
            &filename,
            query.confirm,
        )
        .await?,
    ))
}

/// Bulk-delete outputs; filters are ANDed; every output only with `all=true`.
#[utoipa::path(delete, path = "/outputs", tag = "outputs", params(DeleteOutputsQuery),
    responses((status = 200, body = DeletionResponse), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn delete_outputs(
    State(state): State<AppState>,
    StrictQuery(query): StrictQuery<DeleteOutputsQuery>,
) -> Result<Json<DeletionResponse>> {
    Ok(Json(
        outputs::delete_many(state.store().as_ref(), &query).await?,
    ))
}

/// The folder (project) tree of the outputs.
#[utoipa::path(get, path = "/outputs/folders", tag = "outputs", responses((status = 200, body = FoldersResponse)))]
async fn output_folders(State(state): State<AppState>) -> Result<Json<FoldersResponse>> {
    Ok(Json(folders::folder_tree(
        &area::entries(state.store().as_ref(), Area::Outputs).await?,
    )))
}
