//! The process-wide ONNX Runtime: loaded once from a shared library (the PyPI wheel's
//! `libonnxruntime.so`, or `ORT_DYLIB_PATH`), then used to build every session.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use ort::environment::Environment;
use ort::session::Session;
use ort::session::builder::GraphOptimizationLevel;

use crate::ModelError;

/// Where inference runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ExecutionProvider {
    /// ONNX Runtime's CPU kernels (the `onnxruntime` wheel).
    #[default]
    Cpu,
    /// NVIDIA CUDA (needs the `onnxruntime-gpu` wheel's library); falls back to the CPU
    /// for operators CUDA does not cover.
    Cuda,
}

impl std::str::FromStr for ExecutionProvider {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value.to_ascii_lowercase().as_str() {
            "cpu" => Ok(Self::Cpu),
            "cuda" | "gpu" => Ok(Self::Cuda),
            other => Err(format!(
                "unknown execution provider {other:?} (expected cpu or cuda)"
            )),
        }
    }
}

/// Whether the intra-op threads of a graph run once per request (Piper) spin while they
/// wait for work. Spinning threads answer at once, which makes a run on an idle machine
/// faster (about 15% for Piper on 2 vCPUs); on a busy machine they burn the time slices
/// the rest of the work needs, and the same run gets slower than with sleeping threads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Spinning {
    /// Spin while the CPUs are free, sleep while other work waits for them (Linux
    /// pressure stall information; see [`crate::cpu_pressure`]). Where the kernel does
    /// not say, the machine counts as free.
    #[default]
    Auto,
    /// Always spin (a machine given to this service alone).
    Always,
    /// Never spin (a machine shared with other busy work).
    Never,
}

impl std::str::FromStr for Spinning {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value.to_ascii_lowercase().as_str() {
            "auto" => Ok(Self::Auto),
            "always" | "on" | "true" => Ok(Self::Always),
            "never" | "off" | "false" => Ok(Self::Never),
            other => Err(format!(
                "unknown spinning policy {other:?} (expected auto, always or never)"
            )),
        }
    }
}

impl Spinning {
    /// Whether a run starting now should use spinning threads.
    pub fn spin_now(self) -> bool {
        match self {
            Self::Auto => !crate::cpu_pressure::contended(),
            Self::Always => true,
            Self::Never => false,
        }
    }
}

/// How to load ONNX Runtime and build sessions.
#[derive(Debug, Clone)]
pub struct RuntimeSettings {
    /// Path of `libonnxruntime.so`.
    pub library: PathBuf,
    /// Execution provider for every session.
    pub provider: ExecutionProvider,
    /// Intra-op threads per session (0 = ONNX Runtime's default: one per core).
    pub intra_threads: usize,
    /// Whether graphs run once per request spin (see [`Spinning`]).
    pub spinning: Spinning,
}

/// A loaded ONNX Runtime; cheap to clone (the environment is shared).
#[derive(Debug, Clone)]
pub struct OnnxRuntime {
    environment: Environment,
    settings: RuntimeSettings,
}

/// The library can be bound once per process; later loads must name the same file.
static LOADED: OnceLock<Mutex<Option<(PathBuf, Environment)>>> = OnceLock::new();

impl OnnxRuntime {
    /// Loads the shared library (once per process) and creates the environment.
    pub fn load(settings: RuntimeSettings) -> Result<Arc<Self>, ModelError> {
        let unavailable = |message: String| ModelError::RuntimeUnavailable {
            path: settings.library.clone(),
            message,
        };
        let slot = LOADED.get_or_init(|| Mutex::new(None));
        let mut loaded = slot
            .lock()
            .map_err(|_| unavailable("runtime loader poisoned".into()))?;
        let environment = match loaded.as_ref() {
            Some((path, environment)) => {
                if path != &settings.library {
                    return Err(unavailable(format!(
                        "ONNX Runtime is already loaded from {} in this process",
                        path.display()
                    )));
                }
                environment.clone()
            }
            None => {
                if !settings.library.is_file() {
                    return Err(unavailable(
                        "no such file (run ./scripts/serve.sh once to fetch it, or set ORT_DYLIB_PATH)"
                            .into(),
                    ));
                }
                let environment = ort::init_from(&settings.library)
                    .map_err(|e| unavailable(e.to_string()))?
                    .with_name("speech-api")
                    .build()
                    .map_err(|e| unavailable(e.to_string()))?;
                *loaded = Some((settings.library.clone(), environment.clone()));
                environment
            }
        };
        Ok(Arc::new(Self {
            environment,
            settings,
        }))
    }

    /// The settings this runtime was loaded with.
    pub fn settings(&self) -> &RuntimeSettings {
        &self.settings
    }

    /// Builds a session for the graph at `path` (loaded from the path, so external
    /// weights beside it are found).
    pub fn session(&self, path: &Path) -> Result<Session, ModelError> {
        self.session_with_threads(path, self.settings.intra_threads)
    }

    /// Like [`Self::session`] with an explicit intra-op thread count (0 = default).
    pub fn session_with_threads(&self, path: &Path, threads: usize) -> Result<Session, ModelError> {
        self.build_session(path, threads, true)
    }

    /// Like [`Self::session_with_threads`], for a graph run once per request (Piper), with
    /// its intra-op threads spinning between operators or sleeping (see [`Spinning`]).
    pub fn request_session(
        &self,
        path: &Path,
        threads: usize,
        spinning: bool,
    ) -> Result<Session, ModelError> {
        self.build_session(path, threads, spinning)
    }

    /// Like [`Self::request_session`], for a graph held in memory (`path` names it in
    /// errors): a model rewritten at load, such as a Piper voice with its phoneme
    /// durations exposed. The bytes are copied by ONNX Runtime and may be dropped after.
    pub fn request_session_from_memory(
        &self,
        path: &Path,
        model: &[u8],
        threads: usize,
        spinning: bool,
    ) -> Result<Session, ModelError> {
        let bad = |e: ort::Error| ModelError::bad_model(path, e.to_string());
        self.builder(path, threads, spinning)?
            .commit_from_memory(model)
            .map_err(bad)
    }

    fn build_session(
        &self,
        path: &Path,
        threads: usize,
        spinning: bool,
    ) -> Result<Session, ModelError> {
        if !path.is_file() {
            return Err(ModelError::MissingFile(path.to_path_buf()));
        }
        let bad = |e: ort::Error| ModelError::bad_model(path, e.to_string());
        self.builder(path, threads, spinning)?
            .commit_from_file(path)
            .map_err(bad)
    }

    /// A session builder with this runtime's settings (`path` names the model in errors).
    fn builder(
        &self,
        path: &Path,
        threads: usize,
        spinning: bool,
    ) -> Result<ort::session::builder::SessionBuilder, ModelError> {
        let bad = |e: ort::Error| ModelError::bad_model(path, e.to_string());
        let mut builder = Session::builder(&self.environment).map_err(bad)?;
        builder = builder
            .with_optimization_level(GraphOptimizationLevel::Level3)
            .map_err(|e| bad(e.into()))?;
        builder = builder
            .with_intra_op_spinning(spinning)
            .map_err(|e| bad(e.into()))?;
        if threads > 0 {
            builder = builder
                .with_intra_threads(threads)
                .map_err(|e| bad(e.into()))?;
        }
        if self.settings.provider == ExecutionProvider::Cuda {
            builder = builder
                .with_execution_providers([ort::ep::CUDA::default().build()])
                .map_err(|e| bad(e.into()))?;
        }
        Ok(builder)
    }
}
