//! MP3 (CBR) with the bundled LAME, including the LAME/Info tag for gapless decoding.
//!
//! The mp3lame-encoder wrapper hands LAME `spare_capacity_mut()` as the output buffer;
//! with zero capacity LAME reads "unlimited" and writes through a dangling pointer.
//! Every call below therefore reserves the worst case first.

use mp3lame_encoder::{Bitrate, Builder, DualPcm, FlushGap, Mode, MonoPcm, Quality};

use super::{clamp_unit, codec_rate, conform};
use crate::{AudioError, Pcm};

/// Bitrates a client may ask for (the values LAME's wrapper exposes).
pub(super) const MP3_BITRATES: [u16; 16] = [
    8, 16, 24, 32, 40, 48, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320,
];

/// Sample rates MPEG-1/2/2.5 layer III can carry.
const MP3_RATES: [u32; 9] = [
    8_000, 11_025, 12_000, 16_000, 22_050, 24_000, 32_000, 44_100, 48_000,
];

/// Frames fed to LAME per call: bounds the scratch buffers whatever the clip length.
const CHUNK_FRAMES: usize = 1 << 16;

/// Room LAME may need on flush (one maximal frame plus reservoir), per its docs.
const FLUSH_RESERVE: usize = 7200;

/// The bitrate actually written at `rate`: MPEG-1 (32-48 kHz) allows 32..=320 kbps,
/// MPEG-2/2.5 (below 32 kHz) allows 8..=160 kbps. Requests outside are clamped.
pub(super) fn effective_kbps(requested: u16, rate: u32) -> u16 {
    if rate >= 32_000 {
        requested.max(32)
    } else {
        requested.min(160)
    }
}

fn lame_bitrate(kbps: u16) -> Bitrate {
    match kbps {
        0..=8 => Bitrate::Kbps8,
        9..=16 => Bitrate::Kbps16,
        17..=24 => Bitrate::Kbps24,
        25..=32 => Bitrate::Kbps32,
        33..=40 => Bitrate::Kbps40,
        41..=48 => Bitrate::Kbps48,
        49..=64 => Bitrate::Kbps64,
        65..=80 => Bitrate::Kbps80,
        81..=96 => Bitrate::Kbps96,
        97..=112 => Bitrate::Kbps112,
        113..=128 => Bitrate::Kbps128,
        129..=160 => Bitrate::Kbps160,
        161..=192 => Bitrate::Kbps192,
        193..=224 => Bitrate::Kbps224,
        225..=256 => Bitrate::Kbps256,
        _ => Bitrate::Kbps320,
    }
}

/// A configured LAME encoder for `rate` Hz (one of [`MP3_RATES`]), mono or joint stereo.
/// `info_tag` reserves the leading Info frame, which only a whole-file encode can fill in.
fn build(
    rate: u32,
    stereo: bool,
    bitrate_kbps: u16,
    info_tag: bool,
) -> Result<mp3lame_encoder::Encoder, AudioError> {
    let err = |e: mp3lame_encoder::BuildError| AudioError::encode("mp3", e);
    let mut builder = Builder::new()
        .ok_or_else(|| AudioError::encode("mp3", "LAME could not allocate an encoder"))?;
    builder
        .set_num_channels(if stereo { 2 } else { 1 })
        .map_err(err)?;
    builder.set_sample_rate(rate).map_err(err)?;
    builder
        .set_mode(if stereo {
            Mode::JointStereo
        } else {
            Mode::Mono
        })
        .map_err(err)?;
    builder
        .set_brate(lame_bitrate(effective_kbps(bitrate_kbps, rate)))
        .map_err(err)?;
    // -q 5 rather than LAME's default -q 3 (what ffmpeg and pydub use): on Piper speech at
    // the default 128 kbps it encodes 29% faster and decodes to the same signal (26.0 dB
    // SNR and 4.9 dB log-spectral distance to the source for both; docs/benchmarks.md).
    builder.set_quality(Quality::Good).map_err(err)?;
    // The Info tag carries encoder delay and padding, so decoders return the exact length.
    builder.set_to_write_vbr_tag(info_tag).map_err(err)?;
    builder.build().map_err(err)
}

