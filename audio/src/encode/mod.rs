//! Export formats and encoders: WAV (16-bit and float), MP3, FLAC, Ogg Opus, AAC (ADTS) and
//! raw PCM.
//!
//! Callers parse the client's format strings with [`ExportFormat::from_str`] (so a bad or
//! refused format becomes a typed 422 before any work is done), produce one [`Pcm`], and
//! call [`encode`] once per requested format. Streams that produce audio block by block
//! (TTS sentence by sentence) use [`StreamEncoder`] instead, which emits bytes as it goes;
//! files whose audio is too long to hold as one PCM (a long concatenation) use
//! [`FileEncoder`], which encodes blocks as they come into the one-shot encoder's file.
//!
//! Format names (case-insensitive):
//!
//! | name | what | extension | Content-Type |
//! |---|---|---|---|
//! | `wav` | RIFF WAVE, 16-bit signed PCM | `wav` | `audio/wav` |
//! | `wav32` (alias `wav_float`) | RIFF WAVE, 32-bit IEEE float | `wav` | `audio/wav` |
//! | `mp3` | MPEG audio layer III, CBR, 320 kbps unless chosen otherwise | `mp3` | `audio/mpeg` |
//! | `flac` | native FLAC, 16-bit | `flac` | `audio/flac` |
//! | `opus` | Opus in Ogg (RFC 7845), 48 kbps VBR | `opus` | `audio/ogg; codecs=opus` |
//! | `aac` | AAC-LC in ADTS frames, 64 kbps, by the `ffmpeg` program ([`aac`]) | `aac` | `audio/aac` |
//! | `pcm` | headerless signed 16-bit little-endian, interleaved, at the PCM's own rate | `pcm` | `audio/pcm` |
//!
//! `m4a` (AAC in MP4) is refused: an MP4 needs its index written after the audio, so it
//! cannot be streamed; see `docs/decisions/audio-codecs.md`.

pub mod aac;
mod file;
mod flac;
mod mp3;
mod opus;
pub mod stream;
mod wav;

pub use file::FileEncoder;
pub use stream::StreamEncoder;

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use crate::{AudioError, Pcm};

/// The names [`ExportFormat::from_str`] accepts, for error messages and docs.
pub const SUPPORTED_FORMATS: &str = "wav, wav32, mp3, flac, opus, aac, pcm";

/// MP3 bitrate used when the client does not choose one (the original's TTS export).
pub const DEFAULT_MP3_KBPS: u16 = 320;
/// Opus bitrate used when the client does not choose one: transparent for speech.
pub const DEFAULT_OPUS_KBPS: u16 = 48;
/// AAC bitrate used when the client does not choose one: clean speech at 24 kHz mono.
pub const DEFAULT_AAC_KBPS: u16 = 64;

/// An audio format we can write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ExportFormat {
    /// WAV, 16-bit signed integer PCM (`"wav"`).
    Wav,
    /// WAV, 32-bit IEEE float (`"wav32"`): lossless for our f32 pipeline.
    WavFloat,
    /// MP3, constant bitrate (`"mp3"`).
    Mp3 {
        /// Requested bitrate; see [`ExportFormat::mp3`] for the legal values and clamping.
        bitrate_kbps: u16,
    },
    /// FLAC, 16-bit (`"flac"`).
    Flac,
    /// Opus in an Ogg container (`"opus"`).
    Opus {
        /// Target bitrate in kbit/s (6..=510).
        bitrate_kbps: u16,
    },
    /// AAC-LC in ADTS frames (`"aac"`), encoded by the `ffmpeg` program ([`aac`]).
    Aac {
        /// Target bitrate in kbit/s (8..=320; ffmpeg caps what the rate can carry).
        bitrate_kbps: u16,
    },
    /// Raw signed 16-bit little-endian PCM, no header (`"pcm"`).
    Pcm,
}

impl ExportFormat {
    /// MP3 at a chosen bitrate. Legal values: 8, 16, 24, 32, 40, 48, 64, 80, 96, 112, 128,
    /// 160, 192, 224, 256, 320. At sample rates below 32 kHz (MPEG-2, e.g. 24 kHz TTS) the
    /// format tops out at 160 kbps, so higher requests are clamped to 160 there, exactly as
    /// LAME (and therefore the original's pydub/ffmpeg export) does.
    pub fn mp3(bitrate_kbps: u16) -> Result<Self, AudioError> {
        if mp3::MP3_BITRATES.contains(&bitrate_kbps) {
            Ok(Self::Mp3 { bitrate_kbps })
        } else {
            Err(AudioError::param(
                "mp3 bitrate",
                format!("{bitrate_kbps} kbps is not one of {:?}", mp3::MP3_BITRATES),
            ))
        }
    }

