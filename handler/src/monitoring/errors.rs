//! The errors this process answered, for `/api/v1/errors/summary` and `/recent`: a bounded
//! log (the last [`KEPT`] records) grouped by category, severity and operation, as the
//! original service reported them. Per process: each replica reports its own errors
//! (cluster-wide error rates belong to the Prometheus counters, summed by the scraper).

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use serde_json::{Value, json};
use utoipa::ToSchema;

/// Records kept (the original kept 1000).
pub const KEPT: usize = 1000;

/// What an error answer says about itself, left in the response's extensions by the
/// error types of both dialects for the monitoring middleware to record.
#[derive(Debug, Clone)]
pub struct ErrorInfo {
    /// The machine-readable code (`VALIDATION_ERROR`, `invalid_api_key`, ...).
    pub code: String,
    /// The message the client was given (never internal details).
    pub message: String,
}

/// Why errors happen, as the original grouped them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// Worth retrying: busy, timeouts, the store unreachable, rate limits.
    Transient,
    /// The request itself is wrong, or a fault that a retry will not fix.
    Permanent,
    /// Over a size or memory limit.
    Resource,
    /// The server lacks something (a model, ffmpeg): the operator's to fix.
    Configuration,
}

/// How much an error matters to the operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// A client's mistake.
    Low,
    /// Load shedding and timeouts.
    Medium,
    /// The service cannot do part of its job (store down, model missing).
    High,
    /// An internal fault.
    Critical,
}

/// Sorts an answer into a category and severity by its status and code.
pub fn classify(status: u16, code: &str) -> (Category, Severity) {
    match (status, code) {
        (_, "MODEL_NOT_INSTALLED" | "ENCODER_UNAVAILABLE")
        | (_, "model_not_installed" | "encoder_unavailable") => {
            (Category::Configuration, Severity::High)
        }
        (503, "STORAGE_UNAVAILABLE" | "storage_unavailable") => {
            (Category::Transient, Severity::High)
        }
        (408 | 429 | 502 | 503 | 504, _) => (Category::Transient, Severity::Medium),
        (413, _) => (Category::Resource, Severity::Low),
        (400..=499, _) => (Category::Permanent, Severity::Low),
        _ => (Category::Permanent, Severity::Critical),
    }
}

/// One recorded error, with the original's keys.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ErrorRecord {
    /// When it was answered (RFC 3339 UTC).
    pub timestamp: String,
    /// `METHOD /route/template` (bounded: the matched route, not the raw path).
    pub operation: String,
    /// The error code.
    pub error_type: String,
    /// The message the client got.
    pub error_message: String,
    /// See [`Category`].
    pub category: Category,
    /// See [`Severity`].
    pub severity: Severity,
    /// `{status, request_id}`.
    #[schema(value_type = Object)]
    pub context: Value,
    /// Always 0: the service does not retry a client's request for it (kept for the
    /// original's clients; store retries happen below and are not errors).
    pub retry_count: u32,
    /// Always false (kept for the original's clients).
    pub resolved: bool,
    /// Always null (kept for the original's clients).
    pub resolution_timestamp: Option<String>,
    #[serde(skip)]
    at: DateTime<Utc>,
}

/// The bounded error log of this process.
#[derive(Debug, Default)]
pub struct ErrorLog {
    records: Mutex<VecDeque<ErrorRecord>>,
}

impl ErrorLog {
    /// Records one error answer.
    pub fn record(&self, operation: String, status: u16, info: &ErrorInfo, request_id: String) {
        let (category, severity) = classify(status, &info.code);
        let at = Utc::now();
        let record = ErrorRecord {
            timestamp: crate::service::iso(at),
            operation,
            error_type: info.code.clone(),
            error_message: info.message.chars().take(500).collect(),
            category,
            severity,
            context: json!({ "status": status, "request_id": request_id }),
            retry_count: 0,
            resolved: false,
            resolution_timestamp: None,
            at,
        };
        let mut records = self.records.lock().unwrap_or_else(|p| p.into_inner());
        if records.len() >= KEPT {
            records.pop_front();
        }
        records.push_back(record);
    }

