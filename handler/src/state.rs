//! Application state, built once per process and shared by every request.

use audio::encode::Encoders;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use audio::memory::MemoryBudget;
use storage::DynStore;

use crate::auth::{ApiKeys, RateLimiter};
use crate::browser::OriginPolicy;
use crate::config::Config;
use crate::monitoring::Monitor;
use crate::monitoring::store::MeasuredStore;
use crate::service::engines::Engines;
use crate::service::jobs::queue::Jobs;
use crate::service::maintenance::CleanupLog;
use crate::service::voice_use::VoiceUse;

/// Everything a request needs: settings, the store and process-wide counters.
/// Nothing in here is state that matters across restarts; that all lives in the store.
#[derive(Clone, Debug)]
pub struct AppState {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    config: Config,
    store: DynStore,
    started: Instant,
    metrics: Metrics,
    cleanup: CleanupLog,
    engines: Engines,
    voice_use: VoiceUse,
    api_keys: ApiKeys,
    rate_limiter: RateLimiter,
    origins: OriginPolicy,
    memory: Arc<MemoryBudget>,
    /// False while the engines are being preloaded (readiness answers 204 then).
    ready: std::sync::atomic::AtomicBool,
    /// The programs the audio encoders run (`--ffmpeg` for AAC).
    encoders: Encoders,
    /// Metrics, the error log and resource readings of this process.
    monitor: Monitor,
    /// Long-form jobs: the queue and this process's worker.
    jobs: Jobs,
}

impl AppState {
    /// State over an already opened store.
    pub fn new(config: Config, store: DynStore) -> Self {
        Self::build(config, store, Monitor::default())
    }

    fn build(config: Config, store: DynStore, monitor: Monitor) -> Self {
        let jobs = Jobs::from_config(&config);
        Self {
            inner: Arc::new(Inner {
                encoders: Encoders::with_ffmpeg(config.engines.ffmpeg()),
                engines: Engines::new(config.engines.clone()),
                api_keys: ApiKeys::from_settings_or_closed(&config.access),
                rate_limiter: RateLimiter::default(),
                origins: OriginPolicy::from_settings(&config.cors_allow_origins),
                memory: MemoryBudget::new(config.limits.memory_budget_bytes()),
                ready: std::sync::atomic::AtomicBool::new(true),
                voice_use: VoiceUse::default(),
                config,
                store,
                started: Instant::now(),
                metrics: Metrics::default(),
                cleanup: CleanupLog::default(),
                monitor,
                jobs,
            }),
        }
    }

    /// Long-form jobs: their queue and this process's worker.
    pub fn jobs(&self) -> &Jobs {
        &self.inner.jobs
    }

    /// The audio encoders with this service's programs (`--ffmpeg`): every encode goes
    /// through them.
    pub fn encoders(&self) -> &Encoders {
        &self.inner.encoders
    }

    /// The accepted API keys (authentication is off when there are none).
    pub fn api_keys(&self) -> &ApiKeys {
        &self.inner.api_keys
    }

    /// The per-key request buckets of this process.
    pub fn rate_limiter(&self) -> &RateLimiter {
        &self.inner.rate_limiter
    }

    /// Whether the service is ready for traffic (false while preloading engines).
    pub fn is_ready(&self) -> bool {
        self.inner.ready.load(Ordering::Relaxed)
    }

    /// Marks the service ready or not (see [`AppState::is_ready`]).
    pub fn set_ready(&self, ready: bool) {
        self.inner.ready.store(ready, Ordering::Relaxed);
    }

    /// Loads the engines now when the settings ask for it (`--preload`), with readiness
    /// off meanwhile.
    pub async fn preload_if_configured(&self) -> crate::error::Result<()> {
        if !self.config().engines.preload {
            return Ok(());
        }
        self.set_ready(false);
        let started = std::time::Instant::now();
        self.engines().preload().await?;
        tracing::info!(
            seconds = started.elapsed().as_secs_f64(),
            "engines preloaded"
        );
        self.set_ready(true);
        Ok(())
    }

