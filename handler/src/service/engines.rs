//! The speech engines of this process: loaded once on first use (ONNX Runtime, then the
//! Piper voice or the Chatterbox bundle), each behind a gate that bounds how many
//! generations run and wait, so a burst gets a quick 503 instead of piling up.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use models::chatterbox::{Chatterbox, ChatterboxSettings, Precision as BundlePrecision};
use models::piper::PiperVoice;
use models::{OnnxRuntime, RuntimeSettings};
use tokio::sync::{OnceCell, OwnedSemaphorePermit, Semaphore};

use super::work::Slot;
use crate::config::{EngineArgs, Precision};
use crate::error::{Error, Result};

/// Which engine serves a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EngineKind {
    /// Piper: the built-in voice, fast on a CPU, no cloning.
    Piper,
    /// Chatterbox: voice cloning and voice conversion from a stored voice.
    Chatterbox,
}

impl EngineKind {
    /// The name clients use in `model`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Piper => "piper",
            Self::Chatterbox => "chatterbox",
        }
    }
}

/// The engines, loaded lazily (a failed load is retried by the next request, so
/// installing a bundle while the service runs needs no restart).
#[derive(Debug)]
pub struct Engines {
    settings: EngineArgs,
    /// Extra threads requests may borrow to speak sentences side by side.
    threads: Arc<ThreadBudget>,
    runtime: OnceCell<Arc<OnnxRuntime>>,
    piper: OnceCell<Arc<PiperVoice>>,
    chatterbox: OnceCell<(Arc<Chatterbox>, String)>,
    piper_gate: Gate,
    chatterbox_gate: Gate,
    abandoned: std::sync::atomic::AtomicU64,
    /// How long each engine's load took, in microseconds (0: not loaded).
    piper_load_micros: std::sync::atomic::AtomicU64,
    chatterbox_load_micros: std::sync::atomic::AtomicU64,
}

/// How busy one engine's gate is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GateLoad {
    /// Generations holding a slot.
    pub running: usize,
    /// Generations waiting for one.
    pub waiting: usize,
    /// Generations refused because the queue was full, since start.
    pub rejected: u64,
}

impl Engines {
    /// Engines as configured; nothing is loaded yet.
    pub fn new(settings: EngineArgs) -> Self {
        let gate = || {
            Gate::new(
                settings.max_concurrent_generations.max(1),
                settings.max_queued_generations,
            )
        };
        Self {
            threads: Arc::new(ThreadBudget::new(
                settings.effective_synthesis_threads().saturating_sub(1),
            )),
            piper_gate: gate(),
            chatterbox_gate: gate(),
            runtime: OnceCell::new(),
            piper: OnceCell::new(),
            chatterbox: OnceCell::new(),
            abandoned: std::sync::atomic::AtomicU64::new(0),
            piper_load_micros: std::sync::atomic::AtomicU64::new(0),
            chatterbox_load_micros: std::sync::atomic::AtomicU64::new(0),
            settings,
        }
    }

    /// The settings.
    pub fn settings(&self) -> &EngineArgs {
        &self.settings
    }

    /// ONNX Runtime, loaded on first use.
    pub async fn runtime(&self) -> Result<Arc<OnnxRuntime>> {
        self.runtime
            .get_or_try_init(|| async {
                let settings = RuntimeSettings {
                    library: self.settings.onnxruntime_library(),
                    provider: self.settings.execution_provider,
                    intra_threads: self.settings.effective_threads(),
                    spinning: self.settings.inference_spinning,
                };
                blocking(move || OnnxRuntime::load(settings))
                    .await?
                    .map_err(|e| {
                        model_missing(
                            "onnxruntime",
                            "ONNX Runtime could not be loaded. Set --onnxruntime-library / \
                             ORT_DYLIB_PATH, or run ./scripts/serve.sh, which fetches it",
                            &e,
                        )
                    })
            })
            .await
            .cloned()
    }

