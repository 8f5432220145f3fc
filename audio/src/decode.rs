//! Decoding untrusted audio with symphonia: caps first, never a panic, never an unbounded allocation.
//!
//! Uploads are hostile until proven otherwise. Every entry point checks the
//! container's own claims (rate, channels, length) against [`DecodeLimits`] before
//! decoding, counts frames while decoding, refuses float samples no recording holds
//! (NaN, infinities, magnitudes above [`crate::MAX_SAMPLE_MAGNITUDE`]: see
//! [`AudioError::InvalidSamples`]), and turns any decoder panic into an [`AudioError`],
//! so one bad file costs one 4xx, not the process.
//!
//! Memory for the decoded samples is reserved on a [`Lease`] before it is allocated
//! ([`decode_within`]): a file that expands far beyond its size (an hour of compressed
//! silence) is refused by the process's memory budget while it decodes, not after.

use std::io::Cursor;

use bytes::Bytes;
use std::panic::{AssertUnwindSafe, catch_unwind};

use symphonia::core::audio::{Audio, GenericAudioBufferRef};
use symphonia::core::codecs::audio::AudioDecoderOptions;
use symphonia::core::errors::Error as SymphoniaError;
use symphonia::core::formats::probe::Hint;
use symphonia::core::formats::{FormatOptions, FormatReader, TrackType};
use symphonia::core::io::{MediaSourceStream, MediaSourceStreamOptions};
use symphonia::core::meta::MetadataOptions;

use crate::memory::{Lease, LeasedVec};
use crate::{AudioError, Pcm, values};

/// Highest sample rate accepted (above any real recording format).
pub const MAX_SAMPLE_RATE: u32 = 384_000;
/// Most channels accepted.
pub const MAX_CHANNELS: usize = 8;
/// Consecutive corrupt packets tolerated before a stream is declared broken.
const MAX_CONSECUTIVE_BAD_PACKETS: usize = 16;

/// Hard caps applied before and during decoding.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DecodeLimits {
    /// Longest audio accepted, in seconds.
    pub max_duration_seconds: f64,
    /// Most decoded samples (all channels) kept in memory; bounds `decode`'s allocation.
    pub max_decoded_samples: usize,
}

impl Default for DecodeLimits {
    /// One hour, and at most one hour of 48 kHz stereo in memory (~1.4 GB of f32 would be
    /// too much; 345.6 M samples is the ceiling, callers usually pass less).
    fn default() -> Self {
        Self {
            max_duration_seconds: 3600.0,
            max_decoded_samples: 48_000 * 2 * 3600,
        }
    }
}

/// The container formats the service accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ContainerFormat {
    /// RIFF WAVE.
    Wav,
    /// MPEG-1/2 Layer III.
    Mp3,
    /// Native FLAC.
    Flac,
    /// Ogg (Vorbis).
    Ogg,
    /// Ogg Opus (RFC 7845), decoded by our own path since symphonia has no Opus codec.
    Opus,
    /// MPEG-4 audio (AAC in an MP4/M4A container).
    M4a,
    /// Raw AAC in ADTS framing.
    Aac,
}

impl ContainerFormat {
    /// The usual file extension, without a dot.
    pub fn extension(self) -> &'static str {
        match self {
            Self::Wav => "wav",
            Self::Mp3 => "mp3",
            Self::Flac => "flac",
            Self::Ogg => "ogg",
            Self::Opus => "opus",
            Self::M4a => "m4a",
            Self::Aac => "aac",
        }
    }

    /// The format an upload's extension claims, if it is one we accept.
    pub fn from_extension(ext: &str) -> Option<Self> {
        Some(match ext.to_ascii_lowercase().as_str() {
            "wav" | "wave" => Self::Wav,
            "mp3" => Self::Mp3,
            "flac" => Self::Flac,
            "ogg" | "oga" => Self::Ogg,
            "opus" => Self::Opus,
            "m4a" | "mp4" => Self::M4a,
            "aac" => Self::Aac,
            _ => return None,
        })
    }

    /// Every accepted upload extension.
    pub const EXTENSIONS: [&'static str; 7] = ["wav", "mp3", "flac", "ogg", "m4a", "aac", "opus"];

    fn from_short_name(name: &str) -> Option<Self> {
        Some(match name {
            "wave" => Self::Wav,
            "mp3" => Self::Mp3,
            "flac" => Self::Flac,
            "ogg" => Self::Ogg,
            "isomp4" => Self::M4a,
            "aac" => Self::Aac,
            _ => return None,
        })
    }
}

