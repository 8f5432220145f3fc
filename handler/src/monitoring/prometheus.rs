//! Prometheus metrics of this process (`GET /metrics`, text exposition format): requests by
//! route and status, latencies, time to first audio and real-time factor per engine, the
//! generation queues, engine load times, store latency and errors, the memory budget.
//! Labels are bounded: routes are the matched route templates (`unmatched` otherwise),
//! engines, operations and key names come from fixed sets or the configuration.

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Registry, Unit};
use std::sync::atomic::AtomicU64;

/// Label sets: `(name, value)` pairs.
pub type Labels = Vec<(&'static str, String)>;

type Counters = Family<Labels, Counter>;
type Gauges = Family<Labels, Gauge<f64, AtomicU64>>;
type Histograms = Family<Labels, Histogram, fn() -> Histogram>;

fn latency_histogram() -> Histogram {
    // 1 ms .. ~65 s.
    Histogram::new(exponential_buckets(0.001, 2.0, 17))
}

fn ratio_histogram() -> Histogram {
    // Real-time factor 0.01 .. ~20 (below 1: faster than real time).
    Histogram::new(exponential_buckets(0.01, 1.6, 17))
}

/// The metric families, shared by every request of the process.
#[derive(Debug)]
pub struct Prometheus {
    registry: Registry,
    /// `speech_http_requests_total{route,method,status}`.
    pub requests: Counters,
    /// `speech_http_request_duration_seconds{route,method}`.
    pub latency: Histograms,
    /// `speech_time_to_first_audio_seconds{engine,mode}`.
    pub first_audio: Histograms,
    /// `speech_real_time_factor{engine}`: processing seconds per second of audio.
    pub real_time_factor: Histograms,
    /// `speech_generations_total{kind,engine}`.
    pub generations: Counters,
    /// `speech_generated_audio_seconds_total{kind,engine}`.
    pub audio_seconds: Family<Labels, Counter<f64, AtomicU64>>,
    /// `speech_generation_queue_depth{engine}` (set when scraped).
    pub queue_depth: Gauges,
    /// `speech_generations_running{engine}` (set when scraped).
    pub running: Gauges,
    /// `speech_generation_rejections_total{engine}`: refused because the queue was full.
    pub rejections: Counters,
    /// `speech_engine_load_seconds{engine}`: how long the last load took (set when scraped).
    pub engine_load: Gauges,
    /// `speech_store_operation_duration_seconds{operation}`.
    pub store_latency: Histograms,
    /// `speech_store_errors_total{operation,kind}`.
    pub store_errors: Counters,
    /// `speech_errors_total{category,severity}`: error answers.
    pub errors: Counters,
    /// `speech_rate_limited_total{key}`.
    pub rate_limited: Counters,
    /// `speech_memory_budget_bytes{state="used"|"limit"}` (set when scraped).
    pub memory: Gauges,
    /// `speech_uptime_seconds` (set when scraped).
    pub uptime: Gauge<f64, AtomicU64>,
}

impl Default for Prometheus {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("speech");
        let requests = Counters::default();
        registry.register(
            "http_requests",
            "HTTP answers by matched route, method and status",
            requests.clone(),
        );
        let latency = Histograms::new_with_constructor(latency_histogram as fn() -> Histogram);
        registry.register_with_unit(
            "http_request_duration",
            "Time to the answer's head (streamed bodies continue after it)",
            Unit::Seconds,
            latency.clone(),
        );
        let first_audio = Histograms::new_with_constructor(latency_histogram as fn() -> Histogram);
        registry.register_with_unit(
            "time_to_first_audio",
            "From the request to its first audio: whole files (mode=file) or streams (mode=stream)",
            Unit::Seconds,
            first_audio.clone(),
        );
        let real_time_factor =
            Histograms::new_with_constructor(ratio_histogram as fn() -> Histogram);
        registry.register(
            "real_time_factor",
            "Processing seconds per second of audio produced, per engine",
            real_time_factor.clone(),
        );
        let generations = Counters::default();
        registry.register(
            "generations",
            "Finished generations by kind (tts, vc, concat, speech) and engine",
            generations.clone(),
        );
        let audio_seconds = Family::<Labels, Counter<f64, AtomicU64>>::default();
        registry.register_with_unit(
            "generated_audio",
            "Seconds of audio produced",
            Unit::Seconds,
            audio_seconds.clone(),
        );
        let queue_depth = Gauges::default();
        registry.register(
            "generation_queue_depth",
            "Generations waiting for a slot",
            queue_depth.clone(),
        );
        let running = Gauges::default();
        registry.register(
            "generations_running",
            "Generations holding a slot",
            running.clone(),
        );
        let rejections = Counters::default();
        registry.register(
            "generation_rejections",
            "Generations refused because the engine's queue was full",
            rejections.clone(),
        );
        let engine_load = Gauges::default();
        registry.register_with_unit(
            "engine_load",
            "How long loading the engine took in this process",
            Unit::Seconds,
            engine_load.clone(),
        );
        let store_latency =
            Histograms::new_with_constructor(latency_histogram as fn() -> Histogram);
        registry.register_with_unit(
            "store_operation_duration",
            "Object store calls by operation (retries included)",
            Unit::Seconds,
            store_latency.clone(),
        );
        let store_errors = Counters::default();
        registry.register(
            "store_errors",
            "Failed object store calls by operation and kind (unavailable, other)",
            store_errors.clone(),
        );
        let errors = Counters::default();
        registry.register(
            "errors",
            "Error answers by category and severity",
            errors.clone(),
        );
        let rate_limited = Counters::default();
        registry.register(
            "rate_limited",
            "Requests refused because their API key was over its rate",
            rate_limited.clone(),
        );
        let memory = Gauges::default();
        registry.register_with_unit(
            "memory_budget",
            "The audio memory budget: bytes reserved now (used) and its size (limit)",
            Unit::Bytes,
            memory.clone(),
        );
        let uptime = Gauge::<f64, AtomicU64>::default();
        registry.register_with_unit(
            "uptime",
            "Seconds since the process started",
            Unit::Seconds,
            uptime.clone(),
        );
        Self {
            registry,
            requests,
            latency,
            first_audio,
            real_time_factor,
            generations,
            audio_seconds,
            queue_depth,
            running,
            rejections,
            engine_load,
            store_latency,
            store_errors,
            errors,
            rate_limited,
            memory,
            uptime,
        }
    }
}

impl Prometheus {
    /// The text exposition of every family.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        if let Err(e) = prometheus_client::encoding::text::encode(&mut out, &self.registry) {
            tracing::warn!(error = %e, "could not encode the metrics");
        }
        out
    }
}

/// Raises a counter to `value` (for totals kept elsewhere as atomics; counters only grow).
pub fn raise_to(counter: &Counter, value: u64) {
    let now = counter.get();
    if value > now {
        counter.inc_by(value - now);
    }
}