    /// Opus at a chosen bitrate (6..=510 kbit/s, libopus's range).
    pub fn opus(bitrate_kbps: u16) -> Result<Self, AudioError> {
        if (6..=510).contains(&bitrate_kbps) {
            Ok(Self::Opus { bitrate_kbps })
        } else {
            Err(AudioError::param(
                "opus bitrate",
                format!("{bitrate_kbps} kbps is outside 6..=510"),
            ))
        }
    }

    /// AAC at a chosen bitrate (8..=320 kbit/s).
    pub fn aac(bitrate_kbps: u16) -> Result<Self, AudioError> {
        if aac::AAC_KBPS.contains(&bitrate_kbps) {
            Ok(Self::Aac { bitrate_kbps })
        } else {
            Err(AudioError::param(
                "aac bitrate",
                format!("{bitrate_kbps} kbps is outside 8..=320"),
            ))
        }
    }

    /// The canonical name, as accepted by [`ExportFormat::from_str`].
    pub fn name(self) -> &'static str {
        match self {
            Self::Wav => "wav",
            Self::WavFloat => "wav32",
            Self::Mp3 { .. } => "mp3",
            Self::Flac => "flac",
            Self::Opus { .. } => "opus",
            Self::Aac { .. } => "aac",
            Self::Pcm => "pcm",
        }
    }

    /// The file extension, without a dot.
    pub fn extension(self) -> &'static str {
        match self {
            Self::Wav | Self::WavFloat => "wav",
            Self::Mp3 { .. } => "mp3",
            Self::Flac => "flac",
            Self::Opus { .. } => "opus",
            Self::Aac { .. } => "aac",
            Self::Pcm => "pcm",
        }
    }

    /// The Content-Type to serve it with.
    ///
    /// Opus is served as `audio/ogg; codecs=opus`: the file is an Ogg container, which is
    /// what RFC 7845 registers for it (and what browsers sniff), and the `codecs`
    /// parameter tells players which codec is inside. `audio/opus` (RFC 7587) names the
    /// bare RTP payload, not a file. The handler's stored-file mapping uses the same value.
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Wav | Self::WavFloat => "audio/wav",
            Self::Mp3 { .. } => "audio/mpeg",
            Self::Flac => "audio/flac",
            Self::Opus { .. } => "audio/ogg; codecs=opus",
            Self::Aac { .. } => "audio/aac",
            Self::Pcm => "audio/pcm",
        }
    }
}

impl fmt::Display for ExportFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for ExportFormat {
    type Err = AudioError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let name = s.trim().to_ascii_lowercase();
        Ok(match name.as_str() {
            "wav" | "wave" => Self::Wav,
            "wav32" | "wav_float" => Self::WavFloat,
            "mp3" => Self::Mp3 {
                bitrate_kbps: DEFAULT_MP3_KBPS,
            },
            "flac" => Self::Flac,
            "opus" => Self::Opus {
                bitrate_kbps: DEFAULT_OPUS_KBPS,
            },
            "pcm" => Self::Pcm,
            "aac" => Self::Aac {
                bitrate_kbps: DEFAULT_AAC_KBPS,
            },
            "m4a" => {
                return Err(AudioError::UnsupportedFormat {
                    requested: s.to_owned(),
                    reason: "AAC in an MP4 container is not offered (its index follows the audio, so it cannot \
                             be streamed); use aac for AAC in ADTS frames"
                        .into(),
                    supported: SUPPORTED_FORMATS,
                });
            }
            _ => {
                return Err(AudioError::UnsupportedFormat {
                    requested: s.to_owned(),
                    reason: "unknown format".into(),
                    supported: SUPPORTED_FORMATS,
                });
            }
        })
    }
}

/// One encoded file.
#[derive(Debug, Clone, PartialEq)]
pub struct EncodedAudio {
    /// The format written.
    pub format: ExportFormat,
    /// The file's bytes.
    pub bytes: Vec<u8>,
    /// The rate actually written (mp3, opus and aac may resample to a rate the codec allows).
    pub sample_rate: u32,
    /// The channel count actually written (mp3, opus and aac take at most two).
    pub channels: u16,
}

impl EncodedAudio {
    /// The Content-Type to serve the bytes with.
    pub fn content_type(&self) -> &'static str {
        self.format.content_type()
    }

    /// The file extension, without a dot.
    pub fn extension(&self) -> &'static str {
        self.format.extension()
    }
}

/// The external programs the encoders run (only AAC runs one: ffmpeg), passed with every
/// encode rather than set for the whole process, so two services or tests in one process
/// can each use their own. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Encoders {
    ffmpeg: std::sync::Arc<std::path::Path>,
}

impl Default for Encoders {
    /// `ffmpeg` looked up on `PATH`.
    fn default() -> Self {
        Self::with_ffmpeg("ffmpeg")
    }
}

impl Encoders {
    /// Encoders running `ffmpeg` (a path, or a name looked up on `PATH`) for AAC.
    pub fn with_ffmpeg(ffmpeg: impl AsRef<std::path::Path>) -> Self {
        Self {
            ffmpeg: std::sync::Arc::from(ffmpeg.as_ref()),
        }
    }

