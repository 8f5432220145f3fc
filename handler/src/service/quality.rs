//! Voice quality analysis for cloning references: decodes the audio (within the memory
//! budget and the decode limits) and measures it with `audio::analysis` (duration, level,
//! clipping, noise, speech and silence, a 0–100 score with the reasons). Run at upload
//! (stored in the voice sidecar under `quality`), on demand for a stored voice, and for a
//! file that is not stored.

use std::sync::Arc;

use audio::analysis::QualityReport;
use bytes::Bytes;
use serde::Serialize;
use utoipa::ToSchema;

use super::area::{self, Area};
use super::voices::VoiceSidecar;
use crate::error::Result;
use crate::naming;
use crate::state::AppState;

/// The answer of the analysis routes.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AnalysisResponse {
    /// Always true.
    pub success: bool,
    /// The file analysed (its path in the voices area when stored).
    pub filename: String,
    /// Whether the report was saved in the voice's sidecar.
    pub stored: bool,
    /// The measurements, score, verdict and warnings (see `docs/api.md`, "Voice quality").
    #[schema(value_type = Object)]
    pub quality: QualityReport,
}

/// Decodes `bytes` (named `file_name`, for its format) and analyses them.
pub async fn analyze_bytes(
    state: &AppState,
    bytes: Bytes,
    file_name: &str,
) -> Result<QualityReport> {
    let extension = naming::extension(file_name);
    let limits = state.config().limits.decode_limits();
    let lease = Arc::new(state.memory().lease());
    let name = file_name.to_owned();
    super::work::blocking("voice analysis task", move || {
        let (_, pcm) = audio::decode_within(bytes, extension.as_deref(), &limits, &lease)
            .map_err(|e| super::upload::audio_error(e, &name))?;
        Ok(audio::analysis::analyze(&pcm))
    })
    .await?
}

/// Analyses the stored voice `name` and saves the report in its sidecar.
pub async fn analyze_stored(state: &AppState, name: &str) -> Result<AnalysisResponse> {
    let store = state.store().as_ref();
    let entry = area::lookup(store, Area::Voices, "filename", name).await?;
    let bytes = super::voice_use::read_entry(store, Area::Voices, &entry).await?;
    let quality = analyze_bytes(state, bytes, entry.file_name()).await?;
    let lock = state.voice_use().lock_for(&entry.key);
    let _held = lock.lock().await;
    let report = quality.clone();
    super::sidecar_update::update_sidecar(store, &entry.key, move |sidecar: &mut VoiceSidecar| {
        sidecar.quality = Some(report.clone());
    })
    .await?;
    Ok(AnalysisResponse {
        success: true,
        filename: entry.relative,
        stored: true,
        quality,
    })
}