fn encode_err(e: mp3lame_encoder::EncodeError) -> AudioError {
    AudioError::encode("mp3", e)
}

/// Feeds mono `samples` (clamped, in bounded chunks) to LAME and appends what it emits.
fn encode_mono(
    encoder: &mut mp3lame_encoder::Encoder,
    samples: &[f32],
    scratch: &mut Vec<f32>,
    out: &mut Vec<u8>,
) -> Result<(), AudioError> {
    for chunk in samples.chunks(CHUNK_FRAMES) {
        scratch.clear();
        scratch.extend(chunk.iter().map(|&s| clamp_unit(s)));
        out.reserve(mp3lame_encoder::max_required_buffer_size(scratch.len()));
        encoder
            .encode_to_vec(MonoPcm(scratch), out)
            .map_err(encode_err)?;
    }
    Ok(())
}

/// Feeds interleaved stereo `samples` (clamped, split into left and right in bounded
/// chunks) to LAME and appends what it emits.
fn encode_stereo(
    encoder: &mut mp3lame_encoder::Encoder,
    samples: &[f32],
    (left, right): (&mut Vec<f32>, &mut Vec<f32>),
    out: &mut Vec<u8>,
) -> Result<(), AudioError> {
    for chunk in samples.chunks(CHUNK_FRAMES * 2) {
        left.clear();
        right.clear();
        for frame in chunk.chunks_exact(2) {
            left.push(clamp_unit(frame[0]));
            right.push(clamp_unit(frame[1]));
        }
        out.reserve(mp3lame_encoder::max_required_buffer_size(left.len()));
        encoder
            .encode_to_vec(
                DualPcm {
                    left: left.as_slice(),
                    right: right.as_slice(),
                },
                out,
            )
            .map_err(encode_err)?;
    }
    Ok(())
}

/// Flushes LAME's last frames onto `out`.
fn flush(encoder: &mut mp3lame_encoder::Encoder, out: &mut Vec<u8>) -> Result<(), AudioError> {
    out.reserve(FLUSH_RESERVE);
    encoder.flush_to_vec::<FlushGap>(out).map_err(encode_err)?;
    Ok(())
}

pub(super) fn encode(pcm: &Pcm, bitrate_kbps: u16) -> Result<(Vec<u8>, u32, u16), AudioError> {
    let pcm = conform(pcm, &MP3_RATES)?;
    let stereo = pcm.channels == 2;
    let mut encoder = build(pcm.sample_rate, stereo, bitrate_kbps, true)?;

    let frames = pcm.frames();
    let mut out: Vec<u8> = Vec::with_capacity(frames / 4 + FLUSH_RESERVE);
    if stereo {
        let (mut left, mut right) = (
            Vec::with_capacity(CHUNK_FRAMES),
            Vec::with_capacity(CHUNK_FRAMES),
        );
        encode_stereo(
            &mut encoder,
            &pcm.samples,
            (&mut left, &mut right),
            &mut out,
        )?;
    } else {
        let mut mono = Vec::with_capacity(CHUNK_FRAMES.min(frames));
        encode_mono(&mut encoder, &pcm.samples, &mut mono, &mut out)?;
    }
    flush(&mut encoder, &mut out)?;
    write_info_tag(&encoder, &mut out);
    Ok((out, pcm.sample_rate, if stereo { 2 } else { 1 }))
}

/// Incremental mono or stereo MP3 for [`super::stream`]: frames leave as soon as LAME
/// emits them.
///
/// LAME writes a blank Info frame first and fills it in after the flush, which a stream
/// cannot wait for. The blank is filled here instead with what is known up front: an
/// `Info` tag without frame count, and a LAME extension carrying the encoder delay, so
/// decoders that honour it (symphonia, ffmpeg, browsers) drop the leading delay. The
/// final frame's padding stays unknown, so a stream decodes up to one frame (24 ms at
/// 24 kHz) longer than its input.
///
/// A file being written piece by piece ([`Mp3Stream::for_file`]) can do what the
/// one-shot encoder does instead: leave the blank and overwrite it with LAME's own tag
/// once the stream is flushed ([`Mp3Stream::finish_file`]).
pub(super) struct Mp3Stream {
    encoder: mp3lame_encoder::Encoder,
    stereo: bool,
    scratch: Vec<f32>,
    right: Vec<f32>,
    /// Whether output is still held back until the first frame is complete and, if it
    /// is LAME's blank Info frame, filled in (never for a file).
    holding: bool,
    held: Vec<u8>,
}