    /// The process's budget for audio held in memory (uploads, decoded and encoded audio).
    pub fn memory(&self) -> &Arc<MemoryBudget> {
        &self.inner.memory
    }

    /// Which web page origins may call the API.
    pub fn origin_policy(&self) -> &OriginPolicy {
        &self.inner.origins
    }

    /// Opens the store the configuration names and builds the state.
    pub async fn from_config(config: Config) -> Result<Self, storage::Error> {
        let timeouts = config.store_deadlines.timeouts();
        let s3 = storage::S3Settings {
            timeouts,
            ..config.s3.settings()
        };
        // `open` already puts the deadlines around the store.
        let store = storage::open(&config.storage, &s3, &timeouts).await?;
        Ok(Self::with_cache(config, store))
    }

    /// State over an opened store: every call to it gets the configured deadlines, and
    /// listings the cache the configuration asks for.
    pub fn with_store(config: Config, store: DynStore) -> Self {
        let timeouts = config.store_deadlines.timeouts();
        let store: DynStore = Arc::new(storage::DeadlineStore::new(store, timeouts));
        Self::with_cache(config, store)
    }

    fn with_cache(config: Config, store: DynStore) -> Self {
        // Store metrics time the store's own calls (retries included), not cache hits.
        let monitor = Monitor::default();
        let store: DynStore = Arc::new(MeasuredStore::new(store, Arc::clone(monitor.prometheus())));
        let store = match config.listing_cache() {
            // Past `refresh_after` a listing is refreshed in the background, and it is never
            // used past twelve times that; other replicas' writes show within `check_every`
            // through the store's change markers.
            Some(refresh_after) => Arc::new(storage::CachingStore::with_settings(
                store,
                storage::CacheSettings {
                    check_every: std::time::Duration::try_from_secs_f64(
                        config.replica_check_seconds,
                    )
                    .unwrap_or(storage::DEFAULT_CHECK_EVERY),
                    refresh_after,
                    max_age: refresh_after * 12,
                },
            )),
            None => store,
        };
        Self::build(config, store, monitor)
    }

    /// The settings.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The object store.
    pub fn store(&self) -> &DynStore {
        &self.inner.store
    }

    /// Seconds since the state was built.
    pub fn uptime_seconds(&self) -> f64 {
        self.inner.started.elapsed().as_secs_f64()
    }

    /// Request counters.
    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    /// The speech engines (loaded on first use).
    pub fn engines(&self) -> &Engines {
        &self.inner.engines
    }

    /// Voice conditioning cache and usage counters.
    pub fn voice_use(&self) -> &VoiceUse {
        &self.inner.voice_use
    }

    /// Metrics, the error log and resource readings of this process.
    pub fn monitor(&self) -> &Monitor {
        &self.inner.monitor
    }

    /// History of cleanup runs.
    pub fn cleanup_log(&self) -> &CleanupLog {
        &self.inner.cleanup
    }
}

/// Process-wide request counters (reset on restart).
#[derive(Debug, Default)]
pub struct Metrics {
    requests_total: AtomicU64,
    requests_client_error: AtomicU64,
    requests_server_error: AtomicU64,
}

impl Metrics {
    /// Counts one finished request by its status.
    pub fn record(&self, status: u16) {
        self.requests_total.fetch_add(1, Ordering::Relaxed);
        if (400..500).contains(&status) {
            self.requests_client_error.fetch_add(1, Ordering::Relaxed);
        } else if status >= 500 {
            self.requests_server_error.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// `(total, client errors, server errors)` so far.
    pub fn snapshot(&self) -> (u64, u64, u64) {
        (
            self.requests_total.load(Ordering::Relaxed),
            self.requests_client_error.load(Ordering::Relaxed),
            self.requests_server_error.load(Ordering::Relaxed),
        )
    }
}
