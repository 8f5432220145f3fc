//! The native HTTP API: `/api/v1/...` routes plus `/outputs/{path}` downloads.
//! Handlers are thin: extract, call a service, shape the response.

mod admin;
mod audio_response;
mod backup;
mod bulk;
mod concat;
mod download;
pub(crate) mod form;
mod jobs;
mod lexicons;
mod monitoring;
mod outputs;
mod tts;
mod vc;
mod vc_inputs;
mod voices;

use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

pub use admin::VERSION;

use crate::openapi::ApiDoc;
use crate::state::AppState;

/// Every documented native route, with the OpenAPI document they generate; all but health
/// need a key when keys are configured.
///
/// Upload routes read their multipart bodies with their own per-file limits
/// (413 as soon as a file passes its limit), so axum's default body cap is lifted there.
pub fn routes() -> OpenApiRouter<AppState> {
    let guard = || axum::middleware::from_fn(crate::auth::native_key);
    let v1 = OpenApiRouter::new()
        .merge(voices::router())
        .merge(vc_inputs::router())
        .merge(outputs::router())
        .merge(concat::router())
        .merge(tts::router())
        .merge(vc::router())
        .merge(admin::router())
        .merge(monitoring::router())
        .merge(backup::router())
        .merge(bulk::router())
        .merge(lexicons::router())
        .merge(jobs::router())
        .layer(guard())
        .merge(admin::open_router());
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .nest("/api/v1", v1)
        .merge(download::router().layer(guard()))
        .merge(monitoring::prometheus_router().layer(guard()))
}
