//! Backup and restore routes: `GET /api/v1/backup` streams a tar of the library,
//! `POST /api/v1/restore` takes one back. Both need the `admin` scope when keys are on.

use axum::Json;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use futures::TryStreamExt;
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::AdminAccess;
use crate::error::{ErrorBody, Result};
use crate::extract::StrictQuery;
use crate::service::backup::{self, BackupOptions, Conflict, RestoreOptions, RestoreReport};
use crate::state::AppState;

/// The backup routes (the restore body is limited by `--max-restore-mb`, not axum's cap).
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(backup_archive))
        .routes(routes!(restore_archive))
        .layer(DefaultBodyLimit::disable())
}

/// `GET /backup` query.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct BackupQuery {
    /// Comma-separated areas: `voices`, `vc_inputs`, `outputs`, `lexicons`, `stats` (usage
    /// statistics); default `voices,vc_inputs,outputs,lexicons`.
    pub areas: Option<String>,
    /// Only this folder (project) of each area, and below it.
    pub folder: Option<String>,
    /// Include the metadata sidecars (default true; without them a restore has bare files).
    pub sidecars: Option<bool>,
    /// Include the voices' Chatterbox conditioning caches (`*.cond`, default false: they are
    /// recomputed on first use).
    pub conditioning: Option<bool>,
}

/// Streams a tar archive of the library (sorted, deterministic: the same library gives the
/// same bytes). Paths inside are the store's keys (`voices/narrators/anna.wav`). Needs the
/// `admin` scope.
#[utoipa::path(get, path = "/backup", tag = "backup", params(BackupQuery),
    responses((status = 200, description = "A tar archive (ustar + PAX), streamed", content_type = "application/x-tar"), (status = 422, body = ErrorBody)))]
async fn backup_archive(
    _admin: AdminAccess,
    State(state): State<AppState>,
    StrictQuery(query): StrictQuery<BackupQuery>,
) -> Result<Response> {
    let options = BackupOptions {
        areas: backup::parse_areas(query.areas.as_deref())?,
        folder: query.folder,
        sidecars: query.sidecars.unwrap_or(true),
        conditioning: query.conditioning.unwrap_or(false),
    };
    let keys = backup::select(state.store().as_ref(), &options).await?;
    let stream = backup::archive(&state, keys).map_err(|e| std::io::Error::other(e.to_string()));
    let name = format!(
        "speech-backup-{}.tar",
        chrono::Utc::now().format("%Y%m%d-%H%M%S")
    );
    Ok((
        [
            (header::CONTENT_TYPE, "application/x-tar".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        Body::from_stream(stream),
    )
        .into_response())
}

/// `POST /restore` query.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct RestoreQuery {
    /// When a path is taken: `skip` (default), `overwrite` or `rename`.
    pub conflict: Option<Conflict>,
    /// Read and check the archive and report what would change, writing nothing.
    pub dry_run: Option<bool>,
}

/// Restores a tar archive (the request body, streamed). Every entry is checked before
/// anything reaches the library: traversal names, links, devices, bad checksums, truncated
/// archives, files outside the areas and sidecars that are not JSON are refused (400
/// `INVALID_ARCHIVE`), archives over `--max-restore-mb` get 413, and a refused archive
/// leaves nothing behind. Needs the `admin` scope.
#[utoipa::path(post, path = "/restore", tag = "backup", params(RestoreQuery),
    request_body(description = "A tar archive as `GET /backup` writes it (any content type is read as one)",
        content((Vec<u8> = "application/x-tar"), (Vec<u8> = "application/octet-stream"))),
    responses((status = 200, body = RestoreReport), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn restore_archive(
    _admin: AdminAccess,
    State(state): State<AppState>,
    StrictQuery(query): StrictQuery<RestoreQuery>,
    request: Request,
) -> Result<Json<RestoreReport>> {
    let options = RestoreOptions {
        conflict: query.conflict.unwrap_or(Conflict::Skip),
        dry_run: query.dry_run.unwrap_or(false),
        max_total_bytes: state
            .config()
            .limits
            .max_restore_mb
            .saturating_mul(1024 * 1024),
    };
    let body = request.into_body().into_data_stream();
    Ok(Json(backup::restore(&state, body, options).await?))
}
