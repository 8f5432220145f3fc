//! The audio error type: every way untrusted audio or a DSP request can be refused.
//!
//! Each variant's doc comment names the HTTP status the handler is expected to map it to;
//! the mapping itself lives in the handler (this crate knows nothing about HTTP).

/// Why audio could not be decoded, processed or encoded.
#[derive(Debug, thiserror::Error)]
pub enum AudioError {
    /// The input has no bytes at all. (400)
    #[error("the audio file is empty")]
    Empty,

    /// The bytes are not a container we recognise (not audio, or a format we do not accept). (415)
    #[error("not a recognised audio file (accepted: wav, mp3, flac, ogg, opus, m4a, aac)")]
    Unrecognised,

    /// A recognised container uses a codec or feature we do not decode. (415)
    #[error("unsupported audio: {0}")]
    Unsupported(String),

    /// The container holds no audio track. (400)
    #[error("the file contains no audio track")]
    NoAudioTrack,

    /// The stream is malformed or truncated beyond recovery. (400)
    #[error("corrupt or truncated audio: {0}")]
    Corrupt(String),

    /// The audio is longer than the configured cap. (413)
    #[error("audio is longer than the {limit_seconds:.0} s limit")]
    TooLong {
        /// The cap in seconds.
        limit_seconds: f64,
    },

    /// The stream claims more channels than we accept. (400)
    #[error("audio has {0} channels; at most 8 are accepted")]
    TooManyChannels(usize),

    /// The audio holds sample values no recording has: NaN, infinities, or magnitudes
    /// above [`crate::MAX_SAMPLE_MAGNITUDE`] (+60 dBFS). An invalid-audio upload. (415)
    #[error("invalid audio samples: {reason}")]
    InvalidSamples {
        /// What is wrong with the values, worded for the user.
        reason: String,
    },

    /// The decoder panicked on this input (a decoder bug, contained). (400)
    #[error("the audio decoder failed on this file")]
    DecoderPanic,

    /// An export format was asked for that we do not write. (422)
    ///
    /// `m4a` lands here on purpose: see `docs/decisions/audio-codecs.md`.
    #[error("unsupported export format '{requested}': {reason} (supported: {supported})")]
    UnsupportedFormat {
        /// The format string as the client sent it.
        requested: String,
        /// Why it is refused.
        reason: String,
        /// The formats we do write, comma-separated.
        supported: &'static str,
    },

    /// A processing parameter is outside its allowed range or inconsistent with another. (422)
    #[error("invalid {field}: {reason}")]
    InvalidParameter {
        /// The request field, spelled as in the API (`speed_factor`, `crossfade_ms`, ...).
        field: &'static str,
        /// What is wrong and what the allowed range is.
        reason: String,
    },

    /// A string looked like a silence token (`(...)`) but is not a valid one. (422)
    #[error("invalid silence token '{token}': {reason}")]
    InvalidSilenceToken {
        /// The offending item, verbatim.
        token: String,
        /// What is wrong with it.
        reason: String,
    },

    /// A PCM buffer handed to a DSP step is inconsistent (zero rate, ragged channels). (500: a caller bug)
    #[error("invalid PCM buffer: {0}")]
    InvalidPcm(String),

    /// Resampling failed inside rubato. (500)
    #[error("resampling failed: {0}")]
    Resample(String),

    /// The external program an export format needs (ffmpeg, for `aac`) cannot be started or
    /// failed; the reason says which program and how to install or point at it. (503)
    #[error("{format} encoding is unavailable: {reason}")]
    EncoderUnavailable {
        /// The export format asked for.
        format: &'static str,
        /// What went wrong and how to fix it.
        reason: String,
    },

    /// The process's memory budget for audio has not enough room free right now; the
    /// same request can succeed once others finish. (503 with `Retry-After`)
    #[error(
        "the server is holding too much audio in memory to take {requested_bytes} more bytes now ({available_bytes} free); retry shortly"
    )]
    MemoryBusy {
        /// What this step asked for.
        requested_bytes: u64,
        /// What the budget had free.
        available_bytes: u64,
    },

    /// The request needs more memory than the whole budget, so it can never run here.
    /// (413)
    #[error(
        "this request needs more than the {limit_bytes} bytes of audio memory the server allows (at least {needed_bytes}); send shorter audio or fewer files"
    )]
    MemoryTooLarge {
        /// What the request would hold at once.
        needed_bytes: u64,
        /// The whole budget.
        limit_bytes: u64,
    },

    /// An encoder failed. (500)
    #[error("encoding {format} failed: {reason}")]
    Encode {
        /// The export format being written.
        format: &'static str,
        /// The encoder's own message.
        reason: String,
    },
}

impl AudioError {
    /// Shorthand for [`AudioError::InvalidParameter`].
    pub(crate) fn param(field: &'static str, reason: impl Into<String>) -> Self {
        Self::InvalidParameter {
            field,
            reason: reason.into(),
        }
    }

    /// Shorthand for [`AudioError::Encode`].
    pub(crate) fn encode(format: &'static str, reason: impl ToString) -> Self {
        Self::Encode {
            format,
            reason: reason.to_string(),
        }
    }
}
