//! `/api/v1/lexicon*` routes: list, read, store and delete pronunciation lexicons.

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ErrorBody, Result};
use crate::extract::{self, NoParams, Path, StrictQuery};
use crate::service::lexicons::{self, Lexicon, LexiconSummary};
use crate::state::AppState;

/// Routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_lexicons))
        .routes(routes!(get_lexicon, put_lexicon, delete_lexicon))
}

/// `GET /lexicons` answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct LexiconsResponse {
    /// Every stored lexicon, by name.
    pub lexicons: Vec<LexiconSummary>,
}

/// List the stored pronunciation lexicons.
#[utoipa::path(get, path = "/lexicons", tag = "lexicons", params(NoParams),
    responses((status = 200, body = LexiconsResponse), (status = 422, body = ErrorBody)))]
async fn list_lexicons(
    State(state): State<AppState>,
    StrictQuery(_none): StrictQuery<NoParams>,
) -> Result<Json<LexiconsResponse>> {
    Ok(Json(LexiconsResponse {
        lexicons: lexicons::list(state.store().as_ref()).await?,
    }))
}

/// Read one lexicon.
#[utoipa::path(get, path = "/lexicon/{name}", tag = "lexicons",
    params(("name" = String, Path, description = "1-64 letters, digits, '-' or '_'")),
    responses((status = 200, body = Lexicon), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn get_lexicon(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<Lexicon>> {
    Ok(Json(lexicons::get(state.store().as_ref(), &name).await?))
}

/// `PUT /lexicon/{name}` answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct LexiconStored {
    /// Always true.
    pub success: bool,
    /// The lexicon's name.
    pub name: String,
    /// Whether it replaced a lexicon of that name.
    pub replaced: bool,
    /// Entries stored.
    pub entries: usize,
}

/// Create or replace a lexicon. Entries: `grapheme` (matched as a whole word), `alias` (what
/// is said instead), optional `phoneme` (IPA, kept for engines that speak phonemes) and
/// `case_sensitive`.
#[utoipa::path(put, path = "/lexicon/{name}", tag = "lexicons",
    params(("name" = String, Path, description = "1-64 letters, digits, '-' or '_'")),
    request_body = Lexicon,
    responses((status = 200, body = LexiconStored), (status = 422, body = ErrorBody)))]
async fn put_lexicon(
    State(state): State<AppState>,
    Path(name): Path<String>,
    extract::Json(lexicon): extract::Json<Lexicon>,
) -> Result<Json<LexiconStored>> {
    let replaced = lexicons::put(state.store().as_ref(), &name, &lexicon).await?;
    Ok(Json(LexiconStored {
        success: true,
        entries: lexicon.entries.len(),
        name,
        replaced,
    }))
}

/// Delete a lexicon (needs the `admin` scope when keys are on).
#[utoipa::path(delete, path = "/lexicon/{name}", tag = "lexicons",
    params(("name" = String, Path, description = "1-64 letters, digits, '-' or '_'")),
    responses((status = 200, body = LexiconStored), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn delete_lexicon(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<LexiconStored>> {
    let lexicon = lexicons::get(state.store().as_ref(), &name).await?;
    lexicons::delete(state.store().as_ref(), &name).await?;
    Ok(Json(LexiconStored {
        success: true,
        entries: lexicon.entries.len(),
        name,
        replaced: false,
    }))
}