    /// The Piper voice, loaded on first use.
    pub async fn piper(&self) -> Result<Arc<PiperVoice>> {
        let runtime = self.runtime().await?;
        self.piper
            .get_or_try_init(|| async {
                let model = self.settings.piper_voice();
                if !model.is_file() {
                    return Err(model_missing(
                        "piper",
                        "the Piper voice is not installed. Set --piper-voice / SPEECH_PIPER_VOICE, \
                         or run ./scripts/serve.sh, which fetches the default voice",
                        &format!("{} is not a file", model.display()),
                    ));
                }
                let started = std::time::Instant::now();
                let workers = self.settings.effective_synthesis_threads();
                let loaded = blocking(move || {
                    PiperVoice::load(&runtime, &model, None)
                        .map(|voice| voice.with_parallel_sessions(workers))
                })
                .await?;
                self.piper_load_micros
                    .store(micros_since(started), Ordering::Relaxed);
                loaded.map(Arc::new).map_err(|e| {
                    model_missing(
                        "piper",
                        "the Piper voice could not be loaded; the server log says why",
                        &e,
                    )
                })
            })
            .await
            .cloned()
    }

    /// Loads every engine that is installed: ONNX Runtime, the Piper voice and, when its
    /// bundle is present, Chatterbox. Fails when Piper cannot load (the built-in voice must
    /// work); a broken Chatterbox bundle is logged and left for requests to report.
    pub async fn preload(&self) -> Result<()> {
        self.piper().await?;
        if self.chatterbox_installed()
            && let Err(e) = self.chatterbox_with_tag().await
        {
            tracing::warn!(error = %e, "Chatterbox could not be preloaded");
        }
        Ok(())
    }

    /// What `/health` and `/config` report about the engines.
    pub fn status(&self) -> EngineStatus {
        let runtime = self.settings.onnxruntime_library().is_file();
        EngineStatus {
            onnxruntime_installed: runtime,
            piper_installed: runtime && self.settings.piper_voice().is_file(),
            piper_loaded: self.piper.initialized(),
            chatterbox_installed: runtime && self.chatterbox_installed(),
            chatterbox_loaded: self.chatterbox.initialized(),
            generations_abandoned: self.abandoned.load(Ordering::Relaxed),
        }
    }

    /// Whether a Chatterbox bundle is present (a file check; nothing is loaded).
    pub fn chatterbox_installed(&self) -> bool {
        Chatterbox::bundle_status(&self.settings.chatterbox_dir(), self.bundle_precision()).is_ok()
    }

    /// The Chatterbox engine, loaded on first use (503 `MODEL_NOT_INSTALLED` without a
    /// bundle), and a tag naming the exact weights it loaded (voice
    /// conditionings are cached per tag, so swapping the bundle never reuses stale ones).
    pub async fn chatterbox_with_tag(&self) -> Result<(Arc<Chatterbox>, String)> {
        let dir = self.settings.chatterbox_dir();
        if let Err(e) = Chatterbox::bundle_status(&dir, self.bundle_precision()) {
            return Err(not_installed(&dir, &e.to_string()));
        }
        let runtime = self.runtime().await?;
        self.chatterbox
            .get_or_try_init(|| async {
                let settings = ChatterboxSettings {
                    dir: dir.clone(),
                    precision: self.bundle_precision(),
                    lm_threads: self.settings.inference_threads,
                };
                let tag = bundle_tag(&dir, self.settings.chatterbox_precision);
                let started = std::time::Instant::now();
                let loaded = blocking(move || Chatterbox::load(&runtime, &settings)).await?;
                self.chatterbox_load_micros
                    .store(micros_since(started), Ordering::Relaxed);
                loaded
                    .map(|engine| (Arc::new(engine), tag))
                    .map_err(|e| not_installed(&dir, &e.to_string()))
            })
            .await
            .cloned()
    }

    /// The process's pool of extra synthesis threads (see `--synthesis-threads`).
    pub fn synthesis_threads(&self) -> &Arc<ThreadBudget> {
        &self.threads
    }

