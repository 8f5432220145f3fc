//! Service settings: one clap definition serving command-line flags, environment
//! variables and Lambda (which starts with no argv).

mod access;
mod engines;
mod jobs;

use clap::{Args, Parser};
use storage::{S3Settings, StorageUrl};

pub use access::AccessArgs;
pub use engines::{EngineArgs, Precision};
pub use jobs::JobQueueArgs;

/// Settings shared by every way of running the handler.
#[derive(Debug, Clone, Args)]
pub struct Config {
    /// Where voices, VC inputs and outputs live: `file://<dir>` (embedded filesystem store),
    /// `s3://bucket/prefix` (S3, MinIO or any S3-compatible store) or `memory://` (lost on exit).
    #[arg(long = "storage", env = "SPEECH_STORAGE", default_value = "file://./data", value_parser = parse_storage_url)]
    pub storage: StorageUrl,

    /// S3 connection settings (used with `--storage s3://...`).
    #[command(flatten)]
    pub s3: S3Args,

    /// Deadlines of every call to the store.
    #[command(flatten)]
    pub store_deadlines: StoreDeadlines,

    /// Upload and decoding limits.
    #[command(flatten)]
    pub limits: Limits,

    /// Zero-byte cleanup and storage warnings.
    #[command(flatten)]
    pub maintenance: Maintenance,

    /// Speech engines: ONNX Runtime, the Piper voice, the Chatterbox bundle, concurrency.
    #[command(flatten)]
    pub engines: EngineArgs,

    /// API keys and the OpenAI endpoint's voice aliases.
    #[command(flatten)]
    pub access: AccessArgs,

    /// Where long-form jobs are queued (this process, or SQS).
    #[command(flatten)]
    pub job_queue: JobQueueArgs,

    /// Seconds after which a cached listing of voices, VC inputs or outputs is refreshed in
    /// the background (it is never used past twelve times this); this process's own writes
    /// are applied at once and other replicas' within `--replica-check-seconds`.
    /// Default: 5 for S3, 0 (no cache) for the filesystem store, whose listings are local.
    #[arg(long, env = "SPEECH_LISTING_CACHE_SECONDS")]
    pub listing_cache_seconds: Option<f64>,

    /// Longest a cached listing is used without checking the store's change markers, in
    /// seconds: other replicas' writes appear in listings, search and folder trees within
    /// this time (one small read per area and interval; writes addressed by key are seen
    /// at once regardless).
    #[arg(long, env = "SPEECH_REPLICA_CHECK_SECONDS", default_value_t = 1.0)]
    pub replica_check_seconds: f64,

    /// Web page origins allowed to call the API from a browser, comma-separated: exact
    /// origins (`https://app.example`), `loopback` (any `localhost`/`127.0.0.1`/`[::1]` page)
    /// or `*` (any page). Default: none, so other sites can neither read the library nor
    /// change it (pages served by this API itself are always allowed).
    #[arg(
        long,
        env = "SPEECH_CORS_ALLOW_ORIGINS",
        value_delimiter = ',',
        default_value = ""
    )]
    pub cors_allow_origins: Vec<String>,

    /// Longest time a request may take before it is answered with 408, in seconds.
    #[arg(long, env = "SPEECH_REQUEST_TIMEOUT_SECONDS", default_value_t = 600)]
    pub request_timeout_seconds: u64,
}

/// How to reach an S3-compatible store. Unset values fall back to the standard AWS
/// chain (`AWS_ACCESS_KEY_ID`, `AWS_PROFILE`, instance and task roles, `AWS_REGION`).
#[derive(Debug, Clone, Args)]
pub struct S3Args {
    /// Custom S3 endpoint, e.g. `http://127.0.0.1:9000` for MinIO.
    #[arg(long, env = "SPEECH_S3_ENDPOINT")]
    pub s3_endpoint: Option<String>,

    /// S3 region (default: the AWS chain's, then `us-east-1`).
    #[arg(long, env = "SPEECH_S3_REGION")]
    pub s3_region: Option<String>,

    /// Path-style addressing (`endpoint/bucket/key`); defaults to true when `--s3-endpoint` is set.
    #[arg(long, env = "SPEECH_S3_PATH_STYLE")]
    pub s3_path_style: Option<bool>,

    /// S3 access key id; with the secret, overrides the AWS credential chain.
    #[arg(long, env = "SPEECH_S3_ACCESS_KEY_ID", hide_env_values = true)]
    pub s3_access_key_id: Option<String>,