impl Mp3Stream {
    /// The stream's coded rate for an input at `rate` (the input is resampled to it
    /// when the two differ).
    pub(super) fn coded_rate(rate: u32) -> u32 {
        codec_rate(rate, &MP3_RATES)
    }

    /// A stream of `channels` (1 or 2) channels at `rate` Hz, which must be
    /// [`Mp3Stream::coded_rate`]'s answer.
    pub(super) fn new(rate: u32, channels: u16, bitrate_kbps: u16) -> Result<Self, AudioError> {
        let stereo = channels == 2;
        Ok(Self {
            encoder: build(rate, stereo, bitrate_kbps, true)?,
            stereo,
            holding: true,
            scratch: Vec::new(),
            right: Vec::new(),
            held: Vec::new(),
        })
    }

    /// The same, for a file: the first frame is left blank for [`Mp3Stream::finish_file`].
    pub(super) fn for_file(
        rate: u32,
        channels: u16,
        bitrate_kbps: u16,
    ) -> Result<Self, AudioError> {
        let mut stream = Self::new(rate, channels, bitrate_kbps)?;
        stream.holding = false;
        Ok(stream)
    }

    /// Encodes `samples` (at the coded rate, interleaved whole frames) and returns the
    /// frames LAME has completed.
    pub(super) fn push(&mut self, samples: &[f32]) -> Result<Vec<u8>, AudioError> {
        let mut out = Vec::new();
        if self.stereo {
            encode_stereo(
                &mut self.encoder,
                samples,
                (&mut self.scratch, &mut self.right),
                &mut out,
            )?;
        } else {
            encode_mono(&mut self.encoder, samples, &mut self.scratch, &mut out)?;
        }
        Ok(self.release(out))
    }

    /// Flushes the last frames and returns them with LAME's Info tag, which belongs over
    /// the file's first bytes when it fits (as the one-shot encoder writes it).
    pub(super) fn finish_file(mut self) -> Result<(Vec<u8>, Option<Vec<u8>>), AudioError> {
        let mut out = Vec::new();
        flush(&mut self.encoder, &mut out)?;
        Ok((out, info_tag(&self.encoder)))
    }

    /// Flushes the last (zero-padded) frames.
    pub(super) fn finish(mut self) -> Result<Vec<u8>, AudioError> {
        let mut out = Vec::new();
        flush(&mut self.encoder, &mut out)?;
        let mut out = self.release(out);
        // Whatever is still held (a stream too short to complete the blank frame) goes as is.
        out.append(&mut self.held);
        Ok(out)
    }

    /// Passes `out` through once the Info frame has been filled in.
    fn release(&mut self, out: Vec<u8>) -> Vec<u8> {
        if !self.holding {
            return out;
        }
        self.held.extend(out);
        // LAME's placeholder size is not readable before the first frame (its API answers
        // 0 until then), so take it from the frame header itself.
        let size = match frame_len(&self.held) {
            Some(size) if self.held.len() >= size => size,
            Some(_) => return Vec::new(),
            None if self.held.len() < 4 => return Vec::new(),
            None => 0,
        };
        if let Some(frame) = self.held.get_mut(..size) {
            fill_stream_info_frame(frame);
        }
        self.holding = false;
        std::mem::take(&mut self.held)
    }
}

/// LAME's encoder delay in samples (fixed for layer III; the LAME field stores it
/// without the decoder's own 529).
const LAME_ENCODER_DELAY: u32 = 576;