    /// The ffmpeg program AAC runs.
    pub fn ffmpeg(&self) -> &std::path::Path {
        &self.ffmpeg
    }

    /// Encodes `pcm` as `format` (see [`encode`]).
    pub fn encode(&self, pcm: &Pcm, format: ExportFormat) -> Result<EncodedAudio, AudioError> {
        encode_with(pcm, format, self)
    }

    /// Starts a mono stream (see [`StreamEncoder::new`]).
    pub fn stream(
        &self,
        format: ExportFormat,
        sample_rate: u32,
    ) -> Result<(StreamEncoder, Vec<u8>), AudioError> {
        StreamEncoder::build(format, sample_rate, 1, false, self)
    }

    /// Starts a file (see [`FileEncoder::new`]).
    pub fn file(
        &self,
        format: ExportFormat,
        sample_rate: u32,
        channels: u16,
        lease: std::sync::Arc<crate::memory::Lease>,
    ) -> Result<FileEncoder, AudioError> {
        FileEncoder::build(format, sample_rate, channels, lease, self)
    }
}

/// Encodes `pcm` as `format`, running [`Encoders::default`]'s programs (see
/// [`Encoders::encode`] to choose them).
///
/// Integer formats clamp to `[-1, 1]` first (NaN becomes 0). Float WAV keeps values as
/// they are, except non-finite ones (0) and magnitudes beyond
/// ±[`crate::MAX_SAMPLE_MAGNITUDE`] (clamped, so the file decodes again). MP3, Opus and
/// AAC resample when the rate is not one the codec allows and mix more than two channels
/// down to mono. AAC runs the `ffmpeg` program; when it cannot, the error is
/// [`AudioError::EncoderUnavailable`].
pub fn encode(pcm: &Pcm, format: ExportFormat) -> Result<EncodedAudio, AudioError> {
    encode_with(pcm, format, &Encoders::default())
}

fn encode_with(
    pcm: &Pcm,
    format: ExportFormat,
    encoders: &Encoders,
) -> Result<EncodedAudio, AudioError> {
    pcm.validate()?;
    let (bytes, sample_rate, channels) = match format {
        ExportFormat::Wav => (wav::wav16(pcm)?, pcm.sample_rate, pcm.channels),
        ExportFormat::WavFloat => (wav::wav_float(pcm)?, pcm.sample_rate, pcm.channels),
        ExportFormat::Pcm => (wav::pcm_s16le(pcm), pcm.sample_rate, pcm.channels),
        ExportFormat::Flac => (flac::encode(pcm)?, pcm.sample_rate, pcm.channels),
        ExportFormat::Mp3 { bitrate_kbps } => mp3::encode(pcm, bitrate_kbps)?,
        ExportFormat::Opus { bitrate_kbps } => opus::encode(pcm, bitrate_kbps)?,
        ExportFormat::Aac { bitrate_kbps } => aac::encode(pcm, bitrate_kbps, encoders.ffmpeg())?,
    };
    Ok(EncodedAudio {
        format,
        bytes,
        sample_rate,
        channels,
    })
}

/// Clamps to `[-1, 1]` and converts to i16 (symmetric scale, NaN -> 0), rounding half
/// away from zero.
#[inline]
pub(crate) fn to_i16(x: f32) -> i16 {
    // `f32::round` is a libm call on baseline x86-64; adding ±0.5 and truncating with
    // `as` (which saturates and maps NaN to 0) is the same rounding in two instructions.
    let y = x.clamp(-1.0, 1.0) * 32767.0;
    (y + 0.5f32.copysign(y)) as i16
}

/// Clamps to `[-1, 1]` for float encoders that expect the nominal range (NaN -> 0).
pub(crate) fn clamp_unit(x: f32) -> f32 {
    if x.is_nan() { 0.0 } else { x.clamp(-1.0, 1.0) }
}

/// Codecs with a fixed rate menu: the smallest allowed rate at or above `rate` (so no
/// bandwidth is lost), or the highest allowed one.
pub(crate) fn codec_rate(rate: u32, allowed: &[u32]) -> u32 {
    allowed
        .iter()
        .copied()
        .find(|&r| r >= rate)
        .or_else(|| allowed.last().copied())
        .unwrap_or(rate)
}

/// Brings `pcm` to a rate in `allowed` and at most two channels (mono if more),
/// borrowing when it already fits (the common 24 kHz mono TTS case).
pub(crate) fn conform<'a>(pcm: &'a Pcm, allowed: &[u32]) -> Result<Cow<'a, Pcm>, AudioError> {
    let mut out = Cow::Borrowed(pcm);
    if !allowed.contains(&pcm.sample_rate) {
        out = Cow::Owned(crate::resample::resample(
            pcm,
            codec_rate(pcm.sample_rate, allowed),
        )?);
    }
    if out.channels > 2 {
        out = Cow::Owned(out.into_owned().into_channels(1));
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
