//! Opus in Ogg (RFC 7845): libopus frames wrapped in hand-written OpusHead/OpusTags pages.
//!
//! Two rules make the length exact for every decoder (ffmpeg, libsndfile, ours): encode
//! `ceil((len + lookahead) / frame)` frames so the tail is not lost in the encoder's
//! delay line, and give packet `i` the granule `(i + 1) * 960` (48 kHz units, pre-skip
//! included) except the last, whose granule `pre_skip + len * 48000 / rate` tells
//! decoders where the real audio ends.

use std::io::{Cursor, Write};

use ogg::writing::{PacketWriteEndInfo, PacketWriter};

use super::{clamp_unit, codec_rate, conform};
use crate::{AudioError, Pcm};

/// Rates libopus encodes natively.
const OPUS_RATES: [u32; 5] = [8_000, 12_000, 16_000, 24_000, 48_000];
/// Ogg logical stream serial; any constant works for a single-stream file and keeps
/// output reproducible.
const SERIAL: u32 = 0x5350_4348;
/// 20 ms frames: the libopus default and the best quality/latency trade for speech.
const FRAMES_PER_SECOND: u32 = 50;
/// Granule positions count 48 kHz samples whatever the coded rate.
const GRANULE_RATE: u64 = 48_000;
/// Largest packet libopus produces (RFC 6716 §3.4 bound with room to spare).
const MAX_PACKET_BYTES: usize = 4000;
/// Encoder complexity (0-10, libopus default 10); see the comment where it is set.
const COMPLEXITY: i32 = 6;
/// Vendor string in OpusTags.
const VENDOR: &[u8] = b"speech-api audio";

/// A configured libopus encoder and its lookahead (coded-rate frames).
fn new_encoder(
    rate: u32,
    channels: usize,
    bitrate_kbps: u16,
) -> Result<(opus::Encoder, usize), AudioError> {
    let mode = if channels == 2 {
        opus::Channels::Stereo
    } else {
        opus::Channels::Mono
    };
    let mut encoder = opus::Encoder::new(rate, mode, opus::Application::Audio).map_err(err)?;
    encoder
        .set_bitrate(opus::Bitrate::Bits(i32::from(bitrate_kbps) * 1000))
        .map_err(err)?;
    // Complexity 7+ adds libopus's speech/music analysis, about 4x the encode time on
    // speech (tests/benches/codecs.rs; docs/benchmarks.md) for a mode decision that barely
    // matters at 48 kbps, where CELT is already near-transparent for speech.
    encoder.set_complexity(COMPLEXITY).map_err(err)?;
    let lookahead = usize::try_from(encoder.get_lookahead().map_err(err)?).unwrap_or(0);
    Ok((encoder, lookahead))
}

fn err(e: opus::Error) -> AudioError {
    AudioError::encode("opus", e)
}

fn io(e: std::io::Error) -> AudioError {
    AudioError::encode("opus", e)
}

/// Writes the OpusHead and OpusTags pages (each on its own page, as RFC 7845 requires).
fn write_headers<W: Write>(
    writer: &mut PacketWriter<'_, W>,
    channels: usize,
    pre_skip: u64,
    rate: u32,
) -> Result<(), AudioError> {
    writer
        .write_packet(
            opus_head(channels as u8, pre_skip as u16, rate),
            SERIAL,
            PacketWriteEndInfo::EndPage,
            0,
        )
        .map_err(io)?;
    writer
        .write_packet(opus_tags(), SERIAL, PacketWriteEndInfo::EndPage, 0)
        .map_err(io)
}

/// How many packets cover `len` frames: the encoder's delay line must be flushed too.
fn packet_count(len: usize, lookahead: usize, frame: usize) -> usize {
    (len + lookahead).div_ceil(frame).max(1)
}