/// The byte length of the layer III frame whose header starts `data`.
fn frame_len(data: &[u8]) -> Option<usize> {
    const MPEG1_KBPS: [u32; 15] = [
        0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320,
    ];
    const MPEG2_KBPS: [u32; 15] = [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160];
    const MPEG1_RATES: [u32; 3] = [44_100, 48_000, 32_000];
    let h = data.get(..4)?;
    if h[0] != 0xFF || h[1] & 0xE0 != 0xE0 || (h[1] >> 1) & 0b11 != 0b01 {
        return None;
    }
    let version = (h[1] >> 3) & 0b11;
    let (kbps, rate_div, slots) = match version {
        0b11 => (&MPEG1_KBPS, 1, 144),
        0b10 => (&MPEG2_KBPS, 2, 72),
        0b00 => (&MPEG2_KBPS, 4, 72),
        _ => return None,
    };
    let kbps = *kbps.get(usize::from(h[2] >> 4))?;
    let rate = *MPEG1_RATES.get(usize::from((h[2] >> 2) & 0b11))? / rate_div;
    let padding = usize::from((h[2] >> 1) & 1);
    (kbps > 0).then(|| (slots * kbps * 1000 / rate) as usize + padding)
}

/// Fills LAME's blank Info frame with an `Info` tag (no fields) and a LAME extension that
/// records the encoder delay, padding unknown (0), tag CRC 0 ("not checked"). Leaves the
/// frame alone if it is not the expected blank.
fn fill_stream_info_frame(frame: &mut [u8]) {
    if frame.len() < 4 || frame[0] != 0xFF || frame[1] & 0xE0 != 0xE0 {
        return;
    }
    let mpeg1 = (frame[1] >> 3) & 0b11 == 0b11;
    let mono = frame[3] >> 6 == 0b11;
    let crc = if frame[1] & 1 == 0 { 2 } else { 0 };
    let side_info = match (mpeg1, mono) {
        (true, true) => 17,
        (true, false) => 32,
        (false, true) => 9,
        (false, false) => 17,
    };
    let start = 4 + crc + side_info;
    let mut tag = Vec::with_capacity(44);
    tag.extend_from_slice(b"Info");
    tag.extend_from_slice(&0u32.to_be_bytes()); // no frames/bytes/TOC/quality fields
    tag.extend_from_slice(b"LAME3.100");
    tag.push(0x01); // tag revision 0, CBR
    tag.push(0); // lowpass unknown
    tag.extend_from_slice(&[0; 8]); // no ReplayGain
    tag.push(0); // encoding flags, ATH type
    tag.push(0); // bitrate
    let delay_padding = LAME_ENCODER_DELAY << 12;
    tag.extend_from_slice(&delay_padding.to_be_bytes()[1..]);
    tag.extend_from_slice(&[0; 10]); // misc, gain, preset, music length, music CRC
    tag.extend_from_slice(&[0; 2]); // tag CRC 0: decoders skip the check
    // The blank is all zeros after its header; a real audio frame is left alone.
    if frame[4..].iter().any(|&b| b != 0) {
        return;
    }
    if let Some(dst) = frame.get_mut(start..start + tag.len()) {
        dst.copy_from_slice(&tag);
    }
}

/// LAME starts the stream with a placeholder frame and only knows the tag's contents
/// (frame count, delay, padding) after the flush; overwrite the placeholder with it.
fn write_info_tag(encoder: &mp3lame_encoder::Encoder, out: &mut [u8]) {
    if let Some(tag) = info_tag(encoder)
        && let Some(start) = out.get_mut(..tag.len())
    {
        start.copy_from_slice(&tag);
    }
}

/// LAME's Info tag once the stream is flushed, if it has one.
fn info_tag(encoder: &mp3lame_encoder::Encoder) -> Option<Vec<u8>> {
    let size = encoder.lame_tag_size();
    if size == 0 {
        return None;
    }
    let mut tag = Vec::with_capacity(size);
    let written = encoder.lame_tag_encode_to_vec(&mut tag)?;
    (written.get() == size).then_some(tag)
}