/// Facts about an audio file, established by decoding it completely.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AudioInfo {
    /// The container the bytes really are (not what the file name claims).
    pub format: ContainerFormat,
    /// Sample rate in Hz.
    pub sample_rate: u32,
    /// Channel count.
    pub channels: u16,
    /// Decoded frames (samples per channel).
    pub frames: u64,
}

impl AudioInfo {
    /// Duration in seconds.
    pub fn duration_seconds(&self) -> f64 {
        if self.sample_rate == 0 {
            0.0
        } else {
            self.frames as f64 / f64::from(self.sample_rate)
        }
    }
}

/// Decodes `data` completely without keeping the samples: proves it is audio and measures it.
///
/// `extension` is a hint only; the bytes decide the format. `Bytes` is shared, not copied.
/// Refuses exactly what [`decode`] refuses, including out-of-range sample values, so an
/// upload it accepts will decode.
pub fn inspect(
    data: Bytes,
    extension: Option<&str>,
    limits: &DecodeLimits,
) -> Result<AudioInfo, AudioError> {
    let (info, _) = run_guarded(data, extension, limits, None)?;
    Ok(info)
}

/// Decodes `data` to interleaved f32 samples at the source rate and channel count.
///
/// Every sample returned is finite and within ±[`crate::MAX_SAMPLE_MAGNITUDE`]; a file
/// holding anything else is refused with [`AudioError::InvalidSamples`].
///
/// [`decode_within`] on a lease without a limit.
pub fn decode(
    data: Bytes,
    extension: Option<&str>,
    limits: &DecodeLimits,
) -> Result<(AudioInfo, Pcm), AudioError> {
    decode_within(data, extension, limits, &Lease::unlimited())
}

/// [`decode`], with the sample buffer's memory reserved on `lease` before each allocation.
///
/// The buffer grows in steps (what the container claims, at most one sample per input
/// byte, then 1.5x at a time, never past `limits.max_decoded_samples`), and each step is
/// reserved first, counting capacity at 4 bytes per sample. A step the budget refuses
/// ends decoding with [`AudioError::MemoryBusy`] (the budget is full now: retry later) or
/// [`AudioError::MemoryTooLarge`] (this lease could never hold it).
///
/// On success the lease holds `pcm.samples.capacity() * 4` bytes more than before, for
/// the returned samples: the caller releases them ([`Lease::release`]) once the samples
/// are dropped, or drops the lease. On any error what was decoded is freed and its
/// reservation returned, so the lease holds what it held before the call.
pub fn decode_within(
    data: Bytes,
    extension: Option<&str>,
    limits: &DecodeLimits,
    lease: &Lease,
) -> Result<(AudioInfo, Pcm), AudioError> {
    let (info, samples) = run_guarded(data, extension, limits, Some(lease))?;
    Ok((info, Pcm::new(info.sample_rate, info.channels, samples)))
}

/// Where decoded samples go: `None` only measures (`inspect`), `Some(lease)` keeps them
/// in a buffer reserved on the lease.
pub(crate) type Keep<'l> = Option<&'l Lease>;

/// A sample buffer being filled by a decoder.
pub(crate) type SampleBuffer<'l> = LeasedVec<f32, &'l Lease>;

fn run_guarded(
    data: Bytes,
    extension: Option<&str>,
    limits: &DecodeLimits,
    keep: Keep<'_>,
) -> Result<(AudioInfo, Vec<f32>), AudioError> {
    if data.is_empty() {
        return Err(AudioError::Empty);
    }
    // Symphonia promises not to panic on bad input, but a bug there (or in the ogg
    // reader) must cost one request, not the process; the closure owns no state that
    // outlives it.
    if crate::ogg_opus::looks_like_ogg_opus(&data) {
        return catch_unwind(AssertUnwindSafe(|| {
            crate::ogg_opus::decode(data, limits, keep)
        }))
        .unwrap_or(Err(AudioError::DecoderPanic));
    }
    let fast = catch_unwind(AssertUnwindSafe(|| {
        crate::wav_fast::try_decode(&data, limits, keep)
    }))
    .unwrap_or(Some(Err(AudioError::DecoderPanic)));
    if let Some(result) = fast {
        return result;
    }
    catch_unwind(AssertUnwindSafe(|| run(data, extension, limits, keep)))
        .unwrap_or(Err(AudioError::DecoderPanic))
}