    /// S3 secret access key.
    #[arg(long, env = "SPEECH_S3_SECRET_ACCESS_KEY", hide_env_values = true)]
    pub s3_secret_access_key: Option<storage::Secret>,
}

impl S3Args {
    /// The storage crate's view of these settings.
    pub fn settings(&self) -> S3Settings {
        S3Settings {
            endpoint: self.s3_endpoint.clone(),
            region: self.s3_region.clone(),
            path_style: self.s3_path_style.unwrap_or(self.s3_endpoint.is_some()),
            access_key_id: self.s3_access_key_id.clone(),
            secret_access_key: self.s3_secret_access_key.clone(),
            timeouts: storage::StoreTimeouts::default(),
        }
    }
}

/// How long calls to the store may take before the request gets 503 `STORAGE_UNAVAILABLE`
/// (a stalled or unreachable store must cost seconds, not minutes).
#[derive(Debug, Clone, Args)]
pub struct StoreDeadlines {
    /// Longest one store call may take, retries included, in seconds (bodies get extra
    /// time at the minimum throughput below).
    #[arg(long, env = "SPEECH_STORAGE_TIMEOUT_SECONDS", default_value_t = 10.0)]
    pub storage_timeout_seconds: f64,

    /// Longest one attempt of a store call may take, in seconds (S3 retries within the
    /// call's deadline); also the longest a download may stall between chunks.
    #[arg(
        long,
        env = "SPEECH_STORAGE_ATTEMPT_TIMEOUT_SECONDS",
        default_value_t = 4.0
    )]
    pub storage_attempt_timeout_seconds: f64,

    /// Longest opening a connection to S3 may take, in seconds.
    #[arg(
        long,
        env = "SPEECH_STORAGE_CONNECT_TIMEOUT_SECONDS",
        default_value_t = 2.0
    )]
    pub storage_connect_timeout_seconds: f64,

    /// Slowest transfer still taken for a working link, in KiB/s: a body of n KiB adds
    /// n / this seconds to its deadlines (0 adds nothing).
    #[arg(
        long,
        env = "SPEECH_STORAGE_MIN_THROUGHPUT_KIB",
        default_value_t = 1024
    )]
    pub storage_min_throughput_kib: u64,
}

impl StoreDeadlines {
    /// The storage crate's view of these settings (non-positive values fall back to 1 s).
    pub fn timeouts(&self) -> storage::StoreTimeouts {
        let seconds = |s: f64| {
            std::time::Duration::try_from_secs_f64(s)
                .ok()
                .filter(|d| !d.is_zero())
                .unwrap_or(std::time::Duration::from_secs(1))
        };
        storage::StoreTimeouts {
            operation: seconds(self.storage_timeout_seconds),
            attempt: seconds(self.storage_attempt_timeout_seconds),
            connect: seconds(self.storage_connect_timeout_seconds),
            min_throughput_bytes_per_second: self.storage_min_throughput_kib.saturating_mul(1024),
        }
    }
}

/// Upload size and audio length limits.
#[derive(Debug, Clone, Args)]
pub struct Limits {
    /// Largest voice upload (`POST /api/v1/voice`), in MB; larger uploads get 413.
    #[arg(long, env = "SPEECH_MAX_VOICE_UPLOAD_MB", default_value_t = 100)]
    pub max_voice_upload_mb: u64,

    /// Largest VC input upload (`POST /api/v1/vc_input`), in MB; larger uploads get 413.
    #[arg(long, env = "SPEECH_MAX_VC_INPUT_UPLOAD_MB", default_value_t = 50)]
    pub max_vc_input_upload_mb: u64,

    /// Largest total of the files uploaded to one `POST /api/v1/concat/mixed`, in MB; more gets 413.
    #[arg(long, env = "SPEECH_MAX_CONCAT_UPLOAD_MB", default_value_t = 100)]
    pub max_concat_upload_mb: u64,

    /// Longest audio accepted from any upload, and longest concatenation result, in seconds; longer gets 413.
    #[arg(long, env = "SPEECH_MAX_AUDIO_SECONDS", default_value_t = 3600)]
    pub max_audio_seconds: u64,

    /// Largest restore archive (`POST /api/v1/restore`), in MB of file content; larger
    /// archives are refused with 413 as soon as their headers say so, with nothing written.
    #[arg(long, env = "SPEECH_MAX_RESTORE_MB", default_value_t = 20_480)]
    pub max_restore_mb: u64,

    /// Memory all requests together may hold in audio at once, in MB: uploaded files,
    /// decoded samples and encoded results. A request that does not fit now gets 503 with
    /// `Retry-After`; one that could never fit gets 413.
    #[arg(long, env = "SPEECH_MEMORY_BUDGET_MB", default_value_t = 2048)]
    pub memory_budget_mb: u64,
}