    /// Waits for a generation slot of `engine` (503 `SERVER_BUSY` when the queue is full).
    /// The slot is shared with the work it admits (see `service::work`).
    pub async fn admit(&self, engine: EngineKind) -> Result<Slot> {
        let permit = match engine {
            EngineKind::Piper => self.piper_gate.enter(engine).await,
            EngineKind::Chatterbox => self.chatterbox_gate.enter(engine).await,
        }?;
        Ok(Arc::new(permit))
    }

    /// How busy `engine`'s gate is now.
    pub fn gate_load(&self, engine: EngineKind) -> GateLoad {
        match engine {
            EngineKind::Piper => self.piper_gate.load(),
            EngineKind::Chatterbox => self.chatterbox_gate.load(),
        }
    }

    /// How long loading `engine` took in this process (None: not loaded).
    pub fn load_seconds(&self, engine: EngineKind) -> Option<f64> {
        let micros = match engine {
            EngineKind::Piper => &self.piper_load_micros,
            EngineKind::Chatterbox => &self.chatterbox_load_micros,
        }
        .load(Ordering::Relaxed);
        (micros > 0).then(|| micros as f64 / 1e6)
    }

    /// Counts one generation stopped because its client went away.
    pub fn note_abandoned(&self) {
        self.abandoned.fetch_add(1, Ordering::Relaxed);
    }

    fn bundle_precision(&self) -> BundlePrecision {
        match self.settings.chatterbox_precision {
            Precision::Fp32 => BundlePrecision::Fp32,
            Precision::Fp16 => BundlePrecision::Fp16,
            Precision::Q8 => BundlePrecision::Q8,
            Precision::Q4 => BundlePrecision::Q4,
            Precision::Q4f16 => BundlePrecision::Q4f16,
        }
    }
}

/// A fingerprint of a bundle: its folder, the precision, and each graph file's size and
/// modification time.
fn bundle_tag(dir: &std::path::Path, precision: Precision) -> String {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    hasher.update(dir.display().to_string().as_bytes());
    hasher.update(format!("{precision:?}").as_bytes());
    let mut files: Vec<(String, u64, u128)> = std::fs::read_dir(dir.join("onnx"))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let meta = entry.metadata().ok()?;
            let modified = meta
                .modified()
                .ok()?
                .duration_since(std::time::UNIX_EPOCH)
                .ok()?
                .as_nanos();
            Some((
                entry.file_name().to_string_lossy().into_owned(),
                meta.len(),
                modified,
            ))
        })
        .collect();
    files.sort();
    for (name, len, modified) in files {
        hasher.update(format!("{name}:{len}:{modified};").as_bytes());
    }
    hasher
        .finalize()
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn not_installed(dir: &std::path::Path, reason: &str) -> Error {
    model_missing(
        "chatterbox",
        "voice cloning and voice conversion need the Chatterbox ONNX bundle, which is not \
         installed (or is incomplete). Install it with `just models chatterbox`, or point \
         --chatterbox-dir / SPEECH_CHATTERBOX_DIR at a bundle",
        &format!("{}: {reason}", dir.display()),
    )
}

/// A 503 `MODEL_NOT_INSTALLED` whose message names the setting to fix but no server path
/// (clients must not learn the layout of the server); the details, paths included, go to
/// the log for the operator.
fn model_missing(engine: &'static str, message: &str, detail: &dyn std::fmt::Display) -> Error {
    tracing::warn!(engine, %detail, "speech engine unavailable");
    Error::ModelNotInstalled {
        engine,
        message: message.to_owned(),
    }
}

/// Installed and loaded engines.
#[derive(Debug, Clone, Copy, serde::Serialize, utoipa::ToSchema)]
pub struct EngineStatus {
    /// The ONNX Runtime library is where the settings say.
    pub onnxruntime_installed: bool,
    /// The Piper voice (and ONNX Runtime) are present.
    pub piper_installed: bool,
    /// The Piper voice is loaded in this process.
    pub piper_loaded: bool,
    /// A Chatterbox bundle (and ONNX Runtime) is present.
    pub chatterbox_installed: bool,
    /// Chatterbox is loaded in this process.
    pub chatterbox_loaded: bool,
    /// Generations this process stopped early because their client went away.
    pub generations_abandoned: u64,
}

