//! Opus in Ogg (RFC 7845): libopus frames wrapped in hand-written OpusHead/OpusTags pages.
//!
//! Two rules make the length exact for every decoder (ffmpeg, libsndfile, ours): encode
//! `ceil((len + lookahead) / frame)` frames so the tail is not lost in the encoder's
//! delay line, and give packet `i` the granule `(i + 1) * 960` (48 kHz units, pre-skip
//! included) except the last, whose granule `pre_skip + len * 48000 / rate` tells
//! decoders where the real audio ends.

use std::io::Cursor;

use ogg::writing::{PacketWriteEndInfo, PacketWriter};

use super::{clamp_unit, conform};
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

pub(super) fn encode(pcm: &Pcm, bitrate_kbps: u16) -> Result<(Vec<u8>, u32, u16), AudioError> {
    let pcm = conform(pcm, &OPUS_RATES)?;
    let err = |e: opus::Error| AudioError::encode("opus", e);
    let rate = pcm.sample_rate;
    let channels = usize::from(pcm.channels);
    let mode = if channels == 2 {
        opus::Channels::Stereo
    } else {
        opus::Channels::Mono
    };
    let mut encoder = opus::Encoder::new(rate, mode, opus::Application::Audio).map_err(err)?;
    encoder
        .set_bitrate(opus::Bitrate::Bits(i32::from(bitrate_kbps) * 1000))
        .map_err(err)?;
    // Complexity 7+ adds libopus's speech/music analysis, which here cost 3.5-4.5x the
    // encode time (30 s of speech at 24 kHz: ~350 ms vs ~75 ms) for a mode decision
    // that barely matters at 48 kbps, where CELT is already near-transparent for speech.
    encoder.set_complexity(COMPLEXITY).map_err(err)?;
    let lookahead = usize::try_from(encoder.get_lookahead().map_err(err)?).unwrap_or(0);
    let per_48k = GRANULE_RATE / u64::from(rate);
    let pre_skip = lookahead as u64 * per_48k;

    let mut writer = PacketWriter::new(Cursor::new(Vec::new()));
    let io = |e: std::io::Error| AudioError::encode("opus", e);
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
        .map_err(io)?;

    let frame = (rate / FRAMES_PER_SECOND) as usize;
    let len = pcm.frames();
    let packets = (len + lookahead).div_ceil(frame).max(1);
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