/// The symphonia path (also the reference the WAV fast path is tested against).
pub(crate) fn run(
    data: Bytes,
    extension: Option<&str>,
    limits: &DecodeLimits,
    keep: Keep<'_>,
) -> Result<(AudioInfo, Vec<f32>), AudioError> {
    let mut format = open(data, extension)?;
    let format_kind = ContainerFormat::from_short_name(format.format_info().short_name)
        .ok_or_else(|| AudioError::Unsupported(format.format_info().long_name.to_owned()))?;
    let track = format
        .default_track(TrackType::Audio)
        .ok_or(AudioError::NoAudioTrack)?;
    let track_id = track.id;
    let params = track
        .codec_params
        .as_ref()
        .and_then(|p| p.audio())
        .cloned()
        .ok_or(AudioError::NoAudioTrack)?;

    let mut sample_rate = params.sample_rate.unwrap_or(0);
    let mut channels = params.channels.as_ref().map(|c| c.count()).unwrap_or(0);
    check_spec(sample_rate, channels)?;
    if let (Some(frames), true) = (track.num_frames, sample_rate > 0) {
        check_length(frames, sample_rate, channels.max(1), limits, keep.is_some())?;
    }

    let mut decoder = symphonia::default::get_codecs()
        .make_audio_decoder(&params, &AudioDecoderOptions::default())
        .map_err(|e| match e {
            SymphoniaError::Unsupported(what) => AudioError::Unsupported(what.to_owned()),
            other => AudioError::Corrupt(other.to_string()),
        })?;

    let mut frames: u64 = 0;
    let mut samples: Option<SampleBuffer<'_>> = keep.map(LeasedVec::new);
    if let (Some(samples), Some(claimed)) = (samples.as_mut(), track.num_frames) {
        // Reserve exactly what the container claims: already checked against the caps,
        // and reserved on the lease, so a lying header costs budget for the moment of the
        // decode (the surplus is given back below), not memory the budget does not know.
        // Compressed silence decodes ~500:1, so no ratio to the input size is safe.
        let claimed = claimed.saturating_mul(channels.max(1) as u64);
        samples.reserve_exact(usize::try_from(claimed).unwrap_or(usize::MAX))?;
    }
    let mut bad_packets = 0usize;
    loop {
        let packet = match format.next_packet() {
            Ok(Some(packet)) => packet,
            Ok(None) => break,
            // A truncated tail ends the stream; what decoded so far is the audio.
            Err(SymphoniaError::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                break;
            }
            Err(SymphoniaError::DecodeError(msg)) if frames > 0 => {
                bad_packets += 1;
                if bad_packets > MAX_CONSECUTIVE_BAD_PACKETS {
                    return Err(AudioError::Corrupt(msg.to_owned()));
                }
                continue;
            }
            Err(e) => return Err(classify(e)),
        };
        if packet.track_id != track_id {
            continue;
        }
        let buffer = match decoder.decode(&packet) {
            Ok(buffer) => buffer,
            Err(SymphoniaError::DecodeError(msg)) => {
                bad_packets += 1;
                if bad_packets > MAX_CONSECUTIVE_BAD_PACKETS {
                    return Err(AudioError::Corrupt(msg.to_owned()));
                }
                continue;
            }
            Err(e) => return Err(classify(e)),
        };
        bad_packets = 0;
        let spec = buffer.spec();
        if sample_rate == 0 || channels == 0 {
            sample_rate = spec.rate();
            channels = spec.channels().count();
            check_spec(sample_rate, channels)?;
        }
        if spec.rate() != sample_rate || spec.channels().count() != channels {
            return Err(AudioError::Unsupported(
                "a stream whose sample rate or channel layout changes".into(),
            ));
        }
        let buffer_frames = buffer.frames() as u64;
        frames += buffer_frames;
        check_length(frames, sample_rate, channels, limits, keep.is_some())?;
        check_values(&buffer)?;
        if let Some(samples) = samples.as_mut() {
            append_interleaved(&buffer, samples, limits.max_decoded_samples)?;
        }
    }
    if frames == 0 || sample_rate == 0 {
        return Err(AudioError::Corrupt("no audio could be decoded".into()));
    }
    let channels = u16::try_from(channels).map_err(|_| AudioError::TooManyChannels(channels))?;
    if let Some(samples) = samples.as_mut() {
        samples.shrink_to_fit();
    }
    Ok((
        AudioInfo {
            format: format_kind,
            sample_rate,
            channels,
            frames,
        },
        samples.map(LeasedVec::into_held).unwrap_or_default(),
    ))
}