impl Limits {
    /// Bytes allowed for a voice upload.
    pub fn voice_upload_bytes(&self) -> usize {
        mb_to_bytes(self.max_voice_upload_mb)
    }

    /// Bytes allowed for a VC input upload.
    pub fn vc_input_upload_bytes(&self) -> usize {
        mb_to_bytes(self.max_vc_input_upload_mb)
    }

    /// Bytes allowed for all uploads of one mixed concatenation.
    pub fn concat_upload_bytes(&self) -> usize {
        mb_to_bytes(self.max_concat_upload_mb)
    }

    /// The audio memory budget in bytes.
    pub fn memory_budget_bytes(&self) -> u64 {
        self.memory_budget_mb.saturating_mul(1024 * 1024)
    }

    /// Decoding caps for uploaded audio.
    pub fn decode_limits(&self) -> audio::DecodeLimits {
        let seconds = self.max_audio_seconds as f64;
        audio::DecodeLimits {
            max_duration_seconds: seconds,
            // Stereo at 48 kHz for the whole allowed length.
            max_decoded_samples: (seconds * 48_000.0 * 2.0) as usize,
        }
    }
}

fn mb_to_bytes(mb: u64) -> usize {
    usize::try_from(mb.saturating_mul(1024 * 1024)).unwrap_or(usize::MAX)
}

/// Scheduled maintenance and storage warnings.
#[derive(Debug, Clone, Args)]
pub struct Maintenance {
    /// Run the zero-byte cleanup when the service starts.
    #[arg(long, env = "SPEECH_CLEANUP_ON_STARTUP", default_value_t = true, action = clap::ArgAction::Set)]
    pub cleanup_on_startup: bool,

    /// Hours between scheduled zero-byte cleanups; 0 disables the schedule.
    #[arg(long, env = "SPEECH_CLEANUP_INTERVAL_HOURS", default_value_t = 4.0)]
    pub cleanup_interval_hours: f64,

    /// Seconds after which the leftovers of an interrupted write (a write plan, a temporary
    /// file, an S3 multipart upload) are repaired by the cleanup: longer than any live
    /// write can take, so only the leftovers of crashed writers are touched.
    #[arg(
        long,
        env = "SPEECH_INCOMPLETE_WRITE_GRACE_SECONDS",
        default_value_t = 600
    )]
    pub incomplete_write_grace_seconds: u64,

    /// Size of outputs/ in MB above which `/resources` warns (at 80 %); 0 disables.
    /// Nothing is ever deleted to meet it.
    #[arg(long, env = "SPEECH_OUTPUTS_WARN_SIZE_MB", default_value_t = 5120)]
    pub outputs_warn_size_mb: u64,

    /// Size of vc_inputs/ in MB above which `/resources` warns (at 80 %); 0 disables.
    #[arg(long, env = "SPEECH_VC_INPUTS_WARN_SIZE_MB", default_value_t = 2048)]
    pub vc_inputs_warn_size_mb: u64,
}

impl Maintenance {
    /// How old an interrupted write's leftovers must be before cleanup repairs them.
    pub fn incomplete_write_grace(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.incomplete_write_grace_seconds)
    }
}

impl Config {
    /// How long listings are cached for the configured store (see `listing_cache_seconds`).
    pub fn listing_cache(&self) -> Option<std::time::Duration> {
        let seconds = self.listing_cache_seconds.unwrap_or(match self.storage {
            StorageUrl::S3 { .. } => 5.0,
            StorageUrl::File(_) | StorageUrl::Memory => 0.0,
        });
        (seconds > 0.0).then(|| std::time::Duration::from_secs_f64(seconds))
    }
}

fn parse_storage_url(value: &str) -> Result<StorageUrl, String> {
    value.parse().map_err(|e: storage::Error| e.to_string())
}

#[derive(Parser)]
struct Standalone {
    #[command(flatten)]
    config: Config,
}

impl Config {
    /// Settings from arguments alone (plus environment variables), as a binary would parse them.
    pub fn from_args<I, T>(args: I) -> Result<Self, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        Standalone::try_parse_from(args).map(|s| s.config)
    }

    /// The defaults (and any `SPEECH_*` environment variables) with a given store.
    pub fn with_storage(storage: StorageUrl) -> Result<Self, clap::Error> {
        let mut config = Self::from_args(["handler"])?;
        config.storage = storage;
        Ok(config)
    }
}
