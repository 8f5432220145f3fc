//! `GET /v1/models` and `GET /v1/models/{id}` in OpenAI's list shape, and
//! `GET /v1/audio/models` in the shape Open WebUI reads, showing only the models the
//! installed engines can serve.

use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::catalog::installed_models;
use super::error::OpenAiError;
use crate::state::AppState;

/// When our model ids were first published (OpenAI's `created`, seconds since the epoch).
const CREATED: i64 = 1_764_547_200;

fn model_json(id: &str) -> Value {
    json!({"id": id, "object": "model", "created": CREATED, "owned_by": "speech-api"})
}

/// Every installed model (`{"object":"list","data":[{"id","object","created","owned_by"}]}`).
#[utoipa::path(get, path = "/v1/models", tag = "openai",
    responses((status = 200, description = "The installed models", body = Object),
        (status = 401, body = super::schema::OpenAiErrorBody)))]
pub async fn list_models(State(state): State<AppState>) -> Json<Value> {
    let data: Vec<Value> = installed_models(&state)
        .into_iter()
        .map(model_json)
        .collect();
    Json(json!({"object": "list", "data": data}))
}

/// Every installed model as `{"models":[{"id","name"}]}`: Open WebUI asks
/// `GET {base}/audio/models` for the TTS model list of an OpenAI-compatible server (and falls
/// back to OpenAI's own names when the answer is not 200).
#[utoipa::path(get, path = "/v1/audio/models", tag = "openai",
    responses((status = 200, description = "`{\"models\":[{\"id\",\"name\"}]}`", body = Object),
        (status = 401, body = super::schema::OpenAiErrorBody)))]
pub async fn list_audio_models(State(state): State<AppState>) -> Json<Value> {
    let models: Vec<Value> = installed_models(&state)
        .into_iter()
        .map(|id| json!({"id": id, "name": id}))
        .collect();
    Json(json!({"models": models}))
}

/// One model, or 404 `model_not_found`.
#[utoipa::path(get, path = "/v1/models/{id}", tag = "openai", params(("id" = String, Path, description = "A model id")),
    responses((status = 200, description = "The model", body = Object),
        (status = 401, body = super::schema::OpenAiErrorBody), (status = 404, body = super::schema::OpenAiErrorBody)))]
pub async fn get_model(
    State(state): State<AppState>,
    id: Result<Path<String>, PathRejection>,
) -> Response {
    // An id that is not valid UTF-8 once decoded is the client's mistake, in OpenAI's envelope.
    let id = match id {
        Ok(Path(id)) => id,
        Err(rejection) => {
            return OpenAiError::invalid("model", rejection.body_text()).into_response();
        }
    };
    if installed_models(&state).contains(&id.as_str()) {
        Json(model_json(&id)).into_response()
    } else {
        OpenAiError::new(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            format!("The model `{id}` does not exist or is not installed"),
        )
        .param("model")
        .code("model_not_found")
        .into_response()
    }
}
