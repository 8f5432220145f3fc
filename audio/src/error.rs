//! The audio error type: every way untrusted audio or a DSP request can be refused.

/// Why audio could not be decoded or processed.
#[derive(Debug, thiserror::Error)]
pub enum AudioError {
    /// The input has no bytes at all.
    #[error("the audio file is empty")]
    Empty,

    /// The bytes are not a container we recognise (not audio, or a format we do not accept).
    #[error("not a recognised audio file (accepted: wav, mp3, flac, ogg, m4a, aac)")]
    Unrecognised,

    /// A recognised container uses a codec or feature we do not decode.
    #[error("unsupported audio: {0}")]
    Unsupported(String),

    /// The container holds no audio track.
    #[error("the file contains no audio track")]
    NoAudioTrack,

    /// The stream is malformed or truncated beyond recovery.
    #[error("corrupt or truncated audio: {0}")]
    Corrupt(String),

    /// The audio is longer than the configured cap.
    #[error("audio is longer than the {limit_seconds:.0} s limit")]
    TooLong {
        /// The cap in seconds.
        limit_seconds: f64,
    },

    /// The stream claims more channels than we accept.
    #[error("audio has {0} channels; at most 8 are accepted")]
    TooManyChannels(usize),

    /// The decoder panicked on this input (a decoder bug, contained).
    #[error("the audio decoder failed on this file")]
    DecoderPanic,
}
