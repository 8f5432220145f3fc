//! What this process observes about itself: Prometheus metrics, the error log behind
//! `/api/v1/errors/*`, the 60-minute performance window and resource readings behind
//! `/api/v1/metrics`. All of it is per process (each replica is scraped on its own);
//! cluster-wide usage figures come from the store (`service::usage`).

pub mod errors;
pub mod prometheus;
pub mod store;
pub mod system;

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;
use utoipa::ToSchema;

use errors::{ErrorInfo, ErrorLog};
use prometheus::Prometheus;
use system::CpuClock;

/// Samples kept per performance series (the original kept 500).
const SAMPLES: usize = 500;
/// The performance window in minutes (the original's).
const WINDOW_MINUTES: u64 = 60;

/// The monitor of one process.
#[derive(Debug, Default)]
pub struct Monitor {
    prometheus: Arc<Prometheus>,
    errors: ErrorLog,
    cpu: CpuClock,
    processing: Samples,
    responses: Samples,
}

/// One finished generation, as the monitor counts it.
#[derive(Debug, Clone, Copy)]
pub struct GenerationTiming {
    /// `tts`, `vc`, `concat` or `speech` (the OpenAI and SillyTavern streams).
    pub kind: &'static str,
    /// The engine that spoke (`piper`, `chatterbox`), or `none` for concatenation.
    pub engine: &'static str,
    /// Seconds of audio produced.
    pub audio_seconds: f64,
    /// From the request's start to its last audio.
    pub processing_seconds: f64,
    /// From the request's start to its first audio, and whether it was streamed.
    pub first_audio: Option<(f64, bool)>,
}

impl Monitor {
    /// The metric families (the store wrapper records into them too).
    pub fn prometheus(&self) -> &Arc<Prometheus> {
        &self.prometheus
    }

    /// The error log.
    pub fn errors(&self) -> &ErrorLog {
        &self.errors
    }

    /// CPU readings for `system_info`.
    pub fn cpu(&self) -> &CpuClock {
        &self.cpu
    }

    /// Records one answer: its route template (`unmatched` when no route matched), method,
    /// status and latency, and its error when it is one.
    pub fn record_response(
        &self,
        route: &str,
        method: &str,
        status: u16,
        latency: Duration,
        error: Option<&ErrorInfo>,
    ) {
        let metrics = &self.prometheus;
        metrics
            .requests
            .get_or_create(&vec![
                ("route", route.to_owned()),
                ("method", method.to_owned()),
                ("status", status.to_string()),
            ])
            .inc();
        metrics
            .latency
            .get_or_create(&vec![
                ("route", route.to_owned()),
                ("method", method.to_owned()),
            ])
            .observe(latency.as_secs_f64());
        self.responses.push(latency);
        if status >= 400 {
            let fallback = ErrorInfo {
                code: status.to_string(),
                message: String::new(),
            };
            let info = error.unwrap_or(&fallback);
            let (category, severity) = errors::classify(status, &info.code);
            metrics
                .errors
                .get_or_create(&vec![
                    ("category", label(&category)),
                    ("severity", label(&severity)),
                ])
                .inc();
            self.errors.record(
                format!("{method} {route}"),
                status,
                info,
                crate::request_id::current().unwrap_or_default(),
            );
        }
    }

    /// Records a finished generation.
    pub fn record_generation(&self, timing: GenerationTiming) {
        let metrics = &self.prometheus;
        let kind_engine = vec![
            ("kind", timing.kind.to_owned()),
            ("engine", timing.engine.to_owned()),
        ];
        metrics.generations.get_or_create(&kind_engine).inc();
        if timing.audio_seconds.is_finite() && timing.audio_seconds > 0.0 {
            metrics
                .audio_seconds
                .get_or_create(&kind_engine)
                .inc_by(timing.audio_seconds);
            if timing.engine != "none" {
                metrics
                    .real_time_factor
                    .get_or_create(&vec![("engine", timing.engine.to_owned())])
                    .observe(timing.processing_seconds / timing.audio_seconds);
            }
        }
        if let Some((seconds, streamed)) = timing.first_audio {
            let mode = if streamed { "stream" } else { "file" };
            metrics
                .first_audio
                .get_or_create(&vec![
                    ("engine", timing.engine.to_owned()),
                    ("mode", mode.to_owned()),
                ])
                .observe(seconds);
        }
        self.processing
            .push(Duration::from_secs_f64(timing.processing_seconds.max(0.0)));
    }

    /// Counts a request refused for its key's rate.
    pub fn record_rate_limited(&self, key: &str) {
        self.prometheus
            .rate_limited
            .get_or_create(&vec![("key", key.to_owned())])
            .inc();
    }

    /// The last hour's processing and response times.
    pub fn performance(&self) -> Performance {
        let processing = self.processing.stats();
        let responses = self.responses.stats();
        Performance {
            time_window_minutes: WINDOW_MINUTES,
            sample_count: SampleCount {
                processing_times: processing.count,
                response_times: responses.count,
            },
            processing_times: processing,
            response_times: responses,
        }
    }
}

fn label<T: Serialize>(value: &T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// The newest [`SAMPLES`] durations with when they were taken.
#[derive(Debug, Default)]
struct Samples(Mutex<VecDeque<(Instant, Duration)>>);

impl Samples {
    fn push(&self, duration: Duration) {
        let mut samples = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if samples.len() >= SAMPLES {
            samples.pop_front();
        }
        samples.push_back((Instant::now(), duration));
    }

    fn stats(&self) -> TimeStats {
        let samples = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let window = Duration::from_secs(WINDOW_MINUTES * 60);
        let ms: Vec<f64> = samples
            .iter()
            .filter(|(at, _)| at.elapsed() <= window)
            .map(|(_, d)| d.as_secs_f64() * 1000.0)
            .collect();
        let round = |x: f64| (x * 1000.0).round() / 1000.0;
        TimeStats {
            count: ms.len(),
            min_ms: ms.iter().copied().reduce(f64::min).map(round),
            max_ms: ms.iter().copied().reduce(f64::max).map(round),
            avg_ms: (!ms.is_empty()).then(|| round(ms.iter().sum::<f64>() / ms.len() as f64)),
        }
    }
}

/// `performance` of `/api/v1/metrics`: the original's keys.
#[derive(Debug, Serialize, ToSchema)]
pub struct Performance {
    /// The window (60).
    pub time_window_minutes: u64,
    /// Generation processing times in the window (at most the newest 500).
    pub processing_times: TimeStats,
    /// Response times (to the answer's head) in the window (at most the newest 500).
    pub response_times: TimeStats,
    /// Samples behind each.
    pub sample_count: SampleCount,
}

/// Minimum, maximum and mean of a series (nulls when it is empty).
#[derive(Debug, Serialize, ToSchema)]
pub struct TimeStats {
    /// Shortest, ms.
    pub min_ms: Option<f64>,
    /// Longest, ms.
    pub max_ms: Option<f64>,
    /// Mean, ms.
    pub avg_ms: Option<f64>,
    /// Samples.
    pub count: usize,
}

/// Samples per series.
#[derive(Debug, Serialize, ToSchema)]
pub struct SampleCount {
    /// Processing-time samples.
    pub processing_times: usize,
    /// Response-time samples.
    pub response_times: usize,
}