fn open(data: Bytes, extension: Option<&str>) -> Result<Box<dyn FormatReader>, AudioError> {
    let source = MediaSourceStream::new(
        Box::new(Cursor::new(data)),
        MediaSourceStreamOptions::default(),
    );
    let mut hint = Hint::new();
    if let Some(ext) = extension {
        hint.with_extension(ext);
    }
    symphonia::default::get_probe()
        .probe(
            &hint,
            source,
            FormatOptions::default(),
            MetadataOptions::default(),
        )
        .map_err(|e| match e {
            SymphoniaError::Unsupported(_) => AudioError::Unrecognised,
            SymphoniaError::IoError(_) => AudioError::Unrecognised,
            other => classify(other),
        })
}

fn check_spec(sample_rate: u32, channels: usize) -> Result<(), AudioError> {
    if sample_rate > MAX_SAMPLE_RATE {
        return Err(AudioError::Unsupported(format!(
            "a sample rate of {sample_rate} Hz"
        )));
    }
    if channels > MAX_CHANNELS {
        return Err(AudioError::TooManyChannels(channels));
    }
    Ok(())
}

pub(crate) fn check_length(
    frames: u64,
    sample_rate: u32,
    channels: usize,
    limits: &DecodeLimits,
    keep: bool,
) -> Result<(), AudioError> {
    let seconds = frames as f64 / f64::from(sample_rate.max(1));
    if seconds > limits.max_duration_seconds {
        return Err(AudioError::TooLong {
            limit_seconds: limits.max_duration_seconds,
        });
    }
    let samples = frames.saturating_mul(channels as u64);
    if keep && samples > limits.max_decoded_samples as u64 {
        return Err(AudioError::TooLong {
            limit_seconds: limits.max_decoded_samples as f64
                / f64::from(sample_rate.max(1))
                / channels.max(1) as f64,
        });
    }
    Ok(())
}

fn append_interleaved(
    buffer: &GenericAudioBufferRef<'_>,
    out: &mut SampleBuffer<'_>,
    max_samples: usize,
) -> Result<(), AudioError> {
    let added = buffer.samples_interleaved();
    out.reserve(added, max_samples)?;
    // Convert straight into the output's tail: one pass instead of copy-then-extend.
    let out = out.vec_mut();
    let start = out.len();
    out.resize(start + added, 0.0);
    buffer.copy_to_slice_interleaved(&mut out[start..]);
    Ok(())
}

/// Refuses NaN, infinities and magnitudes above [`crate::MAX_SAMPLE_MAGNITUDE`] in float
/// codec output, on the decoder's own planes so that `inspect` (which keeps nothing)
/// refuses them too. Integer buffers cannot hold such values once scaled to [-1, 1].
fn check_values(buffer: &GenericAudioBufferRef<'_>) -> Result<(), AudioError> {
    match buffer {
        GenericAudioBufferRef::F32(buf) => buf.iter_planes().try_for_each(values::check),
        GenericAudioBufferRef::F64(buf) => buf.iter_planes().try_for_each(|plane| {
            let limit = f64::from(crate::MAX_SAMPLE_MAGNITUDE);
            if plane.iter().fold(true, |ok, x| ok & (x.abs() <= limit)) {
                Ok(())
            } else {
                Err(values::invalid_samples(
                    plane.iter().any(|x| !x.is_finite()),
                ))
            }
        }),
        _ => Ok(()),
    }
}

fn classify(e: SymphoniaError) -> AudioError {
    match e {
        SymphoniaError::Unsupported(what) => AudioError::Unsupported(what.to_owned()),
        SymphoniaError::LimitError(what) => AudioError::Corrupt(format!("limit reached: {what}")),
        other => AudioError::Corrupt(other.to_string()),
    }
}
