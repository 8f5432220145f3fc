//! Encoding a file as its audio is produced: [`FileEncoder`] takes interleaved blocks of
//! any size and keeps only the encoded bytes, whose growth it reserves on a memory
//! [`Lease`] first, so a long timeline never has to exist as one PCM buffer.
//!
//! The result is the one-shot [`super::encode`]'s file, byte for byte, for `wav`,
//! `wav32`, `pcm` and `flac` (any channel count) and for `mp3` and `opus` at a rate the
//! codec takes (mono or stereo): headers are written with their final layout and
//! corrected at the end, MP3 gets LAME's own Info tag, and Ogg pages break where the
//! one-shot writer breaks them. When `mp3`, `opus` or `aac` must resample, the stream
//! resampler stands in for the one-shot one (the same length, samples equal within float
//! rounding); `aac` is ffmpeg's output either way (see [`super::aac`]).

use std::sync::Arc;

use super::stream::StreamEncoder;
use super::{EncodedAudio, ExportFormat};
use crate::AudioError;
use crate::memory::{Lease, LeasedVec};

/// One file being encoded from interleaved blocks, its bytes kept in memory on a lease.
///
/// The lease is shared (`Arc`) so that an encoder can move into a blocking task (e.g.
/// `tokio::task::spawn_blocking`) with the lease it reports to, next to other work on
/// the same lease (`&*lease` for [`crate::timeline::concat_streaming`]).
///
/// Memory: the encoded bytes grow 1.5x at a time, each growth reserved on the lease
/// before it happens; a refusal fails [`FileEncoder::push`] with
/// [`AudioError::MemoryBusy`] or [`AudioError::MemoryTooLarge`]. Dropping the encoder
/// unfinished returns everything it reserved. [`FileEncoder::finish`] hands the bytes
/// out with their reservation still held: the caller releases
/// `encoded.bytes.capacity()` bytes once it has stored them (or drops the lease).
pub struct FileEncoder {
    encoder: StreamEncoder,
    bytes: LeasedVec<u8, Arc<Lease>>,
}

impl std::fmt::Debug for FileEncoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileEncoder")
            .field("encoder", &self.encoder)
            .field("bytes", &self.bytes.as_slice().len())
            .finish()
    }
}

impl FileEncoder {
    /// Starts a file in `format` for `channels` interleaved channels (1..=8) at
    /// `sample_rate` Hz, reserving its bytes on `lease`.
    ///
    /// `aac` starts ffmpeg here, so a missing ffmpeg is [`AudioError::EncoderUnavailable`]
    /// before any audio is produced.
    /// AAC runs [`super::Encoders::default`]'s ffmpeg ([`super::Encoders::file`] chooses).
    pub fn new(
        format: ExportFormat,
        sample_rate: u32,
        channels: u16,
        lease: Arc<Lease>,
    ) -> Result<Self, AudioError> {
        Self::build(
            format,
            sample_rate,
            channels,
            lease,
            &super::Encoders::default(),
        )
    }

    pub(super) fn build(
        format: ExportFormat,
        sample_rate: u32,
        channels: u16,
        lease: Arc<Lease>,
        encoders: &super::Encoders,
    ) -> Result<Self, AudioError> {
        let (encoder, header) =
            StreamEncoder::build(format, sample_rate, channels, true, encoders)?;
        let mut bytes = LeasedVec::new(lease);
        bytes.reserve_exact(header.len())?;
        bytes.vec_mut().extend_from_slice(&header);
        Ok(Self { encoder, bytes })
    }

    /// Reserves room for about `frames` more frames of output at once, where the size is
    /// known from the format (wav, wav32, pcm: exact; others: nothing), so a long file is
    /// not grown step by step with up to half its size unused at the end.
    pub fn expect_frames(&mut self, frames: u64) -> Result<(), AudioError> {
        let bytes_per_sample: u64 = match self.encoder.format() {
            ExportFormat::Wav | ExportFormat::Pcm => 2,
            ExportFormat::WavFloat => 4,
            _ => return Ok(()),
        };
        let bytes = frames
            .saturating_mul(u64::from(self.encoder.channels()))
            .saturating_mul(bytes_per_sample);
        self.bytes
            .reserve_exact(usize::try_from(bytes).unwrap_or(usize::MAX))
    }

    /// Encodes the next interleaved samples (a frame may be split between calls).
    pub fn push(&mut self, interleaved: &[f32]) -> Result<(), AudioError> {
        self.encoder.push_into(interleaved, &mut self.bytes)
    }

    /// Ends the file and returns it: what [`super::encode`] returns for the same
    /// samples (see the module docs for where the bytes may differ). Fails with
    /// [`AudioError::InvalidPcm`] when the samples pushed are not whole frames.
    pub fn finish(mut self) -> Result<EncodedAudio, AudioError> {
        let format = self.encoder.format();
        let sample_rate = self.encoder.sample_rate();
        let channels = self.encoder.channels();
        let patch = self.encoder.finish_into(&mut self.bytes)?;
        self.bytes.shrink_to_fit();
        if let Some(patch) = patch
            && let Some(start) = self.bytes.vec_mut().get_mut(..patch.len())
        {
            start.copy_from_slice(&patch);
        }
        Ok(EncodedAudio {
            format,
            bytes: self.bytes.into_held(),
            sample_rate,
            channels,
        })
    }

    /// The format being written.
    pub fn format(&self) -> ExportFormat {
        self.encoder.format()
    }

    /// The rate written (see [`StreamEncoder::sample_rate`]).
    pub fn sample_rate(&self) -> u32 {
        self.encoder.sample_rate()
    }

    /// The channels written (see [`StreamEncoder::channels`]).
    pub fn channels(&self) -> u16 {
        self.encoder.channels()
    }

    /// Encoded bytes so far.
    pub fn len(&self) -> usize {
        self.bytes.as_slice().len()
    }

    /// Whether nothing has been written yet (not even a header).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