/// Bounds running and waiting generations of one engine.
#[derive(Debug)]
struct Gate {
    slots: Arc<Semaphore>,
    size: usize,
    waiting: AtomicUsize,
    max_waiting: usize,
    rejected: std::sync::atomic::AtomicU64,
}

impl Gate {
    fn new(running: usize, max_waiting: usize) -> Self {
        Self {
            slots: Arc::new(Semaphore::new(running)),
            size: running,
            waiting: AtomicUsize::new(0),
            max_waiting,
            rejected: std::sync::atomic::AtomicU64::new(0),
        }
    }

    fn load(&self) -> GateLoad {
        GateLoad {
            running: self.size.saturating_sub(self.slots.available_permits()),
            waiting: self.waiting.load(Ordering::SeqCst),
            rejected: self.rejected.load(Ordering::Relaxed),
        }
    }

    async fn enter(&self, engine: EngineKind) -> Result<OwnedSemaphorePermit> {
        if let Ok(permit) = Arc::clone(&self.slots).try_acquire_owned() {
            return Ok(permit);
        }
        let queued = self.waiting.fetch_add(1, Ordering::SeqCst);
        // Decrements on every exit, including a client that disconnects while waiting.
        let _waiting = WaitingGuard(&self.waiting);
        if queued >= self.max_waiting {
            self.rejected.fetch_add(1, Ordering::Relaxed);
            return Err(Error::Busy {
                engine: engine.name(),
                retry_after_seconds: 5,
            });
        }
        Arc::clone(&self.slots)
            .acquire_owned()
            .await
            .map_err(|_| Error::Internal("generation gate closed".into()))
    }
}

fn micros_since(started: std::time::Instant) -> u64 {
    u64::try_from(started.elapsed().as_micros())
        .unwrap_or(u64::MAX)
        .max(1)
}

struct WaitingGuard<'a>(&'a AtomicUsize);

impl Drop for WaitingGuard<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Runs blocking engine work (loading, conditioning) off the async threads, in the
/// request's span.
pub async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T> {
    super::work::blocking("engine task", f).await
}

/// A count of threads requests may borrow for a while (sentences spoken side by side):
/// a request takes what is free now and never waits for more, so under load each request
/// speaks one sentence at a time and the gate alone decides who runs.
#[derive(Debug)]
pub struct ThreadBudget {
    free: std::sync::atomic::AtomicUsize,
}

impl ThreadBudget {
    /// A pool of `threads`.
    pub fn new(threads: usize) -> Self {
        Self {
            free: std::sync::atomic::AtomicUsize::new(threads),
        }
    }

    /// Takes up to `wanted` threads, as many as are free now; hand them back with
    /// [`Self::give_back`].
    pub fn take(&self, wanted: usize) -> usize {
        let mut free = self.free.load(Ordering::Acquire);
        loop {
            let taken = free.min(wanted);
            if taken == 0 {
                return 0;
            }
            match self.free.compare_exchange_weak(
                free,
                free - taken,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return taken,
                Err(now) => free = now,
            }
        }
    }

    /// Returns threads taken with [`Self::take`].
    pub fn give_back(&self, threads: usize) {
        self.free.fetch_add(threads, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod thread_budget_tests {
    use super::ThreadBudget;

    #[test]
    fn takes_what_is_free_and_never_more() {
        let budget = ThreadBudget::new(3);
        assert_eq!(budget.take(2), 2);
        assert_eq!(budget.take(5), 1);
        assert_eq!(budget.take(1), 0);
        budget.give_back(3);
        assert_eq!(budget.take(10), 3);
        assert_eq!(ThreadBudget::new(0).take(4), 0);
    }
}