pub(super) fn encode(pcm: &Pcm, bitrate_kbps: u16) -> Result<(Vec<u8>, u32, u16), AudioError> {
    let pcm = conform(pcm, &OPUS_RATES)?;
    let rate = pcm.sample_rate;
    let channels = usize::from(pcm.channels);
    let (mut encoder, lookahead) = new_encoder(rate, channels, bitrate_kbps)?;
    let per_48k = GRANULE_RATE / u64::from(rate);
    let pre_skip = lookahead as u64 * per_48k;

    let mut writer = PacketWriter::new(Cursor::new(Vec::new()));
    write_headers(&mut writer, channels, pre_skip, rate)?;

    let frame = (rate / FRAMES_PER_SECOND) as usize;
    let len = pcm.frames();
    let packets = packet_count(len, lookahead, frame);
    let end_granule = pre_skip + len as u64 * per_48k;
    let mut input = vec![0f32; frame * channels];
    let mut packet = vec![0u8; MAX_PACKET_BYTES];
    for i in 0..packets {
        let start = (i * frame * channels).min(pcm.samples.len());
        let end = ((i + 1) * frame * channels).min(pcm.samples.len());
        input.fill(0.0);
        for (dst, &src) in input.iter_mut().zip(&pcm.samples[start..end]) {
            *dst = clamp_unit(src);
        }
        let size = encoder.encode_float(&input, &mut packet).map_err(err)?;
        let last = i + 1 == packets;
        let (info, granule) = if last {
            (PacketWriteEndInfo::EndStream, end_granule)
        } else {
            (
                PacketWriteEndInfo::NormalPacket,
                (i as u64 + 1) * frame as u64 * per_48k,
            )
        };
        writer
            .write_packet(packet[..size].to_vec(), SERIAL, info, granule)
            .map_err(io)?;
    }
    Ok((writer.into_inner().into_inner(), rate, pcm.channels))
}

/// Incremental mono or stereo Ogg Opus for [`super::stream`], packet for packet what
/// [`encode`] writes for the same samples.
///
/// Input is cut into 20 ms frames; the remainder waits for the next push. A stream
/// (`paged`) ends its last page at each push, so every completed frame leaves at once; a
/// file leaves page breaks to the Ogg writer, as [`encode`] does, so its bytes are
/// [`encode`]'s. Granules are `(i + 1) * 960` per packet; [`OpusStream::finish`] encodes
/// the remainder and enough silence to flush the encoder's lookahead, and the
/// end-of-stream page's granule `pre_skip + len * 48000 / rate` tells decoders where the
/// audio really ends.
pub(super) struct OpusStream {
    encoder: opus::Encoder,
    writer: PacketWriter<'static, Vec<u8>>,
    channels: usize,
    paged: bool,
    lookahead: usize,
    /// Frames (per channel) per packet.
    frame: usize,
    per_48k: u64,
    pre_skip: u64,
    /// Clamped interleaved samples not yet encoded (less than one packet between calls).
    pending: Vec<f32>,
    /// Frames received and packets written so far.
    frames_in: usize,
    packets: usize,
    packet: Vec<u8>,
}

impl OpusStream {
    /// The stream's coded rate for an input at `rate` (the input is resampled to it
    /// when the two differ).
    pub(super) fn coded_rate(rate: u32) -> u32 {
        codec_rate(rate, &OPUS_RATES)
    }

    /// A stream of `channels` (1 or 2) channels at `rate` Hz (one of
    /// [`OpusStream::coded_rate`]'s answers) and its OpusHead and OpusTags pages; `paged`
    /// ends a page at every push (a live stream), else pages fill as in a file.
    pub(super) fn new(
        rate: u32,
        channels: u16,
        bitrate_kbps: u16,
        paged: bool,
    ) -> Result<(Self, Vec<u8>), AudioError> {
        if !OPUS_RATES.contains(&rate) {
            return Err(AudioError::encode(
                "opus",
                format!("{rate} Hz is not a rate libopus encodes"),
            ));
        }
        let channels = usize::from(channels.clamp(1, 2));
        let (encoder, lookahead) = new_encoder(rate, channels, bitrate_kbps)?;
        let per_48k = GRANULE_RATE / u64::from(rate);
        let pre_skip = lookahead as u64 * per_48k;
        let mut writer = PacketWriter::new(Vec::new());
        write_headers(&mut writer, channels, pre_skip, rate)?;
        let header = std::mem::take(writer.inner_mut());
        Ok((
            Self {
                encoder,
                writer,
                channels,
                paged,
                lookahead,
                frame: (rate / FRAMES_PER_SECOND) as usize,
                per_48k,
                pre_skip,
                pending: Vec::new(),
                frames_in: 0,
                packets: 0,
                packet: vec![0u8; MAX_PACKET_BYTES],
            },
            header,
        ))
    }

