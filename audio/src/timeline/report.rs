//! The concat report: the original's mixed-mode metadata keys (§6.4/6.5), plus the seed.

use serde::Serialize;

use crate::trim::TrimInfo;

/// One step of the timeline, in order (`processing_details`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ProcessingDetail {
    /// A silence token.
    ManualSilence {
        /// Duration in ms.
        duration_ms: u32,
        /// Duration in seconds.
        duration_seconds: f64,
        /// The token as written.
        notation: String,
    },
    /// An audio clip (`size_bytes` is the caller's to add: this crate never sees files).
    File {
        /// The clip's label: its file name, or e.g. `upload 0`.
        filename: String,
        /// The clip's duration after trimming, in seconds.
        duration_seconds: f64,
        /// Where the clip's first kept sample is in the result, in seconds (a crossfade
        /// starts it before the previous clip ends).
        start_seconds: f64,
        /// What trimming did, when trimming was requested.
        trim_info: Option<TrimInfo>,
    },
    /// A randomised pause between two clips.
    NaturalPause {
        /// Duration in ms.
        duration_ms: u32,
        /// Duration in seconds.
        duration_seconds: f64,
        /// `pause_duration_ms`.
        base_duration_ms: u32,
        /// `duration_ms - base_duration_ms` (the random draw, after the 50 ms floor).
        variation_applied_ms: i64,
    },
}

/// Trim totals (`trim_summary`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrimSummary {
    /// Always true when present.
    pub trim_applied: bool,
    /// `trim_threshold_ms`.
    pub trim_threshold_ms: u32,
    /// Clips considered.
    pub total_files: usize,
    /// Clips that lost some silence.
    pub files_trimmed: usize,
    /// Clips left as they were.
    pub files_not_trimmed: usize,
    /// Silence removed over all clips, in seconds.
    pub total_silence_removed_seconds: f64,
}

/// What [`super::concat`] built.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConcatReport {
    /// Length of the result, in seconds.
    pub total_duration_seconds: f64,
    /// Audio clips joined.
    pub file_count: usize,
    /// Silence tokens inserted.
    pub silence_segments: usize,
    /// Natural pauses inserted.
    pub natural_pauses: usize,
    /// `file_count + silence_segments + natural_pauses`.
    pub total_segments: usize,
    /// Every step in order.
    pub processing_details: Vec<ProcessingDetail>,
    /// The requested crossfade (each join is clamped to the shorter clip).
    pub crossfade_ms: u32,
    /// Whether clips were level-normalised.
    pub normalized: bool,
    /// Trim totals, or `null` when trimming was off.
    pub trim_summary: Option<TrimSummary>,
    /// The seed the pauses were drawn with (same seed, same pauses).
    pub seed: u64,
}
