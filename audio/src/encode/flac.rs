//! FLAC (16-bit) with flacenc, plus the STREAMINFO fix symphonia needs to read it back:
//! one-shot ([`encode`]) and frame by frame ([`FlacWriter`]), byte for byte the same file.

use flacenc::bitsink::ByteSink;
use flacenc::component::{BitRepr, Stream};
use flacenc::config;
use flacenc::error::{Verified, Verify};
use flacenc::source::{Context, Fill, FrameBuf};

use super::stream::{ByteOut, put};
use super::to_i16;
use crate::{AudioError, Pcm};

/// Byte offsets inside a native FLAC file: "fLaC" (4) + metadata block header (4), then
/// STREAMINFO starts with min block size (u16 BE) and max block size (u16 BE).
const MIN_BLOCK_SIZE: std::ops::Range<usize> = 8..10;
const MAX_BLOCK_SIZE: std::ops::Range<usize> = 10..12;

fn err(e: impl std::fmt::Debug) -> AudioError {
    AudioError::encode("flac", format!("{e:?}"))
}

fn verified_config() -> Result<Verified<config::Encoder>, AudioError> {
    config::Encoder::default()
        .into_verified()
        .map_err(|(_, e)| err(e))
}

pub(super) fn encode(pcm: &Pcm) -> Result<Vec<u8>, AudioError> {
    let config = verified_config()?;
    let samples: Vec<i32> = pcm.samples.iter().map(|&s| i32::from(to_i16(s))).collect();
    let source = flacenc::source::MemSource::from_samples(
        &samples,
        usize::from(pcm.channels),
        16,
        pcm.sample_rate as usize,
    );
    let stream =
        flacenc::encode_with_fixed_block_size(&config, source, config.block_size).map_err(err)?;
    let mut sink = ByteSink::new();
    stream.write(&mut sink).map_err(err)?;
    let mut bytes = sink.into_inner();
    fix_min_block_size(&mut bytes);
    Ok(bytes)
}

/// flacenc records the short final block as STREAMINFO's minimum block size; the spec
/// excludes the last block from that field, and symphonia 0.6.1 refuses such files.
/// With a fixed block size, min = max is the truth.
fn fix_min_block_size(bytes: &mut [u8]) {
    if bytes.len() >= MAX_BLOCK_SIZE.end && bytes.starts_with(b"fLaC") {
        let max = [bytes[MAX_BLOCK_SIZE.start], bytes[MAX_BLOCK_SIZE.start + 1]];
        bytes[MIN_BLOCK_SIZE].copy_from_slice(&max);
    }
}

/// FLAC encoded a frame at a time: the steps of `flacenc::encode_with_fixed_block_size`
/// (same configuration, frame buffer, MD5 context and STREAMINFO updates, in the same
/// order), except that each frame's bytes leave as soon as it is encoded instead of the
/// whole stream being kept, and only whole blocks wait here.
///
/// A FLAC file starts with STREAMINFO, whose sizes, sample count and MD5 are known only
/// at the end: [`FlacWriter::header`] gives a placeholder of the final length to write
/// first, and [`FlacWriter::finish`] the real header to write over it. The frames in
/// between, header included, are byte for byte what [`encode`] writes.
pub(super) struct FlacWriter {
    config: Verified<config::Encoder>,
    /// STREAMINFO as frames are added (the stream itself never holds a frame).
    stream: Stream,
    framebuf: FrameBuf,
    context: Context,
    /// Interleaved samples per block.
    block: usize,
    /// Samples of the block being filled (less than `block` between calls).
    pending: Vec<i32>,
    sink: ByteSink,
}

impl FlacWriter {
    /// A writer for `channels` (1..=8) channels at `sample_rate` Hz.
    pub(super) fn new(sample_rate: u32, channels: u16) -> Result<Self, AudioError> {
        let config = verified_config()?;
        let block_size = config.block_size;
        let channels = usize::from(channels);
        let mut stream = Stream::new(sample_rate as usize, channels, 16).map_err(err)?;
        // As `encode_with_fixed_block_size` does before its first frame.
        stream
            .stream_info_mut()
            .set_block_sizes(block_size, block_size)
            .map_err(err)?;
        Ok(Self {
            framebuf: FrameBuf::with_size(channels, block_size).map_err(err)?,
            context: Context::new(16, channels),
            block: block_size * channels,
            pending: Vec::with_capacity(block_size * channels),
            config,
            stream,
            sink: ByteSink::new(),
        })
    }

    /// The file's first bytes as known now ("fLaC" and STREAMINFO): a placeholder for
    /// the header [`FlacWriter::finish`] returns, of the same length.
    pub(super) fn header(&self) -> Result<Vec<u8>, AudioError> {
        self.header_bytes()
    }

    /// Takes the next interleaved samples (whole frames or not) and appends every block
    /// they complete, encoded, to `out`.
    pub(super) fn push(
        &mut self,
        samples: &[f32],
        out: &mut dyn ByteOut,
    ) -> Result<(), AudioError> {
        let mut rest = samples;
        while !rest.is_empty() {
            let take = (self.block - self.pending.len()).min(rest.len());
            self.pending
                .extend(rest[..take].iter().map(|&s| i32::from(to_i16(s))));
            rest = &rest[take..];
            if self.pending.len() == self.block {
                self.encode_pending(out)?;
            }
        }
        Ok(())
    }

    /// Encodes the last, short block onto `out` and returns the final header, to be
    /// written over the placeholder.
    pub(super) fn finish(mut self, out: &mut dyn ByteOut) -> Result<Vec<u8>, AudioError> {
        if !self.pending.is_empty() {
            self.encode_pending(out)?;
        }
        let md5 = self.context.md5_digest();
        let total = self.context.total_samples();
        let info = self.stream.stream_info_mut();
        info.set_md5_digest(&md5);
        info.set_total_samples(total);
        let mut header = self.header_bytes()?;
        fix_min_block_size(&mut header);
        Ok(header)
    }

    fn header_bytes(&self) -> Result<Vec<u8>, AudioError> {
        let mut sink = ByteSink::new();
        self.stream.write(&mut sink).map_err(err)?;
        Ok(sink.into_inner())
    }

    /// Encodes `pending` (a whole block, or the short last one) as the next frame.
    fn encode_pending(&mut self, out: &mut dyn ByteOut) -> Result<(), AudioError> {
        (&mut self.framebuf, &mut self.context)
            .fill_interleaved(&self.pending)
            .map_err(err)?;
        self.pending.clear();
        let number = self
            .context
            .current_frame_number()
            .ok_or_else(|| err("no frame was filled"))?;
        let frame = flacenc::encode_fixed_size_frame(
            &self.config,
            &self.framebuf,
            number,
            self.stream.stream_info(),
        )
        .map_err(err)?;
        self.stream.stream_info_mut().update_frame_info(&frame);
        self.sink.clear();
        frame.write(&mut self.sink).map_err(err)?;
        put(out, self.sink.as_slice())
    }
}