    /// Encodes every whole packet now available (`samples` are interleaved whole frames)
    /// and returns the pages completed.
    pub(super) fn push(&mut self, samples: &[f32]) -> Result<Vec<u8>, AudioError> {
        self.frames_in += samples.len() / self.channels;
        self.pending.extend(samples.iter().map(|&s| clamp_unit(s)));
        let packet = self.frame * self.channels;
        let whole = self.pending.len() / packet;
        for i in 0..whole {
            let info = if i + 1 == whole && self.paged {
                PacketWriteEndInfo::EndPage
            } else {
                PacketWriteEndInfo::NormalPacket
            };
            let granule = (self.packets as u64 + 1) * self.frame as u64 * self.per_48k;
            self.write(i * packet, info, granule)?;
        }
        self.pending.drain(..whole * packet);
        Ok(std::mem::take(self.writer.inner_mut()))
    }

    /// Encodes the remainder, padded with silence past the encoder's lookahead, and
    /// returns the last pages, the final one marked end-of-stream.
    pub(super) fn finish(mut self) -> Result<Vec<u8>, AudioError> {
        let total = packet_count(self.frames_in, self.lookahead, self.frame).max(self.packets + 1);
        let end_granule = self.pre_skip + self.frames_in as u64 * self.per_48k;
        let remaining = total - self.packets;
        let packet = self.frame * self.channels;
        self.pending.resize(remaining * packet, 0.0);
        for i in 0..remaining {
            let (info, granule) = if i + 1 == remaining {
                (PacketWriteEndInfo::EndStream, end_granule)
            } else {
                (
                    PacketWriteEndInfo::NormalPacket,
                    (self.packets as u64 + 1) * self.frame as u64 * self.per_48k,
                )
            };
            self.write(i * packet, info, granule)?;
        }
        Ok(self.writer.into_inner())
    }

    /// Encodes the frame at `pending[start..]` as the next packet.
    fn write(
        &mut self,
        start: usize,
        info: PacketWriteEndInfo,
        granule: u64,
    ) -> Result<(), AudioError> {
        let input = &self.pending[start..start + self.frame * self.channels];
        let size = self
            .encoder
            .encode_float(input, &mut self.packet)
            .map_err(err)?;
        self.writer
            .write_packet(self.packet[..size].to_vec(), SERIAL, info, granule)
            .map_err(io)?;
        self.packets += 1;
        Ok(())
    }
}

/// RFC 7845 §5.1 identification header, channel mapping family 0.
fn opus_head(channels: u8, pre_skip: u16, input_rate: u32) -> Vec<u8> {
    let mut head = Vec::with_capacity(19);
    head.extend_from_slice(b"OpusHead");
    head.push(1);
    head.push(channels);
    head.extend_from_slice(&pre_skip.to_le_bytes());
    head.extend_from_slice(&input_rate.to_le_bytes());
    head.extend_from_slice(&0i16.to_le_bytes());
    head.push(0);
    head
}

/// RFC 7845 §5.2 comment header with no user comments.
fn opus_tags() -> Vec<u8> {
    let mut tags = Vec::with_capacity(16 + VENDOR.len());
    tags.extend_from_slice(b"OpusTags");
    tags.extend_from_slice(&(VENDOR.len() as u32).to_le_bytes());
    tags.extend_from_slice(VENDOR);
    tags.extend_from_slice(&0u32.to_le_bytes());
    tags
}