    /// The newest `count` records, newest first, and how many are kept.
    pub fn recent(&self, count: usize) -> (Vec<ErrorRecord>, usize) {
        let records = self.records.lock().unwrap_or_else(|p| p.into_inner());
        (
            records.iter().rev().take(count).cloned().collect(),
            records.len(),
        )
    }

    /// The last 24 hours grouped (see [`ErrorSummary`]).
    pub fn summary(&self) -> ErrorSummary {
        let records = self.records.lock().unwrap_or_else(|p| p.into_inner());
        let since = Utc::now() - Duration::hours(24);
        let window: Vec<&ErrorRecord> = records.iter().filter(|r| r.at >= since).collect();
        let mut summary = ErrorSummary {
            total_errors: window.len(),
            window_hours: 24,
            kept_records: records.len(),
            ..ErrorSummary::default()
        };
        let mut pairs: BTreeMap<String, usize> = BTreeMap::new();
        for record in &window {
            *summary.by_category.entry(record.category).or_default() += 1;
            *summary.by_severity.entry(record.severity).or_default() += 1;
            *summary
                .by_operation
                .entry(record.operation.clone())
                .or_default() += 1;
            *pairs
                .entry(format!("{}:{}", record.operation, record.error_type))
                .or_default() += 1;
        }
        summary.most_frequent = pairs.into_iter().filter(|(_, n)| *n >= 3).collect();
        summary.unresolved_count = window.len();
        summary.recent_errors = window.iter().rev().take(5).map(|r| (*r).clone()).collect();
        summary
    }
}

/// `GET /api/v1/errors/summary`: the original's keys over the last 24 hours of this
/// process's kept records.
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct ErrorSummary {
    /// Errors in the window.
    pub total_errors: usize,
    /// Counts by category.
    #[schema(value_type = Object)]
    pub by_category: BTreeMap<Category, usize>,
    /// Counts by severity.
    #[schema(value_type = Object)]
    pub by_severity: BTreeMap<Severity, usize>,
    /// Counts by `METHOD /route`.
    pub by_operation: BTreeMap<String, usize>,
    /// `operation:error_type` pairs seen at least 3 times.
    pub most_frequent: BTreeMap<String, usize>,
    /// Equal to `total_errors` (nothing is marked resolved).
    pub unresolved_count: usize,
    /// The newest five, newest first.
    pub recent_errors: Vec<ErrorRecord>,
    /// The window (24).
    pub window_hours: u32,
    /// Records this process keeps (at most 1000): older errors are not in the window's counts.
    pub kept_records: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_grouped_the_way_the_original_grouped_them() {
        assert_eq!(
            classify(422, "VALIDATION_ERROR"),
            (Category::Permanent, Severity::Low)
        );
        assert_eq!(
            classify(503, "SERVER_BUSY"),
            (Category::Transient, Severity::Medium)
        );
        assert_eq!(
            classify(503, "STORAGE_UNAVAILABLE"),
            (Category::Transient, Severity::High)
        );
        assert_eq!(
            classify(503, "MODEL_NOT_INSTALLED"),
            (Category::Configuration, Severity::High)
        );
        assert_eq!(
            classify(413, "FILE_TOO_LARGE"),
            (Category::Resource, Severity::Low)
        );
        assert_eq!(
            classify(500, "INTERNAL_ERROR"),
            (Category::Permanent, Severity::Critical)
        );
    }

    #[test]
    fn the_log_is_bounded_and_newest_first() {
        let log = ErrorLog::default();
        let info = |n: usize| ErrorInfo {
            code: "VALIDATION_ERROR".into(),
            message: format!("bad {n}"),
        };
        for n in 0..KEPT + 5 {
            log.record("POST /api/v1/tts".into(), 422, &info(n), String::new());
        }
        let (recent, kept) = log.recent(3);
        assert_eq!(kept, KEPT);
        assert_eq!(recent[0].error_message, format!("bad {}", KEPT + 4));
        let summary = log.summary();
        assert_eq!(summary.total_errors, KEPT);
        assert_eq!(
            summary.most_frequent["POST /api/v1/tts:VALIDATION_ERROR"],
            KEPT
        );
        assert_eq!(summary.recent_errors.len(), 5);
    }
}
